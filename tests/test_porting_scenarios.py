"""Scenarios a user porting Keras 2 scripts meets, written in keraslite's own words: each covers a
usage that failed when Keras 2.3's examples and guides were run with `import keraslite as keras`.
Expectations are computed here with NumPy."""
import os

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.layers import LSTM, Dense, Embedding, GRU, Input, SimpleRNN
from keraslite.models import Model, Sequential, load_model
from keraslite.utils.data_utils import get_file
from loopback_http import LoopbackServer


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _np_lstm(x, kernel, recurrent, bias, units, rec_act):
    """Keras's LSTM (gates i, f, c, o; last output) on (N, T, D) in NumPy."""
    act = {"sigmoid": _sigmoid, "hard_sigmoid": _hard_sigmoid}[rec_act]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = act(f) * c + act(i) * np.tanh(g)
        h = act(o) * np.tanh(c)
    return h


def _activation_name(layer):
    fn = layer.cell.recurrent_activation if hasattr(layer, "cell") else layer.recurrent_activation
    return getattr(fn, "__name__", fn)


def _expected(model, x):
    emb, lstm, dense = model.layers
    table = emb.get_weights()[0]
    kernel, recurrent, bias = lstm.get_weights()
    h = _np_lstm(table[x], kernel, recurrent, bias, lstm.units, _activation_name(lstm))
    w, b = dense.get_weights()
    return _sigmoid(h @ w + b)


@pytest.mark.usefixtures("kbackend")
def test_embedding_without_input_length_then_lstm_builds_on_first_data(tmp_path):
    # imdb_lstm style: Embedding(max_features, d) with no input_length, so the time axis is unknown
    rng = np.random.RandomState(1)
    model = Sequential()
    model.add(Embedding(40, 6))
    model.add(LSTM(5, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation="sigmoid"))
    assert not model.built
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    x = rng.randint(1, 40, size=(12, 7))
    y = rng.randint(0, 2, size=(12, 1))
    before = [w.copy() for w in model.get_weights()] if model.weights else None
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x[:4], y[:4]))
    assert before is None or len(before) < len(model.get_weights())
    assert model.built and model.input_shape == (None, 7)
    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_allclose(model.predict(x), _expected(model, x), rtol=1e-4, atol=1e-5)
    # the data fixed the time axis: other lengths get Keras's input-shape error
    with pytest.raises(ValueError, match="shape"):
        model.predict(rng.randint(1, 40, size=(2, 9)))
    path = str(tmp_path / "m.h5")
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rnn", [SimpleRNN, GRU])
def test_deferred_sequential_via_build_and_evaluate(rnn):
    rng = np.random.RandomState(2)
    model = Sequential([Embedding(20, 4), rnn(3), Dense(2, activation="softmax")])
    assert not model.built
    model.build((None, 5))
    assert model.output_shape == (None, 2)
    assert [K.int_shape(w) for w in model.layers[1].weights][0] == (4, 3 * (3 if rnn is GRU else 1))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.randint(0, 20, size=(6, 5))
    loss = model.evaluate(x, rng.randint(0, 2, size=(6, 1)), verbose=0)
    assert np.isfinite(loss)


def test_unknown_time_axis_in_a_functional_model_still_says_what_to_do():
    # the functional API has no data to wait for: the error names the fix
    inp = Input(shape=(None, 3))
    with pytest.raises(ValueError, match="number of timesteps must be known"):
        LSTM(2)(inp)
    fixed = Input(shape=(4, 3))
    model = Model(fixed, LSTM(2)(fixed))
    assert model.output_shape == (None, 2)


def test_download_progress_bar_is_drawn_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    folder = tmp_path / "www"
    folder.mkdir()
    payload = os.urandom(3000)
    with LoopbackServer(str(folder)) as srv:
        url = srv.write("blob.bin", payload)
        get_file("blob.bin", url)
    out = capsys.readouterr().out
    assert out.count("%d/%d [" % (len(payload), len(payload))) == 1

"""Layer wrappers: TimeDistributed (Dense, Conv2D, BatchNormalization) against NumPy from the
inner layer's own weights, with unknown and known batch sizes and unknown time axes; masks
through it; Bidirectional(LSTM/GRU/SimpleRNN) in every merge mode against NumPy recurrences
written from get_weights(), with return_sequences, return_state, masks and initial states;
config/JSON round trips (keraslite.layers.deserialize, a functional Model's get_config /
from_config); weights order, trainable and count_params; errors; a short fit."""
import json

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers as L
from keraslite import models, optimizers, regularizers

from nn_reference import conv2d as np_conv2d

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")  # restored by the conftest's config fixture
    yield


TOL = dict(rtol=1e-10, atol=1e-12)
N, T, D, U = 3, 4, 2, 3


# ---------------------------------------------------------------------------------------------
# NumPy references


def hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def np_loop(step, x, states, go_backwards=False, mask=None):
    """K.rnn's rule: a masked step repeats the previous output (zeros at first) and keeps the states."""
    t = x.shape[1]
    order = range(t - 1, -1, -1) if go_backwards else range(t)
    outs, prev = [], None
    for i in order:
        out, new = step(x[:, i], states)
        if mask is not None:
            m = mask[:, i][:, None].astype(bool)
            prev = np.zeros_like(out) if prev is None else prev
            out = np.where(m, out, prev)
            new = [np.where(m, a, b) for a, b in zip(new, states)]
        outs.append(out)
        prev, states = out, new
    return outs[-1], np.stack(outs, axis=1), states


def simple_step(W, Uw, b):
    def step(x, states):
        h = np.tanh(x @ W + b + states[0] @ Uw)
        return h, [h]
    return step


def lstm_step(W, Uw, b):
    u = Uw.shape[0]

    def step(x, states):
        h, c = states
        z = x @ W + h @ Uw + b
        i, f, cc, o = (z[:, k * u:(k + 1) * u] for k in range(4))
        c = hard_sigmoid(f) * c + hard_sigmoid(i) * np.tanh(cc)
        h = hard_sigmoid(o) * np.tanh(c)
        return h, [h, c]
    return step


def gru_step(W, Uw, b):
    u = Uw.shape[0]

    def step(x, states):
        h = states[0]
        xz = x @ W + b
        z = hard_sigmoid(xz[:, :u] + h @ Uw[:, :u])
        r = hard_sigmoid(xz[:, u:2 * u] + h @ Uw[:, u:2 * u])
        hh = np.tanh(xz[:, 2 * u:] + (r * h) @ Uw[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, [h]
    return step


STEPS = {"LSTM": (lstm_step, 2), "GRU": (gru_step, 1), "SimpleRNN": (simple_step, 1)}


def np_bidirectional(cls_name, weights, x, merge_mode, return_sequences, mask=None, initial=None):
    """The Bidirectional rule in NumPy: [merged output(s)] + forward states + backward states."""
    make, n_states = STEPS[cls_name]
    half = len(weights) // 2
    n = x.shape[0]
    u = weights[1].shape[0]
    init = initial or [np.zeros((n, u))] * (2 * n_states)
    f_last, f_seq, f_states = np_loop(make(*weights[:half]), x, list(init[:n_states]), mask=mask)
    b_last, b_seq, b_states = np_loop(make(*weights[half:]), x, list(init[n_states:]), go_backwards=True,
                                      mask=mask)
    y, y_rev = (f_seq, b_seq[:, ::-1]) if return_sequences else (f_last, b_last)
    merged = {"concat": lambda: [np.concatenate([y, y_rev], axis=-1)], "sum": lambda: [y + y_rev],
              "mul": lambda: [y * y_rev], "ave": lambda: [(y + y_rev) / 2], None: lambda: [y, y_rev]}[merge_mode]()
    return merged + list(f_states) + list(b_states)


def run(layer, x, batch=None):
    """Apply `layer` to an Input (batch axis unknown unless `batch`); returns a list of arrays."""
    inp = L.Input(batch_shape=(batch,) + x.shape[1:], dtype=str(x.dtype))
    y = layer(inp)
    ys = y if isinstance(y, list) else [y]
    static = layer.compute_output_shape((batch,) + x.shape[1:])
    static = static if isinstance(static, list) else [static]
    assert [tuple(K.int_shape(o)) for o in ys] == [tuple(s) for s in static]
    return K.function([inp], ys)([x])


def perturb(layer, rng):
    layer.set_weights([w + 0.3 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    return layer.get_weights()


def roundtrip(layer):
    cfg = layer.get_config()
    cls = type(layer)
    assert cls.from_config(cfg).get_config() == cfg
    js = json.loads(json.dumps(cfg))
    assert json.loads(json.dumps(cls.from_config(js).get_config())) == js
    again = L.deserialize(json.loads(json.dumps(L.serialize(layer))))
    assert type(again) is cls and type(again.layer) is type(layer.layer)
    return again


# ---------------------------------------------------------------------------------------------
# TimeDistributed


@pytest.mark.parametrize("batch", [None, N])
def test_time_distributed_dense_matches_numpy(rng, batch):
    td = L.TimeDistributed(L.Dense(U, activation="tanh"))
    x = rng.standard_normal((N, T, D))
    out = run(td, x, batch=batch)[0]
    W, b = perturb(td, rng)
    assert W.shape == (D, U) and b.shape == (U,)
    out = run(td, x, batch=batch)[0]
    assert out.shape == (N, T, U)
    np.testing.assert_allclose(out, np.tanh(x @ W + b), **TOL)
    assert td.output_shape[1:] == (T, U) and td.output_shape[0] == batch


def test_time_distributed_unknown_time_axis(rng):
    td = L.TimeDistributed(L.Dense(U))
    inp = L.Input(shape=(None, D))
    y = td(inp)
    assert K.int_shape(y) == (None, None, U)
    f = K.function([inp], [y])
    W, b = td.get_weights()
    for t in (2, 5):
        x = rng.standard_normal((N, t, D))
        np.testing.assert_allclose(f([x])[0], x @ W + b, **TOL)


def test_time_distributed_conv2d_matches_numpy(rng):
    td = L.TimeDistributed(L.Conv2D(2, (2, 2), padding="valid"))
    x = rng.standard_normal((2, 3, 4, 4, 1))
    assert td.compute_output_shape((None, 3, 4, 4, 1)) == (None, 3, 3, 3, 2)
    td.build((None, 3, 4, 4, 1))
    kernel, bias = perturb(td, rng)
    assert kernel.shape == (2, 2, 1, 2) and bias.shape == (2,)
    out = run(td, x)[0]
    want = np.stack([np_conv2d(x[:, t], kernel) + bias for t in range(3)], axis=1)
    assert out.shape == (2, 3, 3, 3, 2)
    np.testing.assert_allclose(out, want, **TOL)


def test_time_distributed_weights_config_and_trainable(rng):
    dense = L.Dense(U, kernel_regularizer=regularizers.l2(0.1))
    td = L.TimeDistributed(dense, name="td")
    inp = L.Input(shape=(T, D))
    model = models.Model(inp, td(inp))
    assert td.weights == dense.weights and len(td.trainable_weights) == 2
    assert td.count_params() == dense.count_params() == D * U + U
    assert len(model.losses) == 1  # the inner layer's regulariser reaches the model
    td.trainable = False
    assert dense.trainable is False and td.trainable_weights == [] and len(td.non_trainable_weights) == 2
    assert model.trainable_weights == []
    td.trainable = True
    # the inner layer's own trainable flag is kept unless the wrapper is given one
    assert L.TimeDistributed(L.Dense(2, trainable=False)).trainable is False
    cfg = td.get_config()
    assert cfg["name"] == "td" and cfg["layer"]["class_name"] == "Dense"
    again = roundtrip(td)
    assert again.layer.get_config()["units"] == U
    assert "TimeDistributed" in L.__all__ and "Bidirectional" in L.__all__ and "Wrapper" in L.__all__


def test_time_distributed_batchnorm_updates_reach_model(rng):
    inp = L.Input(shape=(T, D))
    bn = L.BatchNormalization()
    td = L.TimeDistributed(bn)
    model = models.Model(inp, td(inp))
    assert len(model.updates) == 2 and len(td.updates) == 2
    assert len(td.get_updates_for(inp)) == 2
    x = rng.standard_normal((N, T, D)) * 2 + 1
    out = model.predict(x)
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + bn.epsilon) * gamma + beta, **TOL)


def test_time_distributed_mask_passes_through(rng):
    ids = np.array([[3, 1, 0, 0], [0, 2, 4, 0], [1, 2, 3, 4]], dtype="int32")
    inp = L.Input(shape=(4,), dtype="int32")
    emb = L.Embedding(5, D, mask_zero=True)(inp)
    td = L.TimeDistributed(L.Dense(U))
    y = td(emb)
    assert y._keras_mask is not None and K.int_shape(y._keras_mask) == (None, 4)
    mask = K.function([inp], [y._keras_mask])([ids])[0]
    np.testing.assert_array_equal(mask.astype(bool), ids != 0)
    # and an LSTM downstream honours it
    lstm = L.LSTM(U)
    model = models.Model(inp, lstm(y))
    emb_w = model.layers[1].get_weights()[0]
    W, b = td.get_weights()
    want = np_loop(lstm_step(*lstm.get_weights()), emb_w[ids] @ W + b, [np.zeros((3, U))] * 2, mask=ids != 0)[0]
    np.testing.assert_allclose(model.predict(ids), want, **TOL)


def test_time_distributed_errors():
    with pytest.raises(ValueError, match="rank >= 3"):
        L.TimeDistributed(L.Dense(2))(L.Input(shape=(3,)))
    with pytest.raises(ValueError, match="Layer"):
        L.TimeDistributed("dense")


# ---------------------------------------------------------------------------------------------
# Bidirectional


@pytest.mark.parametrize("cls_name", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_matches_numpy(rng, cls_name, merge_mode):
    return_sequences = merge_mode in ("concat", "ave", None)
    layer = L.Bidirectional(getattr(L, cls_name)(U, return_sequences=return_sequences), merge_mode=merge_mode)
    layer.build((None, T, D))
    ws = perturb(layer, rng)
    x = rng.standard_normal((N, T, D))
    got = run(layer, x)
    want = np_bidirectional(cls_name, ws, x, merge_mode, return_sequences)
    n_out = 2 if merge_mode is None else 1
    assert len(got) == n_out
    for g, w in zip(got, want[:n_out]):
        np.testing.assert_allclose(g, w, **TOL)
    width = 2 * U if merge_mode == "concat" else U
    assert got[0].shape == ((N, T, width) if return_sequences else (N, width))


@pytest.mark.parametrize("cls_name,merge_mode", [("LSTM", "concat"), ("GRU", None), ("SimpleRNN", "sum")])
def test_bidirectional_return_state(rng, cls_name, merge_mode):
    layer = L.Bidirectional(getattr(L, cls_name)(U, return_sequences=True, return_state=True),
                            merge_mode=merge_mode)
    layer.build((None, T, D))
    ws = perturb(layer, rng)
    x = rng.standard_normal((N, T, D))
    got = run(layer, x)
    want = np_bidirectional(cls_name, ws, x, merge_mode, True)
    n_states = STEPS[cls_name][1]
    assert len(got) == len(want) == (2 if merge_mode is None else 1) + 2 * n_states
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **TOL)
    # the forward final h is the forward sequence's last step; the backward one its first step
    y = got[0]
    if merge_mode == "concat":
        first_state = got[1]
        np.testing.assert_allclose(y[:, -1, :U], first_state, **TOL)
        np.testing.assert_allclose(y[:, 0, U:], got[1 + n_states], **TOL)


def test_bidirectional_mask_from_embedding(rng):
    ids = np.array([[3, 1, 0, 0], [0, 2, 4, 0], [1, 2, 3, 4]], dtype="int32")
    bi = L.Bidirectional(L.LSTM(U, return_sequences=True), merge_mode="concat")
    model = models.Sequential([L.Embedding(5, D, mask_zero=True, input_length=4), bi])
    ws = perturb(bi, rng)
    emb = model.layers[0].get_weights()[0]
    want = np_bidirectional("LSTM", ws, emb[ids], "concat", True, mask=ids != 0)[0]
    np.testing.assert_allclose(model.predict(ids), want, **TOL)
    assert bi.output_mask is not None
    bi_none = L.Bidirectional(L.GRU(U, return_sequences=True), merge_mode=None)
    outs = bi_none(model.layers[0].output)
    assert all(o._keras_mask is not None for o in outs)


def test_bidirectional_initial_state_keras_tensors(rng):
    x_in = L.Input(shape=(T, D))
    s_f, s_b = L.Input(shape=(U,)), L.Input(shape=(U,))
    bi = L.Bidirectional(L.GRU(U), merge_mode="concat")
    model = models.Model([x_in, s_f, s_b], bi(x_in, initial_state=[s_f, s_b]))
    ws = perturb(bi, rng)
    x, a, b = rng.standard_normal((N, T, D)), rng.standard_normal((N, U)), rng.standard_normal((N, U))
    want = np_bidirectional("GRU", ws, x, "concat", False, initial=[a, b])[0]
    np.testing.assert_allclose(model.predict([x, a, b]), want, **TOL)
    clone = models.Model.from_config(json.loads(json.dumps(model.get_config())))
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict([x, a, b]), want, **TOL)
    with pytest.raises(ValueError, match="initial_state"):
        L.Bidirectional(L.GRU(U))(x_in, initial_state=[s_f])


def test_bidirectional_weights_order_names_and_count(rng):
    lstm = L.LSTM(U, name="enc")
    bi = L.Bidirectional(lstm, name="bi")
    assert bi.forward_layer.name == "forward_enc" and bi.backward_layer.name == "backward_enc"
    assert bi.forward_layer.go_backwards is False and bi.backward_layer.go_backwards is True
    bi.build((None, T, D))
    names = [w.name for w in bi.weights]
    assert names == ["forward_enc/kernel", "forward_enc/recurrent_kernel", "forward_enc/bias",
                     "backward_enc/kernel", "backward_enc/recurrent_kernel", "backward_enc/bias"]
    per_direction = 4 * U * (D + U + 1)
    assert bi.count_params() == 2 * per_direction
    assert not lstm.built  # the wrapped layer is only a template
    ws = [rng.standard_normal(w.shape) for w in bi.get_weights()]
    bi.set_weights(ws)
    for got, want in zip(bi.forward_layer.get_weights() + bi.backward_layer.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        bi.set_weights(ws[:3])
    # weights= in the constructor, forward first
    bi2 = L.Bidirectional(L.LSTM(U), weights=ws)
    inp = L.Input(shape=(T, D))
    models.Model(inp, bi2(inp))
    for got, want in zip(bi2.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    bi.trainable = False
    assert bi.trainable_weights == [] and len(bi.non_trainable_weights) == 6
    assert bi.forward_layer.trainable is False and bi.backward_layer.trainable is False
    assert L.Bidirectional(L.LSTM(U, trainable=False)).trainable is False


def test_bidirectional_losses_from_both_directions():
    bi = L.Bidirectional(L.SimpleRNN(U, kernel_regularizer=regularizers.l2(0.01)))
    inp = L.Input(shape=(T, D))
    model = models.Model(inp, bi(inp))
    assert len(bi.losses) == 2 and len(model.losses) == 2


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_config_roundtrips(rng, merge_mode):
    bi = L.Bidirectional(L.LSTM(U, return_sequences=True, go_backwards=False), merge_mode=merge_mode, name="bi")
    cfg = bi.get_config()
    assert cfg["merge_mode"] == merge_mode and cfg["layer"]["class_name"] == "LSTM"
    assert cfg["layer"]["config"]["go_backwards"] is False
    again = roundtrip(bi)
    assert again.merge_mode == merge_mode and again.backward_layer.go_backwards is True
    # through a functional Model
    inp = L.Input(shape=(T, D))
    out = bi(inp)
    model = models.Model(inp, out)
    x = rng.standard_normal((N, T, D))
    want = model.predict(x)
    clone = models.Model.from_config(json.loads(json.dumps(model.get_config())))
    assert type(clone.layers[1]) is L.Bidirectional and clone.layers[1].name == "bi"
    clone.set_weights(model.get_weights())
    for g, w in zip(to_list(clone.predict(x)), to_list(want)):
        np.testing.assert_allclose(g, w, **TOL)
    shape = bi.compute_output_shape((None, T, D))
    assert shape == ([(None, T, U)] * 2 if merge_mode is None else (None, T, 2 * U))


def to_list(x):
    return x if isinstance(x, list) else [x]


def test_bidirectional_errors():
    with pytest.raises(ValueError, match="merge mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError):
        L.Bidirectional(L.Dense(2))


def test_time_distributed_in_functional_model_roundtrip(rng):
    inp = L.Input(shape=(T, D))
    h = L.Bidirectional(L.SimpleRNN(U, return_sequences=True), merge_mode="ave")(inp)
    out = L.TimeDistributed(L.Dense(2))(h)
    model = models.Model(inp, out)
    x = rng.standard_normal((N, T, D))
    clone = models.Model.from_config(json.loads(model.to_json())["config"])
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x), model.predict(x), **TOL)
    assert model.count_params() == 2 * (U * (D + U + 1)) + U * 2 + 2


def test_bidirectional_lstm_fit_loss_falls():
    np.random.seed(0)
    rs = np.random.RandomState(0)
    x = rs.randint(1, 6, size=(48, 5))
    y = (x[:, 0] > x[:, -1]).astype("float64")[:, None]
    model = models.Sequential([L.Embedding(6, 4, input_length=5), L.Bidirectional(L.LSTM(4)),
                               L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(lr=0.05), loss="binary_crossentropy")
    hist = model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    losses = hist.history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


def test_wrappers_save_and_load_hdf5(rng, tmp_path):
    pytest.importorskip("h5py")
    model = models.Sequential([L.Bidirectional(L.LSTM(U, return_sequences=True), input_shape=(T, D)),
                               L.TimeDistributed(L.Dense(2))])
    x = rng.standard_normal((N, T, D))
    want = model.predict(x)
    path = str(tmp_path / "wrappers.h5")
    model.save(path)
    with pytest.warns(UserWarning):
        again = models.load_model(path)
    np.testing.assert_allclose(again.predict(x), want, **TOL)


def test_bidirectional_stateful_reset_states(rng):
    bi = L.Bidirectional(L.GRU(2, stateful=True), batch_input_shape=(N, T, D))
    model = models.Sequential([bi])
    x = rng.standard_normal((N, T, D))
    first = model.predict(x, batch_size=N)
    assert np.abs(model.predict(x, batch_size=N) - first).max() > 0  # the states carried over
    bi.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=N), first, **TOL)

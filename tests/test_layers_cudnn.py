"""CuDNNLSTM and CuDNNGRU against NumPy loops written from cuDNN's equations and Keras 2's storage
of cuDNN's per-gate buffers (return_sequences, return_state, go_backwards, stateful), the
equivalence with LSTM / GRU(reset_after=True) under Keras's weight conversion, float64
finite-difference gradients, initial biases, configs, saving, and the errors."""
import json

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers as L
from keraslite import models
from finite_differences import assert_gradients_match_finite_differences

pytestmark = pytest.mark.usefixtures("kbackend")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def cudnn_matrix(block, rows, units):
    """cuDNN reads the flat buffer of a stored (rows, units) block as its (units, rows) matrix W
    and computes W . x; as a right-multiplied matrix that is W.T."""
    return block.reshape(-1).reshape(units, rows).T


def gate_mats(weight, rows, units, gates):
    return [cudnn_matrix(weight[:, g * units:(g + 1) * units], rows, units) for g in range(gates)]


def unpack(x, kernel, rec, bias, gates, go_backwards):
    """(samples, units, per-gate input and recurrent matrices and biases, timestep order)."""
    n, t, f = x.shape
    u = rec.shape[0]
    bw, br = bias[:gates * u].reshape(gates, u), bias[gates * u:].reshape(gates, u)
    steps = range(t - 1, -1, -1) if go_backwards else range(t)
    return n, u, gate_mats(kernel, f, u, gates), gate_mats(rec, u, u, gates), bw, br, steps


def np_cudnn_lstm(x, kernel, rec, bias, go_backwards=False, h0=None, c0=None):
    n, u, W, R, bw, br, steps = unpack(x, kernel, rec, bias, 4, go_backwards)
    h = np.zeros((n, u)) if h0 is None else h0
    c = np.zeros((n, u)) if c0 is None else c0
    outs = []
    for s in steps:
        xt = x[:, s]
        pre = [xt @ W[g] + bw[g] + h @ R[g] + br[g] for g in range(4)]
        i, fg, o = sigmoid(pre[0]), sigmoid(pre[1]), sigmoid(pre[3])
        c = fg * c + i * np.tanh(pre[2])
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def np_cudnn_gru(x, kernel, rec, bias, go_backwards=False, h0=None):
    n, u, W, R, bw, br, steps = unpack(x, kernel, rec, bias, 3, go_backwards)
    h = np.zeros((n, u)) if h0 is None else h0
    outs = []
    for s in steps:
        xt = x[:, s]
        z = sigmoid(xt @ W[0] + bw[0] + h @ R[0] + br[0])
        r = sigmoid(xt @ W[1] + bw[1] + h @ R[1] + br[1])
        hh = np.tanh(xt @ W[2] + bw[2] + r * (h @ R[2] + br[2]))
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), h


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")
    yield


def randomize(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
    return layer.get_weights()


def run(layer, x):
    inp = L.Input(batch_shape=(None,) + x.shape[1:])
    out = layer(inp)
    outs = out if isinstance(out, list) else [out]
    static = layer.compute_output_shape((None,) + x.shape[1:])
    static = static if isinstance(static, list) else [static]
    assert [tuple(K.int_shape(o)) for o in outs] == [tuple(s) for s in static]
    return K.function([inp], outs)([x])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_cudnn_lstm_matches_numpy(rng, go_backwards):
    layer = L.CuDNNLSTM(5, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.standard_normal((3, 4, 6))
    seq, h, c = run(layer, x)
    kernel, rec, bias = randomize(layer, rng)
    seq, h, c = run(layer, x)
    want_seq, want_h, want_c = np_cudnn_lstm(x, kernel, rec, bias, go_backwards)
    np.testing.assert_allclose(seq, want_seq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h, want_h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c, want_c, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_cudnn_gru_matches_numpy(rng, go_backwards):
    layer = L.CuDNNGRU(4, return_sequences=True, go_backwards=go_backwards)
    x = rng.standard_normal((2, 5, 3))
    run(layer, x)
    kernel, rec, bias = randomize(layer, rng)
    (seq,) = run(layer, x)
    want, _ = np_cudnn_gru(x, kernel, rec, bias, go_backwards)
    np.testing.assert_allclose(seq, want, rtol=1e-10, atol=1e-12)


def test_initial_state_and_last_output(rng):
    layer = L.CuDNNGRU(3)
    x = rng.standard_normal((2, 4, 2))
    h0 = rng.standard_normal((2, 3))
    inp, s0 = L.Input((4, 2)), L.Input((3,))
    out = layer(inp, initial_state=[s0])
    kernel, rec, bias = randomize(layer, rng)
    got = K.function([inp, s0], [out])([x, h0])[0]
    _, want = np_cudnn_gru(x, kernel, rec, bias, h0=h0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_stateful_carries_state(rng):
    model = models.Sequential([L.CuDNNLSTM(3, stateful=True, batch_input_shape=(2, 3, 2))])
    kernel, rec, bias = randomize(model.layers[0], rng)
    x1, x2 = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    y1, y2 = model.predict(x1, batch_size=2), model.predict(x2, batch_size=2)
    _, h1, c1 = np_cudnn_lstm(x1, kernel, rec, bias)
    _, h2, _ = np_cudnn_lstm(x2, kernel, rec, bias, h0=h1, c0=c1)
    np.testing.assert_allclose(y1, h1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y2, h2, rtol=1e-10, atol=1e-12)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x1, batch_size=2), h1, rtol=1e-10, atol=1e-12)


def _to_keras_lstm(kernel, rec, bias, units):
    """Keras's conversion of CuDNNLSTM weights for LSTM: per-gate buffer -> matrix, summed biases."""
    f = kernel.shape[0]
    return [np.hstack(gate_mats(kernel, f, units, 4)), np.hstack(gate_mats(rec, units, units, 4)),
            bias[:4 * units] + bias[4 * units:]]


def test_equals_lstm_and_gru_with_converted_weights(rng):
    x = rng.standard_normal((2, 5, 3))
    cl, lstm = L.CuDNNLSTM(4), L.LSTM(4, recurrent_activation="sigmoid")
    run(cl, x), run(lstm, x)
    lstm.set_weights(_to_keras_lstm(*randomize(cl, rng), 4))
    np.testing.assert_allclose(run(cl, x)[0], run(lstm, x)[0], rtol=1e-10, atol=1e-12)
    cg, gru = L.CuDNNGRU(4), L.GRU(4, recurrent_activation="sigmoid", reset_after=True)
    run(cg, x), run(gru, x)
    kernel, rec, bias = randomize(cg, rng)
    gru.set_weights([np.hstack(gate_mats(kernel, 3, 4, 3)), np.hstack(gate_mats(rec, 4, 4, 3)), bias.reshape(2, -1)])
    np.testing.assert_allclose(run(cg, x)[0], run(gru, x)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [L.CuDNNLSTM, L.CuDNNGRU])
def test_gradients_match_finite_differences(rng, cls):
    layer = cls(2, return_sequences=True)
    inp = L.Input(shape=(3, 2))
    y = layer(inp)
    randomize(layer, rng)
    r = K.constant(rng.standard_normal((2, 3, 2)))
    loss = K.sum(y * r)
    params = layer.trainable_weights
    assert len(params) == 3
    assert_gradients_match_finite_differences(inp, loss, params, rng.standard_normal((2, 3, 2)))


def test_weights_shapes_and_initial_biases():
    lstm = L.CuDNNLSTM(3, bias_initializer="ones")
    run(lstm, np.zeros((1, 2, 5)))
    assert [tuple(K.int_shape(w)) for w in lstm.weights] == [(5, 12), (3, 12), (24,)]
    assert [w.name for w in lstm.weights] == [lstm.name + "/kernel", lstm.name + "/recurrent_kernel",
                                              lstm.name + "/bias"]
    b = lstm.get_weights()[2].reshape(8, 3)
    np.testing.assert_array_equal(b, np.ones((8, 3)))  # the forget 1 is the bias initializer's here too
    lstm2 = L.CuDNNLSTM(3)
    run(lstm2, np.zeros((1, 2, 5)))
    want = np.zeros((8, 3))
    want[5] = 1.0  # recurrent forget-gate block
    np.testing.assert_array_equal(lstm2.get_weights()[2].reshape(8, 3), want)
    gru = L.CuDNNGRU(3)
    run(gru, np.zeros((1, 2, 5)))
    assert [tuple(K.int_shape(w)) for w in gru.weights] == [(5, 9), (3, 9), (18,)]
    assert gru.units == 3 and lstm.unit_forget_bias is True


@pytest.mark.parametrize("make", [lambda: L.CuDNNLSTM(3, unit_forget_bias=False, return_state=True),
                                  lambda: L.CuDNNGRU(2, go_backwards=True, kernel_regularizer="l2")])
def test_config_round_trip(make):
    layer = make()
    cfg = layer.get_config()
    for key in ("units", "kernel_initializer", "return_sequences", "return_state", "go_backwards", "stateful"):
        assert key in cfg
    assert "cell" not in cfg and "unroll" not in cfg and "dropout" not in cfg
    again = L.deserialize(json.loads(json.dumps(L.serialize(layer))))
    assert type(again) is type(layer)
    assert json.loads(json.dumps(again.get_config())) == json.loads(json.dumps(cfg))


def test_save_and_load_model(tmp_path, rng):
    model = models.Sequential([L.CuDNNGRU(3, input_shape=(4, 2), return_sequences=True), L.CuDNNLSTM(2)])
    for layer in model.layers:
        randomize(layer, rng)
    x = rng.standard_normal((2, 4, 2))
    target = str(tmp_path / "m.h5")
    model.save(target)
    np.testing.assert_allclose(models.load_model(target).predict(x), model.predict(x), rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="units"):
        L.CuDNNLSTM(0)
    with pytest.raises(TypeError, match="dropout"):
        L.CuDNNGRU(2, dropout=0.1)
    inp = L.Input((3,), dtype="int32")
    emb = L.Embedding(5, 2, mask_zero=True)(inp)
    with pytest.raises(TypeError, match="does not support masking"):
        L.CuDNNLSTM(2)(emb)
    with pytest.raises(ValueError, match="timesteps"):
        L.CuDNNLSTM(2)(L.Input((None, 3)))


def test_weights_files_convert_between_cudnn_and_plain_layers(tmp_path, rng):
    x = rng.standard_normal((2, 5, 3))
    cudnn = models.Sequential([L.Bidirectional(L.CuDNNGRU(4, return_sequences=True), input_shape=(5, 3)),
                               L.CuDNNLSTM(2)])
    for w in cudnn.weights:
        K.set_value(w, rng.standard_normal(K.int_shape(w)) * 0.5)
    target = str(tmp_path / "cudnn.h5")
    cudnn.save_weights(target)
    plain = models.Sequential([
        L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=True, recurrent_activation="sigmoid"),
                        input_shape=(5, 3)),
        L.LSTM(2, recurrent_activation="sigmoid")])
    plain.load_weights(target)
    np.testing.assert_allclose(plain.predict(x), cudnn.predict(x), rtol=1e-10, atol=1e-12)
    back = str(tmp_path / "plain.h5")
    plain.save_weights(back)
    again = models.Sequential([L.Bidirectional(L.CuDNNGRU(4, return_sequences=True), input_shape=(5, 3)),
                               L.CuDNNLSTM(2)])
    again.load_weights(back)
    np.testing.assert_allclose(again.predict(x), cudnn.predict(x), rtol=1e-10, atol=1e-12)
    # GRU(reset_after=False) applies the reset gate before the product: no cuDNN counterpart
    old_gru = models.Sequential([L.Bidirectional(L.GRU(4, return_sequences=True), input_shape=(5, 3)),
                                 L.LSTM(2)])
    before = [w.copy() for w in old_gru.get_weights()]
    with pytest.raises(ValueError, match="shape"):
        old_gru.load_weights(target)
    for a, b in zip(before, old_gru.get_weights()):
        np.testing.assert_array_equal(a, b)

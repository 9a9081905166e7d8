"""ConvLSTM2D / ConvLSTM2DCell against a NumPy ConvLSTM recurrence written here (convolutions
from tests/nn_reference.py), a float64 finite-difference gradient check, stateful layers,
dropout only in training, config round trips and errors; SpatialDropout3D in both formats with
its own finite-difference check."""
import numpy as np
import pytest

import nn_reference as ref
from keraslite import backend as K
from keraslite import layers as L
from keraslite import models
from finite_differences import assert_gradients_match_finite_differences, central_difference

pytestmark = pytest.mark.usefixtures("kbackend")


# ---------------------------------------------------------------------------------------------
# NumPy reference


def np_convlstm(x, kernel, recurrent_kernel, bias, strides=(1, 1), padding="valid", data_format="channels_last",
                dilation_rate=(1, 1), go_backwards=False, states=None, ract=ref.hard_sigmoid):
    """The ConvLSTM recurrence: per step z = conv(x_t, W) + b + conv_same(h, U), gates i, f, c, o
    on the last axis, c = f c + i tanh(z_c), h = o tanh(c). Returns (outputs (N, T, ...), h, c)."""
    x = np.asarray(x, np.float64)
    if data_format == "channels_first":
        x = np.transpose(x, (0, 1, 3, 4, 2))
    f = recurrent_kernel.shape[-2]
    t_steps = x.shape[1]
    h = c = None
    if states is not None:
        h, c = (np.transpose(s, (0, 2, 3, 1)) if data_format == "channels_first" else s for s in states)
    outs = []
    order = range(t_steps - 1, -1, -1) if go_backwards else range(t_steps)
    for t in order:
        zx = ref.conv2d(x[:, t], kernel, strides, padding, "channels_last", dilation_rate)
        if h is None:
            h = np.zeros(zx.shape[:3] + (f,))
            c = np.zeros_like(h)
        z = zx + ref.conv2d(h, recurrent_kernel, (1, 1), "same", "channels_last")
        if bias is not None:
            z = z + bias
        i, fg, g, o = (z[..., k * f:(k + 1) * f] for k in range(4))
        c = ract(fg) * c + ract(i) * np.tanh(g)
        h = ract(o) * np.tanh(c)
        outs.append(h)
    outs = np.stack(outs, axis=1)
    if data_format == "channels_first":
        outs, h, c = np.transpose(outs, (0, 1, 4, 2, 3)), np.transpose(h, (0, 3, 1, 2)), np.transpose(c, (0, 3, 1, 2))
    return outs, h, c


def _randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.uniform(-scale, scale, w.shape) for w in layer.get_weights()])


CASES = [
    dict(kernel_size=(3, 3), padding="valid", return_sequences=True),
    dict(kernel_size=(2, 3), padding="same", data_format="channels_first", go_backwards=True, return_state=True),
    dict(kernel_size=(3, 2), strides=(2, 1), use_bias=False),
    dict(kernel_size=(2, 2), padding="same", dilation_rate=(2, 1), return_sequences=True, return_state=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_convlstm2d_matches_numpy_recurrence(case, rng):
    cf = case.get("data_format") == "channels_first"
    frame = (2, 5, 4) if cf else (5, 4, 2)
    x = rng.standard_normal((2, 3) + frame)
    layer = L.ConvLSTM2D(3, **case)
    out = layer(L.Input(shape=(3,) + frame))
    model = models.Model(layer.input, out)
    _randomize(layer, rng)
    got = model.predict(x)
    weights = layer.get_weights()
    kernel, rk = weights[0], weights[1]
    bias = weights[2] if case.get("use_bias", True) else None
    assert kernel.shape == tuple(case["kernel_size"]) + (2, 12) and rk.shape == tuple(case["kernel_size"]) + (3, 12)
    seq, h, c = np_convlstm(x, kernel, rk, bias, case.get("strides", (1, 1)), case.get("padding", "valid"),
                            "channels_first" if cf else "channels_last", case.get("dilation_rate", (1, 1)),
                            case.get("go_backwards", False))
    want = seq if case.get("return_sequences") else h
    if case.get("return_state"):
        assert len(got) == 3
        for g, w in zip(got, [want, h, c]):
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10)
        assert [tuple(o.shape) for o in got] == [(2,) + tuple(s[1:]) for s in layer.compute_output_shape(
            (None, 3) + frame)]
    else:
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)
        assert got.shape[1:] == layer.compute_output_shape((None, 3) + frame)[1:]


def test_cell_in_rnn_and_weight_layout(rng):
    cell = L.ConvLSTM2DCell(2, 3, padding="same")
    layer = L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, name="clstm")
    x = rng.standard_normal((1, 2, 4, 4, 1))
    y = layer(L.Input(shape=(2, 4, 4, 1)))
    assert [w.name for w in layer.weights] == ["clstm/kernel", "clstm/recurrent_kernel", "clstm/bias"]
    # unit_forget_bias: the f block (filters..2*filters) starts at one, the others at zero
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 1, 1, 0, 0, 0, 0])
    # the cell one step at a time gives the layer's sequence
    _randomize(layer, rng)
    cell.build((None, 4, 4, 1))
    cell.set_weights(layer.get_weights())
    xt = K.placeholder((None, 4, 4, 1), dtype="float64")
    h0 = K.placeholder((None, 4, 4, 2), dtype="float64")
    c0 = K.placeholder((None, 4, 4, 2), dtype="float64")
    h1, (_, c1) = cell.call(xt, [h0, c0])
    step = K.function([xt, h0, c0], [h1, c1])
    h, c = np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4, 2))
    outs = []
    for t in range(2):
        h, c = step([x[:, t], h, c])
        outs.append(h)
    np.testing.assert_allclose(models.Model(layer.input, y).predict(x), np.stack(outs, 1), rtol=1e-10, atol=1e-12)


def test_convlstm2d_gradients_match_finite_differences(rng):
    layer = L.ConvLSTM2D(2, (2, 2), padding="same", return_sequences=True, recurrent_activation="sigmoid")
    inp = L.Input(shape=(2, 3, 3, 1))
    y = layer(inp)
    _randomize(layer, rng)
    r = K.constant(rng.standard_normal((1, 2, 3, 3, 2)))
    loss = K.sum(y * r)
    assert_gradients_match_finite_differences(inp, loss, layer.trainable_weights,
                                              rng.standard_normal((1, 2, 3, 3, 1)))


def test_stateful_continues_sequences_and_reset(rng):
    layer = L.ConvLSTM2D(2, (3, 3), padding="same", stateful=True, return_state=True)
    inp = L.Input(batch_shape=(2, 2, 4, 4, 1))
    model = models.Model(inp, layer(inp))
    _randomize(layer, rng)
    x = rng.standard_normal((2, 4, 4, 4, 1))
    model.predict(x[:, :2], batch_size=2)
    second = model.predict(x[:, 2:], batch_size=2)
    kernel, rk, bias = layer.get_weights()
    _, h, c = np_convlstm(x, kernel, rk, bias, padding="same")
    np.testing.assert_allclose(second[0], h, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(second[2], c, rtol=1e-9, atol=1e-10)
    layer.reset_states()
    first = model.predict(x[:, :2], batch_size=2)
    _, h2, _ = np_convlstm(x[:, :2], kernel, rk, bias, padding="same")
    np.testing.assert_allclose(first[0], h2, rtol=1e-9, atol=1e-10)
    # explicit states
    s0, s1 = rng.standard_normal((2, 2, 4, 4, 2))
    layer.reset_states([s0, s1])
    got = model.predict(x[:, :2], batch_size=2)
    _, h3, _ = np_convlstm(x[:, :2], kernel, rk, bias, padding="same", states=(s0, s1))
    np.testing.assert_allclose(got[0], h3, rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="State 0 is incompatible"):
        layer.reset_states([s0[:1], s1])


def test_dropout_only_in_training(rng):
    layer = L.ConvLSTM2D(2, (3, 3), padding="same", dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    inp = L.Input(shape=(3, 4, 4, 1))
    out = layer(inp)
    _randomize(layer, rng)
    x = rng.standard_normal((2, 3, 4, 4, 1))
    kernel, rk, bias = layer.get_weights()
    seq, _, _ = np_convlstm(x, kernel, rk, bias, padding="same")
    np.testing.assert_allclose(models.Model(inp, out).predict(x), seq, rtol=1e-9, atol=1e-10)
    train = K.function([inp], [out], givens={K.learning_phase(): 1})([x])[0]
    assert np.all(np.isfinite(train)) and not np.allclose(train, seq)
    model = models.Sequential([L.ConvLSTM2D(2, 3, input_shape=(3, 4, 4, 1), dropout=0.2, recurrent_dropout=0.2),
                               L.Flatten(), L.Dense(1)])
    model.compile("sgd", "mse")
    hist = model.fit(x, np.ones((2, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))


def test_config_round_trip_and_model_json(rng):
    layer = L.ConvLSTM2D(4, (3, 2), strides=(1, 2), padding="same", data_format="channels_first",
                         recurrent_activation="sigmoid", unit_forget_bias=False, dropout=0.1, return_sequences=True,
                         go_backwards=True, name="cl")
    config = layer.get_config()
    for key, value in (("filters", 4), ("kernel_size", (3, 2)), ("strides", (1, 2)), ("padding", "same"),
                       ("data_format", "channels_first"), ("recurrent_activation", "sigmoid"),
                       ("unit_forget_bias", False), ("dropout", 0.1), ("return_sequences", True),
                       ("go_backwards", True), ("stateful", False)):
        assert config[key] == value, key
    assert L.ConvLSTM2D.from_config(config).get_config() == config
    cell = L.ConvLSTM2DCell(3, 2, dilation_rate=2)
    assert L.ConvLSTM2DCell.from_config(cell.get_config()).get_config() == cell.get_config()
    model = models.Sequential([L.ConvLSTM2D(2, 2, input_shape=(2, 3, 3, 1))])
    _randomize(model.layers[0], rng)
    clone = models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    x = rng.standard_normal((1, 2, 3, 3, 1))
    np.testing.assert_allclose(clone.predict(x), model.predict(x), rtol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="expected ndim=5"):
        L.ConvLSTM2D(2, 3)(L.Input(shape=(4, 4, 1)))
    with pytest.raises(ValueError, match="timesteps"):
        L.ConvLSTM2D(2, 3)(L.Input(shape=(None, 4, 4, 1)))
    with pytest.raises(TypeError, match="Unrolling"):
        L.ConvRNN2D(L.ConvLSTM2DCell(2, 3), unroll=True)
    with pytest.raises(TypeError, match="stack convolutional cells"):
        L.ConvRNN2D([L.ConvLSTM2DCell(2, 3), L.ConvLSTM2DCell(2, 3)])
    with pytest.raises(ValueError, match="filters"):
        L.ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        L.ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="padding"):
        L.ConvLSTM2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="channel dimension"):
        L.ConvLSTM2D(2, 3)(L.Input(shape=(2, 4, 4, None)))


# ---------------------------------------------------------------------------------------------
# SpatialDropout3D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout3d_drops_whole_maps(data_format, rng):
    shape = (3, 4, 2, 3, 2, 5) if data_format == "channels_last" else (3, 4, 5, 2, 3, 2)
    x = rng.uniform(1.0, 2.0, shape)
    x = x.reshape(shape[0] * shape[1], *shape[2:])  # (12, ...) samples
    layer = L.SpatialDropout3D(0.4, data_format=data_format)
    inp = L.Input(shape=x.shape[1:])
    out = layer(inp)
    np.testing.assert_array_equal(models.Model(inp, out).predict(x), x)  # identity at test time
    y = K.function([inp], [out], givens={K.learning_phase(): 1})([x])[0]
    ratio = y / x
    spatial = (1, 2, 3) if data_format == "channels_last" else (2, 3, 4)
    # one value per (sample, channel): 0 or 1 / (1 - rate), the same over the whole 3-D map
    per_map = ratio.max(axis=spatial)
    np.testing.assert_allclose(ratio.min(axis=spatial), per_map, rtol=1e-12)
    assert np.all(np.isclose(per_map, 0.0) | np.isclose(per_map, 1 / 0.6))
    assert 0 < np.mean(per_map == 0) < 1
    assert layer.get_config()["data_format"] == data_format
    assert L.SpatialDropout3D.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError):
        L.SpatialDropout3D(0.5)(L.Input(shape=(2, 2, 2)))


def test_spatial_dropout3d_gradient_matches_finite_differences(rng):
    """In training, the gradient is the mask: checked by finite differences on graphs rebuilt with
    the same seed (a fresh graph with a seed draws the same mask)."""
    x = rng.standard_normal((2, 2, 2, 1, 3))
    w = rng.standard_normal(x.shape)

    def build():
        inp = K.placeholder(x.shape, dtype="float64")
        y = L.SpatialDropout3D(0.5, seed=11)(inp, training=True)
        loss = K.sum(y * K.constant(w))
        return K.function([inp], [loss] + K.gradients(loss, [inp]))

    loss, grad = build()([x])
    np.testing.assert_allclose(grad, central_difference(lambda v: build()([v])[0], x), rtol=1e-6, atol=1e-8)
    # the mask is constant over each map and scaled by 1 / (1 - rate)
    mask = grad / w
    assert np.all(np.isclose(mask, 0) | np.isclose(mask, 2.0))
    np.testing.assert_allclose(mask.min(axis=(1, 2, 3)), mask.max(axis=(1, 2, 3)))


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")  # restored by the conftest's config fixture
    yield


def test_save_and_load_model_file(tmp_path, rng):
    model = models.Sequential([L.ConvLSTM2D(2, 3, padding="same", return_sequences=True, input_shape=(3, 5, 5, 1)),
                               L.SpatialDropout3D(0.3)])
    model.compile("sgd", "mse")
    _randomize(model.layers[0], rng)
    path = str(tmp_path / "convlstm.h5")
    model.save(path)
    loaded = models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == ["ConvLSTM2D", "SpatialDropout3D"]
    x = rng.standard_normal((2, 3, 5, 5, 1))
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-12)


def test_initial_state_as_keras_tensors(rng):
    x, h0, c0 = L.Input((2, 4, 4, 1)), L.Input((4, 4, 3)), L.Input((4, 4, 3))
    layer = L.ConvLSTM2D(3, 3, padding="same")
    model = models.Model([x, h0, c0], layer(x, initial_state=[h0, c0]))
    _randomize(layer, rng)
    xs, hs, cs = rng.standard_normal((2, 2, 4, 4, 1)), rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((2, 4, 4, 3))
    kernel, rk, bias = layer.get_weights()
    _, h, _ = np_convlstm(xs, kernel, rk, bias, padding="same", states=(hs, cs))
    np.testing.assert_allclose(model.predict([xs, hs, cs]), h, rtol=1e-9, atol=1e-10)

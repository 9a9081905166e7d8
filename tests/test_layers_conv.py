"""Convolution layers (Conv1D/2D, Conv2DTranspose, SeparableConv1D/2D, DepthwiseConv2D) and the
resampling layers (UpSampling, ZeroPadding, Cropping) against NumPy computed from each layer's own
weights (the loop references of tests/nn_reference.py), in float64, channels_last and
channels_first; weight names/shapes; config round trips; compute_output_shape; errors."""
import json

import numpy as np
import pytest

import nn_reference as R
from keraslite import backend as K
from keraslite import layers as L

pytestmark = pytest.mark.usefixtures("kbackend")

TOL = dict(rtol=1e-9, atol=1e-10)


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")
    yield


def run(layer, x):
    inp = L.Input(batch_shape=(None,) + x.shape[1:])
    y = layer(inp)
    out = K.function([inp], [y])([x])[0]
    static = tuple(K.int_shape(y))
    assert tuple(layer.compute_output_shape(tuple(K.int_shape(inp)))) == static
    assert static == (None,) + out.shape[1:], (static, out.shape)
    return out


def roundtrip(layer):
    cfg = layer.get_config()
    cls = type(layer)
    assert cls.from_config(cfg).get_config() == cfg
    js = json.loads(json.dumps(cfg))
    assert json.loads(json.dumps(cls.from_config(js).get_config())) == js
    assert type(L.deserialize(json.loads(json.dumps(L.serialize(layer))))) is cls
    return cfg


def _names(layer):
    return [w.name.split("/")[-1] for w in layer.weights]


def _x(rng, *shape):
    return rng.standard_normal(shape)


def _randomize(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) for w in layer.get_weights()])


def _cf(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


# ---------------------------------------------------------------------------------------------
# Conv2D / Conv1D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3), strides=(2, 1), padding="same"),
    dict(kernel_size=2, dilation_rate=2, padding="same"),
    dict(kernel_size=3, strides=2, activation="relu"),
])
def test_conv2d(rng, data_format, kw):
    layer = L.Conv2D(4, data_format=data_format, **kw)
    x = _x(rng, 2, 7, 6, 3)
    xin = _cf(x) if data_format == "channels_first" else x
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    W, b = layer.get_weights()
    ks = kw["kernel_size"] if isinstance(kw["kernel_size"], tuple) else (kw["kernel_size"],) * 2
    assert W.shape == ks + (3, 4) and b.shape == (4,)
    assert _names(layer) == ["kernel", "bias"]
    want = R.conv2d(x, W, kw.get("strides", (1, 1)), kw.get("padding", "valid"), "channels_last",
                    kw.get("dilation_rate", (1, 1))) + b
    if kw.get("activation") == "relu":
        want = np.maximum(want, 0)
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["data_format"] == data_format and cfg["kernel_size"] == ks


def test_conv2d_defaults_and_config():
    layer = L.Conv2D(8, (3, 3))
    cfg = roundtrip(layer)
    assert cfg["strides"] == (1, 1) and cfg["padding"] == "valid" and cfg["dilation_rate"] == (1, 1)
    assert cfg["data_format"] == "channels_last" and cfg["activation"] == "linear" and cfg["use_bias"] is True
    assert "rank" not in cfg
    assert set(cfg) >= {"filters", "kernel_size", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                        "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"}
    assert L.Conv2D(2, 3, padding="SAME").padding == "same"
    K.set_image_data_format("channels_first")
    assert L.Conv2D(2, 3).data_format == "channels_first"


def test_conv2d_no_bias_and_param_count(rng):
    layer = L.Conv2D(5, 3, use_bias=False)
    out = run(layer, _x(rng, 1, 5, 5, 2))
    assert out.shape == (1, 3, 3, 5) and len(layer.weights) == 1 and layer.count_params() == 90


def test_conv2d_errors():
    with pytest.raises(ValueError, match="conv2d"):
        L.Conv2D(2, 3)(L.Input((5, 5, None)))
    with pytest.raises(ValueError, match="channel"):
        L.Conv2D(2, 3, data_format="channels_first")(L.Input((None, 5, 5)))
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError):
        L.Conv2D(2, 3)(L.Input((5, 5)))  # rank 3
    layer = L.Conv2D(2, 3)
    layer(L.Input((5, 5, 3)))
    with pytest.raises(ValueError):
        layer(L.Input((5, 5, 4)))


@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=2, dilation_rate=2, padding="causal"),
    dict(kernel_size=3, padding="causal"),
])
def test_conv1d(rng, kw):
    layer = L.Conv1D(3, **kw)
    x = _x(rng, 2, 9, 4)
    layer.build((None, 9, 4))
    _randomize(layer, rng)
    out = run(layer, x)
    W, b = layer.get_weights()
    assert W.shape == (kw["kernel_size"], 4, 3)
    want = R.conv1d(x, W, kw.get("strides", 1), kw.get("padding", "valid"), "channels_last",
                    kw.get("dilation_rate", 1)) + b
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["kernel_size"] == (kw["kernel_size"],) and cfg["strides"] == (kw.get("strides", 1),)


def test_conv1d_channels_first_and_default_format(rng):
    K.set_image_data_format("channels_first")
    assert L.Conv1D(2, 3).data_format == "channels_last"  # Conv1D's default is the string
    layer = L.Conv1D(3, 2, strides=2, data_format="channels_first")
    x = _x(rng, 2, 8, 4)
    layer.build((None, 4, 8))
    _randomize(layer, rng)
    out = run(layer, _cf(x))
    W, b = layer.get_weights()
    np.testing.assert_allclose(out, _cf(R.conv1d(x, W, 2) + b), **TOL)
    with pytest.raises(ValueError, match="causal"):
        L.Conv1D(2, 3, padding="causal", data_format="channels_first")


# ---------------------------------------------------------------------------------------------
# Conv2DTranspose


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kw,size", [
    (dict(kernel_size=3), (6, 7)),
    (dict(kernel_size=3, strides=2), (9, 11)),
    (dict(kernel_size=3, strides=2, padding="same"), (8, 10)),
    (dict(kernel_size=(3, 2), strides=2, output_padding=1), (10, 11)),
    (dict(kernel_size=3, strides=2, padding="same", output_padding=(1, 0)), (8, 9)),
    (dict(kernel_size=3, dilation_rate=2), (8, 9)),
])
def test_conv2d_transpose(rng, data_format, kw, size):
    layer = L.Conv2DTranspose(2, data_format=data_format, **kw)
    x = _x(rng, 2, 4, 5, 3)
    xin = _cf(x) if data_format == "channels_first" else x
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    W, b = layer.get_weights()
    ks = kw["kernel_size"] if isinstance(kw["kernel_size"], tuple) else (kw["kernel_size"],) * 2
    assert W.shape == ks + (2, 3) and b.shape == (2,)
    d = kw.get("dilation_rate", 1)
    want = R.conv2d_transpose(x, W, (2,) + size + (2,), kw.get("strides", (1, 1)), kw.get("padding", "valid"),
                              dilation_rate=(d, d)) + b
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["output_padding"] == (None if "output_padding" not in kw else
                                     (kw["output_padding"],) * 2 if isinstance(kw["output_padding"], int)
                                     else kw["output_padding"])


def test_conv2d_transpose_errors():
    with pytest.raises(ValueError, match="output padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="output padding"):
        L.Conv2DTranspose(2, 3, output_padding=1)  # stride 1
    with pytest.raises(ValueError):
        L.Conv2DTranspose(2, 3)(L.Input((4, 4, None)))
    assert L.Deconvolution2D is L.Conv2DTranspose


# ---------------------------------------------------------------------------------------------
# SeparableConv, DepthwiseConv2D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_separable_conv2d(rng, data_format):
    layer = L.SeparableConv2D(4, 3, padding="same", strides=2, depth_multiplier=2, data_format=data_format)
    x = _x(rng, 2, 6, 5, 3)
    xin = _cf(x) if data_format == "channels_first" else x
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    dk, pk, b = layer.get_weights()
    assert _names(layer) == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert dk.shape == (3, 3, 3, 2) and pk.shape == (1, 1, 6, 4) and b.shape == (4,)
    want = R.separable_conv2d(x, dk, pk, (2, 2), "same") + b
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert "kernel_initializer" not in cfg and cfg["depth_multiplier"] == 2
    assert {"depthwise_initializer", "pointwise_initializer", "depthwise_regularizer", "pointwise_regularizer",
            "depthwise_constraint", "pointwise_constraint", "bias_initializer"} <= set(cfg)
    assert layer.count_params() == 3 * 3 * 3 * 2 + 6 * 4 + 4


def test_separable_conv1d(rng):
    layer = L.SeparableConv1D(3, 2, depth_multiplier=1, dilation_rate=2)
    x = _x(rng, 2, 7, 4)
    layer.build((None, 7, 4))
    _randomize(layer, rng)
    out = run(layer, x)
    dk, pk, b = layer.get_weights()
    assert dk.shape == (2, 4, 1) and pk.shape == (1, 4, 3)
    # depthwise along time then pointwise, from the 2-D reference with a unit height axis
    want = R.separable_conv2d(x[:, None], dk[None], pk[None], (1, 1), "valid", dilation_rate=(1, 2))[:, 0] + b
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["data_format"] == "channels_last" and cfg["dilation_rate"] == (2,)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depthwise_conv2d(rng, data_format):
    layer = L.DepthwiseConv2D((3, 2), strides=(1, 2), padding="same", depth_multiplier=2, data_format=data_format)
    x = _x(rng, 2, 5, 6, 3)
    xin = _cf(x) if data_format == "channels_first" else x
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    dk, b = layer.get_weights()
    assert _names(layer) == ["depthwise_kernel", "bias"]
    assert dk.shape == (3, 2, 3, 2) and b.shape == (6,)
    want = R.depthwise_conv2d(x, dk, (1, 2), "same") + b
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(out, want, **TOL)
    cfg = roundtrip(layer)
    assert "filters" not in cfg and "kernel_initializer" not in cfg and cfg["depth_multiplier"] == 2
    assert cfg["kernel_size"] == (3, 2) and "depthwise_initializer" in cfg


def test_depthwise_conv2d_dilation(rng):
    layer = L.DepthwiseConv2D(2, dilation_rate=2, use_bias=False)
    x = _x(rng, 1, 6, 6, 2)
    out = run(layer, x)
    (dk,) = layer.get_weights()
    np.testing.assert_allclose(out, R.depthwise_conv2d(x, dk, (1, 1), "valid", dilation_rate=(2, 2)), **TOL)


# ---------------------------------------------------------------------------------------------
# UpSampling, ZeroPadding, Cropping


def test_upsampling1d(rng):
    x = _x(rng, 2, 3, 4)
    layer = L.UpSampling1D(3)
    np.testing.assert_array_equal(run(layer, x), np.repeat(x, 3, axis=1))
    assert roundtrip(layer)["size"] == 3
    assert L.UpSampling1D().size == 2


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsampling2d(rng, data_format, interpolation):
    x = _x(rng, 2, 3, 4, 2)
    layer = L.UpSampling2D((2, 3), data_format=data_format, interpolation=interpolation)
    xin = _cf(x) if data_format == "channels_first" else x
    want = R.resize_images(x, 2, 3, "channels_last", interpolation)
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(run(layer, xin), want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["size"] == (2, 3) and cfg["interpolation"] == interpolation
    with pytest.raises(ValueError):
        L.UpSampling2D(interpolation="cubic")


def test_zero_padding1d(rng):
    x = _x(rng, 2, 3, 2)
    np.testing.assert_array_equal(run(L.ZeroPadding1D(), x), np.pad(x, ((0, 0), (1, 1), (0, 0))))
    layer = L.ZeroPadding1D((2, 0))
    np.testing.assert_array_equal(run(layer, x), np.pad(x, ((0, 0), (2, 0), (0, 0))))
    assert roundtrip(layer)["padding"] == (2, 0)


@pytest.mark.parametrize("padding,pairs", [
    (1, ((1, 1), (1, 1))),
    ((2, 1), ((2, 2), (1, 1))),
    (((1, 0), (2, 3)), ((1, 0), (2, 3))),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_padding2d(rng, padding, pairs, data_format):
    x = _x(rng, 2, 3, 4, 2)
    layer = L.ZeroPadding2D(padding, data_format=data_format)
    if data_format == "channels_first":
        x = _cf(x)
        want = np.pad(x, ((0, 0), (0, 0)) + pairs)
    else:
        want = np.pad(x, ((0, 0),) + pairs + ((0, 0),))
    np.testing.assert_array_equal(run(layer, x), want)
    assert roundtrip(layer)["padding"] == pairs


def test_zero_padding2d_errors():
    with pytest.raises(ValueError):
        L.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError):
        L.ZeroPadding2D(((1, 2, 3), (1, 1)))
    with pytest.raises(ValueError):
        L.ZeroPadding2D("same")
    assert L.ZeroPadding2D().padding == ((1, 1), (1, 1))


def test_cropping1d(rng):
    x = _x(rng, 2, 6, 3)
    np.testing.assert_array_equal(run(L.Cropping1D(), x), x[:, 1:-1])
    layer = L.Cropping1D((2, 0))
    np.testing.assert_array_equal(run(layer, x), x[:, 2:])
    assert roundtrip(layer)["cropping"] == (2, 0)
    with pytest.raises(ValueError):
        L.Cropping1D((4, 3))(L.Input((6, 3)))


@pytest.mark.parametrize("cropping,pairs", [
    (1, ((1, 1), (1, 1))),
    ((2, 0), ((2, 2), (0, 0))),
    (((1, 0), (2, 1)), ((1, 0), (2, 1))),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_cropping2d(rng, cropping, pairs, data_format):
    x = _x(rng, 2, 6, 5, 2)
    (t, b), (l, r) = pairs
    layer = L.Cropping2D(cropping, data_format=data_format)
    if data_format == "channels_first":
        x = _cf(x)
        want = x[:, :, t:x.shape[2] - b, l:x.shape[3] - r]
    else:
        want = x[:, t:x.shape[1] - b, l:x.shape[2] - r]
    np.testing.assert_array_equal(run(layer, x), want)
    assert roundtrip(layer)["cropping"] == pairs


def test_cropping2d_unknown_spatial_dims(rng):
    inp = L.Input((None, None, 2))
    y = L.Cropping2D(((1, 2), (0, 1)))(inp)
    assert K.int_shape(y) == (None, None, None, 2)
    x = _x(rng, 1, 6, 5, 2)
    np.testing.assert_array_equal(K.function([inp], [y])([x])[0], x[:, 1:4, 0:4])
    assert L.Cropping2D().cropping == ((0, 0), (0, 0))


# ---------------------------------------------------------------------------------------------
# a small model


def test_conv_stack_shapes_and_param_count(rng):
    inp = L.Input((16, 16, 3))
    h = L.ZeroPadding2D((3, 3))(inp)
    h = L.Conv2D(8, (7, 7), strides=(2, 2), name="conv1")(h)
    h = L.MaxPooling2D((3, 3), strides=(2, 2))(h)
    h = L.SeparableConv2D(6, 3, padding="same")(h)
    h = L.Conv2DTranspose(4, 2, strides=2)(h)
    assert K.int_shape(h) == (None, 6, 6, 4)
    x = _x(rng, 2, 16, 16, 3)
    assert K.function([inp], [h])([x])[0].shape == (2, 6, 6, 4)

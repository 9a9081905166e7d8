"""3-D layers (Conv3D, Conv3DTranspose, Max/AveragePooling3D, GlobalMax/AveragePooling3D,
UpSampling3D, ZeroPadding3D, Cropping3D) against NumPy computed from each layer's own weights
(the loop references of tests/nn_reference.py), in float64, channels_last and channels_first;
weight names/shapes; Keras 2 defaults; config round trips; compute_output_shape vs computed
shapes; errors."""
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


def run(layer, x, unknown=(0,)):
    """Apply the layer to an Input whose axes in `unknown` are None; the static shape must equal
    compute_output_shape and agree with the computed one."""
    shape = tuple(None if i in unknown else d for i, d in enumerate(x.shape))
    inp = L.Input(batch_shape=shape)
    y = layer(inp)
    out = K.function([inp], [y])([x])[0]
    static = tuple(K.int_shape(y))
    assert tuple(layer.compute_output_shape(tuple(K.int_shape(inp)))) == static
    assert len(static) == out.ndim and all(s is None or s == d for s, d in zip(static, out.shape)), \
        (static, out.shape)
    if unknown == (0,):
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


def _fmt(x, data_format):
    return _cf(x) if data_format == "channels_first" else x


def _t3(v):
    return v if isinstance(v, tuple) else (v,) * 3


# ---------------------------------------------------------------------------------------------
# Conv3D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kw", [
    dict(kernel_size=3),
    dict(kernel_size=(2, 3, 2), strides=(2, 1, 2), padding="same"),
    dict(kernel_size=2, dilation_rate=2, padding="same"),
    dict(kernel_size=(3, 2, 2), dilation_rate=(1, 2, 1)),
    dict(kernel_size=2, strides=2, activation="relu"),
])
def test_conv3d(rng, data_format, kw):
    layer = L.Conv3D(3, data_format=data_format, **kw)
    x = _x(rng, 2, 5, 6, 5, 2)
    xin = _fmt(x, data_format)
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    W, b = layer.get_weights()
    ks = _t3(kw["kernel_size"])
    assert W.shape == ks + (2, 3) and b.shape == (3,)
    assert _names(layer) == ["kernel", "bias"]
    want = R.conv3d(x, W, _t3(kw.get("strides", 1)), kw.get("padding", "valid"), "channels_last",
                    _t3(kw.get("dilation_rate", 1))) + b
    if kw.get("activation") == "relu":
        want = np.maximum(want, 0)
    np.testing.assert_allclose(out, _fmt(want, data_format), **TOL)
    cfg = roundtrip(layer)
    assert cfg["data_format"] == data_format and cfg["kernel_size"] == ks


def test_conv3d_unknown_spatial_dims(rng):
    layer = L.Conv3D(2, 2, strides=2, padding="same")
    x = _x(rng, 1, 5, 4, 3, 2)
    out = run(layer, x, unknown=(0, 1, 2, 3))
    W, b = layer.get_weights()
    np.testing.assert_allclose(out, R.conv3d(x, W, (2, 2, 2), "same") + b, **TOL)


def test_conv3d_defaults_and_config():
    layer = L.Conv3D(8, (3, 3, 3))
    cfg = roundtrip(layer)
    assert cfg["strides"] == (1, 1, 1) and cfg["padding"] == "valid" and cfg["dilation_rate"] == (1, 1, 1)
    assert cfg["data_format"] == "channels_last" and cfg["activation"] == "linear" and cfg["use_bias"] is True
    assert "rank" not in cfg
    assert set(cfg) >= {"filters", "kernel_size", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                        "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"}
    assert L.Convolution3D is L.Conv3D
    K.set_image_data_format("channels_first")
    assert L.Conv3D(2, 3).data_format == "channels_first"


def test_conv3d_no_bias_and_param_count(rng):
    layer = L.Conv3D(5, 3, use_bias=False)
    out = run(layer, _x(rng, 1, 4, 5, 3, 2))
    assert out.shape == (1, 2, 3, 1, 5) and len(layer.weights) == 1 and layer.count_params() == 270


def test_conv3d_errors():
    with pytest.raises(ValueError, match="channel"):
        L.Conv3D(2, 3)(L.Input((5, 5, 5, None)))
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv3D(2, (3, 3))
    with pytest.raises(ValueError, match="padding"):
        L.Conv3D(2, 3, padding="causal")
    with pytest.raises(ValueError):
        L.Conv3D(2, 3)(L.Input((5, 5, 3)))  # rank 4
    with pytest.raises(ValueError):
        L.Conv3D(2, 4)(L.Input((3, 5, 5, 1)))  # kernel does not fit under 'valid'
    layer = L.Conv3D(2, 3)
    layer(L.Input((5, 5, 5, 3)))
    with pytest.raises(ValueError):
        layer(L.Input((5, 5, 5, 4)))


# ---------------------------------------------------------------------------------------------
# Conv3DTranspose


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kw,size", [
    (dict(kernel_size=3), (4, 5, 4)),
    (dict(kernel_size=3, strides=2), (5, 7, 5)),
    (dict(kernel_size=2, strides=2, padding="same"), (4, 6, 4)),
    (dict(kernel_size=(3, 2, 3), strides=2, output_padding=1), (6, 7, 6)),
    (dict(kernel_size=3, strides=(2, 1, 2), padding="same", output_padding=(1, 0, 0)), (4, 3, 3)),
])
def test_conv3d_transpose(rng, data_format, kw, size):
    layer = L.Conv3DTranspose(2, data_format=data_format, **kw)
    x = _x(rng, 2, 2, 3, 2, 3)
    xin = _fmt(x, data_format)
    layer.build((None,) + xin.shape[1:])
    _randomize(layer, rng)
    out = run(layer, xin)
    W, b = layer.get_weights()
    ks = _t3(kw["kernel_size"])
    assert W.shape == ks + (2, 3) and b.shape == (2,)
    assert _names(layer) == ["kernel", "bias"]
    want = R.conv3d_transpose(x, W, (2,) + size + (2,), _t3(kw.get("strides", 1)),
                              kw.get("padding", "valid")) + b
    np.testing.assert_allclose(out, _fmt(want, data_format), **TOL)
    cfg = roundtrip(layer)
    assert "dilation_rate" not in cfg
    op = kw.get("output_padding")
    assert cfg["output_padding"] == (None if op is None else _t3(op))


def test_conv3d_transpose_defaults_and_errors():
    cfg = roundtrip(L.Conv3DTranspose(4, 3))
    assert cfg["strides"] == (1, 1, 1) and cfg["padding"] == "valid" and cfg["output_padding"] is None
    assert L.Convolution3DTranspose is L.Conv3DTranspose
    with pytest.raises(ValueError, match="output padding"):
        L.Conv3DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="output padding"):
        L.Conv3DTranspose(2, 3, output_padding=1)  # stride 1
    with pytest.raises(ValueError):
        L.Conv3DTranspose(2, 3)(L.Input((4, 4, 4, None)))
    with pytest.raises(ValueError):
        L.Conv3DTranspose(2, 3)(L.Input((None, 4, 4, 1)))  # spatial size needed


def test_conv3d_autoencoder_shapes(rng):
    """Conv3D -> MaxPooling3D -> Conv3DTranspose -> UpSampling3D in a Model, shapes end to end."""
    from keraslite.models import Model
    inp = L.Input((4, 6, 4, 1))
    h = L.Conv3D(2, 3, padding="same", activation="relu")(inp)
    h = L.MaxPooling3D()(h)
    h = L.Conv3DTranspose(2, 2, strides=2, padding="same")(h)
    h = L.UpSampling3D((1, 2, 1))(h)
    out = L.GlobalAveragePooling3D()(h)
    model = Model(inp, out)
    assert tuple(K.int_shape(h)) == (None, 4, 12, 4, 2)
    assert model.predict(_x(rng, 3, 4, 6, 4, 1)).shape == (3, 2)


# ---------------------------------------------------------------------------------------------
# pooling


@pytest.mark.parametrize("cls,mode", [(L.MaxPooling3D, "max"), (L.AveragePooling3D, "avg")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kw", [
    dict(),
    dict(pool_size=(2, 3, 2), strides=(1, 2, 1)),
    dict(pool_size=2, padding="same"),
    dict(pool_size=(3, 2, 3), strides=2, padding="same"),
])
def test_pooling3d(rng, cls, mode, data_format, kw):
    layer = cls(data_format=data_format, **kw)
    x = _x(rng, 2, 5, 4, 5, 2)
    out = run(layer, _fmt(x, data_format))
    pool = _t3(kw.get("pool_size", 2))
    strides = _t3(kw.get("strides", pool))
    want = R.pool3d(x, pool, strides, kw.get("padding", "valid"), pool_mode=mode)
    np.testing.assert_allclose(out, _fmt(want, data_format), **TOL)
    cfg = roundtrip(layer)
    assert cfg["pool_size"] == pool and cfg["strides"] == strides and cfg["data_format"] == data_format
    assert layer.weights == []


def test_pooling3d_defaults_aliases_and_errors(rng):
    cfg = roundtrip(L.MaxPooling3D())
    assert cfg["pool_size"] == (2, 2, 2) and cfg["strides"] == (2, 2, 2) and cfg["padding"] == "valid"
    assert cfg["data_format"] == "channels_last"
    assert L.MaxPool3D is L.MaxPooling3D and L.AvgPool3D is L.AveragePooling3D
    assert L.GlobalMaxPool3D is L.GlobalMaxPooling3D and L.GlobalAvgPool3D is L.GlobalAveragePooling3D
    with pytest.raises(ValueError, match="padding"):
        L.MaxPooling3D(padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        L.AveragePooling3D(pool_size=(2, 2))
    with pytest.raises(ValueError):
        L.MaxPooling3D()(L.Input((4, 4, 3)))
    out = run(L.AveragePooling3D(2, padding="same"), _x(rng, 1, 3, 5, 4, 1), unknown=(0, 1, 2, 3))
    assert out.shape == (1, 2, 3, 2, 1)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling3d(rng, data_format):
    x = _x(rng, 2, 3, 4, 2, 3)
    xin = _fmt(x, data_format)
    for cls, fn in [(L.GlobalMaxPooling3D, np.max), (L.GlobalAveragePooling3D, np.mean)]:
        layer = cls(data_format=data_format)
        out = run(layer, xin)
        np.testing.assert_allclose(out, fn(x, axis=(1, 2, 3)), **TOL)
        assert roundtrip(layer)["data_format"] == data_format
    out = run(L.GlobalMaxPooling3D(), x, unknown=(0, 1, 2, 3))
    np.testing.assert_allclose(out, x.max(axis=(1, 2, 3)), **TOL)


# ---------------------------------------------------------------------------------------------
# UpSampling3D, ZeroPadding3D, Cropping3D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("size", [2, (1, 2, 3)])
def test_upsampling3d(rng, data_format, size):
    layer = L.UpSampling3D(size, data_format=data_format)
    x = _x(rng, 2, 2, 3, 2, 2)
    out = run(layer, _fmt(x, data_format))
    np.testing.assert_allclose(out, _fmt(R.resize_volumes(x, *_t3(size)), data_format), **TOL)
    cfg = roundtrip(layer)
    assert cfg["size"] == _t3(size) and cfg["data_format"] == data_format


def test_upsampling3d_defaults_and_unknown_dims(rng):
    cfg = roundtrip(L.UpSampling3D())
    assert cfg["size"] == (2, 2, 2) and cfg["data_format"] == "channels_last"
    x = _x(rng, 1, 2, 1, 3, 1)
    out = run(L.UpSampling3D((2, 1, 2)), x, unknown=(0, 1, 2, 3))
    np.testing.assert_allclose(out, R.resize_volumes(x, 2, 1, 2), **TOL)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding,pairs", [
    (1, ((1, 1), (1, 1), (1, 1))),
    ((2, 0, 1), ((2, 2), (0, 0), (1, 1))),
    (((1, 0), (0, 2), (2, 1)), ((1, 0), (0, 2), (2, 1))),
])
def test_zero_padding3d(rng, data_format, padding, pairs):
    layer = L.ZeroPadding3D(padding, data_format=data_format)
    x = _x(rng, 2, 2, 3, 2, 2)
    out = run(layer, _fmt(x, data_format))
    np.testing.assert_allclose(out, _fmt(R.spatial_3d_padding(x, pairs), data_format), **TOL)
    cfg = roundtrip(layer)
    assert cfg["padding"] == pairs and cfg["data_format"] == data_format


def test_zero_padding3d_defaults_and_errors(rng):
    cfg = roundtrip(L.ZeroPadding3D())
    assert cfg["padding"] == ((1, 1), (1, 1), (1, 1)) and cfg["data_format"] == "channels_last"
    with pytest.raises(ValueError):
        L.ZeroPadding3D((1, 1))
    with pytest.raises(ValueError):
        L.ZeroPadding3D(-1)
    with pytest.raises(ValueError):
        L.ZeroPadding3D(((1, 1), (1, 1), (1, 2, 3)))
    out = run(L.ZeroPadding3D((1, 0, 2)), _x(rng, 1, 2, 2, 2, 1), unknown=(0, 1, 2, 3))
    assert out.shape == (1, 4, 2, 6, 1)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("cropping,pairs", [
    (1, ((1, 1), (1, 1), (1, 1))),
    ((0, 1, 2), ((0, 0), (1, 1), (2, 2))),
    (((1, 0), (0, 2), (2, 1)), ((1, 0), (0, 2), (2, 1))),
])
def test_cropping3d(rng, data_format, cropping, pairs):
    layer = L.Cropping3D(cropping, data_format=data_format)
    x = _x(rng, 2, 4, 5, 6, 2)
    out = run(layer, _fmt(x, data_format))
    (a0, a1), (b0, b1), (c0, c1) = pairs
    want = x[:, a0:x.shape[1] - a1, b0:x.shape[2] - b1, c0:x.shape[3] - c1, :]
    np.testing.assert_allclose(out, _fmt(want, data_format), **TOL)
    cfg = roundtrip(layer)
    assert cfg["cropping"] == pairs and cfg["data_format"] == data_format


def test_cropping3d_defaults_unknown_dims_and_errors(rng):
    cfg = roundtrip(L.Cropping3D())
    assert cfg["cropping"] == ((1, 1), (1, 1), (1, 1)) and cfg["data_format"] == "channels_last"
    x = _x(rng, 1, 4, 4, 5, 1)
    out = run(L.Cropping3D(((1, 2), (0, 1), (2, 0))), x, unknown=(0, 1, 2, 3))
    np.testing.assert_allclose(out, x[:, 1:2, 0:3, 2:5, :], **TOL)
    with pytest.raises(ValueError):
        L.Cropping3D((1, 1))
    with pytest.raises(ValueError):
        L.Cropping3D(((1, 1), (1, 1), (-1, 0)))
    with pytest.raises(ValueError):
        L.Cropping3D(3)(L.Input((4, 8, 8, 1)))   # crops more than the depth


def test_layers_3d_gradients_flow(rng):
    """Training step through every 3-D layer: the loss decreases (gradients reach the kernels)."""
    from keraslite.models import Sequential
    model = Sequential([
        L.ZeroPadding3D(1, input_shape=(3, 4, 3, 1)),
        L.Conv3D(2, 3, activation="tanh"),
        L.AveragePooling3D((1, 2, 1)),
        L.UpSampling3D((1, 2, 1)),
        L.Cropping3D(((0, 0), (1, 1), (0, 0))),
        L.Conv3DTranspose(1, 2, strides=(1, 2, 1), padding="same"),
        L.MaxPooling3D(2, padding="same"),
        L.GlobalMaxPooling3D(),
    ])
    model.compile("sgd", "mse")
    x, y = _x(rng, 4, 3, 4, 3, 1), _x(rng, 4, 1)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before

"""Pooling layers and BatchNormalization against NumPy, in float64 on every backend.

BatchNormalization: inference with the moving statistics (default learning phase), training
with the batch statistics (K.function(..., givens={K.learning_phase(): 1})), and the moving-stat
updates applied through K.function(updates=layer.updates): plain EMA with the n / (n - (1 + eps))
variance correction."""
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


def run(layer, x, batch=None):
    inp = L.Input(batch_shape=(batch,) + x.shape[1:])
    y = layer(inp)
    out = K.function([inp], [y])([x])[0]
    static = tuple(K.int_shape(y))
    assert tuple(layer.compute_output_shape(tuple(K.int_shape(inp)))) == static
    assert static == (batch,) + out.shape[1:], (static, out.shape)
    return out


def roundtrip(layer):
    cfg = layer.get_config()
    cls = type(layer)
    assert cls.from_config(cfg).get_config() == cfg
    js = json.loads(json.dumps(cfg))
    assert json.loads(json.dumps(cls.from_config(js).get_config())) == js
    assert type(L.deserialize(json.loads(json.dumps(L.serialize(layer))))) is cls
    return cfg


def _x(rng, *shape):
    return rng.standard_normal(shape)


def _cf(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


# ---------------------------------------------------------------------------------------------
# pooling


@pytest.mark.parametrize("cls,mode", [(L.MaxPooling2D, "max"), (L.AveragePooling2D, "avg")])
@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=2, padding="same"),
                                dict(pool_size=(2, 3), strides=1), dict(pool_size=3, padding="same")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_pooling2d(rng, cls, mode, kw, data_format):
    x = _x(rng, 2, 7, 6, 3)
    layer = cls(data_format=data_format, **kw)
    xin = _cf(x) if data_format == "channels_first" else x
    pool = kw.get("pool_size", (2, 2))
    pool = pool if isinstance(pool, tuple) else (pool, pool)
    strides = kw.get("strides", pool)
    want = R.pool2d(x, pool, strides, kw.get("padding", "valid"), "channels_last", mode)
    if data_format == "channels_first":
        want = _cf(want)
    np.testing.assert_allclose(run(layer, xin), want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["pool_size"] == pool and cfg["strides"] == (strides if isinstance(strides, tuple) else (strides,) * 2)
    assert cfg["data_format"] == data_format


def test_pooling2d_defaults():
    cfg = L.MaxPooling2D().get_config()
    assert cfg["pool_size"] == (2, 2) and cfg["strides"] == (2, 2) and cfg["padding"] == "valid"
    assert L.MaxPool2D is L.MaxPooling2D and L.AvgPool2D is L.AveragePooling2D
    assert L.MaxPooling2D().name.startswith("max_pooling2d_")
    with pytest.raises(ValueError):
        L.MaxPooling2D(padding="full")
    with pytest.raises(ValueError):
        L.MaxPooling2D()(L.Input((4, 4)))


@pytest.mark.parametrize("cls,mode", [(L.MaxPooling1D, "max"), (L.AveragePooling1D, "avg")])
@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=1), dict(pool_size=3, strides=2, padding="same")])
def test_pooling1d(rng, cls, mode, kw):
    x = _x(rng, 2, 9, 3)
    layer = cls(**kw)
    p = kw.get("pool_size", 2)
    s = kw.get("strides", p)
    want = R.pool2d(x[:, :, None, :], (p, 1), (s, 1), kw.get("padding", "valid"), "channels_last", mode)[:, :, 0]
    np.testing.assert_allclose(run(layer, x), want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["pool_size"] == (p,) and cfg["strides"] == (s,) and cfg["data_format"] == "channels_last"
    cf = cls(data_format="channels_first", **kw)
    np.testing.assert_allclose(run(cf, _cf(x)), _cf(want), **TOL)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling2d(rng, data_format):
    x = _x(rng, 2, 3, 4, 5)
    xin = _cf(x) if data_format == "channels_first" else x
    avg = L.GlobalAveragePooling2D(data_format=data_format)
    mx = L.GlobalMaxPooling2D(data_format=data_format)
    np.testing.assert_allclose(run(avg, xin), x.mean(axis=(1, 2)), **TOL)
    np.testing.assert_allclose(run(mx, xin), x.max(axis=(1, 2)), **TOL)
    assert roundtrip(avg)["data_format"] == data_format
    roundtrip(mx)
    assert L.GlobalAvgPool2D is L.GlobalAveragePooling2D and L.GlobalMaxPool2D is L.GlobalMaxPooling2D


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_pooling1d(rng, data_format):
    x = _x(rng, 2, 6, 3)
    xin = _cf(x) if data_format == "channels_first" else x
    avg = L.GlobalAveragePooling1D(data_format=data_format)
    mx = L.GlobalMaxPooling1D(data_format=data_format)
    np.testing.assert_allclose(run(avg, xin), x.mean(axis=1), **TOL)
    np.testing.assert_allclose(run(mx, xin), x.max(axis=1), **TOL)
    assert roundtrip(avg)["data_format"] == data_format
    roundtrip(mx)
    assert L.GlobalAveragePooling1D().data_format == "channels_last"


def test_global_average_pooling1d_with_mask(rng):
    x = _x(rng, 2, 5, 3)
    x[0, 3:] = 0.0
    x[1, 1] = 0.0
    inp = L.Input((5, 3))
    y = L.GlobalAveragePooling1D()(L.Masking()(inp))
    assert getattr(y, "_keras_mask", None) is None
    out = K.function([inp], [y])([x])[0]
    keep = np.abs(x).sum(-1) != 0
    want = (x * keep[..., None]).sum(1) / keep.sum(1, keepdims=True)
    np.testing.assert_allclose(out, want, **TOL)


# ---------------------------------------------------------------------------------------------
# BatchNormalization


def _bn_weights(rng, c):
    return [rng.uniform(0.5, 2.0, c), rng.standard_normal(c), rng.standard_normal(c), rng.uniform(0.5, 2.0, c)]


def test_batchnorm_weights_and_config():
    layer = L.BatchNormalization()
    layer.build((None, 4))
    assert [w.name.split("/")[-1] for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2
    g, b, mm, mv = layer.get_weights()
    np.testing.assert_array_equal(g, 1) and np.testing.assert_array_equal(mv, 1)
    np.testing.assert_array_equal(b, 0) and np.testing.assert_array_equal(mm, 0)
    cfg = roundtrip(layer)
    assert cfg["axis"] == -1 and cfg["momentum"] == 0.99 and cfg["epsilon"] == 1e-3
    assert cfg["center"] is True and cfg["scale"] is True
    assert {"beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
            "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"} <= set(cfg)
    nc = L.BatchNormalization(center=False, scale=False)
    nc.build((None, 3))
    assert [w.name.split("/")[-1] for w in nc.weights] == ["moving_mean", "moving_variance"]
    assert layer.count_params() == 16


@pytest.mark.parametrize("shape,axis", [((6, 4), -1), ((3, 4, 5), -1), ((2, 3, 4, 5), 1), ((2, 3, 4, 5), -1)])
@pytest.mark.parametrize("batch", [None, "static"])
def test_batchnorm_inference_training_and_updates(rng, shape, axis, batch):
    x = _x(rng, *shape) * 2 + 0.5
    c = shape[axis]
    layer = L.BatchNormalization(axis=axis, momentum=0.8, epsilon=1e-3)
    inp = L.Input(batch_shape=((shape[0] if batch else None),) + shape[1:])
    y = layer(inp)
    assert K.int_shape(y) == K.int_shape(inp)
    w0 = _bn_weights(rng, c)
    layer.set_weights(w0)
    g, b, mm, mv = w0
    ax = axis % len(shape)
    bshape = [1] * len(shape)
    bshape[ax] = c

    def bc(v):
        return v.reshape(bshape)

    # inference (default learning phase 0): moving statistics, no update
    infer = K.function([inp], [y])([x])[0]
    want_inf = (x - bc(mm)) / np.sqrt(bc(mv) + 1e-3) * bc(g) + bc(b)
    np.testing.assert_allclose(infer, want_inf, **TOL)
    np.testing.assert_allclose(R.batch_normalization(x, mm, mv, b, g, axis=ax), want_inf, **TOL)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), w0))

    # training phase: batch statistics (biased variance); updates with the corrected variance
    assert len(layer.updates) == 2
    train = K.function([inp], [y], updates=layer.updates, givens={K.learning_phase(): 1})
    out = train([x])[0]
    red = tuple(i for i in range(len(shape)) if i != ax)
    mean, var = x.mean(axis=red), x.var(axis=red)
    want = (x - bc(mean)) / np.sqrt(bc(var) + 1e-3) * bc(g) + bc(b)
    np.testing.assert_allclose(out, want, **TOL)
    n = x.size // c
    _, _, mm1, mv1 = layer.get_weights()
    np.testing.assert_allclose(mm1, 0.8 * mm + 0.2 * mean, **TOL)
    np.testing.assert_allclose(mv1, 0.8 * mv + 0.2 * var * n / (n - (1 + 1e-3)), **TOL)
    # a second step moves the averages again
    train([x])
    _, _, mm2, _ = layer.get_weights()
    np.testing.assert_allclose(mm2, 0.8 * mm1 + 0.2 * mean, **TOL)


def test_batchnorm_training_argument(rng):
    x = _x(rng, 5, 3)
    inp = L.Input((3,))
    layer = L.BatchNormalization()
    y_inf = layer(inp, training=False)
    assert layer.updates == []
    y_tr = layer(inp, training=True)
    assert len(layer.updates) == 2
    g, b, mm, mv = _bn_weights(rng, 3)
    layer.set_weights([g, b, mm, mv])
    inf, tr = K.function([inp], [y_inf, y_tr])([x])
    np.testing.assert_allclose(inf, (x - mm) / np.sqrt(mv + 1e-3) * g + b, **TOL)
    np.testing.assert_allclose(tr, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) * g + b, **TOL)


def test_batchnorm_frozen_keeps_batch_statistics_without_updates(rng):
    x = _x(rng, 6, 2)
    inp = L.Input((2,))
    layer = L.BatchNormalization(trainable=False)
    y = layer(inp)
    assert layer.updates == [] and layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    out = K.function([inp], [y], updates=layer.updates, givens={K.learning_phase(): 1})([x])[0]
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), **TOL)
    np.testing.assert_array_equal(layer.get_weights()[2], 0)


def test_batchnorm_no_center_no_scale(rng):
    x = _x(rng, 4, 3, 2)
    layer = L.BatchNormalization(center=False, scale=False, epsilon=0.01)
    inp = L.Input((3, 2))
    y = layer(inp)
    mm, mv = rng.standard_normal(2), rng.uniform(1, 2, 2)
    layer.set_weights([mm, mv])
    out = K.function([inp], [y])([x])[0]
    np.testing.assert_allclose(out, (x - mm) / np.sqrt(mv + 0.01), **TOL)
    cfg = roundtrip(layer)
    assert cfg["center"] is False and cfg["epsilon"] == 0.01


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="batch_normalization"):
        L.BatchNormalization()(L.Input((3, None)))
    with pytest.raises(ValueError):
        L.BatchNormalization(axis=3)(L.Input((3, 4)))
    layer = L.BatchNormalization()
    layer(L.Input((4,)))
    with pytest.raises(ValueError):
        layer(L.Input((5,)))
    with pytest.raises(ValueError):
        layer.set_weights([np.ones(4)] * 3)

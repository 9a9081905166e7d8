"""Merge layers (and their functional forms), advanced activations and Embedding against NumPy;
layer (de)serialisation over every exported layer class; shape inference and errors."""
import json

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers as L

pytestmark = pytest.mark.usefixtures("kbackend")

TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")
    yield


def run(layer, *arrays, call=None):
    inputs = [L.Input(batch_shape=(None,) + a.shape[1:], dtype=str(a.dtype)) for a in arrays]
    arg = inputs if len(inputs) > 1 else inputs[0]
    y = call(arg) if call is not None else layer(arg)
    out = K.function(inputs, [y])(list(arrays))[0]
    static = tuple(K.int_shape(y))
    if layer is not None:
        shapes = [tuple(K.int_shape(i)) for i in inputs]
        assert tuple(layer.compute_output_shape(shapes if len(shapes) > 1 else shapes[0])) == static
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


def _x(rng, *shape):
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------------------------
# element-wise merges


@pytest.mark.parametrize("cls,fn,np_fn", [
    (L.Add, L.add, lambda xs: xs[0] + xs[1] + xs[2]),
    (L.Multiply, L.multiply, lambda xs: xs[0] * xs[1] * xs[2]),
    (L.Average, L.average, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    (L.Maximum, L.maximum, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    (L.Minimum, L.minimum, lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2])),
])
def test_elementwise_merges(rng, cls, fn, np_fn):
    xs = [_x(rng, 2, 3, 4) for _ in range(3)]
    layer = cls()
    np.testing.assert_allclose(run(layer, *xs), np_fn(xs), **TOL)
    np.testing.assert_allclose(run(None, *xs, call=fn), np_fn(xs), **TOL)
    cfg = roundtrip(layer)
    assert set(cfg) == {"name", "trainable", "dtype"}


def test_subtract(rng):
    a, b = _x(rng, 2, 3), _x(rng, 2, 3)
    np.testing.assert_allclose(run(L.Subtract(), a, b), a - b, **TOL)
    np.testing.assert_allclose(run(None, a, b, call=L.subtract), a - b, **TOL)
    with pytest.raises(ValueError, match="exactly 2"):
        L.Subtract()([L.Input((3,)), L.Input((3,)), L.Input((3,))])


def test_merge_broadcasting_and_rank_expansion(rng):
    a, b = _x(rng, 2, 3, 4), _x(rng, 2, 1, 4)
    np.testing.assert_allclose(run(L.Add(), a, b), a + b, **TOL)
    c = _x(rng, 2, 4)  # lower rank: expanded at axis 1, as in Keras 2
    np.testing.assert_allclose(run(L.Multiply(), a, c), a * c[:, None, :], **TOL)


def test_merge_errors():
    with pytest.raises(ValueError, match="list"):
        L.Add()(L.Input((3,)))
    with pytest.raises(ValueError, match="at least 2"):
        L.Add()([L.Input((3,))])
    with pytest.raises(ValueError, match="broadcast"):
        L.Add()([L.Input((3,)), L.Input((4,))])
    with pytest.raises(ValueError, match="batch sizes"):
        L.Add()([L.Input(batch_shape=(2, 3)), L.Input(batch_shape=(5, 3))])


def test_merge_masks(rng):
    a = _x(rng, 2, 4, 3)
    a[0, 1] = 0
    b = _x(rng, 2, 4, 3)
    b[1, 2] = 0
    ia, ib = L.Input((4, 3)), L.Input((4, 3))
    y = L.Add()([L.Masking()(ia), L.Masking()(ib)])
    m = K.function([ia, ib], [y._keras_mask])([a, b])[0]
    np.testing.assert_array_equal(m, [[True, False, True, True], [True, True, False, True]])


# ---------------------------------------------------------------------------------------------
# Concatenate, Dot


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate(rng, axis):
    shape_b = [2, 3, 4]
    shape_b[axis] = 5
    a, b = _x(rng, 2, 3, 4), _x(rng, *shape_b)
    layer = L.Concatenate(axis=axis)
    np.testing.assert_array_equal(run(layer, a, b), np.concatenate([a, b], axis=axis))
    np.testing.assert_array_equal(run(None, a, b, call=lambda t: L.concatenate(t, axis=axis)),
                                  np.concatenate([a, b], axis=axis))
    assert roundtrip(layer)["axis"] == axis


def test_concatenate_errors_and_unknown_dims():
    with pytest.raises(ValueError, match="matching shapes"):
        L.Concatenate()([L.Input((3, 4)), L.Input((2, 5))])
    with pytest.raises(ValueError, match="matching shapes"):
        L.Concatenate()([L.Input((3, 4)), L.Input((4,))])
    with pytest.raises(ValueError, match="at least 2"):
        L.Concatenate()([L.Input((3,))])
    y = L.Concatenate(axis=1)([L.Input((None, 4)), L.Input((3, 4))])
    assert K.int_shape(y) == (None, None, 4)


def test_concatenate_mask(rng):
    a = _x(rng, 2, 3, 2)
    a[0, 0] = 0
    ia, ib = L.Input((3, 2)), L.Input((3, 4))
    y = L.Concatenate()([L.Masking()(ia), ib])
    m = K.function([ia, ib], [y._keras_mask])([a, _x(rng, 2, 3, 4)])[0]
    np.testing.assert_array_equal(m, [[False, True, True], [True, True, True]])


def test_dot(rng):
    a, b = _x(rng, 3, 4), _x(rng, 3, 4)
    layer = L.Dot(axes=1)
    out = run(layer, a, b)
    np.testing.assert_allclose(out, (a * b).sum(1, keepdims=True), **TOL)
    assert roundtrip(layer)["axes"] == 1
    cos = run(L.Dot(axes=-1, normalize=True), a, b)
    an, bn = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(cos, (an * bn).sum(1, keepdims=True), **TOL)
    m1, m2 = _x(rng, 2, 3, 4), _x(rng, 2, 5, 4)
    layer = L.Dot(axes=(2, 2))
    np.testing.assert_allclose(run(layer, m1, m2), np.einsum("bik,bjk->bij", m1, m2), **TOL)
    assert roundtrip(layer)["axes"] == (2, 2)
    np.testing.assert_allclose(run(None, m1, m2, call=lambda t: L.dot(t, axes=[2, 2])),
                               np.einsum("bik,bjk->bij", m1, m2), **TOL)
    m3 = _x(rng, 2, 4, 6)
    np.testing.assert_allclose(run(L.Dot(axes=(2, 1)), m1, m3), np.einsum("bik,bkj->bij", m1, m3), **TOL)


def test_dot_errors():
    with pytest.raises(ValueError, match="incompatib"):
        L.Dot(axes=1)([L.Input((3,)), L.Input((4,))])
    with pytest.raises(ValueError, match="2 inputs"):
        L.Dot(axes=1)([L.Input((3,)), L.Input((3,)), L.Input((3,))])
    with pytest.raises(TypeError):
        L.Dot(axes="1")
    with pytest.raises(ValueError):
        L.Dot(axes=(1, 2, 3))


# ---------------------------------------------------------------------------------------------
# advanced activations


def test_leaky_relu_elu_thresholded_softmax(rng):
    x = _x(rng, 3, 5) * 2
    layer = L.LeakyReLU()
    np.testing.assert_allclose(run(layer, x), np.where(x >= 0, x, 0.3 * x), **TOL)
    assert roundtrip(layer)["alpha"] == pytest.approx(0.3)
    assert L.LeakyReLU().name.startswith("leaky_re_lu_")
    np.testing.assert_allclose(run(L.LeakyReLU(0.1), x), np.where(x >= 0, x, 0.1 * x), **TOL)
    layer = L.ELU(alpha=0.5)
    np.testing.assert_allclose(run(layer, x), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), **TOL)
    assert roundtrip(layer)["alpha"] == 0.5
    layer = L.ThresholdedReLU(theta=0.5)
    np.testing.assert_allclose(run(layer, x), np.where(x > 0.5, x, 0), **TOL)
    assert roundtrip(layer)["theta"] == 0.5
    layer = L.Softmax(axis=1)
    y = _x(rng, 2, 3, 4)
    e = np.exp(y - y.max(1, keepdims=True))
    np.testing.assert_allclose(run(layer, y), e / e.sum(1, keepdims=True), **TOL)
    assert roundtrip(layer)["axis"] == 1


@pytest.mark.parametrize("kw", [dict(), dict(max_value=1.0), dict(negative_slope=0.2),
                                dict(negative_slope=0.1, threshold=0.5, max_value=2.0)])
def test_relu_layer(rng, kw):
    x = _x(rng, 4, 6) * 2
    m, a, t = kw.get("max_value"), kw.get("negative_slope", 0.0), kw.get("threshold", 0.0)
    want = np.where(x >= t, x if m is None else np.minimum(x, m), a * (x - t))
    layer = L.ReLU(**kw)
    np.testing.assert_allclose(run(layer, x), want, **TOL)
    cfg = roundtrip(layer)
    assert cfg["max_value"] == m and cfg["negative_slope"] == a and cfg["threshold"] == t


def test_relu_errors():
    with pytest.raises(ValueError):
        L.ReLU(max_value=-1)
    with pytest.raises(ValueError):
        L.ReLU(negative_slope=-0.1)


def test_prelu(rng):
    x = _x(rng, 2, 3, 4, 5)
    layer = L.PReLU(alpha_initializer="ones")
    layer.build((None, 3, 4, 5))
    layer.set_weights([rng.uniform(0.1, 0.9, (3, 4, 5))])
    out = run(layer, x)
    (alpha,) = layer.get_weights()
    np.testing.assert_allclose(out, np.maximum(x, 0) - alpha * np.maximum(-x, 0), **TOL)
    shared = L.PReLU(shared_axes=[1, 2])
    out = run(shared, x)
    (alpha,) = shared.get_weights()
    assert alpha.shape == (1, 1, 5)
    np.testing.assert_allclose(out, np.maximum(x, 0), **TOL)  # zeros initializer
    shared.set_weights([np.full((1, 1, 5), 0.25)])
    np.testing.assert_allclose(K.function([shared.input], [shared.output])([x])[0],
                               np.where(x > 0, x, 0.25 * x), **TOL)
    cfg = roundtrip(shared)
    assert cfg["shared_axes"] == [1, 2] and cfg["alpha_initializer"] == {"class_name": "Zeros", "config": {}}
    assert L.PReLU(shared_axes=2).shared_axes == [2]
    with pytest.raises(ValueError, match="p_re_lu"):
        L.PReLU()(L.Input((None, 3)))


# ---------------------------------------------------------------------------------------------
# Embedding


def test_embedding(rng):
    layer = L.Embedding(10, 3, input_length=4)
    assert layer.batch_input_shape == (None, 4)
    idx = rng.integers(0, 10, (2, 4)).astype("int32")
    out = run(layer, idx)
    (E,) = layer.get_weights()
    assert E.shape == (10, 3) and layer.weights[0].name.endswith("embeddings")
    assert np.abs(E).max() <= 0.05  # 'uniform' = U(-0.05, 0.05)
    np.testing.assert_array_equal(out, E[idx])
    cfg = roundtrip(layer)
    assert cfg["input_dim"] == 10 and cfg["output_dim"] == 3 and cfg["input_length"] == 4
    assert cfg["mask_zero"] is False and cfg["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert L.Embedding(5, 2).batch_input_shape == (None, None)
    fidx = idx.astype("float64")  # float indices are cast, as in Keras
    np.testing.assert_array_equal(run(layer, fidx), E[idx])


def test_embedding_mask_zero_and_shapes(rng):
    layer = L.Embedding(6, 2, mask_zero=True)
    inp = L.Input((5,), dtype="int32")
    y = layer(inp)
    assert K.int_shape(y) == (None, 5, 2)
    idx = np.array([[1, 2, 0, 0, 0], [3, 0, 5, 1, 0]], dtype="int32")
    out, mask = K.function([inp], [y, y._keras_mask])([idx])
    np.testing.assert_array_equal(mask, idx != 0)
    np.testing.assert_array_equal(out, layer.get_weights()[0][idx])
    pooled = L.GlobalAveragePooling1D()(y)
    got = K.function([inp], [pooled])([idx])[0]
    E = layer.get_weights()[0]
    want = np.stack([E[idx[i][idx[i] != 0]].mean(0) for i in range(2)])
    np.testing.assert_allclose(got, want, **TOL)
    with pytest.raises(ValueError, match="input_length"):
        L.Embedding(6, 2, input_length=3)(L.Input((4,)))
    assert L.Embedding(6, 2, input_length=3).compute_output_shape((None, None)) == (None, 3, 2)


# ---------------------------------------------------------------------------------------------
# noise layers: identity at test time, noisy (with the right moments) in training


def test_noise_layers(rng):
    x = rng.standard_normal((200, 50))
    for layer in (L.GaussianNoise(0.5), L.GaussianDropout(0.3), L.AlphaDropout(0.2, seed=1)):
        inp = L.Input((50,))
        y = layer(inp)
        np.testing.assert_array_equal(K.function([inp], [y])([x])[0], x)
        out = K.function([inp], [y], givens={K.learning_phase(): 1})([x])[0]
        assert out.shape == x.shape and not np.allclose(out, x)
        roundtrip(layer)
    noise = run(None, x, call=lambda t: L.GaussianNoise(0.5)(t, training=True)) - x
    assert abs(noise.std() - 0.5) < 0.03 and abs(noise.mean()) < 0.03
    ratio = run(None, x, call=lambda t: L.GaussianDropout(0.5)(t, training=True)) / x
    assert abs(ratio.mean() - 1) < 0.05 and abs(ratio.std() - 1) < 0.05
    selu_like = rng.standard_normal((400, 100))
    out = run(None, selu_like, call=lambda t: L.AlphaDropout(0.3, seed=2)(t, training=True))
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03  # moments kept for N(0, 1) input


# ---------------------------------------------------------------------------------------------
# serialisation over every layer class


def _one_of_each():
    return [
        L.Dense(2), L.Activation("tanh"), L.Dropout(0.2), L.Flatten(), L.Reshape((2, 3)), L.Permute((2, 1)),
        L.RepeatVector(2), L.ActivityRegularization(0.1), L.SpatialDropout1D(0.1), L.SpatialDropout2D(0.1),
        L.Masking(), L.Conv1D(2, 3), L.Conv2D(2, 3), L.Conv2DTranspose(2, 3), L.SeparableConv1D(2, 3),
        L.SeparableConv2D(2, 3), L.DepthwiseConv2D(3), L.UpSampling1D(), L.UpSampling2D(), L.ZeroPadding1D(),
        L.ZeroPadding2D(), L.Cropping1D(), L.Cropping2D(), L.MaxPooling1D(), L.MaxPooling2D(), L.AveragePooling1D(),
        L.AveragePooling2D(), L.GlobalMaxPooling1D(), L.GlobalMaxPooling2D(), L.GlobalAveragePooling1D(),
        L.GlobalAveragePooling2D(), L.BatchNormalization(), L.Add(), L.Subtract(), L.Multiply(), L.Average(),
        L.Maximum(), L.Minimum(), L.Concatenate(), L.Dot(1), L.LeakyReLU(), L.PReLU(), L.ELU(), L.ReLU(),
        L.Softmax(), L.ThresholdedReLU(), L.Embedding(3, 2), L.Lambda(K.abs), L.GaussianNoise(0.1),
        L.GaussianDropout(0.2), L.AlphaDropout(0.1),
        L.Conv3D(2, 3), L.Conv3DTranspose(2, 3), L.MaxPooling3D(), L.AveragePooling3D(), L.GlobalMaxPooling3D(),
        L.GlobalAveragePooling3D(), L.UpSampling3D(), L.ZeroPadding3D(), L.Cropping3D(),
        L.SimpleRNN(2), L.LSTM(2), L.GRU(2), L.RNN(L.LSTMCell(2)), L.TimeDistributed(L.Dense(2)),
        L.Bidirectional(L.LSTM(2)), L.LocallyConnected1D(2, 3), L.LocallyConnected2D(2, 3),
        L.SpatialDropout3D(0.1), L.ConvLSTM2D(2, 3), L.ConvRNN2D(L.ConvLSTM2DCell(2, 3)), L.CuDNNLSTM(2),
        L.CuDNNGRU(2),
    ]


def test_every_layer_class_round_trips():
    instances = _one_of_each()
    covered = {type(l) for l in instances}
    # abstract bases and cells (not layers users stack) are exercised through the layers above
    abstract = {L.Wrapper, L.SimpleRNNCell, L.LSTMCell, L.GRUCell, L.StackedRNNCells, L.ConvLSTM2DCell}
    classes = {c for c in L._LAYER_CLASSES.values() if c.__module__.startswith("keraslite.layers")} - abstract
    assert classes <= covered, sorted(c.__name__ for c in classes - covered)
    for layer in instances:
        cfg = roundtrip(layer)
        assert cfg["name"] == layer.name
        again = L.deserialize(L.serialize(layer))
        assert again.get_config() == cfg


def test_deserialize_names_custom_objects_and_input_layer():
    assert isinstance(L.deserialize({"class_name": "MaxPool2D", "config": {}}), L.MaxPooling2D)
    with pytest.raises(ValueError, match="Unknown layer"):
        L.deserialize({"class_name": "NoSuchLayer", "config": {}})

    class MyDense(L.Dense):
        pass

    got = L.deserialize({"class_name": "MyDense", "config": L.Dense(3).get_config()},
                        custom_objects={"MyDense": MyDense})
    assert type(got) is MyDense and got.units == 3
    inp_layer = L.Input((3,))._keras_history[0]
    again = L.deserialize(L.serialize(inp_layer))
    assert isinstance(again, L.InputLayer) and again.batch_input_shape == (None, 3)


def test_deserialize_models():
    from keraslite.engine.sequential import Sequential
    from keraslite.engine.training import Model
    inp = L.Input((4,))
    out = L.Dense(2)(L.Dense(3, activation="relu")(inp))
    model = Model(inp, out)
    again = L.deserialize(L.serialize(model))
    assert isinstance(again, Model) and again.count_params() == model.count_params()
    seq = Sequential([L.Dense(3, input_shape=(4,)), L.Dense(1)])
    again = L.deserialize(L.serialize(seq))
    assert isinstance(again, Sequential) and again.count_params() == seq.count_params() == 19


def test_shared_layer_nodes(rng):
    shared = L.Dense(2)
    a, b = L.Input((3,)), L.Input((3,))
    ya, yb = shared(a), shared(b)
    assert shared.get_output_at(0) is ya and shared.get_output_at(1) is yb
    assert shared.get_input_shape_at(1) == (None, 3) and shared.output_shape == (None, 2)
    with pytest.raises(AttributeError, match="multiple inbound nodes"):
        shared.output
    xa, xb = _x(rng, 2, 3), _x(rng, 2, 3)
    oa, ob = K.function([a, b], [ya, yb])([xa, xb])
    W, bias = shared.get_weights()
    np.testing.assert_allclose(oa, xa @ W + bias, **TOL)
    np.testing.assert_allclose(ob, xb @ W + bias, **TOL)


# ---------------------------------------------------------------------------------------------
# gradients through layers: K.gradients of a random projection of the output with respect to
# the weights and the input, against central finite differences (float64)


@pytest.mark.parametrize("make,shape,phase", [
    (lambda: L.Dense(3, activation="tanh"), (2, 4), None),
    (lambda: L.Conv2D(2, 3, strides=2, padding="same"), (2, 5, 5, 2), None),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=1), (1, 3, 3, 2), None),
    (lambda: L.SeparableConv2D(2, 2, depth_multiplier=2), (1, 4, 4, 2), None),
    (lambda: L.DepthwiseConv2D(2, data_format="channels_first"), (1, 2, 4, 4), None),
    (lambda: L.Conv1D(2, 2, padding="causal", dilation_rate=2), (2, 5, 3), None),
    (lambda: L.BatchNormalization(axis=1), (4, 3, 2), 1),
    (lambda: L.PReLU(shared_axes=[1]), (3, 4, 2), None),
    (lambda: L.Dot(axes=(2, 2), normalize=True), None, None),
])
def test_layer_gradients_match_finite_differences(rng, make, shape, phase):
    layer = make()
    if shape is None:
        xs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))]
    else:
        xs = [rng.standard_normal(shape)]
    inputs = [L.Input(batch_shape=x.shape) for x in xs]
    y = layer(inputs if len(inputs) > 1 else inputs[0])
    if layer.weights:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) * rng.choice([-1, 1], w.shape)
                           if "variance" not in w.name else rng.uniform(0.5, 1.5, w.shape) for w in layer.weights])
    proj = K.constant(rng.standard_normal(K.int_shape(y)))
    loss = K.sum(y * proj)
    wrt = list(layer.trainable_weights) + inputs
    grads = K.gradients(loss, wrt)
    givens = None if phase is None else {K.learning_phase(): phase}
    f = K.function(inputs, [loss] + grads, givens=givens)
    out = f(xs)
    analytic = out[1:]
    eps = 1e-6
    for k, (target, g) in enumerate(zip(wrt, analytic)):
        is_input = k >= len(layer.trainable_weights)
        base = xs[k - len(layer.trainable_weights)] if is_input else K.get_value(target)
        flat = list(np.ndindex(base.shape))
        picks = [flat[i] for i in rng.choice(len(flat), size=min(4, len(flat)), replace=False)]
        for idx in picks:
            vals = []
            for sign in (1, -1):
                moved = base.copy()
                moved[idx] += sign * eps
                if is_input:
                    feed = list(xs)
                    feed[k - len(layer.trainable_weights)] = moved
                    vals.append(f(feed)[0])
                else:
                    K.set_value(target, moved)
                    vals.append(f(xs)[0])
            if not is_input:
                K.set_value(target, base)
            numeric = (vals[0] - vals[1]) / (2 * eps)
            np.testing.assert_allclose(g[idx], numeric, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{layer.name} d/d{getattr(target, 'name', 'input')}{idx}")

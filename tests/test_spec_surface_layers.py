"""The public surface of SPEC.md, sections 2, 4 and 5: layer behaviour on small examples, losses and
metrics against NumPy (the rest: tests/test_spec_surface*.py).
"""

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers as L
from keraslite import losses, metrics
from keraslite import models as M
from keraslite import optimizers as O

from spec_surface_helpers import EPS, defaults
from spec_surface_helpers import _fresh_session  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.usefixtures("kbackend")


# =============================================================================================
# section 2: layer behaviour on small examples

def run(layer, x):
    i = L.Input(x.shape[1:])
    return M.Model(i, layer(i)).predict(x)


def test_padding_cropping_pooling_reshape():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    assert run(L.ZeroPadding2D(1), x).shape == (2, 6, 7, 3)
    np.testing.assert_array_equal(run(L.ZeroPadding2D((1, 2)), x), np.pad(x, ((0, 0), (1, 1), (2, 2), (0, 0))))
    np.testing.assert_array_equal(run(L.ZeroPadding2D(((1, 0), (2, 1))), x),
                                  np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 0))))
    with pytest.raises(ValueError):
        L.ZeroPadding2D((1, 2, 3))
    np.testing.assert_array_equal(run(L.Cropping2D(((1, 0), (2, 1))), x), x[:, 1:, 2:4, :])
    np.testing.assert_array_equal(run(L.Cropping2D(1), x), x[:, 1:3, 1:4, :])
    assert run(L.Reshape((-1, 3)), x).shape == (2, 20, 3)
    with pytest.raises(ValueError):
        L.Reshape((7, -1))(L.Input((4, 5, 3)))
    pooled = x[:, :4, :4].reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(run(L.MaxPooling2D(), x), pooled)  # strides default to pool_size
    assert run(L.AveragePooling2D(padding="same"), x).shape == (2, 2, 3, 3)
    np.testing.assert_allclose(run(L.GlobalAveragePooling2D(), x), x.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(run(L.GlobalMaxPooling2D(), x), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(run(L.Flatten(data_format="channels_first"), x.transpose(0, 3, 1, 2)),
                                  x.reshape(2, -1))
    assert run(L.Permute((2, 1)), x[:, 0]).shape == (2, 3, 5)
    assert run(L.RepeatVector(3), x[:, 0, 0]).shape == (2, 3, 3)
    assert K.int_shape(L.UpSampling2D()(L.Input((3, 4, 2)))) == (None, 6, 8, 2)
    assert K.int_shape(L.MaxPooling1D()(L.Input((7, 2)))) == (None, 3, 2)


def test_conv_shapes_and_weight_layouts():
    ci = L.Input((5, 5, 2))
    conv = L.Conv2D(4, 3)
    assert K.int_shape(conv(ci)) == (None, 3, 3, 4) and [w.shape for w in conv.get_weights()] == [(3, 3, 2, 4), (4,)]
    convt = L.Conv2DTranspose(4, 3, strides=2)
    assert K.int_shape(convt(ci)) == (None, 11, 11, 4) and convt.get_weights()[0].shape == (3, 3, 4, 2)
    assert K.int_shape(L.Conv2DTranspose(4, 3, strides=2, padding="same")(ci)) == (None, 10, 10, 4)
    sep = L.SeparableConv2D(4, 3, depth_multiplier=2)
    sep(ci)
    assert [w.shape for w in sep.get_weights()] == [(3, 3, 2, 2), (1, 1, 4, 4), (4,)]
    dw = L.DepthwiseConv2D(3, depth_multiplier=2)
    dw(ci)
    assert [w.shape for w in dw.get_weights()] == [(3, 3, 2, 2), (4,)]
    assert K.int_shape(L.Conv1D(3, 2, padding="causal")(L.Input((7, 2)))) == (None, 7, 3)
    assert K.int_shape(L.Conv2D(1, 3, dilation_rate=2)(L.Input((9, 9, 1)))) == (None, 5, 5, 1)
    assert K.int_shape(L.Conv2D(4, 3, data_format="channels_first")(L.Input((2, 9, 9)))) == (None, 4, 7, 7)
    with pytest.raises(ValueError):
        L.Conv2D(1, (3, 3, 3))
    with pytest.raises(ValueError):
        L.Conv2D(1, 3, padding="full")


def test_conv2d_values_against_numpy():
    x = np.random.rand(2, 5, 6, 2).astype("float32")
    conv = L.Conv2D(3, (2, 3), strides=(1, 2), activation="relu")
    out = run(conv, x)
    W, b = conv.get_weights()
    want = np.zeros((2, 4, 2, 3))
    for i in range(4):
        for j in range(2):
            patch = x[:, i:i + 2, 2 * j:2 * j + 3, :]
            want[:, i, j, :] = np.tensordot(patch, W, axes=([1, 2, 3], [0, 1, 2])) + b
    np.testing.assert_allclose(out, np.maximum(want, 0), rtol=1e-4, atol=1e-5)


def test_activation_layers_against_numpy():
    x = (np.random.rand(3, 4).astype("float32") - 0.5) * 2
    np.testing.assert_allclose(run(L.LeakyReLU(), x), np.where(x >= 0, x, 0.3 * x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(run(L.ThresholdedReLU(0.5), x), np.where(x > 0.5, x, 0), atol=1e-7)
    want = np.where(x >= 0.6, 0.6, np.where(x >= 0.2, x, 0.1 * (x - 0.2)))
    np.testing.assert_allclose(run(L.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2), x), want, atol=1e-6)
    np.testing.assert_allclose(run(L.ELU(0.5), x), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), atol=1e-6)
    e = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(run(L.Softmax(), x), e / e.sum(-1, keepdims=True), atol=1e-6)
    prelu = L.PReLU(alpha_initializer="ones")
    np.testing.assert_allclose(run(prelu, x), x, atol=1e-7)
    p = L.PReLU(shared_axes=[1])
    p(L.Input((3, 4)))
    assert p.get_weights()[0].shape == (1, 4)
    np.testing.assert_array_equal(run(L.Dropout(0.5), x), x)  # identity at inference
    assert L.Dropout(1.5).rate == 1.0


def test_merge_layers_against_numpy():
    a = np.random.rand(3, 4).astype("float32")
    b = np.random.rand(3, 4).astype("float32")

    def run2(layer):
        i1, i2 = L.Input((4,)), L.Input((4,))
        return M.Model([i1, i2], layer([i1, i2])).predict([a, b])

    np.testing.assert_allclose(run2(L.Add()), a + b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Subtract()), a - b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Multiply()), a * b, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Average()), (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(run2(L.Maximum()), np.maximum(a, b))
    np.testing.assert_allclose(run2(L.Minimum()), np.minimum(a, b))
    np.testing.assert_allclose(run2(L.Concatenate()), np.concatenate([a, b], -1))
    np.testing.assert_allclose(run2(L.Dot(1)), (a * b).sum(-1, keepdims=True), rtol=1e-5)
    na, nb = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(run2(L.Dot(1, normalize=True)), (na * nb).sum(-1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(run2(lambda t: L.add(t)), a + b, rtol=1e-6)
    np.testing.assert_allclose(run2(lambda t: L.concatenate(t, axis=-1)), np.concatenate([a, b], -1))
    with pytest.raises(ValueError):
        L.Concatenate()([L.Input((4, 3)), L.Input((5, 2))])
    with pytest.raises(ValueError):
        L.Subtract()([L.Input((4,)), L.Input((4,)), L.Input((4,))])


def test_dense_nd_embedding_simplernn_lstm_layout():
    dense = L.Dense(4)
    i3 = L.Input((5, 3))
    model = M.Model(i3, dense(i3))
    x3 = np.random.rand(2, 5, 3).astype("float32")
    W, b = dense.get_weights()
    np.testing.assert_allclose(model.predict(x3), x3 @ W + b, rtol=1e-5, atol=1e-6)
    emb = L.Embedding(5, 2, input_length=3)
    idx = np.array([[0, 1, 4], [2, 2, 3]])
    np.testing.assert_allclose(M.Sequential([emb]).predict(idx), emb.get_weights()[0][idx])
    assert np.abs(emb.get_weights()[0]).max() <= 0.05
    rnn = L.SimpleRNN(2)
    ir = L.Input((4, 3))
    mr = M.Model(ir, rnn(ir))
    W, U, bb = rnn.get_weights()
    xr = np.random.rand(2, 4, 3).astype("float32")
    h = np.zeros((2, 2))
    for t in range(4):
        h = np.tanh(xr[:, t] @ W + bb + h @ U)
    np.testing.assert_allclose(mr.predict(xr), h, rtol=1e-5, atol=1e-6)
    lstm = L.LSTM(2)
    lstm(L.Input((4, 3)))
    assert [tuple(w.shape) for w in lstm.weights] == [(3, 8), (2, 8), (8,)]
    np.testing.assert_array_equal(lstm.get_weights()[2], [0, 0, 1, 1, 0, 0, 0, 0])  # i, f, c, o blocks


def test_batch_normalization_train_inference_and_frozen():
    x = np.random.rand(6, 3).astype("float32") * 3
    model = M.Sequential([L.BatchNormalization(input_shape=(3,), momentum=0.9)])
    model.compile(O.SGD(lr=0.0), "mse")
    y = np.zeros((6, 3), "float32")
    loss = model.train_on_batch(x, y)
    mu, var, n = x.mean(0), x.var(0), 6
    assert loss == pytest.approx(np.mean((x - mu) ** 2 / (var + 1e-3)), rel=1e-4)  # batch statistics
    gamma, beta, mm, mv = model.get_weights()
    np.testing.assert_allclose(mm, 0.1 * mu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var * n / (n - (1 + 1e-3)), rtol=1e-4)
    np.testing.assert_allclose(model.predict(x), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-5)
    model.layers[0].trainable = False
    model.compile(O.SGD(lr=0.0), "mse")
    before = model.get_weights()
    model.train_on_batch(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_dense_is_not_trained_and_regularizer_losses():
    dense = L.Dense(2, input_shape=(3,), trainable=False)
    model = M.Sequential([dense])
    model.compile(O.SGD(lr=1.0), "mse")
    before = model.get_weights()
    model.train_on_batch(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2
    reg = L.Dense(2, kernel_regularizer="l2", activity_regularizer="l1")
    reg(L.Input((3,)))
    assert len(reg.losses) == 2


# =============================================================================================
# sections 4 and 5: losses and metrics against NumPy

def ev(fn, y, p, **kw):
    return K.eval(fn(K.constant(y), K.constant(p), **kw))


def test_losses_against_numpy():
    rng = np.random.default_rng(0)
    y = rng.random((5, 3)).astype("float32")
    p = rng.random((5, 3)).astype("float32") + 0.01
    tol = dict(rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ev(losses.mse, y, p), ((p - y) ** 2).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.mae, y, p), np.abs(p - y).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.mape, y, p), 100 * np.abs((y - p) / np.clip(np.abs(y), EPS, None)).mean(-1),
                               **tol)
    np.testing.assert_allclose(ev(losses.msle, y, p), ((np.log(p + 1) - np.log(y + 1)) ** 2).mean(-1), **tol)
    yc, pc = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    np.testing.assert_allclose(ev(losses.kld, y, p), (yc * np.log(yc / pc)).sum(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ev(losses.poisson, y, p), (p - y * np.log(p + EPS)).mean(-1), **tol)

    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    np.testing.assert_allclose(ev(losses.cosine_proximity, y, p), -(unit(y) * unit(p)).sum(-1), **tol)
    ys = np.sign(y - 0.5)
    np.testing.assert_allclose(ev(losses.hinge, ys, p), np.maximum(1 - ys * p, 0).mean(-1), **tol)
    np.testing.assert_allclose(ev(losses.squared_hinge, ys, p), (np.maximum(1 - ys * p, 0) ** 2).mean(-1), **tol)
    oh = np.eye(3, dtype="float32")[[0, 1, 2, 1, 0]]
    np.testing.assert_allclose(ev(losses.categorical_hinge, oh, p),
                               np.maximum(0, ((1 - oh) * p).max(-1) - (oh * p).sum(-1) + 1), **tol)
    np.testing.assert_allclose(ev(losses.logcosh, y, p), np.log(np.cosh(p - y)).mean(-1), **tol)
    pn = p / p.sum(-1, keepdims=True)
    np.testing.assert_allclose(ev(losses.categorical_crossentropy, oh, p), -(oh * np.log(pn)).sum(-1), **tol)
    labels = np.array([0, 1, 2, 1, 0], "float32")
    pt = np.clip(p, EPS, 1 - EPS)  # clipped first, then renormalised (TF's softmax of log p)
    np.testing.assert_allclose(ev(losses.sparse_categorical_crossentropy, labels, p),
                               -np.log(pt[np.arange(5), labels.astype(int)] / pt.sum(-1)), **tol)
    yb, pb = np.round(y), np.clip(p, EPS, 1 - EPS)
    np.testing.assert_allclose(ev(losses.binary_crossentropy, yb, pb),
                               -(yb * np.log(pb) + (1 - yb) * np.log(1 - pb)).mean(-1), **tol)


def test_metrics_against_numpy():
    rng = np.random.default_rng(1)
    p = rng.random((6, 4)).astype("float32")
    labels = np.array([0, 1, 2, 3, 1, 0])
    oh = np.eye(4, dtype="float32")[labels]
    yb = (rng.random((6, 1)) > 0.5).astype("float32")
    np.testing.assert_allclose(ev(metrics.binary_accuracy, yb, p[:, :1]), (yb == np.round(p[:, :1])).mean(-1))
    np.testing.assert_allclose(ev(metrics.categorical_accuracy, oh, p), labels == p.argmax(-1))
    np.testing.assert_allclose(ev(metrics.sparse_categorical_accuracy, labels[:, None].astype("float32"), p),
                               labels == p.argmax(-1))
    top2 = np.array([labels[i] in np.argsort(-p[i])[:2] for i in range(6)], "float32")
    assert np.mean(ev(metrics.top_k_categorical_accuracy, oh, p, k=2)) == pytest.approx(top2.mean())
    assert np.mean(ev(metrics.sparse_top_k_categorical_accuracy, labels[:, None].astype("float32"), p, k=2)) == \
        pytest.approx(top2.mean())
    assert defaults(metrics.top_k_categorical_accuracy)["k"] == 5

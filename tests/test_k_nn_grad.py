"""Conformance of K's dropout with Keras 2 semantics, and the gradients of K's neural-network ops
against central finite differences in float64: at saturated inputs too, with parameter shape
errors and dropout's gradient; float16 honoured by the nn ops.
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R
from k_helpers import check_grad

from k_nn_helpers import ACTIVATIONS, RELU_CASES, _away_from, _onehot, _r, _raises_value_error

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture
def f64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


# =============================================================================================
# dropout


@pytest.mark.parametrize("level", [0.1, 0.3, 0.5])
def test_dropout_scales_kept_values_and_keeps_mean(level):
    x = np.ones((100, 100), "float32")
    y = K.eval(K.dropout(K.variable(x), level))
    assert y.shape == x.shape
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - level), rtol=1e-6)
    assert abs(kept.mean() - (1 - level)) < 0.05
    assert abs(y.mean() - 1.0) < 0.05


def test_dropout_keyword_call_and_values():
    x = _r((100, 100), 60, 0.5, 1.5)
    y = K.eval(K.dropout(x=K.variable(x), level=0.25, noise_shape=None, seed=None))
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=1e-6)
    assert abs(y.mean() - x.mean()) < 0.05


def test_dropout_noise_shape_shares_mask_along_axis_1():
    x = np.ones((100, 20), "float32")
    y = K.eval(K.dropout(K.variable(x), 0.5, noise_shape=(100, 1), seed=3))
    rows_zero = (y == 0).all(axis=1)
    rows_kept = np.isclose(y, 2.0).all(axis=1)
    assert np.all(rows_zero | rows_kept)
    assert 20 < rows_kept.sum() < 80


def test_dropout_noise_shape_placeholder():
    x = np.ones((50, 4, 6), "float32")
    p = K.placeholder(shape=(None, 4, 6))
    y = K.dropout(p, 0.4, noise_shape=(50, 1, 6), seed=5)
    val = K.function([p], [y])([x])[0]
    assert val.shape == x.shape
    # the mask is shared along axis 1
    assert np.all(val == val[:, :1, :])
    kept = val != 0
    np.testing.assert_allclose(val[kept], 1 / 0.6, rtol=1e-6)
    assert 0 < kept.sum() < val.size


@pytest.mark.parametrize("level", [-0.5, 1.0, 1.5])
def test_dropout_bad_level_raises(level):
    x = K.variable(np.ones((3, 3), "float32"))
    _raises_value_error(lambda: K.dropout(x, level))


def test_dropout_same_seed_same_mask_in_separate_functions():
    x = np.ones((40, 30), "float32")
    p1 = K.placeholder(shape=(None, 30))
    f1 = K.function([p1], [K.dropout(p1, 0.5, seed=1234)])
    p2 = K.placeholder(shape=(None, 30))
    f2 = K.function([p2], [K.dropout(p2, 0.5, seed=1234)])
    m1, m2 = f1([x])[0], f2([x])[0]
    np.testing.assert_array_equal(m1, m2)
    assert 0 < (m1 == 0).sum() < m1.size


def test_dropout_int_shape():
    p = K.placeholder(shape=(None, 7))
    assert tuple(K.int_shape(K.dropout(p, 0.5))) == (None, 7)


# =============================================================================================
# gradients against finite differences (float64)


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [((3, 4), (4,), "channels_last"),
                                  ((2, 3, 4), (4,), "channels_last"),
                                  ((2, 4, 3, 2), (4,), "channels_first"),
                                  ((2, 3, 5), (5, 3), "channels_first"),
                                  ((2, 3, 2, 2), (3, 2, 2), "channels_last")], ids=str)
def test_bias_add_gradient(case):
    xs, bs, df = case
    check_grad(lambda a, b: K.bias_add(a, b, data_format=df),
               [_r(xs, 70, dtype="float64"), _r(bs, 71, dtype="float64")])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("xs,axis,pshape", [((3, 2, 4), -1, (4,)), ((2, 3, 2, 2), 1, (3,)),
                                            ((2, 3, 2), 1, (1, 3, 1))], ids=str)
def test_batch_normalization_gradient(xs, axis, pshape):
    arrays = [_r(xs, 72, -2, 2, "float64"), _r(pshape, 73, dtype="float64"),
              _r(pshape, 74, 0.3, 2.0, "float64"), _r(pshape, 75, dtype="float64"),
              _r(pshape, 76, 0.5, 1.5, "float64")]
    check_grad(lambda a, m, v, b, g: K.batch_normalization(a, m, v, b, g, axis=axis), arrays)


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("xs,axes", [((4, 3), [0]), ((2, 2, 3, 2), [0, 1, 2]),
                                     ((2, 2, 3, 2), [0, 2, 3]), ((3, 2, 2), [0]),
                                     ((3, 2, 2), [0, 1])], ids=str)
def test_normalize_batch_in_training_gradient(xs, axes):
    kept = tuple(d for i, d in enumerate(xs) if i not in axes)
    arrays = [_r(xs, 77, -2, 2, "float64"), _r(kept, 78, 0.5, 1.5, "float64"),
              _r(kept, 79, dtype="float64")]

    def build(x, g, b):
        normed, mean, var = K.normalize_batch_in_training(x, g, b, axes, epsilon=1e-3)
        return K.concatenate([K.flatten(normed), K.flatten(mean), K.flatten(var)])
    check_grad(build, arrays)


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("alpha,max_value,threshold", RELU_CASES)
def test_relu_gradient(alpha, max_value, threshold):
    kinks = [0.0, threshold] + ([] if max_value is None else [max_value])
    x = _away_from(_r((4, 5), 80, -5, 11, "float64"), kinks)
    check_grad(lambda a: K.relu(a, alpha=alpha, max_value=max_value, threshold=threshold), [x])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient(name):
    kfn, _ = ACTIVATIONS[name]
    x = _away_from(_r((3, 4), 81, -3.5, 3.5, "float64"), [0.0, -2.5, 2.5])
    check_grad(kfn, [x])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((2, 3, 4), 1), ((2, 2, 3, 2), 2)])
def test_softmax_gradient(shape, axis):
    check_grad(lambda a: K.softmax(a, axis=axis), [_r(shape, 82, -2, 2, "float64")])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_gradient(from_logits):
    t = _onehot(4, 3, 83).astype("float64")
    t[0] = [0.2, 0.5, 0.3]
    o = _r((4, 3), 84, -2, 2, "float64") if from_logits else _r((4, 3), 84, 0.1, 0.9, "float64")
    tk = K.constant(t, dtype="float64")
    check_grad(lambda b: K.categorical_crossentropy(tk, b, from_logits=from_logits), [o])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("oshape", [(5, 4), (2, 3, 4)])
def test_sparse_categorical_crossentropy_gradient(from_logits, oshape):
    idx = np.random.default_rng(85).integers(0, 4, size=oshape[:-1]).astype("int32")
    o = _r(oshape, 86, -2, 2, "float64") if from_logits else _r(oshape, 86, 0.1, 0.9, "float64")
    tk = K.constant(idx, dtype="int32")
    check_grad(lambda b: K.sparse_categorical_crossentropy(tk, b, from_logits=from_logits), [o])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_gradient(from_logits):
    t = (np.random.default_rng(87).random((4, 3)) < 0.5).astype("float64")
    t[0] = [0.3, 0.6, 0.5]
    o = _r((4, 3), 88, -3, 3, "float64") if from_logits else _r((4, 3), 88, 0.05, 0.95, "float64")
    tk = K.constant(t, dtype="float64")
    check_grad(lambda b: K.binary_crossentropy(tk, b, from_logits=from_logits), [o])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("shape,axis", [((3, 4), None), ((3, 4), 1), ((3, 4), 0),
                                        ((2, 3, 2), -1)])
def test_l2_normalize_gradient(shape, axis):
    check_grad(lambda a: K.l2_normalize(a, axis=axis), [_r(shape, 89, -2, 2, "float64")])


# =============================================================================================
# gaps: gradients at saturated inputs, parameter shape errors, dropout's gradient


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_at_saturated_inputs_are_finite_and_right(dtype):
    K.set_floatx(dtype)
    z = np.array([[1e4, -1e4, -1e4, 1e4, 30.0, -30.0]], dtype)
    t = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 0.5]], dtype)
    zv = K.variable(z, dtype=dtype)
    z64 = z.astype(np.float64)
    sig = np.where(z64 >= 0, 1 / (1 + np.exp(-np.abs(z64))), np.exp(-np.abs(z64)) / (1 + np.exp(-np.abs(z64))))
    e = np.exp(z64 - z64.max())
    sm = e / e.sum()
    tn = t / t.sum()
    cases = {
        # d/dz of the stable logits forms: sigmoid(z) - t, softmax(z) - t
        "bce_logits": (lambda v: K.binary_crossentropy(K.constant(t, dtype=dtype), v, from_logits=True), sig - t),
        "cce_logits": (lambda v: K.categorical_crossentropy(K.constant(tn, dtype=dtype), v, from_logits=True),
                       sm - tn),
        "scce_logits": (lambda v: K.sparse_categorical_crossentropy(K.constant(np.array([1])), v, from_logits=True),
                        sm - np.eye(6)[[1]]),
        "sigmoid": (K.sigmoid, sig * (1 - sig)),
        "softplus": (K.softplus, sig),
        "tanh": (K.tanh, 1 - np.tanh(z64) ** 2),
        "elu": (K.elu, np.where(z64 > 0, 1.0, np.exp(np.minimum(z64, 0)))),
        "softsign": (K.softsign, 1 / (1 + np.abs(z64)) ** 2),
        "logsumexp": (lambda v: K.logsumexp(v, axis=-1), sm),
        # probabilities from saturated logits: clipped, so finite (values only)
        "cce_probs": (lambda v: K.categorical_crossentropy(K.constant(tn, dtype=dtype), K.softmax(v)), None),
        "bce_probs": (lambda v: K.binary_crossentropy(K.constant(t, dtype=dtype), K.sigmoid(v)), None),
    }
    for name, (f, want) in cases.items():
        y = f(zv)
        g = K.gradients(K.sum(y), [zv])[0]
        yv, gv = K.batch_get_value([y, g])
        assert np.all(np.isfinite(yv)) and np.all(np.isfinite(gv)), (name, yv, gv)
        if want is not None:
            np.testing.assert_allclose(gv, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_batch_norm_parameter_shape_errors_are_raised_when_built():
    x = K.placeholder(shape=(None, 4, 3))
    with pytest.raises(ValueError, match="batch_normalization: mean"):
        K.batch_normalization(x, np.zeros(5), 1.0, None, None, axis=-1)
    with pytest.raises(ValueError, match="batch_normalization: gamma"):
        K.batch_normalization(x, 0.0, 1.0, None, np.ones((1, 2, 3)), axis=-1)
    with pytest.raises(ValueError, match="normalize_batch_in_training: beta"):
        K.normalize_batch_in_training(x, None, np.zeros(4), [0, 1])
    with pytest.raises(ValueError, match="normalize_batch_in_training: gamma"):
        K.normalize_batch_in_training(x, np.ones((4, 3)), None, [0, 1])
    # the shape of the kept axes, a keepdims shape and None are all accepted
    K.normalize_batch_in_training(x, np.ones(3), np.zeros((1, 1, 3)), [0, 1])
    K.normalize_batch_in_training(x, np.ones((4, 3)), None, [0])


def test_dropout_gradient_is_the_scaled_mask():
    xv = np.random.default_rng(5).uniform(0.5, 1.5, (30, 20))
    x = K.variable(xv, dtype="float64")
    y = K.dropout(x, 0.25, seed=9)
    yv, gv = K.function([], [y, K.gradients(K.sum(y), [x])[0]])([])
    kept = yv != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(yv[kept], xv[kept] / 0.75, rtol=1e-12)
    np.testing.assert_allclose(gv, np.where(kept, 1 / 0.75, 0.0), rtol=1e-12)


def test_float16_is_honoured_by_nn_ops():
    """floatx float16: conv, pooling, batch norm, activations and losses compute and return
    float16 (Numba has no float16 kernels: those run as NumPy primitives)."""
    K.set_floatx("float16")
    rng = np.random.default_rng(16)
    x = rng.uniform(-1, 1, (2, 5, 5, 3)).astype("float16")
    k = rng.uniform(-1, 1, (3, 3, 3, 4)).astype("float16")
    xv, kv = K.variable(x), K.variable(k)
    x64 = x.astype(np.float64)
    y = K.relu(K.conv2d(xv, kv, padding="same"))
    p = K.pool2d(y, (2, 2), (2, 2), padding="same", pool_mode="avg")
    normed, mean, var = K.normalize_batch_in_training(p, None, None, [0, 1, 2])
    loss = K.mean(K.categorical_crossentropy(K.constant(np.eye(4)[np.arange(18) % 4], dtype="float16"),
                                             K.softmax(K.reshape(normed, (-1, 4)))))
    gk = K.gradients(loss, [kv])[0]
    vals = K.batch_get_value([y, p, normed, loss, gk])
    assert all(v.dtype == np.float16 for v in vals), [v.dtype for v in vals]
    y_ref = np.maximum(R.conv2d(x64, k.astype(np.float64), padding="same"), 0)
    np.testing.assert_allclose(vals[0], y_ref, rtol=1e-2, atol=1e-2)
    p_ref = R.pool2d(y_ref, (2, 2), (2, 2), "same", pool_mode="avg")
    np.testing.assert_allclose(vals[1], p_ref, rtol=1e-2, atol=1e-2)
    n_ref, _, _ = R.normalize_batch_in_training(vals[1].astype(np.float64), None, None, [0, 1, 2])
    np.testing.assert_allclose(vals[2], n_ref, rtol=2e-2, atol=2e-2)
    assert np.all(np.isfinite(vals[4]))

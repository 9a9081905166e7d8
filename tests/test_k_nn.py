"""Conformance of K's neural-network ops (activations, bias, batch norm, losses, l2_normalize,
in_top_k, one_hot) with Keras 2 semantics; dropout and the gradients of these ops:
tests/test_k_nn_grad.py.

Values are compared with the independent references in tests/nn_reference.py (never with
keraslite internals). Each op is checked through variables and through placeholders with an
unknown (None) batch axis, and K.int_shape of the result must equal the evaluated shape (None
exactly where the batch is unknown).
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R

from k_nn_helpers import (ACTIVATIONS, ATOL, RELU_CASES, RTOL, _onehot, _r, _raises_value_error,
                          check)

pytestmark = pytest.mark.usefixtures("kbackend")


# =============================================================================================
# bias_add


BIAS_CASES = [
    # (x shape, bias shape, data_format)
    ((3, 4), (4,), "channels_last"),
    ((3, 4), (4,), "channels_first"),        # rank 2: the bias always goes on the last axis
    ((3, 5, 4), (4,), "channels_last"),
    ((3, 4, 5), (4,), "channels_first"),
    ((2, 3, 5, 4), (4,), "channels_last"),
    ((2, 4, 3, 5), (4,), "channels_first"),
    ((2, 3, 2, 5, 4), (4,), "channels_last"),
    ((2, 4, 3, 2, 5), (4,), "channels_first"),
    ((3, 10, 6), (10, 6), "channels_last"),
    ((3, 6, 10), (10, 6), "channels_first"),   # bias (10, 6) reshaped (not transposed) to (6, 10)
    ((2, 3, 4, 5), (3, 4, 5), "channels_last"),
    ((2, 5, 3, 4), (3, 4, 5), "channels_first"),
    ((2, 2, 3, 4, 5), (2, 3, 4, 5), "channels_last"),
    ((2, 5, 2, 3, 4), (2, 3, 4, 5), "channels_first"),
]


@pytest.mark.parametrize("case", BIAS_CASES, ids=str)
def test_bias_add(case):
    xs, bs, df = case
    x, b = _r(xs, 1), _r(bs, 2)
    want = R.bias_add(x, b, df)
    check(lambda a, c: K.bias_add(a, c, data_format=df), want, [x, b], none_axes=[(0,), ()])


def test_bias_add_channels_first_multidim_is_a_reshape_not_a_transpose():
    x = np.zeros((1, 2, 3), "float32")
    b = np.arange(6, dtype="float32").reshape(3, 2)
    y = K.eval(K.bias_add(K.variable(x), K.variable(b), data_format="channels_first"))
    np.testing.assert_array_equal(y[0], b.reshape(2, 3))


def test_bias_add_default_data_format_follows_config():
    K.set_image_data_format("channels_first")
    x, b = _r((2, 4, 3, 3), 3), _r((4,), 4)
    check(lambda a, c: K.bias_add(a, c), R.bias_add(x, b, "channels_first"), [x, b],
          none_axes=[(0,), ()])


@pytest.mark.parametrize("xs,bs", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4, 5), (4, 5)),
                                   ((2, 3, 4, 5), (2, 3, 4, 5)), ((2, 3, 4), ())])
def test_bias_add_bad_bias_rank_raises(xs, bs):
    x, b = K.variable(_r(xs)), K.variable(_r(bs))
    _raises_value_error(lambda: K.bias_add(x, b))


def test_bias_add_bad_data_format_raises():
    x, b = K.variable(_r((2, 3, 4))), K.variable(_r((4,)))
    _raises_value_error(lambda: K.bias_add(x, b, data_format="channels_middle"))


# =============================================================================================
# batch_normalization, normalize_batch_in_training


@pytest.mark.parametrize("xs,axis,pshape", [
    ((3, 2, 4, 5), -1, (5,)),
    ((3, 2, 4, 5), 3, (5,)),
    ((3, 2, 4, 5), 1, (2,)),
    ((3, 2, 4), -1, (4,)),
    ((3, 2, 4), 1, (2,)),
    ((6, 4), -1, (4,)),
    ((3, 2, 4, 5), 1, (1, 2, 1, 1)),    # full-rank parameters (Keras' own test)
    ((3, 2, 4, 5), -1, (1, 1, 1, 5)),
    ((3, 2, 4), 1, (1, 2, 1)),
    ((3, 2, 4), -1, (1, 1, 4)),
], ids=str)
def test_batch_normalization(xs, axis, pshape):
    x = _r(xs, 5, -2, 2)
    mean, var = _r(pshape, 6), _r(pshape, 7, 0.1, 2.0)
    beta, gamma = _r(pshape, 8), _r(pshape, 9, 0.5, 1.5)
    want = R.batch_normalization(x, mean, var, beta, gamma, axis=axis, epsilon=1e-3)
    check(lambda a, m, v, b, g: K.batch_normalization(a, m, v, b, g, axis=axis, epsilon=1e-3),
          want, [x, mean, var, beta, gamma], none_axes=[(0,), (), (), (), ()])


def test_batch_normalization_scalar_mean_var_and_custom_epsilon():
    x = _r((4, 3), 10, -2, 2)
    # 0-d tensors
    want = R.batch_normalization(x, 0.5, 2.0, 0.25, 1.5, axis=-1, epsilon=0.001)
    check(lambda a, m, v, b, g: K.batch_normalization(a, m, v, b, g, axis=-1, epsilon=0.001),
          want, [x, np.float32(0.5), np.float32(2.0), np.float32(0.25), np.float32(1.5)],
          none_axes=[(0,), (), (), (), ()])
    # Python floats
    y = K.batch_normalization(K.variable(x), 0.5, 2.0, 0.25, 1.5, axis=-1, epsilon=0.1)
    np.testing.assert_allclose(K.eval(y), R.batch_normalization(x, 0.5, 2.0, 0.25, 1.5,
                                                                epsilon=0.1), rtol=RTOL, atol=ATOL)


def test_batch_normalization_beta_gamma_none():
    x = _r((3, 2, 4), 11, -2, 2)
    mean, var = _r((4,), 12), _r((4,), 13, 0.1, 2.0)
    y = K.batch_normalization(K.variable(x), K.variable(mean), K.variable(var), None, None)
    np.testing.assert_allclose(K.eval(y), R.batch_normalization(x, mean, var, None, None),
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("xs,axes", [
    ((4, 3), [0]),
    ((2, 3, 4, 5), [0, 1, 2]),
    ((2, 5, 3, 4), [0, 2, 3]),
    ((3, 4, 5), [0]),           # gamma/beta of shape (4, 5)
    ((3, 4, 5), [0, 1]),
    ((2, 3, 4, 5), [0, 1]),
    ((3, 4, 5), [0, 2]),
    ((5, 3), [0, 1]),
], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_normalize_batch_in_training(xs, axes, affine):
    x = _r(xs, 14, -2, 3)
    kept = tuple(d for i, d in enumerate(xs) if i not in axes)
    gamma, beta = _r(kept, 15, 0.5, 1.5), _r(kept, 16)
    normed, mean, var = R.normalize_batch_in_training(x, gamma if affine else None,
                                                      beta if affine else None, axes, 1e-3)
    arrays = [x, gamma, beta] if affine else [x]
    none_axes = [(0,), (), ()] if affine else [(0,)]
    # the batch axis is reduced, so every output has a fully known shape
    for i, want in enumerate((normed, mean, var)):
        def fn(*ts, i=i):
            g, b = (ts[1], ts[2]) if affine else (None, None)
            return K.normalize_batch_in_training(ts[0], g, b, axes, epsilon=1e-3)[i]
        check(fn, want, arrays, none_axes=none_axes, static_none=(0,) if i == 0 else ())


def test_normalize_batch_in_training_returns_three_and_biased_variance():
    x = np.array([[1.0, 10.0], [3.0, 20.0]], "float32")
    out = K.normalize_batch_in_training(K.variable(x), None, None, [0], epsilon=1e-3)
    assert isinstance(out, (tuple, list)) and len(out) == 3
    normed, mean, var = (K.eval(t) for t in out)
    np.testing.assert_allclose(mean, [2.0, 15.0], rtol=1e-6)
    np.testing.assert_allclose(var, [1.0, 25.0], rtol=1e-6)       # not 2 and 50
    np.testing.assert_allclose(normed, [[-1 / np.sqrt(1.001), -5 / np.sqrt(25.001)],
                                        [1 / np.sqrt(1.001), 5 / np.sqrt(25.001)]], rtol=1e-5)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_normalize_batch_in_training_int_reduction_axes(axis):
    """The tutorial passes reduction_axes=-1 (an int); it is accepted as [axis]."""
    x = _r((3, 4), 17, -2, 2)
    got = K.normalize_batch_in_training(K.variable(x), None, None, reduction_axes=axis,
                                        epsilon=0.001)
    want = R.normalize_batch_in_training(x, None, None, [axis], 0.001)
    for g, w in zip(got, want):
        np.testing.assert_allclose(K.eval(g), w, rtol=RTOL, atol=ATOL)


# =============================================================================================
# activations


@pytest.mark.parametrize("alpha,max_value,threshold", RELU_CASES)
def test_relu(alpha, max_value, threshold):
    x = _r((6, 5), 20, -5.0, 11.0)
    x[0, :4] = [0.0, -1.0, 6.0, 10.5]
    want = R.relu(x, alpha, max_value, threshold)
    check(lambda a: K.relu(a, alpha=alpha, max_value=max_value, threshold=threshold), want, [x])


def test_relu_keyword_call_and_defaults():
    x = _r((3, 4), 21, -2, 2)
    np.testing.assert_allclose(K.eval(K.relu(x=K.variable(x), alpha=0.0, max_value=None)),
                               np.maximum(x, 0), rtol=1e-6)
    np.testing.assert_allclose(K.eval(K.relu(K.variable(x))), np.maximum(x, 0), rtol=1e-6)
    np.testing.assert_allclose(K.eval(K.relu(K.variable(x), 0.3)),
                               np.where(x > 0, x, 0.3 * x), rtol=1e-6)


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name, shape):
    kfn, ref = ACTIVATIONS[name]
    x = _r(shape, 22, -4.0, 4.0)
    check(kfn, ref(x), [x])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_extreme_inputs_are_finite_and_right(name):
    kfn, ref = ACTIVATIONS[name]
    x = np.array([-100.0, -30.0, -2.5, 0.0, 2.5, 30.0, 100.0], "float32")
    val = K.eval(kfn(K.variable(x)))
    assert np.all(np.isfinite(val)), f"{name}: {val}"
    np.testing.assert_allclose(val, ref(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((3, 4, 5), 1), ((2, 3, 4, 5), 2),
                                        ((3, 4, 5), -1), ((4, 5), 0)])
def test_softmax(shape, axis):
    x = _r(shape, 23, -3, 3)
    want = R.softmax(x, axis=axis)
    check(lambda a: K.softmax(a, axis=axis), want, [x])
    # shift invariance / no overflow for large inputs
    big = K.eval(K.softmax(K.variable(x + 1000.0), axis=axis))
    np.testing.assert_allclose(big, want, rtol=1e-4, atol=1e-6)


def test_softmax_default_axis_on_3d_variable():
    x = _r((2, 3, 4), 24, -3, 3)
    np.testing.assert_allclose(K.eval(K.softmax(K.variable(x))), R.softmax(x), rtol=RTOL,
                               atol=ATOL)


# =============================================================================================
# cross-entropies


def _probs(shape, seed, axis=-1):
    p = _r(shape, seed, 0.05, 1.0)
    return p  # deliberately not normalised: categorical CE rescales


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy(from_logits):
    t = _onehot(5, 4, 30)
    t[0] = [0.2, 0.3, 0.5, 0.0]   # soft target
    o = _r((5, 4), 31, -3, 3) if from_logits else _probs((5, 4), 31)
    want = R.categorical_crossentropy(t, o, from_logits)
    check(lambda a, b: K.categorical_crossentropy(a, b, from_logits=from_logits), want, [t, o],
          dtype="float32")


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_axis(from_logits):
    # classes on axis 1 of a 3-D output
    idx = np.random.default_rng(32).integers(0, 3, size=(4, 5))
    t = np.moveaxis(np.eye(3, dtype="float32")[idx], -1, 1)       # (4, 3, 5)
    o = _r((4, 3, 5), 33, -2, 2) if from_logits else _probs((4, 3, 5), 33)
    want = R.categorical_crossentropy(t, o, from_logits, axis=1)
    check(lambda a, b: K.categorical_crossentropy(a, b, from_logits=from_logits, axis=1), want,
          [t, o], dtype="float32")
    # keyword call, default axis on 3-D
    o2 = np.moveaxis(o, 1, -1)
    t2 = np.moveaxis(t, 1, -1)
    y = K.categorical_crossentropy(target=K.variable(t2), output=K.variable(o2),
                                   from_logits=from_logits, axis=-1)
    np.testing.assert_allclose(K.eval(y), want, rtol=RTOL, atol=ATOL)


def test_categorical_crossentropy_bad_axis_raises():
    t, o = K.variable(_onehot(3, 4, 34)), K.variable(_probs((3, 4), 35))
    _raises_value_error(lambda: K.categorical_crossentropy(t, o, axis=3))


@pytest.mark.parametrize("target_shape", ["(N,)", "(N,1)", "(N,) float"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy(from_logits, target_shape):
    idx = np.random.default_rng(36).integers(0, 4, size=6)
    t = {"(N,)": idx.astype("int32"), "(N,1)": idx.reshape(6, 1).astype("int32"),
         "(N,) float": idx.astype("float32")}[target_shape]
    o = _r((6, 4), 37, -3, 3) if from_logits else _probs((6, 4), 37)
    want = R.sparse_categorical_crossentropy(t, o, from_logits)
    check(lambda a, b: K.sparse_categorical_crossentropy(a, b, from_logits=from_logits), want,
          [t, o], dtype="float32")


@pytest.mark.parametrize("target_rank", [2, 3])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_3d(from_logits, target_rank):
    idx = np.random.default_rng(38).integers(0, 5, size=(3, 4))
    t = (idx if target_rank == 2 else idx[..., None]).astype("int32")
    o = _r((3, 4, 5), 39, -3, 3) if from_logits else _probs((3, 4, 5), 39)
    want = R.sparse_categorical_crossentropy(t, o, from_logits)
    check(lambda a, b: K.sparse_categorical_crossentropy(a, b, from_logits=from_logits), want,
          [t, o], dtype="float32")


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy(from_logits):
    t = (np.random.default_rng(40).random((5, 3)) < 0.5).astype("float32")
    t[0] = [0.3, 0.7, 0.5]   # soft targets
    o = _r((5, 3), 41, -4, 4) if from_logits else _r((5, 3), 41, 0.02, 0.98)
    want = R.binary_crossentropy(t, o, from_logits)
    check(lambda a, b: K.binary_crossentropy(a, b, from_logits=from_logits), want, [t, o])


# saturated inputs: finite results equal to the clipped formula

SAT_P_T = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.3, 0.7, 0.0]])
SAT_P_O = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 1.0, 0.0]])
SAT_L_O = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [0.0, 1e4, -1e4]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_saturated(from_logits, dtype):
    K.set_floatx(dtype)
    t = SAT_P_T.astype(dtype)
    o = (SAT_L_O if from_logits else SAT_P_O).astype(dtype)
    want = R.categorical_crossentropy(t, o, from_logits, dtype=dtype)
    got = K.eval(K.categorical_crossentropy(K.variable(t, dtype=dtype), K.variable(o, dtype=dtype),
                                            from_logits=from_logits))
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_categorical_crossentropy_saturated(from_logits, dtype):
    K.set_floatx(dtype)
    t = np.array([0, 1, 2, 2], "int32")
    o = (SAT_L_O if from_logits else SAT_P_O).astype(dtype)
    want = R.sparse_categorical_crossentropy(t, o, from_logits, dtype=dtype)
    got = K.eval(K.sparse_categorical_crossentropy(K.variable(t, dtype="int32"),
                                                   K.variable(o, dtype=dtype),
                                                   from_logits=from_logits))
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy_saturated(from_logits, dtype):
    K.set_floatx(dtype)
    t = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 0.5]], dtype)
    o = (np.array([[1e4, -1e4, -1e4, 1e4, 1e4, -1e4]]) if from_logits
         else np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0]])).astype(dtype)
    want = R.binary_crossentropy(t, o, from_logits, dtype=dtype)
    got = K.eval(K.binary_crossentropy(K.variable(t, dtype=dtype), K.variable(o, dtype=dtype),
                                       from_logits=from_logits))
    assert np.all(np.isfinite(got)), got
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


# =============================================================================================
# l2_normalize, in_top_k, one_hot


@pytest.mark.parametrize("shape,axis", [((3, 4), None), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                                        ((2, 3, 4), 1), ((2, 3, 4), None), ((5,), None)])
def test_l2_normalize(shape, axis):
    x = _r(shape, 50, -2, 2)
    want = R.l2_normalize(x, axis)
    check(lambda a: K.l2_normalize(a, axis=axis), want, [x])


def test_l2_normalize_zero_rows_are_zero_and_keyword_call():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], "float32")
    y = K.eval(K.l2_normalize(x=K.variable(x), axis=1))
    np.testing.assert_allclose(y, [[0, 0, 0], [0.6, 0.8, 0]], rtol=1e-6)
    y = K.eval(K.l2_normalize(x=K.variable(x), axis=None))
    np.testing.assert_allclose(y, x / 5.0, rtol=1e-6)


IN_TOP_K_PRED = np.array([
    [0.1, 0.5, 0.2, 0.9, 0.3],
    [1.0, 1.0, 1.0, 0.0, 0.0],      # three-way tie at the top
    [0.2, 0.2, 0.2, 0.2, 0.2],      # all tied
    [0.0, 3.0, 1.0, 1.0, 2.0],      # tie in the middle
    [5.0, np.nan, 1.0, 2.0, 3.0],   # NaN target score
    [np.inf, 1.0, 2.0, 3.0, 4.0],   # +inf target score
    [1.0, 2.0, -np.inf, 3.0, 0.0],  # -inf target score
    [4.0, 3.0, 2.0, 1.0, 0.0],
], "float32")
IN_TOP_K_TARGETS = np.array([3, 2, 4, 2, 1, 0, 2, 4])


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("tdtype", ["int32", "int64"])
def test_in_top_k(k, tdtype):
    p, t = IN_TOP_K_PRED, IN_TOP_K_TARGETS.astype(tdtype)
    want = R.in_top_k(p, t, k)
    check(lambda a, b: K.in_top_k(a, b, k), want, [p, t], none_axes=[(0,), (0,)], dtype=bool)


def test_in_top_k_tie_rule_explicit():
    p = K.variable(np.array([[1.0, 1.0, 1.0, 0.0]] * 4, "float32"))
    t = K.variable(np.array([0, 1, 2, 3]), dtype="int32")
    np.testing.assert_array_equal(K.eval(K.in_top_k(p, t, 1)), [True, True, True, False])
    np.testing.assert_array_equal(K.eval(K.in_top_k(predictions=p, targets=t, k=3)),
                                  [True, True, True, False])
    np.testing.assert_array_equal(K.eval(K.in_top_k(p, t, 4)), [True, True, True, True])
    np.testing.assert_array_equal(K.eval(K.in_top_k(p, t, 0)), [False] * 4)


def test_in_top_k_random_rows_many_ties():
    rng = np.random.default_rng(51)
    p = rng.integers(0, 3, size=(20, 7)).astype("float32")
    t = rng.integers(0, 7, size=20).astype("int32")
    for k in range(0, 8):
        got = K.eval(K.in_top_k(K.variable(p), K.variable(t, dtype="int32"), k))
        np.testing.assert_array_equal(got, R.in_top_k(p, t, k), err_msg=f"k={k}")


@pytest.mark.parametrize("shape,n", [((5,), 4), ((2, 3), 4), ((4, 1), 3)])
def test_one_hot(shape, n):
    idx = np.random.default_rng(52).integers(0, n, size=shape).astype("int32")
    want = R.one_hot(idx, n)
    check(lambda a: K.one_hot(a, n), want, [idx], dtype="float32")
    y = K.eval(K.one_hot(indices=K.variable(idx, dtype="int32"), num_classes=n))
    np.testing.assert_array_equal(y, want)

"""Conformance of K's neural-network ops (activations, bias, batch norm, losses, l2_normalize,
in_top_k, one_hot, dropout) with Keras 2 semantics.

Values are compared with the independent references in tests/nn_reference.py (never with
keraslite internals); gradients with central finite differences in float64. Each op is checked
through variables and through placeholders with an unknown (None) batch axis, and K.int_shape of
the result must equal the evaluated shape (None exactly where the batch is unknown).
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R
from k_helpers import check_grad, eval_modes

pytestmark = pytest.mark.usefixtures("kbackend")

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture
def f64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


def _r(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _away_from(x, points, margin=0.05):
    """Move entries of x within `margin` of a kink point away from it (FD stays on one side)."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + margin * np.where(x[close] >= p, 2.0, -2.0)
    return x


def check(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL, atol=ATOL,
          modes=("variable", "placeholder"), dtype="input"):
    """kfn(*tensors) == want in every mode; dtype follows the first input (or `dtype`); int_shape
    equals the evaluated shape, with None at `static_none` in placeholder mode."""
    want = np.asarray(want)
    dtype = np.asarray(arrays[0]).dtype if dtype == "input" else np.dtype(dtype)
    res = eval_modes(kfn, arrays, modes=modes, none_axes=none_axes)
    for mode, (val, static) in res.items():
        val = np.asarray(val)
        assert val.shape == want.shape, f"[{mode}] shape {val.shape} != {want.shape}"
        assert val.dtype == dtype, f"[{mode}] dtype {val.dtype} != {dtype}"
        if want.dtype == bool:
            np.testing.assert_array_equal(val, want, err_msg=f"[{mode}]")
        else:
            np.testing.assert_allclose(val.astype(np.float64), want, rtol=rtol, atol=atol,
                                       err_msg=f"[{mode}]")
        assert static is not None, f"[{mode}] int_shape is None"
        static = tuple(static)
        if mode == "placeholder":
            exp = tuple(None if i in static_none else d for i, d in enumerate(want.shape))
        else:
            exp = want.shape
        assert static == exp, f"[{mode}] int_shape {static} != {exp}"
    return res


def _raises_value_error(thunk):
    """The error may come when the op is built or when it is evaluated."""
    with pytest.raises(ValueError):
        K.eval(thunk())


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

RELU_CASES = [  # Keras' 11 combinations: (alpha, max_value, threshold)
    (0.0, None, 0.0), (0.1, None, 0.0), (0.0, 5.0, 0.0), (0.0, None, 0.8), (0.1, 5.0, 0.0),
    (0.1, None, 0.8), (0.0, 5.0, 0.8), (0.1, 5.0, 0.8), (0.1, 0.0, 0.8), (0.1, 5.0, -2.8),
    (0.1, 9.0, 0.8),
]


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


ACTIVATIONS = {
    "elu": (lambda t: K.elu(t), R.elu),
    "elu_alpha": (lambda t: K.elu(t, alpha=0.5), lambda x: R.elu(x, 0.5)),
    "selu": (lambda t: K.selu(t), R.selu),
    "softplus": (lambda t: K.softplus(t), R.softplus),
    "softsign": (lambda t: K.softsign(t), R.softsign),
    "sigmoid": (lambda t: K.sigmoid(t), R.sigmoid),
    "hard_sigmoid": (lambda t: K.hard_sigmoid(t), R.hard_sigmoid),
    "tanh": (lambda t: K.tanh(t), np.tanh),
}


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


def _onehot(n, c, seed):
    idx = np.random.default_rng(seed).integers(0, c, size=n)
    return np.eye(c, dtype="float32")[idx]


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

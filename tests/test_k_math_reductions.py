"""K surface, groups 7 and 8: reductions, cumulative ops, argmax/argmin, and elementwise chains
(what a fusing backend turns into one kernel) with non-contiguous and broadcast operands.
"""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close, check_op

from k_math_helpers import _data

pytestmark = pytest.mark.usefixtures("kbackend")


# ---------------------------------------------------------------------------------------------
# reductions


def _ax(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _lse(x, axis=None, keepdims=False):
    m = np.max(x, axis=_ax(axis), keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=_ax(axis), keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=_ax(axis)) if axis is not None else out.reshape(())
    return out


REDUCTIONS = {
    "max": (K.max, np.max, "float32"),
    "min": (K.min, np.min, "float32"),
    "sum": (K.sum, np.sum, "float32"),
    "prod": (K.prod, np.prod, "float32"),
    "mean": (K.mean, np.mean, "float32"),
    "var": (K.var, np.var, "float32"),
    "std": (K.std, np.std, "float32"),
    "any": (K.any, lambda x, axis=None, keepdims=False: np.any(x != 0, axis=axis, keepdims=keepdims), "bool"),
    "all": (K.all, lambda x, axis=None, keepdims=False: np.all(x != 0, axis=axis, keepdims=keepdims), "bool"),
    "logsumexp": (K.logsumexp, _lse, "float32"),
}

AXES_3D = [None, 0, 1, 2, -1, -2, [0, 2], (1, 2), [-1, 0], [0, 1, 2]]
AXES_1D = [None, 0, -1, [0]]


def _reduction_data(name, shape):
    rng = np.random.default_rng(len(shape))
    if name in ("any", "all"):
        x = (rng.random(shape) < 0.7).astype(np.float32) * rng.uniform(-2, 2, shape).astype(np.float32)
        x[0] = 1.0  # a slice of all non-zeros
        return x
    if name == "prod":
        return (rng.uniform(0.6, 1.4, shape) * np.where(rng.random(shape) < 0.3, -1, 1)).astype(np.float32)
    return rng.uniform(-2, 2, shape).astype(np.float32)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES_3D, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_3d(name, axis, keepdims):
    kfn, npfn, dt = REDUCTIONS[name]
    x = _reduction_data(name, (2, 3, 4))
    check_op(lambda t: kfn(t, axis=axis, keepdims=keepdims),
             lambda v: npfn(v, axis=_ax(axis), keepdims=keepdims), x, dtype=dt, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES_1D, ids=str)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_1d(name, axis, keepdims):
    kfn, npfn, dt = REDUCTIONS[name]
    x = _reduction_data(name, (6,))
    check_op(lambda t: kfn(t, axis=axis, keepdims=keepdims),
             lambda v: npfn(v, axis=_ax(axis), keepdims=keepdims), x, dtype=dt, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_defaults_reduce_everything(name):
    kfn, npfn, dt = REDUCTIONS[name]
    x = _reduction_data(name, (3, 4))
    res = check_op(kfn, lambda v: npfn(v), x, dtype=dt, rtol=2e-5, atol=2e-6)
    assert all(val.shape == () for val, _ in res.values())


def test_prod_with_zeros():
    x = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 2.0], [0.0, 0.0, 5.0]], np.float32)
    for axis in (None, 0, 1):
        check_op(lambda t: K.prod(t, axis=axis), lambda v: np.prod(v, axis=axis), x, dtype="float32")


def test_prod_of_list_of_scalar_tensors():
    x = K.placeholder(shape=(None, 3, None))
    n = K.prod([K.shape(x)[0], K.shape(x)[2]])
    out = K.function([x], [n])([np.zeros((4, 3, 5), np.float32)])[0]
    assert int(out) == 20


def test_mean_of_bool_is_floatx():
    x = np.array([[True, False, True, True]])
    res = check_op(lambda t: K.mean(t, axis=-1), lambda v: np.mean(v.astype(np.float32), axis=-1), x,
                   dtype="float32")
    assert_close(res["variable"][0], np.array([0.75], np.float32))


def test_integer_reductions_keep_dtype():
    a = np.array([[1, 5, 3], [4, 2, 6]], np.int32)
    check_op(lambda t: K.max(t, axis=1), lambda v: np.max(v, axis=1), a, dtype="int32")
    check_op(lambda t: K.min(t), lambda v: np.min(v), a, dtype="int32")
    # TF (and so Keras) keeps int32 for sums and products of int32 tensors
    check_op(lambda t: K.sum(t, axis=0), lambda v: np.sum(v, axis=0).astype(np.int32), a, dtype="int32")


@pytest.mark.parametrize("shape,axis", [((3,), None), ((1, 3), 1), ((2, 1), 0), ((4, 2), -1), ((4, 2), 0),
                                        ((4, 2, 3), 1), ((4, 2, 3), None), ((4, 2, 3), [0, 2])], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_shapes(shape, axis, keepdims):
    x = np.random.default_rng(0).uniform(-3, 3, shape).astype(np.float32)
    check_op(lambda t: K.logsumexp(t, axis=axis, keepdims=keepdims),
             lambda v: _lse(v, axis, keepdims), x, dtype="float32", rtol=2e-5)


def test_logsumexp_is_stable():
    x = np.array([1e4, 1e-4], np.float32)
    res = check_op(K.logsumexp, lambda v: np.float64(1e4), x, rtol=1e-5, atol=0, dtype="float32")
    for val, _ in res.values():
        assert np.isfinite(val)
    x2 = np.array([[-1e4, -1e4 + 1.0]], np.float32)
    check_op(lambda t: K.logsumexp(t, axis=1), lambda v: _lse(v, 1), x2, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# cumulative ops


@pytest.mark.parametrize("shape,axis", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1),
                                        ((2, 3, 4), -1), ((2, 3, 4), 0)], ids=str)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative(name, shape, axis):
    kfn, npfn = getattr(K, name), getattr(np, name)
    x = np.random.default_rng(1).uniform(0.5, 1.5, shape).astype(np.float32)
    x *= np.where(np.random.default_rng(2).random(shape) < 0.3, -1, 1).astype(np.float32)
    check_op(lambda t: kfn(t, axis=axis), lambda v: npfn(v, axis=axis), x, dtype="float32", rtol=2e-5)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_default_axis_is_0(name):
    kfn, npfn = getattr(K, name), getattr(np, name)
    x = np.random.default_rng(3).uniform(0.5, 1.5, (3, 4)).astype(np.float32)
    check_op(kfn, lambda v: npfn(v, axis=0), x, dtype="float32")


def test_cumprod_tutorial_keyword():
    v = K.variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert_close(K.eval(K.cumprod(v, axis=0)), np.array([[1.0, 2.0], [3.0, 8.0]], np.float32))


# ---------------------------------------------------------------------------------------------
# argmax / argmin


TIES = np.array([[1.0, 3.0, 3.0, 2.0],
                 [5.0, 5.0, 1.0, 0.0],
                 [0.0, 0.0, 0.0, 0.0],
                 [-1.0, -2.0, -2.0, 4.0]], np.float32)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_ties_take_first(name, axis):
    kfn, npfn = getattr(K, name), getattr(np, name)
    res = check_op(lambda t: kfn(t, axis=axis), lambda v: npfn(v, axis=axis), TIES, dtype="int64")
    assert res["variable"][0].shape == (4,)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_default_axis_last(name):
    kfn, npfn = getattr(K, name), getattr(np, name)
    x = np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32)
    check_op(kfn, lambda v: npfn(v, axis=-1), x, dtype="int64")
    check_op(lambda t: kfn(t, axis=1), lambda v: npfn(v, axis=1), x, dtype="int64")


# ---------------------------------------------------------------------------------------------
# elementwise chains (what a fusing backend turns into one kernel): non-contiguous operands,
# broadcasting inside the chain, shared subexpressions, several outputs, odd and larger shapes


CHAINS = {
    "bias_relu": (lambda x, b: K.maximum(x + b, 0.0) * 2.0 - 1.0,
                  lambda x, b: np.maximum(x + b, 0.0) * 2.0 - 1.0, "row"),
    "transposed": (lambda x, b: K.exp(K.transpose(x) * 0.5) + 1.0,
                   lambda x, b: np.exp(x.T * 0.5) + 1.0, "row"),
    "strided": (lambda x, b: x[:, ::2] * 3.0 - K.abs(x[:, ::2]),
                lambda x, b: x[:, ::2] * 3.0 - np.abs(x[:, ::2]), "row"),
    "reversed_plus_self": (lambda x, b: K.reverse(x, 0) * x + K.square(x),
                           lambda x, b: x[::-1] * x + x ** 2, "row"),
    "outer_broadcast": (lambda x, b: K.expand_dims(x[:, 0], 1) * K.expand_dims(b, 0) + 0.5,
                        lambda x, b: x[:, :1] * b[None, :] + 0.5, "row"),
    "shared_subexpr": (lambda x, b: K.exp(x * 0.1) * K.exp(x * 0.1) + K.exp(x * 0.1),
                       lambda x, b: np.exp(x * 0.1) ** 2 + np.exp(x * 0.1), "row"),
    "switch_in_chain": (lambda x, b: K.switch(K.greater(x, b), x * 2.0, K.sin(x)) + b,
                        lambda x, b: np.where(x > b, x * 2.0, np.sin(x)) + b, "row"),
    "clip_sqrt_log": (lambda x, b: K.log(K.clip(K.sqrt(K.abs(x)) + 1.0, 1.1, 3.0)),
                      lambda x, b: np.log(np.clip(np.sqrt(np.abs(x)) + 1.0, 1.1, 3.0)), "row"),
    "long_chain": (lambda x, b: ((((x + 1.0) * 0.5 - b) / 2.0 + K.cos(x)) * K.sign(x) - K.minimum(x, b)) ** 2,
                   lambda x, b: ((((x + 1.0) * 0.5 - b) / 2.0 + np.cos(x)) * np.sign(x) - np.minimum(x, b)) ** 2,
                   "row"),
    "bool_to_float": (lambda x, b: K.cast(K.greater_equal(x, 0.0), "float32") * x + K.cast(K.less(x, b), "float32"),
                      lambda x, b: (x >= 0).astype(np.float32) * x + (x < b).astype(np.float32), "row"),
    "scalar_operand_variable": (lambda x, b: x * K.sum(b) + K.mean(x),
                                lambda x, b: x * np.sum(b) + np.mean(x), "row"),
}


@pytest.mark.parametrize("shape", [(3, 5), (64, 33), (257, 129)], ids=str)
@pytest.mark.parametrize("name", sorted(CHAINS))
def test_elementwise_chain(name, shape):
    kfn, npfn, _ = CHAINS[name]
    x = _data(shape, 11)
    b = _data(shape[1:], 12)
    check_op(kfn, npfn, x, b, dtype="float32", rtol=2e-5, atol=2e-5, none_axes=[(0,), ()])


@pytest.mark.parametrize("shape", [(2, 3, 4), (7, 33, 65)], ids=str)
def test_elementwise_chain_3d_broadcast(shape):
    x = _data(shape, 13)
    g = _data((1, shape[1], 1), 14)
    h = _data((shape[2],), 15)
    check_op(lambda a, b, c: K.tanh(a * b + c) - a / (K.abs(c) + 1.0),
             lambda a, b, c: np.tanh(a * b + c) - a / (np.abs(c) + 1.0),
             x, g, h, dtype="float32", rtol=2e-5, atol=2e-5, none_axes=[(0,), (), ()])


def test_chain_with_several_outputs_sharing_intermediates():
    p = K.placeholder(shape=(None, 37))
    y = p * 2.0
    z = y + 1.0
    w = y * z
    f = K.function([p], [y, w, z - y, K.sum(w, axis=1)])
    a = _data((129, 37), 16)
    y_, w_, d_, s_ = f([a])
    a64 = a.astype(np.float64)
    assert_close(y_, a64 * 2, dtype="float32")
    assert_close(w_, a64 * 2 * (a64 * 2 + 1), rtol=2e-5, atol=2e-5)
    assert_close(d_, np.ones_like(a64))
    assert_close(s_, (a64 * 2 * (a64 * 2 + 1)).sum(axis=1), rtol=1e-4, atol=1e-4)


NON_CONTIGUOUS_REDUCTIONS = {
    "sum_transposed": (lambda t: K.sum(K.transpose(t), axis=1), lambda v: v.T.sum(axis=1)),
    "max_reversed": (lambda t: K.max(t[:, ::-1], axis=0), lambda v: v[:, ::-1].max(axis=0)),
    "mean_strided": (lambda t: K.mean(t[::2, 1::3], axis=-1), lambda v: v[::2, 1::3].mean(axis=-1)),
    "logsumexp_of_chain": (lambda t: K.logsumexp(t * 2.0 - 1.0, axis=1), lambda v: _lse(v * 2.0 - 1.0, 1)),
    "var_of_permuted": (lambda t: K.var(K.permute_dimensions(K.reshape(t, (-1, 5, 3)), (0, 2, 1)), axis=1),
                        lambda v: np.var(np.transpose(v.reshape(-1, 5, 3), (0, 2, 1)), axis=1)),
}


@pytest.mark.parametrize("name", sorted(NON_CONTIGUOUS_REDUCTIONS))
def test_reductions_of_non_contiguous_operands(name):
    kfn, npfn = NON_CONTIGUOUS_REDUCTIONS[name]
    x = _data((66, 15), 17)
    check_op(kfn, npfn, x, dtype="float32", rtol=2e-5, atol=2e-5)


def test_float64_variable_with_python_scalars_stays_float64():
    v = K.variable(np.array([1.0, 2.0]), dtype="float64")
    out = v * 2.0 + 1 - 0.5
    assert K.dtype(out) == "float64"
    assert_close(K.eval(out), np.array([2.5, 4.5]), dtype="float64")
    assert K.dtype(K.exp(v)) == "float64"
    assert K.dtype(K.sum(v)) == "float64"

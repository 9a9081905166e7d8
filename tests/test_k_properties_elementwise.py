"""Property-based tests of the elementwise K functions: unary math and activations, broadcasting
binary ops and comparisons, clip, switch, cast and the *_like constructors.

Each example draws a shape (size-0 and size-1 axes included), a float dtype and values; the
result must have NumPy's shape, the input's dtype (bool for comparisons) and the value of a NumPy
formula written here, computed in float64 (see k_props.py for tolerances and the kernel path).
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import broadcast_pair, float_dtype, run, seed, shapes, values  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1.0))


# name -> (K function, NumPy formula, value options)
UNARY = {
    "abs": (K.abs, np.abs, {}),
    "neg": (lambda t: -t, np.negative, {}),
    "square": (K.square, lambda x: x * x, {}),
    "sqrt": (K.sqrt, lambda x: np.sqrt(np.maximum(x, 0.0)), {"specials": (0.0,)}),
    "exp": (K.exp, np.exp, {}),
    "log": (K.log, np.log, {"specials": (0.0, 1.0)}),
    "round": (K.round, np.round, {"grid": True}),
    "sign": (K.sign, np.sign, {"grid": True}),
    "sin": (K.sin, np.sin, {}),
    "cos": (K.cos, np.cos, {}),
    "tanh": (K.tanh, np.tanh, {"wide": True}),
    "sigmoid": (K.sigmoid, _sigmoid, {"wide": True}),
    "softplus": (K.softplus, lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0), {"wide": True}),
    "softsign": (K.softsign, lambda x: x / (1.0 + np.abs(x)), {}),
    "hard_sigmoid": (K.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0), {"grid": True}),
    "elu": (K.elu, lambda x: _elu(x, 1.0), {"wide": True}),
    "elu_alpha": (lambda t: K.elu(t, 0.4), lambda x: _elu(x, 0.4), {}),
    "selu": (K.selu, lambda x: SELU_SCALE * _elu(x, SELU_ALPHA), {}),
    "identity": (K.identity, lambda x: x, {}),
    "pow2": (lambda t: K.pow(t, 2), lambda x: x ** 2, {}),
    "pow3": (lambda t: K.pow(t, 3), lambda x: x ** 3, {}),
    "pow_half": (lambda t: K.pow(t, 0.5), lambda x: x ** 0.5, {"specials": (0.0,)}),
    "pow_minus1": (lambda t: K.pow(t, -1), lambda x: 1.0 / x, {"specials": (0.0,)}),
    "rpow": (lambda t: 2.0 ** t, lambda x: 2.0 ** x, {}),
    "scalar_ops": (lambda t: (t * 2.5 - 1.0) / 4.0 + 0.5, lambda x: (x * 2.5 - 1.0) / 4.0 + 0.5, {}),
}


@given(name=st.sampled_from(sorted(UNARY)), shape=shapes(), dtype=float_dtype, s=seed,
       kernels=st.booleans())
def test_unary(name, shape, dtype, s, kernels):
    kfn, npfn, opts = UNARY[name]
    rng = np.random.default_rng(s)
    wide = 40.0 if opts.get("wide") and rng.random() < 0.5 else 3.0
    x = values(rng, shape, dtype, -wide, wide, grid=opts.get("grid", False), specials=opts.get("specials", ()))
    run(kfn, npfn, [x], dtype, kernels=kernels, msg=name)


def _relu_ref(x, alpha, max_value, threshold):
    # Keras 2.3's NumPy oracle: x >= threshold keeps clip(x, 0, max_value), below: alpha * (x - threshold)
    above = np.clip(x * (x >= threshold), 0.0, np.inf if max_value is None else max_value)
    return above + alpha * (x - threshold) * (x < threshold)


@given(shape=shapes(), dtype=float_dtype, s=seed, alpha=st.sampled_from([0.0, 0.3]),
       max_value=st.sampled_from([None, 0.0, 1.5, 6.0]), threshold=st.sampled_from([0.0, -1.0, 0.5]),
       kernels=st.booleans())
def test_relu(shape, dtype, s, alpha, max_value, threshold, kernels):
    x = values(np.random.default_rng(s), shape, dtype, -8, 8, grid=True)
    run(lambda t: K.relu(t, alpha=alpha, max_value=max_value, threshold=threshold),
        lambda a: _relu_ref(a, alpha, max_value, threshold), [x], dtype, kernels=kernels)


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (K.maximum, np.maximum),
    "minimum": (K.minimum, np.minimum),
    "pow": (K.pow, np.power),
}
COMPARE = {
    "equal": (K.equal, np.equal),
    "not_equal": (K.not_equal, np.not_equal),
    "greater": (K.greater, np.greater),
    "greater_equal": (K.greater_equal, np.greater_equal),
    "less": (K.less, np.less),
    "less_equal": (K.less_equal, np.less_equal),
    "op_greater": (lambda a, b: a > b, np.greater),
    "op_less_equal": (lambda a, b: a <= b, np.less_equal),
}


@given(name=st.sampled_from(sorted(BINARY)), pair=broadcast_pair(), dtype=float_dtype, s=seed,
       kernels=st.booleans())
def test_binary_broadcast(name, pair, dtype, s, kernels):
    kfn, npfn = BINARY[name]
    rng = np.random.default_rng(s)
    a = values(rng, pair[0], dtype, -3, 3, grid=True, specials=(0.0,))
    b = values(rng, pair[1], dtype, -3, 3, grid=True, specials=(0.0,))
    if name == "pow":  # a finite float16 result: small bases and exponents
        a = values(rng, pair[0], dtype, 0, 2, grid=True)
    run(kfn, npfn, [a, b], dtype, kernels=kernels, msg=name)


@given(name=st.sampled_from(sorted(COMPARE)), pair=broadcast_pair(), dtype=float_dtype, s=seed,
       kernels=st.booleans())
def test_comparison(name, pair, dtype, s, kernels):
    kfn, npfn = COMPARE[name]
    rng = np.random.default_rng(s)
    a = values(rng, pair[0], dtype, -1, 1, grid=True)
    b = values(rng, pair[1], dtype, -1, 1, grid=True)
    run(kfn, npfn, [a, b], "bool", kernels=kernels, msg=name)


@given(name=st.sampled_from(sorted(BINARY)), shape=shapes(), dtype=float_dtype, s=seed,
       scalar=st.sampled_from([-1.5, 0.5, 2.0]), left=st.booleans())
def test_binary_with_python_scalar(name, shape, dtype, s, scalar, left):
    """A Python number meets a tensor: computed in the tensor's dtype (weak typing, as TF)."""
    kfn, npfn = BINARY[name]
    x = values(np.random.default_rng(s), shape, dtype, 0.5, 2.0)
    if left:
        run(lambda t: kfn(scalar, t), lambda a: npfn(scalar, a), [x], dtype, msg=name)
    else:
        run(lambda t: kfn(t, scalar), lambda a: npfn(a, scalar), [x], dtype, msg=name)


@given(shape=shapes(), dtype=float_dtype, s=seed, lo=st.sampled_from([None, -1.0, 0.5]),
       hi=st.sampled_from([None, -2.0, 0.0, 1.0]), kernels=st.booleans())
def test_clip_numbers(shape, dtype, s, lo, hi, kernels):
    x = values(np.random.default_rng(s), shape, dtype, -3, 3, grid=True)
    # Keras: a max below the min is raised to the min; None is unbounded
    lo_ = -np.inf if lo is None else lo
    hi_ = np.inf if hi is None else hi
    if lo is not None and hi is not None and hi < lo:
        hi_ = lo
    run(lambda t: K.clip(t, lo, hi), lambda a: np.minimum(np.maximum(a, lo_), hi_), [x], dtype, kernels=kernels)


@given(pair=broadcast_pair(), dtype=float_dtype, s=seed)
def test_clip_tensor_bounds(pair, dtype, s):
    rng = np.random.default_rng(s)
    x = values(rng, pair[0], dtype, -3, 3, grid=True)
    lo = values(rng, pair[1], dtype, -2, 0, grid=True)
    hi = (lo + 1.5).astype(dtype)
    run(lambda t, a, b: K.clip(t, a, b), lambda t, a, b: np.minimum(np.maximum(t, a), b), [x, lo, hi], dtype)


@given(shape=shapes(min_rank=1), dtype=float_dtype, s=seed, cond_rank=st.integers(0, 4), kernels=st.booleans())
def test_switch_tensor_condition(shape, dtype, s, cond_rank, kernels):
    """A condition of lower rank selects whole trailing blocks (padded with trailing 1-axes)."""
    rng = np.random.default_rng(s)
    r = min(cond_rank, len(shape))
    c = rng.random(shape[:r]) < 0.5
    a = values(rng, shape, dtype)
    b = values(rng, shape, dtype)

    def ref(c_, a_, b_):
        return np.where(c_.reshape(c_.shape + (1,) * (a_.ndim - c_.ndim)), a_, b_)
    run(K.switch, ref, [c, a, b], dtype, kernels=kernels)


@given(shape=shapes(), dtype=float_dtype, s=seed, flag=st.booleans())
def test_switch_scalar_condition(shape, dtype, s, flag):
    rng = np.random.default_rng(s)
    a = values(rng, shape, dtype)
    b = values(rng, shape, dtype)
    run(lambda c, x, y: K.switch(c, x, y), lambda c, x, y: x if c else y, [np.array(flag), a, b], dtype)
    run(lambda x, y: K.switch(flag, x, y), lambda x, y: x if flag else y, [a, b], dtype)


@given(shape=shapes(), dtype=float_dtype, s=seed,
       target=st.sampled_from(["float16", "float32", "float64", "int32", "int64", "bool"]))
def test_cast(shape, dtype, s, target):
    x = values(np.random.default_rng(s), shape, dtype, -3, 3, grid=True)
    run(lambda t: K.cast(t, target), lambda a: a.astype(target), [x], target)


@given(shape=shapes(), dtype=float_dtype, s=seed, which=st.sampled_from(["zeros_like", "ones_like"]),
       out=st.sampled_from([None, "float64", "int32"]))
def test_like_constructors(shape, dtype, s, which, out, ):
    x = values(np.random.default_rng(s), shape, dtype)
    fill = 0 if which == "zeros_like" else 1
    want_dtype = out or K.floatx()
    run(lambda t: getattr(K, which)(t, dtype=out), lambda a: np.full(a.shape, fill, dtype=want_dtype), [x],
        want_dtype)


@given(name=st.sampled_from(sorted(BINARY)), pair=broadcast_pair(), da=float_dtype, db=float_dtype, s=seed,
       kernels=st.booleans())
def test_binary_mixed_float_dtypes(name, pair, da, db, s, kernels):
    """Two tensors of different float dtypes meet in NumPy's promoted dtype (the wider one)."""
    kfn, npfn = BINARY[name]
    rng = np.random.default_rng(s)
    a = values(rng, pair[0], da, 0.5, 2, grid=True)
    b = values(rng, pair[1], db, -2, 2, grid=True, specials=(0.0,))
    out = np.promote_types(da, db).name
    run(kfn, npfn, [a, b], out, kernels=kernels, tol=None if "float16" not in (da, db) else (1e-2, 1e-2),
        msg=f"{name} {da} {db}")

"""Property-based tests of K functions on integer and bool tensors.

Dtype rules (TensorFlow's, which Keras 2 follows): sums, products and cumulative ops keep an
integer dtype and count bools in int64; max/min keep the dtype (over no elements: the dtype's
lowest/highest value); mean casts to floatx; float-only math (exp, sqrt, log, ...) casts to floatx;
abs, square, sign, negation and comparisons work on the integers themselves.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import axes_for, broadcast_pair, run, seed, shapes  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

int_dtype = st.sampled_from(["int32", "int64"])


def _ints(s, shape, dtype, low=-4, high=5):
    return np.random.default_rng(s).integers(low, high, size=shape).astype(dtype)


def _np_axes(axis, ndim):
    return None if axis is None else tuple(a % ndim for a in np.atleast_1d(axis)) if ndim else ()


@given(name=st.sampled_from(["sum", "max", "min", "prod"]), shape=shapes(), dtype=st.sampled_from(
    ["int32", "int64", "bool"]), s=seed, keepdims=st.booleans(), data=st.data())
def test_integer_reductions(name, shape, dtype, s, keepdims, data):
    axis = data.draw(axes_for(len(shape)), label="axis")
    if name == "prod" and dtype == "bool":
        dtype = "int32"  # a product of bools is no Keras use
    x = _ints(s, shape, dtype, -2, 3) if dtype != "bool" else _ints(s, shape, "int8", 0, 2).astype(bool)
    out = "int64" if dtype == "bool" and name == "sum" else dtype

    def ref(a):
        ax = _np_axes(axis, a.ndim)
        if name == "max":
            return np.max(a, axis=ax, keepdims=keepdims, initial=False if dtype == "bool" else np.iinfo(dtype).min)
        if name == "min":
            return np.min(a, axis=ax, keepdims=keepdims, initial=True if dtype == "bool" else np.iinfo(dtype).max)
        return getattr(np, name)(a, axis=ax, keepdims=keepdims, dtype=out)
    run(lambda t: getattr(K, name)(t, axis=axis, keepdims=keepdims), ref, [x], out)


@given(shape=shapes(), dtype=st.sampled_from(["int32", "int64", "bool"]), s=seed, keepdims=st.booleans(),
       data=st.data())
def test_integer_mean(shape, dtype, s, keepdims, data):
    axis = data.draw(axes_for(len(shape)), label="axis")
    x = _ints(s, shape, "int32", 0, 2).astype(dtype)

    def ref(a):
        ax = _np_axes(axis, a.ndim)
        with np.errstate(all="ignore"):
            n = np.prod([a.shape[i] for i in (range(a.ndim) if ax is None else ax)])
            return np.sum(a, axis=ax, keepdims=keepdims) / n if n else np.full(
                np.sum(a, axis=ax, keepdims=keepdims).shape, np.nan)
    run(lambda t: K.mean(t, axis=axis, keepdims=keepdims), ref, [x], K.floatx())


@given(name=st.sampled_from(["cumsum", "cumprod"]), shape=shapes(min_rank=1), dtype=st.sampled_from(
    ["int32", "int64", "bool"]), s=seed, data=st.data())
def test_integer_cumulative(name, shape, dtype, s, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = _ints(s, shape, "int32", -2, 3).astype(dtype)
    out = "int64" if dtype == "bool" else dtype
    run(lambda t: getattr(K, name)(t, axis=axis), lambda a: getattr(np, name)(a, axis=axis, dtype=out), [x], out)


@given(name=st.sampled_from(["abs", "square", "sign", "neg", "round"]), shape=shapes(), dtype=int_dtype, s=seed)
def test_integer_unary(name, shape, dtype, s):
    kfn = {"neg": lambda t: -t}.get(name, getattr(K, name, None))
    npfn = {"neg": np.negative, "square": lambda a: a * a}.get(name, getattr(np, name, None))
    run(kfn, npfn, [_ints(s, shape, dtype)], dtype)


@given(name=st.sampled_from(["exp", "sqrt", "sigmoid", "tanh", "softplus"]), shape=shapes(), dtype=int_dtype,
       s=seed)
def test_integer_to_float_math(name, shape, dtype, s):
    npfn = {"exp": np.exp, "sqrt": lambda a: np.sqrt(np.maximum(a, 0)), "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
            "tanh": np.tanh, "softplus": lambda a: np.log1p(np.exp(a))}[name]
    run(getattr(K, name), npfn, [_ints(s, shape, dtype)], K.floatx())


@given(name=st.sampled_from(["add", "sub", "mul", "maximum", "minimum", "equal", "greater", "less_equal"]),
       pair=broadcast_pair(), dtype=int_dtype, s=seed)
def test_integer_binary(name, pair, dtype, s):
    kfn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}.get(name) or getattr(K, name)
    npfn = {"add": np.add, "sub": np.subtract, "mul": np.multiply}.get(name) or getattr(np, name)
    out = "bool" if name in ("equal", "greater", "less_equal") else dtype
    run(kfn, npfn, [_ints(s, pair[0], dtype), _ints(s + 1, pair[1], dtype)], out)


@given(name=st.sampled_from(["argmax", "argmin"]), shape=shapes(min_rank=1), dtype=int_dtype, s=seed, data=st.data())
def test_integer_argmax(name, shape, dtype, s, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    if shape[axis] == 0:
        shape = tuple(1 if i == axis % len(shape) else d for i, d in enumerate(shape))
    x = _ints(s, shape, dtype, -2, 3)  # ties: the first one wins
    run(lambda t: getattr(K, name)(t, axis=axis), lambda a: getattr(np, name)(a, axis=axis), [x], "int64")

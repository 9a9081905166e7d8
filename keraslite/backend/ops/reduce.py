"""Reductions and cumulative ops."""
from __future__ import annotations

import numpy as np

from .. import config
from ..graph import Constant, Tensor, apply, as_tensor, defop, normalize_axes, normalize_axis, shape_str
from ._util import numpy_result_dtype
from .math import add, cast, div, equal_, exp, log_, mul, neg, sub, where


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_infer(kind):
    def infer(x, axes, keepdims):
        if kind == "bool":
            dtype = "bool"
        elif kind == "sum":
            dtype = _accumulator_dtype(x.dtype)
        else:
            dtype = x.dtype
        return _reduced_shape(x.shape, axes, keepdims), dtype
    return infer


def _accumulator_dtype(dtype: str) -> str:
    """Sums and products keep the input's dtype, as in TensorFlow; bools count in int64."""
    return "int64" if dtype == "bool" else dtype


def _keep(g, x, axes, keepdims):
    """Gradient of a reduction, broadcast back to the shape of x."""
    from .shape import broadcast_like, expand_axes
    if not keepdims:
        g = expand_axes(g, axes)
    return broadcast_like(g, x)


def _sum_vjp(g, y, x, axes, keepdims):
    return [_keep(g, x, axes, keepdims)]


def _extremum_vjp(g, y, x, axes, keepdims):
    # ties share the gradient equally, so the result sums to the upstream gradient
    y_b = _keep(y, x, axes, keepdims)
    mask = cast(equal_(x, y_b), g.dtype)
    count = apply("sum", mask, axes=axes, keepdims=True)
    return [mul(_keep(g, x, axes, keepdims), div(mask, _keep_counts(count, x)))]


def _keep_counts(count, x):
    from .shape import broadcast_like
    return broadcast_like(count, x)


defop("sum", _reduce_infer("sum"), _sum_vjp)
defop("max", _reduce_infer("same"), _extremum_vjp)
defop("min", _reduce_infer("same"), _extremum_vjp)


def _count(x, axes):
    """The number of entries of x each reduction over `axes` sees: a Python int when known, else
    an int32 scalar tensor (the product of those entries of K.shape(x))."""
    dims = [x.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    from .shape import shape as shape_of
    unknown = [a for a in axes if x.shape[a] is None]
    if len(unknown) == 1:  # the usual unknown batch axis: its length times the known ones
        n = apply("strided_slice", shape_of(x), key=(unknown[0],))
        known = int(np.prod([d for d in dims if d is not None], dtype=np.int64))
        return n if known == 1 else mul(n, known)
    picked = apply("gather", shape_of(x), Constant(np.array(axes, dtype=np.int32)))
    return apply("prod", picked, axis=0, keepdims=False)


def _prod_infer(x, axis, keepdims):
    return _reduced_shape(x.shape, (axis,), keepdims), _accumulator_dtype(x.dtype)


def _exclusive_cumprod(x, axis, reverse):
    from .shape import pad_axis, reverse as rev, slice_axis
    if reverse:
        return rev(_exclusive_cumprod(rev(x, axis), axis, False), axis)
    c = apply("cumprod", x, axis=axis)
    # shift right by one along axis, filling with 1
    return pad_axis(slice_axis(c, axis, 0, -1), axis, (1, 0), 1.0)


def _prod_vjp(g, y, x, axis, keepdims):
    # product of all the other entries, exact when x has zeros (no division)
    others = mul(_exclusive_cumprod(x, axis, False), _exclusive_cumprod(x, axis, True))
    return [mul(_keep(g, x, (axis,), keepdims), others)]


defop("prod", _prod_infer, _prod_vjp)


def _arg_infer(who):
    def infer(x, axis):
        if x.shape[axis] == 0:
            raise ValueError(f"{who}: axis {axis} of x {shape_str(x.shape)} is empty: there is no index to return")
        return tuple(d for i, d in enumerate(x.shape) if i != axis), "int64"
    return infer


defop("argmax", _arg_infer("argmax"))
defop("argmin", _arg_infer("argmin"))


def _cum_infer(x, axis):
    return x.shape, _accumulator_dtype(x.dtype)


def _cumsum_vjp(g, y, x, axis):
    from .shape import reverse as rev
    return [rev(apply("cumsum", rev(g, axis), axis=axis), axis)]


def _cumprod_vjp(g, y, x, axis):
    from .shape import reverse as rev
    # as TensorFlow: divides by x, so exact only for non-zero inputs
    suffix = rev(apply("cumsum", rev(mul(g, y), axis), axis=axis), axis)
    return [div(suffix, x)]


defop("cumsum", _cum_infer, _cumsum_vjp)
defop("cumprod", _cum_infer, _cumprod_vjp)

# ---------------------------------------------------------------------------------------------
# K functions


def _reduce(op, x, axis, keepdims, who):
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, who)
    return apply(op, x, axes=axes, keepdims=bool(keepdims))


def _as_float(x):
    x = as_tensor(x)
    if x.dtype == "bool":
        x = cast(x, config.floatx())
    return x


def sum(x, axis=None, keepdims=False):
    """sum(x, axis=None, keepdims=False): sum over the given axes."""
    return _reduce("sum", x, axis, keepdims, "sum")


def max(x, axis=None, keepdims=False):
    """max(x, axis=None, keepdims=False): maximum over the given axes."""
    return _reduce("max", x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):
    """min(x, axis=None, keepdims=False): minimum over the given axes."""
    return _reduce("min", x, axis, keepdims, "min")


def mean(x, axis=None, keepdims=False):
    """mean(x, axis=None, keepdims=False): arithmetic mean (bool input is cast to floatx): the sum
    divided by the count, as NumPy computes it (float16 accumulates in float32; empty gives NaN)."""
    x = _as_float(x)
    if not np.dtype(x.dtype).kind == "f":
        x = cast(x, config.floatx())
    dtype = x.dtype
    axes = normalize_axes(axis, x.ndim, "mean")
    if dtype == "float16":
        x = cast(x, "float32")
    s = apply("sum", x, axes=axes, keepdims=bool(keepdims))
    n = _count(x, axes)
    out = div(s, float(n) if isinstance(n, int) else cast(n, x.dtype))
    return cast(out, dtype)


def var(x, axis=None, keepdims=False):
    """var(x, axis=None, keepdims=False): population variance (divides by N)."""
    x = _as_float(x)
    m = mean(x, axis=axis, keepdims=True)
    from .math import square_
    return mean(square_(sub(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """std(x, axis=None, keepdims=False): sqrt(var(x, axis, keepdims))."""
    from .math import sqrt
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def any(x, axis=None, keepdims=False):
    """any(x, axis=None, keepdims=False): logical OR (non-zero is True)."""
    x = as_tensor(x)
    if x.dtype != "bool":
        x = cast(x, "bool")
    return _reduce("max", x, axis, keepdims, "any")


def all(x, axis=None, keepdims=False):
    """all(x, axis=None, keepdims=False): logical AND (non-zero is True)."""
    x = as_tensor(x)
    if x.dtype != "bool":
        x = cast(x, "bool")
    return _reduce("min", x, axis, keepdims, "all")


def prod(x, axis=None, keepdims=False):
    """prod(x, axis=None, keepdims=False): product over the given axes."""
    if isinstance(x, (list, tuple)):
        from .shape import stack
        x = stack([as_tensor(e) for e in x])
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "prod")
    # one axis at a time, so the gradient rule only deals with one axis
    for a in sorted(axes, reverse=True):
        x = apply("prod", x, axis=a, keepdims=bool(keepdims))
    return x


def argmax(x, axis=-1):
    """argmax(x, axis=-1): index of the first maximum along `axis` (int64)."""
    x = as_tensor(x)
    return apply("argmax", x, axis=normalize_axis(axis, x.ndim, "argmax"))


def argmin(x, axis=-1):
    """argmin(x, axis=-1): index of the first minimum along `axis` (int64)."""
    x = as_tensor(x)
    return apply("argmin", x, axis=normalize_axis(axis, x.ndim, "argmin"))


def cumsum(x, axis=0):
    """cumsum(x, axis=0): cumulative sum along `axis`."""
    x = as_tensor(x)
    return apply("cumsum", x, axis=normalize_axis(axis, x.ndim, "cumsum"))


def cumprod(x, axis=0):
    """cumprod(x, axis=0): cumulative product along `axis`."""
    x = as_tensor(x)
    return apply("cumprod", x, axis=normalize_axis(axis, x.ndim, "cumprod"))


def logsumexp(x, axis=None, keepdims=False):
    """logsumexp(x, axis=None, keepdims=False): log(sum(exp(x))) computed stably."""
    from .math import equal_
    from .tensors import stop_gradient
    x = _as_float(x)
    m = stop_gradient(max(x, axis=axis, keepdims=True))
    # an all -inf slice would give -inf - -inf = nan; shift by 0 there instead
    m = where(equal_(m, float("-inf")), 0.0, m)
    s = log_(sum(exp(sub(x, m)), axis=axis, keepdims=True))
    out = add(s, m)
    if not keepdims:
        from .shape import squeeze_axes
        out = squeeze_axes(out, normalize_axes(axis, x.ndim, "logsumexp"))
    return out

"""Elementwise math and comparisons: primitives, their gradients, and the K functions."""
from __future__ import annotations

import numpy as np

from .. import config
from ..graph import Tensor, apply, as_tensor, broadcast_shapes, defop, is_float
from ._util import numpy_result_dtype, operands

# ---------------------------------------------------------------------------------------------
# primitive definitions: (numpy ufunc used for dtype inference, fusion template, vjp)


def _unary_infer(ufunc):
    def infer(x):
        return x.shape, numpy_result_dtype(ufunc, x.dtype)
    return infer


def _binary_infer(name, ufunc):
    def infer(a, b):
        return broadcast_shapes(name, a.shape, b.shape), numpy_result_dtype(ufunc, a.dtype, b.dtype)
    return infer


def _same_float(x):
    return x.shape, x.dtype


_UNARY = {
    # name: (numpy ufunc for dtype inference, fusion template, vjp(g, out, x) -> [dx])
    "neg": ("negative", "(-{0})", lambda g, y, x: [neg(g)]),
    "abs": ("absolute", "abs({0})", lambda g, y, x: [mul(g, sign(x))]),
    "sign": ("sign", "sign({0})", None),
    "sqrt": ("sqrt", "sqrt({0})", lambda g, y, x: [div(g, mul(y, 2.0))]),
    "square": ("square", "({0} * {0})", lambda g, y, x: [mul(g, mul(x, 2.0))]),
    "exp": ("exp", "exp({0})", lambda g, y, x: [mul(g, y)]),
    "log": ("log", "log({0})", lambda g, y, x: [div(g, x)]),
    "log1p": ("log1p", "log1p({0})", lambda g, y, x: [div(g, add(x, 1.0))]),
    "expm1": ("expm1", "expm1({0})", lambda g, y, x: [mul(g, add(y, 1.0))]),
    "sin": ("sin", "sin({0})", lambda g, y, x: [mul(g, cos(x))]),
    "cos": ("cos", "cos({0})", lambda g, y, x: [neg(mul(g, sin(x)))]),
    "tanh": ("tanh", "tanh({0})", lambda g, y, x: [mul(g, sub(1.0, square(y)))]),
    # dtype as np.round (integers stay integers, as tf.round), computed as rint (ties to even)
    "round": ("round", "rint({0})", None),
    "floor": ("floor", "floor({0})", None),
    "ceil": ("ceil", "ceil({0})", None),
    "logical_not": ("logical_not", "(not {0})", None),
    "reciprocal": ("reciprocal", "(1.0 / {0})", lambda g, y, x: [neg(mul(g, square(y)))]),
    "sigmoid": (None, "sigmoid({0})", lambda g, y, x: [mul(g, mul(y, sub(1.0, y)))]),
    "softplus": (None, "softplus({0})", lambda g, y, x: [mul(g, sigmoid(x))]),
    "relu": (None, "relu({0})", lambda g, y, x: [mul(g, cast(greater(x, 0.0), g.dtype))]),
}

for _name, (_uf, _tmpl, _vjp) in _UNARY.items():
    defop(_name, _unary_infer(_uf) if _uf else _same_float, _vjp, elementwise=_tmpl)


def _sum_to(g: Tensor, x: Tensor) -> Tensor:
    """Reduce the gradient `g` of a broadcast result to the shape (and dtype) of operand `x`."""
    from .shape import sum_to
    return sum_to(g, x)


def _pow_vjp(g, y, a, b):
    ga = mul(g, mul(b, pow(a, sub(b, 1.0))))
    safe_log = where(greater(a, 0.0), log(where(greater(a, 0.0), a, 1.0)), 0.0)
    gb = mul(g, mul(y, safe_log))
    return [_sum_to(ga, a), _sum_to(gb, b)]


def _max_vjp(cmp):
    def vjp(g, y, a, b):
        mask = cmp(a, b)
        return [_sum_to(where(mask, g, 0.0), a), _sum_to(where(mask, 0.0, g), b)]
    return vjp


_BINARY = {
    "add": ("add", "({0} + {1})", lambda g, y, a, b: [_sum_to(g, a), _sum_to(g, b)]),
    "sub": ("subtract", "({0} - {1})", lambda g, y, a, b: [_sum_to(g, a), _sum_to(neg(g), b)]),
    "mul": ("multiply", "({0} * {1})", lambda g, y, a, b: [_sum_to(mul(g, b), a), _sum_to(mul(g, a), b)]),
    "div": ("true_divide", "({0} / {1})",
            lambda g, y, a, b: [_sum_to(div(g, b), a), _sum_to(neg(div(mul(g, y), b)), b)]),
    "pow": ("power", "({0} ** {1})", _pow_vjp),
    "maximum": ("maximum", "max({0}, {1})", _max_vjp(lambda a, b: greater_equal(a, b))),
    "minimum": ("minimum", "min({0}, {1})", _max_vjp(lambda a, b: less_equal(a, b))),
    "equal": ("equal", "({0} == {1})", None),
    "not_equal": ("not_equal", "({0} != {1})", None),
    "greater": ("greater", "({0} > {1})", None),
    "greater_equal": ("greater_equal", "({0} >= {1})", None),
    "less": ("less", "({0} < {1})", None),
    "less_equal": ("less_equal", "({0} <= {1})", None),
    "logical_and": ("logical_and", "({0} and {1})", None),
    "logical_or": ("logical_or", "({0} or {1})", None),
    "floordiv": ("floor_divide", "({0} // {1})", None),
    "mod": ("mod", "({0} % {1})", None),
}

for _name, (_uf, _tmpl, _vjp) in _BINARY.items():
    defop(_name, _binary_infer(_name, _uf), _vjp, elementwise=_tmpl)


def _where_infer(c, a, b):
    return broadcast_shapes("switch", c.shape, a.shape, b.shape), numpy_result_dtype("add", a.dtype, b.dtype)


def _where_vjp(g, y, c, a, b):
    return [None, _sum_to(where(c, g, 0.0), a), _sum_to(where(c, 0.0, g), b)]


defop("where", _where_infer, _where_vjp, elementwise="({1} if {0} else {2})")


def _cast_infer(x, dtype):
    return x.shape, dtype


def _cast_vjp(g, y, x, dtype):
    return [cast(g, x.dtype) if is_float(x.dtype) and is_float(dtype) else None]


defop("cast", _cast_infer, _cast_vjp,
      elementwise=lambda attrs: "np.bool_({0})" if attrs["dtype"] == "bool" else f"np.{attrs['dtype']}({{0}})")

# ---------------------------------------------------------------------------------------------
# internal builders (used by every op module and by VJP rules)


def _binary(name):
    def build(x, y):
        a, b = operands(x, y)
        return apply(name, a, b)
    build.__name__ = name
    return build


add = _binary("add")
sub = _binary("sub")
mul = _binary("mul")
div = _binary("div")
maximum_ = _binary("maximum")
minimum_ = _binary("minimum")
greater = _binary("greater")
greater_equal = _binary("greater_equal")
less = _binary("less")
less_equal = _binary("less_equal")
equal_ = _binary("equal")
not_equal_ = _binary("not_equal")
logical_and = _binary("logical_and")
logical_or = _binary("logical_or")
floordiv = _binary("floordiv")
mod = _binary("mod")


def neg(x): return apply("neg", as_tensor(x))
def sign(x): return apply("sign", as_tensor(x))
def cos(x): return apply("cos", as_tensor(x))
def sin(x): return apply("sin", as_tensor(x))
def square(x): return apply("square", as_tensor(x))
def log(x): return apply("log", as_tensor(x))


def pow(x, a):
    """pow(x, a): elementwise x ** a (a a number or a tensor)."""
    a_, x_ = operands(a, x)
    return apply("pow", x_, a_)


def where(c, a, b):
    c = as_tensor(c)
    if c.dtype != "bool":
        c = apply("cast", c, dtype="bool")
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = operands(a, b)
    else:
        b, a = operands(b, a)
    return apply("where", c, a, b)


def cast(x, dtype):
    """cast(x, dtype): x converted to `dtype` (a new tensor)."""
    from ..graph import canonical_dtype
    x = as_tensor(x)
    dtype = canonical_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    return apply("cast", x, dtype=dtype)


def sigmoid(x):
    """sigmoid(x): 1 / (1 + exp(-x)), computed without overflow."""
    return apply("sigmoid", _float(x, "sigmoid"))


def _float(x, who):
    x = as_tensor(x)
    if not is_float(x.dtype):
        x = cast(x, config.floatx())
    return x


# ---------------------------------------------------------------------------------------------
# K functions (Keras 2 names and signatures)


def abs(x):
    """abs(x): elementwise absolute value."""
    return apply("abs", as_tensor(x))


def sqrt(x):
    """sqrt(x): elementwise square root; negative inputs are clipped to 0 first, as Keras does."""
    x = _float(x, "sqrt")
    return apply("sqrt", maximum_(x, 0.0))


def exp(x):
    """exp(x): elementwise e ** x."""
    return apply("exp", _float(x, "exp"))


def log_(x):
    """log(x): elementwise natural logarithm (log(0) = -inf, log(<0) = nan)."""
    return apply("log", _float(x, "log"))


def round(x):
    """round(x): round to the nearest integer, ties to even."""
    return apply("round", as_tensor(x))


def sign_(x):
    """sign(x): -1, 0 or 1."""
    return apply("sign", as_tensor(x))


def square_(x):
    """square(x): elementwise x ** 2."""
    return apply("square", as_tensor(x))


def sin_(x):
    """sin(x)."""
    return apply("sin", _float(x, "sin"))


def cos_(x):
    """cos(x)."""
    return apply("cos", _float(x, "cos"))


def tanh(x):
    """tanh(x)."""
    return apply("tanh", _float(x, "tanh"))


def clip(x, min_value, max_value):
    """clip(x, min_value, max_value): clamp to [min_value, max_value]; None means unbounded.
    When both bounds are numbers and max_value < min_value, max_value is raised to min_value."""
    x = as_tensor(x)
    if min_value is None and max_value is None:
        return x
    if min_value is not None and max_value is not None and not isinstance(min_value, Tensor) \
            and not isinstance(max_value, Tensor) and np.all(np.asarray(max_value) < np.asarray(min_value)):
        max_value = min_value
    out = x
    if min_value is not None:
        out = maximum_(out, min_value)
    if max_value is not None:
        out = minimum_(out, max_value)
    return out


def equal(x, y):
    """equal(x, y): elementwise x == y (bool)."""
    return equal_(x, y)


def not_equal(x, y):
    """not_equal(x, y): elementwise x != y (bool)."""
    return not_equal_(x, y)


def maximum(x, y):
    """maximum(x, y): elementwise maximum."""
    return maximum_(x, y)


def minimum(x, y):
    """minimum(x, y): elementwise minimum."""
    return minimum_(x, y)


def exp_(x):
    return exp(x)


def softplus(x):
    """softplus(x): log(exp(x) + 1), computed stably."""
    return apply("softplus", _float(x, "softplus"))


def softsign(x):
    """softsign(x): x / (|x| + 1)."""
    x = _float(x, "softsign")
    return div(x, add(abs(x), 1.0))


def hard_sigmoid(x):
    """hard_sigmoid(x): clip(0.2 * x + 0.5, 0, 1)."""
    x = _float(x, "hard_sigmoid")
    return clip(add(mul(x, 0.2), 0.5), 0.0, 1.0)


def relu_basic(x):
    return apply("relu", as_tensor(x))


def log1p(x):
    return apply("log1p", as_tensor(x))


def expm1(x):
    return apply("expm1", as_tensor(x))

"""Elementwise math and comparisons: primitives, their gradients, and the K functions."""
from __future__ import annotations

import numpy as np

from .. import config, elementwise
from ..elementwise.core import sum_to  # noqa: F401  (gradients of broadcasting ops import it from here)
from ..graph import Tensor, apply, as_tensor, custom_gradient, is_float  # noqa: F401  (apply: operators.py)

# ---------------------------------------------------------------------------------------------
# internal builders (used by every op module and by VJP rules); the primitives themselves are
# the entries of the elementwise catalogue (backend/elementwise)

add = elementwise.function("add")
sub = elementwise.function("sub")
mul = elementwise.function("mul")
div = elementwise.function("div")
maximum_ = elementwise.function("maximum")
minimum_ = elementwise.function("minimum")
greater = elementwise.function("greater")
greater_equal = elementwise.function("greater_equal")
equal_ = elementwise.function("equal")
floordiv = elementwise.function("floordiv")
mod = elementwise.function("mod")


def _raw(name):
    """The op on `x` as given (no float conversion: for gradient rules and internal use)."""
    def build(x):
        return elementwise.call(name, x)
    build.__name__ = name
    return build


neg = _raw("neg")
cos = _raw("cos")
sin = _raw("sin")
log = _raw("log")


# Compositions of catalogue ops (no primitives of their own; each fuses into the kernel of its chain)

def less(x, y):
    """less(x, y): elementwise x < y (bool): greater with the operands swapped."""
    return greater(y, x)


def less_equal(x, y):
    """less_equal(x, y): elementwise x <= y (bool): greater_equal with the operands swapped."""
    return greater_equal(y, x)


def logical_not(x):
    """logical_not(x): elementwise not x (bool): x == 0 (NaN is true, as in NumPy)."""
    x = as_tensor(x)
    return equal_(x, False if x.dtype == "bool" else 0)


def _bool(x):
    x = as_tensor(x)
    return x if x.dtype == "bool" else cast(x, "bool")


def logical_and(x, y):
    """logical_and(x, y): elementwise x and y (bool): y where x holds, else False."""
    return where(_bool(x), _bool(y), False)


def logical_or(x, y):
    """logical_or(x, y): elementwise x or y (bool): True where x holds, else y."""
    return where(_bool(x), True, _bool(y))


def sign(x):
    """sign(x): -1 where x < 0, 1 where x > 0, x itself elsewhere (0, -0.0 and NaN)."""
    x = as_tensor(x)
    if x.dtype == "bool":
        raise TypeError("sign: not defined for bool tensors")
    # stop_gradient: sign passes no gradient to x, as when it was a primitive without a VJP
    return where(greater(x, 0), 1, where(less(x, 0), -1, apply("stop_gradient", x)))


def not_equal_(x, y):
    return logical_not(equal_(x, y))  # NaN != NaN is True, as equal is False


def square(x):
    """x * x."""
    return mul(x, x)
pow = elementwise.pow
where = elementwise.where
cast = elementwise.cast


def _k(name, x):
    """The K form of a unary catalogue op: non-float inputs become floatx where the entry says so."""
    if elementwise.lookup(name).float_inputs:
        x = _float(x, name)
    return elementwise.call(name, x)


def sigmoid(x):
    """sigmoid(x): 1 / (1 + exp(-x)), computed without overflow."""
    return _k("sigmoid", x)


def _float(x, who):
    x = as_tensor(x)
    if not is_float(x.dtype):
        x = cast(x, config.floatx())
    return x


# ---------------------------------------------------------------------------------------------
# K functions (Keras 2 names and signatures)


def abs(x):
    """abs(x): elementwise absolute value."""
    return _k("abs", x)


def sqrt(x):
    """sqrt(x): elementwise square root; negative inputs are clipped to 0 first, as Keras does."""
    return elementwise.call("sqrt", maximum_(_float(x, "sqrt"), 0.0))


def exp(x):
    """exp(x): elementwise e ** x."""
    return _k("exp", x)


def log_(x):
    """log(x): elementwise natural logarithm (log(0) = -inf, log(<0) = nan)."""
    return _k("log", x)


def round(x):
    """round(x): round to the nearest integer, ties to even."""
    return _k("round", x)


def sign_(x):
    """sign(x): -1, 0 or 1 (NaN stays NaN)."""
    return sign(x)


def square_(x):
    """square(x): elementwise x ** 2 (x * x)."""
    return square(x)


def sin_(x):
    """sin(x)."""
    return _k("sin", x)


def cos_(x):
    """cos(x)."""
    return _k("cos", x)


def tanh(x):
    """tanh(x)."""
    return _k("tanh", x)


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
    """softplus(x): log(exp(x) + 1), computed stably as max(x, 0) + log1p(exp(-|x|))."""
    x = _float(x, "softplus")
    y = add(maximum_(x, 0.0), log1p(exp(neg(abs(x)))))
    # the composition's own gradient would be 1 + sigmoid(-x) * -1 = 1/2 at 0 only through
    # maximum's and abs's tie rules (1 + 0 there, not 1/2): the derivative is sigmoid(x) exactly
    return custom_gradient(y, (x,), lambda g, x, wanted: [mul(g, sigmoid(x))])


def softsign(x):
    """softsign(x): x / (|x| + 1)."""
    x = _float(x, "softsign")
    return div(x, add(abs(x), 1.0))


def hard_sigmoid(x):
    """hard_sigmoid(x): clip(0.2 * x + 0.5, 0, 1)."""
    x = _float(x, "hard_sigmoid")
    return clip(add(mul(x, 0.2), 0.5), 0.0, 1.0)


def relu_basic(x):
    return _k("relu", x)


def log1p(x):
    return _k("log1p", x)


def expm1(x):
    return _k("expm1", x)

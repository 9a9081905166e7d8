"""keraslite's elementwise ops: one catalogue entry each (see core.py for the fields).

Gradients are compositions of catalogue ops, built by the builders at the top."""
from __future__ import annotations

import functools

from .core import BOOL, SAME, CudaForm, call, cast, follows_numpy, from_attr, libm, pow, promotes, register, \
    sum_to, where
from ..graph import is_float


def _builder(name):
    fn = functools.partial(call, name)
    return fn


sin, cos, log, sigmoid = (_builder(n) for n in ("sin", "cos", "log", "sigmoid"))
add, sub, mul, div = (_builder(n) for n in ("add", "sub", "mul", "div"))
greater, greater_equal = (_builder(n) for n in ("greater", "greater_equal"))
relu_grad = _builder("relu_grad")


neg = _builder("neg")


# x * x, x <= y and sign are compositions (no entries of their own): they fuse like any chain
def square(x):
    return mul(x, x)


def less_equal(x, y):
    return greater_equal(y, x)


def sign(x):
    """-1, 1, or x itself (0, -0.0, NaN): two comparisons and two selections; no gradient reaches x."""
    from ..graph import apply
    return where(greater(x, 0), 1, where(greater(0, x), -1, apply("stop_gradient", x)))


def _takes_out(formula):
    """Mark an array formula as accepting `out=` (the compiler's pooled buffers, memplan.py)."""
    formula.takes_out = True
    return formula


def _ufunc(name):
    """The array formula np.<name>(...) on the backend's array module."""
    return _takes_out(lambda xp, *arrays, out=None: getattr(xp, name)(*arrays, out=out))


_SCALAR = "keraslite_numba.scalar"  # Numba implementations with float32-preserving constants

# ------------------------------------------------------------------------- unary, NumPy ufuncs


def _unary(name, ufunc, expr, vjp=None, call=None, numba=None, cuda=None, float_inputs=False, doc=""):
    register(name, arity=1, array=_ufunc(ufunc), expr=expr, dtype=follows_numpy(ufunc), vjp=vjp, call=call,
             numba=numba, cuda=cuda, float_inputs=float_inputs, doc=doc)


_unary("neg", "negative", "(-{0})", lambda g, y, x: [neg(g)], doc="neg(x): -x.")
_unary("abs", "absolute", "abs({0})", lambda g, y, x: [mul(g, sign(x))], call="abs", numba="builtins:abs",
       cuda=CudaForm("kl_abs({0})", "kl_abs({0})", "kl_abs({0})", narrow=True, preamble=r"""
template <typename T> __device__ __forceinline__ T kl_abs(T x) { return x < 0 ? (T)(-x) : x; }
__device__ __forceinline__ float kl_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double kl_abs(double x) { return fabs(x); }
"""), doc="abs(x): elementwise absolute value.")
_unary("sqrt", "sqrt", "sqrt({0})", lambda g, y, x: [div(g, mul(y, 2.0))], call="sqrt", cuda=libm("sqrt"),
       float_inputs=True, doc="sqrt(x): elementwise square root.")
_unary("exp", "exp", "exp({0})", lambda g, y, x: [mul(g, y)], call="exp", numba=f"{_SCALAR}:exp",
       cuda=libm("exp"), float_inputs=True, doc="exp(x): elementwise e ** x.")
_unary("log", "log", "log({0})", lambda g, y, x: [div(g, x)], call="log", cuda=libm("log"), float_inputs=True,
       doc="log(x): natural logarithm (log(0) = -inf, log(<0) = nan).")
_unary("log1p", "log1p", "log1p({0})", lambda g, y, x: [div(g, add(x, 1.0))], call="log1p", cuda=libm("log1p"),
       doc="log1p(x): log(1 + x), accurate near 0.")
_unary("expm1", "expm1", "expm1({0})", lambda g, y, x: [mul(g, add(y, 1.0))], call="expm1", cuda=libm("expm1"),
       doc="expm1(x): exp(x) - 1, accurate near 0.")
_unary("sin", "sin", "sin({0})", lambda g, y, x: [mul(g, cos(x))], call="sin", cuda=libm("sin"),
       float_inputs=True, doc="sin(x).")
_unary("cos", "cos", "cos({0})", lambda g, y, x: [neg(mul(g, sin(x)))], call="cos", cuda=libm("cos"),
       float_inputs=True, doc="cos(x).")
_unary("tanh", "tanh", "tanh({0})", lambda g, y, x: [mul(g, sub(1.0, square(y)))], call="tanh",
       cuda=libm("tanh"), float_inputs=True, doc="tanh(x).")
# round keeps the input dtype, as np.round and tf.round do (integers stay integers; rint would make
# them float64); floats round half to even through rint
@_takes_out
def _round(xp, x, out=None):
    if x.dtype.kind in "biu":
        if out is None:
            return x.copy()
        out[...] = x
        return out
    return xp.round(x, out=out)


register("round", arity=1, array=_round,
         expr="rint({0})", dtype=SAME, call="rint",
         cuda=libm("rint"), doc="round(x): to the nearest integer, ties to even (integers unchanged).")
_unary("floor", "floor", "floor({0})", call="floor", cuda=libm("floor"), doc="floor(x).")

# ------------------------------------------------------------- unary activations (same dtype)

_FLOAT_HELPER = "(({T})kl_{f}((double){0}))"  # integer inputs: computed in double, cast back


def _sigmoid(xp, x):
    e = xp.exp(-xp.abs(x))  # exp of a non-positive number never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@_takes_out
def _relu(xp, x, out=None):
    if out is not None:
        return xp.maximum(x, x.dtype.type(0), out=out)
    return xp.maximum(x, 0).astype(x.dtype, copy=False)


register("sigmoid", arity=1, array=_sigmoid, expr="sigmoid({0})", dtype=SAME,
         vjp=lambda g, y, x: [mul(g, mul(y, sub(1.0, y)))], call="sigmoid", numba=f"{_SCALAR}:sigmoid",
         cuda=CudaForm("kl_sigmoid({0})", "kl_sigmoid({0})", _FLOAT_HELPER.replace("{f}", "sigmoid"), preamble=r"""
__device__ __forceinline__ float kl_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ double kl_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
"""), float_inputs=True, doc="sigmoid(x): 1 / (1 + exp(-x)), computed without overflow.")
register("relu", arity=1, array=_relu, expr="relu({0})", dtype=SAME,
         # the mask from the output (y > 0 exactly where x > 0): the pre-activation then has one
         # reader, so a matmul + bias + relu chain runs as one fused form (interface.PATTERNS)
         vjp=lambda g, y, x: [relu_grad(g, y)], call="relu", numba=f"{_SCALAR}:relu",
         cuda=CudaForm("kl_max({0}, ({T})0)", "kl_max({0}, ({T})0)", "kl_max({0}, ({T})0)", needs=("max",)),
         doc="relu(x): max(x, 0).")


@_takes_out
def _relu_grad(xp, g, y, out=None):
    return xp.multiply(g, y > 0, out=out)


# relu's gradient as one op of (g, y) rather than g * cast(y > 0): a mask op reading only y
# would join relu's own fused group in the forward pass, which then wrote the float mask as a
# second array; one node reading g lands in the backward pass, next to g's producer (e.g. the
# max pool's backprop, with which it forms a declared pattern: interface.POOL_RELU_GRAD)
register("relu_grad", arity=2, array=_relu_grad, expr="relu_grad({0}, {1})", dtype=SAME,
         vjp=lambda gg, out, g, y: [sum_to(relu_grad(gg, y), g), None], call="relu_grad",
         numba=f"{_SCALAR}:relu_grad",
         cuda=CudaForm("({1} > ({T})0 ? {0} : {0} * ({T})0)", "({1} > ({T})0 ? {0} : {0} * ({T})0)",
                       "({1} > ({T})0 ? {0} : {0} * ({T})0)", narrow=True),
         doc="relu_grad(g, y): g * (y > 0), relu's gradient g from its output y (NaN in g stays NaN).")

# ---------------------------------------------------------------------------------- binary


def _binary(name, ufunc, expr, vjp=None, call=None, numba=None, cuda=None, dtype=None, doc=""):
    register(name, arity=2, array=_ufunc(ufunc), expr=expr, dtype=dtype or follows_numpy(ufunc), vjp=vjp,
             call=call, numba=numba, cuda=cuda, doc=doc)


def _pow_vjp(g, y, a, b):
    ga = mul(g, mul(b, pow(a, sub(b, 1.0))))
    safe_log = where(greater(a, 0.0), log(where(greater(a, 0.0), a, 1.0)), 0.0)
    gb = mul(g, mul(y, safe_log))
    return [sum_to(ga, a), sum_to(gb, b)]


def _max_vjp(cmp):
    def vjp(g, y, a, b):
        mask = cmp(a, b)
        return [sum_to(where(mask, g, 0.0), a), sum_to(where(mask, 0.0, g), b)]
    return vjp


def _minmax_form(f):
    # NaN propagates, as in NumPy
    op = ">" if f == "max" else "<"
    helper = (f"template <typename T> __device__ __forceinline__ T kl_{f}(T a, T b) "
              f"{{ return (a {op} b || a != a) ? a : b; }}\n")
    t = f"kl_{f}({{0}}, {{1}})"
    return CudaForm(t, t, t, preamble=helper)


_binary("add", "add", "({0} + {1})", lambda g, y, a, b: [sum_to(g, a), sum_to(g, b)], doc="add(x, y): x + y.")
_binary("sub", "subtract", "({0} - {1})", lambda g, y, a, b: [sum_to(g, a), sum_to(neg(g), b)],
        doc="sub(x, y): x - y.")
_binary("mul", "multiply", "({0} * {1})", lambda g, y, a, b: [sum_to(mul(g, b), a), sum_to(mul(g, a), b)],
        doc="mul(x, y): x * y.")
_binary("div", "true_divide", "({0} / {1})",
        lambda g, y, a, b: [sum_to(div(g, b), a), sum_to(neg(div(mul(g, y), b)), b)],
        doc="div(x, y): x / y (integers divide to float, as in NumPy).")
_binary("pow", "power", "({0} ** {1})", _pow_vjp, doc="pow(x, a): x ** a.")
_binary("maximum", "maximum", "max({0}, {1})", _max_vjp(lambda a, b: greater_equal(a, b)), call="max",
        numba="numpy:maximum", cuda=_minmax_form("max"), doc="maximum(x, y): elementwise maximum (NaN wins).")
_binary("minimum", "minimum", "min({0}, {1})", _max_vjp(lambda a, b: less_equal(a, b)), call="min",
        numba="numpy:minimum", cuda=_minmax_form("min"), doc="minimum(x, y): elementwise minimum (NaN wins).")
# less, less_equal and not_equal are compositions (ops/math.py): greater and greater_equal with the
# operands swapped, logical_not of equal (NaN != NaN stays True)
for _name, _sym in (("equal", "=="), ("greater", ">"), ("greater_equal", ">=")):
    _binary(_name, _name, f"({{0}} {_sym} {{1}})", dtype=BOOL, doc=f"{_name}(x, y): x {_sym} y (bool).")
_binary("floordiv", "floor_divide", "({0} // {1})", doc="floordiv(x, y): x // y, rounding towards -inf.")
_binary("mod", "mod", "({0} % {1})", doc="mod(x, y): x % y with the sign of y.")

# -------------------------------------------------------------------------- where and cast


def _where_vjp(g, y, c, a, b):
    return [None, sum_to(where(c, g, 0.0), a), sum_to(where(c, 0.0, g), b)]


@_takes_out
def _where(xp, c, a, b, out=None):
    if out is None:
        return xp.where(c, a, b)
    # out overlaps no input (out_mode "out"): b everywhere, then a where c holds
    xp.copyto(out, b)
    xp.copyto(out, a, where=xp.asarray(c, dtype=bool))
    return out


@_takes_out
def _cast(xp, x, dtype, out=None):
    if out is None:
        return x.astype(dtype)
    xp.copyto(out, x, casting="unsafe")
    return out


register("where", arity=3, array=_where, expr="({1} if {0} else {2})",
         dtype=promotes(1, 2), vjp=_where_vjp, who="switch", doc="where(c, a, b): a where c else b.")


def _cast_vjp(g, y, x, dtype):
    return [cast(g, x.dtype) if is_float(x.dtype) and is_float(dtype) else None]


def _cast_expr(attrs):
    return "np.bool_({0})" if attrs["dtype"] == "bool" else f"np.{attrs['dtype']}({{0}})"


register("cast", arity=1, array=_cast, expr=_cast_expr, dtype=from_attr("dtype"),
         vjp=_cast_vjp, doc="cast(x, dtype): x converted to dtype.")

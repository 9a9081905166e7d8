"""Scalar helpers that generated fused kernels call by name (inlined by Numba).

Their constants take the argument's float type, so float32 chains stay in float32 (a Python
float literal would promote every step to float64)."""
import warnings

import numpy as np
from llvmlite import ir
from numba import types
from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import intrinsic, overload


def exp(x):
    """np.exp; float32 in fused kernels: a vectorisable Cephes-style expf (below)."""
    return np.exp(x)


def sigmoid(x):
    """1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving exactly 0."""
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return x if x > 0 else x * 0


def _float_type(x):
    return np.dtype(str(x)).type if isinstance(x, types.Float) else np.float64


@intrinsic
def _pow2_bits(typingctx, t):
    """float32 t = (e + 127) * 2**23 for an integer e in [1-127, 254-127] -> the float 2**e
    (t converted to int32 and its bits reinterpreted): branch-free, so loops vectorise."""
    if not (isinstance(t, types.Float) and t.bitwidth == 32):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.fptosi(args[0], ir.IntType(32)), ir.FloatType())
    return types.float32(types.float32), codegen


# Cephes expf: exp(x) = 2**n * p(r), n = round(x / ln 2), r = x - n ln 2 (two-part ln 2),
# p a degree-7 polynomial on [-ln2/2, ln2/2]; ~1 ulp. 2**n = 2**n1 * 2**n2 (n1 = floor(n/2)) so
# that results down to the smallest denormal and up to overflow round once, as expf does.
_F = np.float32
_LOG2E, _C1, _C2 = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_P = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                          1.6666665459e-1, 5.0000001201e-1))
_HI, _LO = _F(89.0), _F(-104.0)  # exp(89) is inf, exp(-104) rounds to 0 in float32
_HALF, _ONE, _BIAS, _MANT = _F(0.5), _F(1.0), _F(127.0), _F(8388608.0)


# Numba's SSA pass flags the inlined ternaries of the exp below with a "pedantic" internal
# check (NumbaIRAssumptionWarning); the generated code is correct (tests compare with np.exp), so
# that one warning is silenced rather than shown to every user of a fused kernel.
warnings.filterwarnings("ignore", category=NumbaIRAssumptionWarning, message=r"variable '_expf_impl")


def _expf_impl():
    p0, p1, p2, p3, p4, p5 = _P
    log2e, c1, c2, hi, lo, half, one, bias, mant = _LOG2E, _C1, _C2, _HI, _LO, _HALF, _ONE, _BIAS, _MANT

    def impl(x):
        xc = x if x < hi else hi      # NaN -> hi (fixed at the end)
        xc = xc if xc > lo else lo
        n = np.floor(xc * log2e + half)
        r = xc - n * c1
        r = r - n * c2
        p = p0 * r + p1
        p = p * r + p2
        p = p * r + p3
        p = p * r + p4
        p = p * r + p5
        p = p * (r * r) + r + one
        n1 = np.floor(n * half)
        n2 = n - n1
        y = p * _pow2_bits((n1 + bias) * mant) * _pow2_bits((n2 + bias) * mant)
        return y if x == x else x
    return impl


def _exp_of(x):
    """The exp implementation for Numba type x (a fast vectorisable one for float32)."""
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return _expf_impl()
    return None


@overload(exp, inline="always")
def _exp(x):
    impl = _exp_of(x)
    if impl is not None:
        return impl
    return lambda x: np.exp(x)


@overload(sigmoid, inline="always")
def _sigmoid(x):
    one = _float_type(x)(1.0)

    def impl(x):
        return one / (one + exp(-x))
    return impl


@overload(relu, inline="always")
def _relu(x):
    zero = _float_type(x)(0.0) if isinstance(x, types.Float) else 0

    def impl(x):
        return np.maximum(x, zero)
    return impl


def relu_grad(g, y):
    """g * (y > 0): g where y > 0, else g * 0 (NaN stays NaN, a negative g gives -0.0)."""
    return g if y > 0 else g * 0


@overload(relu_grad, inline="always")
def _relu_grad(g, y):
    zero = _float_type(g)(0.0) if isinstance(g, types.Float) else 0
    yzero = _float_type(y)(0.0) if isinstance(y, types.Float) else 0

    def impl(g, y):
        return g if y > yzero else g * zero
    return impl

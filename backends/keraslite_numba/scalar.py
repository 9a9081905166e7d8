"""Scalar helpers that generated fused kernels call by name (inlined by Numba).

Their constants take the argument's float type, so float32 chains stay in float32 (a Python
float literal would promote every step to float64)."""
import numpy as np
from numba import types
from numba.extending import overload


def sigmoid(x):
    """1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving exactly 0."""
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


def relu(x):
    return x if x > 0 else x * 0


def _float_type(x):
    return np.dtype(str(x)).type if isinstance(x, types.Float) else np.float64


@overload(sigmoid, inline="always")
def _sigmoid(x):
    one = _float_type(x)(1.0)

    def impl(x):
        return one / (one + np.exp(-x))
    return impl


@overload(softplus, inline="always")
def _softplus(x):
    zero = _float_type(x)(0.0)

    def impl(x):
        return max(x, zero) + np.log1p(np.exp(-abs(x)))
    return impl


@overload(relu, inline="always")
def _relu(x):
    zero = _float_type(x)(0.0) if isinstance(x, types.Float) else 0

    def impl(x):
        return np.maximum(x, zero)
    return impl

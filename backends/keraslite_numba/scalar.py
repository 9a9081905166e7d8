"""Scalar helpers that generated fused kernels call by name (inlined by Numba)."""
import numpy as np
from numba import njit


@njit(inline="always", cache=True)
def sigmoid(x):
    # exp of a non-positive number never overflows
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@njit(inline="always", cache=True)
def softplus(x):
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@njit(inline="always", cache=True)
def relu(x):
    return x if x > 0 else x * 0

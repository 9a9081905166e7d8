"""Sums over the leading axes of a C-contiguous array (bias gradients, sum_to_like of a
broadcast row): x viewed as (R, C), out = ones(R) @ x2.

NumPy reduces such axes with a strided pairwise loop (50x36x36x32 -> 32: 1.28 ms); the same sum
as a BLAS matrix-vector product takes 0.30 ms on one thread, is as accurate (blocked float32
dot products; measured relative error 3e-6 against float64, NumPy's 5e-6) and, unlike a Numba
parallel kernel (~1.3 s), costs no compile time.
"""
import numpy as np

__all__ = ["leading_split", "sum_leading"]

MIN_SIZE = 1 << 15
_ones: dict = {}


def leading_split(x, axes):
    """R (the product of the reduced leading dims) if `axes` are exactly the leading k axes of a
    C-contiguous float32/float64 array large enough to gain, else None."""
    if x.dtype not in (np.float32, np.float64) or x.size < MIN_SIZE or not x.flags.c_contiguous:
        return None
    nd = x.ndim
    if isinstance(axes, (int, np.integer)):
        axes = (axes,)
    ax = sorted({int(a) % nd for a in axes}) if nd else []
    k = len(ax)
    if k == 0 or k == nd or ax != list(range(k)):
        return None
    R = 1
    for d in x.shape[:k]:
        R *= d
    return R


def sum_leading(x, R, out=None):
    """(C,) sums over the leading rows of x viewed as (R, C) (into `out`, a (C,) array, if given)."""
    key = (R, x.dtype.char)
    ones = _ones.get(key)
    if ones is None:
        if len(_ones) > 16:
            _ones.clear()
        ones = _ones[key] = np.ones(R, x.dtype)
    return np.matmul(ones, x.reshape(R, -1), out=out)

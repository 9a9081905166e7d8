"""Categorical cross-entropy of probabilities, one pass per row: the loss (the fused form of the
softmax+crossentropy pattern, fused_forms.py) and its gradient with respect to the probabilities
(the categorical_crossentropy_grad primitive), each on C-contiguous (rows, classes) arrays."""
from __future__ import annotations

import numpy as np
from numba import njit

from ..fused import SMALL_THRESHOLD


@njit(inline="always")
def _row_sum(p, i, zero):
    s = zero
    for j in range(p.shape[1]):
        s += p[i, j]
    return s


@njit(cache=True, nogil=True)
def crossentropy_rows(p, t, lo, hi, out):
    """out[i] = -sum_j t[i, j] * log(clip(p[i, j] / sum_j p[i, j], lo, hi)); rows of 2-D arrays."""
    n, c = p.shape
    for i in range(n):
        s = _row_sum(p, i, lo * 0)
        acc = s * 0
        for j in range(c):
            q = p[i, j] / s
            if q < lo:
                q = lo
            if q > hi:
                q = hi
            # a zero target adds a zero (the clipped log is finite unless q is NaN): one-hot
            # targets take one log per row instead of one per class
            if t[i, j] != 0 or q != q:
                acc += t[i, j] * np.log(q)
        out[i] = -acc


@njit(cache=True, nogil=True, error_model="numpy")
def crossentropy_grad_rows(g, t, p, lo, hi, softmax, out):
    """out[i, :] = the gradient of the row's loss above times g[i] with respect to p[i, :], each
    operation as ops/nn.py's crossentropy_grad_composite makes it: q = p / s, the clip's gradient
    passing where lo <= q <= hi (there the clipped value is q; NaN fails both), and the
    renormalisation's -sum_j(gq * q / s) added to every gq / s; with `softmax` (p a softmax's
    result), then softmax's VJP p * (d - sum_j(d * p))."""
    n, c = p.shape
    zero = lo * 0
    for i in range(n):
        s = _row_sum(p, i, zero)
        ng = -g[i]
        acc = zero
        for j in range(c):
            q = p[i, j] / s
            gq = zero
            if q >= lo and q <= hi:
                gq = (ng * t[i, j]) / q
            out[i, j] = gq / s
            acc += -((gq * q) / s)
        for j in range(c):
            out[i, j] += acc
        if softmax:
            along = zero
            for j in range(c):
                along += out[i, j] * p[i, j]
            for j in range(c):
                out[i, j] = p[i, j] * (out[i, j] - along)


def small(a) -> bool:
    """Whether a call on `a` is left to NumPy: below fused.SMALL_THRESHOLD elements, as the
    fused elementwise kernels, so that a first run compiles nothing for work of microseconds
    (the tutorial convnet's batch of 50 x 10 classes; compiling these two kernels takes
    0.2-0.5 s)."""
    return a.size < SMALL_THRESHOLD


def crossentropy_grad(g, target, output, eps, softmax=False, out=None):
    """categorical_crossentropy_grad along the last axis of float32/float64 arrays of one dtype,
    or None for inputs the kernel does not take (and small ones: see small())."""
    dt = output.dtype
    if (dt not in (np.float32, np.float64) or target.dtype != dt or g.dtype != dt or output.ndim == 0
            or target.shape != output.shape or g.shape != output.shape[:-1] or small(output)):
        return None
    c = output.shape[-1]
    result = out if out is not None and out.flags.c_contiguous else np.empty(output.shape, dt)
    if result.size:
        crossentropy_grad_rows(np.ascontiguousarray(g).reshape(-1), np.ascontiguousarray(target).reshape(-1, c),
                               np.ascontiguousarray(output).reshape(-1, c), dt.type(eps), dt.type(1.0 - eps),
                               bool(softmax), result.reshape(-1, c))
    if out is not None and result is not out:
        np.copyto(out, result)
        return out
    return result

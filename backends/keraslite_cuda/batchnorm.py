"""Training-mode batch normalisation as RawKernels.

x is viewed as (A, C, B): C the one axis not reduced (channels), A the axes before it, B the axes
after it (B = 1 for channels-last, H*W for channels-first). Statistics are computed in two
passes (mean, then mean squared deviation) by a reduction kernel whose work items are
(partition, channel) pairs, each summing a contiguous run of the channel's elements in float64;
the partial sums are added up with one small array reduction. Applying the normalisation (and
its gradient) is one elementwise kernel with per-channel coefficients:

    y  = (x - mean) * (gamma * inv_std) + beta
    dx = k1 * gy + k2 * (x - mean) + k3,   k1 = gamma * inv_std,
         k2 = 2 gvar / n - inv_std**2 * gamma * dgamma / n,  k3 = gmean / n - inv_std * gamma * dbeta / n

which is the exact vector-Jacobian product of xp/nn.py's batchnorm_train_forward. Layouts with
more than one kept axis, parameters that are not per-channel, and dtypes other than float32 and
float64 use the array-generic code.
"""
from __future__ import annotations

import math

import numpy as np

from keraslite.backend.xp import nn as _nn

from .rawkernels import SUPPORTED_DTYPES, KernelSpec

_VIEW = (("i64", "A"), ("i32", "C"), ("i64", "B"))

MOMENTS = KernelSpec("bn_moments", (("in", "x"), ("in", "mean"), ("out_f64", "part")) + _VIEW
                     + (("i64", "chunk"), ("i32", "mode")), """\
    const long long c = idx % C, p = idx / C;
    const long long R = A * B, r0 = p * chunk;
    const long long r1 = r0 + chunk < R ? r0 + chunk : R;
    const double m = mode ? (double)mean[c] : 0.0;
    long long a = r0 / B, bb = r0 - a * B;
    double s = 0.0;
    for (long long r = r0; r < r1; ++r) {
      double v = (double)x[(a * C + c) * B + bb];
      if (mode) { v -= m; v *= v; }
      s += v;
      if (++bb == B) { bb = 0; ++a; }
    }
    part[idx] = s;""")

APPLY = KernelSpec("bn_apply", (("in", "x"), ("in", "mean"), ("in", "scale"), ("in", "shift"), ("out", "y"),
                                ("i32", "C"), ("i64", "B")), """\
    const long long c = (idx / B) % C;
    y[idx] = (x[idx] - mean[c]) * scale[c] + shift[c];""")

GRAD_SUMS = KernelSpec("bn_grad_sums", (("in", "x"), ("in", "gy"), ("in", "mean"), ("in", "inv_std"),
                                        ("out_f64", "part_gy"), ("out_f64", "part_gyxhat")) + _VIEW
                       + (("i64", "chunk"),), """\
    const long long c = idx % C, p = idx / C;
    const long long R = A * B, r0 = p * chunk;
    const long long r1 = r0 + chunk < R ? r0 + chunk : R;
    const double m = (double)mean[c], inv = (double)inv_std[c];
    long long a = r0 / B, bb = r0 - a * B;
    double s = 0.0, sx = 0.0;
    for (long long r = r0; r < r1; ++r) {
      const long long k = (a * C + c) * B + bb;
      const double g = (double)gy[k];
      s += g;
      sx += g * (((double)x[k] - m) * inv);
      if (++bb == B) { bb = 0; ++a; }
    }
    part_gy[idx] = s;
    part_gyxhat[idx] = sx;""")

BACKWARD_APPLY = KernelSpec("bn_backward_apply", (("in", "x"), ("in", "gy"), ("in", "mean"), ("in", "k1"),
                                                  ("in", "k2"), ("in", "k3"), ("out", "dx"),
                                                  ("i32", "C"), ("i64", "B")), """\
    const long long c = (idx / B) % C;
    dx[idx] = k1[c] * gy[idx] + k2[c] * (x[idx] - mean[c]) + k3[c];""")

KERNELS = (MOMENTS, APPLY, GRAD_SUMS, BACKWARD_APPLY)


def channel_view(x_shape, axes, *param_shapes):
    """(A, C, B, channel axis) when exactly one axis of x is kept and every parameter (None or a
    shape) broadcasts as a per-channel vector; otherwise None (use the generic code)."""
    nd = len(x_shape)
    if nd == 0:
        return None
    red = {int(a) % nd for a in axes}
    kept = [k for k in range(nd) if k not in red]
    if len(kept) != 1 or not red:
        return None
    k = kept[0]
    C = int(x_shape[k])
    for ps in param_shapes:
        if ps is None:
            continue
        ps = tuple(int(d) for d in ps)
        if len(ps) > nd:
            return None
        full = (1,) * (nd - len(ps)) + ps
        if any(d != 1 for i, d in enumerate(full) if i != k) or full[k] not in (1, C) or \
                (full[k] == 1 and C != 1):
            return None
    A = math.prod(int(d) for d in x_shape[:k])
    B = math.prod(int(d) for d in x_shape[k + 1:])
    return A, C, B, k


def partitions(C: int, R: int, target_items: int = 1 << 16) -> tuple[int, int]:
    """(P, chunk): split each channel's R elements into P runs of `chunk` so that P*C work items
    come near `target_items` (enough threads to fill a GPU)."""
    if R <= 0:
        return 1, 1
    P = max(1, min(R, -(-target_items // max(C, 1))))
    chunk = -(-R // P)
    P = -(-R // chunk)
    return P, chunk


def _vec(xp, p, C, dtype, default):
    if p is None:
        return xp.full((C,), default, dtype=dtype)
    return xp.ascontiguousarray(xp.broadcast_to(xp.asarray(p).reshape(-1), (C,))).astype(dtype, copy=False)


def _keep_shape(nd, k, C):
    return tuple(C if i == k else 1 for i in range(nd))


def _ok(x, *arrays):
    return np.dtype(x.dtype).name in SUPPORTED_DTYPES and all(a is None or a.dtype == x.dtype for a in arrays)


def batchnorm_train(xp, run, x, gamma, beta, axes, epsilon, target_items=1 << 16):
    """(y, mean, var) as batchnorm_train_forward; mean and var in keepdims shape."""
    view = channel_view(x.shape, axes, *(None if p is None else p.shape for p in (gamma, beta)))
    if run is None or view is None or not _ok(x, gamma, beta) or x.size == 0:
        return _nn.batchnorm_train_forward(xp, x, gamma, beta, axes, epsilon)
    A, C, B, k = view
    dt = x.dtype
    R = A * B
    P, chunk = partitions(C, R, target_items)
    x = xp.ascontiguousarray(x)
    part = xp.empty((P, C), dtype=np.float64)
    run(MOMENTS, dt, P * C, x, x, part, A, C, B, chunk, 0)        # x stands in for the unused mean
    mean = (part.sum(axis=0) / R).astype(dt)
    run(MOMENTS, dt, P * C, x, mean, part, A, C, B, chunk, 1)
    var = (part.sum(axis=0) / R).astype(dt)
    inv = 1.0 / xp.sqrt(var.astype(np.float64) + epsilon)
    scale = (inv * _vec(xp, gamma, C, np.float64, 1.0)).astype(dt)
    shift = _vec(xp, beta, C, dt, 0.0)
    y = xp.empty(x.shape, dtype=dt)
    run(APPLY, dt, x.size, x, mean, scale, shift, y, C, B)
    keep = _keep_shape(x.ndim, k, C)
    return y, mean.reshape(keep), var.reshape(keep)


def batchnorm_train_backward(xp, run, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon,
                             target_items=1 << 16):
    """(dx, dgamma, dbeta) as batchnorm_train_backward; dgamma and dbeta in keepdims shape."""
    shapes = [None if p is None else p.shape for p in (gamma, mean, var, gmean, gvar)]
    view = channel_view(x.shape, axes, *shapes)
    if run is None or view is None or not _ok(x, gamma, mean, var, gy, gmean, gvar) or x.size == 0 or \
            gy.shape != x.shape:
        return _nn.batchnorm_train_backward(xp, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon)
    A, C, B, k = view
    dt = x.dtype
    n = A * B
    P, chunk = partitions(C, n, target_items)
    x = xp.ascontiguousarray(x)
    gy = xp.ascontiguousarray(gy)
    mean_c = _vec(xp, mean, C, dt, 0.0)
    inv64 = 1.0 / xp.sqrt(_vec(xp, var, C, np.float64, 1.0) + epsilon)
    inv = inv64.astype(dt)
    part_g = xp.empty((P, C), dtype=np.float64)
    part_gx = xp.empty((P, C), dtype=np.float64)
    run(GRAD_SUMS, dt, P * C, x, gy, mean_c, inv, part_g, part_gx, A, C, B, chunk)
    dbeta = part_g.sum(axis=0)
    dgamma = part_gx.sum(axis=0)
    gam = _vec(xp, gamma, C, np.float64, 1.0)
    k1 = (gam * inv64).astype(dt)
    k2 = (2.0 * _vec(xp, gvar, C, np.float64, 0.0) / n - inv64 * inv64 * gam * dgamma / n).astype(dt)
    k3 = (_vec(xp, gmean, C, np.float64, 0.0) / n - inv64 * gam * dbeta / n).astype(dt)
    dx = xp.empty(x.shape, dtype=dt)
    run(BACKWARD_APPLY, dt, x.size, x, gy, mean_c, k1, k2, k3, dx, C, B)
    keep = _keep_shape(x.ndim, k, C)
    return dx, dgamma.astype(dt).reshape(keep), dbeta.astype(dt).reshape(keep)

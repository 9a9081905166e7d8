"""Batch normalisation (training mode) forward and backward, as Numba CPU kernels.

Fast path: the reduction axes are all axes but the last (channels-last BatchNormalization, and
BatchNormalization after Dense), so x is an (R, C) matrix with C contiguous. Any other set of
axes is handled by a transposed copy into that layout and back.

Per-channel sums are accumulated in float64, one partial per thread. The forward pass takes the
statistics in one read of x, shifted by x's first row (var = E[(x-s)^2] - E[x-s]^2 with s close to
the mean keeps the cancellation harmless), then normalises in a second pass; the backward pass
reads x and gy once for its two sums and once more to write dx (and, asked for, to sum the dx
it writes per channel: a bias gradient in the same pass).
"""
from functools import partial

import numba
import numpy as np
from numba import njit, prange

from ..twins import twin
from .batchnorm_numpy import bn_bwd_numpy, bn_fwd_numpy

__all__ = ["batchnorm_train_forward", "batchnorm_train_backward"]


_BLOCK = 64  # rows summed in x's dtype before each float64 flush (vectorised inner loops)


# Each kernel is one parallel loop over row chunks run twice: phase 0 takes the per-chunk
# partial sums, phase 1 writes the output from per-channel coefficients that NumPy computes in
# between (C-length vectors, float64). One prange per kernel instead of two: a parallel region
# costs ~0.45 s of cold compile, the extra call ~10 us.
@twin("bn_fwd", seq=partial(bn_fwd_numpy, block=_BLOCK))
@njit(parallel=True, cache=True)
def _bn_fwd(x2, phase, nchunks, shift, part, m, scale, b, relu, resid, r2, y2):
    R, C = x2.shape
    zero = y2.dtype.type(0)
    for ch in prange(nchunks):
        r0 = ch * R // nchunks
        r1 = (ch + 1) * R // nchunks
        if phase == 0:
            a1 = np.empty(C, x2.dtype)
            a2 = np.empty(C, x2.dtype)
            for c in range(C):
                part[ch, 0, c] = 0.0
                part[ch, 1, c] = 0.0
            for b0 in range(r0, r1, _BLOCK):
                for c in range(C):
                    a1[c] = 0
                    a2[c] = 0
                for r in range(b0, min(b0 + _BLOCK, r1)):
                    xr = x2[r]
                    for c in range(C):
                        d = xr[c] - shift[c]
                        a1[c] += d
                        a2[c] += d * d
                for c in range(C):
                    part[ch, 0, c] += a1[c]
                    part[ch, 1, c] += a2[c]
        elif resid:  # + r2 (a residual connection's add, rounded after y as the two ops), relu?
            for r in range(r0, r1):
                xr = x2[r]
                yr = y2[r]
                rr = r2[r]
                if relu:
                    for c in range(C):
                        v = ((xr[c] - m[c]) * scale[c] + b[c]) + rr[c]
                        yr[c] = v if v > zero or v != v else zero
                else:
                    for c in range(C):
                        yr[c] = ((xr[c] - m[c]) * scale[c] + b[c]) + rr[c]
        elif relu:  # batchnorm_train + relu: np.maximum(v, 0) (NaN stays, -0.0 gives 0.0)
            for r in range(r0, r1):
                xr = x2[r]
                yr = y2[r]
                for c in range(C):
                    v = (xr[c] - m[c]) * scale[c] + b[c]
                    yr[c] = v if v > zero or v != v else zero
        else:
            for r in range(r0, r1):
                xr = x2[r]
                yr = y2[r]
                for c in range(C):
                    yr[c] = (xr[c] - m[c]) * scale[c] + b[c]


@twin("bn_bwd", seq=partial(bn_bwd_numpy, block=_BLOCK))
@njit(parallel=True, cache=True)
def _bn_bwd(x2, gy2, phase, nchunks, m, part, a, bb, d, dsum, dx2):
    R, C = x2.shape
    for ch in prange(nchunks):
        r0 = ch * R // nchunks
        r1 = (ch + 1) * R // nchunks
        if phase == 0:
            a1 = np.empty(C, x2.dtype)
            a2 = np.empty(C, x2.dtype)
            for c in range(C):
                part[ch, 0, c] = 0.0
                part[ch, 1, c] = 0.0
            for b0 in range(r0, r1, _BLOCK):
                for c in range(C):
                    a1[c] = 0
                    a2[c] = 0
                for r in range(b0, min(b0 + _BLOCK, r1)):
                    xr = x2[r]
                    gr = gy2[r]
                    for c in range(C):
                        gv = gr[c]
                        a1[c] += gv
                        a2[c] += gv * (xr[c] - m[c])
                for c in range(C):
                    part[ch, 0, c] += a1[c]
                    part[ch, 1, c] += a2[c]
        elif dsum:  # dx written and summed per channel (part[ch, 0]): the bias gradient before it
            s1 = np.empty(C, x2.dtype)
            for c in range(C):
                part[ch, 0, c] = 0.0
            for b0 in range(r0, r1, _BLOCK):
                for c in range(C):
                    s1[c] = 0
                for r in range(b0, min(b0 + _BLOCK, r1)):
                    xr = x2[r]
                    gr = gy2[r]
                    dr = dx2[r]
                    for c in range(C):
                        dr[c] = a[c] * gr[c] + bb[c] * (xr[c] - m[c]) + d[c]
                    # summed from the row just written (in L1) in a loop of its own: stores to
                    # both dr and s1 in one loop need more overlap checks than the vectoriser
                    # allows, and the loop then ran scalar (+0.25 ms on a 8 MB activation)
                    for c in range(C):
                        s1[c] += dr[c]
                for c in range(C):
                    part[ch, 0, c] += s1[c]
        else:
            for r in range(r0, r1):
                xr = x2[r]
                gr = gy2[r]
                dr = dx2[r]
                for c in range(C):
                    dr[c] = a[c] * gr[c] + bb[c] * (xr[c] - m[c]) + d[c]


def axes_of(nd, axes) -> list:
    """The reduction axes, sorted and non-negative."""
    red = sorted({int(a) % nd for a in axes}) if nd else []
    if len(red) != len(tuple(axes)):
        raise ValueError(f"batchnorm: repeated axes {axes}")
    return red


def _layout(shape, axes):
    nd = len(shape)
    red = axes_of(nd, axes)
    kept = [a for a in range(nd) if a not in red]
    perm = red + kept
    keep_shape = tuple(1 if a in red else shape[a] for a in range(nd))
    C = int(np.prod([shape[a] for a in kept], dtype=np.int64))
    R = int(np.prod([shape[a] for a in red], dtype=np.int64))
    return perm, keep_shape, R, C


def _to_rc(a, perm, R, C):
    if perm != sorted(perm):
        a = np.transpose(a, perm)
    return np.ascontiguousarray(a).reshape(R, C)


def _from_rc(a2, shape, perm):
    if perm == sorted(perm):
        return a2.reshape(shape)
    tshape = tuple(shape[p] for p in perm)
    return np.ascontiguousarray(np.transpose(a2.reshape(tshape), np.argsort(perm)))


def _chan(v, keep_shape, C, dtype, fill):
    # always a fresh writable (C,) array: a read-only one would be a new Numba signature
    out = np.empty(keep_shape, dtype)
    out[...] = fill if v is None else v
    return out.reshape(C)


def _nchunks(R):
    return max(1, min(numba.get_num_threads(), R))


def _rc_out(out, shape, perm, R, C, dtype):
    """(R, C) array the kernel writes, and the array returned: ``out`` itself where possible."""
    if out is not None:
        if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous {dtype} array of shape {tuple(shape)}")
        if perm == sorted(perm):
            return out.reshape(R, C), (out, True)
    if out is None and perm == sorted(perm):
        # allocated at its final shape: the array handed back owns its memory (a reshaped view
        # would be copied again when it leaves the plan as an output)
        full = np.empty(shape, dtype)
        return full.reshape(R, C), (full, True)
    return np.empty((R, C), dtype), (out, False)


def _finish(a2, shape, perm, out_direct):
    out, direct = out_direct
    if direct:
        return out
    res = _from_rc(a2, shape, perm)
    if out is not None:
        out[...] = res
        return out
    return res


def batchnorm_train_forward(x, gamma, beta, axes, epsilon, out=None, relu=False, residual=None):
    """Training-mode batch norm over ``axes``: returns (y, mean, var), mean/var keepdims, var
    biased. ``out`` (optional, C-contiguous, x's shape) receives y; ``residual`` (x's shape and
    dtype): added to y as it is written; ``relu``: y (+ residual) is rectified as it is written
    (the fused batchnorm_train (+ add) + relu)."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    x = x.astype(dt, copy=False)
    perm, keep_shape, R, C = _layout(x.shape, axes)
    if R == 0:
        raise ValueError("batchnorm_train_forward: empty reduction")
    x2 = _to_rc(x, perm, R, C)
    y2, out = _rc_out(out, x.shape, perm, R, C, dt)
    nch = _nchunks(R)
    part = np.empty((nch, 2, C), np.float64)
    shift = np.ascontiguousarray(x2[0])  # sums of x - x[0]: no cancellation when |mean| >> std
    _bn_fwd(x2, 0, nch, shift, part, shift, shift, shift, False, False, y2, y2)
    S = part.sum(axis=0)
    dmean = S[0] / R
    v = np.maximum(S[1] / R - dmean * dmean, 0.0)
    mu = shift.astype(np.float64) + dmean
    mean = mu.astype(dt)
    var = v.astype(dt)
    gamma = _chan(gamma, keep_shape, C, dt, 1)
    scale = (gamma / np.sqrt(v + float(epsilon))).astype(dt)
    if residual is not None:
        if tuple(residual.shape) != tuple(x.shape) or residual.dtype != dt:
            raise ValueError(f"batchnorm_train_forward: residual must be a {dt} array of shape {x.shape}")
        r2 = _to_rc(residual, perm, R, C)
    else:
        r2 = y2  # never read: one compiled signature for both uses
    _bn_fwd(x2, 1, nch, shift, part, mean, scale, _chan(beta, keep_shape, C, dt, 0), bool(relu),
            residual is not None, r2, y2)
    return _finish(y2, x.shape, perm, out), mean.reshape(keep_shape), var.reshape(keep_shape)


def channel_affine(x, mean, scale, offset, relu=False, out=None):
    """(x - mean) * scale + offset (relu'd when asked) with (C,) vectors along x's last axis, as
    the normalising pass of batchnorm_train_forward computes it (its kernel, so nothing more
    compiles): batch norm at inference. ``out`` (optional, C-contiguous, x's shape) receives it."""
    x = np.ascontiguousarray(x)
    dt = x.dtype
    C = x.shape[-1]
    R = x.size // C if C else 0
    y = np.empty(x.shape, dt) if out is None else out
    if out is not None and (out.shape != x.shape or out.dtype != dt or not out.flags.c_contiguous):
        raise ValueError(f"out must be a C-contiguous {dt} array of shape {x.shape}")
    if x.size == 0:
        return y
    vec = [np.ascontiguousarray(v, dtype=dt).reshape(C) for v in (mean, scale, offset)]
    nch = _nchunks(R)
    _bn_fwd(x.reshape(R, C), 1, nch, vec[0], np.empty((nch, 2, C), np.float64), vec[0], vec[1], vec[2],
            bool(relu), False, y.reshape(R, C), y.reshape(R, C))
    return y


def batchnorm_train_backward(x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=None, dsum=False):
    """Gradients (dx, dgamma, dbeta) of batchnorm_train_forward, including the paths through the
    mean and var outputs (gmean, gvar: their incoming gradients, keepdims, or None).
    ``out`` (optional, C-contiguous, x's shape) receives dx. ``dsum``: a fourth result, the sum
    of the dx written over ``axes`` (keepdims), taken in the pass that writes dx (the gradient of
    a bias added before the batch norm, which would otherwise read dx once more); summed in
    float64 per thread's rows, the partials added in a fixed order."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    x = x.astype(dt, copy=False)
    perm, keep_shape, R, C = _layout(x.shape, axes)
    x2 = _to_rc(x, perm, R, C)
    gy2 = _to_rc(np.asarray(gy, dtype=dt), perm, R, C)
    dx2, out = _rc_out(out, x.shape, perm, R, C, dt)
    nch = _nchunks(R)
    part = np.empty((nch, 2, C), np.float64)
    m = _chan(mean, keep_shape, C, dt, 0)
    _bn_bwd(x2, gy2, 0, nch, m, part, m, m, m, False, dx2)
    Sg, Sgx = part.sum(axis=0)
    inv = 1.0 / np.sqrt(_chan(var, keep_shape, C, np.float64, 0) + float(epsilon))
    g = _chan(gamma, keep_shape, C, np.float64, 1)
    dg = Sgx * inv
    dgamma = dg.astype(dt)
    dbeta = Sg.astype(dt)
    a = (g * inv).astype(dt)
    bb = ((2.0 * _chan(gvar, keep_shape, C, np.float64, 0) - g * inv * inv * dg) / R).astype(dt)
    d = ((_chan(gmean, keep_shape, C, np.float64, 0) - g * inv * Sg) / R).astype(dt)
    _bn_bwd(x2, gy2, 1, nch, m, part, a, bb, d, bool(dsum), dx2)
    res = (_finish(dx2, x.shape, perm, out), dgamma.reshape(keep_shape), dbeta.reshape(keep_shape))
    if dsum:
        res += (part[:, 0].sum(axis=0).astype(dt).reshape(keep_shape),)
    return res

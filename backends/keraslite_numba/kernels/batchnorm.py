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
import numba
import numpy as np
from numba import njit, prange

from ..twins import twin

__all__ = ["batchnorm_train_forward", "batchnorm_train_backward"]


_BLOCK = 64  # wide rows summed in x's dtype before each float64 flush (vectorised inner loops)
_WIDE = 256  # values per wide row at least (k rows of C channels): see _wide


# x is taken flat, in "wide rows" of k rows of C channels (L = k*C values; the last one may hold
# fewer rows), and every per-channel vector comes tiled k times (length L): the inner loops then
# run over L values instead of C. With C = 32 a loop over C is shorter than one step of the
# vectorised body (16 lanes x 4 interleaved under AVX-512) and ran in its remainder; it also paid
# its overlap checks once per row of C values.
#
# Each kernel is one parallel loop over chunks of wide rows run twice: phase 0 takes the
# per-chunk partial sums (per lane of L, folded into C channels at the end of each chunk in a
# fixed order), phase 1 writes the output from per-channel coefficients that NumPy computes in
# between (C-length vectors, float64). One prange per kernel instead of two: a parallel region
# costs ~0.45 s of cold compile, the extra call ~10 us.
@njit(cache=True)
def _fold(acc, C, part):
    """part[c] += the k lanes of acc (length k*C) that hold channel c, in lane order."""
    for i in range(acc.shape[0] // C if C > 0 else 0):
        a = acc[i * C:(i + 1) * C]
        for c in range(C):
            part[c] += a[c]


@twin("bn_fwd")
@njit(parallel=True, cache=True)
def _bn_fwd(x1, C, L, phase, nchunks, shift, part, m, scale, b, relu, resid, r1, y1):
    n = x1.shape[0]
    Q = (n + L - 1) // L if L > 0 else 0
    zero = y1.dtype.type(0)
    for ch in prange(nchunks):
        q0 = ch * Q // nchunks
        q1 = (ch + 1) * Q // nchunks
        if phase == 0:
            a1 = np.empty(L, x1.dtype)
            a2 = np.empty(L, x1.dtype)
            s1 = np.zeros(L, np.float64)
            s2 = np.zeros(L, np.float64)
            for b0 in range(q0, q1, _BLOCK):
                a1[:] = 0
                a2[:] = 0
                for q in range(b0, min(b0 + _BLOCK, q1)):
                    xr = x1[q * L:min(q * L + L, n)]
                    for j in range(xr.shape[0]):
                        d = xr[j] - shift[j]
                        a1[j] += d
                        a2[j] += d * d
                for j in range(L):
                    s1[j] += a1[j]
                    s2[j] += a2[j]
            part[ch, 0, :] = 0.0
            part[ch, 1, :] = 0.0
            _fold(s1, C, part[ch, 0])
            _fold(s2, C, part[ch, 1])
        else:
            for q in range(q0, q1):
                e = min(q * L + L, n)
                xr = x1[q * L:e]
                yr = y1[q * L:e]
                if resid:  # + r1 (a residual connection's add, rounded after y as the two ops), relu?
                    rr = r1[q * L:e]
                    if relu:
                        for j in range(xr.shape[0]):
                            v = ((xr[j] - m[j]) * scale[j] + b[j]) + rr[j]
                            yr[j] = v if v > zero or v != v else zero
                    else:
                        for j in range(xr.shape[0]):
                            yr[j] = ((xr[j] - m[j]) * scale[j] + b[j]) + rr[j]
                elif relu:  # batchnorm_train + relu: np.maximum(v, 0) (NaN stays, -0.0 gives 0.0)
                    for j in range(xr.shape[0]):
                        v = (xr[j] - m[j]) * scale[j] + b[j]
                        yr[j] = v if v > zero or v != v else zero
                else:
                    for j in range(xr.shape[0]):
                        yr[j] = (xr[j] - m[j]) * scale[j] + b[j]


@twin("bn_bwd")
@njit(parallel=True, cache=True)
def _bn_bwd(x1, gy1, C, L, phase, nchunks, m, part, a, bb, d, dsum, dx1):
    n = x1.shape[0]
    Q = (n + L - 1) // L if L > 0 else 0
    for ch in prange(nchunks):
        q0 = ch * Q // nchunks
        q1 = (ch + 1) * Q // nchunks
        if phase == 0 or dsum:
            a1 = np.empty(L, x1.dtype)
            a2 = np.empty(L, x1.dtype)
            s1 = np.zeros(L, np.float64)
            s2 = np.zeros(L, np.float64)
            for b0 in range(q0, q1, _BLOCK):
                a1[:] = 0
                a2[:] = 0
                for q in range(b0, min(b0 + _BLOCK, q1)):
                    e = min(q * L + L, n)
                    xr = x1[q * L:e]
                    gr = gy1[q * L:e]
                    if phase == 0:
                        for j in range(xr.shape[0]):
                            gv = gr[j]
                            a1[j] += gv
                            a2[j] += gv * (xr[j] - m[j])
                    else:  # dx written and summed per channel (part[ch, 0]): a bias gradient
                        dr = dx1[q * L:e]
                        for j in range(xr.shape[0]):
                            dr[j] = a[j] * gr[j] + bb[j] * (xr[j] - m[j]) + d[j]
                        # summed from the row just written (in L1) in a loop of its own: stores
                        # to both dr and a1 in one loop need more overlap checks than the
                        # vectoriser allows, and the loop then ran scalar
                        for j in range(xr.shape[0]):
                            a1[j] += dr[j]
                for j in range(L):
                    s1[j] += a1[j]
                    s2[j] += a2[j]
            part[ch, 0, :] = 0.0
            _fold(s1, C, part[ch, 0])
            if phase == 0:
                part[ch, 1, :] = 0.0
                _fold(s2, C, part[ch, 1])
        else:
            for q in range(q0, q1):
                e = min(q * L + L, n)
                xr = x1[q * L:e]
                gr = gy1[q * L:e]
                dr = dx1[q * L:e]
                for j in range(xr.shape[0]):
                    dr[j] = a[j] * gr[j] + bb[j] * (xr[j] - m[j]) + d[j]


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


def _wide(R, C):
    """(k, L, Q): rows per wide row, its length k*C and the number of wide rows."""
    k = max(1, min(-(-_WIDE // max(C, 1)), R))
    return k, k * C, -(-R // k)


def _nchunks(Q):
    return max(1, min(numba.get_num_threads(), Q))


def _tile(v, k, dtype):
    """A (C,) vector as the kernels take it: k copies end to end, fresh and writable."""
    return np.ascontiguousarray(np.tile(np.asarray(v, dtype=dtype).reshape(-1), k))


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
    k, L, Q = _wide(R, C)
    nch = _nchunks(Q)
    part = np.empty((nch, 2, C), np.float64)
    shift = np.ascontiguousarray(x2[0])  # sums of x - x[0]: no cancellation when |mean| >> std
    x1, y1, sh = x2.reshape(-1), y2.reshape(-1), _tile(shift, k, dt)
    _bn_fwd(x1, C, L, 0, nch, sh, part, sh, sh, sh, False, False, y1, y1)
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
        r1 = _to_rc(residual, perm, R, C).reshape(-1)
    else:
        r1 = y1  # never read: one compiled signature for both uses
    _bn_fwd(x1, C, L, 1, nch, sh, part, _tile(mean, k, dt), _tile(scale, k, dt),
            _tile(_chan(beta, keep_shape, C, dt, 0), k, dt), bool(relu), residual is not None, r1, y1)
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
    k, L, Q = _wide(R, C)
    vec = [_tile(np.asarray(v, dtype=dt).reshape(C), k, dt) for v in (mean, scale, offset)]
    nch = _nchunks(Q)
    _bn_fwd(x.reshape(-1), C, L, 1, nch, vec[0], np.empty((nch, 2, C), np.float64), vec[0], vec[1], vec[2],
            bool(relu), False, y.reshape(-1), y.reshape(-1))
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
    k, L, Q = _wide(R, C)
    nch = _nchunks(Q)
    part = np.empty((nch, 2, C), np.float64)
    m = _tile(_chan(mean, keep_shape, C, dt, 0), k, dt)
    x1, gy1, dx1 = x2.reshape(-1), gy2.reshape(-1), dx2.reshape(-1)
    _bn_bwd(x1, gy1, C, L, 0, nch, m, part, m, m, m, False, dx1)
    Sg, Sgx = part.sum(axis=0)
    inv = 1.0 / np.sqrt(_chan(var, keep_shape, C, np.float64, 0) + float(epsilon))
    g = _chan(gamma, keep_shape, C, np.float64, 1)
    dg = Sgx * inv
    dgamma = dg.astype(dt)
    dbeta = Sg.astype(dt)
    a = (g * inv).astype(dt)
    bb = ((2.0 * _chan(gvar, keep_shape, C, np.float64, 0) - g * inv * inv * dg) / R).astype(dt)
    d = ((_chan(gmean, keep_shape, C, np.float64, 0) - g * inv * Sg) / R).astype(dt)
    _bn_bwd(x1, gy1, C, L, 1, nch, m, part, _tile(a, k, dt), _tile(bb, k, dt), _tile(d, k, dt), bool(dsum),
            dx1)
    res = (_finish(dx2, x.shape, perm, out), dgamma.reshape(keep_shape), dbeta.reshape(keep_shape))
    if dsum:
        res += (part[:, 0].sum(axis=0).astype(dt).reshape(keep_shape),)
    return res

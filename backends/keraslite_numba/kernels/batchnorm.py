"""Batch normalisation (training mode) forward and backward, as Numba CPU kernels.

Fast path: the reduction axes are all axes but the last (channels-last BatchNormalization, and
BatchNormalization after Dense), so x is an (R, C) matrix with C contiguous. Any other set of
axes is handled by a transposed copy into that layout and back.

Per-channel sums are accumulated in float64, one partial per thread. The forward pass takes the
statistics in one read of x, shifted by x's first row (var = E[(x-s)^2] - E[x-s]^2 with s close to
the mean keeps the cancellation harmless), then normalises in a second pass; the backward pass
reads x and gy once for its two sums and once more to write dx.
"""
import numba
import numpy as np
from numba import njit, prange

__all__ = ["batchnorm_train_forward", "batchnorm_train_backward"]


_BLOCK = 64  # rows summed in x's dtype before each float64 flush (vectorised inner loops)


@njit(parallel=True, cache=True)
def _bn_fwd(x2, gamma, beta, eps, nchunks, y2, mean, var):
    R, C = x2.shape
    part = np.empty((nchunks, 2, C), np.float64)
    shift = np.empty(C, np.float64)
    for c in range(C):
        shift[c] = x2[0, c]
    for ch in prange(nchunks):
        a1 = np.empty(C, x2.dtype)
        a2 = np.empty(C, x2.dtype)
        sh = np.empty(C, x2.dtype)
        for c in range(C):
            sh[c] = shift[c]
        for c in range(C):
            part[ch, 0, c] = 0.0
            part[ch, 1, c] = 0.0
        r0 = ch * R // nchunks
        r1 = (ch + 1) * R // nchunks
        for b0 in range(r0, r1, _BLOCK):
            for c in range(C):
                a1[c] = 0
                a2[c] = 0
            for r in range(b0, min(b0 + _BLOCK, r1)):
                xr = x2[r]
                for c in range(C):
                    d = xr[c] - sh[c]
                    a1[c] += d
                    a2[c] += d * d
            for c in range(C):
                part[ch, 0, c] += a1[c]
                part[ch, 1, c] += a2[c]
    scale = np.empty(C, x2.dtype)
    m = np.empty(C, x2.dtype)
    b = np.empty(C, x2.dtype)
    for c in range(C):
        S1 = 0.0
        S2 = 0.0
        for ch in range(nchunks):
            S1 += part[ch, 0, c]
            S2 += part[ch, 1, c]
        d = S1 / R
        v = max(S2 / R - d * d, 0.0)
        mu = shift[c] + d
        mean[c] = mu
        var[c] = v
        m[c] = mu
        scale[c] = gamma[c] / np.sqrt(v + eps)
        b[c] = beta[c]
    for r in prange(R):
        xr = x2[r]
        yr = y2[r]
        for c in range(C):
            yr[c] = (xr[c] - m[c]) * scale[c] + b[c]


@njit(parallel=True, cache=True)
def _bn_bwd(x2, gy2, gamma, mean, var, gmean, gvar, eps, nchunks, dx2, dgamma, dbeta):
    R, C = x2.shape
    part = np.empty((nchunks, 2, C), np.float64)
    m = np.empty(C, x2.dtype)
    for c in range(C):
        m[c] = mean[c]
    for ch in prange(nchunks):
        a1 = np.empty(C, x2.dtype)
        a2 = np.empty(C, x2.dtype)
        for c in range(C):
            part[ch, 0, c] = 0.0
            part[ch, 1, c] = 0.0
        r0 = ch * R // nchunks
        r1 = (ch + 1) * R // nchunks
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
    a = np.empty(C, x2.dtype)
    bb = np.empty(C, x2.dtype)
    d = np.empty(C, x2.dtype)
    for c in range(C):
        Sg = 0.0
        Sgx = 0.0
        for ch in range(nchunks):
            Sg += part[ch, 0, c]
            Sgx += part[ch, 1, c]
        inv = 1.0 / np.sqrt(np.float64(var[c]) + eps)
        g = np.float64(gamma[c])
        dg = Sgx * inv
        dgamma[c] = dg
        dbeta[c] = Sg
        a[c] = g * inv
        bb[c] = (2.0 * np.float64(gvar[c]) - g * inv * inv * dg) / R
        d[c] = (np.float64(gmean[c]) - g * inv * Sg) / R
    for r in prange(R):
        xr = x2[r]
        gr = gy2[r]
        dr = dx2[r]
        for c in range(C):
            dr[c] = a[c] * gr[c] + bb[c] * (xr[c] - m[c]) + d[c]


def _layout(shape, axes):
    nd = len(shape)
    red = sorted({int(a) % nd for a in axes}) if nd else []
    if len(red) != len(tuple(axes)):
        raise ValueError(f"batchnorm: repeated axes {axes}")
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


def batchnorm_train_forward(x, gamma, beta, axes, epsilon, out=None):
    """Training-mode batch norm over ``axes``: returns (y, mean, var), mean/var keepdims, var
    biased. ``out`` (optional, C-contiguous, x's shape) receives y."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    x = x.astype(dt, copy=False)
    perm, keep_shape, R, C = _layout(x.shape, axes)
    if R == 0:
        raise ValueError("batchnorm_train_forward: empty reduction")
    x2 = _to_rc(x, perm, R, C)
    y2, out = _rc_out(out, x.shape, perm, R, C, dt)
    mean = np.empty(C, dt)
    var = np.empty(C, dt)
    _bn_fwd(x2, _chan(gamma, keep_shape, C, dt, 1), _chan(beta, keep_shape, C, dt, 0),
            float(epsilon), _nchunks(R), y2, mean, var)
    return _finish(y2, x.shape, perm, out), mean.reshape(keep_shape), var.reshape(keep_shape)


def batchnorm_train_backward(x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=None):
    """Gradients (dx, dgamma, dbeta) of batchnorm_train_forward, including the paths through the
    mean and var outputs (gmean, gvar: their incoming gradients, keepdims, or None).
    ``out`` (optional, C-contiguous, x's shape) receives dx."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    x = x.astype(dt, copy=False)
    perm, keep_shape, R, C = _layout(x.shape, axes)
    x2 = _to_rc(x, perm, R, C)
    gy2 = _to_rc(np.asarray(gy, dtype=dt), perm, R, C)
    dx2, out = _rc_out(out, x.shape, perm, R, C, dt)
    dgamma = np.empty(C, dt)
    dbeta = np.empty(C, dt)
    _bn_bwd(x2, gy2, _chan(gamma, keep_shape, C, dt, 1), _chan(mean, keep_shape, C, dt, 0),
            _chan(var, keep_shape, C, dt, 0), _chan(gmean, keep_shape, C, dt, 0),
            _chan(gvar, keep_shape, C, dt, 0), float(epsilon), _nchunks(R), dx2, dgamma, dbeta)
    return (_finish(dx2, x.shape, perm, out), dgamma.reshape(keep_shape),
            dbeta.reshape(keep_shape))

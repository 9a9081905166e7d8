"""2-D max and average pooling (channels-last, NHWC) and their backprops, as Numba CPU kernels.

All loops keep the channel axis innermost and contiguous so that they vectorise; forward passes
run one output row per parallel iteration, backward passes one image per parallel iteration (the
windows of one image may overlap, and each image's gradient is then written by one thread only).
Padding is never materialised: padded cells are simply skipped (they never win a max and do not
count in an average). The backprops can also apply relu's gradient (`mask`: dx * (mask > 0), the
declared pattern pool_backprop + relu_grad) to each row of dx once its last window is added, while
the row is still in cache; the flag is an argument, so one compiled kernel serves both uses.
"""
import numpy as np
from numba import njit, prange

from ..twins import twin
from .conv_geometry import _check_out

__all__ = ["max_pool2d", "max_pool2d_backprop", "avg_pool2d", "avg_pool2d_backprop"]


@twin("max_fwd")
@njit(parallel=True, cache=True)
def _max_fwd(x, ph, pw, sh, sw, pt, pl, y):
    """Max pooling, one output row per parallel iteration. Max and average are separate
    kernels: each compiles (about a second cold) only when it is used."""
    N, H, W, C = x.shape
    Ho = y.shape[1]
    Wo = y.shape[2]
    init = y.dtype.type(-np.inf)
    for t in prange(N * Ho):
        n = t // Ho
        oh = t - n * Ho
        h0 = oh * sh - pt
        ha = max(h0, 0)
        hb = min(h0 + ph, H)
        for ow in range(Wo):
            w0 = ow * sw - pl
            wa = max(w0, 0)
            wb = min(w0 + pw, W)
            yv = y[n, oh, ow]
            for c in range(C):
                yv[c] = init
            for h in range(ha, hb):
                for w in range(wa, wb):
                    xv = x[n, h, w]
                    for c in range(C):
                        v = xv[c]
                        yv[c] = v if v > yv[c] else yv[c]


@twin("avg_fwd")
@njit(parallel=True, cache=True)
def _avg_fwd(x, ph, pw, sh, sw, pt, pl, y):
    """Average pooling over the real (unpadded) cells of each window."""
    N, H, W, C = x.shape
    Ho = y.shape[1]
    Wo = y.shape[2]
    for t in prange(N * Ho):
        n = t // Ho
        oh = t - n * Ho
        h0 = oh * sh - pt
        ha = max(h0, 0)
        hb = min(h0 + ph, H)
        for ow in range(Wo):
            w0 = ow * sw - pl
            wa = max(w0, 0)
            wb = min(w0 + pw, W)
            yv = y[n, oh, ow]
            for c in range(C):
                yv[c] = 0
            for h in range(ha, hb):
                for w in range(wa, wb):
                    xv = x[n, h, w]
                    for c in range(C):
                        yv[c] += xv[c]
            cnt = (hb - ha) * (wb - wa)
            inv = y.dtype.type(1.0 / cnt) if cnt > 0 else y.dtype.type(np.nan)
            for c in range(C):
                yv[c] *= inv


@njit(cache=True)
def _zero_rows(dxn, r0, r1):
    W = dxn.shape[1]
    C = dxn.shape[2]
    zero = dxn.dtype.type(0)
    for h in range(r0, r1):
        for w in range(W):
            dv = dxn[h, w]
            for c in range(C):
                dv[c] = zero


@njit(cache=True)
def _mask_rows(dxn, mn, r0, r1):
    """relu_grad on rows r0:r1 of one image: d if m > 0 else d * 0 (as the elementwise op)."""
    W = dxn.shape[1]
    C = dxn.shape[2]
    zero = dxn.dtype.type(0)
    for h in range(r0, r1):
        for w in range(W):
            dv = dxn[h, w]
            mv = mn[h, w]
            for c in range(C):
                d = dv[c]
                dv[c] = d if mv[c] > zero else d * zero


@twin("max_bwd")
@njit(parallel=True, cache=True)
def _max_bwd(x, y, g, m, masked, ph, pw, sh, sw, pt, pl, dx):
    """Backprop of max pooling: each window's g goes to its first maximal cell in row-major
    order. One image per parallel iteration (windows overlap); dx rows are cleared just before
    their first use, while they are in cache, and (`masked`) multiplied by m > 0 once the last
    window covering them is added. The search is branch-free so it vectorises: `pend` holds
    each channel's g until its first maximal cell takes it, then 0 (float lanes only: a uint8
    flag per channel was ~15% slower)."""
    N, H, W, C = dx.shape
    Ho = g.shape[1]
    Wo = g.shape[2]
    zero = dx.dtype.type(0)
    for n in prange(N):
        pend = np.empty(C, dx.dtype)
        dxn = dx[n]
        zeroed = 0
        done = 0  # rows below this one are final (masked when asked)
        for oh in range(Ho):
            h0 = oh * sh - pt
            ha = max(h0, 0)
            hb = min(h0 + ph, H)
            if masked and ha > done:  # no later window reaches rows done:ha
                _mask_rows(dxn, m[n], done, min(ha, zeroed))
                done = ha
            if hb > zeroed:
                _zero_rows(dxn, zeroed, hb)
                zeroed = hb
            for ow in range(Wo):
                w0 = ow * sw - pl
                wa = max(w0, 0)
                wb = min(w0 + pw, W)
                gv = g[n, oh, ow]
                yv = y[n, oh, ow]
                for c in range(C):
                    pend[c] = gv[c]
                for h in range(ha, hb):
                    for w in range(wa, wb):
                        xv = x[n, h, w]
                        dv = dxn[h, w]
                        for c in range(C):
                            p = pend[c]
                            hit = xv[c] == yv[c]
                            dv[c] += p if hit else zero
                            pend[c] = zero if hit else p
        if H > zeroed:
            _zero_rows(dxn, zeroed, H)
        if masked and H > done:
            _mask_rows(dxn, m[n], done, H)


@twin("avg_bwd")
@njit(parallel=True, cache=True)
def _avg_bwd(g, m, masked, ph, pw, sh, sw, pt, pl, dx):
    """Backprop of average pooling, one image per parallel iteration (`masked`: as _max_bwd)."""
    N, H, W, C = dx.shape
    Ho = g.shape[1]
    Wo = g.shape[2]
    for n in prange(N):
        tmp = np.empty(C, dx.dtype)
        dxn = dx[n]
        zeroed = 0
        done = 0
        for oh in range(Ho):
            h0 = oh * sh - pt
            ha = max(h0, 0)
            hb = min(h0 + ph, H)
            if masked and ha > done:
                _mask_rows(dxn, m[n], done, min(ha, zeroed))
                done = ha
            if hb > zeroed:
                _zero_rows(dxn, zeroed, hb)
                zeroed = hb
            for ow in range(Wo):
                w0 = ow * sw - pl
                wa = max(w0, 0)
                wb = min(w0 + pw, W)
                gv = g[n, oh, ow]
                cnt = (hb - ha) * (wb - wa)
                if cnt == 0:
                    continue
                inv = dx.dtype.type(1.0 / cnt)
                for c in range(C):
                    tmp[c] = gv[c] * inv
                for h in range(ha, hb):
                    for w in range(wa, wb):
                        dv = dxn[h, w]
                        for c in range(C):
                            dv[c] += tmp[c]
        if H > zeroed:
            _zero_rows(dxn, zeroed, H)
        if masked and H > done:
            _mask_rows(dxn, m[n], done, H)


def _params(in_shape, pool_size, strides, padding):
    N, H, W, C = (int(s) for s in in_shape)
    ph, pw = (int(s) for s in pool_size)
    sh, sw = (int(s) for s in strides)
    (pt, pb), (pl, pr) = ((int(a), int(b)) for a, b in padding)
    if min(ph, pw, sh, sw) < 1 or min(pt, pb, pl, pr) < 0:
        raise ValueError(f"pooling: bad pool_size {pool_size}, strides {strides} or padding "
                         f"{padding}")
    Ho = max((H + pt + pb - ph) // sh + 1, 0)
    Wo = max((W + pl + pr - pw) // sw + 1, 0)
    return N, H, W, C, ph, pw, sh, sw, pt, pl, Ho, Wo


def _float(a):
    dt = a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return np.ascontiguousarray(a, dtype=dt)




def max_pool2d(x, pool_size, strides, padding=((0, 0), (0, 0)), out=None):
    """Max pooling of x (N, H, W, C); padded cells never win."""
    x = _float(x)
    N, H, W, C, ph, pw, sh, sw, pt, pl, Ho, Wo = _params(x.shape, pool_size, strides, padding)
    y = _check_out(out, (N, Ho, Wo, C), x.dtype)
    if y.size:
        _max_fwd(x, ph, pw, sh, sw, pt, pl, y)
    return y


def _mask(mask, shape, dtype, who):
    """(m, masked): the relu_grad mask as the kernels take it (x's own array when not masking)."""
    m = np.ascontiguousarray(mask, dtype=dtype)
    if m.shape != tuple(shape):
        raise ValueError(f"{who}: mask {m.shape} must have the input's shape {tuple(shape)}")
    return m


def max_pool2d_backprop(x, y, g, pool_size, strides, padding=((0, 0), (0, 0)), out=None, mask=None):
    """Gradient of max_pool2d: each window's g goes to the first maximal cell (row-major);
    with `mask` (x's shape), times (mask > 0) as relu_grad(dx, mask) computes it."""
    x = _float(x)
    y = np.ascontiguousarray(y, dtype=x.dtype)
    g = np.ascontiguousarray(g, dtype=x.dtype)
    N, H, W, C, ph, pw, sh, sw, pt, pl, Ho, Wo = _params(x.shape, pool_size, strides, padding)
    if y.shape != (N, Ho, Wo, C) or g.shape != y.shape:
        raise ValueError(f"max_pool2d_backprop: y {y.shape} and g {g.shape} must both be "
                         f"{(N, Ho, Wo, C)}")
    m = x if mask is None else _mask(mask, x.shape, x.dtype, "max_pool2d_backprop")
    dx = _check_out(out, x.shape, x.dtype)
    if dx.size:
        _max_bwd(x, y, g, m, mask is not None, ph, pw, sh, sw, pt, pl, dx)
    return dx


def avg_pool2d(x, pool_size, strides, padding=((0, 0), (0, 0)), out=None):
    """Average pooling of x (N, H, W, C), dividing by the number of real (unpadded) cells."""
    x = _float(x)
    N, H, W, C, ph, pw, sh, sw, pt, pl, Ho, Wo = _params(x.shape, pool_size, strides, padding)
    y = _check_out(out, (N, Ho, Wo, C), x.dtype)
    if y.size:
        _avg_fwd(x, ph, pw, sh, sw, pt, pl, y)
    return y


def avg_pool2d_backprop(g, input_shape, pool_size, strides, padding=((0, 0), (0, 0)), out=None, mask=None):
    """Gradient of avg_pool2d with respect to its input, of shape ``input_shape``; with `mask`
    (that shape), times (mask > 0) as relu_grad(dx, mask) computes it."""
    g = _float(g)
    N, H, W, C, ph, pw, sh, sw, pt, pl, Ho, Wo = _params(input_shape, pool_size, strides,
                                                         padding)
    if g.shape != (N, Ho, Wo, C):
        raise ValueError(f"avg_pool2d_backprop: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, C)}")
    dx = _check_out(out, (N, H, W, C), g.dtype)
    # unmasked, the kernel never reads m: dx stands in (one compiled signature for both uses)
    m = dx if mask is None else _mask(mask, dx.shape, dx.dtype, "avg_pool2d_backprop")
    if dx.size:
        _avg_bwd(g, m, mask is not None, ph, pw, sh, sw, pt, pl, dx)
    return dx

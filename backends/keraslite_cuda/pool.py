"""2-D max and average pooling (channels-last) as RawKernels, one thread per output cell forward
and one per input cell backward (a gather over the windows that contain the cell: no atomics,
deterministic). Semantics are those of keraslite/backend/xp/nn.py: padded cells never win a max
and are not counted in an average; the max gradient goes to the first maximal real cell of a
window in row-major order; NaN propagates through the max.

`run` is a kernel runner (rawkernels.CupyRunner on the GPU, hostsim.HostRunner in tests);
dtypes other than float32/float64 use the array-generic xp/nn.py code.
"""
from __future__ import annotations

import numpy as np

from keraslite.backend.xp import nn as _nn

from .rawkernels import SUPPORTED_DTYPES, KernelSpec

_DIMS = (("i32", "H"), ("i32", "W"), ("i32", "C"), ("i32", "Ho"), ("i32", "Wo"),
         ("i32", "kh"), ("i32", "kw"), ("i32", "sh"), ("i32", "sw"), ("i32", "pt"), ("i32", "pl"))

_OUT_CELL = """\
    const long long c = idx % C;
    long long t = idx / C;
    const int ow = (int)(t % Wo); t /= Wo;
    const int oh = (int)(t % Ho);
    const long long b = t / Ho;
    const int h0 = oh * sh - pt, w0 = ow * sw - pl;
"""

_IN_CELL = """\
    const long long c = idx % C;
    long long t = idx / C;
    const int w = (int)(t % W); t /= W;
    const int h = (int)(t % H);
    const long long b = t / H;
    const int hp = h + pt, wp = w + pl;
    /* windows o with o*s <= p <= o*s + k - 1 */
    const int oh_lo = hp - kh + 1 <= 0 ? 0 : (hp - kh + 1 + sh - 1) / sh;
    const int ow_lo = wp - kw + 1 <= 0 ? 0 : (wp - kw + 1 + sw - 1) / sw;
    const int oh_hi = hp / sh < Ho - 1 ? hp / sh : Ho - 1;
    const int ow_hi = wp / sw < Wo - 1 ? wp / sw : Wo - 1;
"""

MAX_POOL = KernelSpec("max_pool2d", (("in", "x"), ("out", "y")) + _DIMS, _OUT_CELL + """\
    T m = KL_NEG_INF;
    for (int i = 0; i < kh; ++i) {
      const int hh = h0 + i;
      if (hh < 0 || hh >= H) continue;
      for (int j = 0; j < kw; ++j) {
        const int ww = w0 + j;
        if (ww < 0 || ww >= W) continue;
        const T v = x[((b * H + hh) * W + ww) * C + c];
        if (v > m || v != v) m = v;   /* NaN propagates, as in NumPy's maximum */
      }
    }
    y[idx] = m;""")

MAX_POOL_BACKPROP = KernelSpec(
    "max_pool2d_backprop", (("in", "x"), ("in", "y"), ("in", "g"), ("out", "dx")) + _DIMS, _IN_CELL + """\
    T acc = 0;
    for (int oh = oh_lo; oh <= oh_hi; ++oh) {
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        const long long o = ((b * Ho + oh) * Wo + ow) * C + c;
        const T yv = y[o];
        const int h0 = oh * sh - pt, w0 = ow * sw - pl;
        bool found = false, mine = false;
        for (int i = 0; i < kh && !found; ++i) {
          const int hh = h0 + i;
          if (hh < 0 || hh >= H) continue;
          for (int j = 0; j < kw; ++j) {
            const int ww = w0 + j;
            if (ww < 0 || ww >= W) continue;
            if (x[((b * H + hh) * W + ww) * C + c] == yv) { found = true; mine = (hh == h && ww == w); break; }
          }
        }
        if (mine) acc += g[o];
      }
    }
    dx[idx] = acc;""")

AVG_POOL = KernelSpec("avg_pool2d", (("in", "x"), ("out", "y")) + _DIMS, _OUT_CELL + """\
    T s = 0;
    int count = 0;
    for (int i = 0; i < kh; ++i) {
      const int hh = h0 + i;
      if (hh < 0 || hh >= H) continue;
      for (int j = 0; j < kw; ++j) {
        const int ww = w0 + j;
        if (ww < 0 || ww >= W) continue;
        s += x[((b * H + hh) * W + ww) * C + c];
        ++count;
      }
    }
    y[idx] = s / (T)count;""")

AVG_POOL_BACKPROP = KernelSpec("avg_pool2d_backprop", (("in", "g"), ("out", "dx")) + _DIMS, _IN_CELL + """\
    T acc = 0;
    for (int oh = oh_lo; oh <= oh_hi; ++oh) {
      const int h0 = oh * sh - pt;
      const int rows = (h0 + kh < H ? h0 + kh : H) - (h0 > 0 ? h0 : 0);
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        const int w0 = ow * sw - pl;
        const int cols = (w0 + kw < W ? w0 + kw : W) - (w0 > 0 ? w0 : 0);
        acc += g[((b * Ho + oh) * Wo + ow) * C + c] / (T)(rows * cols);
      }
    }
    dx[idx] = acc;""")

KERNELS = (MAX_POOL, MAX_POOL_BACKPROP, AVG_POOL, AVG_POOL_BACKPROP)


def _dims(shape, pool_size, strides, padding):
    kernel, strides, padding, _, out = _nn._geometry(tuple(shape[1:3]), pool_size, strides, padding, (1, 1))
    n, h, w, c = (int(d) for d in shape)
    dims = (h, w, c, out[0], out[1], kernel[0], kernel[1], strides[0], strides[1], padding[0][0], padding[1][0])
    return (n, out[0], out[1], c), dims


def _fast(run, *arrays):
    if run is None:  # no kernel runner (CudaBackend.emulated() without a host compiler)
        return False
    dt = arrays[0].dtype
    return np.dtype(dt).name in SUPPORTED_DTYPES and all(a.dtype == dt for a in arrays) and arrays[0].ndim == 4


def max_pool2d(xp, run, x, pool_size, strides, padding):
    if not _fast(run, x):
        return _nn.max_pool2d(xp, x, pool_size, strides, padding)
    out_shape, dims = _dims(x.shape, pool_size, strides, padding)
    x = xp.ascontiguousarray(x)
    y = xp.empty(out_shape, dtype=x.dtype)
    run(MAX_POOL, x.dtype, y.size, x, y, *dims)
    return y


def max_pool2d_backprop(xp, run, x, y, g, pool_size, strides, padding):
    if not _fast(run, x, y, g):
        return _nn.max_pool2d_backprop(xp, x, y, g, pool_size, strides, padding)
    out_shape, dims = _dims(x.shape, pool_size, strides, padding)
    if tuple(y.shape) != out_shape or tuple(g.shape) != out_shape:
        raise ValueError(f"max_pool2d_backprop: y {tuple(y.shape)} and g {tuple(g.shape)} must have the "
                         f"pooled shape {out_shape}")
    x, y, g = (xp.ascontiguousarray(a) for a in (x, y, g))
    dx = xp.empty(x.shape, dtype=x.dtype)
    run(MAX_POOL_BACKPROP, x.dtype, dx.size, x, y, g, dx, *dims)
    return dx


def avg_pool2d(xp, run, x, pool_size, strides, padding):
    if not _fast(run, x):
        return _nn.avg_pool2d(xp, x, pool_size, strides, padding)
    out_shape, dims = _dims(x.shape, pool_size, strides, padding)
    x = xp.ascontiguousarray(x)
    y = xp.empty(out_shape, dtype=x.dtype)
    run(AVG_POOL, x.dtype, y.size, x, y, *dims)
    return y


def avg_pool2d_backprop(xp, run, g, input_shape, pool_size, strides, padding):
    """`input_shape` includes the batch axis here."""
    if not _fast(run, g):
        return _nn.avg_pool2d_backprop(xp, g, input_shape, pool_size, strides, padding)
    input_shape = tuple(int(d) for d in input_shape)
    out_shape, dims = _dims(input_shape, pool_size, strides, padding)
    if tuple(g.shape) != out_shape:
        raise ValueError(f"avg_pool2d_backprop: g {tuple(g.shape)} must have the pooled shape {out_shape}")
    g = xp.ascontiguousarray(g)
    dx = xp.empty(input_shape, dtype=g.dtype)
    run(AVG_POOL_BACKPROP, g.dtype, dx.size, g, dx, *dims)
    return dx

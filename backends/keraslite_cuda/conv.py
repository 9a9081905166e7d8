"""2-D convolution as im2col + one (batched) matrix product, written against an array module
`xp` so that tests/ runs every line here under NumPy.

Layouts follow keraslite/backend/xp/nn.py: x (N, H, W, Cin) channels-last, w (kh, kw, Cin/G,
Cout), explicit padding ((top, bottom), (left, right)), cross-correlation without a kernel flip.

Algorithms (each a function of the geometry, chosen per shape by `ConvTuner`):

* ``pointwise``: 1x1 kernel, stride 1, no padding, one group: the input already is the matrix.
* ``gather``: im2col as one `take` of the padded input with an index table built once per
  geometry; the backprop to the input gathers, for every input cell, the patch entries that saw
  it (a fixed-width table with a zero sentinel) and sums them: no atomics, deterministic.
* ``taps``: im2col / col2im as one strided copy per kernel tap (xp/nn.py's helpers), kh*kw
  small kernels instead of one gather.

The matrix products go through `matmul` (the backend passes its cuBLAS matmul with the TF32
setting). Index tables are computed on the host with NumPy and moved to the device once per
geometry through `to_device` (cached): no per-call transfers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from keraslite.backend.xp import nn as _nn

ALGORITHMS = {
    "forward": ("pointwise", "gather", "taps"),
    "backprop_input": ("pointwise", "gather", "taps"),
    "backprop_filter": ("pointwise", "gather", "taps"),
}


@dataclass(frozen=True)
class ConvGeometry:
    n: int
    h: int
    w: int
    cin: int
    kh: int
    kw: int
    cout: int
    groups: int
    strides: tuple
    padding: tuple
    dilation: tuple
    ho: int
    wo: int

    @property
    def cg(self) -> int:
        return self.cin // self.groups

    @property
    def padded(self) -> tuple:
        (pt, pb), (pl, pr) = self.padding
        return self.h + pt + pb, self.w + pl + pr

    @property
    def rows(self) -> int:
        """M: rows of the patch matrix (one per output pixel)."""
        return self.n * self.ho * self.wo

    @property
    def depth(self) -> int:
        """K: columns of a group's patch matrix."""
        return self.kh * self.kw * self.cg

    @property
    def is_pointwise(self) -> bool:
        return (self.kh == self.kw == 1 and self.strides == (1, 1) and self.groups == 1
                and not any(p for pair in self.padding for p in pair))

    def flops(self) -> int:
        return 2 * self.rows * self.depth * self.cout


def geometry(x_shape, w_shape, strides, padding, dilation, groups) -> ConvGeometry:
    """Validated geometry of a conv of an input of `x_shape` with a kernel of `w_shape`."""
    groups = _nn._conv_check(tuple(x_shape), tuple(w_shape), groups)
    kernel, strides, padding, dilation, out = _nn._geometry(
        tuple(x_shape[1:3]), tuple(w_shape[:2]), strides, padding, dilation)
    n, h, w, cin = (int(d) for d in x_shape)
    return ConvGeometry(n, h, w, cin, kernel[0], kernel[1], int(w_shape[3]), groups, strides,
                        padding, dilation, out[0], out[1])


# ------------------------------------------------------------------------- index tables

def im2col_index(g: ConvGeometry) -> np.ndarray:
    """Flat indices into the padded (Hp*Wp) plane, ordered (ho, wo, kh, kw): patch entry
    (oh, ow, i, j) reads padded cell (oh*sh + i*dh, ow*sw + j*dw)."""
    (sh, sw), (dh, dw) = g.strides, g.dilation
    _, wp = g.padded
    rows = (np.arange(g.ho) * sh)[:, None] + (np.arange(g.kh) * dh)[None, :]      # (ho, kh)
    cols = (np.arange(g.wo) * sw)[:, None] + (np.arange(g.kw) * dw)[None, :]      # (wo, kw)
    flat = rows[:, None, :, None] * wp + cols[None, :, None, :]                   # (ho, wo, kh, kw)
    return flat.reshape(-1).astype(np.int64)


def _axis_taps(size, pad_before, k, stride, dil, out):
    """For every real position p of one axis, the (window, tap) pairs with
    window*stride + tap*dil == p + pad_before; as (size, T) arrays plus a validity mask."""
    p = np.arange(size)[:, None] + pad_before                 # padded coordinate
    t = np.arange(k)[None, :]
    num = p - t * dil
    o = num // stride
    valid = (num % stride == 0) & (o >= 0) & (o < out)
    count = valid.sum(axis=1)
    T = max(int(count.max()) if size else 0, 1)
    order = np.argsort(~valid, axis=1, kind="stable")[:, :T]    # valid pairs first
    o = np.take_along_axis(np.where(valid, o, 0), order, axis=1)
    taps = np.take_along_axis(np.broadcast_to(t, valid.shape), order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    return o, taps, valid


def col2im_index(g: ConvGeometry) -> tuple[np.ndarray, int]:
    """Gather table for the backprop to the input: for input cell (b, h, w), the rows of the
    flattened patch-gradient matrix (N*Ho*Wo*kh*kw rows of C channels, plus one zero row at the
    end, the sentinel) whose sum is dx[b, h, w]. Returns (index of shape (N*H*W*T,), T)."""
    (sh, sw), (dh, dw), ((pt, _), (pl, _)) = g.strides, g.dilation, g.padding
    oh, th, vh = _axis_taps(g.h, pt, g.kh, sh, dh, g.ho)
    ow, tw, vw = _axis_taps(g.w, pl, g.kw, sw, dw, g.wo)
    per_image = g.ho * g.wo * g.kh * g.kw
    sentinel = g.n * per_image
    flat = ((oh[:, None, :, None] * g.wo + ow[None, :, None, :]) * g.kh
            + th[:, None, :, None]) * g.kw + tw[None, :, None, :]                # (H, W, Th, Tw)
    valid = vh[:, None, :, None] & vw[None, :, None, :]
    T = flat.shape[2] * flat.shape[3]
    flat = flat.reshape(1, g.h * g.w, T)
    valid = valid.reshape(1, g.h * g.w, T)
    base = (np.arange(g.n) * per_image)[:, None, None]
    idx = np.where(valid, flat + base, sentinel)
    return idx.reshape(-1).astype(np.int64), T


class IndexCache:
    """Index tables per geometry, made on the host once and kept on the device."""

    def __init__(self, to_device):
        self.to_device = to_device
        self._tables: dict = {}

    def get(self, kind: str, g: ConvGeometry):
        key = (kind, g)
        t = self._tables.get(key)
        if t is None:
            if kind == "im2col":
                t = self.to_device(im2col_index(g))
            else:
                idx, T = col2im_index(g)
                t = (self.to_device(idx), T)
            if len(self._tables) > 256:  # many shapes (e.g. variable image sizes): forget old ones
                self._tables.pop(next(iter(self._tables)))
            self._tables[key] = t
        return t


# ----------------------------------------------------------------------- the algorithms

def _pad(xp, x, g):
    return _nn._pad(xp, x, g.padding)


def filter_matrix(w, g):
    """(kh, kw, Cg, Cout) -> (G, kh*kw*Cg, Cout/G)."""
    return _nn._filter_matrix(w, g.groups)


def output_matrix(y, g):
    """(N, Ho, Wo, Cout) -> (G, N*Ho*Wo, Cout/G)."""
    return _nn._output_matrix(y, g.groups)


def im2col(xp, x, g: ConvGeometry, algo: str, index=None):
    """(G, N*Ho*Wo, kh*kw*Cg) patch matrix of x."""
    if algo == "pointwise":
        if not g.is_pointwise:
            raise ValueError("pointwise im2col needs a 1x1 kernel, stride 1, no padding, one group")
        return xp.ascontiguousarray(x).reshape(1, g.rows, g.cin)
    xpad = _pad(xp, xp.ascontiguousarray(x), g)
    if algo == "taps":
        return _nn._im2col(xp, xpad, (g.kh, g.kw), g.strides, g.dilation, (g.ho, g.wo), g.groups)
    if algo != "gather":
        raise ValueError(f"unknown im2col algorithm {algo!r}")
    hp, wp = g.padded
    if index is None:
        index = xp.asarray(im2col_index(g))
    patches = xp.take(xpad.reshape(g.n, hp * wp, g.cin), index, axis=1)   # (N, Ho*Wo*kh*kw, Cin)
    if g.groups == 1:
        return patches.reshape(1, g.rows, g.depth)
    p = patches.reshape(g.rows, g.kh * g.kw, g.groups, g.cg).transpose(2, 0, 1, 3)
    return xp.ascontiguousarray(p).reshape(g.groups, g.rows, g.depth)


def col2im(xp, dcols_fill, g: ConvGeometry, algo: str, dtype, index=None):
    """dx (N, H, W, Cin) from the patch-gradient matrix.

    `dcols_fill(out)` writes the (G, M, K) patch gradients into `out` (a contiguous array of that
    shape) or, called with None, returns them: the gather algorithm lets the matmul write straight
    into a buffer that carries the zero sentinel row."""
    if algo == "pointwise":
        if not g.is_pointwise:
            raise ValueError("pointwise col2im needs a 1x1 kernel, stride 1, no padding, one group")
        return dcols_fill(None).reshape(g.n, g.h, g.w, g.cin)
    if algo == "taps":
        hp, wp = g.padded
        dxpad = _nn._col2im(xp, dcols_fill(None), (g.n, hp, wp, g.cin), (g.kh, g.kw), g.strides,
                            g.dilation, (g.ho, g.wo), g.groups)
        return _nn._crop(xp, dxpad, g.padding, (g.h, g.w))
    if algo != "gather":
        raise ValueError(f"unknown col2im algorithm {algo!r}")
    if index is None:
        idx, T = col2im_index(g)
        index = (xp.asarray(idx), T)
    idx, T = index
    L = g.n * g.ho * g.wo * g.kh * g.kw            # rows of C channels, then the sentinel
    ext = xp.empty((L + 1, g.cin), dtype=dtype)
    ext[L] = 0
    if g.groups == 1:
        dcols_fill(ext[:L].reshape(1, g.rows, g.depth))
    else:
        d = dcols_fill(None).reshape(g.groups, g.rows, g.kh * g.kw, g.cg).transpose(1, 2, 0, 3)
        ext[:L].reshape(g.rows, g.kh * g.kw, g.groups, g.cg)[...] = d
    gathered = xp.take(ext, idx, axis=0)           # (N*H*W*T, C)
    return gathered.reshape(g.n, g.h, g.w, T, g.cin).sum(axis=3, dtype=dtype)


def _mm(xp, matmul, a, b, out=None):
    if matmul is None:
        return xp.matmul(a, b, out=out) if out is not None else xp.matmul(a, b)
    return matmul(a, b, out=out) if out is not None else matmul(a, b)


def conv2d(xp, x, w, g: ConvGeometry, algo="gather", matmul=None, index=None):
    cols = im2col(xp, x, g, algo, index)
    y = _mm(xp, matmul, cols, filter_matrix(w, g))          # (G, M, Cout/G)
    if g.groups == 1:
        y = y.reshape(g.n, g.ho, g.wo, g.cout)
    else:
        y = y.transpose(1, 0, 2).reshape(g.n, g.ho, g.wo, g.cout)
    return y.astype(x.dtype, copy=False)


def conv2d_backprop_input(xp, gy, w, g: ConvGeometry, algo="gather", matmul=None, index=None):
    gm = output_matrix(xp.ascontiguousarray(gy), g)
    wt = filter_matrix(w, g).transpose(0, 2, 1)              # (G, Cout/G, K)

    def fill(out):
        if out is None:
            return _mm(xp, matmul, gm, wt)
        _mm(xp, matmul, gm, wt, out=out)
        return out
    return col2im(xp, fill, g, algo, gy.dtype, index).astype(gy.dtype, copy=False)


def conv2d_backprop_filter(xp, x, gy, g: ConvGeometry, algo="gather", matmul=None, index=None):
    cols = im2col(xp, x, g, algo, index)
    dw = _mm(xp, matmul, cols.transpose(0, 2, 1), output_matrix(xp.ascontiguousarray(gy), g))
    dw = dw.reshape(g.groups, g.kh, g.kw, g.cg, g.cout // g.groups).transpose(1, 2, 3, 0, 4)
    return dw.reshape(g.kh, g.kw, g.cg, g.cout).astype(x.dtype, copy=False)


# ------------------------------------------------------------------ choosing an algorithm

def candidates(kind: str, g: ConvGeometry) -> list[str]:
    """The algorithms that apply to this geometry, in order of preference."""
    out = []
    for a in ALGORITHMS[kind]:
        if a == "pointwise" and not g.is_pointwise:
            continue
        out.append(a)
    return out


def heuristic(kind: str, g: ConvGeometry) -> str:
    """The choice without measuring: pointwise where it applies (no copy at all), else gather
    (one kernel instead of kh*kw)."""
    return candidates(kind, g)[0]


def _index_bytes(kind: str, g: ConvGeometry) -> int:
    """Device memory the gather algorithm's index table takes (int64 entries)."""
    if kind == "backprop_input":
        (sh, sw), (dh, dw), ((pt, _), (pl, _)) = g.strides, g.dilation, g.padding
        th = _axis_taps(g.h, pt, g.kh, sh, dh, g.ho)[0].shape[1]
        tw = _axis_taps(g.w, pl, g.kw, sw, dw, g.wo)[0].shape[1]
        return 8 * g.n * g.h * g.w * th * tw
    return 8 * g.ho * g.wo * g.kh * g.kw


class ConvTuner:
    """Chooses an algorithm per (kind, geometry, dtype).

    With `timer` (a callable(fn) -> seconds, which must synchronise the device) every candidate
    is run and timed once, after one warm-up run, the first time a shape is seen, and the fastest
    is kept; without it the heuristic decides. Set KERASLITE_CUDA_CONV_AUTOTUNE=0 to skip
    measuring."""

    def __init__(self, timer=None, max_index_bytes: int = 256 << 20):
        self.timer = timer
        self.max_index_bytes = max_index_bytes
        self.choices: dict = {}
        self.timings: dict = {}

    def allowed(self, kind: str, g: ConvGeometry) -> list[str]:
        out = candidates(kind, g)
        if "gather" in out and len(out) > 1 and _index_bytes(kind, g) > self.max_index_bytes:
            out.remove("gather")  # the table would cost more memory than it saves time
        return out

    def choose(self, kind: str, g: ConvGeometry, dtype, run) -> str:
        """`run(algo)` computes the op with that algorithm (used only for measuring)."""
        key = (kind, g, np.dtype(dtype).name)
        algo = self.choices.get(key)
        if algo is not None:
            return algo
        cands = self.allowed(kind, g)
        if self.timer is None or len(cands) == 1:
            algo = cands[0]
        else:
            times = {}
            for a in cands:
                run(a)                       # warm-up: compiles kernels, builds tables
                times[a] = self.timer(lambda: run(a))
            self.timings[key] = times
            algo = min(cands, key=lambda a: times[a])
        self.choices[key] = algo
        return algo


def wall_timer(fn) -> float:
    """A host timer (for NumPy); the CUDA backend uses CUDA events instead."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0

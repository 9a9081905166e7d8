"""Geometry and buffers of the 2-D convolution kernels (conv.py): argument checks, output
geometry, the filter's offset table, per-thread scratch buffers, the zero-padded input."""
import collections
import functools
import os
import threading

import numpy as np


def _pair(v, name):
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must have 2 entries, got {v}")
    return v


def _norm_padding(padding):
    p = tuple((int(a), int(b)) for a, b in padding)
    if len(p) != 2 or min(min(a) for a in p) < 0:
        raise ValueError(f"padding must be 2 non-negative (before, after) pairs, got {padding}")
    return p


def _geometry(in_shape, k_shape, strides, padding, dilation, groups):
    N, H, W, Cin = (int(s) for s in in_shape)
    kh, kw, Cig, Co = (int(s) for s in k_shape)
    sh, sw = _pair(strides, "strides")
    dh, dw = _pair(dilation, "dilation")
    (pt, pb), (pl, pr) = _norm_padding(padding)
    G = int(groups)
    if min(sh, sw, dh, dw, G) < 1:
        raise ValueError("strides, dilation and groups must be >= 1")
    if Cin % G or Co % G or Cin // G != Cig:
        raise ValueError(f"conv2d: input channels {Cin}, filter {k_shape} and groups={G} "
                         "do not match (need Cin % groups == 0, Cout % groups == 0, "
                         "filter in-channels == Cin // groups)")
    Hp, Wp = H + pt + pb, W + pl + pr
    Ho = (Hp - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wp - dw * (kw - 1) - 1) // sw + 1
    return N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, max(Ho, 0), max(Wo, 0), G


@functools.lru_cache(maxsize=256)
def _koff(kh, kw, Cig, dh, dw, Wp, Cx):
    i, j, c = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(Cig), indexing="ij")
    t = ((i * dh * Wp + j * dw) * Cx + c).ravel().astype(np.uint64)
    t.flags.writeable = False
    return t


_scratch_tls = threading.local()


def _scratch(key, shape, dtype):
    """A zero-initialised buffer kept per thread for reuse by calls with the same ``key``.

    Callers write the same cells on every call with a given key, so cells they never write stay
    zero. Reusing the buffer saves the page faults of a fresh large allocation (DESIGN.md).
    """
    cache = getattr(_scratch_tls, "bufs", None)
    if cache is None:
        cache = _scratch_tls.bufs = collections.OrderedDict()
    key = (key, tuple(shape), np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None:
        buf = cache[key] = np.zeros(shape, dtype)
        while len(cache) > _SCRATCH_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return buf


_SCRATCH_MAX = 8


def _padded(x, pt, pl, Hp, Wp):
    N, H, W, C = x.shape
    if Hp == H and Wp == W:
        return x
    # the key fixes the interior written below (H, W too: the same Hp, Wp and leading pads can hold
    # a smaller interior, and cells another shape wrote there would not be padding zeros)
    xp = _scratch(("pad", pt, pl, H, W), (N, Hp, Wp, C), x.dtype)
    xp[:, pt:pt + H, pl:pl + W, :] = x
    return xp


def _check_out(out, shape, dtype):
    if out is None:
        return np.empty(shape, dtype)
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {tuple(shape)}")
    return out


def _float_dtype(x):
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _valid_taps(O, k, s, d, p, L):
    """(O, 2): for each output index o, the range [i0, i1) of filter taps i whose input index
    o*s + i*d - p falls inside [0, L) (an empty range as (0, 0))."""
    lo = np.arange(O, dtype=np.int64) * s - p
    i0 = np.clip(-(lo // d), 0, k)  # ceil(-lo / d)
    i1 = np.clip((L - 1 - lo) // d + 1, 0, k)
    r = np.stack([i0, i1], axis=1)
    r[i1 <= i0] = 0
    return r


# the tables hold two int64 per output pixel of one image (pix, pos): 16 MiB for a 1024x1024
# output, so few geometries are kept
@functools.lru_cache(maxsize=32)
def tap_classes(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl, Cig, Cx):
    """The output pixels of one image grouped by which taps of the filter read inside the
    unpadded H x W input (the others would read padding zeros: skipped, not multiplied).

    Returns (koff, brow, pix, pos, cls), read-only:
    - cls (classes, 5) int64: per class (k0, K, p0, n, run): its taps are entries k0:k0+K of
      koff and brow, its pixels entries p0:p0+n of pix and pos; they read runs of `run`
      consecutive filter rows (K: every column of taps, or one row of taps; else a row's cut
      columns);
    - koff: a tap's element offset from a pixel's base in x (channel c of tap (i, j): (i*dh*W
      + j*dw)*Cx + c), in the filter's own row order, so a class sums a subsequence of a full
      pixel's terms; brow: the filter row (i*kw + j)*Cig + c each reads;
    - pix: output pixel indices oh*Wo + ow, grouped by class, row-major within one; pos: each
      pixel's base element offset ((oh*sh - pt)*W + ow*sw - pl)*Cx (negative near the top
      left: the taps that remain land inside)."""
    rows = _valid_taps(Ho, kh, sh, dh, pt, H)
    cols = _valid_taps(Wo, kw, sw, dw, pl, W)
    ur, rid = np.unique(rows, axis=0, return_inverse=True)
    uc, cid = np.unique(cols, axis=0, return_inverse=True)
    key = (rid.reshape(-1)[:, None] * len(uc) + cid.reshape(-1)[None, :]).ravel()
    pix = np.argsort(key, kind="stable")
    keys, starts, counts = np.unique(key[pix], return_index=True, return_counts=True)
    koff, brow, cls = [], [], []
    k0 = 0
    for kk, p0, n in zip(keys, starts, counts):
        (i0, i1), (j0, j1) = ur[kk // len(uc)], uc[kk % len(uc)]
        i, j, c = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), np.arange(Cig), indexing="ij")
        koff.append(((i * dh * W + j * dw) * Cx + c).ravel())
        brow.append(((i * kw + j) * Cig + c).ravel())  # the filter row each reads
        run = koff[-1].size if j1 - j0 == kw or i1 - i0 <= 1 else (j1 - j0) * Cig
        cls.append((k0, koff[-1].size, p0, n, max(run, 1)))
        k0 += koff[-1].size
    oh, ow = pix // max(Wo, 1), pix % max(Wo, 1)
    out = (np.concatenate(koff).astype(np.uint64), np.concatenate(brow).astype(np.int64),
           pix.astype(np.int64), (((oh * sh - pt) * W + ow * sw - pl) * Cx).astype(np.int64),
           np.array(cls, np.int64).reshape(-1, 5))
    for a in out:
        a.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def row_tables(K, k_step):
    """tap_classes' tables for a matrix product read as one-pixel images (kernels/dense.py): each
    row of `a` is an image whose K values lie k_step apart, one class with every tap."""
    out = (np.arange(K, dtype=np.uint64) * np.uint64(k_step), np.arange(K, dtype=np.int64),
           np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([[0, K, 0, 1, max(K, 1)]], np.int64))
    for a in out:
        a.flags.writeable = False  # read-only as every table: the kernel's one signature
    return out


# The Winograd kernels (conv_winograd.py, through conv.py's _winograd and _winograd_filter) run
# 3x3, stride-1, undilated, ungrouped float32 convolutions whose channel counts are whole
# vectors (16 covers both tiles), on outputs
# of at least WINOGRAD_MIN_SIDE pixels a side (smaller ones are mostly edge: the tap classes skip
# their padding taps, and the 2x2 tiles would waste more), with a transformed filter of at most
# WINOGRAD_MAX_FILTER elements (each block of tiles reads all of it). Here, without Numba, so that
# coldstart.py can tell at plan time which convolutions need the kernel.
# KERASLITE_WINOGRAD=0 turns it off (every convolution on the direct kernel: other roundings).
WINOGRAD = os.environ.get("KERASLITE_WINOGRAD", "1") != "0"
WINOGRAD_MIN_SIDE = 6
WINOGRAD_MAX_FILTER = 1 << 20


def winograd_fits(dtype, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo, nr) -> bool:
    """Whether a convolution (Cin -> Co channels, output Ho x Wo; nr: the tile's columns) runs on
    the Winograd kernel (conv.py's _winograd)."""
    Cop = -(-Co // nr) * nr
    return (WINOGRAD and np.dtype(dtype) == np.float32 and kh == kw == 3 and sh == sw == dh == dw == G == 1
            and Cin % 16 == 0 and Co % 16 == 0 and min(Ho, Wo) >= WINOGRAD_MIN_SIDE
            and 16 * Cin * Cop <= WINOGRAD_MAX_FILTER)


def winograd_node(node, nr) -> bool:
    """Whether a plan step's convolution, input gradient or filter gradient (its node, or the
    conv its fused chain starts from) runs on a Winograd kernel: coldstart.py's plan-time twin of
    the call's winograd_fits, on the node's static shapes (nr: the tile's columns)."""
    ops = ("conv", "conv_backprop_input", "conv_backprop_filter")
    for _ in range(6):  # a fused chain's node is its last (add, batch norm's affine, relu)
        if node.op in ops or not node.inputs:
            break
        node = node.inputs[0]
    if node.op not in ops or len(node.inputs) < 2:
        return False
    wshape, out = getattr(node.inputs[1], "shape", None), node.shape
    if node.op == "conv_backprop_filter":  # (x, g) -> the filter: the output is g's
        wshape, out = node.shape, getattr(node.inputs[1], "shape", None)
    if not wshape or len(wshape) != 4 or not out or len(out) != 4 or any(d is None for d in (*wshape, *out[1:])):
        return False
    kh, kw, cin, co = (int(d) for d in wshape)
    if node.op == "conv_backprop_input":  # the forward kernel's roles: g's channels in, x's out
        if 2 * cin <= nr:  # conv.py sends few input channels to col2im first
            return False
        cin, co = co, cin
    attrs = node.attrs
    strides, dilation = attrs.get("strides", ()), attrs.get("dilation", ())
    if len(strides) != 2 or len(dilation) != 2:
        return False
    return winograd_fits("float32", kh, kw, *strides, *dilation, attrs.get("groups", 1), cin, co, int(out[1]),
                         int(out[2]), nr)

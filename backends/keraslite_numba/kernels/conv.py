"""2-D convolution (channels-last, NHWC x HWIO) and its two backprops, as Numba CPU kernels.

Every convolution here is an implicit GEMM: no im2col buffer is built. A register-blocked
microkernel (``_mk_gather``/``_mk_rows``, MR rows x NR columns of the output held in vector
registers) reads its left operand straight from the input through a table of offsets (only the
taps that land inside it: conv_geometry.tap_classes) and its right operand from the filter or a
packed copy of it, so the only large arrays touched are the input and the output themselves.

- forward:          y[p, co] = sum_k x[base(p) + koff[k]] * wpack[k, co]          (gather kernel)
- backprop input:   the forward kernel on g (read as if padded; zeros inserted for strides > 1)
                    with the filter flipped and transposed: a "full" correlation
- backprop filter:  dw[k, co] = sum_p x[base(p) + koff[k]] * g[p, co]   (reduce kernel; one
                    partial per thread, summed at the end)

The kernels and their microkernels are in conv_kernels.py (speed notes there).
"""

import functools
import threading

import numba
import numpy as np

from . import conv_geometry
from .conv_col2im import _col2im
from .conv_geometry import _check_out, _float_dtype, _geometry, _koff, _padded, _scratch, row_tables, tap_classes
from ..twins import Twin
from .conv_kernels import MR, NR, _bwd_filter_kernel, _fwd_kernel
from .conv_pack import packed_filter
from .conv_winograd import _wino_filter_par, _wino_par

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]


_epilogue_tls = threading.local()


def epilogue(dt, Co, bias=None, affine=None, relu=False):
    """(ep, eflags): what the forward kernel applies to each output as it is stored,
    relu?(((y + bias?) - mean) * scale + offset?) with affine = (mean, scale, offset); ep holds
    the four vectors as rows, in a buffer kept per thread, dtype and width (not in _scratch,
    whose few slots hold the multi-MB padded inputs: one per layer width would evict them).
    Rows whose flag is off keep stale values: the kernel loads them and does not use them."""
    bufs = getattr(_epilogue_tls, "bufs", None)
    if bufs is None:
        bufs = _epilogue_tls.bufs = {}
    ep = bufs.get((np.dtype(dt).char, Co))
    if ep is None:
        ep = bufs[np.dtype(dt).char, Co] = np.zeros((4, Co), dt)
    flags = 0
    if bias is not None:
        ep[0] = bias
        flags |= 1
    if affine is not None:
        ep[1:] = affine
        flags |= 2
    return ep, flags | (4 if relu else 0)


def checked_epilogue(who, dt, Co, bias, affine, relu):
    """epilogue(dt, Co, bias, affine, relu) once bias and affine are checked: (Cout,) vectors,
    affine three of them (ValueError naming `who` and the vector otherwise)."""
    if affine is not None and len(affine) != 3:
        raise ValueError(f"{who}: affine must be (mean, scale, offset), got {len(affine)} entries")
    vectors = ([] if bias is None else [("bias", bias)]) + (
        [] if affine is None else list(zip(("mean", "scale", "offset"), affine)))
    for name, v in vectors:
        if np.shape(v) != (Co,):
            raise ValueError(f"{who}: {name} must have shape ({Co},), got {np.shape(v)}")
    return epilogue(dt, Co, bias, affine, relu)


# tiles per parallel work item in the forward kernel (TB*MR output pixels share a B panel)
_TB = 32


def conv2d(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1, out=None,
           bias=None, affine=None, relu=False):
    """y = conv2d(x, w): x (N, H, W, Cin), w (kh, kw, Cin//groups, Cout) -> (N, Ho, Wo, Cout).

    Cross-correlation (no flip) as in TensorFlow. ``padding`` is ((top, bottom), (left, right));
    padded cells are zeros. ``out`` (optional, C-contiguous) receives the result. Applied to
    each output as the kernel stores it, each operation rounded as on its own: ``bias``
    (optional, (Cout,)) added, then ``affine`` (optional: (mean, scale, offset), each (Cout,);
    batch normalisation at inference) as (y - mean) * scale + offset, then ``relu``.
    """
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, w.shape, strides, padding, dilation, groups)
    y = _check_out(out, (N, Ho, Wo, Co), dt)
    ep = checked_epilogue("conv2d", dt, Co, bias, affine, relu)
    if y.size == 0:
        return y
    if Cig == 0:
        y[...] = 0
        _finish(y, *ep)
        return y
    if winograd_fits(dt, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo):
        return _winograd(x, w, pt, pl, y, ep)
    return _forward(x, right_operand(w, G), (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho,
                                             Wo, G), y, ep)


def _finish(y, ep, flags):
    """The epilogue applied by NumPy (no products to compute), in the kernel's order."""
    if flags & 1:
        y += ep[0]
    if flags & 2:
        np.subtract(y, ep[1], out=y)
        np.multiply(y, ep[2], out=y)
        np.add(y, ep[3], out=y)
    if flags & 4:
        np.copyto(y, y * 0, where=~(y > 0))


# filters of up to this many elements are read in place (when their panels are whole): past it a
# panel's rows lie too far apart for the prefetcher (3x3x512x512: rows 2 KiB apart) and packing
# pays (measurements in docs/architecture.md, "Convolution kernels")
IN_PLACE_MAX = 1 << 20


def right_operand(w, G, flip=False, out=None):
    """What the forward kernel reads its right operand from, (array, group step, panel step, row
    step) in elements: the C-contiguous filter w (kh, kw, Cig, Co) itself, row k = (i, j, ci)
    holding every output channel, when each group's columns are whole NR-column panels (no
    copy: a Dense layer's weights change every step; read in place the MLP's 128x784x512 forward
    product took 0.49 ms against 0.53-0.60 with packing) and the filter has at most IN_PLACE_MAX
    elements; else its packed panels (conv_pack.packed_filter, into `out` when given)."""
    kh, kw, Cig, Co = w.shape
    K = kh * kw * (Co // G if flip else Cig)
    Cog = Co // G
    if not flip and Cog % NR == 0 and w.size <= IN_PLACE_MAX and w.flags.writeable:
        return w.reshape(1, K, Co), Cog, NR, Co
    wp = packed_filter(w, G, flip, NR, out=out)
    return wp, (wp.shape[0] // G) * K * NR, K * NR, NR


def _rows_per_job(ntiles, ncols):
    """Row tiles per job of the forward kernel (ntiles row tiles, ncols column panels): _TB,
    fewer when the output is too small to give each thread a few jobs."""
    TB = _TB
    while TB > 4 and -(-ntiles // TB) * ncols < 4 * numba.get_num_threads():
        TB //= 2
    return TB


# past this many tap-table entries (every class's taps times Cig) a convolution reads a
# zero-padded copy of its input instead, with every tap of every pixel (one class)
CLASS_ENTRIES_MAX = 1 << 18


@functools.lru_cache(maxsize=64)  # shares tap_classes' arrays; adds one small array per batch size
def _tiles(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl, Cig, Cx, N):
    """tap_classes' tables with their tiles for N images (with_tiles), or None when there are
    several classes and their tables pass CLASS_ENTRIES_MAX."""
    t = tap_classes(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl, Cig, Cx)
    if t[0].size > CLASS_ENTRIES_MAX and len(t[4]) > 1:
        return None
    return with_tiles(t, N)


def with_tiles(tables, N):
    """(koff, brow, pix, pos, cls) + (tstart,): the first row tile of each class and the total,
    for N images (a class's pixels of every image, MR to a tile): what _fwd_kernel takes."""
    tstart = np.concatenate([[0], np.cumsum(-(-N * tables[4][:, 3] // MR))]).astype(np.int64)
    tstart.flags.writeable = False
    return tuple(tables) + (tstart,)


def _forward(x, right, geometry, y, ep=None):
    """The forward kernel on x with the right operand `right` (right_operand) into y, with the
    epilogue `ep` (epilogue(); None: none). Taps that would read padding are skipped (tap
    classes), unless their tables grow too large: then it reads a zero-padded copy (geometry's
    Hp, Wp; None where none may be made: returns None)."""
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo, G) = geometry
    tables = _tiles(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl, Cig, Cin, N)
    if tables is None:
        if Hp is None:
            return None
        x = _padded(x, pt, pl, Hp, Wp)
        tables = _tiles(Hp, Wp, Ho, Wo, kh, kw, sh, sw, dh, dw, 0, 0, Cig, Cin, N)
    koff, brow, pix, pos, cls, tstart = tables
    Cog = Co // G
    TB = _rows_per_job(int(tstart[-1]), G * -(-Cog // NR))
    _fwd_kernel(x.reshape(-1), x[0].size, koff, brow, pix, pos, cls, tstart, *right, G, Cig, Cog, y.reshape(-1), N,
                Ho * Wo, TB, *(epilogue(y.dtype, G * Cog) if ep is None else ep))
    return y


# F(2x2, 3x3)'s filter transform G (U = G w G^T), per float dtype
_G = {np.dtype(d).char: np.array(((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)), d)
      for d in (np.float32, np.float64)}
_buffers_tls = threading.local()


def winograd_fits(dt, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo) -> bool:
    """conv_geometry.winograd_fits with this CPU's tile."""
    return conv_geometry.winograd_fits(dt, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo, NR)


def thread_buffers(key, make):
    """The buffers of `key` (kind, dtype, sizes, threads: the Winograd kernels', the fused
    convolution + pooling's) kept per thread of the caller, made by make() on first use (a
    fresh multi-MB array costs a page fault per 4 KiB on every call). Not in _scratch, whose few
    slots hold the padded inputs."""
    bufs = _buffers_tls.__dict__.setdefault("bufs", {})
    b = bufs.get(key)
    if b is None:
        b = bufs[key] = make()
    return b


def _forward_buffers(C, Co, dt, nth):
    """The transformed filter U (16, C, Cop) (its padding columns stay zero), _wino_par's
    per-thread blocks V and M, its offsets and zero epilogue."""
    Cop = -(-Co // NR) * NR
    # tiles per block: four row tiles, fewer when the block's V and M would pass ~512 KiB
    TB = MR * max(1, min(4, (512 << 10) // (16 * MR * (C + Cop) * np.dtype(dt).itemsize)))
    return (np.zeros((16, C, Cop), dt), np.empty((nth, 16 * TB * C), dt), np.empty((nth, 16 * TB * Cop), dt),
            np.arange(C, dtype=np.uint64), np.zeros((4, NR), dt))


def _filter_buffers(C, Co, dt, nch):
    """_wino_filter_par's per-chunk sums, blocks V (MR elements past the last block, which the
    padding rows ci >= C read) and Gt (zero columns past Co), its offsets and zero epilogue."""
    Cop, Cpad = -(-Co // NR) * NR, -(-C // MR) * MR
    TB = max(16, min(128, (512 << 10) // (16 * (C + Cop) * np.dtype(dt).itemsize)))
    return (np.empty((nch, 16 * Cpad * Cop), dt), np.empty((nch, 16 * TB * C + MR), dt),
            np.zeros((nch, 16 * TB * Cop), dt), np.arange(TB, dtype=np.uint64) * np.uint64(C),
            np.zeros((4, NR), dt))


def _input_tiles(x, pt, pl, th, tw):
    """(N*th*tw, 16, C): B^T d B of each 4x4 input tile of a th x tw grid (rows 2a - pt ...),
    as NumPy elementwise float ops in the order of conv_winograd._bt_d_b (exact IEEE operations:
    the kernel's bits)."""
    N, H, W, C = x.shape
    xp = np.zeros((N, 2 * th + 2, 2 * tw + 2, C), x.dtype)  # x in the tiles' frame, zeros outside
    r0, c0 = max(0, pt), max(0, pl)
    r1, c1 = min(2 * th + 2, pt + H), min(2 * tw + 2, pl + W)
    if r1 > r0 and c1 > c0:
        xp[:, r0:r1, c0:c1] = x[:, r0 - pt:r1 - pt, c0 - pl:c1 - pl]
    d = [[xp[:, i:i + 2 * th:2, j:j + 2 * tw:2] for j in range(4)] for i in range(4)]  # (N, th, tw, C)
    s = [[None] * 4 for _ in range(4)]
    for j in range(4):
        s[0][j], s[1][j], s[2][j], s[3][j] = (d[0][j] - d[2][j], d[1][j] + d[2][j], d[2][j] - d[1][j],
                                              d[1][j] - d[3][j])
    T = N * th * tw
    v = np.empty((T, 16, C), x.dtype)
    for k in range(4):
        a0, a1, a2, a3 = s[k]
        for l, t in enumerate((a0 - a2, a1 + a2, a2 - a1, a1 - a3)):
            v[:, 4 * k + l] = t.reshape(T, C)
    return v


def _grouped_products(v, b, ncols, out):
    """out[p, xi, c] = sum_k v[p, xi, k] * b[k, xi, c] for the 16 groups xi: a Winograd call's
    products as one call of the forward kernel, a grouped product whose rows are one-pixel
    images as dense.py reads them (the stand-ins): v (P, 16, K), b (K, 16, ncols), out (P, 16,
    ncols); each cell one chain of FMAs over k in order from zero, as _mk_gather sums it in the
    Winograd kernels."""
    P, _, K = v.shape
    tables = with_tiles(row_tables(K, 1), P)
    _fwd_kernel(v.reshape(-1), 16 * K, *tables, b.reshape(1, K, 16 * ncols), ncols, NR, 16 * ncols, 16, K, ncols,
                out.reshape(-1), P, 1, _rows_per_job(int(tables[-1][-1]), 16 * (ncols // NR)),
                *epilogue(out.dtype, 16 * ncols))
    return out


def _wino_standin(xf, N, H, W, C, pt, pl, Ho, Wo, U, Co, yf, ep, eflags, V, M, koff, gep):
    """_wino_par's serial stand-in (a first run, while a worker compiles it): bit for bit its
    results, with nothing of its own to compile. The transforms are NumPy's elementwise float
    ops in the kernel's order (exact IEEE operations, no FMA), the 16 products one call of the
    forward kernel (whose serial twin a convnet's first step compiles anyway) as a grouped 1x1
    convolution over all tiles at once (group xi: V[xi] @ U[xi]): its microkernel sums each
    product in the same order, from zero, with the same FMAs. Unblocked: slower, and only on a
    first run."""
    dt = yf.dtype
    Cop = U.shape[2]
    th, tw = (Ho + 1) // 2, (Wo + 1) // 2
    T = N * th * tw
    v = _input_tiles(xf.reshape(N, H, W, C), pt, pl, th, tw)
    m = _grouped_products(v, np.ascontiguousarray(U.transpose(1, 0, 2)), Cop, np.empty((T, 16, Cop), dt))
    m = m[:, :, :Co].reshape(N, th, tw, 16, Co)
    u = [None] * 8
    for l in range(4):
        u[l] = (m[..., l, :] + m[..., 4 + l, :]) + m[..., 8 + l, :]
        u[4 + l] = (m[..., 4 + l, :] - m[..., 8 + l, :]) - m[..., 12 + l, :]
    y = np.empty((N, 2 * th, 2 * tw, Co), dt)
    for k in range(2):
        a0, a1, a2, a3 = u[4 * k:4 * k + 4]
        y[:, k::2, 0::2] = (a0 + a1) + a2
        y[:, k::2, 1::2] = (a1 - a2) - a3
    y = y[:, :Ho, :Wo]
    if eflags & 1:
        y = y + ep[0]
    if eflags & 2:
        y = (y - ep[1]) * ep[2] + ep[3]
    if eflags & 4:
        y = np.where(y > 0, y, y * 0)
    yf.reshape(N, Ho, Wo, Co)[...] = y


_wino_kernel = Twin("conv_wino", _wino_par, seq=_wino_standin)


def _winograd(x, w, pt, pl, y, ep):
    """y = conv2d(x, w) with padding (pt, pl) at the top and left (y's shape fixes the rest),
    by Winograd F(2x2, 3x3): U = G w G^T per channel pair, then _wino_kernel."""
    N, H, W, C = x.shape
    _, Ho, Wo, Co = y.shape
    dt, nth = y.dtype, numba.get_num_threads()
    U, V, M, koff, gep = thread_buffers(("fwd", dt.char, C, Co, nth), lambda: _forward_buffers(C, Co, dt, nth))
    Gm = _G[dt.char]
    t = np.tensordot(Gm, w, axes=(1, 0))            # (a, j, C, Co)
    u = np.tensordot(Gm, t, axes=(1, 1))            # (b, a, C, Co)
    U[:, :, :Co] = u.transpose(1, 0, 2, 3).reshape(16, C, Co)
    ep, eflags = epilogue(y.dtype, Co) if ep is None else ep
    _wino_kernel(x.reshape(-1), N, H, W, C, pt, pl, Ho, Wo, U, Co, y.reshape(-1), ep, eflags, V, M, koff, gep)
    return y


def _gradient_tiles(g, th, tw, Cop):
    """(N*th*tw, 16, Cop): A g A^T of each 2x2 gradient tile (zeros past g's edge and in the
    columns past Co), as NumPy float ops in the order of conv_winograd._a_g_at."""
    N, Ho, Wo, Co = g.shape
    gp = np.zeros((N, 2 * th, 2 * tw, Co), g.dtype)
    gp[:, :Ho, :Wo] = g
    gv = [[gp[:, i::2, j::2] for j in range(2)] for i in range(2)]
    t = [(g0, g0 + g1, g0 - g1, -g1) for g0, g1 in ((gv[0][0], gv[1][0]), (gv[0][1], gv[1][1]))]
    T = N * th * tw
    out = np.zeros((T, 16, Cop), g.dtype)
    for i in range(4):
        r0, r1 = t[0][i], t[1][i]
        for j, v in enumerate((r0, r0 + r1, r0 - r1, -r1)):
            out[:, 4 * i + j, :Co] = v.reshape(T, Co)
    return out


def _wino_filter_standin(xf, gf, N, H, W, C, pt, pl, Ho, Wo, Co, part, V, Gt, koff, gep):
    """_wino_filter_par's stand-in on a first run, bit for bit: the tiles' transforms in NumPy
    (_input_tiles, _gradient_tiles), each chunk's sums one chain of FMAs over its tiles in order
    on the forward kernel (_grouped_products, the tiles as its inner index)."""
    nch = part.shape[0]
    Cop = Gt.shape[1] // (16 * koff.shape[0])
    Cpad = part.shape[1] // (16 * Cop)
    th, tw = (Ho + 1) // 2, (Wo + 1) // 2
    T = N * th * tw
    v = _input_tiles(xf.reshape(N, H, W, C), pt, pl, th, tw)
    gg = _gradient_tiles(gf.reshape(N, Ho, Wo, Co), th, tw, Cop)
    for j in range(nch):
        t0, t1 = j * T // nch, (j + 1) * T // nch
        m = _grouped_products(np.ascontiguousarray(v[t0:t1].transpose(2, 1, 0)), gg[t0:t1], Cop,
                              np.empty((C, 16, Cop), part.dtype))
        part[j].reshape(16, Cpad, Cop)[:, :C] = m.transpose(1, 0, 2)


_wino_filter_kernel = Twin("conv_wgrad", _wino_filter_par, seq=_wino_filter_standin)


def _winograd_filter(x, g, pt, pl, dw):
    """dw = conv2d_backprop_filter(x, g) for a 3x3 filter, stride 1, by Winograd F(3x3, 2x2):
    per chunk of gradient tiles (one per thread) the sums of (B^T d B) * (A g A^T) over its
    tiles (_wino_filter_kernel), then dw = G^T (their sum) G."""
    N, H, W, C = x.shape
    _, Ho, Wo, Co = g.shape
    dt = dw.dtype
    nch = numba.get_num_threads()
    part, V, Gt, koff, gep = thread_buffers(("wgrad", dt.char, C, Co, nch), lambda: _filter_buffers(C, Co, dt, nch))
    _wino_filter_kernel(x.reshape(-1), g.reshape(-1), N, H, W, C, pt, pl, Ho, Wo, Co, part, V, Gt, koff, gep)
    Cop = Gt.shape[1] // (16 * koff.shape[0])
    m = part.reshape(nch, 4, 4, -1, Cop)[:, :, :, :C, :Co].sum(axis=0)
    Gm = _G[dt.char]
    t = np.tensordot(Gm, m, axes=(0, 0))                 # (i, l, C, Co)
    dw[...] = np.tensordot(t, Gm, axes=(1, 0)).transpose(0, 3, 1, 2)
    return dw


def conv2d_backprop_input(g, w, input_shape, strides=(1, 1), padding=((0, 0), (0, 0)),
                          dilation=(1, 1), groups=1, out=None):
    """Gradient of conv2d with respect to x, given g = dL/dy; returns dx of ``input_shape``.

    Computed as the forward kernel applied to g (stride 1) with the filter flipped and its in/out
    channels swapped: dx[h] = sum_i q[h + i*dh] * w[kh-1-i], where q is g with sh-1 zero rows
    inserted between its rows (likewise columns) and shifted by dh*(kh-1) - pt. With stride 1 q
    is g itself read as if padded (its zeros are skipped taps: no copy). For strides > 1 the
    inserted zeros are a copy and cost sh*sw times the arithmetic of a direct scatter; in
    exchange no separate kernel has to be compiled. A strided 1x1 filter skips them (its
    products are made on g and put in place); few input channels go through col2im.
    """
    dt = _float_dtype(g)
    g = np.ascontiguousarray(g, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(input_shape, w.shape, strides, padding, dilation, groups)
    if g.shape != (N, Ho, Wo, Co):
        raise ValueError(f"conv2d_backprop_input: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, Co)}")
    dx = _check_out(out, (N, H, W, Cin), dt)
    if dx.size == 0:
        return dx
    if g.size == 0 or Cig == 0:
        dx[...] = 0
        return dx
    Cog = Co // G
    if G == 1 and 2 * Cin <= NR:
        return _backprop_input_col2im(g, w, dx, sh, sw, dh, dw, pt, pl)
    bt, bl = dh * (kh - 1) - pt, dw * (kw - 1) - pl
    Hq, Wq = H + dh * (kh - 1), W + dw * (kw - 1)
    # output rows oh land on q rows oh*sh + bt; keep those inside [0, Hq)
    oh0 = max(0, -(bt // sh)) if bt < 0 else 0
    oh1 = min(Ho, (Hq - 1 - bt) // sh + 1)
    ow0 = max(0, -(bl // sw)) if bl < 0 else 0
    ow1 = min(Wo, (Wq - 1 - bl) // sw + 1)
    if oh1 <= oh0 or ow1 <= ow0:
        dx[...] = 0
        return dx
    if winograd_fits(dt, kh, kw, sh, sw, dh, dw, G, Co, Cin, H, W):
        # the full correlation with the flipped filter, in/out channels swapped
        return _winograd(g, w[::-1, ::-1].transpose(0, 1, 3, 2), bt, bl, dx, None)
    wp = right_operand(w, G, flip=True)
    if sh == sw == 1:
        # the forward kernel on g itself, read as if padded by (bt, bl): its tap classes skip
        # the taps that would read q's zeros (a 3x3 filter's 15x15 g: 22% of the products)
        y = _forward(g, wp, (N, Ho, Wo, Co, kh, kw, Cog, G * Cig, 1, 1, dh, dw, bt, bl, None, None, H, W, G), dx, None)
        if y is not None:
            return y
    # where g's pixels oh0:oh1, ow0:ow1 land: on q, or (a strided 1x1 filter) on dx itself
    r0, c0 = oh0 * sh + bt, ow0 * sw + bl
    spots = (slice(None), slice(r0, r0 + (oh1 - oh0 - 1) * sh + 1, sh), slice(c0, c0 + (ow1 - ow0 - 1) * sw + 1, sw))
    if (sh, sw, bt, bl, oh0, ow0, oh1, ow1, Hq, Wq) == (1, 1, 0, 0, 0, 0, Ho, Wo, Ho, Wo):
        q = g
    elif kh == kw == 1:
        # each dx pixel takes at most one g pixel: the products are made on g itself (not on
        # sh*sw times as many inserted zeros), then put in place; each is the same ordered sum
        # over the output channels as on the zero-inserted q
        t = _scratch(("bin1x1",), (N, Ho, Wo, Cin), dt)
        _forward(g, wp, _geometry(g.shape, (1, 1, Cog, G * Cig), (1, 1), ((0, 0), (0, 0)), (1, 1), G), t, None)
        dx[...] = 0
        dx[spots] = t[:, oh0:oh1, ow0:ow1, :]
        return dx
    else:
        q = _scratch(("bin", sh, sw, bt, bl, oh0, ow0, oh1, ow1), (N, Hq, Wq, Co), dt)
        q[spots] = g[:, oh0:oh1, ow0:ow1, :]
    # the forward kernel on q with w2[i, j, co, g*Cig + ci] = w[kh-1-i, kw-1-j, ci, g*Cog + co]
    geometry = _geometry(q.shape, (kh, kw, Cog, G * Cig), (1, 1), ((0, 0), (0, 0)), (dh, dw), G)
    return _forward(q, wp, geometry, dx, None)


def _backprop_input_col2im(g, w, dx, sh, sw, dh, dw, pt, pl):
    """Backprop input for few input channels (e.g. an RGB first layer): the forward-kernel route
    would fill only Cin of the NR columns of each register tile. Instead cols = g @ w^T, one
    1x1 convolution with kh*kw*Cin output columns (nearly full tiles), then a col2im scatter."""
    kh, kw, Cin, Co = w.shape
    K = kh * kw * Cin
    N, Ho, Wo, _ = g.shape
    wt = np.ascontiguousarray(w.reshape(K, Co).T).reshape(1, 1, Co, K)
    # images per pass: the cols buffer stays under _COLS_BYTES (at least one image)
    step = max(1, min(N, _COLS_BYTES // max(1, Ho * Wo * K * g.dtype.itemsize)))
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        cols = _scratch("cols", (n1 - n0, Ho, Wo, K), g.dtype)
        conv2d(g[n0:n1], wt, out=cols)
        _col2im(cols, kh, kw, sh, sw, dh, dw, pt, pl, dx[n0:n1])
    return dx


_COLS_BYTES = 32 << 20


def _panels_per_job(ncols, nchunks, threads):
    """Column panels per job of the filter gradient's kernel: all of them per chunk of rows,
    else an even share per thread."""
    return ncols if nchunks > 1 else -(-ncols // threads)


def conv2d_backprop_filter(x, g, filter_shape, strides=(1, 1), padding=((0, 0), (0, 0)),
                           dilation=(1, 1), groups=1, out=None):
    """Gradient of conv2d with respect to w, given g = dL/dy; returns dw of ``filter_shape``."""
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    g = np.ascontiguousarray(g, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, filter_shape, strides, padding, dilation, groups)
    if g.shape != (N, Ho, Wo, Co):
        raise ValueError(f"conv2d_backprop_filter: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, Co)}")
    dwt = _check_out(out, (kh, kw, Cig, Co), dt)
    if dwt.size == 0:
        return dwt
    if g.size == 0:
        dwt[...] = 0
        return dwt
    if winograd_fits(dt, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo):
        return _winograd_filter(x, g, pt, pl, dwt)
    Cog = Co // G
    K = kh * kw * Cig
    nblk = -(-Cog // NR)
    P = N * Ho * Wo
    if Cog % NR:
        # the microkernel reads NR columns of g at a time: pad each group's columns
        # kept per thread (_scratch): the padding columns are never written, so stay zero
        g3 = _scratch(("g3",), (P, G, nblk * NR), dt)
        g3[:, :, :Cog] = g.reshape(P, G, Cog)
        g3 = g3.reshape(P, G * nblk, NR)
    else:
        g3 = g.reshape(P, G * nblk, NR)
    xp = _padded(x, pt, pl, Hp, Wp)
    R = N * Ho
    rowbase = ((np.arange(N, dtype=np.uint64)[:, None] * np.uint64(Hp)
                + np.arange(Ho, dtype=np.uint64)[None, :] * np.uint64(sh))
               * np.uint64(Wp * Cin)).reshape(-1)
    threads = numba.get_num_threads()
    # enough column panels to share out: each thread sums every row for its panels (no
    # partials to add up); else the rows are cut into one chunk per thread, summed at the end
    nchunks = 1 if G * nblk >= 2 * threads else max(1, min(threads, R))
    RB = max(1, 256 // max(Wo, 1))
    PG = _panels_per_job(G * nblk, nchunks, threads)
    # one partial of one group has dw's own layout: the kernel (which writes every cell) writes dw
    direct = nchunks == 1 and G == 1
    part = dwt.reshape(-1) if direct else np.empty(nchunks * G * K * Cog, dt)
    _bwd_filter_kernel(xp.reshape(-1), rowbase, _koff(kh, kw, Cig, dh, dw, Wp, Cin), np.uint64(sw * Cin), g3,
                       G, Cig, Cog, Wo, part, nchunks, RB, PG)
    if not direct:
        # the partials are (nchunks, G, kh, kw, Cig, Cog); dw is (kh, kw, Cig, G*Cog): summed
        # straight into it (no reduced copy beside the partials)
        np.sum(part.reshape(nchunks, G, kh, kw, Cig, Cog), axis=0,
               out=dwt.reshape(kh, kw, Cig, G, Cog).transpose(3, 0, 1, 2, 4))
    return dwt

"""2-D max and average pooling (channels-last, NHWC) and their backprops, as Numba CPU kernels.

All loops keep the channel axis innermost and contiguous so that they vectorise; forward passes
run one output row per parallel iteration, backward passes one image per parallel iteration (the
windows of one image may overlap, and each image's gradient is then written by one thread only).
Padding is never materialised: padded cells are simply skipped (they never win a max and do not
count in an average). The backprops can also apply relu's gradient (`mask`: dx * (mask > 0), the
declared pattern pool_backprop + relu_grad) to each row of dx once its last window is added, while
the row is still in cache; the flag is an argument, so one compiled kernel serves both uses.
"""
import platform

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from ..twins import twin
from .conv_geometry import _check_out
from .conv_kernels import _loop, _vec_width, _vload, _vstore

__all__ = ["max_pool2d", "max_pool2d_backprop", "avg_pool2d", "avg_pool2d_backprop"]


def _window_cells(xp, dh, dw, sh, sw, Ho, Wo):
    """Cell (dh, dw) of every window: xp[:, oh*sh + dh, ow*sw + dw] for all oh, ow (a view)."""
    return xp[:, dh:dh + sh * (Ho - 1) + 1:sh, dw:dw + sw * (Wo - 1) + 1:sw]


def _spread(a, pt, pl, rows, cols, fill):
    """a (N, H, W, C) inside a (N, rows, cols, C) array of `fill`, offset by (pt, pl): every
    window's cells, padding included, lie in it (rows of a beyond it are left out)."""
    N, H, W, C = a.shape
    out = np.full((N, max(rows, pt + H), max(cols, pl + W), C), fill, a.dtype)
    out[:, pt:pt + H, pl:pl + W] = a
    return out


def _max_fwd_numpy(x, ph, pw, sh, sw, pt, pl, y):
    """The serial stand-in of _max_fwd (nothing to compile), bit for bit: `v if v > y else y`
    from -inf over each window's cells in column-major order (the kernel's column maxima, then
    their maximum from the left), for all windows at once. Padded cells are NaN here, and
    `NaN > y` is False: skipped, as the kernel skips them. Comparisons and selections are
    exact, and the first of equal cells (only +-0 differ in bits) in that order is kept."""
    N, H, W, C = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    xp = _spread(x, pt, pl, sh * (Ho - 1) + ph, sw * (Wo - 1) + pw, np.nan)
    acc = np.full(y.shape, -np.inf, y.dtype)
    for dw in range(pw):
        for dh in range(ph):
            v = _window_cells(xp, dh, dw, sh, sw, Ho, Wo)
            np.copyto(acc, v, where=v > acc)
    y[...] = acc


# The max pool's passes are flat loops over whole rows (W*C values), each reading its operands
# through slices so that every index is the loop's own counter: an offset index (j + k*C) makes
# Numba check it for wraparound, which kept the loop scalar. Each pass also writes an array other
# than the one it compares with: `a[j] = v if v > a[j] else a[j]` compiles to a masked store
# (vmaskmovps under AVX2, several times slower), `d[j] = v if v > a[j] else a[j]` to vmaxps.
@njit(cache=True)
def _max_into(a, v, d):
    """d = v where v > a, else a (NaN in v never wins)."""
    for j in range(d.shape[0]):
        p = a[j]
        q = v[j]
        d[j] = q if q > p else p


@njit(cache=True)
def _max_floor(v, lo, d):
    """d = v where v > lo, else lo: the first cell's comparison with the initial -inf."""
    for j in range(d.shape[0]):
        q = v[j]
        d[j] = q if q > lo else lo


@njit(inline="always")
def _max_row(x2, first, H, h0, ph, pw, sw, pl, W, C, buf, yr):
    """Output row yr (Wo, C) of max pooling over the rows first .. first+H-1 of x2 (one image's
    rows of W*C values), its windows' top row h0 (relative to `first`; negative in the padding),
    separably: the column maxima of the window's rows (V, one flat pass per row), then, for
    windows wholly inside the row, the maxima of pw adjacent columns (P, one flat pass per
    column offset), copied out per window; windows cut by the padding take their columns of V
    one by one. V is never NaN (-inf where every cell is), so the result is that of comparing
    the cells in column-major order. buf: (4, W*C) scratch (V and P alternate in rows 0-2; row
    3: cut windows). Shared by _max_fwd and the fused convolution + pooling (conv_pool.py)."""
    Wo = yr.shape[0]
    init = yr.dtype.type(-np.inf)
    ha = max(h0, 0)
    hb = min(h0 + ph, H)
    vi = 0
    if hb > ha:
        _max_floor(x2[first + ha], init, buf[0])
        for h in range(ha + 1, hb):
            _max_into(buf[vi], x2[first + h], buf[1 - vi])
            vi = 1 - vi
    else:
        buf[0, :] = init
    V = buf[vi]
    pi = vi
    if pw <= W:
        for k in range(1, pw):
            di = 2 if pi != 2 else 1 - vi
            L = (W - k) * C
            _max_into(buf[pi, :L], V[k * C:k * C + L], buf[di, :L])
            pi = di
    P = buf[pi]
    E = buf[3]
    for ow in range(Wo):
        w0 = ow * sw - pl
        yv = yr[ow]
        if w0 >= 0 and w0 + pw <= W:
            yv[:] = P[w0 * C:w0 * C + C]
            continue
        wa = max(w0, 0)
        wb = min(w0 + pw, W)
        if wb <= wa:
            yv[:] = init
            continue
        yv[:] = V[wa * C:wa * C + C]
        for w in range(wa + 1, wb):  # alternating between E and yv, as above
            if (w - wa) % 2 == 1:
                _max_into(yv, V[w * C:w * C + C], E[:C])
            else:
                _max_into(E[:C], V[w * C:w * C + C], yv)
        if (wb - wa) % 2 == 0:
            yv[:] = E[:C]


@twin("max_fwd", seq=_max_fwd_numpy)
@njit(parallel=True, cache=True)
def _max_fwd(x, ph, pw, sh, sw, pt, pl, y):
    """Max pooling, one output row per parallel iteration (_max_row). Max and average are
    separate kernels: each compiles (about a second cold) only when it is used."""
    N, H, W, C = x.shape
    Ho = y.shape[1]
    x2 = x.reshape(N * H, W * C)
    for t in prange(N * Ho):
        buf = np.empty((4, W * C), y.dtype)
        n = t // Ho
        oh = t - n * Ho
        _max_row(x2, n * H, H, oh * sh - pt, ph, pw, sw, pl, W, C, buf, y[n, oh])


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


# the empty-asm barrier's register constraint is x86's; elsewhere (no AVX2 masked stores) the
# select goes to LLVM as it is
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _one_float_dtype(*tys) -> bool:
    """Whether the intrinsics' arguments are 1-D arrays of one float dtype."""
    return all(isinstance(t, types.Array) and t.ndim == 1 and isinstance(t.dtype, types.Float)
               and t.dtype == tys[0].dtype for t in tys)


def _lanes(cell):
    """An intrinsic's codegen running cell(builder, ptrs, at, load, store, zero) over the n
    elements of its 1-D arguments (n: the first one's length; ptrs: their data): at vectors of
    this CPU's width, then one element at a time for the tail; load/store/zero are the vector
    or scalar ones accordingly."""
    def codegen(context, builder, signature, args):
        ft = context.get_data_type(signature.args[0].dtype)
        L = _vec_width(ft)
        vt = ir.VectorType(ft, L)
        i64 = ir.IntType(64)
        arrs = [context.make_array(t)(context, builder, a) for t, a in zip(signature.args, args)]
        ptrs = [a.data for a in arrs]
        n = builder.extract_value(arrs[0].shape, 0)
        nvec = builder.sdiv(n, ir.Constant(i64, L))
        align = 4 if isinstance(ft, ir.FloatType) else 8
        with _loop(builder, ir.Constant(i64, 0), nvec) as i:
            cell(builder, ptrs, builder.mul(i, ir.Constant(i64, L)), lambda ptr: _vload(builder, ptr, vt, align),
                 lambda v, ptr: _vstore(builder, v, ptr, vt, align), ir.Constant(vt, None))
        with _loop(builder, builder.mul(nvec, ir.Constant(i64, L)), n) as c:
            cell(builder, ptrs, c, builder.load, builder.store, ir.Constant(ft, 0))
        return context.get_dummy_value()
    return codegen


@intrinsic
def _relu_mask(typingctx, dv, mv):
    """dv = d if m > 0 else d * 0 elementwise (relu_grad, in place), in explicit vectors: the
    same fcmp, fmul and select as the loop `dv[j] = d if mv[j] > 0 else d * 0`, which LLVM
    stores with masked stores (only the lanes where m <= 0 change), `vmaskmovps` under AVX2:
    microcoded on AMD's cores, the mask pass of the convnet's first pool 0.63 ms against 0.11
    with AVX-512's masked stores. dv, mv: 1-D, contiguous, one float dtype."""
    if not _one_float_dtype(dv, mv):
        return None

    def cell(builder, ptrs, at, load, store, zero):
        d, m = (load(builder.gep(ptr, [at])) for ptr in ptrs)
        # d passed through an empty asm (x86: "v", any vector register): LLVM cannot see that the
        # kept lanes store the value just loaded from the same address, so it keeps one plain store
        kept = builder.asm(ir.FunctionType(d.type, [d.type]), "", "=v,0", [d], False) if _X86 else d
        store(builder.select(builder.fcmp_ordered(">", m, zero), kept, builder.fmul(d, zero)),
              builder.gep(ptrs[0], [at]))

    return types.void(dv, mv), _lanes(cell)


@njit(cache=True)
def _mask_rows(dxn, mn, r0, r1):
    """relu_grad on rows r0:r1 of one image: d if m > 0 else d * 0 (as the elementwise op)."""
    for h in range(r0, r1):
        _relu_mask(dxn[h].reshape(-1), mn[h].reshape(-1))


@intrinsic
def _take_first_max(typingctx, xv, yv, pend, dv):
    """One cell of a max-pooling window, every channel: dv += pend where xv == yv, and pend = 0
    there (the window's g taken by its first maximal cell), in explicit vectors. As the loop
    `dv[c] += p if x == y else 0; pend[c] = 0 if x == y else p` computes it, bit for bit, but
    with no overlap checks: LLVM's vectorisation of that loop tested the four arrays for
    overlap on every cell, about as much work as the cell itself for 32 channels (and twice
    the vector iterations with AVX2). xv, yv, pend, dv: 1-D, contiguous, one float dtype."""
    if not _one_float_dtype(xv, yv, pend, dv):
        return None

    def cell(builder, ptrs, at, load, store, zero):
        x, y, p, d = (load(builder.gep(ptr, [at])) for ptr in ptrs)
        hit = builder.fcmp_ordered("==", x, y)
        store(builder.fadd(d, builder.select(hit, p, zero)), builder.gep(ptrs[3], [at]))
        store(builder.select(hit, zero, p), builder.gep(ptrs[2], [at]))

    return types.void(xv, yv, pend, dv), _lanes(cell)


def _max_bwd_numpy(x, y, g, m, masked, ph, pw, sh, sw, pt, pl, dx):
    """The serial stand-in of _max_bwd (nothing to compile), bit for bit: its branch-free search
    for all windows at once (each window's g taken by its first cell equal to the max, padded
    cells NaN: never equal), then the additions into dx. A cell of dx receives from the windows
    covering it in the kernel's order, windows in row-major order; the later of two windows
    covering a cell reaches it through a smaller offset (dh, dw) in the window, so adding the
    offsets' contributions in decreasing (dh, dw) order adds them in that same order (the
    contributions of one offset land on distinct cells). Each window adds to each of its cells
    what the kernel adds there: g at the cell that takes it, zero elsewhere."""
    N, H, W, C = dx.shape
    Ho, Wo = g.shape[1], g.shape[2]
    rows, cols = sh * (Ho - 1) + ph, sw * (Wo - 1) + pw
    xp = _spread(x, pt, pl, rows, cols, np.nan)
    zero = dx.dtype.type(0)
    if Ho == 0 or Wo == 0:  # no window: dx is zero (masked: times zero)
        ph = pw = 0
    # where each window's g lands: its first cell equal to the max (flags, not values: a quarter
    # of the memory of the kernel's `pend` for every window)
    taken = np.zeros(g.shape, np.bool_)
    first = {}
    for dh in range(ph):
        for dw in range(pw):
            hit = _window_cells(xp, dh, dw, sh, sw, Ho, Wo) == y
            hit &= ~taken
            taken |= hit
            first[dh, dw] = hit
    del xp, taken
    acc = np.zeros((N, max(rows, pt + H), max(cols, pl + W), C), dx.dtype)
    for dh in range(ph - 1, -1, -1):
        for dw in range(pw - 1, -1, -1):
            cells = _window_cells(acc, dh, dw, sh, sw, Ho, Wo)
            cells += np.where(first.pop((dh, dw)), g, zero)
    d = acc[:, pt:pt + H, pl:pl + W]
    dx[...] = np.where(m > zero, d, d * zero) if masked else d


@twin("max_bwd", seq=_max_bwd_numpy)
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
                        _take_first_max(x[n, h, w], yv, pend, dxn[h, w])
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

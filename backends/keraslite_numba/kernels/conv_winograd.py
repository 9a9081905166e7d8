"""Winograd convolution kernels (conv.py's _winograd and _winograd_filter call them): F(2x2, 3x3)
for 3x3, stride-1 convolutions and their input gradients, F(3x3, 2x2) for their filter gradients.

- ``_wino_par``: y = conv2d(x, w) from the transformed filter U = G w G^T: per block of 2x2
  output tiles, the input transform B^T d B, 16 products V[xi] @ U[xi] on conv_kernels'
  microkernel, the output transform A^T m A with conv2d's epilogue.
- ``_wino_filter_par``: dw's transformed sums over the tiles of each chunk of the gradient,
  sum over tiles of (B^T d B) * (A g A^T), the tiles being the microkernel's sum.

Each 2x2 tile costs 16 products per channel pair instead of 36 (a 3x3 filter's 9 per pixel).
The transforms are intrinsics in explicit vectors (as the microkernels; Numba's cache of these
kernels is refreshed when conv_kernels.py changes: kernel_cache.py).
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..llvmattrs import wide_vectors
from .conv_kernels import MR, NR, _as_i64, _loop, _mk_gather, _vec_width, _vload, _vstore


# --------------------------------------------------------------------------------------------
# Winograd F(2x2, 3x3): 3x3 stride-1 convolutions (conv.py's _winograd); each 2x2 output tile
# costs 16 products per channel pair instead of 36
# --------------------------------------------------------------------------------------------
def _vec_setup(context, dtype):
    """(vector type, lanes, alignment) of the transforms' vectors of `dtype`."""
    ft = context.get_data_type(dtype)
    L = _vec_width(ft)
    return ir.VectorType(ft, L), L, 4 if isinstance(ft, ir.FloatType) else 8


def _row_or(builder, data, offs_data, k, fallback):
    """&data[offs[k]], or `fallback` (a row of the same element type) where offs[k] < 0."""
    i64 = ir.IntType(64)
    o = builder.load(builder.gep(offs_data, [ir.Constant(i64, k)]))
    inside = builder.icmp_signed(">=", o, ir.Constant(i64, 0))
    return builder.select(inside, builder.gep(data, [builder.select(inside, o, ir.Constant(i64, 0))]), fallback)


def _bt_d_b(builder, d):
    """F(2x2, 3x3)'s input transform B^T d B of a 4x4 tile of vectors (row-major)."""
    add, sub = builder.fadd, builder.fsub
    s = [None] * 16
    for j in range(4):  # B^T d: along each column
        d0, d1, d2, d3 = d[j], d[4 + j], d[8 + j], d[12 + j]
        s[j], s[4 + j], s[8 + j], s[12 + j] = sub(d0, d2), add(d1, d2), sub(d2, d1), sub(d1, d3)
    out = []
    for k in range(4):  # (B^T d) B: along each row
        a0, a1, a2, a3 = s[4 * k:4 * k + 4]
        out += [sub(a0, a2), add(a1, a2), sub(a2, a1), sub(a1, a3)]
    return out


def _a_g_at(builder, g):
    """F(3x3, 2x2)'s transform A g A^T of a 2x2 gradient tile of vectors (row-major), A = [[1, 0],
    [1, 1], [1, -1], [0, -1]]: the filter gradient's Winograd form."""
    add, sub, neg = builder.fadd, builder.fsub, builder.fneg
    t = []
    for (g0, g1) in ((g[0], g[2]), (g[1], g[3])):  # A g: along each column
        t.append((g0, add(g0, g1), sub(g0, g1), neg(g1)))
    out = []
    for i in range(4):  # (A g) A^T: along each row
        r0, r1 = t[0][i], t[1][i]
        out += [r0, add(r0, r1), sub(r0, r1), neg(r1)]
    return out


def _transform_intrinsic(n_in, transform):
    """An intrinsic (src, offs, zeros, V, vbase, vstride, C): V[vbase + xi*vstride + c] =
    transform(d)[xi] for the 16 outputs xi and c < C (a multiple of the vector width), d[k] =
    src[offs[k] + c] for the n_in pixels of a tile, or zeros[c] where offs[k] is negative (a pixel
    outside the array: padding). Explicit vectors: 16 stores and up to 16 loads per step leave
    LLVM too many overlap checks to vectorise the loop itself."""
    def typer(typingctx, src, offs, zeros, V, vbase, vstride, C):
        sig = types.void(src, offs, zeros, V, vbase, vstride, C)

        def codegen(context, builder, signature, args):
            tys = signature.args
            sd, od, zd, vd = (context.make_array(tys[i])(context, builder, args[i]).data for i in (0, 1, 2, 3))
            vb, vs, Cv = (_as_i64(context, builder, args[i], tys[i]) for i in (4, 5, 6))
            vt, L, align = _vec_setup(context, tys[3].dtype)
            i64 = ir.IntType(64)
            bases = [_row_or(builder, sd, od, k, zd) for k in range(n_in)]
            rows = [builder.gep(vd, [builder.add(vb, builder.mul(vs, ir.Constant(i64, k)))]) for k in range(16)]
            with _loop(builder, ir.Constant(i64, 0), builder.sdiv(Cv, ir.Constant(i64, L))) as q:
                c = builder.mul(q, ir.Constant(i64, L))
                d = [_vload(builder, builder.gep(b, [c]), vt, align) for b in bases]
                for k, v in enumerate(transform(builder, d)):
                    _vstore(builder, v, builder.gep(rows[k], [c]), vt, align)
            return context.get_dummy_value()
        return sig, codegen
    return intrinsic(typer)


# a 4x4 input tile (offs: 16 pixels) -> B^T d B; a 2x2 gradient tile (offs: 4 pixels) -> A g A^T
_wino_in = _transform_intrinsic(16, _bt_d_b)
_wino_gin = _transform_intrinsic(4, _a_g_at)


@intrinsic
def _wino_out(typingctx, M, mbase, mstride, y, yoffs, sink, C, ep, eflags):
    """The output transform of one tile, with conv2d's epilogue: y[yoffs[k] + c] =
    epilogue((A^T m A)[k]) for the four outputs k and c < C (a multiple of the vector width),
    m[xi] = M[mbase + xi*mstride + c]; an output whose offset is negative (past y's edge) goes
    to sink[c] instead (no branch in the loop). ep, eflags as _mk_gather's (columns c)."""
    sig = types.void(M, mbase, mstride, y, yoffs, sink, C, ep, eflags)

    def codegen(context, builder, signature, args):
        tys = signature.args
        md, yd, od, zd = (context.make_array(tys[i])(context, builder, args[i]).data for i in (0, 3, 4, 5))
        mb, ms, Cv, flags = (_as_i64(context, builder, args[i], tys[i]) for i in (1, 2, 6, 8))
        vt, L, align = _vec_setup(context, tys[0].dtype)
        i64 = ir.IntType(64)
        add, sub = builder.fadd, builder.fsub
        has_bias, affine, relu = (builder.icmp_signed("!=", builder.and_(flags, ir.Constant(i64, bit)),
                                                      ir.Constant(i64, 0)) for bit in (1, 2, 4))
        epa = context.make_array(tys[7])(context, builder, args[7])
        width = cgutils.unpack_tuple(builder, epa.shape, 2)[1]
        eprows = [builder.gep(epa.data, [builder.mul(width, ir.Constant(i64, r))]) for r in range(4)]
        outp = [_row_or(builder, yd, od, k, zd) for k in range(4)]  # in y, or the sink
        rows = [builder.gep(md, [builder.add(mb, builder.mul(ms, ir.Constant(i64, k)))]) for k in range(16)]
        zero = ir.Constant(vt, None)
        with _loop(builder, ir.Constant(i64, 0), builder.sdiv(Cv, ir.Constant(i64, L))) as q:
            c = builder.mul(q, ir.Constant(i64, L))
            m = [_vload(builder, builder.gep(rows[k], [c]), vt, align) for k in range(16)]
            u = [None] * 8
            for l in range(4):  # A^T m: along each column
                u[l] = add(add(m[l], m[4 + l]), m[8 + l])
                u[4 + l] = sub(sub(m[4 + l], m[8 + l]), m[12 + l])
            outs = []
            for k in range(2):  # (A^T m) A: along each row
                a0, a1, a2, a3 = u[4 * k:4 * k + 4]
                outs += [add(add(a0, a1), a2), sub(sub(a1, a2), a3)]
            bv, mv, sv, ov = (_vload(builder, builder.gep(p, [c]), vt, align) for p in eprows)
            for k, v in enumerate(outs):
                v = builder.select(has_bias, add(v, bv), v)
                v = builder.select(affine, add(builder.fmul(sub(v, mv), sv), ov), v)
                v = builder.select(relu, builder.select(builder.fcmp_ordered(">", v, zero), v,
                                                        builder.fmul(v, zero)), v)
                _vstore(builder, v, builder.gep(outp[k], [c]), vt, align)
        return context.get_dummy_value()
    return sig, codegen


@njit(inline="always")
def _grid_and_scratch(N, Ho, Wo, C, Co, dtype):
    """The 2x2 tile grid over N outputs of Ho x Wo (tiles per row, per image, in all) and a
    thread's scratch: its microkernel tile's row offsets (ab, cb) and partial tile, a zero row
    of C and one of Co elements (padding reads, or a sink for outputs past the edge), and the
    offsets of one tile's 16 input and 4 output (or gradient) pixels."""
    tw = (Wo + 1) // 2
    per = ((Ho + 1) // 2) * tw
    return (tw, per, N * per, np.empty(MR, np.int64), np.empty(MR, np.int64), np.empty(MR * NR, dtype),
            np.zeros(C, dtype), np.zeros(Co, dtype), np.empty(16, np.int64), np.empty(4, np.int64))


@njit(parallel=True, cache=True)
def _wino_par(xf, N, H, W, C, pt, pl, Ho, Wo, U, Co, yf, ep, eflags, V, M, koff, gep):
    """y = conv2d(x, w) for a 3x3 filter, stride 1, no dilation, one group, by Winograd
    F(2x2, 3x3): x is (N, H, W, C) flat, U the transformed filter (16, C, Cop) (Cop: Co rounded
    up to whole NR-column panels, zero columns), y (N, Ho, Wo, Co) flat; output tile (a, b)
    reads x's rows 2a - pt ... + 3 and columns 2b - pl ... + 3 (zeros outside). Each thread
    takes consecutive blocks of TB tiles (V: (threads, 16*TB*C), M: (threads, 16*TB*Cop)): the
    block's transformed input, its 16 products (the microkernel: U[xi] read in place, koff =
    0..C-1, gep a zero (4, NR) epilogue that is off) and the output transform stay in cache.
    conv.py makes it a twins.Twin whose serial stand-in computes the same bits with NumPy and
    the forward kernel (conv._wino_standin): nothing more to compile on a first run."""
    nth = V.shape[0]
    Cop = U.shape[2]
    TB = V.shape[1] // (16 * C)
    njobs = (N * ((Ho + 1) // 2) * ((Wo + 1) // 2) + TB - 1) // TB
    vs = TB * C
    ms = TB * Cop
    for th in prange(nth):
        wide_vectors()
        Vt = V[th]
        Mt = M[th]
        tw, per, T, ab, cb, tmp, zeros, sink, offs, yo = _grid_and_scratch(N, Ho, Wo, C, Co, yf.dtype)
        for job in range(th * njobs // nth, (th + 1) * njobs // nth):
            t0 = job * TB
            for tl in range(TB):
                t = t0 + tl
                if t >= T:  # past the last tile: zeros (the products of the block's last rows)
                    offs[:] = -1
                else:  # the tile's 4x4 pixels; those outside x (padding) read zeros
                    n = t // per
                    a = (t - n * per) // tw
                    r0 = 2 * a - pt
                    c0 = 2 * (t - n * per - a * tw) - pl
                    for k in range(16):
                        r = r0 + k // 4
                        c = c0 + k % 4
                        offs[k] = ((n * H + r) * W + c) * C if 0 <= r < H and 0 <= c < W else -1
                _wino_in(xf, offs, zeros, Vt, tl * C, vs, C)
            for xi in range(16):
                for rt in range(0, TB, MR):
                    for cblk in range(Cop // NR):
                        for r in range(MR):
                            ab[r] = xi * vs + (rt + r) * C
                            cb[r] = xi * ms + (rt + r) * Cop + cblk * NR
                        _mk_gather(Vt, ab, koff, C, U, xi * C * Cop + cblk * NR, Cop, Mt, cb, MR, NR, tmp, gep, 0,
                                   0, False)
            for tl in range(min(TB, T - t0)):
                t = t0 + tl
                n = t // per
                a = (t - n * per) // tw
                b = t - n * per - a * tw
                for k in range(4):
                    oh = 2 * a + k // 2
                    ow = 2 * b + k % 2
                    yo[k] = ((n * Ho + oh) * Wo + ow) * Co if oh < Ho and ow < Wo else -1
                _wino_out(Mt, tl * Cop, ms, yf, yo, sink, Co, ep, eflags)


@njit(parallel=True, cache=True)
def _wino_filter_par(xf, gf, N, H, W, C, pt, pl, Ho, Wo, Co, part, V, Gt, koff, gep):
    """The filter gradient of a convolution _wino_par runs, in Winograd form F(3x3, 2x2): per
    chunk j of the 2x2 gradient tiles (one chunk per row of `part`: (chunks, 16*Cpad*Cop), C and
    Co rounded up to MR rows and NR columns), part[j][xi, ci, co] = sum over its tiles of
    (B^T d B)[xi, ci] * (A g A^T)[xi, co], d the tile's 4x4 input pixels (as _wino_par reads
    them), g its 2x2 gradient pixels (zeros past the edge). Blocks of TB tiles: V (chunks,
    16*TB*C + MR), Gt (chunks, 16*TB*Cop, zero columns past Co); the products run on the
    microkernel with the tiles as its sum (koff = k*C), resuming the block before's sums, so
    each cell is one chain of FMAs over the chunk's tiles in order. The caller sums the chunks
    and applies G^T . G."""
    nch = part.shape[0]
    Cop = Gt.shape[1] // (16 * (koff.shape[0]))
    Cpad = part.shape[1] // (16 * Cop)
    TB = koff.shape[0]
    vs = TB * C
    gs = TB * Cop
    ms = Cpad * Cop
    for j in prange(nch):
        wide_vectors()
        Vt = V[j]
        Gj = Gt[j]
        Pj = part[j]
        tw, per, T, ab, cb, tmp, zx, zg, offs, goffs = _grid_and_scratch(N, Ho, Wo, C, Co, Pj.dtype)
        t0 = j * T // nch
        t1 = (j + 1) * T // nch
        if t1 <= t0:
            Pj[:] = 0
        for b0 in range(t0, t1, TB):
            nb = min(TB, t1 - b0)
            for tl in range(nb):
                t = b0 + tl
                n = t // per
                a = (t - n * per) // tw
                b = t - n * per - a * tw
                for k in range(16):
                    r = 2 * a - pt + k // 4
                    c = 2 * b - pl + k % 4
                    offs[k] = ((n * H + r) * W + c) * C if 0 <= r < H and 0 <= c < W else -1
                for k in range(4):
                    r = 2 * a + k // 2
                    c = 2 * b + k % 2
                    goffs[k] = ((n * Ho + r) * Wo + c) * Co if r < Ho and c < Wo else -1
                _wino_in(xf, offs, zx, Vt, tl * C, vs, C)
                _wino_gin(gf, goffs, zg, Gj, tl * Cop, gs, Co)
            for xi in range(16):
                for r0 in range(0, Cpad, MR):
                    for cblk in range(Cop // NR):
                        for r in range(MR):
                            ab[r] = xi * vs + r0 + r
                            cb[r] = xi * ms + (r0 + r) * Cop + cblk * NR
                        _mk_gather(Vt, ab, koff, nb, Gj, xi * gs + cblk * NR, Cop, Pj, cb, MR, NR, tmp, gep, 0, 0,
                                   b0 > t0)

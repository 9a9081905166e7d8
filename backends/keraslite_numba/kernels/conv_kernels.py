"""The Numba kernels of the 2-D convolution (conv.py calls them): the register-blocked
microkernels, emitted as LLVM IR, and the parallel drivers around them.

- ``_fwd_kernel``: y[p, co] = sum_k x[base(p) + koff[k]] * w[row(k), co], row tiles of one tap
  class (conv_geometry.tap_classes) at a time, bias and relu applied as each tile is stored;
  the forward convolution, backprop input and the large Dense products (dense.py) run on it.
- ``_bwd_filter_kernel``: dw[k, co] = sum_p x[base(p) + koff[k]] * g[p, co], one partial per
  thread's chunk of pixels, summed by the caller.

Speed notes:
- The microkernels are Numba intrinsics that emit LLVM IR with explicit vector types (512-bit
  <16 x float> with AVX-512, 256-bit <8 x float> without) and llvm.fma: nothing for Numba's
  frontend to type (the former generated Python microkernels cost ~1.5 s of cold compile each)
  and nothing left for the SLP vectoriser. Multiply-adds are FMAs (one rounding instead of two); no reassociation, no
  NaN/inf assumptions. The kernels around them use ``fastmath=False``.
- On AVX-512 CPUs the kernels mark their parallel bodies with ``wide_vectors()`` (llvmattrs.py)
  so that LLVM keeps zmm registers (its default tuning for e.g. Ice/Rocket Lake prefers 256-bit
  vectors); the tile is then 9x32 (18 zmm accumulators). With AVX2 only it is 6x16 (12 ymm
  accumulators).
- Large temporaries (conv.py: the zero-padded input of the filter gradient, the zero-inserted
  gradient of strided backprop input) live in per-thread scratch buffers reused across calls of the same geometry (``_scratch``): a fresh
  multi-MB allocation costs a page fault per 4 KiB (DESIGN.md, "Where speed comes from").
- The intrinsics live in this file so that editing them invalidates Numba's cache of the kernels
  that inline them.
"""

import contextlib

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..llvmattrs import wide_vectors
from ..twins import twin
from .tile import tile


# The register tile, MR output rows x NR output columns, one for every shape and dtype, and the
# float32 lanes of the vectors the microkernels are written in (tile.py: 9x32 in 512-bit vectors
# with AVX-512, 6x16 in 256-bit vectors with AVX2 only)
MR, NR, _VF32 = tile()


# --------------------------------------------------------------------------------------------
# microkernels, built as LLVM IR (no Numba frontend work: a few ms to emit instead of ~1.5 s of
# typing/lowering ~1000 straight-line statements per tile; the code is vector-typed already, so
# LLVM has no SLP work either). Emitted inline at each call site.
# --------------------------------------------------------------------------------------------
def _vec_width(ft):
    """Elements per vector of the float type: 512-bit vectors with AVX-512, else 256-bit."""
    return _VF32 if isinstance(ft, ir.FloatType) else _VF32 // 2


def _no_unroll(module):
    """A loop ID telling LLVM not to unroll the loop: an unrolled body spilled accumulators to
    the stack (1.8x slower in processes whose stack 4K-aliased the operands; architecture.md)."""
    md = module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")])
    loop_id = module.add_metadata([md, md])
    loop_id.operands = (loop_id, md)  # a loop ID's first operand is itself
    return loop_id


@contextlib.contextmanager
def _loop(builder, start, stop):
    """for i in range(start, stop) (int64), not unrolled: yields i."""
    i64 = ir.IntType(64)
    bb_start = builder.basic_block
    bb_cond = builder.append_basic_block("mk.cond")
    bb_body = builder.append_basic_block("mk.body")
    bb_end = builder.append_basic_block("mk.end")
    builder.branch(bb_cond)
    with builder.goto_block(bb_cond):
        index = builder.phi(i64, name="mk.i")
        builder.cbranch(builder.icmp_signed("<", index, stop), bb_body, bb_end)
    builder.position_at_end(bb_body)
    yield index
    nxt = builder.add(index, ir.Constant(i64, 1))
    index.add_incoming(start, bb_start)
    index.add_incoming(nxt, builder.basic_block)
    builder.branch(bb_cond).set_metadata("llvm.loop", _no_unroll(builder.module))
    builder.position_at_end(bb_end)


def _as_i64(context, builder, value, ty):
    return context.cast(builder, value, ty, types.int64) if ty != types.int64 else value


def _tile_setup(context, builder, C_ty, C_arr):
    ft = context.get_data_type(C_ty.dtype)
    V = _vec_width(ft)
    vt = ir.VectorType(ft, V)
    nv = NR // V
    # allocas in the entry block: SROA/mem2reg turns them into registers
    acc = [[cgutils.alloca_once(builder, vt) for j in range(nv)] for r in range(MR)]
    zero = ir.Constant(vt, None)
    for row in acc:
        for a in row:
            builder.store(zero, a)
    return ft, V, vt, nv, acc


def _splat(builder, x, vt):
    v = builder.insert_element(ir.Constant(vt, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(vt, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vt.count), None))


def _vload(builder, ptr, vt, align):
    return builder.load(builder.bitcast(ptr, vt.as_pointer()), align=align)


def _vstore(builder, val, ptr, vt, align):
    builder.store(val, builder.bitcast(ptr, vt.as_pointer()), align=align)


# _mk_gather's right operand rows at least this many bytes apart (a Dense layer's weights read
# in place: 2 KiB for 512 units) are prefetched PF_ROWS rows ahead. A 4 KiB page holds one or
# two such rows, so the hardware prefetchers, which stay within a page, never get ahead of them:
# under AVX2 each tile waited on L2 for every row (128x784x512: 0.57 ms read in place against
# 0.49 from packed panels; prefetched 1-2 rows ahead 0.51-0.53; 4 rows 0.52, 8 and more slower
# than none: the lines evict each other, two cache sets hold that stride). With AVX-512 it
# measured neither faster nor slower; the convolutions' filters (rows 128-256 B apart) are left
# as they were.
PF_MIN_STRIDE = 1024
PF_ROWS = 2


def _prefetch(builder, ptr):
    """llvm.prefetch of ptr's line for reading into every cache level."""
    i8p = ir.IntType(8).as_pointer()
    i32 = ir.IntType(32)
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                        "llvm.prefetch.p0")
    builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])


def _fma_row(builder, acc, xs, bvecs, vt):
    name = f"llvm.fma.v{vt.count}{'f32' if isinstance(vt.element, ir.FloatType) else 'f64'}"
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), name)
    for r, x in enumerate(xs):
        xv = _splat(builder, x, vt)
        for j, b in enumerate(bvecs):
            builder.store(builder.call(fma, [xv, b, builder.load(acc[r][j])]), acc[r][j])


def _tile_load(builder, acc, Cdata, cbdata, nr, nc, tmpdata, V, vt, align):
    """The accumulators from what _tile_store stored: C's rows for a full tile, else tmp."""
    i64 = ir.IntType(64)
    full = builder.and_(builder.icmp_signed("==", nr, ir.Constant(i64, MR)),
                        builder.icmp_signed("==", nc, ir.Constant(i64, NR)))
    with builder.if_else(full, likely=True) as (then, otherwise):
        with then:
            for r in range(MR):
                base = builder.gep(Cdata, [builder.load(builder.gep(cbdata, [ir.Constant(i64, r)]))])
                for j in range(len(acc[r])):
                    builder.store(_vload(builder, builder.gep(base, [ir.Constant(i64, j * V)]), vt, align), acc[r][j])
        with otherwise:
            for r in range(MR):
                for j in range(len(acc[r])):
                    p = builder.gep(tmpdata, [ir.Constant(i64, r * NR + j * V)])
                    builder.store(_vload(builder, p, vt, align), acc[r][j])


def _tile_store(context, builder, acc, Cdata, cbdata, nr, nc, tmpdata, V, vt, accumulate, align, epilogue=None):
    """Full tile (nr == MR, nc == NR): straight to C[cb[r]:cb[r]+NR] (+=), through `epilogue`
    ((bias, mean, scale, offset) pointers and the flags has_bias, affine, relu: the values stored
    are relu?(((acc + bias?) - mean) * scale + offset?), each operation rounded on its own as the
    unfused elementwise ops round). Otherwise raw to tmp[r*NR + c]; the caller copies the nr x nc
    part and applies the epilogue there."""
    i64 = ir.IntType(64)
    full = builder.and_(builder.icmp_signed("==", nr, ir.Constant(i64, MR)),
                        builder.icmp_signed("==", nc, ir.Constant(i64, NR)))
    with builder.if_else(full, likely=True) as (then, otherwise):
        with then:
            if epilogue is not None:  # vectors read here only: nc == NR, they are in bounds
                ptrs, (has_bias, affine, relu) = epilogue[:4], epilogue[4:]
                bv, mv, sv, ov = ([_vload(builder, builder.gep(q, [ir.Constant(i64, j * V)]), vt, align)
                                   for j in range(len(acc[0]))] for q in ptrs)
            zero = ir.Constant(vt, None)
            for r in range(MR):
                base = builder.gep(Cdata, [builder.load(builder.gep(cbdata, [ir.Constant(i64, r)]))])
                for j in range(len(acc[r])):
                    p = builder.gep(base, [ir.Constant(i64, j * V)])
                    v = builder.load(acc[r][j])
                    if accumulate:
                        v = builder.fadd(_vload(builder, p, vt, align), v)
                    if epilogue is not None:
                        v = builder.select(has_bias, builder.fadd(v, bv[j]), v)
                        v = builder.select(affine, builder.fadd(builder.fmul(builder.fsub(v, mv[j]), sv[j]), ov[j]), v)
                        rect = builder.select(builder.fcmp_ordered(">", v, zero), v, builder.fmul(v, zero))
                        v = builder.select(relu, rect, v)
                    _vstore(builder, v, p, vt, align)
        with otherwise:
            for r in range(MR):
                for j in range(len(acc[r])):
                    p = builder.gep(tmpdata, [ir.Constant(i64, r * NR + j * V)])
                    _vstore(builder, builder.load(acc[r][j]), p, vt, align)


@intrinsic
def _mk_gather(typingctx, A, ab, koff, K, B, boff, bstride, C, cb, nr, nc, tmp, ep, eofs, eflags, resume):
    """C[cb[r] + c] = epilogue(s + sum_k A[ab[r] + koff[k]] * B[boff + k*bstride + c]) for the
    full MR x NR tile, s = 0, or (resume) the sums stored by the previous call (a class whose
    taps are several runs of filter rows: one chain of FMAs, as in one call); partial tiles
    (nr < MR or nc < NR) are read from and written to tmp[r*NR + c], without the epilogue, for
    the caller to finish. A, C, tmp: 1-D; ab, cb: int64; koff: uint64; B: any C-contiguous array
    (its data only: a packed panel, bstride NR, or the rows of an unpacked filter, bstride its
    width). The epilogue (_tile_store) reads bias, mean, scale and offset at columns eofs + c of
    the rows of ep (4, C's channels); eflags: 1 bias, 2 the affine map, 4 relu."""
    sig = types.void(A, ab, koff, K, B, boff, bstride, C, cb, nr, nc, tmp, ep, eofs, eflags, resume)

    def codegen(context, builder, signature, args):
        tys = signature.args
        arrs = [context.make_array(t)(context, builder, a) if isinstance(t, types.Array) else None
                for t, a in zip(tys, args)]
        Ad, abd, koffd, Bd, Cd, cbd, tmpd = (arrs[i].data for i in (0, 1, 2, 4, 7, 8, 11))
        Kv, boffv, bstridev, nrv, ncv = (_as_i64(context, builder, args[i], tys[i]) for i in (3, 5, 6, 9, 10))
        ft, V, vt, nv, acc = _tile_setup(context, builder, tys[7], arrs[7])
        align = 4 if isinstance(ft, ir.FloatType) else 8
        i64 = ir.IntType(64)
        a = [builder.load(builder.gep(abd, [ir.Constant(i64, r)])) for r in range(MR)]
        with builder.if_then(builder.icmp_signed("!=", _as_i64(context, builder, args[15], tys[15]),
                                                 ir.Constant(i64, 0))):
            _tile_load(builder, acc, Cd, cbd, nrv, ncv, tmpd, V, vt, align)
        Bp = builder.gep(Bd, [boffv])
        itemsize = 4 if isinstance(ft, ir.FloatType) else 8

        def sums(prefetch):
            with _loop(builder, ir.Constant(i64, 0), Kv) as k:
                o = builder.load(builder.gep(koffd, [k]))
                brow = builder.gep(Bp, [builder.mul(k, bstridev)])
                if prefetch:
                    ahead = builder.gep(brow, [builder.mul(ir.Constant(i64, PF_ROWS), bstridev)])
                    for j in range(0, NR, 64 // itemsize):  # one per cache line of the row
                        _prefetch(builder, builder.gep(ahead, [ir.Constant(i64, j)]))
                bvecs = [_vload(builder, builder.gep(brow, [ir.Constant(i64, j * V)]), vt, align) for j in range(nv)]
                xs = [builder.load(builder.gep(Ad, [builder.add(a[r], o)])) for r in range(MR)]
                _fma_row(builder, acc, xs, bvecs, vt)

        far = builder.icmp_signed(">=", bstridev, ir.Constant(i64, PF_MIN_STRIDE // itemsize))
        with builder.if_else(far) as (then, otherwise):
            with then:
                sums(True)
            with otherwise:
                sums(False)
        flags = _as_i64(context, builder, args[14], tys[14])
        on = [builder.icmp_signed("!=", builder.and_(flags, ir.Constant(i64, bit)), ir.Constant(i64, 0))
              for bit in (1, 2, 4)]
        ep = arrs[12]
        width = cgutils.unpack_tuple(builder, ep.shape, 2)[1]  # ep is C-contiguous: rows `width` apart
        first = builder.gep(ep.data, [_as_i64(context, builder, args[13], tys[13])])
        ptrs = [builder.gep(first, [builder.mul(width, ir.Constant(i64, r))]) for r in range(4)]
        _tile_store(context, builder, acc, Cd, cbd, nrv, ncv, tmpd, V, vt, False, align, (*ptrs, *on))
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def _mk_rows(typingctx, A, ab, rowbase, r0, r1, nk, astep, B, blk, C, cb, nr, nc, tmp):
    """C[cb[r] + c] += sum_(row in [r0, r1), k < nk) A[rowbase[row] + k*astep + ab[r]] *
    B[row*nk + k, blk, c] for the full tile; partial tiles go to tmp (the caller adds them).
    A, C, tmp: 1-D; ab, rowbase, astep: uint64; cb: int64; B: (pixels, blocks, NR)."""
    sig = types.void(A, ab, rowbase, r0, r1, nk, astep, B, blk, C, cb, nr, nc, tmp)

    def codegen(context, builder, signature, args):
        tys = signature.args
        arrs = [context.make_array(t)(context, builder, a) if isinstance(t, types.Array) else None
                for t, a in zip(tys, args)]
        Ad, abd, rbd, Bd, Cd, cbd, tmpd = (arrs[i].data for i in (0, 1, 2, 7, 9, 10, 13))
        r0v, r1v, nkv, astepv, blkv, nrv, ncv = (_as_i64(context, builder, args[i], tys[i])
                                                  for i in (3, 4, 5, 6, 8, 11, 12))
        nblocks = _as_i64(context, builder, cgutils.unpack_tuple(builder, arrs[7].shape, 3)[1], types.intp)
        ft, V, vt, nv, acc = _tile_setup(context, builder, tys[9], arrs[9])
        align = 4 if isinstance(ft, ir.FloatType) else 8
        i64 = ir.IntType(64)
        a = [builder.load(builder.gep(abd, [ir.Constant(i64, r)])) for r in range(MR)]
        rowstride = builder.mul(nblocks, ir.Constant(i64, NR))  # elements per pixel of B
        with _loop(builder, r0v, r1v) as row:
            xo0 = builder.load(builder.gep(rbd, [row]))
            prow = builder.mul(row, nkv)
            with _loop(builder, ir.Constant(i64, 0), nkv) as k:
                xo = builder.add(xo0, builder.mul(k, astepv))
                boff = builder.add(builder.mul(builder.add(prow, k), rowstride),
                                   builder.mul(blkv, ir.Constant(i64, NR)))
                brow = builder.gep(Bd, [boff])
                bvecs = [_vload(builder, builder.gep(brow, [ir.Constant(i64, j * V)]), vt, align)
                         for j in range(nv)]
                xs = [builder.load(builder.gep(Ad, [builder.add(xo, a[r])])) for r in range(MR)]
                _fma_row(builder, acc, xs, bvecs, vt)
        _tile_store(context, builder, acc, Cd, cbd, nrv, ncv, tmpd, V, vt, True, align)
        return context.get_dummy_value()
    return sig, codegen


@njit(inline="always")
def _copy_partial(C, cb, nr, nc, tmp, accumulate):
    if nr < MR or nc < NR:
        for r in range(nr):
            base = cb[r]
            for c in range(nc):
                if accumulate:
                    C[base + c] += tmp[r * NR + c]
                else:
                    C[base + c] = tmp[r * NR + c]


@njit(inline="always")
def _finish_partial(C, cb, nr, nc, ep, c0, eflags):
    """The epilogue of a partial tile, which _mk_gather stores raw: relu?(((y + bias?) - mean) *
    scale + offset?) on its nr rows x nc columns, each operation rounded apart as in the full
    tiles' registers."""
    zero = C.dtype.type(0)
    for r in range(nr):
        yp = C[cb[r]:cb[r] + nc]
        for j in range(nc):
            v = yp[j]
            if eflags & 1:
                v += ep[0, c0 + j]
            if eflags & 2:
                v = (v - ep[1, c0 + j]) * ep[2, c0 + j] + ep[3, c0 + j]
            if eflags & 4:
                v = v if v > zero else v * zero
            yp[j] = v


# --------------------------------------------------------------------------------------------
@njit(inline="always")
def _tile_buffers(ab_type, dtype):
    """A job's tile buffers: left operand offsets, output offsets, partial tile."""
    return np.empty(MR, ab_type), np.empty(MR, np.int64), np.empty(MR * NR, dtype)


@njit(inline="always")
def _panel(p, nblk, Cog):
    """Column panel p of G*nblk: its group, first column in the group and width."""
    g = p // nblk
    co0 = (p - g * nblk) * NR
    return g, co0, min(NR, Cog - co0)


@njit(inline="always")
def _job(job, ncols, nblk, ab_type, dtype):
    """A parallel job over (row blocks, G*nblk column panels): its row block, group and panel
    in the group, and its tile's buffers (_tile_buffers)."""
    blk = job // ncols
    g = (job - blk * ncols) // nblk
    return (blk, g, job - blk * ncols - g * nblk) + _tile_buffers(ab_type, dtype)


# parallel drivers
# --------------------------------------------------------------------------------------------
@twin("conv_fwd")
@njit(parallel=True, cache=True)
def _fwd_kernel(xf, img, koff, brow, pix, pos, cls, tstart, wp, gstep, pstep, bstride, G, Cig, Cog, yf, N, HWo,
                TB, ep, eflags):
    """Row tiles of MR output pixels of one tap class (conv_geometry.tap_classes) taken across
    the N images (a class's pixels of image 0, then of image 1, ...: tiles of small classes
    fill up); class c's tiles are tstart[c]:tstart[c+1]. img: x's elements per image. ep,
    eflags: the epilogue (_mk_gather): relu?(((y + bias?) - mean) * scale + offset?)."""
    nblk = (Cog + NR - 1) // NR
    Co = G * Cog
    ntiles = tstart[tstart.shape[0] - 1]
    nblocks = (ntiles + TB - 1) // TB
    ncols = G * nblk
    # one job per (block of TB row tiles, column panel): a small output (few rows, many
    # channels) still gives every thread work; a thread's jobs are consecutive, so the rows of
    # a block stay in its cache while it runs the block's panels
    for job in prange(nblocks * ncols):
        wide_vectors()
        blk, g, cblk, ab, cb, tmp = _job(job, ncols, nblk, np.int64, yf.dtype)
        t0 = blk * TB
        t1 = min(t0 + TB, ntiles)
        co0 = cblk * NR
        nc = min(NR, Cog - co0)
        c = 0
        for t in range(t0, t1):
            while tstart[c + 1] <= t:
                c += 1
            k0 = cls[c, 0]
            p0 = cls[c, 2]
            npix = cls[c, 3]
            s0 = (t - tstart[c]) * MR
            nr = min(MR, N * npix - s0)
            n = s0 // npix
            q = s0 - n * npix
            for r in range(MR):
                if r < nr:
                    ab[r] = n * img + pos[p0 + q] + g * Cig
                    cb[r] = (n * HWo + pix[p0 + q]) * Co + g * Cog + co0
                    q += 1
                    if q == npix:
                        q = 0
                        n += 1
                else:
                    ab[r] = ab[0]
                    cb[r] = cb[0]
            # the class's taps in runs of consecutive filter rows (one run unless its columns
            # of taps are cut), each run resuming the sums the previous one stored; the last
            # applies the epilogue in registers (partial tiles: below, after the copy)
            K = cls[c, 1]
            run = cls[c, 4]
            kr = 0
            while True:
                last = kr + run >= K
                row = brow[k0 + kr] if K > 0 else 0
                _mk_gather(xf, ab, koff[k0 + kr:], min(run, K - kr), wp, g * gstep + cblk * pstep + row * bstride,
                           bstride, yf, cb, nr, nc, tmp, ep, g * Cog + co0, eflags if last else 0, kr > 0)
                kr += run
                if last:
                    break
            _copy_partial(yf, cb, nr, nc, tmp, False)
            if eflags != 0 and (nr < MR or nc < NR):
                _finish_partial(yf, cb, nr, nc, ep, g * Cog + co0, eflags)


@twin("conv_bwd_filter")
@njit(parallel=True, cache=True)
def _bwd_filter_kernel(xf, rowbase, koff, astep, g3, G, Cig, Cog, Wo, part, nchunks, RB, PG):
    """dw's partial sums: one job per (chunk of output rows, PG consecutive column panels), each
    block of RB rows running every panel of the job before the next block, so that the block's
    rows of g (all of the job's columns) are read from memory once, not once per panel. Each
    cell's sum runs over the rows in order whatever PG is."""
    K = koff.shape[0]
    nblk = g3.shape[1] // G
    R = rowbase.shape[0]
    psize = G * K * Cog
    ncols = G * nblk
    ngroups = (ncols + PG - 1) // PG
    # `part` holds one partial sum per row chunk, each job clearing its own cells first (a
    # zeroed array from the caller would be fresh pages: a page fault per 4 KiB on every call)
    for job in prange(nchunks * ngroups):
        wide_vectors()
        ch = job // ngroups
        p0 = (job - ch * ngroups) * PG
        p1 = min(p0 + PG, ncols)
        ab, cb, tmp = _tile_buffers(np.uint64, part.dtype)
        rs0 = ch * R // nchunks
        rs1 = (ch + 1) * R // nchunks
        pbase = ch * psize
        for p in range(p0, p1):
            g, co0, nc = _panel(p, nblk, Cog)
            for kk in range(K):
                cell = pbase + (g * K + kk) * Cog + co0
                part[cell:cell + nc] = 0
        for rs in range(rs0, rs1, RB):
            re = min(rs + RB, rs1)
            for p in range(p0, p1):
                g, co0, nc = _panel(p, nblk, Cog)
                for k0 in range(0, K, MR):
                    nr = min(MR, K - k0)
                    for r in range(MR):
                        kk = k0 + r if r < nr else k0
                        ab[r] = koff[kk] + np.uint64(g * Cig)
                        cb[r] = pbase + (g * K + kk) * Cog + co0
                    _mk_rows(xf, ab, rowbase, rs, re, Wo, astep, g3, p, part, cb, nr, nc, tmp)
                    _copy_partial(part, cb, nr, nc, tmp, True)

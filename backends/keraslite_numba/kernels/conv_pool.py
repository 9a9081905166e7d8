"""A convolution and the max pooling that reads it, in one pass (prediction: Conv2D ->
[BatchNormalization ->] relu -> MaxPooling2D, the declared patterns conv+bias(+batchnorm
inference)+relu+maxpool).

Each thread takes whole blocks of pooled rows of one image: it computes the convolution rows
those windows read (with the forward kernel's microkernel and epilogue, conv_kernels._mk_gather)
into a per-thread buffer of a few hundred KiB, which stays in its cache, then pools them from
there (pool._max_row). The convolution's output never reaches memory: at the tutorial convnet's
first layer that is 8.3 MB written and read again per batch of 50. The sums are the forward
kernel's chains of FMAs and the pooling is pool.py's, so the results are bit for bit those of
conv2d followed by max_pool2d (the first-run stand-in runs exactly that).

Only convolutions whose every output pixel reads every tap (no padding: one tap class) and
'valid' pooling take the fused kernel; `fits` says so from the static shapes, and the backend
leaves other chains unfused (kernels/fused_forms.py).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..llvmattrs import wide_vectors
from ..twins import Twin
from .conv import _rows_per_job, _tiles, checked_epilogue, right_operand, thread_buffers, winograd_fits
from .conv_geometry import _check_out, _float_dtype, _geometry
from .conv_kernels import MR, NR, _copy_partial, _finish_partial, _fwd_kernel, _mk_gather
from .pool import _max_fwd, _max_row

__all__ = ["conv2d_maxpool", "fits"]

# a thread's buffer of convolution rows holds at most this many bytes (more rows per block would
# leave its cache); a block is at least one pooled row whatever its size
SCRATCH_BYTES = 384 << 10


def fits(dtype, x_shape, w_shape, strides, padding, dilation, groups, pool_size, pool_strides,
         pool_padding, nr=NR) -> bool:
    """Whether the fused kernel computes conv2d(x, w) then max_pool2d with these static
    arguments: float32/float64, one group, no convolution padding (every pixel reads every
    tap), 'valid' pooling of at least one window, and not a convolution that runs on the
    Winograd kernels (faster there, and pooled apart)."""
    if np.dtype(dtype) not in (np.float32, np.float64) or groups != 1 or len(x_shape) != 4 or len(w_shape) != 4:
        return False
    if any(d is None for d in (*x_shape[1:], *w_shape)):
        return False
    if any(int(a) or int(b) for a, b in padding) or any(int(a) or int(b) for a, b in pool_padding):
        return False
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry((1,) + tuple(x_shape[1:]), tuple(w_shape), strides, padding, dilation, groups)
    if Ho < pool_size[0] or Wo < pool_size[1] or Cig == 0 or Co == 0:
        return False
    return not winograd_fits(np.dtype(dtype), kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo)


def _rows_per_block(N, Hq, Wo, Co, ph, sh, itemsize, threads):
    """Pooled rows per block: a whole image when there are enough images for every thread,
    else fewer (several blocks per image), and never more than SCRATCH_BYTES of conv rows."""
    RB = Hq
    if N < 4 * threads:
        RB = max(1, -(-Hq // -(-4 * threads // N)))
    fit = (SCRATCH_BYTES // max(1, Wo * Co * itemsize) - ph) // sh + 1
    return max(1, min(RB, fit))


def conv2d_maxpool(x, w, strides, dilation, pool_size, pool_strides, out=None, bias=None, affine=None,
                   relu=False):
    """max_pool2d(conv2d(x, w, strides, no padding, dilation) with its epilogue (bias, the
    inference batch norm's affine map, relu: conv.conv2d's), pool_size, pool_strides, 'valid')
    for x (N, H, W, Cin), w (kh, kw, Cin, Cout), in one pass; out: (N, Hq, Wq, Cout)."""
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    zero = ((0, 0), (0, 0))
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, w.shape, strides, zero, dilation, 1)
    ph, pw = (int(p) for p in pool_size)
    qh, qw = (int(s) for s in pool_strides)
    if min(ph, pw, qh, qw) < 1 or Ho < ph or Wo < pw:
        raise ValueError(f"conv2d_maxpool: pool_size {tuple(pool_size)}, strides {tuple(pool_strides)} do not fit "
                         f"the convolution's output {Ho}x{Wo}")
    Hq, Wq = (Ho - ph) // qh + 1, (Wo - pw) // qw + 1
    y = _check_out(out, (N, Hq, Wq, Co), dt)
    ep = checked_epilogue("conv2d_maxpool", dt, Co, bias, affine, relu)
    tables = _tiles(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, 0, 0, Cig, Cin, N)
    if y.size == 0 or Cig == 0 or tables is None or len(tables[4]) != 1 or winograd_fits(
            dt, kh, kw, sh, sw, dh, dw, G, Cin, Co, Ho, Wo):
        return _unfused(x, w, strides, dilation, pool_size, pool_strides, y, bias, affine, relu)
    wp, _, pstep, bstride = right_operand(w, 1)
    threads = numba.get_num_threads()
    RB = _rows_per_block(N, Hq, Wo, Co, ph, qh, dt.itemsize, threads)
    rows = (RB - 1) * qh + ph
    elems = rows * Wo * Co
    cbuf = thread_buffers(("conv_pool", dt.char, elems, threads), lambda: np.empty((threads, elems), dt))
    _conv_pool_kernel(x, *tables, wp, pstep, bstride, Co, Ho, Wo, ph, pw, qh, qw, y, RB, *ep, cbuf)
    return y


def _unfused(x, w, strides, dilation, pool_size, pool_strides, y, bias, affine, relu):
    """The same values by conv2d then max_pool2d (shapes the fused kernel does not take)."""
    from . import conv, pool
    t = conv.conv2d(x, w, strides, ((0, 0), (0, 0)), dilation, 1, bias=bias, affine=affine, relu=relu)
    return pool.max_pool2d(t, pool_size, pool_strides, out=y)


@njit(parallel=True, cache=True)
def _conv_pool_par(x, koff, brow, pix, pos, cls, tstart, wp, pstep, bstride, Co, Ho, Wo, ph, pw, qh, qw, y, RB,
                   ep, eflags, cbuf):
    """One chunk of blocks per thread (its row of cbuf): per block (image n, pooled
    rows q0:q1) the convolution rows r0:r1 its windows read, MR pixels per tile, every column
    panel (_fwd_kernel's tiles of one tap class, whose taps are all of koff), into cbuf, then
    the pooled rows from there. brow, pix, cls, tstart: the class's tables (the stand-in's)."""
    N, H, W, Cin = x.shape
    Hq = y.shape[1]
    xf = x.reshape(-1)
    img = H * W * Cin
    K = koff.shape[0]
    nblk = (Co + NR - 1) // NR
    WC = Wo * Co
    nrb = (Hq + RB - 1) // RB
    njobs = N * nrb
    T = min(cbuf.shape[0], njobs)
    for t in prange(T):
        wide_vectors()
        ab = np.empty(MR, np.int64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(MR * NR, y.dtype)
        buf = cbuf[t]
        pb = np.empty((4, WC), y.dtype)  # _max_row's
        for job in range(t * njobs // T, (t + 1) * njobs // T):
            n = job // nrb
            q0 = (job - n * nrb) * RB
            q1 = min(Hq, q0 + RB)
            r0 = q0 * qh
            r1 = (q1 - 1) * qh + ph
            p0 = r0 * Wo
            p1 = r1 * Wo
            for s0 in range(p0, p1, MR):
                nr = min(MR, p1 - s0)
                for cblk in range(nblk):
                    co0 = cblk * NR
                    nc = min(NR, Co - co0)
                    for r in range(MR):
                        p = s0 + r if r < nr else s0
                        ab[r] = n * img + pos[p]
                        cb[r] = (p - p0) * Co + co0
                    _mk_gather(xf, ab, koff, K, wp, cblk * pstep, bstride, buf, cb, nr, nc, tmp, ep, co0, eflags,
                               False)
                    _copy_partial(buf, cb, nr, nc, tmp, False)
                    if eflags != 0 and (nr < MR or nc < NR):
                        _finish_partial(buf, cb, nr, nc, ep, co0, eflags)
            rows = buf[:(r1 - r0) * WC].reshape(r1 - r0, WC)
            for q in range(q0, q1):
                _max_row(rows, 0, r1 - r0, q * qh - r0, ph, pw, qw, 0, Wo, Co, pb, y[n, q])


def _conv_pool_standin(x, koff, brow, pix, pos, cls, tstart, wp, pstep, bstride, Co, Ho, Wo, ph, pw, qh, qw, y, RB,
                       ep, eflags, cbuf):
    """_conv_pool_par's stand-in on a first run (nothing of its own to compile): the forward
    kernel into a full output, then the max pooling kernel; each resolves its own first-run
    variant. The same sums and comparisons: bit for bit the fused kernel's results."""
    N, H, W, Cin = x.shape
    t = np.empty((N, Ho, Wo, Co), y.dtype)
    TB = _rows_per_job(int(tstart[-1]), -(-Co // NR))
    _fwd_kernel(x.reshape(-1), H * W * Cin, koff, brow, pix, pos, cls, tstart, wp, 0, pstep, bstride, 1, Cin, Co,
                t.reshape(-1), N, Ho * Wo, TB, ep, eflags)
    _max_fwd(t, ph, pw, qh, qw, 0, 0, y)


_conv_pool_kernel = Twin("conv_pool", _conv_pool_par, seq=_conv_pool_standin)

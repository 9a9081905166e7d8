"""Matrix products on Numba's threads, with the bias and activation applied in the same pass.

While a plan runs BLAS is held to one thread (threads.py), because OpenBLAS's idle workers spin
for ~0.1 s after each call and take the cores that the next Numba kernels need. So a large
product is cut into blocks, one per Numba thread, inside one `prange` kernel: each thread
calls single-threaded BLAS (scipy's sgemm/dgemm, through the function pointers scipy.linalg
exports) on its block, then applies the epilogue (bias add, then relu/sigmoid/tanh) to it while
it is still in its cache. The blocks are rows, or columns when there are too few rows to give
every thread a block (a small batch through a wide Dense layer). Numba's own OpenMP pool runs it, the pool every other kernel
of the plan uses, so no second pool wakes or spins. The cut depends only on the shapes and the
thread count, and each output element is one BLAS dot product over the whole inner dimension,
so results do not depend on timing.

The BLAS functions are passed to the kernels as arguments (ctypes function pointers), so the
compiled kernels stay in Numba's disk cache (a pointer baked in as a global would not).

Without SciPy, or for layouts BLAS cannot take directly, `matmul` computes the same with NumPy.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np
from numba import njit, prange

from .. import threads
from . import dense as dense_kernel
from ..twins import twin

__all__ = ["ACTIVATIONS", "matmul", "available"]

#: epilogue activation codes of the kernels
ACTIVATIONS = {None: 0, "relu": 1, "sigmoid": 2, "tanh": 3}
# products below this many multiply-adds run as one block (about 20 us on one core: less than
# waking the second thread and splitting gains)
MIN_SPLIT_MACS = 1 << 20
MIN_BLOCK = 16  # rows or columns per block, at least
# KERASLITE_GEMM_SPLIT=0: every product in one BLAS call on the calling thread (for comparisons)
SPLIT = os.environ.get("KERASLITE_GEMM_SPLIT", "1") != "0"
# KERASLITE_GEMM_TILES=0: no product on the convolution microkernel (dense.py; for comparisons)
TILES = os.environ.get("KERASLITE_GEMM_TILES", "1") != "0"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_fns: dict | None = None


def _load() -> dict:
    """{dtype: BLAS gemm function pointer} from scipy.linalg.cython_blas, or {} without SciPy."""
    global _fns
    if _fns is None:
        try:
            from numba.extending import get_cython_function_address
            # every argument of ?gemm is a pointer; passed as addresses (same registers as void*)
            proto = ctypes.CFUNCTYPE(None, *([ctypes.c_size_t] * 13))
            _fns = {np.dtype(np.float32): proto(get_cython_function_address("scipy.linalg.cython_blas", "sgemm")),
                    np.dtype(np.float64): proto(get_cython_function_address("scipy.linalg.cython_blas", "dgemm"))}
        except (ImportError, ValueError, AttributeError):
            _fns = {}
        threads.rescan()  # SciPy's BLAS is a library of its own: serial inside plans too
    return _fns


def available() -> bool:
    """Whether the BLAS kernels can run (SciPy's BLAS found)."""
    return bool(_load())


def _blas_on_block(fn, a_addr, a_rowstep, b_addr, b_colstep, c, r0, r1, c0, c1, ints, chars, scal):
    """The BLAS call of c[r0:r1, c0:c1] = a[r0:r1] @ b[:, c0:c1]; one source for the kernel
    (_block, compiled) and its Python stand-in (_block_python, nothing to compile)."""
    ints[0] = c1 - c0
    ints[1] = r1 - r0
    if r1 > r0 and c1 > c0:
        p = ints.ctypes.data
        s = scal.ctypes.data
        fn(chars.ctypes.data, chars.ctypes.data + 1, p, p + 4, p + 8, s, b_addr + c0 * b_colstep, p + 12,
           a_addr + r0 * a_rowstep, p + 16, s + c.itemsize, c.ctypes.data + r0 * c.strides[0] + c0 * c.itemsize,
           p + 20)


_blas_on_block_nb = njit(cache=True, nogil=True, inline="always")(_blas_on_block)


@njit(cache=True, nogil=True)
def _block(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, r0, r1, c0, c1, ints, chars, scal):
    """c[r0:r1, c0:c1] = epilogue(a[r0:r1] @ b[:, c0:c1]): one BLAS call on the block, then bias
    and activation. Row-major c = a @ b is the column-major product c^T = b^T a^T. Operands
    travel as addresses (one compiled kernel per dtype whatever their layouts): ints = (cols,
    rows, k, ldb, lda, ldc) as int32, chars = (transb, transa), scal = (1, 0) in c's dtype;
    b_colstep is the byte step from one column of b to the next."""
    _blas_on_block_nb(fn, a_addr, a_rowstep, b_addr, b_colstep, c, r0, r1, c0, c1, ints, chars, scal)
    one = scal[0]
    has_bias = bias.shape[0] == c.shape[1]
    for i in range(r0, r1):
        row = c[i]
        if has_bias and act == 1:
            # one loop: relu of a value read back from row[j] would be stored with masked stores
            # (only the lanes that change; vmaskmovps under AVX2, microcoded on AMD's cores)
            for j in range(c0, c1):
                v = row[j] + bias[j]
                row[j] = v if v > 0 else v * 0
            continue
        if has_bias:
            for j in range(c0, c1):
                row[j] += bias[j]
        if act == 1:
            for j in range(c0, c1):
                v = row[j]
                row[j] = v if v > 0 else v * 0
        elif act == 2:
            for j in range(c0, c1):
                row[j] = one / (one + np.exp(-row[j]))
        elif act == 3:
            for j in range(c0, c1):
                row[j] = np.tanh(row[j])


@njit(cache=True, nogil=True)
def _gemm1(fn, a_addr, a_rowstep, b_addr, c, bias, act, params, chars, scal):
    _block(fn, a_addr, a_rowstep, b_addr, 0, c, bias, act, 0, c.shape[0], 0, c.shape[1], params, chars, scal)


@njit(cache=True, nogil=True)
def _edges(j, nr, nc, m, n):
    """(r0, r1, c0, c1) of block j of an nr x nc grid over an m x n product: column cuts on
    multiples of 16 elements (whole SIMD vectors for the BLAS kernel and the epilogue)."""
    r, q = j // nc, j % nc
    units = (n + 15) // 16
    return r * m // nr, (r + 1) * m // nr, min(n, q * units // nc * 16), min(n, (q + 1) * units // nc * 16)


def _block_python(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, r0, r1, c0, c1, ints, chars, scal):
    """_block from Python, for no activation or relu (nothing to compile): the same BLAS call
    through the same function pointer, then the same epilogue as NumPy operations (bias
    additions in c's dtype, relu's `v if v > 0 else v * 0`), which round as the kernel's do."""
    _blas_on_block(fn, a_addr, a_rowstep, b_addr, b_colstep, c, r0, r1, c0, c1, ints, chars, scal)
    block = c[r0:r1, c0:c1]
    if bias.shape[0] == c.shape[1]:
        block += bias[c0:c1]
    if act == 1:
        np.copyto(block, block * 0, where=~(block > 0))


def _split_serial(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, nr, nc, params, chars, scal):
    """_gemm_split's blocks one after another on this thread: the same BLAS calls and epilogues,
    so the same results. Its stand-in on a first run (twins.py): compiled serial, _gemm_split
    itself would cost 2-3x its parallel compile (LLVM's work on the inlined epilogue loops),
    while this compiles only _block, which _gemm1 shares, and only for sigmoid and tanh
    (`_block_python` does the others: NumPy's exp and tanh round differently from the kernel's)."""
    m, n = c.shape
    block = _block if act > 1 else _block_python
    for j in range(nr * nc):
        r0, r1, c0, c1 = _edges.py_func(j, nr, nc, m, n)
        block(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, r0, r1, c0, c1, params.copy(), chars, scal)


@twin("gemm_split", arg=5, seq=_split_serial, seq_kernel=_block)
@njit(parallel=True, cache=True, nogil=True)
def _gemm_split(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, nr, nc, params, chars, scal):
    m, n = c.shape
    for j in prange(nr * nc):
        # each block's own copy of the BLAS integers: with one (nr*nc, 6) array and `ints[j] =
        # params` in the loop, Numba 0.68's parfor gave a block another block's row, and BLAS
        # read the other block's width (the last columns went unwritten now and then)
        ints = params.copy()
        r0, r1, c0, c1 = _edges(j, nr, nc, m, n)
        _block(fn, a_addr, a_rowstep, b_addr, b_colstep, c, bias, act, r0, r1, c0, c1, ints, chars, scal)


def _operand(x):
    """(trans, ld) for BLAS of a 2-D operand with one unit stride, or None."""
    isz = x.itemsize
    s0, s1 = x.strides
    r, c = x.shape
    if s1 == isz and s0 % isz == 0 and s0 // isz >= max(1, c):
        return ord("N"), s0 // isz
    if s0 == isz and s1 % isz == 0 and s1 // isz >= max(1, r):
        return ord("T"), s1 // isz
    return None


def _numpy(a, b, out, bias, act):
    y = np.matmul(a, b, out=out)
    if bias is not None:
        np.add(y, bias, out=y)
    if act == "relu":
        np.maximum(y, 0, out=y)
    elif act == "sigmoid":
        one = y.dtype.type(1)
        np.divide(one, np.add(one, np.exp(-y)), out=y)
    elif act == "tanh":
        np.tanh(y, out=y)
    return y


_NO_BIAS = {d: np.zeros(0, d) for d in _FLOATS}
_consts: dict = {}


def matmul(a, b, out=None, bias=None, act=None):
    """act(a @ b + bias) (bias: a vector along the last axis, or None; act: None, 'relu',
    'sigmoid' or 'tanh'), into `out` when given. 2-D float products of one dtype (and an N-D
    C-contiguous `a` times a 2-D `b`) run on BLAS, split over the Numba threads inside
    a plan; anything else runs through NumPy."""
    dt = a.dtype
    ok = (b.ndim == 2 and a.ndim >= 2 and dt == b.dtype and dt in _FLOATS and a.shape[-1] == b.shape[0]
          and (bias is None or (bias.dtype == dt and bias.shape == (b.shape[1],))))
    if ok and a.ndim > 2:
        if not a.flags.c_contiguous or a.size == 0 or b.size == 0:  # reshape(-1, 0) is ambiguous
            ok = False
        else:
            lead = a.shape[:-1]
            if out is None:
                out = np.empty(lead + (b.shape[1],), dt)
            a2 = a.reshape(-1, a.shape[-1])
            y = matmul(a2, b, out=out.reshape(-1, b.shape[1]) if out.flags.c_contiguous else None, bias=bias, act=act)
            if not np.may_share_memory(y, out):
                out[...] = y.reshape(out.shape)
            return out
    fns = _load() if ok else None
    m, k = a.shape if ok else (0, 0)
    n = b.shape[1] if ok else 0
    if not fns or m == 0 or n == 0 or k == 0:
        return _numpy(a, b, out, bias, act)
    if out is None:
        out = np.empty((m, n), dt)
    opa, opb = _operand(a), _operand(b)
    if (opa is None or opb is None or out.shape != (m, n) or out.dtype != dt or not out.flags.c_contiguous
            or not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b)
            or max(m, n, k, opa[1], opb[1]) >= 2 ** 31):
        return _numpy(a, b, out, bias, act)
    key = (dt.char, m, n, k, opa, opb)
    consts = _consts.get(key)
    if consts is None:  # the BLAS call's integer and character arguments, made once per shape
        if len(_consts) > 256:
            _consts.clear()
        consts = _consts[key] = (np.array((n, m, k, opb[1], opa[1], n), np.int32),
                                 np.array((opb[0], opa[0]), np.uint8), np.array((1, 0), dt))
    params, chars, scal = consts
    if bias is None:
        bias = _NO_BIAS[dt]
    elif not bias.flags.c_contiguous:
        bias = np.ascontiguousarray(bias)
    code = ACTIVATIONS[act]
    nr = nc = 1
    if (TILES and dt == np.float32 and code <= 1 and n >= dense_kernel.MIN_N and k <= dense_kernel.MAX_K
            and m * n * k >= MIN_SPLIT_MACS and threads.serial_blas() and dense_kernel.usable(a, b)):
        return dense_kernel.matmul(a, b, out, None if bias is _NO_BIAS[dt] else bias, code == 1)
    if SPLIT and m * n * k >= MIN_SPLIT_MACS and threads.serial_blas():
        import numba
        t = numba.get_num_threads()
        # blocks of rows; of columns (multiples of 16) when there are too few rows for every
        # thread and enough columns: a batch of 24 through a 784x512 Dense 0.165 ms instead
        # of 0.309 on one thread. With rows enough, rows: columns measured 1-3% faster alone
        # on the MLP's products but 3% slower on its g @ transpose(w) inside the plan
        nr = max(1, min(t, m // MIN_BLOCK))
        if nr < t and n // MIN_BLOCK > nr:
            nr, nc = 1, min(t, n // MIN_BLOCK)
    if nr * nc == 1 and code == 0 and bias is _NO_BIAS[dt]:  # nothing to fuse or split: NumPy's own call
        return np.matmul(a, b, out=out)
    a_addr, b_addr = a.ctypes.data, b.ctypes.data
    if nr * nc > 1:
        _gemm_split(fns[dt], a_addr, a.strides[0], b_addr, b.strides[1], out, bias, code, nr, nc, params, chars, scal)
    else:
        _gemm1(fns[dt], a_addr, a.strides[0], b_addr, out, bias, code, params, chars, scal)
    return out

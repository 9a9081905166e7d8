"""Matrix products on the convolution microkernel: a @ b as a 1x1 convolution (conv.py).

conv.py's forward kernel is an implicit GEMM whose left operand is read through a table of
offsets (row bases `ab`, per-k offsets `koff`) and whose right operand is packed into NR-column
panels. A plain product is the case kh = kw = 1: row r of `a` starts at r * row_step and its
k-th element lies k * k_step further (a C-contiguous `a`: row_step k, k_step 1), read in place.
A C-contiguous `b` is that 1x1 convolution's filter (read in place when its columns are whole
NR-column panels, else packed). The forward products of a Dense layer (x @ w + b, relu) and its
weight gradient (transpose(x) @ g) take this route; the input gradient (g @ transpose(w)) stays
on BLAS, which measured faster on it inside a plan (a transposed b has to be packed).

Why: inside a plan this register-tiled kernel (9x32 float32 tile, FMAs, both Numba threads
sharing (row block, column panel) jobs) measured 15-23% faster than gemm.py's route (one
single-threaded OpenBLAS call per thread) on the MLP's forward products, packing included
(10th percentile of 500 calls on the 2-core AVX-512 machine: 128x784x512 0.524 vs 0.612 ms,
128x512x512 0.350 vs 0.433; inside the MLP's training plan, minima 0.582 vs 0.654 and 0.381 vs
0.425). Each output element is one ordered sum of FMAs
over k, whatever the thread count: results repeat bit for bit.
"""
from __future__ import annotations

import numpy as np

from . import conv
from .conv_geometry import _scratch, row_tables
from .conv_pack import panels_shape

__all__ = ["usable", "matmul", "MIN_N", "MAX_K"]

# where gemm.py sends a float32 product here (inside a plan, bias and relu or neither): at least
# one full NR-column panel (n = 10 ran 1.5-3x slower than BLAS: most of each tile is padding) and
# an inner dimension that keeps a packed panel within L2 (1000x1000x1000 ran 10% slower)
MIN_N = conv.NR
MAX_K = 1024

_tables: dict = {}


def _left(a):
    """(flat array, row step, k step) reading a[r, k] at flat[r * row_step + k * k_step], or None:
    a C-contiguous a, or the transpose of one (autodiff's `transpose(x) @ g`, a weight gradient,
    whose tile rows are then adjacent floats). The latter measured 2-4% faster than gemm.py's
    BLAS split on the MLP's weight gradients (784x128x512 0.527 vs 0.538 ms, 512x128x512 0.351
    vs 0.361, 10th percentiles in quiet processes; before the microkernel's loops stopped
    spilling it measured 4% slower). With AVX2 only (the 6x16 tile) it measured 38% slower than
    OpenBLAS's Haswell kernel there (784x128x512: 0.735 vs 0.53 ms): the transpose then stays
    on BLAS."""
    if a.flags.c_contiguous:
        return a.reshape(-1), a.shape[1], 1
    if a.flags.f_contiguous and conv.NR >= 32:
        return a.T.reshape(-1), 1, a.shape[0]
    return None


def _right(b):
    """The 1x1 filter whose packed panels are b's columns, or None. Only a C-contiguous b: the
    transpose of one (`g @ transpose(w)`) packs as conv_pack's flipped filter, a strided read
    that cost more inside a plan than the kernel saved (MLP 128x512x512: 0.432 vs 0.408 ms)."""
    if b.flags.c_contiguous:
        return b.reshape(1, 1, b.shape[0], b.shape[1])
    return None


def usable(a, b) -> bool:
    """Whether the kernel takes this float32 product: 2-D operands, a C- or F-contiguous and b
    C-contiguous, nothing empty."""
    return (a.ndim == 2 and b.ndim == 2 and a.dtype == np.float32 and b.dtype == np.float32
            and a.shape[1] == b.shape[0] and a.size > 0 and b.size > 0
            and _left(a) is not None and _right(b) is not None)


def matmul(a, b, out, bias=None, relu: bool = False):
    """out = relu?(a @ b + bias) for operands that `usable` accepts; out: C-contiguous (m, n)
    of a's dtype, sharing no memory with a or b."""
    m, K = a.shape
    n = b.shape[1]
    xf, row_step, k_step = _left(a)
    w = _right(b)
    key = (K, k_step, m)
    tables = _tables.get(key)
    if tables is None:  # conv.py's tables of one class: each row of a is an image of one pixel
        if len(_tables) > 64:
            _tables.clear()
        tables = _tables[key] = conv.with_tiles(row_tables(K, k_step), m)
    # b itself when its rows hold whole panels, else panels packed into a buffer kept per shape:
    # a steady-state step allocates nothing
    right = conv.right_operand(w, 1, out=None if n % conv.NR == 0 else _scratch(
        ("dense_panels",), panels_shape(w.shape, 1, False, conv.NR), w.dtype))
    TB = conv._rows_per_job(-(-m // conv.MR), -(-n // conv.NR))
    conv._fwd_kernel(xf, row_step, *tables, *right, 1, K, n, out.reshape(-1), m, 1, TB,
                     *conv.epilogue(out.dtype, n, bias, None, relu))
    return out

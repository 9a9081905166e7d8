"""Host arrays whose data starts on a cache line (64 bytes).

NumPy's allocator gives 16-byte alignment. A kernel storing 32- or 64-byte vectors into an array
16 bytes off a cache line splits one store in two or in every second one, and a filter or weight
matrix read as vectors splits its loads the same way: with AVX2 the MLP's 128x784x512 product
took 15-17% longer with its weights 16 bytes off than on a cache line (docs/architecture.md,
"Memory alignment"). Variables' arrays (graph.Variable) and the CPU backend's pooled buffers
(NumbaBackend.empty) are made here.

An aligned array is a view of a slightly larger private buffer. `owns_memory` tells it from other
views: the compiler hands an array back to its memory pool only when nothing else can see its
memory (compiler._fits)."""
from __future__ import annotations

import sys

import numpy as np

ALIGN = 64

_COUNTS = hasattr(sys, "getrefcount")


def aligned_empty(shape, dtype) -> np.ndarray:
    """np.empty(shape, dtype), C-contiguous, its data at a multiple of ALIGN bytes."""
    dtype = np.dtype(dtype)
    shape = tuple(int(d) for d in shape)
    n = dtype.itemsize
    for d in shape:
        n *= d
    if n == 0 or dtype.hasobject:  # nothing to align; references cannot live in a byte buffer
        return np.empty(shape, dtype)
    raw = np.empty(n + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + n].view(dtype).reshape(shape)


def aligned_copy(a) -> np.ndarray:
    """A C-contiguous copy of `a` (its dtype) starting on a cache line."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def owns_memory(a) -> bool:
    """Whether nothing but `a` sees its memory: it owns its data, or it views a plain byte
    buffer at most ALIGN bytes larger (aligned_empty's) that nothing else references (CPython
    reference counts; elsewhere only owning arrays count). No registry of the buffers: a weak
    reference's callback could swallow a KeyboardInterrupt arriving while it runs."""
    b = a.base
    if b is None:
        return True
    # references to b: a's base, this frame's `b`, getrefcount's argument
    return (_COUNTS and type(b) is np.ndarray and b.base is None and b.ndim == 1 and b.dtype == np.uint8
            and b.nbytes - a.nbytes <= ALIGN and sys.getrefcount(b) <= 3)

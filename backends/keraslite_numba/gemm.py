"""Matrix products on every configured thread, with BLAS held to one thread per call.

While a plan runs BLAS is limited to the calling thread (threads.py): letting OpenBLAS start its
own workers inside a plan was measured to cost ~100 ms of CPU per MLP training step on 2 cores
(its idle workers spin between GEMMs for ~2^28 cycles, taking the cores the next kernels need).
Instead a large 2-D product is cut into row blocks (or column blocks when it has few rows), one
per thread of the team (team.py), each a single-threaded BLAS call; NumPy releases the GIL inside
BLAS, so the blocks run at once. Every output element is the same dot product over the whole
inner dimension whichever block it falls in, and the cut depends only on the shapes and the
thread count, so results do not depend on timing.
"""
from __future__ import annotations

import numpy as np

from . import team

# products below this many multiply-adds stay one call (~10 us of work: less than a thread wake)
MIN_SPLIT_MACS = 1 << 21
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _rows(chunk, nchunks, a, b, out):
    m = a.shape[0]
    r0, r1 = chunk * m // nchunks, (chunk + 1) * m // nchunks
    np.matmul(a[r0:r1], b, out=out[r0:r1])


def _cols(chunk, nchunks, a, b, out):
    n = b.shape[1]
    c0, c1 = chunk * n // nchunks, (chunk + 1) * n // nchunks
    out[:, c0:c1] = np.matmul(a, b[:, c0:c1])


def matmul(a, b, out=None):
    """a @ b (into `out` when given); 2-D float products of at least MIN_SPLIT_MACS
    multiply-adds split over the team."""
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype not in _FLOATS:
        return np.matmul(a, b, out=out)
    m, k = a.shape
    n = b.shape[1]
    if m * n * k < MIN_SPLIT_MACS or k != b.shape[0]:
        return np.matmul(a, b, out=out)
    by_rows = m >= 64 or m >= n
    nch = team.chunks(m if by_rows else n, 16)
    if nch <= 1:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((m, n), a.dtype)
    elif out.shape != (m, n) or out.dtype != a.dtype:
        raise ValueError(f"matmul: out must be a {a.dtype} array of shape {(m, n)}, got {out.dtype} {out.shape}")
    team.run(_rows if by_rows else _cols, nch, a, b, out)
    return out

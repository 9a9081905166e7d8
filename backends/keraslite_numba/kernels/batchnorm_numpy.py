"""NumPy stand-ins for the batch-norm kernels' serial twins (batchnorm.py), for a first run.

Compiled serial, `_bn_fwd` and `_bn_bwd` cost ~0.7-0.8 s of cold compile each, on the first
training step's critical path (coldstart.py). These functions take the kernels' arguments and
compute what they compute bit for bit, with nothing to compile:

- the same chunks (``ch * R // nchunks``) and, inside each, the same blocks of `block` rows
  (batchnorm._BLOCK, bound by batchnorm.py), summed row after row in x's dtype from zero (one
  elementwise add per row position, across all blocks at once: never a NumPy reduction, whose
  pairwise order differs), each block's sums then added to the chunk's float64 partials in
  block order (np.add.accumulate from a zero row: sequential by definition);
- the same elementwise expressions, each operation rounded to the dtype as the kernels round it
  (they run without fastmath: no contraction into FMAs, no reassociation);
- relu as the kernels select: ``v if v > 0 or v != v else 0`` (NaN stays, -0.0 gives +0.0).

tests/test_coldstart_twins.py compares them with the parallel kernels bit for bit.
"""
from __future__ import annotations

import numpy as np


def _chunks(R: int, nchunks: int):
    for ch in range(nchunks):
        yield ch, ch * R // nchunks, (ch + 1) * R // nchunks


def _block_sums(rows, dtype, block: int):
    """(nblocks, C): the sum of each block of `block` consecutive rows of `rows` (the last block
    may be short), each accumulated row after row from zero in `dtype`."""
    n, C = rows.shape
    full = n // block
    tail = n - full * block
    sums = np.zeros((full + (tail > 0), C), dtype)
    blocks = rows[:full * block].reshape(full, block, C)
    for j in range(block):
        if full:
            sums[:full] += blocks[:, j]
        if j < tail:
            sums[full] += rows[full * block + j]
    return sums


def _flush(sums, out) -> None:
    """out (C,) float64 = 0.0 + sums[0] + sums[1] + ..., in that order (the kernels' partial)."""
    acc = np.zeros((len(sums) + 1, sums.shape[1]), np.float64)
    acc[1:] = sums
    out[...] = np.add.accumulate(acc, axis=0)[-1]


def _relu(v):
    """The kernels' ``v if v > 0 or v != v else 0``, in place: np.maximum keeps NaN, and
    adding +0.0 turns -0.0 into +0.0 and changes nothing else."""
    np.maximum(v, 0, out=v)
    v += v.dtype.type(0)


def bn_fwd_numpy(x2, phase, nchunks, shift, part, m, scale, b, relu, resid, r2, y2, *, block: int):
    """The serial stand-in of batchnorm._bn_fwd (same arguments, and the kernel's `block`)."""
    R, C = x2.shape
    dt = x2.dtype
    if phase == 0:
        for ch, r0, r1 in _chunks(R, nchunks):
            d = x2[r0:r1] - shift
            _flush(_block_sums(d, dt, block), part[ch, 0])
            np.multiply(d, d, out=d)
            _flush(_block_sums(d, dt, block), part[ch, 1])
        return
    # y = (x - m) * scale + b (+ r2: rounded after y, as the two ops), then relu; with a
    # residual, y is made apart first (r2 may be y2's own buffer, which the kernel reads before
    # it writes each cell)
    y = np.subtract(x2, m) if resid else np.subtract(x2, m, out=y2)
    y *= scale
    y += b
    if resid:
        np.add(y, r2, out=y2)
    if relu:
        _relu(y2)


def bn_bwd_numpy(x2, gy2, phase, nchunks, m, part, a, bb, d, dsum, dx2, *, block: int):
    """The serial stand-in of batchnorm._bn_bwd (same arguments, and the kernel's `block`)."""
    R, C = x2.shape
    dt = x2.dtype
    if phase == 0:
        for ch, r0, r1 in _chunks(R, nchunks):
            _flush(_block_sums(gy2[r0:r1], dt, block), part[ch, 0])
            p = x2[r0:r1] - m
            p *= gy2[r0:r1]  # gv * (x - m): one rounding each, the product commutes exactly
            _flush(_block_sums(p, dt, block), part[ch, 1])
        return
    # dx = a * gy + bb * (x - m) + d, rounded as Python's left-to-right evaluation in the kernel
    t = x2 - m
    t *= bb
    np.multiply(gy2, a, out=dx2)
    dx2 += t
    dx2 += d
    if dsum:
        for ch, r0, r1 in _chunks(R, nchunks):
            _flush(_block_sums(dx2[r0:r1], dt, block), part[ch, 0])

"""Collectives on NumPy arrays and on the active backend's arrays: allreduce, broadcast, allgather,
and the packed gradient reduction behind DistributedOptimizer.

Host arrays travel through MPI as they are (`Allreduce` in place on one contiguous buffer). CuPy
arrays go through NCCL where it works (nccl.py) and through host-staged MPI otherwise. Every public
collective first checks, collectively, that all ranks passed arrays of the same layout, so a
mismatch raises the same ValueError on every rank instead of corrupting memory or hanging.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _state

_MAX_NDIM = 16
# dtype <-> small integer code, for the headers ranks exchange before moving data
_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
           "float32", "float64", "complex64", "complex128"]


def dtype_code(dtype, who: str) -> int:
    name = np.dtype(dtype).name
    if name not in _DTYPES:
        raise TypeError(f"{who}: unsupported dtype {name}")
    return _DTYPES.index(name)


def _is_device_array(a) -> bool:
    return not isinstance(a, np.ndarray) and type(a).__module__.split(".")[0] == "cupy"


def _to_host(a, who: str) -> tuple[np.ndarray, Any]:
    """(host array, the CuPy module when `a` lives on a GPU, else None)."""
    if _is_device_array(a):
        import cupy
        return cupy.asnumpy(a), cupy
    if hasattr(a, "numpy") and callable(a.numpy) and not isinstance(a, np.ndarray):  # a keraslite Variable
        return np.asarray(a.numpy()), None
    arr = np.asarray(a)
    if arr.dtype == object:
        raise TypeError(f"{who}: expected a numeric array, got {type(a).__name__}")
    return arr, None


def agree(w: _state.World, ok: bool) -> bool:
    """True on every rank when `ok` is true on every rank."""
    flag = np.array([1 if ok else 0], dtype=np.int64)
    w.comm.Allreduce(w.mpi.IN_PLACE, flag, op=w.mpi.MIN)
    return bool(flag[0])


def check_same(w: _state.World, header: np.ndarray, who: str, what: str) -> None:
    """ValueError on every rank unless `header` (int64) is the same on all ranks."""
    lo, hi = header.copy(), header.copy()
    w.comm.Allreduce(w.mpi.IN_PLACE, lo, op=w.mpi.MIN)
    w.comm.Allreduce(w.mpi.IN_PLACE, hi, op=w.mpi.MAX)
    if not np.array_equal(lo, hi):
        raise ValueError(f"{who}: the ranks passed arrays of different {what}; every rank must call it with "
                         f"the same shape and dtype (this rank: {header.tolist()})")


def _header(arr: np.ndarray, who: str, skip_first: bool = False) -> np.ndarray:
    if arr.ndim > _MAX_NDIM:
        raise ValueError(f"{who}: arrays of more than {_MAX_NDIM} dimensions are not supported")
    dims = list(arr.shape[1:] if skip_first else arr.shape)
    return np.array([arr.ndim, dtype_code(arr.dtype, who)] + dims + [-1] * (_MAX_NDIM - len(dims)), dtype=np.int64)


def allreduce(array, average: bool = True, name: str | None = None):
    """allreduce(array, average=True, name=None): the element-wise sum over all ranks (the mean
    with average=True; integer arrays then give float64) as a new array on the same device."""
    w = _state.world("allreduce")
    host, cupy = _to_host(array, "allreduce")
    if host.dtype == np.bool_:
        raise TypeError("allreduce: boolean arrays cannot be summed; cast them first")
    if w.size > 1:
        check_same(w, _header(host, "allreduce"), "allreduce", "shapes or dtypes")
        work = np.array(host, dtype=np.float32 if host.dtype == np.float16 else host.dtype, order="C", copy=True)
        w.comm.Allreduce(w.mpi.IN_PLACE, work, op=w.mpi.SUM)
        work = work.astype(host.dtype, copy=False)
    else:
        work = np.array(host, order="C", copy=True)
    if average:
        work = work / w.size if work.dtype.kind in "iub" else (work / work.dtype.type(w.size)).astype(work.dtype)
    return cupy.asarray(work) if cupy is not None else work


def broadcast(array, root: int = 0, name: str | None = None):
    """broadcast(array, root=0, name=None): rank `root`'s array on every rank, as a new array on
    the same device (all ranks pass arrays of the same shape and dtype)."""
    w = _state.world("broadcast")
    check_root(w, root, "broadcast")
    host, cupy = _to_host(array, "broadcast")
    work = np.array(host, order="C", copy=True)
    if w.size > 1:
        header = _header(work, "broadcast")
        root_header = header.copy()
        w.comm.Bcast(root_header, root=root)
        if not agree(w, np.array_equal(header, root_header)):
            raise ValueError(f"broadcast: the ranks passed arrays of different shapes or dtypes (this rank "
                             f"{work.shape} {work.dtype}); every rank must pass an array shaped like rank {root}'s")
        w.comm.Bcast(work.reshape(-1).view(np.uint8), root=root)
    return cupy.asarray(work) if cupy is not None else work


def allgather(array, name: str | None = None):
    """allgather(array, name=None): the ranks' arrays concatenated along axis 0 in rank order
    (their first dimensions may differ; the other dimensions and the dtype must agree)."""
    w = _state.world("allgather")
    host, cupy = _to_host(array, "allgather")
    work = np.array(host, order="C", copy=True)
    if work.ndim == 0:
        raise ValueError("allgather: scalars cannot be concatenated; pass arrays with a first dimension")
    if w.size > 1:
        check_same(w, _header(work, "allgather", skip_first=True), "allgather", "trailing shapes or dtypes")
        counts = np.zeros(w.size, dtype=np.int64)
        w.comm.Allgather(np.array([work.shape[0]], dtype=np.int64), counts)
        row = work.dtype.itemsize * int(np.prod(work.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + work.shape[1:], dtype=work.dtype)
        byte_counts = counts * row
        displs = np.concatenate([[0], np.cumsum(byte_counts)[:-1]])
        w.comm.Allgatherv(work.reshape(-1).view(np.uint8),
                          [out.reshape(-1).view(np.uint8), byte_counts, displs, w.mpi.BYTE])
        work = out
    return cupy.asarray(work) if cupy is not None else work


def check_root(w, root, who):
    if not isinstance(root, (int, np.integer)) or not 0 <= int(root) < w.size:
        raise ValueError(f"{who}: root must be a rank in [0, {w.size}), got {root!r}")


# ---------------------------------------------------------------------------------------------
# the packed reduction of one training step's gradients

def dtype_groups(arrays: Sequence) -> dict:
    """{dtype name: [indices]} in parameter order (dicts keep insertion order)."""
    groups: dict = {}
    for i, a in enumerate(arrays):
        groups.setdefault(np.dtype(a.dtype).name, []).append(i)
    return groups


class HostEngine:
    """Averages lists of host arrays: one flat buffer per dtype, filled in parameter order, one
    in-place MPI Allreduce (sum) per buffer, then a division by the number of ranks. The results
    are views into the buffers (no copy back)."""

    def __init__(self, world: _state.World):
        self.world = world
        self._checked: set = set()

    def layout_check(self, arrays: Sequence, key) -> None:
        """Once per layout: all ranks reduce the same arrays (else ValueError on every rank)."""
        if key in self._checked:
            return
        sig = [len(arrays)]
        for name, idx in dtype_groups(arrays).items():
            sig += [dtype_code(name, "DistributedOptimizer"), sum(int(np.prod(arrays[i].shape)) for i in idx)]
        check_same(self.world, np.array(sig, dtype=np.int64), "DistributedOptimizer",
                    "gradient layouts (are all ranks training the same model?)")
        self._checked.add(key)

    def reduce_mean(self, arrays: Sequence[np.ndarray], weight: float = 1.0) -> list:
        w = self.world
        out: list = [None] * len(arrays)
        for name, idx in dtype_groups(arrays).items():
            wire = np.float32 if name == "float16" else np.dtype(name)
            total = sum(int(arrays[i].size) for i in idx)
            buf = np.empty(total, dtype=wire)
            offsets, pos = [], 0
            for i in idx:
                n = int(arrays[i].size)
                buf[pos:pos + n] = arrays[i].reshape(-1)
                offsets.append((i, pos, n))
                pos += n
            if weight != 1.0:
                buf *= buf.dtype.type(weight)
            w.comm.Allreduce(w.mpi.IN_PLACE, buf, op=w.mpi.SUM)
            buf /= buf.dtype.type(w.size)
            if name == "float16":
                buf = buf.astype(name)
            for i, start, n in offsets:
                out[i] = buf[start:start + n].reshape(arrays[i].shape)
        return out


class StagedEngine:
    """Device arrays reduced on the host: copy down, HostEngine, copy up (the fallback where NCCL
    is missing or several ranks share one GPU)."""

    def __init__(self, world: _state.World, xp):
        self.host = HostEngine(world)
        self.xp = xp

    def layout_check(self, arrays, key) -> None:
        self.host.layout_check(arrays, key)

    def reduce_mean(self, arrays, weight: float = 1.0) -> list:
        host = [self.xp.asnumpy(a) for a in arrays]
        return [self.xp.asarray(r) for r in self.host.reduce_mean(host, weight)]

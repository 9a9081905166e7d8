"""GPU ranks: gradients averaged by NCCL (`cupy.cuda.nccl`) on the device, the NCCL id sent out
over MPI; host-staged MPI where NCCL is missing, disabled (KERASLITE_DIST_NCCL=0) or refused
(NCCL will not put two ranks on one GPU). All ranks take the same path: they agree over MPI first.

NOTE: this module has been exercised only against a fake NCCL communicator
(tests/test_distributed_nccl.py); it has not run on a GPU yet.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from . import _state
from ._state import pin_device  # noqa: F401  (defined with the state init() sets up)
from .collectives import HostEngine, StagedEngine, _is_device_array, agree, dtype_groups

_NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "uint32": "NCCL_UINT32",
               "int64": "NCCL_INT64", "uint64": "NCCL_UINT64"}
_ID_BYTES = 128  # ncclUniqueId


class NcclEngine:
    """One NCCL communicator over all ranks (rank r on its own GPU). Each step: one flat device
    buffer per dtype in parameter order, one in-place ncclAllReduce (sum), a division by size.
    `ptr` and `stream` give device pointers and the stream handle (CuPy's by default)."""

    def __init__(self, world: _state.World, xp, nccl, ptr: Callable | None = None, stream: Callable | None = None):
        self.world, self.xp, self.nccl = world, xp, nccl
        self.ptr = ptr or (lambda a: a.data.ptr)
        self.stream = stream or (lambda: xp.cuda.get_current_stream().ptr)
        self.checker = HostEngine(world)
        uid = np.zeros(_ID_BYTES, dtype=np.int64)
        if world.rank == 0:
            raw = list(nccl.get_unique_id())
            if len(raw) != _ID_BYTES:
                raise RuntimeError(f"NCCL returned an id of {len(raw)} bytes, expected {_ID_BYTES}")
            uid[:] = raw
        world.comm.Bcast(uid, root=0)  # the id travels over MPI, as ChainerMN did
        self.comm = nccl.NcclCommunicator(world.size, tuple(int(v) for v in uid), world.rank)

    def layout_check(self, arrays, key) -> None:
        self.checker.layout_check(arrays, key)

    def reduce_mean(self, arrays, weight: float = 1.0) -> list:
        xp, size = self.xp, self.world.size
        out: list = [None] * len(arrays)
        for name, idx in dtype_groups(arrays).items():
            code = getattr(self.nccl, _NCCL_TYPES.get(name, ""), None)
            if code is None:
                raise TypeError(f"DistributedOptimizer: NCCL cannot reduce {name} gradients")
            buf = xp.concatenate([arrays[i].reshape(-1) for i in idx])
            if weight != 1.0:
                buf *= buf.dtype.type(weight)
            p = self.ptr(buf)
            self.comm.allReduce(p, p, int(buf.size), code, self.nccl.NCCL_SUM, self.stream())
            buf /= buf.dtype.type(size)
            pos = 0
            for i in idx:
                n = int(arrays[i].size)
                out[i] = buf[pos:pos + n].reshape(arrays[i].shape)
                pos += n
        return out


def _import_nccl():
    from cupy.cuda import nccl
    return nccl


def _nccl_usable(world: _state.World, cupy, nccl) -> bool:
    """True where this rank can join an NCCL communicator."""
    if os.environ.get("KERASLITE_DIST_NCCL", "1") == "0" or nccl is None:
        return False
    if not getattr(nccl, "available", True):
        return False
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception:
        return False
    return world.local_size <= devices  # NCCL refuses two ranks on one GPU


def device_engine(world: _state.World, cupy=None, nccl=None, **engine_kwargs):
    """NcclEngine when every rank can use NCCL, else StagedEngine (decided together)."""
    if cupy is None:
        import cupy
    if nccl is None:
        try:
            nccl = _import_nccl()
        except Exception:  # CuPy without NCCL (pip install nvidia-nccl-cu12 / -cu13 brings it)
            nccl = None
    if not agree(world, _nccl_usable(world, cupy, nccl)):
        return StagedEngine(world, cupy)
    return NcclEngine(world, cupy, nccl, **engine_kwargs)


def engine_for(arrays: Sequence):
    """The reduction engine for these arrays' device, made once per world and array module."""
    w = _state.world("DistributedOptimizer")
    device = any(_is_device_array(a) for a in arrays)
    key = "device" if device else "host"
    eng = w.engines.get(key)
    if eng is None:
        if device:
            eng = device_engine(w)
        else:
            eng = HostEngine(w)
        w.engines[key] = eng
    return eng

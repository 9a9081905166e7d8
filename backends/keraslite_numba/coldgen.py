"""The first run's generated kernels: fused elementwise and batched ones (fused.py, batched.py).

Each generated module holds `kernel_par` (a `prange` loop, for large outputs) and `kernel_seq`
(the same loop body under `range`); the parallel one costs 3-4x the compile time. Their loop
iterations are independent elements (or slices of members), so both compute the same values bit
for bit (tests/test_coldstart_gen.py). While `kernel_par` is not in the disk cache for the call's
argument types, a large call runs `kernel_seq` and a compile worker (coldstart.py) compiles
`kernel_par` for exactly those types; once its marker is there, the parallel kernel runs (loaded
from the cache). Without workers, `kernel_par` compiles in-process as before.

A worker's task is one line: "gen-<module>-<hash of the types>", the module's file and the
argument types ("i" for a Python int, "<dtype>:<ndim>" for a C-contiguous writeable array).

A batched kernel's kernel_seq, too, can go to a worker ahead of time: the optimizer's update is
a plan's last step, so when a plan is built (`prepare_batched`) the large in-place batched steps
(inplace.py's deferred steps) have their kernel source written and their kernel_seq asked of
the workers (task key and line ending in "s": compiled with the serial twins, before any
parallel kernel), for the argument types and in-place pattern their first run will have (read
from the plan: the dtypes of the step's input slots, the outputs that overwrite their
variable). Meanwhile this process runs the forward and backward passes; at the call it waits
for the worker's compile, if under way, and loads the kernel from the cache (or compiles it
itself, if no worker has started it). A guess that does not match the call costs a worker's
compile and nothing else.
"""
from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path

import numpy as np

from . import coldstart
from .cachedir import cache_dir, import_generated


def _spec(args):
    """The argument types as text, or None for a type a line cannot carry (the parallel kernel
    then compiles in-process)."""
    from numba import typeof, types
    parts = []
    for a in args:
        t = typeof(a)
        if t == types.int64 and isinstance(a, int):
            parts.append("i")
        elif isinstance(t, types.Array) and t.layout == "C" and t.mutable and t.aligned:
            parts.append(f"{a.dtype.str}:{a.ndim}")
        else:
            return None
    return ",".join(parts)


def _types(spec: str) -> tuple:
    from numba import from_dtype, types
    out = []
    for p in spec.split(","):
        if p == "i":
            out.append(types.int64)
        else:
            dt, nd = p.split(":")
            out.append(types.Array(from_dtype(np.dtype(dt)), int(nd), "C"))
    return tuple(out)


def _seq_waiting(seq, spec):
    """`seq`, or while a worker of this process has its compile for these types queued (a
    prepare_batched task), a callable waiting for that worker (or compiling it here) first."""
    key = f"gen-{Path(inspect.getfile(seq.py_func)).stem}-{hashlib.sha1(spec.encode()).hexdigest()[:10]}s"
    if key not in coldstart._pending or key in coldstart._ready:
        return seq
    types = _types(spec)

    def call(*args):
        with coldstart.first_use(key, lambda: types in seq.overloads):
            return seq(*args)
    return call


def large_kernel(par, seq, args):
    """(kernel to run this large call, settled): `seq` while a worker compiles `par` for these
    argument types (settled False: ask again next call), else `par` from now on."""
    if coldstart.fcntl is None or os.environ.get("KERASLITE_COMPILE_WORKERS") == "0":
        return par, True
    spec = _spec(args)
    if spec is None:
        return par, True
    if _types(spec) in par.overloads:  # compiled (or loaded) in this process already
        return par, True
    path = inspect.getfile(par.py_func)
    key = f"gen-{Path(path).stem}-{hashlib.sha1(spec.encode()).hexdigest()[:10]}"
    try:
        if key in coldstart._ready or coldstart.is_done(key):
            coldstart._ready.add(key)
            return par, True
        if key not in coldstart._pending:
            coldstart._start([f"{key}\t{path}\t{spec}"])
    except OSError:  # unwritable cache directory
        return par, True
    if key not in coldstart._pending or coldstart._orphaned(key):  # no worker to do it
        return par, True
    coldstart._wanted.add(key)
    return _seq_waiting(seq, spec), False


def is_task(item: str) -> bool:
    return item.startswith("gen-")


def valid(item: str) -> bool:
    parts = item.split("\t")
    return (len(parts) == 3 or (len(parts) == 4 and parts[3] == "s")) and Path(parts[1]).suffix == ".py" \
        and Path(parts[1]).parent == _kernels_dir()


def _kernels_dir() -> Path:
    return cache_dir()


def compile_task(item: str) -> None:
    """Worker side: compile the generated module's kernel_par (kernel_seq for a line ending in
    "s") for the task's argument types (Numba saves it to the disk cache). Only modules in
    keraslite's own kernel folder."""
    if not valid(item):
        raise ValueError(f"keraslite_numba.compile_worker: not a generated kernel task: {item!r}")
    key, path, spec, *seq = item.split("\t")
    module = import_generated(Path(path))
    (module.kernel_seq if seq else module.kernel_par).compile(_types(spec))

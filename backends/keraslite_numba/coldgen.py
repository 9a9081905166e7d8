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

import contextlib
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


def _slot_dtypes(plan) -> dict:
    """slot -> dtype of what the plan holds there (variables, constants, step results)."""
    dtypes = {s: np.dtype(v.dtype) for s, v in plan.var_slots}
    dtypes.update((s, np.asarray(c).dtype) for s, c in plan.const_slots)
    for step in plan.steps:
        if isinstance(step.out_slot, int):
            nodes, slots = (step.node,), (step.out_slot,)
        else:
            nodes, slots = step.node, step.out_slot
        for slot, node in zip(slots, nodes or ()):
            dt = getattr(node, "dtype", None)
            if dt is not None:
                with contextlib.suppress(TypeError):
                    dtypes[slot] = np.dtype(dt)
    return dtypes


def batched_tasks(plan) -> list:
    """Task lines for the kernel_seq of the plan's large deferred batched steps (see the module's
    docstring), their kernel sources written; [] when a step's types cannot be read off the plan."""
    from .batched import BatchedKernel, PARALLEL_THRESHOLD, _source
    from .fused import load_source
    dtypes = _slot_dtypes(plan)
    lines = []
    for work in getattr(plan, "_deferred", ()):
        kernel = work.kernel
        if not isinstance(kernel, BatchedKernel) or kernel._out_dtypes is None:
            continue
        step = plan.steps[work.index]
        program, kinds = kernel.program, kernel.kinds
        n_in, n_out = program.n_inputs, len(program.outputs)
        n_members = len(step.in_slots) // n_in
        ins = [dtypes.get(s) for s in step.in_slots[:n_in]]
        if len(work.targets) != n_members * n_out \
                or any(dt is None or dt.kind == "b" or dt == np.float16 for dt in ins):
            continue
        total = 0
        for k in range(n_members):
            n = 1
            for d in work.targets[k * n_out][0].shape:
                n *= int(d)
            total += n
        if total < PARALLEL_THRESHOLD:
            continue
        patterns = [tuple((j, pos - k * n_in) for j in range(n_out)
                          if (pos := work.targets[k * n_out + j][1]) >= 0 and kinds[pos - k * n_in] == "F")
                    for k in range(n_members)]
        seen = [p for p in patterns if p]
        pattern = max(set(seen), key=seen.count) if seen else ()
        par, seq = load_source(_source(program, kinds, pattern), "batched")
        kernel._loaded[(program.source_key(), kinds, pattern)] = (par, seq)
        spec = ",".join(["<i8:2", "<i8:2", "<i8:1"] + [f"{dt.str}:1" for dt in ins]
                        + [f"{dt.str}:1" for dt in kernel._out_dtypes])
        path = inspect.getfile(seq.py_func)
        key = f"gen-{Path(path).stem}-{hashlib.sha1(spec.encode()).hexdigest()[:10]}s"
        if key not in coldstart._pending and key not in coldstart._ready and not coldstart.is_done(key):
            lines.append(f"{key}\t{path}\t{spec}\ts")
    return lines


def prepare_batched(plan) -> None:
    """At plan build, while this process's workers run: ask them for the kernel_seq of the
    plan's large in-place batched steps (best effort: nothing is asked when the plan's types
    cannot be read, and a call then compiles its kernel itself, as before)."""
    if not any(p.poll() is None for p in coldstart._workers):
        return
    try:
        lines = batched_tasks(plan)
    except (OSError, AttributeError, TypeError, ValueError, IndexError):
        return
    if lines:
        coldstart._start(lines)


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

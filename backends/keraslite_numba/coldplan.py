"""What a built plan asks of the compile workers ahead of its first run (coldstart.py, coldgen.py).

The optimizer's batched update kernel (batched.py) runs last in a training step, so a worker
asked for its kernel_seq when the plan is built, while this process computes the forward pass,
has usually compiled it by the time the step reaches it. Its source and argument types are read
off the plan's deferred steps; a wrong guess only costs one worker compile. Kept apart from
coldgen.py (which fused.py imports) so that no import cycle runs through batched.py.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
from pathlib import Path

import numpy as np

from . import coldstart
from .batched import PARALLEL_THRESHOLD, BatchedKernel, _source
from .fused import load_source


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

"""The memory plan of a compiled Plan: when each slot dies, and which buffer each step writes.

Liveness: a slot's last reader is the last step taking it as an input; the plan drops its
reference right after that step (`release_lists`), so an intermediate's memory goes back to the
allocator while the step still runs, not at its end.

Buffers: a step whose primitive takes a caller-given result (the backend's `out_mode`, see
interface.py) writes into a pooled buffer of the result's shape and dtype. The pool belongs to
the plan; it is laid out once, from the shapes the first run observed (`assign_buffers`), and the
same arrays are reused by every later run. Within a run, a buffer returns to its free list after
the last read of every slot that may alias it, and serves the next result of the same shape and
dtype; an elementwise step may write straight into an input whose buffer dies at that step
(in place).

Aliasing is tracked conservatively: the result of a step that does not write into a pooled
buffer (reshape, transpose, a convolution, ...) is assumed to be a view of every buffer its
inputs may alias. A buffer aliased by an output of the plan or by an update value lives to the
end of the run; the compiler then copies that output, or that update value, unless the value is
exactly the buffer, in which case the commit hands the buffer to the variable (compiler.py).
"""
from __future__ import annotations

import os
import sys

# KERASLITE_PLAN_MEMORY=0 turns the pool off (every step allocates its results, as before plans
# managed memory): a switch for comparisons and for bisecting a suspected aliasing bug
ENABLED = os.environ.get("KERASLITE_PLAN_MEMORY", "1") != "0"

# a buffer that something reads after the run (an output, an update value): never freed in a run
_TO_THE_END = 1 << 60


def last_reads(steps, n_slots: int) -> list[int]:
    """For every slot, the index of the last step reading it (-1: never read by a step)."""
    last = [-1] * n_slots
    for i, step in enumerate(steps):
        for s in step.in_slots:
            last[s] = i
    return last


def release_lists(steps, n_slots: int, keep: set) -> list[tuple]:
    """Per step, the slots whose last reader it is (minus `keep`): the run drops them after it."""
    last = last_reads(steps, n_slots)
    drop: list[list] = [[] for _ in steps]
    for s, i in enumerate(last):
        if i >= 0 and s not in keep:
            drop[i].append(s)
    return [tuple(d) for d in drop]


def outs_of(step) -> tuple:
    return step.out_slot if type(step.out_slot) is tuple else (step.out_slot,)


class Layout:
    """The pooled buffers of a plan and how slots relate to them (see assign_buffers)."""

    def __init__(self):
        self.specs: list[tuple] = []        # buffer id -> (shape, dtype)
        self.step_bufs: dict[int, tuple] = {}  # step index -> buffer id per output
        self.direct: dict[int, int] = {}    # slot -> the buffer that *is* its value
        self.alias: dict[int, frozenset] = {}  # slot -> buffers its value may share memory with
        self.in_place = 0                   # results written into a dying input's buffer
        self.firsts: set = set()           # slots of tuples whose first result is a buffer
        self.offsets: dict[int, int] = {}   # buffer id -> its byte offset in the arena (see pack)
        self.arena = 0                      # the arena's size in bytes


def assign_buffers(steps, n_slots: int, records: dict, no_pool: set, to_the_end: set) -> Layout:
    """Lay out the pool.

    `records`: step index -> (input shapes, [(shape, dtype) per output]) of the steps that may
    write into a given array, as observed by a run; a third entry marks a step returning a
    tuple whose first result goes into the given array (batch norm: y or dx). `no_pool`: slots that must own their memory
    (outputs handed to the caller). `to_the_end`: slots read after the last step (outputs, update
    values). Greedy in step order: a result takes a free buffer of its shape and dtype (or, for
    an in-place step, a same-shaped input whose buffer dies here), else a new one."""
    last = last_reads(steps, n_slots)
    first_last = _first_reads(steps, n_slots)
    lay = Layout()
    end: list[int] = []
    start: list[int] = []
    free: dict[tuple, list] = {}
    live: set = set()
    for i, step in enumerate(steps):
        outs = outs_of(step)
        rec = records.get(i)
        if rec is not None and not any(o in no_pool for o in outs):
            used: list[int] = []
            own = getattr(step, "inplace_of", None)  # per output: the inputs it may overwrite
            for k, (o, spec) in enumerate(zip(outs, rec[1])):
                b = (_in_place(step, i, spec, lay, end, used, step.in_slots if own is None else own[k])
                     if step.out_mode == "inplace" else None)
                if b is not None:
                    lay.in_place += 1
                else:
                    pool = free.get(spec)
                    if pool:
                        b = pool.pop()
                    else:
                        b = len(lay.specs)
                        lay.specs.append(spec)
                        end.append(i)
                        start.append(i)
                used.append(b)
            for o, b in zip(outs, used):
                until = last[o]
                if len(rec) > 2:  # a tuple of results, the first in the buffer: see tuple_get below
                    lay.firsts.add(o)
                    until = first_last[o]  # reading another result does not read the buffer
                else:
                    lay.direct[o] = b
                lay.alias[o] = frozenset((b,))
                end[b] = _TO_THE_END if o in to_the_end else max(until, i)
                live.add(b)
            lay.step_bufs[i] = tuple(used)
        elif getattr(step, "op", None) == "tuple_get" and step.in_slots[0] in lay.firsts:
            # a pooled tuple holds its first result in the buffer; the others are its own arrays
            if step.node.attrs.get("index") == 0:  # (a fused step's appended value: its last node)
                o = outs[0]
                b = next(iter(lay.alias[step.in_slots[0]]))
                lay.direct[o] = b
                lay.alias[o] = frozenset((b,))
                end[b] = max(end[b], _TO_THE_END if o in to_the_end else last[o])
        elif not getattr(getattr(step, "fn", None), "fresh_results", False):  # inplace.Deferred: no view
            shared = frozenset().union(*(lay.alias.get(s, ()) for s in step.in_slots))
            if shared:
                for o in outs:
                    lay.alias[o] = shared
                    until = _TO_THE_END if o in to_the_end else last[o]
                    for b in shared:
                        end[b] = max(end[b], until)
        for b in [b for b in live if end[b] <= i]:
            live.discard(b)
            free.setdefault(lay.specs[b], []).append(b)
    lay.offsets, lay.arena = pack(lay.specs, start, end)
    return lay


def _first_reads(steps, n_slots: int) -> list[int]:
    """Per slot, the last step reading it other than a `tuple_get` of an index above 0: for a
    tuple whose first result is a pooled buffer (batch norm's y, whose mean and variance are read
    much later, by the backward pass), the last step that may read the buffer through it."""
    last = [-1] * n_slots
    for i, step in enumerate(steps):
        if getattr(step, "op", None) == "tuple_get" and step.node.attrs.get("index") != 0:
            continue
        for s in step.in_slots:
            last[s] = i
    return last


ALIGN = 64  # bytes: every buffer in the arena starts on a cache line


def nbytes(spec) -> int:
    shape, dtype = spec
    n = 1
    for d in shape:
        n *= int(d)
    return n * dtype.itemsize


def pack(specs, start, end) -> tuple[dict, int]:
    """Offsets of the buffers that live within a run in one arena, so that buffers of different
    shapes share memory when their lifetimes do not meet: buffer b is written first by step
    start[b] and read last by step end[b] (through any alias), so two buffers may overlap in
    memory when one's end comes before the other's start. Buffers living to the end of the run
    (outputs' sources, update values handed to variables) own their memory and are left out.
    Greedy by size: the largest buffer first, each at the lowest aligned offset clear of every
    placed buffer whose lifetime meets its own. Returns ({buffer: offset}, arena bytes)."""
    order = sorted((b for b in range(len(specs)) if end[b] < _TO_THE_END),
                   key=lambda b: (-nbytes(specs[b]), start[b]))
    placed: list[tuple] = []  # (offset, stop, start, end) of the placed buffers
    offsets: dict[int, int] = {}
    top = 0
    for b in order:
        size = -(-nbytes(specs[b]) // ALIGN) * ALIGN
        s, e = start[b], end[b]
        busy = sorted((o, stop) for o, stop, s2, e2 in placed if not (e2 < s or e < s2))
        at = 0
        for o, stop in busy:
            if at + size <= o:
                break
            at = max(at, stop)
        offsets[b] = at
        placed.append((at, at + size, s, e))
        top = max(top, at + size)
    return offsets, top


def _in_place(step, i, spec, lay, end, used, candidates):
    """An input buffer the step may overwrite with its result: one of the `candidates` input
    slots (all of the step's inputs, or for a batched kernel the result's own member's) whose
    value is the buffer itself, of the result's shape and dtype, that nothing reads after this
    step, and that no other input sees through a different view (elementwise in place is only
    safe element for element on the same layout)."""
    for t in candidates:
        b = lay.direct.get(t)
        if b is None or b in used or end[b] != i or lay.specs[b] != spec:
            continue
        if all(lay.direct.get(u) == b or b not in lay.alias.get(u, ()) for u in step.in_slots):
            return b
    return None


_COUNTS = hasattr(sys, "getrefcount")


def _refs(arrays, i) -> int:
    return sys.getrefcount(arrays[i])


# the count for an array held only by one list (and the call reading it); any more references
# mean someone else (a user, a view, another run) still sees the array
_ONLY_THE_LIST = _refs([object()], 0) if _COUNTS else 0


def unshared(arrays, i: int, known: int = 0) -> bool:
    """True when `arrays[i]` is referenced by the list (or tuple) alone, besides `known` more
    references the caller accounts for (CPython reference counts; other interpreters answer
    False, and the pool then allocates afresh)."""
    return _COUNTS and _refs(arrays, i) <= _ONLY_THE_LIST + known

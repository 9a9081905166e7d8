"""Batching of fused groups: many instances of one elementwise program in one kernel call.

An optimizer builds the same update chain for every variable (Adam: m, v and the parameter from
the gradient and a few shared scalars). Fusion (fusion.py) turns each chain into its own group,
all with one `ElementwiseProgram`, so a step runs one small kernel per variable. When the backend
declares `batches_elementwise`, `batch_updates` merges such groups into one `BatchedGroup`, which
the compiler runs as one step through `backend.compile_elementwise_batch`: one kernel per
program, input classification and dtypes ("one kernel per dtype group").

A fused group may join a batch when

* each of its outputs is read by nothing but `update` nodes assigning it to a variable (and is
  not an output of the function); those update nodes are read by nothing;
* its shape is static, and each input either has that shape ("F") or holds one element ("S");
  at least one input is full;
* another group has the same program, input kinds and input dtypes.

Nothing reads a member's outputs but update nodes, so no member depends on another, and the
batch can run where its last member would have run (every member's inputs are ready there); the
update nodes of its members move right after it. Updates are still assigned after the whole run
(compiler.Plan), so results are those of the groups run one by one. The cost: each gradient now
lives until the batch runs, the end of the backward pass, instead of until its own update.
"""
from __future__ import annotations

from dataclasses import dataclass

from .fusion import ElementwiseProgram, FusedGroup


@dataclass
class BatchedGroup:
    """Fused groups with one program, run as one step: inputs and outputs member after member."""

    members: list            # FusedGroups, in schedule order
    program: ElementwiseProgram
    kinds: str               # per program input: "F" (the member's shape) or "S" (one element)

    @property
    def inputs(self) -> list:
        return [i for g in self.members for i in g.inputs]

    @property
    def outputs(self) -> list:
        return [o for g in self.members for o in g.outputs]

    def name(self) -> str:
        return f"batch{len(self.members)}[" + ",".join(m.op for m in self.members[0].members) + "]"


def _static_size(shape) -> int | None:
    n = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        n *= d
    return n


def _batch_key(group: FusedGroup, readers: dict, outputs: set):
    """(program key, kinds, input dtypes) of a group that may join a batch, else None."""
    shape = tuple(group.outputs[0].shape)
    if _static_size(shape) is None or any(tuple(o.shape) != shape for o in group.outputs):
        return None
    ids = {m.id for m in group.members}
    for o in group.outputs:
        if o.id in outputs:
            return None
        for r in readers.get(o.id, ()):
            if r.id in ids:
                continue
            if r.op != "update" or r.inputs[1] is not o or r.inputs[0] is o or r.id in outputs or readers.get(r.id):
                return None
    kinds = []
    for i in group.inputs:
        if tuple(i.shape) == shape:
            kinds.append("F")
        elif _static_size(i.shape) == 1:
            kinds.append("S")
        else:
            return None
    if "F" not in kinds:
        return None
    return group.program.source_key(), "".join(kinds), tuple(i.dtype for i in group.inputs)


def batch_updates(schedule: list, order: list, outputs: set) -> list:
    """The schedule with the fused groups that only feed variable updates merged into one
    BatchedGroup per (program, input kinds, input dtypes) of at least two members.

    `schedule`: fusion.fuse's units; `order`: the topological order it was made from (every
    node, for finding readers); `outputs`: ids of the function's outputs (never batched: a
    member's outputs must be update values only)."""
    readers: dict[int, list] = {}
    for node in order:
        for i in node.inputs:
            readers.setdefault(i.id, []).append(node)
    buckets: dict[tuple, list] = {}
    for unit in schedule:
        if isinstance(unit, FusedGroup):
            key = _batch_key(unit, readers, outputs)
            if key is not None:
                buckets.setdefault(key, []).append(unit)
    batch_of: dict[int, BatchedGroup] = {}
    for key, groups in buckets.items():
        if len(groups) < 2:
            continue
        batch = BatchedGroup(groups, groups[0].program, key[1])
        for g in groups:
            batch_of[id(g)] = batch
    if not batch_of:
        return schedule
    # the update nodes reading a batched group's outputs move after the batch
    moved: dict[int, BatchedGroup] = {}
    for batch in {id(b): b for b in batch_of.values()}.values():
        ids = {m.id for g in batch.members for m in g.members}
        for o in batch.outputs:
            for r in readers.get(o.id, ()):
                if r.id not in ids:
                    moved[r.id] = batch
    last = {id(b): id(b.members[-1]) for b in batch_of.values()}
    after: dict[int, list] = {}
    for unit in schedule:
        if not isinstance(unit, FusedGroup) and unit.id in moved:
            after.setdefault(id(moved[unit.id]), []).append(unit)
    new = []
    for unit in schedule:
        if isinstance(unit, FusedGroup) and id(unit) in batch_of:
            batch = batch_of[id(unit)]
            if last[id(batch)] == id(unit):
                new.append(batch)
                new.extend(after.get(id(batch), ()))
            continue
        if not isinstance(unit, FusedGroup) and unit.id in moved:
            continue
        new.append(unit)
    return new

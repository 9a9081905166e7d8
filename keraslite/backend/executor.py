"""How a Plan's steps run cheaply: copies removed at plan build, pooled runs as generated code.

A training step of a small model is dozens of calls on tiny arrays (a loss of a batch, a metric,
their gradients), where the executor's own per-step work (building argument lists, comparing
shape lists, storing results, dropping slots) was as costly as the calls themselves. Two
mechanisms, both backend-independent (they only move references between slots):

* `drop_copies` (plan build): steps that only pass a value on - `alias` (a shape-only reader of
  a fused chain's inner value) and `update` (the update node's own value is its new value) - are
  removed, and their readers, the plan's outputs and update values read the source slot instead
  (copy propagation);
* `generate` (the first pooled run, once the memory layout is known): the pooled run becomes
  one generated Python function, straight-line, one block per step, with slots as local
  variables, the pooled buffer ids and recorded input shapes as constants, and a slot set to None
  right after its last reader. Steps are called through `step.fn`, looked up on each run, so a
  step whose function is replaced later (a test, a timing harness) runs the replacement. A
  `sum_to_like` that is the identity when shapes agree (sum_to_like_or_same) is a conditional
  expression, no call, while its function is still that one.
"""
from __future__ import annotations

import functools


def same(a):
    """The function of an `alias` step: its input."""
    return a


def second(a, b):
    """The function of an `update` step: the new value (its second input)."""
    return b


def sum_to_like_or_same(sum_to_like, x, ref):
    """x itself when it already has ref's shape (the step then aliases x, as memplan assumes of
    a step without a pooled result), else the backend's sum_to_like."""
    return x if tuple(x.shape) == tuple(ref.shape) else sum_to_like(x, ref)


def drop_copies(steps: list, output_slots: list, updates: list):
    """(steps, output_slots, updates) with every `alias`/`update` step removed and every reader
    of its slot (later steps' inputs, `inplace_of` tables, outputs, update values) reading the
    slot it copied instead."""
    source: dict = {}
    kept = []
    for step in steps:
        if step.fn is same or step.fn is second:
            s = step.in_slots[-1]
            source[step.out_slot] = source.get(s, s)
            continue
        if source:
            step.in_slots = tuple(source.get(i, i) for i in step.in_slots)
            if step.inplace_of is not None:
                step.inplace_of = tuple(tuple(source.get(i, i) for i in ins) for ins in step.inplace_of)
        kept.append(step)
    if not source:
        return steps, output_slots, updates
    return kept, [source.get(s, s) for s in output_slots], [(v, source.get(s, s)) for v, s in updates]


def note(e: BaseException, step, shapes: list, backend_name: str) -> None:
    """Name the failing step (node, op, backend, input shapes) on the exception."""
    if step is not None and hasattr(e, "add_note"):
        e.add_note(f"keraslite: while computing {step.node!r} (op '{step.op}') on the "
                   f"'{backend_name}' backend; inputs: " + ", ".join(str(tuple(s)) for s in shapes))


def generate(steps: list, keep: set, backend_name: str):
    """run(V, P): the pooled run of `steps` as one generated function. V: the slot list, holding
    the leaves on entry and every slot of `keep` on return; P: the plan's pool, every buffer
    allocated. A step with buffers writes into them when its inputs have the recorded shapes
    (else it allocates, e.g. a shape depending on data), as Plan's loop does."""
    written = set()
    for step in steps:
        written.update(step.out_slot if type(step.out_slot) is tuple else (step.out_slot,))
    read = {i for step in steps for i in step.in_slots}
    leaves = sorted((read | keep) - written)
    env: dict = {"_fail": _fail, "_steps": steps, "_backend_name": backend_name}
    body = ["    pass"] + [f"    v{s} = V[{s}]" for s in leaves]
    for k, step in enumerate(steps):
        env[f"s{k}"] = step
        body.append(f"    k = {k}")
        args = ", ".join(f"v{i}" for i in step.in_slots)
        call = f"s{k}.fn({args}"
        outs = step.out_slot if type(step.out_slot) is tuple else None
        fn = step.fn
        if isinstance(fn, functools.partial) and fn.func is sum_to_like_or_same and len(step.in_slots) == 2 \
                and step.bufs is None:
            x, r = step.in_slots
            env[f"f{k}"] = fn  # a function put in its place later (a test, a timer) is called
            body.append(f"    v{step.out_slot} = v{x} if s{k}.fn is f{k} and tuple(v{x}.shape) == "
                        f"tuple(v{r}.shape) else {call})")
        elif step.bufs is None:
            body += _store(f"{call})", step.out_slot, outs, "    ")
        else:
            env[f"h{k}"] = tuple(step.in_shapes)
            test = " and ".join(f"v{i}.shape == h{k}[{j}]" for j, i in enumerate(step.in_slots)) or "True"
            if outs is None:
                out = f"P[{step.bufs}]"
            else:
                out = "[" + ", ".join(f"P[{b}]" for b in step.bufs) + "]"
            sep = ", " if step.in_slots else ""
            body.append(f"    if {test}:")
            body += _store(f"{call}{sep}out={out})", step.out_slot, outs, "        ")
            body.append("    else:")
            body += _store(f"{call})", step.out_slot, outs, "        ")
        body += [f"    v{s} = None" for s in step.release]
    body += [f"    V[{s}] = v{s}" for s in sorted(keep)]
    src = ["def run(V, P):", "    k = -1", "    try:"] + ["    " + line for line in body] + [
        "    except Exception as e:",
        "        _fail(e, _steps, k, locals(), _backend_name)",
        "        raise",
    ]
    code = compile("\n".join(src) + "\n", "<keraslite plan>", "exec")
    exec(code, env)  # noqa: S102 - text written above from the plan's own slot numbers
    return env["run"]


def _store(call: str, out_slot, outs, indent: str) -> list[str]:
    if outs is None:
        return [f"{indent}v{out_slot} = {call}"]
    lines = [f"{indent}r = {call}"]
    lines += [f"{indent}v{s} = r[{j}]" for j, s in enumerate(outs)]
    return lines


def _fail(e, steps, k, local, backend_name):
    if k < 0:
        return
    step = steps[k]
    note(e, step, [getattr(local.get(f"v{i}"), "shape", ()) for i in step.in_slots], backend_name)

"""Update values written straight into the variables' own arrays, inside the commit.

An optimizer's batched update step (batching.py) computes, per variable, new values of the
parameter and its slots (Adam: p, m, v) from the old ones and the gradient. Computed into fresh
buffers and then swapped in (commit.py), those new values need as much memory again as the
parameters and slots themselves (about 180 MiB for ResNet50's Adam). Instead, a batched step
whose every output is the new value of one variable, and some of whose outputs may overwrite
their variable's array, is *deferred*:

* at plan build (`defer`), the step and its `update` steps move to the end of the plan, and the
  step's function becomes a `Deferred`, which at run time only hands its arguments on (one
  `Token` per output) instead of computing;
* at the commit (`launch`, called by compiler.Plan._apply_updates once every output and every
  other update value is computed and checked), each output that may overwrite its variable's
  array is given that array as its `out=`, the others a fresh array; the backend's kernel is
  made ready (`prepare`: arguments checked, kernel compiled, tables computed: nothing can fail
  once it has begun writing) and launched by the commit itself, inside swap_in's SIGINT hold,
  before the assignments. A failure anywhere before that launch leaves every variable as it was;
  a Ctrl-C during it is delivered once every variable is assigned.

When an output may overwrite its variable's array, checked at plan build: the backend lets an
output overwrite an input of its own member (out_mode "inplace": each element is read before it
is written, members never share memory) and its batched kernel offers `prepare`; the output is
the new value of exactly one variable, updated once, of the variable's shape and dtype; the
variable is an input of the output's own member and of no other deferred step's (a kernel
writing it would change another's input); no update's value is the variable itself (that update
must see the pre-step value). Checked per run: the array is the one the step read, a
C-contiguous, writeable array owning its memory, referenced by the variable and the step's
arguments alone (CPython reference counts: a view of it, an output handed out, a user's
reference or another run's leaves all count), and the run holds the plan (no concurrent run of
the same plan). Otherwise the output goes into a fresh array, assigned as before; if the kernel
cannot promise to run as one call (`prepare` answers None), every output does, and the kernel
runs before the commit. A run of *another* function in another thread that starts while the
kernel writes may read weights half updated, as with in-place variable assignment in Keras's
TensorFlow backend.
"""
from __future__ import annotations

from typing import Any

from .aligned import owns_memory
from .memplan import outs_of, unshared


class Token:
    """What a deferred step's outputs hold until the commit: the step's arguments of this run."""

    __slots__ = ("args",)

    def __init__(self, args):
        self.args = args


class Deferred:
    """A deferred step's function: returns one Token (the arguments) per output."""

    __slots__ = ("kernel", "n_out")
    fresh_results = True  # for the memory plan: the results are no views of the arguments

    def __init__(self, kernel, n_out: int):
        self.kernel, self.n_out = kernel, n_out

    def __call__(self, *args):
        token = Token(args)
        return [token] * self.n_out


class Work:
    """A deferred step: its index in the plan, value slots (one per output) and, per output, the
    variable it updates and that variable's argument position (-1: never written in place)."""

    __slots__ = ("index", "slots", "targets", "kernel")

    def __init__(self, index, slots, targets, kernel):
        self.index, self.slots, self.targets, self.kernel = index, slots, targets, kernel


def defer(steps: list, updates: list, var_slots: list) -> tuple[list, list]:
    """(the steps reordered, [Work]) for the batched steps that may write into their variables
    (see the module's docstring); the steps unchanged and [] when there are none. Each deferred
    step's function is replaced by a Deferred."""
    slot_of = {id(var): s for s, var in var_slots}
    var_times: dict = {}
    value_times: dict = {}
    for var, s in updates:
        var_times[id(var)] = var_times.get(id(var), 0) + 1
        value_times[s] = value_times.get(s, 0) + 1
    target = {s: var for var, s in updates if var_times[id(var)] == 1 and value_times[s] == 1}
    candidates = [k for k, step in enumerate(steps) if getattr(step, "inplace_of", None) is not None
                  and step.out_mode == "inplace" and callable(getattr(step.fn, "prepare", None))]
    reads: dict = {}
    for k in candidates:
        for t in steps[k].in_slots:
            reads[t] = reads.get(t, 0) + 1
    chosen: dict = {}
    for k in candidates:
        step = steps[k]
        targets = []
        for o, mine, node in zip(outs_of(step), step.inplace_of, step.node):
            var = target.get(o)
            if var is None or tuple(node.shape) != tuple(var.shape) or node.dtype != var.dtype:
                break  # the value of several updates, or of a variable updated twice: not deferred
            t = slot_of.get(id(var))
            ok = t is not None and t in mine and t not in value_times and reads.get(t, 0) == mine.count(t)
            targets.append((var, step.in_slots.index(t) if ok else -1))  # -1: a fresh array
        else:
            if any(pos >= 0 for _, pos in targets):
                chosen[k] = tuple(targets)
    if not chosen:
        return steps, []
    made = {o for k in chosen for o in outs_of(steps[k])}
    moved = [k for k, step in enumerate(steps)
             if k in chosen or (step.op == "update" and step.in_slots[1] in made)]
    moving = set(moved)
    keep = [step for k, step in enumerate(steps) if k not in moving]
    work = []
    for k in moved:
        step = steps[k]
        if k in chosen:
            work.append(Work(len(keep), outs_of(step), chosen[k], step.fn))
            step.fn = Deferred(step.fn, len(chosen[k]))
        keep.append(step)
    return keep, work


def gather(work: list, vals: list) -> list:
    """The (Work, arguments) of this run's deferred steps (those that handed on a Token: a step
    whose function was replaced since, e.g. by a test, computed its values as usual)."""
    found = []
    for w in work:
        token = vals[w.slots[0]]
        if type(token) is Token:
            found.append((w, token.args))
    return found


def launch(backend, found: list, exclusive: bool) -> tuple[Any, list]:
    """Make this run's deferred kernels ready: (a callable launching those that write into
    variables, or None; [(variable, new array)] for every deferred output). The caller has
    dropped the run's own references to the variables' arrays (`vals`) and keeps `found` alive
    until the callable has run; it runs it inside the commit, before the assignments."""
    ready, assigned = [], []
    for w, args in found:
        outs, into = [], False
        counts = _counts(args)
        for var, pos in w.targets:
            if pos >= 0 and exclusive and args[pos] is var.native(backend) and _alone(args, pos, counts):
                outs.append(args[pos])
                into = True
            else:
                outs.append(backend.empty(var.shape, var.dtype))
        go = w.kernel.prepare(*args, out=outs) if into else None
        if go is None:  # nothing written into a variable, or the kernel cannot promise it: now
            if into:
                outs = [backend.empty(var.shape, var.dtype) if pos >= 0 and o is args[pos] else o
                        for o, (var, pos) in zip(outs, w.targets)]
            outs = w.kernel(*args, out=outs)
        else:
            ready.append(go)
        assigned.extend((var, o) for (var, _), o in zip(w.targets, outs))
    if not ready:
        return None, assigned

    def run():
        for go in ready:
            go()
    return run, assigned


def _counts(args: tuple) -> dict:
    """id -> how often args holds the object, counted once per launch (Adam on ResNet50: ~1,500
    args and 640 targets; a scan per target cost 38 ms a step). Ids only: no reference kept."""
    counts: dict = {}
    for i in map(id, args):
        counts[i] = counts.get(i, 0) + 1
    return counts


def _alone(args: tuple, pos: int, counts: dict) -> bool:
    """Whether the variable's array args[pos] may be overwritten: it owns its memory, is
    C-contiguous and writeable, and nothing holds it but the variable and `args` (`counts`:
    how often args holds each object, by id)."""
    a = args[pos]
    ok = hasattr(a, "base") and owns_memory(a) and a.flags.c_contiguous and a.flags.writeable
    n = counts[id(a)]
    del a
    return ok and unshared(args, pos, n)  # the variable's reference, args' n beyond the list's

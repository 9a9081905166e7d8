"""K.function and K.eval: turn a graph into a plan, a flat list of backend calls, and run it.

A plan is built once per backend and per feed signature (shapes and dtypes) and reused. Running
it is one Python loop over the steps. Updates are computed with the outputs and assigned only
after every step succeeded, so an exception mid-call leaves every variable as it was; the
assignments themselves are one commit that a Ctrl-C cannot cut in half (commit.py).

Memory (memplan.py): every slot is dropped right after its last reader, and from the second run
on, steps whose primitive can write into a given array write into buffers pooled by the plan, so
that a steady-state run allocates no activations. Values leaving a run never alias the pool: an
output that may share a pooled buffer is copied, and an update value that *is* a pooled buffer
is handed to its variable, the variable's previous array taking its place in the pool when
nothing else references it (otherwise the pool allocates a new buffer on the next run). Batched
optimizer updates that may write straight into their variables' arrays are deferred to the
commit, which launches them before the assignments (inplace.py).
"""
from __future__ import annotations

import functools
import operator
import threading
from typing import Any, Sequence

import numpy as np

from .aligned import ALIGN, aligned_copy, owns_memory
from .batching import BatchedGroup, batch_updates
from .commit import swap_in
from .fusion import FusedGroup, fuse
from . import executor, inplace, memplan, patterns
from .executor import same as _same, second as _second, sum_to_like_or_same as _sum_to_like_or_same
from .memplan import assign_buffers, release_lists, unshared
from .graph import OPS, Constant, Placeholder, Tensor, Variable, as_tensor, shape_str, topological_order
from .ops.state import update
from .interface import Backend
from .registry import get_backend_object
from .specialize import specialize


class Step:
    """One backend call: out_slot = fn(*[slots[i] for i in in_slots]).

    `out_mode`: whether fn takes `out=` (the backend's out_mode); `bufs`: the pooled buffer (a
    tuple of them for several outputs) it writes into once the plan is laid out, for inputs of
    `in_shapes`; `release`: slots whose last reader this step is."""

    __slots__ = ("op", "fn", "in_slots", "out_slot", "node", "out_mode", "bufs", "in_shapes", "release",
                 "inplace_of")

    def __init__(self, op, fn, in_slots, out_slot, node, out_mode=None):
        self.op, self.fn, self.in_slots, self.out_slot, self.node = op, fn, in_slots, out_slot, node
        self.out_mode = out_mode
        self.bufs = self.in_shapes = None
        self.release = ()
        self.inplace_of = None  # per output, the input slots it may overwrite (None: any input)

    def __repr__(self):
        return f"Step({self.op}, in={list(self.in_slots)}, out={self.out_slot})"


class Plan:
    """The executable form of a graph for one backend and one feed signature."""

    def __init__(self, backend, inputs: Sequence[Tensor], outputs: Sequence[Tensor], updates: Sequence[Tensor]):
        self.backend = backend
        # the protocol's default running() does nothing: skip entering it on every call
        self._default_running = type(backend).running is Backend.running
        out_mode = getattr(backend, "out_mode", None) or _allocates
        fed = {t.id: i for i, t in enumerate(inputs)}
        # updates last to first: optimizers list them in layer order (input first), and a depth-
        # first order then computes each layer's weight gradient as soon as the backward pass
        # reaches the layer, so that its activation and incoming gradient die there; the other
        # way round the whole input-gradient chain runs first, every incoming gradient alive
        order = topological_order(list(outputs) + list(updates)[::-1], stop=set(fed))
        if not backend.supports_sparse and any(n.sparse for n in order):
            from .sparse import _check_backend
            _check_backend(backend, "K.function: the graph holds sparse tensors and")
        schedule = order
        needed = {t.id for t in outputs} | {u.inputs[1].id for u in updates}
        fused, inner = patterns.find(backend, order, needed, set(fed))
        if backend.fuses_elementwise:
            def accept(node):
                return node.id not in inner and backend.fusable(node)
            schedule, _ = fuse(order, needed, set(fed), accept=accept)
            if backend.batches_elementwise:  # per-variable update chains: one step per program
                schedule = batch_updates(schedule, order, {t.id for t in outputs})
        slot = {}
        self.feed_slots: list[tuple[int, int]] = []
        self.var_slots: list[tuple[int, Variable]] = []
        self.const_slots: list[tuple[int, Any]] = []
        self.steps: list[Step] = []
        self.updates: list[tuple[Variable, int]] = []
        for node in schedule:
            if isinstance(node, (FusedGroup, BatchedGroup)):
                if isinstance(node, BatchedGroup):
                    fn = backend.compile_elementwise_batch(node.program, node.kinds)
                    name, mode = node.name(), "elementwise_batch"
                else:
                    fn = backend.compile_elementwise(node.program)
                    name, mode = "fused[" + ",".join(m.op for m in node.members) + "]", "elementwise"
                outs = []
                for o in node.outputs:
                    slot[o.id] = len(slot)
                    outs.append(slot[o.id])
                step = Step(name, fn, tuple(slot[i.id] for i in node.inputs), tuple(outs), node.outputs,
                            out_mode(mode))
                if isinstance(node, BatchedGroup):  # an output may only take its own member's input
                    step.inplace_of = tuple(tuple(slot[i.id] for i in g.inputs) for g in node.members
                                            for _ in g.outputs)
                self.steps.append(step)
                continue
            if node.id in inner and node.id not in fused:  # computed inside its chain's fused step
                continue
            s = slot[node.id] = len(slot)
            if node.id in fused:  # the place (patterns.Match.at) of a declared pattern the backend fuses
                m = fused[node.id]
                name = m.name  # a backend's fused form may take out= too
                self.steps.append(Step(name, m.fn, tuple(slot[i.id] for i in m.inputs), s, node, out_mode(name)))
                if m.element is not None:  # a tuple: the chain's value is one element of it
                    slot[m.nodes[-1].id] = last = len(slot)
                    self.steps.append(Step("tuple_get", operator.itemgetter(m.element), (s,), last, m.getter))
                    s = last
                for inner_node in m.shape_read:  # shape-only readers see the chain's value instead
                    slot[inner_node.id] = len(slot)
                    self.steps.append(Step("alias", _same, (s,), slot[inner_node.id], inner_node))
                continue
            if node.id in fed:
                self.feed_slots.append((s, fed[node.id]))
            elif isinstance(node, Variable):
                self.var_slots.append((s, node))
            elif isinstance(node, Constant):
                self.const_slots.append((s, backend.from_numpy(node.value)))
            elif isinstance(node, Placeholder):
                if node.default is None:
                    raise ValueError(f"K.function: the placeholder '{node.name}' {shape_str(node.shape)} is "
                                     "needed by the outputs but is not among the inputs")
                self.const_slots.append((s, backend.from_numpy(np.asarray(node.default, dtype=node.dtype))))
            elif node.op == "update":
                var, new = node.inputs
                self.updates.append((var, slot[new.id]))
                self.steps.append(Step("update", _second, (slot[var.id], slot[new.id]), s, node))
            elif node.op == "tuple_get":
                self.steps.append(Step("tuple_get", operator.itemgetter(node.attrs["index"]),
                                       (slot[node.inputs[0].id],), s, node))
            else:
                od = OPS[node.op]
                if od.build is not None:
                    fn = od.build(node, backend)
                    self.steps.append(Step(node.op, fn, tuple(slot[i.id] for i in node.inputs), s, node,
                                           out_mode(node.op) if _forwards_out(fn, backend, node.op) else None))
                    continue
                attrs = dict(node.attrs)
                if od.stateful:
                    attrs.pop("seed", None)
                    attrs["rng"] = _node_rng(node, backend)
                fn = backend.primitive(node.op, attrs)
                mode = None if od.stateful else out_mode(node.op)
                if node.op == "sum_to_like" and node.inputs[0].shape == node.inputs[1].shape:
                    # autodiff's reduction of a gradient to an operand of the same (partly unknown)
                    # shape: at run time usually the identity, which needs no pass over the data
                    fn, mode = functools.partial(_sum_to_like_or_same, fn), None
                self.steps.append(Step(node.op, fn, tuple(slot[i.id] for i in node.inputs), s, node, mode))
        self.n_slots = len(slot)
        self.output_slots = [slot[t.id] for t in outputs]
        # alias and update steps only pass a value on: their readers read its slot instead
        self.steps, self.output_slots, self.updates = executor.drop_copies(self.steps, self.output_slots,
                                                                           self.updates)
        self.sparse_outputs = [t.sparse for t in outputs]
        leaves = {s for s, _ in self.feed_slots} | {s for s, _ in self.var_slots} | {s for s, _ in self.const_slots}
        # outputs the caller may mutate must not share memory with variables, constants or feeds,
        # nor be an update's value (e.g. an update node fetched as an output): that becomes a variable
        leaves |= {s for _, s in self.updates}
        self.copy_output = [s in leaves for s in self.output_slots]
        keep = set(self.output_slots) | {s for _, s in self.updates}
        # batched updates that may write into their variables: last, run by the commit (inplace.py)
        self._deferred: list = []
        if memplan.ENABLED and backend.batches_elementwise:
            self.steps, self._deferred = inplace.defer(self.steps, self.updates, self.var_slots)
        for step, drop in zip(self.steps, release_lists(self.steps, self.n_slots, keep)):
            step.release = drop
        # the memory plan: laid out after the first successful run (which observes the shapes)
        self._plannable = memplan.ENABLED and any(step.out_mode for step in self.steps)
        self._layout = None
        self._run_code = None  # the pooled run as generated code (executor.generate), per layout
        self._holes = True     # whether a pooled buffer is still to be allocated
        self._pool: list = []
        self._specs: list = []
        self._busy = threading.Lock()  # a second, concurrent run of this plan runs unpooled
        backend.prepare_plan(self)  # e.g. the CPU backend starts compiling the plan's kernels

    def run(self, feeds: Sequence[Any]) -> list[np.ndarray]:
        # log(0), 0/0 and friends give inf/nan silently, as in TensorFlow
        # inside the backend's per-run context (e.g. the CPU backend's thread settings)
        if self._default_running:
            with np.errstate(all="ignore"):
                return self._run(feeds)
        with np.errstate(all="ignore"), self.backend.running():
            return self._run(feeds)

    def _run(self, feeds: Sequence[Any]) -> list[np.ndarray]:
        pooled = self._layout is not None and self._busy.acquire(False)
        try:
            return self._run_pooled(feeds) if pooled else self._run_plain(feeds)
        finally:
            if pooled:
                self._busy.release()

    def _leaves(self, feeds):
        vals: list[Any] = [None] * self.n_slots
        for s, i in self.feed_slots:
            vals[s] = feeds[i]
        backend = self.backend
        for s, var in self.var_slots:
            vals[s] = var.native(backend)
        for s, c in self.const_slots:
            vals[s] = c
        return vals

    def _run_plain(self, feeds):
        """Every step allocates its results (the first run, which records their shapes for the
        memory plan, and concurrent runs)."""
        vals = self._leaves(feeds)
        record = {} if self._plannable and self._layout is None else None
        self._execute(vals, record)
        backend = self.backend
        outputs = [backend.sparse_to_host(vals[s]) if sp else backend.to_numpy(vals[s], copy)
                   for s, copy, sp in zip(self.output_slots, self.copy_output, self.sparse_outputs)]
        own = bool(self._deferred) and self._busy.acquire(False)  # no concurrent run writes in place
        try:
            self._apply_updates(vals, exclusive=own)
        finally:
            if own:
                self._busy.release()
        # laid out under the run lock: a pooled run in another thread never sees half a layout
        if record is not None and self._layout is None and self._busy.acquire(False):
            try:
                if self._layout is None:
                    self._lay_out(record)
            finally:
                self._busy.release()
        return outputs

    def _run_pooled(self, feeds):
        vals = self._leaves(feeds)
        pool = self._pool
        if self._holes:  # allocated before the run: the generated code reads the pool as is
            for b in range(len(pool)):
                if pool[b] is None:
                    self._allocate(b)
            self._holes = False
        run = self._run_code
        if run is None:
            keep = set(self.output_slots) | {s for _, s in self.updates}
            keep.update(s for w in self._deferred for s in w.slots)
            run = self._run_code = executor.generate(self.steps, keep, self.backend.name)
        run(vals, pool)
        # an output computed from pooled buffers is handed out as is only when it owns its memory
        # (to_numpy copies views) and is none of the buffers themselves (an identity op)
        backend = self.backend
        outputs = [backend.sparse_to_host(vals[s]) if sp else
                   backend.to_numpy(vals[s], copy or any(vals[s] is pool[b] for b in bufs))
                   for s, copy, bufs, sp in zip(self.output_slots, self.copy_output, self._out_alias,
                                                self.sparse_outputs)]
        self._apply_updates(vals, pooled=True, exclusive=True)
        return outputs

    def _execute(self, vals, record):
        """The plain run's loop (pooled runs are generated code: executor.generate)."""
        step = None
        try:
            for k, step in enumerate(self.steps):
                args = [vals[i] for i in step.in_slots]
                out = step.fn(*args)
                if record is not None and step.out_mode is not None:
                    _record(record, k, step, args, out)
                _store(vals, step, out)
        except Exception as e:
            executor.note(e, step, [getattr(vals[i], "shape", ()) for i in step.in_slots], self.backend.name)
            raise

    def _allocate(self, b):
        """Buffer b, allocated on first use: its own array, or (a buffer living within a run)
        a view of the arena, which is then allocated with all its views (memplan.pack)."""
        pool, specs = self._pool, self._specs
        offsets = self._layout.offsets
        if b not in offsets:
            pool[b] = self.backend.empty(*specs[b])
            return pool[b]
        arena = self.backend.empty((self._layout.arena,), np.uint8)
        for c, at in offsets.items():
            shape, dtype = specs[c]
            pool[c] = arena[at:at + memplan.nbytes(specs[c])].view(dtype).reshape(shape)
        return pool[b]

    def _lay_out(self, record):
        outputs = set(self.output_slots)
        lay = assign_buffers(self.steps, self.n_slots, record, outputs,
                             outputs | {s for _, s in self.updates})
        for k, step in enumerate(self.steps):
            bufs = lay.step_bufs.get(k)
            step.bufs = step.in_shapes = None
            if bufs is not None:
                step.in_shapes = list(record[k][0])  # compared with a list of the inputs' shapes
                step.bufs = bufs if type(step.out_slot) is tuple else bufs[0]
        self._specs = lay.specs
        self._pool = [None] * len(lay.specs)
        self._holes, self._run_code = True, None
        self._out_alias = [tuple(lay.alias.get(s, ())) for s in self.output_slots]
        # per update: the buffer its value is (>= 0), -1 when it may only alias one, else None
        self._update_bufs = [lay.direct.get(s, -1) if s in lay.alias else None for _, s in self.updates]
        self._layout = lay

    def _apply_updates(self, vals, pooled=False, exclusive=False):
        """Check every update value, then commit them all (swap_in). The deferred batched steps
        (inplace.py) run inside the commit, before the assignments, writing into the variables'
        arrays where `exclusive` (this run holds the plan) and nothing else holds them."""
        pending, swaps = [], []
        found = inplace.gather(self._deferred, vals) if self._deferred else ()
        for j, (var, s) in enumerate(self.updates):
            value = vals[s]
            if type(value) is inplace.Token:
                continue  # computed by its deferred step, below
            if tuple(value.shape) != var.shape:
                raise ValueError(f"update of variable '{var.name}' {shape_str(var.shape)} computed a value of "
                                 f"shape {shape_str(tuple(value.shape))}; no variable was changed")
            if value.dtype != var.dtype:
                value = value.astype(var.dtype)
            elif pooled and self._update_bufs[j] is not None:
                b = self._update_bufs[j]
                if b >= 0 and value is self._pool[b] and b not in swaps:
                    swaps.append(b)  # the variable takes the buffer itself (_assign_or_swap)
                    pending.append((var, b))
                    continue
                if value.base is not None or any(value is buf for buf in self._pool):
                    value = aligned_copy(value)  # a view of a pooled buffer, or one already taken
            pending.append((var, value))
        if found:
            vals.clear()  # the run's references to the variables' arrays (inplace._alone)
            run, assigned = inplace.launch(self.backend, found, exclusive)
            pending.extend(assigned)
            if run is not None:
                pending.insert(0, (_LAUNCH, run))  # first, under the commit's SIGINT hold
        if swaps:
            vals.clear()  # the run's references to the variables' previous arrays (see _swap)
            swap_in(pending, self._assign_or_swap)
        else:
            swap_in(pending, self._assign)

    def _assign(self, var, value):
        if var is _LAUNCH:
            value()
            return
        if isinstance(value, np.ndarray) and value.nbytes >= _ALIGN_FROM and value.ctypes.data % ALIGN:
            # a kernel's fresh result (a first, unpooled run): the variable keeps its array from
            # now on (updated in place or swapped with pooled buffers), so it starts on a line
            value = aligned_copy(value)
        var.assign_native(self.backend, value)

    def _assign_or_swap(self, var, value):
        """Assign, or (for an int: a buffer id) hand the pooled buffer to the variable: it leaves
        the pool, and the variable's previous array takes its place when it fits and nothing
        else holds it; otherwise the next run allocates the buffer anew. Inside the commit, so a
        Ctrl-C cannot leave a variable's array in the pool."""
        if type(value) is not int:
            self._assign(var, value)
            return
        pool, backend = self._pool, self.backend
        olds = [var.native(backend)]
        var.assign_native(backend, pool[value])
        pool[value] = olds[0] if _fits(olds, self._specs[value]) and unshared(olds, 0) else None
        if pool[value] is None:
            self._holes = True

    def kernels(self) -> list[str]:
        """The op names of the plan's steps, in execution order (to inspect fusion)."""
        return [s.op for s in self.steps if s.fn is not _same]


# variables of at least this many bytes get arrays that start on a cache line (aligned.py)
_ALIGN_FROM = 1 << 12

# the commit's first "assignment": launching the deferred kernels (inplace.launch)
_LAUNCH = object()


def _store(vals, step, out):
    """Put a step's result(s) into their slots and drop the slots it read last."""
    if type(step.out_slot) is tuple:
        for s, v in zip(step.out_slot, out):
            vals[s] = v
    else:
        vals[step.out_slot] = out
    for s in step.release:
        vals[s] = None


def _node_rng(node, backend):
    """A random node's generator, kept on the node so that every evaluation draws anew and a seed
    fixes the whole sequence (not just the first draw)."""
    rngs = node.__dict__.setdefault("_rngs", {})
    if backend.name not in rngs:
        seed = node.attrs.get("seed")
        rngs[backend.name] = backend.rng(np.random.randint(0, 2 ** 31 - 1) if seed is None else seed)
    return rngs[backend.name]


def _allocates(op):
    """out_mode of a backend that declares none: every primitive allocates its result."""
    return None


def _forwards_out(fn, backend, op) -> bool:
    """Whether an op's built step passes `out=` on to the backend's primitive `op`: it is that
    primitive (as Backend.primitive returns it) or says so (`forwards_out`)."""
    if getattr(fn, "forwards_out", False):
        return True
    f = fn.func if isinstance(fn, functools.partial) else fn
    return getattr(f, "__self__", None) is backend and getattr(f, "__name__", None) == op


def _record(record, k, step, args, out):
    """Note the input shapes and result shapes/dtypes of a step that can write into a given
    array (only arrays: a step returning NumPy scalars or Python numbers is left to allocate)."""
    if type(out) is tuple and type(step.out_slot) is not tuple:  # out= takes the first result
        if out and _is_array(out[0]) and all(hasattr(a, "shape") for a in args):
            record[k] = (tuple(a.shape for a in args), [(out[0].shape, out[0].dtype)], "first")
        return
    outs = out if type(step.out_slot) is tuple else (out,)
    if all(_is_array(o) for o in outs) and all(hasattr(a, "shape") for a in args):
        record[k] = (tuple(a.shape for a in args), [(o.shape, o.dtype) for o in outs])


def _fits(olds, spec) -> bool:
    """Whether a variable's previous array can serve as the pooled buffer of `spec`."""
    a = olds[0]
    return (isinstance(a, np.ndarray) and a.shape == spec[0] and a.dtype == spec[1] and owns_memory(a)
            and a.flags.c_contiguous and a.flags.writeable)


def _is_array(v) -> bool:
    """A dense array (NumPy-like: it has flags); not a NumPy scalar, nor a sparse matrix."""
    return getattr(v, "flags", None) is not None and getattr(v, "ndim", None) is not None \
        and not isinstance(v, np.generic)


def _as_update(u) -> Tensor:
    if isinstance(u, Tensor):
        if u.op != "update":
            raise TypeError(f"K.function: updates must be update ops or (variable, value) pairs, got {u!r}")
        return u
    if isinstance(u, (tuple, list)) and len(u) == 2:
        return update(u[0], u[1])
    raise TypeError(f"K.function: updates must be update ops or (variable, value) pairs, got {u!r}")


class Function:
    """A compiled callable: f(list_of_arrays) -> list of NumPy arrays."""

    def __init__(self, inputs, outputs, updates=None, name=None, givens=None):
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"K.function: `{what}` must be a list or tuple, got {type(value).__name__}")
        if updates is not None and not isinstance(updates, (list, tuple)):
            raise TypeError(f"K.function: `updates` must be a list or tuple, got {type(updates).__name__}")
        self.inputs = [as_tensor(t) for t in inputs]
        self.outputs = [as_tensor(t) for t in outputs]
        self.updates = [_as_update(u) for u in (updates or [])]
        if givens:
            fed = {t.id for t in self.inputs}
            clash = [p.name for p in givens if p.id in fed]
            if clash:
                raise ValueError(f"K.function: {clash} are both inputs and givens")
            n = len(self.outputs)
            rewritten = specialize(self.outputs + self.updates, givens)
            self.outputs, self.updates = rewritten[:n], rewritten[n:]
        self.name = name
        self._plans: dict = {}
        self.last_plan: Plan | None = None

    def _convert(self, values, backend):
        if not isinstance(values, (list, tuple)):
            raise TypeError(f"K.function: call the function with a list of input values, got {type(values).__name__}")
        if len(values) != len(self.inputs):
            raise ValueError(f"K.function: expected {len(self.inputs)} input values, got {len(values)}")
        feeds, sig = [], []
        for i, (t, v) in enumerate(zip(self.inputs, values)):
            if t.sparse:
                from .sparse import feed
                arr, s = feed(t, v, i, backend)
                feeds.append(arr)
                sig.append(s)
                continue
            if _is_native(v, backend):  # already on the device: no transfer
                arr = v if v.dtype == t.dtype else v.astype(t.dtype)
            else:
                arr = np.asarray(v, dtype=t.dtype)
            if len(arr.shape) != t.ndim or any(d is not None and d != a for d, a in zip(t.shape, arr.shape)):
                raise ValueError(f"K.function: input {i} ('{t.name}') expects shape {shape_str(t.shape)}, "
                                 f"got an array of shape {shape_str(tuple(arr.shape))}")
            feeds.append(arr if _is_native(arr, backend) else backend.from_numpy(arr))
            sig.append((tuple(arr.shape), arr.dtype))  # a dtype hashes faster than str() makes it
        return feeds, tuple(sig)

    def plan_for(self, values=None) -> Plan:
        backend = get_backend_object()
        _, sig = self._convert(values if values is not None else [], backend) if self.inputs else ([], ())
        return self._plan(backend, sig)

    def _plan(self, backend, sig) -> Plan:
        key = (backend.name, sig)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = Plan(backend, self.inputs, self.outputs, self.updates)
        self.last_plan = plan
        return plan

    def __call__(self, inputs=()):
        backend = get_backend_object()
        feeds, sig = self._convert(inputs, backend)
        return self._plan(backend, sig).run(feeds)


def _is_native(v, backend) -> bool:
    """True for an array of a non-NumPy backend (e.g. a CuPy array fed to the cuda backend)."""
    return not isinstance(v, np.ndarray) and hasattr(v, "shape") and hasattr(v, "dtype") \
        and type(v).__module__.split(".")[0] != "numpy"


# what Keras's TensorFlow backend passed on to tf.Session.run
_SESSION_RUN_KWARGS = frozenset({"fetches", "feed_dict", "options", "run_metadata"})


def function(inputs, outputs, updates=None, **kwargs) -> Function:
    """function(inputs, outputs, updates=None, **kwargs): compile a callable taking a list of
    arrays (one per input) and returning a list of NumPy arrays. Updates (update ops or
    (variable, value) pairs) run after the outputs are computed. `givens` (keraslite, as in
    Theano) maps placeholders to fixed values, e.g. {K.learning_phase(): 1}: the graph is
    specialised on them and branches they rule out are never computed."""
    name = kwargs.pop("name", None)
    givens = kwargs.pop("givens", None)
    session_only = sorted(set(kwargs) & _SESSION_RUN_KWARGS)
    if session_only:
        raise ValueError(f"K.function: {session_only} are tf.Session.run arguments of Keras's TensorFlow "
                         "backend; keraslite has no session. Pass update ops as `updates`, and feed extra "
                         "placeholders as `inputs` (or fix them with `givens`).")
    if kwargs:
        raise ValueError(f"K.function: unexpected keyword arguments {sorted(kwargs)}")
    return Function(inputs, outputs, updates, name=name, givens=givens)


def eval(x) -> np.ndarray:
    """eval(x): evaluate a tensor (or variable) and return a NumPy array."""
    x = as_tensor(x)
    if isinstance(x, Variable):
        return x.numpy()
    if x.sparse:  # the dense value, as Keras's TensorFlow backend gives
        from .sparse import to_dense
        x = to_dense(x)
    return Function([], [x])([])[0]

"""Finding the declared fused patterns (interface.PATTERNS) in a graph about to be planned.

A pattern is a chain of primitives, producer first, each link reading the previous one's value.
A match is a maximal chain in which every value but the last is read by the next link only
(shape-only readers aside, see below), is neither an output nor fed, and passes each link's
check. The backend's `fused_form(pattern, chain)` then says whether it runs that chain as one
callable (longest match first, optional trailing links dropped one by one); the chain's inner
values are never materialised.

A pattern with an `element` (its first op returns a tuple) matches through the one tuple_get
of that element; the first op's other readers, tuple_gets of other elements, stay. Its fused
step runs in the first op's place (`Match.at`) and returns the whole tuple.

A pattern that `appends` (batch norm's backward pass + the sum of its dx) goes on from that
tuple_get to one of its readers, the tuple_get staying a step of its own (its value is
materialised and keeps every reader); the fused step returns the tuple with the chain's value
appended, and the chain's last node reads it from there (`Match.element`).

Later links of a pattern with an `element` may read other values only where those are computed
before the first op in every schedule: its ancestors (a residual connection's shortcut).

Shape-only readers (`SHAPE_ONLY`: e.g. autodiff's sum_to_like(grad, x), which reads x's shape)
of an inner value may stay: they must come after the chain's last node (they depend on it) and
see its value in the inner value's place, which needs the same shape and dtype (checked here).
"""
from __future__ import annotations

from .graph import OPS
from .interface import PATTERNS, Backend

# inputs that an op reads for their shape (and dtype) only, never their values
SHAPE_ONLY = {"sum_to_like": (1,), "shape": (0,)}


class Match:
    """A chain the backend fuses: `fn` takes `inputs`; `shape_read` lists the inner nodes read
    for their shape (they alias the chain's value)."""

    __slots__ = ("pattern", "nodes", "fn", "inputs", "shape_read")

    def __init__(self, pattern, nodes, fn, shape_read):
        self.pattern, self.nodes, self.fn, self.shape_read = pattern, tuple(nodes), fn, shape_read
        self.inputs = pattern.inputs(self.nodes)

    @property
    def at(self):
        """The node whose place the fused step takes: the chain's last, or its first for a
        pattern continuing from one element of a tuple (the other elements are read there)."""
        return self.nodes[0] if self.pattern.element is not None else self.nodes[-1]

    @property
    def element(self):
        """Where the chain's value is in the tuple the fused step returns (None: it is that
        value): the pattern's element, or for one that appends, after the first op's results."""
        p = self.pattern
        if p.element is None:
            return None
        return OPS[self.nodes[0].op].num_outputs if p.appends else p.element

    @property
    def getter(self):
        """The node the plan's tuple_get step of `element` stands for: the element's tuple_get,
        or for a pattern that appends (whose tuple_get stays a step of its own) the last node."""
        return self.nodes[-1] if self.pattern.appends else self.nodes[1]

    @property
    def inner(self) -> tuple:
        """The nodes computed inside the fused step (all but a kept tuple_get)."""
        return tuple(n for k, n in enumerate(self.nodes) if not (k == 1 and self.pattern.appends))

    @property
    def name(self) -> str:
        return self.pattern.step_name(self.nodes)


def find(backend, order, needed: set, fed: set) -> tuple[dict, set]:
    """({last node id: Match}, ids of every node inside a match) for the schedule `order`;
    nothing when the backend keeps the protocol's default `fused_form`."""
    if type(backend).fused_form is Backend.fused_form:
        return {}, set()
    starts = {op for p in PATTERNS for op in p.stages[0].ops}
    readers: dict[int, list] = {}
    for node in order:
        for k, i in enumerate(node.inputs):
            readers.setdefault(i.id, []).append((node, k))
    matches: dict[int, Match] = {}
    claimed: set = set()
    for node in order:
        if node.op not in starts or node.id in claimed or node.id in fed:
            continue
        for pattern in PATTERNS:
            m = _match_at(backend, pattern, node, readers, needed, fed, claimed)
            if m is not None:
                matches[m.at.id] = m
                claimed.update(n.id for n in m.nodes)
                break
    inner = {n.id for m in matches.values() for n in m.inner}
    return matches, inner


def _value_readers(node, readers):
    """(readers of node's value, readers of its shape only)."""
    values, shapes = [], []
    for r, k in readers.get(node.id, ()):
        (shapes if k in SHAPE_ONLY.get(r.op, ()) else values).append(r)
    return values, shapes


def _match_at(backend, pattern, first, readers, needed, fed, claimed):
    stages = pattern.stages
    if first.op not in stages[0].ops or (stages[0].check and not stages[0].check(first, None, (first,))):
        return None
    chain = [first]

    def links(nxt, cur, stage):
        return (nxt.id not in claimed and nxt.op in stage.ops and sum(1 for i in nxt.inputs if i is cur) == 1
                and (stage.check is None or stage.check(nxt, cur, tuple(chain))))

    for stage in stages[1:]:
        cur = chain[-1]
        kept = pattern.appends and len(chain) == 2  # the element's tuple_get: stays, keeps its readers
        if cur.id in fed or (cur.id in needed and not kept):
            break
        values, _ = _value_readers(cur, readers)
        if cur is first and pattern.element is not None:  # the tuple_get of that element only
            if any(r.op != "tuple_get" for r in values):
                break
            values = [r for r in values if r.attrs.get("index") == pattern.element]
        if kept:  # the first reader that links on
            values = [r for r in values if links(r, cur, stage)][:1]
        if len(values) != 1:
            break
        nxt = values[0]
        if pattern.element is not None and len(chain) >= 2 and not all(
                i is cur or _depends(first, i, fed) for i in nxt.inputs):
            break  # the step runs where the tuple is made: other inputs must be computed before it
        if not links(nxt, cur, stage):
            break
        chain.append(nxt)
    required = max(k for k, s in enumerate(stages) if not s.optional) + 1
    for n in range(len(chain), required - 1, -1):
        nodes = chain[:n]
        last = nodes[-1]
        shape_read = []
        ok = True
        for k, inner in enumerate(nodes[:-1]):
            if k == 1 and pattern.appends:  # materialised: its shape readers read it
                continue
            _, shapes = _value_readers(inner, readers)
            if shapes:
                if tuple(inner.shape) != tuple(last.shape) or inner.dtype != last.dtype \
                        or not all(_depends(r, last, fed) for r in shapes):
                    ok = False
                    break
                shape_read.append(inner)
        if not ok:
            continue
        fn = backend.fused_form(pattern, tuple(nodes))
        if fn is not None:
            return Match(pattern, nodes, fn, shape_read)
    return None


def _depends(r, c, fed) -> bool:
    """Whether node r reads (transitively) node c."""
    seen, stack = set(), list(r.inputs)
    while stack:
        n = stack.pop()
        if n is c:
            return True
        if n.id in seen or n.id in fed:
            continue
        seen.add(n.id)
        stack.extend(n.inputs)
    return False

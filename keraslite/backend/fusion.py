"""Elementwise fusion: group chains of elementwise ops into one kernel each.

The compiler calls `fuse(order, needed)` when the backend can compile elementwise programs. A
group is a set of elementwise nodes of one static shape, connected through their inputs, whose
members need not be materialised except where something outside the group (or the caller) reads
them. Each group becomes an `ElementwiseProgram`: straight-line scalar code over the group's
external inputs (broadcast against the output), writing one output per externally-read member.
"""
from __future__ import annotations

from dataclasses import dataclass

from .graph import OPS, Tensor


@dataclass(frozen=True)
class ElementwiseProgram:
    """Scalar code for one fused group: `lines` assign locals from inputs `a0..` and earlier locals."""

    n_inputs: int
    lines: tuple          # of (local name, expression)
    outputs: tuple        # local names written to the outputs, in order
    out_dtypes: tuple     # dtype names of the outputs

    def source_key(self) -> str:
        body = ";".join(f"{n}={e}" for n, e in self.lines)
        return f"{self.n_inputs}|{body}|{','.join(self.outputs)}|{','.join(self.out_dtypes)}"


@dataclass
class FusedGroup:
    members: list          # nodes in topological order
    inputs: list           # external input nodes, in argument order
    outputs: list          # members read outside the group
    program: ElementwiseProgram


def template_of(node: Tensor) -> str | None:
    od = OPS.get(node.op)
    if od is None or od.elementwise is None or od.num_outputs != 1:
        return None
    t = od.elementwise
    return t(node.attrs) if callable(t) else t


def fuse(order: list, needed: set, stop: set, min_size: int = 1, accept=None) -> tuple[list, dict]:
    """Partition `order` into plain nodes and fused groups.

    `needed`: ids of nodes whose values the caller reads (outputs, update values). `stop`: ids of
    fed nodes (leaves). Returns (schedule, groups): schedule is a list of nodes and FusedGroups in
    a valid execution order. `accept(node)`, when given, may refuse a node the backend cannot
    compile (e.g. a dtype its kernels do not support); refused nodes run as plain primitives.

    Three passes: `group_elementwise` (which nodes run together), `build_programs` (the scalar
    code of each group) and `schedule_units` (an order in which every unit's inputs are ready)."""
    groups, group_of = group_elementwise(order, stop, accept)
    fused = build_programs(order, groups, needed, min_size)
    return schedule_units(order, group_of, fused), fused


def group_elementwise(order: list, stop: set, accept=None) -> tuple[list, dict]:
    """Pass 1: assign elementwise nodes to groups, greedily in topological order.

    Returns (groups, group_of): groups[g] lists the members of group g in topological order
    (a group merged into another is left empty, so indices stay stable); group_of maps a member's
    id to its group. Invariants, for the bitsets over group indices kept while grouping:

    * `anc[n]` (every node seen so far) holds the groups that contain an ancestor of n, without
      n's own group: the OR over n's inputs i of anc[i] and i's group.
    * `group_anc[g]` is the OR of anc[m] over the members m of g; it never holds bit g.
    * The waits-for relation between units (a group runs as one kernel, so reading any member waits
      for every input of the group) is the transitive closure of group_anc (`reach`), and it is
      acyclic: no group reaches itself. A node joins group g only if none of its inputs outside g
      reaches g (`joinable`), and two sibling groups merge only if neither reaches the other; both
      rules keep the relation acyclic, which is what lets pass 3 find an order.
    * All members of a group have one static shape, carry an elementwise template, are accepted by
      the backend and are not fed.
    """
    group_of: dict[int, int] = {}
    groups: list[list] = []
    shape_of: list = []
    # anc: node id -> bitset of the groups holding one of its ancestors (outside its own group).
    # A fused group runs as one unit, so reading one member means waiting for every input of the
    # group: dependencies between units are the transitive closure of `group_anc` (per group: OR
    # of its members' anc), computed when asked because groups keep growing.
    anc: dict[int, int] = {}
    group_anc: list[int] = []

    def reach(bits: int) -> int:
        """Every group a unit depending on the groups in `bits` transitively waits for."""
        seen, frontier = bits, bits
        while frontier:
            new = 0
            while frontier:
                low = frontier & -frontier
                new |= group_anc[low.bit_length() - 1]
                frontier ^= low
            frontier = new & ~seen
            seen |= new
        return seen

    def depends_on(j, g) -> bool:
        """Does input node j (outside group g) wait for group g once groups run as units?"""
        gj = group_of.get(j.id)
        bits = anc.get(j.id, 0) | ((1 << gj) if gj is not None else 0)
        return bool((reach(bits) >> g) & 1)

    def joinable(g, node):
        # joining g is safe only if no input outside g reaches g (else the group would wait for itself)
        return all(group_of.get(j.id) == g or not depends_on(j, g) for j in node.inputs)

    for node in order:
        deps = 0
        for i in node.inputs:
            gi = group_of.get(i.id)
            deps |= anc.get(i.id, 0) | ((1 << gi) if gi is not None else 0)
        if node.id in stop or template_of(node) is None or (accept is not None and not accept(node)):
            anc[node.id] = deps
            continue
        candidates = []
        for i in node.inputs:
            g = group_of.get(i.id)
            if g is not None and g not in candidates and shape_of[g] == node.shape and joinable(g, node):
                candidates.append(g)
        if candidates:
            chosen = candidates[0]
            # sibling groups feeding the same node merge when neither waits for the other
            for g in candidates[1:]:
                if (reach(group_anc[chosen]) >> g) & 1 or (reach(group_anc[g]) >> chosen) & 1:
                    continue
                for m in groups[g]:
                    group_of[m.id] = chosen
                groups[chosen].extend(groups[g])
                groups[g] = []
                group_anc[g] = 0
                for nid, bits in anc.items():  # whoever depended on g now depends on chosen
                    if (bits >> g) & 1:
                        anc[nid] = (bits & ~(1 << g)) | (1 << chosen)
                for m in groups[chosen]:
                    anc[m.id] &= ~(1 << chosen)
                group_anc[:] = [(b & ~(1 << g)) | (1 << chosen) if (b >> g) & 1 else b for b in group_anc]
                group_anc[chosen] = 0
                for m in groups[chosen]:
                    group_anc[chosen] |= anc[m.id]
                deps = (deps & ~(1 << g)) | (1 << chosen)
        else:
            chosen = len(groups)
            groups.append([])
            shape_of.append(node.shape)
            group_anc.append(0)
        groups[chosen].append(node)
        group_of[node.id] = chosen
        anc[node.id] = deps & ~(1 << chosen)
        group_anc[chosen] |= anc[node.id]

    # members in topological order (merged groups interleave)
    position = {n.id: k for k, n in enumerate(order)}
    return [sorted(g, key=lambda n: position[n.id]) for g in groups], group_of


def build_programs(order: list, groups: list, needed: set, min_size: int = 1) -> dict:
    """Pass 2: the ElementwiseProgram of each group of at least `min_size` members.

    A member is an output of its program when the caller needs it or a node outside the group reads
    it; the program's inputs are the group's external inputs in order of first use, and its lines
    follow the members' topological order, so every local is assigned before it is read. Returns
    {group index: FusedGroup}."""
    # who reads each node
    readers: dict[int, set] = {}
    for node in order:
        for i in node.inputs:
            readers.setdefault(i.id, set()).add(node.id)

    fused: dict[int, FusedGroup] = {}
    for gid, members in enumerate(groups):
        if len(members) < min_size:
            continue
        ids = {m.id for m in members}
        outs = [m for m in members if m.id in needed or any(r not in ids for r in readers.get(m.id, ()))]
        ins, in_index = [], {}
        lines, local = [], {}
        for k, m in enumerate(members):
            args = []
            for i in m.inputs:
                if i.id in ids:
                    args.append(local[i.id])
                else:
                    if i.id not in in_index:
                        in_index[i.id] = len(ins)
                        ins.append(i)
                    args.append(f"a{in_index[i.id]}")
            name = f"t{k}"
            local[m.id] = name
            lines.append((name, template_of(m).format(*args)))
        program = ElementwiseProgram(len(ins), tuple(lines), tuple(local[o.id] for o in outs),
                                     tuple(o.dtype for o in outs))
        fused[gid] = FusedGroup(members, ins, outs, program)

    return fused


def schedule_units(order: list, group_of: dict, fused: dict) -> list:
    """Pass 3: the execution order of units (plain nodes and FusedGroups).

    Depth-first from the original order, each unit placed after the units producing its inputs, so
    a group runs once all its external inputs are ready; the original order is kept where it can
    be. The acyclic waits-for relation of pass 1 guarantees an order exists; finding a unit again
    on its own dependency path means that invariant was broken (a keraslite bug)."""
    # condensed schedule: a group runs once all its external inputs are ready
    unit_of: dict[int, object] = {}
    placed: set = set()
    units: list = []
    for node in order:
        gid = group_of.get(node.id)
        if gid is not None and gid in fused:
            if gid not in placed:
                placed.add(gid)
                units.append(fused[gid])
            unit_of[node.id] = fused[gid]
        else:
            unit_of[node.id] = node
            units.append(node)

    def deps_of(unit):
        nodes = unit.members if isinstance(unit, FusedGroup) else [unit]
        out = []
        for n in nodes:
            for i in n.inputs:
                u = unit_of[i.id]
                if u is not unit:
                    out.append(u)
        return out

    schedule, done, active = [], set(), set()
    for unit in units:  # depth-first, keeping the original order where possible
        stack = [(unit, False)]
        while stack:
            u, expanded = stack.pop()
            if id(u) in done:
                continue
            if expanded:
                done.add(id(u))
                active.discard(id(u))
                schedule.append(u)
                continue
            if id(u) in active:  # reached again from its own dependencies
                raise RuntimeError("fusion: the fused groups form a dependency cycle (a keraslite bug)")
            active.add(id(u))
            stack.append((u, True))
            for d in reversed(deps_of(u)):
                if id(d) not in done:
                    stack.append((d, False))
    return schedule

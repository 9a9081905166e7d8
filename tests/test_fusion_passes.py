"""The three passes of fusion.fuse and the invariants their docstrings state, checked on random
graphs of elementwise ops mixed with ops that do not fuse (reductions, reshapes, matmuls)."""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.backend.fusion import FusedGroup, build_programs, fuse, group_elementwise, schedule_units
from keraslite.backend.graph import topological_order


def _random_graph(seed):
    rng = np.random.default_rng(seed)
    x = K.placeholder((4, 3))
    y = K.placeholder((4, 3))
    pool = [x, y]
    for _ in range(40):
        a = pool[rng.integers(len(pool))]
        b = pool[rng.integers(len(pool))]
        kind = rng.integers(7)
        if kind == 0:
            t = a + b
        elif kind == 1:
            t = K.exp(a) * 0.5
        elif kind == 2:
            t = K.maximum(a, b) - a
        elif kind == 3:  # breaks fusion: a reduction broadcast back
            t = a - K.sum(b, axis=1, keepdims=True)
        elif kind == 4:  # breaks fusion: a reshape round trip
            t = K.reshape(K.reshape(a, (12,)), (4, 3)) * b
        elif kind == 5:  # breaks fusion: a matmul
            t = K.dot(K.dot(a, K.transpose(b)), b)
        else:
            t = K.tanh(b) / (1.0 + K.abs(a))
        pool.append(t)
    outs = [pool[-1], pool[-2], pool[len(pool) // 2]]
    return [x, y], outs


@pytest.mark.parametrize("seed", range(12))
def test_passes_keep_their_invariants(seed):
    inputs, outs = _random_graph(seed)
    stop = {t.id for t in inputs}
    order = topological_order(outs, stop=stop)
    needed = {t.id for t in outs}
    groups, group_of = group_elementwise(order, stop)
    position = {n.id: k for k, n in enumerate(order)}
    for g, members in enumerate(groups):
        # one static shape; members in topological order; every member elementwise and not fed
        assert len({m.shape for m in members}) <= 1
        assert [position[m.id] for m in members] == sorted(position[m.id] for m in members)
        assert all(group_of[m.id] == g and m.id not in stop for m in members)
    # the waits-for relation between units is acyclic
    unit = {n.id: ("g", group_of[n.id]) if n.id in group_of else ("n", n.id) for n in order}
    waits = {}
    for n in order:
        for i in n.inputs:
            if unit[i.id] != unit[n.id]:
                waits.setdefault(unit[n.id], set()).add(unit[i.id])
    state = {}

    def visit(u):
        state[u] = 1
        for d in waits.get(u, ()):
            assert state.get(d) != 1, "fused groups wait for each other"
            if d not in state:
                visit(d)
        state[u] = 2
    for u in set(unit.values()):
        if u not in state:
            visit(u)
    fused = build_programs(order, groups, needed)
    for g, fg in fused.items():
        ids = {m.id for m in fg.members}
        assert fg.program.n_inputs == len(fg.inputs) and all(i.id not in ids for i in fg.inputs)
        # outputs: exactly the members read outside the group or needed by the caller
        read_outside = {i.id for n in order if n.id not in ids for i in n.inputs}
        assert {o.id for o in fg.outputs} == {m.id for m in fg.members if m.id in needed or m.id in read_outside}
    schedule = schedule_units(order, group_of, fused)
    done = set(stop)
    for u in schedule:
        members = u.members if isinstance(u, FusedGroup) else [u]
        ext = [i for m in members for i in m.inputs if i not in members]
        assert all(i.id in done for i in ext), "a unit runs before one of its inputs"
        done |= {m.id for m in members}
    assert needed <= done

    def key(sched):
        return [tuple(m.id for m in u.members) if isinstance(u, FusedGroup) else u.id for u in sched]
    assert key(fuse(order, needed, stop)[0]) == key(schedule)

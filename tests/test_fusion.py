"""Elementwise fusion (keraslite/backend/fusion.py) on graphs that mix elementwise chains of
different shapes with reductions between them: the fused groups must never wait for each other in
a cycle, and the values must be those of the same expressions computed with NumPy.

Regression: the gradient of K.batch_normalization with (C,) parameters made a (C,) group and a
(N, ..., C) group each wait for the other through a reduction; scheduling them looped and ate all
memory.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.backend.fusion import FusedGroup, fuse
from keraslite.backend.graph import topological_order

pytestmark = pytest.mark.usefixtures("kbackend")


def _check_schedule(outputs, inputs):
    """fuse() gives a schedule in which every unit comes after the units it reads."""
    fed = {t.id for t in inputs}
    order = topological_order(outputs, stop=fed)
    schedule, _ = fuse(order, {t.id for t in outputs}, fed)
    done = set(fed)
    for unit in schedule:
        nodes = unit.members if isinstance(unit, FusedGroup) else [unit]
        ids = {n.id for n in nodes}
        for n in nodes:
            if n.id in fed:
                continue
            for i in n.inputs:
                assert i.id in done or i.id in ids, f"{n.op} runs before its input {i.op}"
        done |= ids
    assert {t.id for t in outputs} <= done


def test_batch_normalization_gradient_graph_schedules():
    xs, ps = (3, 2, 4), (4,)
    ts = [K.placeholder(shape=s, dtype="float64") for s in (xs, ps, ps, ps, ps)]
    out = K.batch_normalization(*ts, axis=-1)
    loss = K.sum(out * K.constant(np.ones(xs)))
    grads = K.gradients(loss, ts)
    _check_schedule([loss] + grads, ts)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, xs)
    m, v, b, g = rng.uniform(-1, 1, ps), rng.uniform(0.3, 2, ps), rng.uniform(-1, 1, ps), rng.uniform(0.5, 1.5, ps)
    vals = K.function(ts, [loss] + grads)([x, m, v, b, g])
    inv = 1 / np.sqrt(v + 1e-3)
    np.testing.assert_allclose(vals[0], ((x - m) * inv * g + b).sum(), rtol=1e-10)
    np.testing.assert_allclose(vals[1], np.broadcast_to(inv * g, xs), rtol=1e-10)      # d/dx
    np.testing.assert_allclose(vals[2], -6 * inv * g, rtol=1e-10)                      # d/dmean
    np.testing.assert_allclose(vals[3], (-(x - m) * g * 0.5 * inv ** 3).sum(axis=(0, 1)), rtol=1e-10)
    np.testing.assert_allclose(vals[4], np.full(ps, 6.0), rtol=1e-10)                  # d/dbeta
    np.testing.assert_allclose(vals[5], ((x - m) * inv).sum(axis=(0, 1)), rtol=1e-10)  # d/dgamma


_UNARY = [(K.tanh, np.tanh), (K.sin, np.sin), (K.abs, np.abs), (lambda t: -t, np.negative),
          (lambda t: K.square(K.tanh(t)), lambda a: np.tanh(a) ** 2), (K.sigmoid, lambda a: 1 / (1 + np.exp(-a)))]
_BINARY = [(lambda a, b: a + b, np.add), (lambda a, b: a * b, np.multiply), (lambda a, b: a - b, np.subtract),
           (K.maximum, np.maximum), (K.minimum, np.minimum)]


def _random_graph(rng, x, xv):
    """A random DAG over x (4, 3): elementwise ops on (4, 3), (3,) and (1, 3) values, with
    reductions and broadcasts moving between the shapes. Returns [(tensor, numpy value)]."""
    nodes = [(x, xv)]
    for _ in range(int(rng.integers(6, 18))):
        kind = rng.random()
        t, v = nodes[int(rng.integers(len(nodes)))]
        if kind < 0.35:
            f, nf = _UNARY[int(rng.integers(len(_UNARY)))]
            nodes.append((f(t), nf(v)))
        elif kind < 0.75:
            t2, v2 = nodes[int(rng.integers(len(nodes)))]
            f, nf = _BINARY[int(rng.integers(len(_BINARY)))]
            nodes.append((f(t, t2), nf(v, v2)))
        elif kind < 0.9:  # reduce to a smaller shape
            if v.ndim == 2:
                keep = bool(rng.random() < 0.5)
                nodes.append((K.sum(t, axis=0, keepdims=keep), v.sum(axis=0, keepdims=keep)))
            else:
                nodes.append((K.mean(t, axis=-1, keepdims=True), v.mean(axis=-1, keepdims=True)))
        else:  # a non-elementwise op of the same shape
            axis = -1
            nodes.append((K.softmax(t, axis=axis),
                          np.exp(v - v.max(axis=axis, keepdims=True))
                          / np.exp(v - v.max(axis=axis, keepdims=True)).sum(axis=axis, keepdims=True)))
    return nodes


@pytest.mark.parametrize("seed", range(12))
def test_random_mixed_graphs_and_their_gradients(seed):
    K.set_floatx("float64")
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-1.5, 1.5, (4, 3))
    x = K.placeholder(shape=(4, 3), dtype="float64")
    nodes = _random_graph(rng, x, xv)
    picks = sorted(set(int(i) for i in rng.integers(1, len(nodes), size=3)))
    outs = [nodes[i][0] for i in picks]
    loss = K.sum(outs[-1]) + sum(K.sum(o) * 0.5 for o in outs[:-1])
    grad = K.gradients(loss, [x])[0]
    _check_schedule(outs + [grad], [x])
    vals = K.function([x], outs + [grad])([xv])
    for (t, want), got in zip([nodes[i] for i in picks], vals):
        np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=1e-9, atol=1e-12)
    # the gradient against central differences of the (NumPy-checked) forward
    eps = 1e-6
    f = K.function([x], [loss])
    num = np.zeros_like(xv)
    for idx in np.ndindex(*xv.shape):
        a = xv.copy()
        a[idx] += eps
        fp = f([a])[0]
        a[idx] -= 2 * eps
        fm = f([a])[0]
        num[idx] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(vals[-1], num, rtol=1e-5, atol=1e-6)

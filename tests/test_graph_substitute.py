"""graph.substitute: the one graph rewrite behind K.function's givens (specialize.py) and
Metric.updated_result (metrics.py)."""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.backend.graph import substitute

pytestmark = pytest.mark.usefixtures("kbackend")


def test_replaces_and_leaves_the_original_graph_alone():
    x = K.placeholder((3,))
    v = K.variable(np.array([1.0, 2.0, 3.0], "float32"))
    shared = K.exp(v)               # does not depend on x: must be shared, not copied
    y = K.sum(x * shared) + 1.0
    c = K.constant(np.array([0.5, -1.0, 2.0], "float32"))
    (z,) = substitute([y], {x: c})
    assert z is not y
    ev = np.exp(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(K.eval(z), np.sum(np.array([0.5, -1.0, 2.0]) * ev) + 1.0, rtol=1e-5)
    # the original still reads the placeholder
    xv = np.array([1.0, 1.0, 1.0], "float32")
    np.testing.assert_allclose(K.function([x], [y])([xv])[0], ev.sum() + 1.0, rtol=1e-5)

    def walk(t, seen):
        if t.id not in seen:
            seen[t.id] = t
            for i in t.inputs:
                walk(i, seen)
        return seen
    assert shared.id in walk(z, {}) and x.id not in walk(z, {})


def test_nothing_to_replace_returns_the_same_tensors():
    x = K.placeholder((2,))
    y = K.tanh(x) * 2.0
    other = K.placeholder((2,))
    assert substitute([y, x], {other: K.constant(np.zeros(2, "float32"))}) == [y, x]


def test_rewrite_hook_sees_new_inputs():
    x = K.placeholder((2,))
    y = K.abs(-x)
    seen = []

    def rewrite(node, inputs):
        seen.append(node.op)
        if node.op == "abs":  # |.| of a known non-negative constant is the constant
            return inputs[0] if all(np.all(getattr(i, "value", -1) >= 0) for i in inputs) else None
        return None
    (z,) = substitute([y], {x: K.constant(np.array([-1.0, -2.0], "float32"))}, rewrite=rewrite)
    assert "abs" in seen
    np.testing.assert_allclose(K.eval(z), [1.0, 2.0])


def test_deep_graph_and_multi_output_nodes():
    x = K.placeholder((4,))
    y = x
    for _ in range(3000):  # deeper than the recursion limit
        y = y + 1.0
    zero = K.zeros((4,))
    (z,) = substitute([y], {x: zero})
    depth, n = 0, z
    while n.inputs:  # a chain of copies down to the replacement (not evaluated: one huge kernel)
        assert n.op == "add" and n is not y
        n, depth = n.inputs[0], depth + 1
    assert n is zero and depth == 3000
    # a multi-output op (batchnorm statistics) keeps its outputs' specs through the copy
    a = K.placeholder((5, 3))
    normed, mean, var = K.normalize_batch_in_training(a, K.ones((3,)), K.zeros((3,)), [0])
    av = np.arange(15, dtype="float32").reshape(5, 3)
    got = [K.eval(t) for t in substitute([normed, mean, var], {a: K.constant(av)})]
    np.testing.assert_allclose(got[1], av.mean(0), rtol=1e-6)
    np.testing.assert_allclose(got[2], av.var(0), rtol=1e-5)
    np.testing.assert_allclose(got[0], (av - av.mean(0)) / np.sqrt(av.var(0) + 1e-3), rtol=1e-4)

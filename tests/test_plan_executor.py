"""How a compiled plan runs (keraslite/backend/executor.py): alias and update steps removed by
copy propagation at plan build, and pooled runs executed by generated straight-line code.

Every result is compared with a NumPy formula written here, on the first (plain) run and on the
pooled runs after it, on every usable backend.
"""
import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite import layers, models
from keraslite.backend.executor import drop_copies, same, second


class _Step:
    def __init__(self, fn, ins, out, inplace_of=None):
        self.fn, self.in_slots, self.out_slot, self.inplace_of = fn, tuple(ins), out, inplace_of


def _mul(a, b):
    return a * b


def test_drop_copies_rewires_readers_outputs_and_updates_through_chains_of_copies():
    steps = [_Step(_mul, (0, 1), 2), _Step(same, (2,), 3), _Step(second, (1, 3), 4),
             _Step(_mul, (3, 4), (5, 6), inplace_of=((3,), (4, 0)))]
    kept, outs, ups = drop_copies(steps, [4, 5, 3], [("v", 4), ("w", 6)])
    assert [s.fn for s in kept] == [_mul, _mul]
    assert kept[1].in_slots == (2, 2)
    assert kept[1].inplace_of == ((2,), (2, 0))
    assert outs == [2, 5, 2]
    assert ups == [("v", 2), ("w", 6)]


def test_drop_copies_leaves_a_plan_without_copies_as_it_is():
    steps = [_Step(_mul, (0, 1), 2)]
    kept, outs, ups = drop_copies(steps, [2], [])
    assert kept is steps and outs == [2] and ups == []


def _train_mlp(seed=0):
    rng = np.random.default_rng(seed)
    model = models.Sequential([layers.Dense(6, activation="relu", input_shape=(5,)),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = rng.random((8, 5), dtype=np.float32)
    y = np.eye(3, dtype="float32")[rng.integers(3, size=8)]
    return model, x, y


def test_a_training_plan_has_no_alias_or_update_steps(kbackend):
    model, x, y = _train_mlp()
    for _ in range(3):
        model.train_on_batch(x, y)
    ops = [s.op for s in model.train_function.last_plan.steps]
    assert "alias" not in ops and "update" not in ops
    assert len(model.train_function.last_plan.updates) == 3 * 4 + 1  # Adam: p, m, v per weight; iterations


def _sgd_reference(w, b, x, t, lr, steps):
    """Plain NumPy SGD on mean((relu(x @ w + b) - t)^2), and the losses before each step."""
    losses = []
    for _ in range(steps):
        z = x @ w + b
        h = np.maximum(z, 0)
        losses.append(np.mean((h - t) ** 2))
        g = 2 * (h - t) / h.size * (z > 0)
        w, b = w - lr * x.T @ g, b - lr * g.sum(0)
    return w, b, losses


def test_updates_and_their_readers_see_the_new_values_on_plain_and_pooled_runs(kbackend):
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 3))
    b0 = rng.normal(size=(3,)) * 0.1
    xv, tv = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    w, b = K.variable(w0, dtype="float64"), K.variable(b0, dtype="float64")
    x, t = K.placeholder((None, 4), dtype="float64"), K.placeholder((None, 3), dtype="float64")
    z = K.dot(x, w)
    h = K.relu(z + b)
    loss = K.mean(K.square(h - t))
    gw, gb = K.gradients(loss, [w, b])
    new_w = K.update(w, w - 0.1 * gw)
    # the update node itself is an output: its value is the new value, handed out as a copy
    f = K.function([x, t], [loss, new_w, K.shape(z)[0]], updates=[K.update(b, b - 0.1 * gb)])
    ref_w, ref_b, losses = _sgd_reference(w0, b0, xv, tv, 0.1, 4)
    for k in range(4):
        out = f([xv, tv])
        np.testing.assert_allclose(out[0], losses[k], rtol=1e-12)
        np.testing.assert_allclose(out[1], K.get_value(w), rtol=0, atol=0)
        assert int(out[2]) == 5
        out[1][...] = 0  # the caller's copy: the variable keeps its value
        assert np.any(K.get_value(w) != 0)
    np.testing.assert_allclose(K.get_value(w), ref_w, rtol=1e-12)
    np.testing.assert_allclose(K.get_value(b), ref_b, rtol=1e-12)
    assert not [s for s in f.last_plan.steps if s.op in ("alias", "update")]


def test_a_shape_read_of_a_fused_chains_inner_value_reads_the_chains_value(kbackend):
    rng = np.random.default_rng(4)
    wv, bv = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")
    w, b = K.variable(wv), K.variable(bv)
    x = K.placeholder((None, 4))
    z = K.dot(x, w)
    y = K.relu(K.bias_add(z, b))
    # the batch size read from the matmul's (inner) value, as a loss's mean over a batch does
    out = K.sum(y) / K.cast(K.shape(z)[0], "float32")
    f = K.function([x], [out, y])
    for n in (7, 7, 7, 2, 2):
        xv = rng.normal(size=(n, 4)).astype("float32")
        want = np.maximum(xv @ wv + bv, 0)
        got = f([xv])
        np.testing.assert_allclose(got[1], want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[0], want.sum() / n, rtol=1e-5)
        assert not [s for s in f.last_plan.steps if s.op == "alias"]


def test_a_transposed_matmul_operand_gives_the_numpy_product(kbackend):
    rng = np.random.default_rng(5)
    a, b = K.placeholder((None, 6)), K.placeholder((None, 4))
    f = K.function([a, b], [K.dot(K.transpose(a), b), K.dot(b, K.transpose(K.dot(K.transpose(a), b)))])
    for n in (9, 9, 9, 3):
        av = rng.normal(size=(n, 6)).astype("float32")
        bv = rng.normal(size=(n, 4)).astype("float32")
        ab, bab = f([av, bv])
        np.testing.assert_allclose(ab, av.T @ bv, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(bab, bv @ (av.T @ bv).T, rtol=1e-4, atol=1e-4)


def test_a_failing_step_of_a_pooled_run_is_named_and_changes_no_variable(kbackend):
    v = K.variable(np.arange(6, dtype="float32"))
    x = K.placeholder((6,))
    f = K.function([x], [K.sum(K.exp(v * x))], updates=[(v, v * 2.0 + x)])
    a = np.ones(6, "float32")
    f([a])
    f([a])  # pooled from here on
    step = next(s for s in f.last_plan.steps if s.op not in ("tuple_get",))
    inner = step.fn

    def boom(*args, **kw):
        raise RuntimeError("boom")
    before = K.get_value(v).copy()
    step.fn = boom
    with pytest.raises(RuntimeError, match="boom") as info:
        f([a])
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert f"op '{step.op}'" in notes and "(6,)" in notes
    np.testing.assert_array_equal(K.get_value(v), before)
    step.fn = inner
    out = f([a])
    np.testing.assert_allclose(K.get_value(v), before * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(out[0], np.exp(before).sum(), rtol=1e-5)


def test_pooled_runs_give_the_plain_runs_numbers_bitwise():
    """The same model trained with the memory plan (generated pooled runs) and with every run
    plain (the loop): identical weights."""
    weights = []
    for pooled in (True, False):
        np.random.seed(0)
        model, x, y = _train_mlp(1)
        plan = None
        for _ in range(4):
            model.train_on_batch(x, y)
            plan = model.train_function.last_plan
            if not pooled:
                plan._layout = None  # never laid out: every run is plain
                plan._plannable = False
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)

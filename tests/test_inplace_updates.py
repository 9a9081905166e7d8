"""Batched optimizer updates written straight into the variables' arrays (keraslite/backend/
inplace.py), inside the commit.

On a backend whose batched kernel can be made ready beforehand (numba: `prepare`), a convnet's
Adam or SGD-momentum step keeps every weight and slot in the same array (no new value buffers);
the weights equal those of the swap path bitwise; a variable whose array someone else holds, a
concurrent run, or an update reading another variable's pre-step value takes the swap path; a
failure before the kernel changes nothing; a Ctrl-C inside the commit is delivered once every
variable is assigned; a steady-state step allocates nothing. On the other backends the plan
defers nothing and the same checks of values hold.
"""
import signal
import threading
import weakref

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers, models
from keraslite import optimizers as O
from keraslite.backend import compiler, inplace
from keraslite.backend.graph import Variable
from keraslite.backend.registry import get_backend_object
from step_memory import STEP_BOUND, step_bytes

OPTIMIZERS = {"adam": lambda: O.Adam(0.01), "sgd-momentum": lambda: O.SGD(0.05, momentum=0.9)}


def _convnet(make_opt, seed=0):
    rng = np.random.default_rng(seed)
    model = models.Sequential([
        layers.Conv2D(16, 3, activation="relu", input_shape=(12, 12, 3)),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.Conv2D(24, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dense(4, activation="softmax")])
    model.compile(make_opt(), "categorical_crossentropy")
    model.set_weights([(rng.standard_normal(w.shape) * 0.2).astype("float32") for w in model.get_weights()])
    x = rng.standard_normal((16, 12, 12, 3)).astype("float32")
    y = np.eye(4, dtype="float32")[rng.integers(4, size=16)]
    return model, x, y


def _state(model):
    return [np.array(w) for w in model.get_weights()] + [np.array(w) for w in model.optimizer.get_weights()]


def _variables(model):
    return model.weights + model.optimizer.weights


def _deferring():
    return hasattr(get_backend_object(), "compile_elementwise_batch") and get_backend_object().batches_elementwise


def _refs(model):
    """Weak references to the variables' arrays (a strong one would keep them from being written)."""
    backend = get_backend_object()
    return [_ref(v.native(backend)) for v in _variables(model)]


def _ref(a):
    """A weak reference to an array (a NumPy scalar, which the numpy backend may hold, has none)."""
    return weakref.ref(a) if isinstance(a, np.ndarray) else (lambda: None)


def _kept(model, refs):
    backend = get_backend_object()
    return [ref() is v.native(backend) for v, ref in zip(_variables(model), refs)]


def _swap_only(monkeypatch):
    monkeypatch.setattr(inplace, "defer", lambda steps, updates, var_slots: (steps, []))


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_convnet_step_writes_into_the_variables_and_equals_the_swap_path(kbackend, name, monkeypatch):
    model, x, y = _convnet(OPTIMIZERS[name])
    model.train_on_batch(x, y)
    refs = _refs(model)
    for _ in range(3):  # the first pooled run and two more
        model.train_on_batch(x, y)
    kept = _kept(model, refs)
    plan = model.train_function.last_plan
    trainable = {id(w) for w in model.trainable_weights}
    slots = [v for v in model.optimizer.weights if v.shape == () or "iterations" not in v.name]
    if _deferring():
        assert plan._deferred, "nothing deferred"
        for v, k in zip(_variables(model), kept):
            if id(v) in trainable:
                assert k, f"{v.name} was given a new array"
        # every slot the size of a weight (Adam's m and v, SGD's moments) stays in place too
        sized = {tuple(w.shape) for w in model.trainable_weights}
        moving = [v for v, k in zip(_variables(model), kept) if v in slots and tuple(v.shape) in sized and not k]
        assert not moving, [v.name for v in moving]
    else:
        assert not plan._deferred
    twin, _, _ = _convnet(OPTIMIZERS[name])
    _swap_only(monkeypatch)
    for _ in range(4):
        twin.train_on_batch(x, y)
    assert not twin.train_function.last_plan._deferred
    for k, (a, b) in enumerate(zip(_state(model), _state(twin))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k}")


def test_a_held_array_is_left_alone_and_the_rest_written_in_place(kbackend):
    model, x, y = _convnet(OPTIMIZERS["adam"])
    twin, _, _ = _convnet(OPTIMIZERS["adam"])
    for m in (model, twin):
        m.train_on_batch(x, y)
        m.train_on_batch(x, y)
    kernel = model.trainable_weights[0]
    held = kernel.native(get_backend_object())  # a user's reference to the array
    copy = np.array(held)
    others = [w for w in model.trainable_weights if w is not kernel]
    backend = get_backend_object()
    refs = [_ref(w.native(backend)) for w in others]
    model.train_on_batch(x, y)
    twin.train_on_batch(x, y)
    np.testing.assert_array_equal(held, copy)  # the array the user holds did not change
    assert kernel.native(backend) is not held
    if _deferring():
        assert all(r() is w.native(backend) for r, w in zip(refs, others))
    for k, (a, b) in enumerate(zip(_state(model), _state(twin))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k}")


def test_updates_read_the_pre_step_values_of_other_variables(kbackend):
    """w takes a's pre-step value while a itself is updated by the optimizer's batched step
    (beside b, which may be written in place); outputs read the pre-step values too."""
    rng = np.random.default_rng(3)
    a0, b0 = (rng.standard_normal((64, 48)).astype("float32") for _ in range(2))
    a, b = K.variable(a0), K.variable(b0)
    w = K.variable(np.zeros_like(a0))
    x = K.placeholder((16, 64))
    loss = K.sum(K.dot(x, a)) + K.sum(K.dot(x * 2.0, b))
    updates = O.SGD(0.1, momentum=0.9).get_updates(loss, [a, b]) + [(w, a)]
    f = K.function([x], [K.sum(a), a * 1.0, K.identity(b)], updates=updates)
    xs = rng.standard_normal((16, 64)).astype("float32")
    ga = np.repeat(xs.sum(axis=0)[:, None], 48, axis=1)
    va, vb = np.zeros_like(a0), np.zeros_like(b0)
    for step in range(3):
        before_a, before_b = K.get_value(a), K.get_value(b)
        total, a_out, b_out = f([xs])
        np.testing.assert_array_equal(a_out, before_a)
        np.testing.assert_array_equal(b_out, before_b)
        np.testing.assert_allclose(total, before_a.sum(dtype=np.float64), rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(K.get_value(w), before_a)  # a's value before the step
        va, vb = 0.9 * va - 0.1 * ga, 0.9 * vb - 0.2 * ga
        np.testing.assert_allclose(K.get_value(a), before_a + va, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(K.get_value(b), before_b + vb, rtol=1e-4, atol=1e-4)
    plan = f.last_plan
    if _deferring():
        assert plan._deferred
        targets = {id(var): pos for work in plan._deferred for var, pos in work.targets}
        assert targets[id(b)] >= 0
        assert targets[id(a)] == -1  # its array is w's new value: never overwritten


def test_a_failure_before_the_kernel_changes_nothing(kbackend, monkeypatch):
    model, x, y = _convnet(OPTIMIZERS["adam"])
    init = model.get_weights()
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    before = _state(model)
    plan = model.train_function.last_plan
    fails = []
    if plan._deferred:  # the kernel is being made ready: every other value is computed
        work = plan._deferred[0]
        real = work.kernel

        class Failing:
            def prepare(self, *args, out):
                fails.append("prepare")
                raise MemoryError("injected")

            def __call__(self, *args, **kwargs):
                return real(*args, **kwargs)
        monkeypatch.setattr(work, "kernel", Failing())
        with pytest.raises(MemoryError):
            model.train_on_batch(x, y)
        monkeypatch.undo()
        assert fails == ["prepare"]
        for k, (a, b) in enumerate(zip(before, _state(model))):
            np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} changed by a failed step")
    # a step failing in the middle of the backward pass
    step = next(s for s in plan.steps if s.op == "conv_backprop_filter")
    original = step.fn

    def boom(*args, **kwargs):
        raise RuntimeError("injected")
    step.fn = boom
    with pytest.raises(RuntimeError):
        model.train_on_batch(x, y)
    step.fn = original
    for k, (a, b) in enumerate(zip(before, _state(model))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} changed by a failed step")
    model.train_on_batch(x, y)
    twin, _, _ = _convnet(OPTIMIZERS["adam"])
    twin.set_weights(init)
    for _ in range(3):
        twin.train_on_batch(x, y)
    for k, (a, b) in enumerate(zip(_state(twin), _state(model))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} after the retried step")


def test_the_kernel_runs_inside_the_commit_and_a_ctrl_c_waits_for_every_assignment(kbackend, monkeypatch):
    model, x, y = _convnet(OPTIMIZERS["sgd-momentum"])
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    variables = _variables(model)
    before = [K.get_value(v).copy() for v in variables]
    seen = []
    real = compiler.swap_in

    def checking_swap_in(pending, assign):
        seen.append(pending[0][0] is compiler._LAUNCH)
        for v, old in zip(variables, before):  # nothing written yet
            np.testing.assert_array_equal(v.numpy(), old, err_msg=f"{v.name} changed before the commit")
        real(pending, assign)
    monkeypatch.setattr(compiler, "swap_in", checking_swap_in)
    original = Variable.assign_native
    count = [0]

    def assign_native(self, backend, array):
        count[0] += 1
        if count[0] == 1:
            signal.raise_signal(signal.SIGINT)  # held back until the commit is done
        original(self, backend, array)
    monkeypatch.setattr(Variable, "assign_native", assign_native)
    with pytest.raises(KeyboardInterrupt):
        model.train_on_batch(x, y)
    monkeypatch.undo()
    assert seen == [_deferring()]
    assert count[0] == len(model.train_function.last_plan.updates)
    twin, _, _ = _convnet(OPTIMIZERS["sgd-momentum"])
    for _ in range(3):
        twin.train_on_batch(x, y)
    for k, (a, b) in enumerate(zip(_state(twin), _state(model))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k}")


def test_concurrent_runs_never_write_in_place_together(kbackend):
    model, x, y = _convnet(OPTIMIZERS["sgd-momentum"])
    model.train_on_batch(x, y)
    f = model._make_train_function() or model.train_function
    feeds = [x, y, np.ones((len(x),), np.float32)]
    errors = []

    def worker():
        try:
            for _ in range(5):
                f(feeds)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert int(K.get_value(model.optimizer.iterations)) >= 1
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_a_steady_state_convnet_step_allocates_nothing(kbackend):
    if kbackend == "numpy":
        pytest.skip("the reference conv/pool primitives allocate their im2col workspace (no out=)")
    model, x, y = _convnet(OPTIMIZERS["adam"])
    worst = step_bytes(model, x, y, steps=3)
    assert worst < STEP_BOUND, worst

"""Batched optimizer updates (keraslite/backend/batching.py, keraslite_numba/batched.py).

Every optimizer's per-variable update chains run as one batched step on a backend that declares
`batches_elementwise` (numba); the results equal the per-variable fused kernels bitwise wherever
those run as Numba kernels, and within a few ulp where the per-variable path runs a small output
as NumPy expressions (fused.SMALL_THRESHOLD). On every backend: the training equals an
independent NumPy formula of Adam, the commit stays all-or-nothing when the step fails inside the
batched kernel, optimizer state survives save/load, and a steady-state step allocates nothing.
"""

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import callbacks, layers, models
from keraslite import optimizers as O
from keraslite.backend import batching
from keraslite.backend.fusion import fuse
from keraslite.backend.graph import topological_order
from keraslite.backend.registry import get_backend_object
from step_memory import STEP_BOUND, step_bytes

# a parallel-kernel matrix (>= 32768 elements), sequential ones, small biases, one element
SHAPES = [(256, 160), (160,), (160, 64), (64,), (64, 3), (3,), (1,)]

OPTIMIZERS = {
    "sgd-momentum": lambda: O.SGD(0.05, momentum=0.9),
    "sgd-nesterov-decay": lambda: O.SGD(0.05, momentum=0.8, nesterov=True, decay=0.01),
    "rmsprop": lambda: O.RMSprop(0.01),
    "adagrad": lambda: O.Adagrad(0.05),
    "adadelta": lambda: O.Adadelta(),
    "adam": lambda: O.Adam(0.01),
    "adam-amsgrad-decay": lambda: O.Adam(0.01, beta_2=0.5, amsgrad=True, decay=0.1),
    "adamax": lambda: O.Adamax(0.01),
    "nadam": lambda: O.Nadam(0.01),
    "adam-clipnorm": lambda: O.Adam(0.01, clipnorm=0.5),
    "rmsprop-clipvalue": lambda: O.RMSprop(0.01, clipvalue=0.01),
}


def _problem(dtype, seed=0):
    """Variables of SHAPES in a small tanh network and its squared error on fixed data."""
    rng = np.random.default_rng(seed)
    params = [K.variable((rng.standard_normal(s) * 0.2).astype(dtype), dtype=dtype, name=f"p{i}")
              for i, s in enumerate(SHAPES)]
    w1, b1, w2, b2, w3, b3, scale = params
    x = K.constant(rng.standard_normal((16, 256)).astype(dtype), dtype=dtype)
    y = K.constant(rng.standard_normal((16, 3)).astype(dtype), dtype=dtype)
    h = K.tanh(K.dot(x, w1) + b1)
    h = K.tanh(K.dot(h, w2) + b2)
    out = (K.dot(h, w3) + b3) * scale
    return params, K.mean(K.square(out - y))


def _all_kernels(monkeypatch):
    """Numba runs small fused outputs as kernels too, instead of NumPy expressions
    (fused.SMALL_THRESHOLD): the per-variable and the batched updates then round alike, as does
    every other fused group of the two plans, so whole trajectories compare bitwise."""
    if get_backend_object().name == "numba":
        import keraslite_numba.fused
        monkeypatch.setattr(keraslite_numba.fused, "SMALL_THRESHOLD", 0)


def _unbatched(monkeypatch):
    """The per-variable path: batching off."""
    monkeypatch.setattr(get_backend_object(), "batches_elementwise", False)


def _train(make_opt, dtype, steps=4, batched=True, monkeypatch=None):
    if monkeypatch is not None:
        _all_kernels(monkeypatch)
        if not batched:
            _unbatched(monkeypatch)
    params, loss = _problem(dtype)
    opt = make_opt()
    f = K.function([], [loss], updates=opt.get_updates(loss, params))
    for _ in range(steps):
        f([])
    if monkeypatch is not None:
        monkeypatch.undo()
    return [K.get_value(p) for p in params], opt.get_weights(), f.last_plan


def _batch_steps(plan):
    return [s for s in plan.steps if s.op.startswith("batch")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_batched_equals_per_variable_kernels(kbackend, name, dtype, monkeypatch):
    params_b, state_b, plan_b = _train(OPTIMIZERS[name], dtype, monkeypatch=monkeypatch)
    params_u, state_u, plan_u = _train(OPTIMIZERS[name], dtype, batched=False, monkeypatch=monkeypatch)
    assert not _batch_steps(plan_u)
    if get_backend_object().batches_elementwise:
        (step,) = _batch_steps(plan_b)  # every variable of the dtype in one step
        assert len(step.out_slot) >= len(SHAPES) * 2
    else:
        assert not _batch_steps(plan_b)
    for k, (got, want) in enumerate(zip(params_b + state_b, params_u + state_u)):
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=f"entry {k} {got.shape}")


def _np_adam(p, grad, steps, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    m = [np.zeros_like(v) for v in p]
    v = [np.zeros_like(x) for x in p]
    for t in range(1, steps + 1):
        lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(grad(p)):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            p[i] = p[i] - lr_t * m[i] / (np.sqrt(v[i]) + eps)
    return p, m, v


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batched_adam_equals_the_formula(kbackend, dtype):
    """A linear least-squares model with a parallel-kernel-sized matrix, against Adam in NumPy."""
    K.set_floatx(dtype)  # the hyper-parameters too (the rates are floatx variables)
    rng = np.random.default_rng(5)
    w0, b0 = rng.standard_normal((256, 160)) * 0.1, rng.standard_normal(160) * 0.1
    x, y = rng.standard_normal((8, 256)), rng.standard_normal((8, 160))
    w, b = K.variable(w0, dtype=dtype), K.variable(b0, dtype=dtype)
    loss = K.mean(K.square(K.dot(K.constant(x, dtype=dtype), w) + b - K.constant(y, dtype=dtype)))
    opt = O.Adam(0.01)
    f = K.function([], [loss], updates=opt.get_updates(loss, [w, b]))
    for _ in range(5):
        f([])
    if get_backend_object().batches_elementwise:
        assert _batch_steps(f.last_plan)

    def grad(p):
        dr = 2.0 * (x @ p[0] + p[1] - y) / y.size
        return [x.T @ dr, dr.sum(axis=0)]
    p, m, v = _np_adam([w0.astype(dtype).astype(np.float64), b0.astype(dtype).astype(np.float64)], grad, 5)
    state = opt.get_weights()
    assert int(state[0]) == 5
    tol = 1e-4 if dtype == "float32" else 1e-10
    # float32: where a gradient is near 0, m/sqrt(v) amplifies its rounding; the step is at most lr
    step_tol = 5e-5 if dtype == "float32" else 1e-12
    for got, want in [(K.get_value(w), p[0]), (K.get_value(b), p[1])]:
        np.testing.assert_allclose(got, want, rtol=tol, atol=step_tol)
    for got, want in [(state[1], m[0]), (state[2], m[1]), (state[3], v[0]), (state[4], v[1])]:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 1e-2)


def _mlp(opt, seed=0, **dense):
    rng = np.random.default_rng(seed)
    model = models.Sequential([layers.Dense(48, activation="relu", input_shape=(20,), **dense),
                               layers.Dense(40, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=opt, loss="categorical_crossentropy")
    model.set_weights([(rng.standard_normal(w.shape) * 0.3).astype("float32") for w in model.get_weights()])
    x = rng.standard_normal((32, 20)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(3, size=32)]
    return model, x, y


def _state(model):
    return [w.copy() for w in model.get_weights()] + [np.array(w) for w in model.optimizer.get_weights()]


@pytest.mark.parametrize("when", ["first run", "pooled run"])
def test_a_failure_inside_the_batched_step_changes_nothing(kbackend, when):
    model, x, y = _mlp(O.Adam(0.01))
    init = model.get_weights()
    model.train_on_batch(x, y)
    if when == "pooled run":
        model.train_on_batch(x, y)  # the memory plan is laid out: the kernel writes pooled buffers
    plan = model.train_function.last_plan
    values = {s for _, s in plan.updates}
    # the batched step; on a backend without one, the last step computing an update value
    steps = _batch_steps(plan) or [s for s in plan.steps if s.op != "update" and set(
        s.out_slot if type(s.out_slot) is tuple else (s.out_slot,)) & values][-1:]
    before = _state(model)
    step = steps[0]
    original = step.fn

    def fails_after_writing(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt  # as a Ctrl-C arriving when the kernel returns

    step.fn = fails_after_writing
    with pytest.raises(KeyboardInterrupt):
        model.train_on_batch(x, y)
    step.fn = original
    for k, (a, b) in enumerate(zip(before, _state(model))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} changed by a failed step")
    # and the next step is the step that failed, taken normally
    model.train_on_batch(x, y)
    twin, _, _ = _mlp(O.Adam(0.01))
    twin.set_weights(init)
    for _ in range(3 if when == "pooled run" else 2):
        twin.train_on_batch(x, y)
    for k, (a, b) in enumerate(zip(_state(twin), _state(model))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} after the retried step")


def test_optimizer_state_save_load_roundtrip(kbackend, tmp_path):
    model, x, y = _mlp(O.Nadam(0.01))
    for _ in range(2):
        model.train_on_batch(x, y)
    path = str(tmp_path / "m.h5")
    model.save(path)
    loaded = models.load_model(path)
    for a, b in zip(_state(model), _state(loaded)):
        np.testing.assert_array_equal(a, b)
    for _ in range(2):
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    assert int(loaded.optimizer.get_weights()[0]) == 4
    for k, (a, b) in enumerate(zip(_state(model), _state(loaded))):
        np.testing.assert_array_equal(a, b, err_msg=f"state entry {k} after training the loaded model")


def test_learning_rate_schedule_and_decay_reach_the_batched_kernel(kbackend, monkeypatch):
    def fit(batched, all_kernels=True):
        if all_kernels:
            _all_kernels(monkeypatch)
        if not batched:
            _unbatched(monkeypatch)
        model, x, y = _mlp(O.SGD(0.1, momentum=0.5, decay=0.05))
        sched = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch))
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[sched])
        monkeypatch.undo()
        return model
    a, b = fit(True), fit(False)
    assert abs(float(K.get_value(a.optimizer.lr)) - 0.1 / 3) < 1e-7
    assert int(a.optimizer.get_weights()[0]) == 12
    # the scheduled rate changes the weights: training with a constant rate ends elsewhere
    const, x, y = _mlp(O.SGD(0.1, momentum=0.5, decay=0.05))
    const.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False)
    assert not np.allclose(const.get_weights()[0], a.get_weights()[0])
    for k, (u, v) in enumerate(zip(_state(a), _state(b))):
        np.testing.assert_array_equal(u, v, err_msg=f"entry {k}")
    # against the default per-variable path, which runs SGD's short program on small outputs
    # (biases) as NumPy expressions: a multiply-add rounds once in the kernel, twice in NumPy
    default = fit(False, all_kernels=False)
    for k, (u, v) in enumerate(zip(_state(a), _state(default))):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6, err_msg=f"entry {k}")


def test_steady_state_batched_step_allocates_nothing(kbackend):
    model = models.Sequential([layers.Dense(256, activation="relu", input_shape=(20,)),
                               layers.Dense(256, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=O.Adam(0.01), loss="categorical_crossentropy")
    _, x, y = _mlp(O.Adam(0.01))
    worst = step_bytes(model, x, y, steps=3)
    if get_backend_object().batches_elementwise:
        assert _batch_steps(model.train_function.last_plan)
    # the bound of tests/test_memory_plan.py (Python objects, NumPy's small temporaries); new
    # update values would be 3 x 280 KiB (the parameters, m and v)
    assert worst < STEP_BOUND, worst


# ------------------------------------------------------------------------------ the batching pass

def _schedule(loss, params, opt, outputs=()):
    updates = opt.get_updates(loss, params)
    targets = [loss, *outputs] + [u.inputs[1] for u in updates]
    order = topological_order(targets + updates, stop=set())
    needed = {t.id for t in targets}
    schedule, _ = fuse(order, needed, set())
    return batching.batch_updates(schedule, order, {loss.id} | {t.id for t in outputs}), updates


def test_the_pass_batches_per_program_and_dtype_and_moves_the_updates_after():
    p32 = [K.variable(np.ones(s, "float32")) for s in [(4, 3), (5,)]]
    p64 = [K.variable(np.ones(s), dtype="float64") for s in [(2, 2), (7,)]]
    loss = sum(K.sum(K.square(p)) for p in p32) + K.cast(sum(K.sum(K.square(p)) for p in p64), "float32")
    schedule, updates = _schedule(loss, p32 + p64, O.Adam())
    batches = [u for u in schedule if isinstance(u, batching.BatchedGroup)]
    assert sorted(len(b.members) for b in batches) == [2, 2]  # one per dtype
    for b in batches:
        assert b.kinds.count("F") == 4  # p, g, m, v; the rest are shared scalars
        where = schedule.index(b)
        for u in updates:
            if u.inputs[1] in b.outputs:
                assert schedule.index(u) > where


def test_the_pass_leaves_out_groups_read_by_anything_but_an_update():
    ps = [K.variable(np.ones(s, "float32")) for s in [(4, 3), (6,), (5,)]]
    loss = sum(K.sum(K.square(p)) for p in ps)
    opt = O.SGD(0.1, momentum=0.9)
    updates = opt.get_updates(loss, ps)
    new_p = [u.inputs[1] for u in updates if u.inputs[0] is ps[2]][0]
    schedule, _ = _schedule(loss, ps, O.SGD(0.1, momentum=0.9), outputs=[])
    (batch,) = [u for u in schedule if isinstance(u, batching.BatchedGroup)]
    assert len(batch.members) == 3
    # an output of the function, or a value read elsewhere (a constraint's norm), stays unbatched
    read = K.sum(new_p)
    order = topological_order([loss, read] + updates, stop=set())
    sched, _ = fuse(order, {loss.id, read.id} | {u.inputs[1].id for u in updates}, set())
    out = batching.batch_updates(sched, order, {loss.id, read.id})
    (batch,) = [u for u in out if isinstance(u, batching.BatchedGroup)]
    assert len(batch.members) == 2 and all(new_p not in g.outputs for g in batch.members)


def test_a_constrained_variable_is_left_out_and_training_matches(kbackend, monkeypatch):
    from keraslite.constraints import max_norm

    def run(batched):
        _all_kernels(monkeypatch)
        if not batched:
            _unbatched(monkeypatch)
        model, x, y = _mlp(O.Adam(0.01), kernel_constraint=max_norm(0.5))
        for _ in range(3):
            model.train_on_batch(x, y)
        monkeypatch.undo()
        return model
    a, b = run(True), run(False)
    plan = a.train_function.last_plan
    if get_backend_object().batches_elementwise:
        (step,) = _batch_steps(plan)
        assert len(step.out_slot) == 3 * 5  # five of the six variables: not the constrained kernel
    for k, (u, v) in enumerate(zip(_state(a), _state(b))):
        np.testing.assert_array_equal(u, v, err_msg=f"entry {k}")


def _sqrt_abs_program(backend, shape):
    """(a, b, group, kinds, batched fn) for u = sqrt(|a * b|) + a, a of `shape`, b a scalar."""
    a, b = K.placeholder(shape), K.placeholder(())
    u = K.sqrt(K.abs(a * b)) + a
    order = topological_order([u], stop={a.id, b.id})
    _, groups = fuse(order, {u.id}, {a.id, b.id})
    (group,) = groups.values()
    kinds = "".join("F" if tuple(i.shape) == shape else "S" for i in group.inputs)
    return a, b, group, kinds, backend.compile_elementwise_batch(group.program, kinds)


def test_batched_kernel_equals_per_member_kernels_and_falls_back():
    from keraslite.backend import registry
    backend = get_backend_object("numba") if "numba" in registry.available_backends() else None
    if backend is None or not backend.batches_elementwise:
        pytest.skip("no backend batches elementwise programs")
    a, b, group, kinds, fn = _sqrt_abs_program(backend, (7, 5))
    single = backend.compile_elementwise(group.program)
    rng = np.random.default_rng(3)
    members = []
    for shape in [(7, 5), (40000,), (1,), (0,), ()]:
        av = rng.standard_normal(shape).astype("float32")
        members.append([av if k == "F" else np.float32(rng.standard_normal()) for k in kinds])
    got = fn(*[x for m in members for x in m])
    for m, g in zip(members, got):
        np.testing.assert_array_equal(g, single(*m)[0])
    # a dtype other than the first member's, or a broadcast input: each member on its own
    odd = [[x.astype("float64") if k == "F" else x for x, k in zip(members[1], kinds)]] + members[:1]
    got = fn(*[x for m in odd for x in m])
    for m, g in zip(odd, got):
        np.testing.assert_array_equal(g, single(*m)[0])
    with pytest.raises(ValueError, match="kinds"):
        backend.compile_elementwise_batch(group.program, "S" * len(kinds))


def test_a_small_short_batch_compiles_nothing(monkeypatch):
    from keraslite.backend import registry
    if "numba" not in registry.available_backends():
        pytest.skip("numba is not usable here")
    import keraslite_numba.batched as B
    backend = get_backend_object("numba")
    a, b = K.placeholder((3,)), K.placeholder(())
    u = a * b + 2.0 * a  # a program NumPy runs for small outputs (fused.SMALL_MAX_OPS)
    order = topological_order([u], stop={a.id, b.id})
    _, groups = fuse(order, {u.id}, {a.id, b.id})
    (group,) = groups.values()
    kinds = "".join("F" if tuple(i.shape) == (3,) else "S" for i in group.inputs)
    fn = backend.compile_elementwise_batch(group.program, kinds)

    def no_compile(*args):
        raise AssertionError("a kernel was compiled for a small batch")
    monkeypatch.setattr(B, "_load", no_compile)
    rng = np.random.default_rng(4)
    members, wants = [], []
    for _ in range(2):
        av, bv = rng.standard_normal(3).astype("float32"), np.array(rng.standard_normal(), "float32")
        values = {a.id: av, b.id: bv}
        members.append([values[i.id] if i.id in values else np.asarray(i.value, "float32") for i in group.inputs])
        wants.append(av * bv + np.float32(2.0) * av)
    got = fn(*[x for m in members for x in m])
    for g, want in zip(got, wants):
        np.testing.assert_allclose(g, want, rtol=1e-6)


def test_a_repeated_call_reuses_its_checks_and_notices_a_changed_array():
    """_setup's shortcut (the commit's arrays are the same at every step): the same objects or
    new views of the same memory reuse the last call's address table; an array elsewhere in
    memory or of another shape is checked anew; the scalars are read at every call."""
    from keraslite.backend import registry
    if "numba" not in registry.available_backends():
        pytest.skip("numba is not usable here")
    import keraslite_numba.batched as B
    a, b, group, kinds, fn = _sqrt_abs_program(get_backend_object("numba"), (64, 40))
    rng = np.random.default_rng(5)
    full = [rng.standard_normal((64, 40)).astype("float32") for _ in range(2)]
    scal = [np.array(rng.standard_normal(), "float32") for _ in range(2)]
    outs = [np.empty((64, 40), "float32") for _ in range(2)]
    consts = {i.id: np.asarray(i.value, "float32") for i in group.inputs if i.id not in (a.id, b.id)}

    def args(k):
        values = {a.id: full[k], b.id: scal[k]}
        return [values[i.id] if i.id in values else consts[i.id] for i in group.inputs]

    def want(k):
        return np.sqrt(np.abs(full[k] * scal[k])) + full[k]

    checked = []
    real = B.BatchedKernel._setup_checked

    def counting(self, arrays, out):
        checked.append(1)
        return real(self, arrays, out)
    B.BatchedKernel._setup_checked = counting
    try:
        def call():
            fn(*args(0), *args(1), out=outs)
            for k in range(2):
                np.testing.assert_allclose(outs[k], want(k), rtol=1e-6)
        call()
        call()
        assert len(checked) == 1  # the same arrays: no new checks
        scal[0][...] = 3.5  # a scalar's new value is read
        full[1][...] = rng.standard_normal((64, 40))
        call()
        full[0] = full[0].reshape(-1).reshape(64, 40)  # a new view of the same memory
        call()
        assert len(checked) == 1
        full[1] = full[1].copy()  # the same shape elsewhere in memory
        call()
        assert len(checked) == 2
        outs[0] = np.empty((64, 40), "float32")
        call()
        assert len(checked) == 3
        full[1] = rng.standard_normal((40, 64)).astype("float32")  # another shape: the members differ
        outs[1] = np.empty((40, 64), "float32")
        call()
        assert len(checked) == 4
    finally:
        B.BatchedKernel._setup_checked = real

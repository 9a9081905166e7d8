"""The memory plan of compiled functions (keraslite/backend/memplan.py, compiler.Plan).

Liveness and buffer layout on hand-built step lists; on real plans: results identical to the
unplanned path, no output or variable ever aliasing a pooled buffer, errors leaving variables
unchanged, and the steady-state training step allocating no activations (tracemalloc).
"""
import threading
import types
import weakref

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite import layers, models
from keraslite.backend import memplan
from keraslite.backend.registry import get_backend_object
from keraslite.backend.xp.core import catalogue_takes_out


def _step(ins, out, mode=None):
    return types.SimpleNamespace(in_slots=tuple(ins), out_slot=out, out_mode=mode)


F32 = np.dtype("float32")


def _rec(steps, shape=(4, 3), dtype=F32):
    """Records as a run would give them: every step with an out_mode makes (shape, dtype)."""
    rec = {}
    for i, s in enumerate(steps):
        if s.out_mode:
            n = len(s.out_slot) if type(s.out_slot) is tuple else 1
            rec[i] = (tuple(shape for _ in s.in_slots), [(shape, dtype)] * n)
    return rec


# ------------------------------------------------------------------------------- hand-built graphs

def test_last_reads_and_release_lists():
    # slots 0, 1 are leaves; 2 = f(0, 1); 3 = g(2); 4 = h(2, 3); 5 = k(0)
    steps = [_step((0, 1), 2), _step((2,), 3), _step((2, 3), 4), _step((0,), 5)]
    assert memplan.last_reads(steps, 6) == [3, 0, 2, 2, -1, -1]
    drops = memplan.release_lists(steps, 6, keep={4})
    assert drops == [(1,), (), (2, 3), (0,)]


def test_a_chain_of_elementwise_steps_runs_in_place_in_one_buffer():
    # 1 = a(0); 2 = b(1); 3 = c(2); output 4 = d(3): one buffer for 1..3, none for the output
    steps = [_step((0,), 1, "inplace"), _step((1,), 2, "inplace"), _step((2,), 3, "inplace"),
             _step((3,), 4, "inplace")]
    lay = memplan.assign_buffers(steps, 5, _rec(steps), no_pool={4}, to_the_end={4})
    assert lay.step_bufs == {0: (0,), 1: (0,), 2: (0,)}
    assert lay.in_place == 2 and len(lay.specs) == 1
    assert 4 not in lay.direct and 3 not in lay.step_bufs  # the output allocates its own memory
    assert lay.alias[4] == {0}  # ... and is assumed to possibly alias its input's buffer


def test_out_mode_steps_never_write_into_their_inputs_and_free_buffers_are_reused():
    # 1 = m(0); 2 = m(1); 3 = m(2); 4 = m(3), each "out" (e.g. matmul): 1 and 2 can never share,
    # but 3 reuses 1's buffer (1 is dead after step 1), 4 reuses 2's
    steps = [_step((s,), s + 1, "out") for s in range(4)]
    lay = memplan.assign_buffers(steps, 5, _rec(steps), no_pool=set(), to_the_end=set())
    bufs = [lay.step_bufs[i][0] for i in range(4)]
    for i in range(1, 4):
        assert bufs[i] != bufs[i - 1]
    assert len(lay.specs) == 2 and lay.in_place == 0


def test_a_view_keeps_its_buffer_alive_and_blocks_in_place():
    # 1 = e(0) pooled; 2 = view(1) (no out_mode: assumed to alias 1's buffer); 3 = e(1, 2) may not
    # write into 1 in place (2 is read after it, and sees the memory through another layout);
    # 4 = e(2) runs while the view is still read, so 1's buffer is not free for it either
    steps = [_step((0,), 1, "inplace"), _step((1,), 2), _step((1, 2), 3, "inplace"), _step((2,), 4, "inplace"),
             _step((3, 4), 5, "inplace")]
    lay = memplan.assign_buffers(steps, 6, _rec(steps), no_pool={5}, to_the_end={5})
    b1 = lay.direct[1]
    assert lay.alias[2] == {b1}
    assert lay.step_bufs[2][0] != b1
    assert lay.step_bufs[3][0] != b1 and lay.step_bufs[3][0] != lay.step_bufs[2][0]
    assert lay.in_place == 0


def test_outputs_and_update_values_keep_their_buffers_to_the_end():
    # 1 = e(0); update value 2 = e(1); 3 = view(1) is an output; 4 = e(0) must not reuse 1 or 2
    steps = [_step((0,), 1, "inplace"), _step((1,), 2, "out"), _step((1,), 3), _step((0,), 4, "inplace"),
             _step((4,), 5, "inplace")]
    lay = memplan.assign_buffers(steps, 6, _rec(steps), no_pool={3, 5}, to_the_end={2, 3, 5})
    b1, b2 = lay.direct[1], lay.direct[2]
    assert lay.alias[3] == {b1}
    assert lay.step_bufs[3][0] not in (b1, b2)


def _tuple_get(tup, out, index):
    return types.SimpleNamespace(in_slots=(tup,), out_slot=out, out_mode=None, op="tuple_get",
                                 node=types.SimpleNamespace(attrs={"index": index}))


def test_a_tuples_later_results_do_not_keep_its_first_results_buffer():
    # batch norm: 1 = bn(0) a tuple whose first result (y) is pooled; 2 = y; 3 = e(2) (the ReLU,
    # in place into y's buffer: y dies there); 4 = mean, read by the backward pass at the end;
    # 5 = e(3); 6 = e(5) must find y's buffer free (the mean's late read does not read y)
    steps = [_step((0,), 1, "out"), _tuple_get(1, 2, 0), _step((2,), 3, "inplace"), _step((3,), 5, "out"),
             _step((5,), 6, "out"), _tuple_get(1, 4, 1), _step((4, 6), 7)]
    rec = _rec(steps)
    rec[0] = rec[0] + ("first",)
    lay = memplan.assign_buffers(steps, 8, rec, no_pool={7}, to_the_end={7})
    y = lay.alias[1]
    assert lay.direct[2] in y and lay.step_bufs[2][0] in y  # the ReLU took y's buffer
    # 3's buffer (y's) dies at step 3: step 4 reuses it although the tuple is read at step 5
    assert lay.step_bufs[4][0] in y
    # and a tuple_get of index 0 read late keeps it, as before
    steps[5] = _tuple_get(1, 4, 0)
    lay = memplan.assign_buffers(steps, 8, rec, no_pool={7}, to_the_end={7})
    assert lay.step_bufs[4][0] not in lay.alias[1]


def test_shapes_and_dtypes_never_mix():
    steps = [_step((0,), 1, "out"), _step((1,), 2, "out"), _step((2,), 3, "out")]
    rec = {0: (((4,),), [((4,), F32)]), 1: (((4,),), [((8,), F32)]), 2: (((8,),), [((4,), np.dtype("float64"))])}
    lay = memplan.assign_buffers(steps, 4, rec, no_pool=set(), to_the_end=set())
    assert len(lay.specs) == 3 and lay.specs[0] == ((4,), F32)


def _meet(a, b):
    """Whether two (offset, size) ranges of the arena share a byte."""
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


def test_buffers_of_other_shapes_share_the_arena_when_their_lifetimes_do_not_meet():
    # 1 = m(0) (4, 3); 2 = m(1) (8,); 3 = m(2) (2, 2); 4 = m(3) (4, 3) float64; every "out"
    # result lives from its step to its reader's: 1 and 3 never live together, nor 2 and 4
    steps = [_step((s,), s + 1, "out") for s in range(4)]
    specs = [((4, 3), F32), ((8,), F32), ((2, 2), F32), ((4, 3), np.dtype("float64"))]
    rec = {i: (((1,),), [specs[i]]) for i in range(4)}
    lay = memplan.assign_buffers(steps, 5, rec, no_pool=set(), to_the_end=set())
    assert len(lay.specs) == 4  # four shapes: four buffers, as before
    ranges = {b: (lay.offsets[b], memplan.nbytes(lay.specs[b])) for b in range(4)}
    for b, (at, _) in ranges.items():
        assert at % memplan.ALIGN == 0
    b = [lay.step_bufs[i][0] for i in range(4)]
    for i in range(3):  # a step's input and its result never share memory
        assert not _meet(ranges[b[i]], ranges[b[i + 1]])
    # the arena holds the two largest live at once, not the sum of all four
    assert lay.arena < sum(-(-n // memplan.ALIGN) * memplan.ALIGN for _, n in ranges.values())
    assert lay.arena <= 2 * 128


def test_buffers_living_to_the_end_own_their_memory():
    # 1 = e(0) dies at step 1; update value 2 = e(1) lives to the end: outside the arena
    steps = [_step((0,), 1, "out"), _step((1,), 2, "out"), _step((0,), 3, "out")]
    lay = memplan.assign_buffers(steps, 4, _rec(steps), no_pool=set(), to_the_end={2})
    b2 = lay.direct[2]
    assert b2 not in lay.offsets and lay.direct[1] in lay.offsets


def test_pack_keeps_every_pair_of_meeting_lifetimes_apart():
    rng = np.random.default_rng(0)
    n = 60
    specs = [((int(rng.integers(1, 400)),), F32) for _ in range(n)]
    start = [int(rng.integers(0, 50)) for _ in range(n)]
    end = [s + int(rng.integers(0, 20)) for s in start]
    offsets, arena = memplan.pack(specs, start, end)
    assert set(offsets) == set(range(n))
    for a in range(n):
        ra = (offsets[a], memplan.nbytes(specs[a]))
        assert ra[0] + ra[1] <= arena
        for b in range(a + 1, n):
            if not (end[a] < start[b] or end[b] < start[a]):
                assert not _meet(ra, (offsets[b], memplan.nbytes(specs[b]))), (a, b)


# ------------------------------------------------------------------------------- real plans

backends = pytest.mark.usefixtures("kbackend")


@pytest.fixture
def unplanned(monkeypatch):
    """Build the plans of the test without a pool (the reference path)."""
    def off():
        monkeypatch.setattr(memplan, "ENABLED", False)
    return off


def _mlp(seed):
    np.random.seed(seed)
    m = models.Sequential([layers.Dense(16, activation="relu", input_shape=(8,)),
                           layers.Dense(16, activation="tanh"), layers.Dense(4, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return m


def _convnet(seed):
    np.random.seed(seed)
    m = models.Sequential([layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                           layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3, activation="softmax")])
    m.compile("rmsprop", "categorical_crossentropy")
    return m


def _data(model, n=16):
    rng = np.random.default_rng(0)
    x = rng.random((n,) + model.input_shape[1:]).astype("float32")
    y = np.eye(model.output_shape[-1], dtype="float32")[rng.integers(0, model.output_shape[-1], n)]
    return x, y


def _train(build, steps=4):
    model = build(7)
    x, y = _data(model)
    losses = [model.train_on_batch(x, y) for _ in range(steps)]
    return losses, [w.copy() for w in model.get_weights()], model.predict(x)


@backends
@pytest.mark.parametrize("build", [_mlp, _convnet])
def test_training_gives_the_same_numbers_as_the_unplanned_path(build, unplanned):
    planned = _train(build)
    unplanned()
    reference = _train(build)
    for a, b in zip(planned[0], reference[0]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(planned[1] + [planned[2]], reference[1] + [reference[2]]):
        np.testing.assert_array_equal(a, b)


def _many_ops():
    x = K.placeholder((None, 5))
    w = K.variable(np.random.default_rng(1).standard_normal((5, 5)).astype("float32"))
    h = K.dot(x, w)
    a = K.softmax(h, axis=0) + K.softmax(h)
    b = K.switch(K.greater(h, 0.0), h * 2.0, K.square(h))
    c = K.cast(K.cast(h * 10.0, "int32"), "float32") / 3.0
    d = K.mean(K.pow(K.abs(h) + 1.0, 1.5), axis=0, keepdims=True) - K.sum(h, axis=1, keepdims=True)
    loss = K.sum(a * b + c * d)
    g = K.gradients(loss, [w, x])
    return K.function([x], [loss, K.exp(g[0]) * 1.0, g[1] * 2.0, K.maximum(a, d)])


@backends
def test_declared_primitives_write_the_same_numbers_into_buffers(unplanned):
    feeds = [np.random.default_rng(i).standard_normal((6, 5)).astype("float32") for i in range(4)]
    planned = _many_ops()
    got = [planned([f]) for f in feeds]
    assert any(s.bufs is not None for s in planned.last_plan.steps)
    unplanned()
    reference = _many_ops()
    for f, outs in zip(feeds, got):
        for a, b in zip(outs, reference([f])):
            np.testing.assert_array_equal(a, b)


@backends
def test_the_pool_is_laid_out_after_the_first_run_and_used_from_the_second():
    model = _mlp(1)
    x, y = _data(model)
    model.train_on_batch(x, y)
    plan = model.train_function.last_plan
    assert plan._layout is not None and plan._specs
    pooled = [s for s in plan.steps if s.bufs is not None]
    assert pooled, plan.kernels()
    model.train_on_batch(x, y)
    assert all(b is not None for b in plan._pool if b is not None) and any(b is not None for b in plan._pool)


@backends
def test_intermediates_are_dropped_after_their_last_reader():
    x = K.placeholder((None, 5))
    h = K.exp(x)            # read by the next step only
    z = K.sum(h * 2.0, axis=1)
    f = K.function([x], [z])
    plan = f.plan_for([np.ones((3, 5), "float32")])
    seen = {}
    for step in plan.steps:  # watch the first step's result die while the run goes on
        inner = step.fn

        def watch(*a, _fn=inner, _step=step, **kw):
            for ref in seen.values():
                seen_alive.append(ref() is not None)
            r = _fn(*a, **kw)
            if not seen:
                seen[_step.op] = weakref.ref(r[0] if isinstance(r, (list, tuple)) else r)
            return r
        step.fn = watch
    seen_alive = []
    out = f([np.ones((3, 5), "float32")])[0]
    np.testing.assert_allclose(out, np.full(3, 10 * np.e, "float32"), rtol=1e-6)
    if len(plan.steps) > 2:  # unfused: exp, mul, sum; the exp result is gone before the sum runs
        assert seen_alive[-1] is False, seen_alive


@backends
def test_outputs_never_alias_the_pool():
    x = K.placeholder((None, 6))
    y = K.reshape(K.exp(x) * 2.0 + 1.0, (-1, 3, 2))  # a view of an elementwise result
    f = K.function([x], [y, K.sum(y, axis=0)])
    a = np.random.rand(4, 6).astype("float32")
    first = [o.copy() for o in f([a])]
    held = f([a])
    for _ in range(3):
        f([np.random.rand(4, 6).astype("float32")])
    for h, r in zip(held, first):
        np.testing.assert_array_equal(h, r)
    np.testing.assert_allclose(first[0], (np.exp(a) * 2 + 1).reshape(-1, 3, 2), rtol=1e-6)


@backends
def test_variables_take_pooled_buffers_and_keep_their_values():
    v = K.variable(np.zeros((4, 3), "float32"))
    w = K.variable(np.zeros((4, 3), "float32"))
    x = K.placeholder((4, 3))
    new = v * 0.5 + x
    f = K.function([x], [K.sum(v)], updates=[(v, new), (w, new)])  # one value, two variables
    ref_v = np.zeros((4, 3), "float32")
    backend = get_backend_object()
    seen = []
    for i in range(5):
        a = np.full((4, 3), i + 1, "float32")
        f([a])
        ref_v = ref_v * np.float32(0.5) + a
        np.testing.assert_allclose(K.get_value(v), ref_v, rtol=1e-6)
        np.testing.assert_allclose(K.get_value(w), ref_v, rtol=1e-6)
        nv, nw = v.native(backend), w.native(backend)
        # (the first, unpooled run may hand both the same array: nothing writes into a variable's)
        assert i == 0 or not np.shares_memory(nv, nw)
        seen.append((nv, nv.copy()))  # a reference held here: that array may never be reused
    for held, value in seen:
        np.testing.assert_array_equal(held, value)
    plan = f.last_plan
    for buf in plan._pool:
        if buf is not None:
            assert not np.shares_memory(buf, v.native(backend)) and not np.shares_memory(buf, w.native(backend))


@backends
def test_a_variables_previous_array_returns_to_the_pool_when_nobody_holds_it():
    v = K.variable(np.ones(1000, "float32"))
    f = K.function([], [], updates=[(v, v * 2.0)])
    for _ in range(3):
        f([])
    plan = f.last_plan
    if not plan._layout or not plan._layout.step_bufs:
        pytest.skip("this backend declares no out= primitives")
    ids = set()
    for _ in range(4):
        f([])
        ids.add(id(v.native(get_backend_object())))
    assert len(ids) <= 2  # two arrays take turns: nothing is allocated per step
    np.testing.assert_allclose(K.get_value(v), np.full(1000, 2.0 ** 7, "float32"))


@backends
def test_an_error_mid_step_leaves_variables_unchanged_and_the_next_call_right():
    v = K.variable(np.arange(6, dtype="float32"))
    x = K.placeholder((6,))
    f = K.function([x], [K.sum(v * x)], updates=[(v, v * 2.0 + x)])
    a = np.ones(6, "float32")
    f([a])
    f([a])
    plan = f.last_plan
    last = plan.steps[-1]
    inner = last.fn

    def fail(*args, **kw):
        raise RuntimeError("boom")
    before = K.get_value(v).copy()
    last.fn = fail
    with pytest.raises(RuntimeError, match="boom"):
        f([a])
    np.testing.assert_array_equal(K.get_value(v), before)
    last.fn = inner
    f([a])
    np.testing.assert_allclose(K.get_value(v), before * 2 + 1, rtol=1e-6)


@backends
def test_a_step_whose_input_shapes_changed_allocates_instead():
    x = K.placeholder((None, 4))
    f = K.function([x], [K.sum(K.exp(x) + 1.0, axis=1)])
    a = np.random.rand(3, 4).astype("float32")
    f([a])
    plan = f.last_plan
    pooled = [s for s in plan.steps if s.bufs is not None]
    for s in pooled:  # pretend the layout was made for other shapes
        s.in_shapes = tuple((7,) + tuple(sh) for sh in s.in_shapes)
    np.testing.assert_allclose(f([a])[0], (np.exp(a) + 1).sum(axis=1), rtol=1e-6)


@backends
def test_a_backend_declaring_no_out_primitives_runs_unpooled(monkeypatch):
    backend = get_backend_object()
    monkeypatch.setattr(type(backend), "out_mode", lambda self, op: None)
    x = K.placeholder((None, 4))
    f = K.function([x], [K.tanh(x) * 3.0])
    a = np.random.rand(2, 4).astype("float32")
    for _ in range(3):
        np.testing.assert_allclose(f([a])[0], np.tanh(a) * 3, rtol=1e-6)
    assert f.last_plan._layout is None and all(s.bufs is None for s in f.last_plan.steps)


@backends
def test_declared_primitives_take_out():
    import inspect
    backend = get_backend_object()
    for op, mode in getattr(backend, "out_modes", {}).items():
        assert mode in ("out", "inplace"), op
        if op in ("elementwise", "elementwise_batch") or "+" in op:  # compiled kernels, folded forms
            continue
        assert backend.out_mode(op) == mode, f"{op} is declared but its method takes no out="
        method = getattr(type(backend), op, None)
        if method is None:  # an elementwise op served by the catalogue's array formula
            assert catalogue_takes_out(op), op
        else:
            assert "out" in inspect.signature(method).parameters, op


@backends
def test_concurrent_runs_of_one_plan_do_not_share_buffers():
    x = K.placeholder((None, 64))
    f = K.function([x], [K.sum(K.tanh(x) * 2.0 + x, axis=1)])
    f([np.zeros((8, 64), "float32")])
    errors = []

    def worker(seed):
        a = np.random.default_rng(seed).random((8, 64)).astype("float32")
        expect = (np.tanh(a) * 2 + a).sum(axis=1)
        for _ in range(50):
            got = f([a])[0]
            if not np.allclose(got, expect, rtol=1e-5):
                errors.append(seed)
                return
    threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ------------------------------------------------------------------------------- tracemalloc

from step_memory import STEP_BOUND  # noqa: E402
from step_memory import step_bytes as _step_bytes  # noqa: E402


@backends
@pytest.mark.parametrize("build,n", [(_mlp, 1024), (_convnet, 128)])
def test_the_steady_state_step_allocates_no_activations(build, n, kbackend, unplanned):
    if build is _convnet and kbackend == "numpy":
        pytest.skip("the reference conv/pool primitives allocate their im2col workspace (no out=)")
    model = build(3)
    x, y = _data(model, n)
    planned = _step_bytes(model, x, y)
    unplanned()
    model = build(3)
    before = _step_bytes(model, x, y)
    assert planned < STEP_BOUND, f"{planned} bytes per step (unplanned: {before})"
    # the measurement sees activations when they are allocated (2-4x the bound here; the MLP's
    # batch of 1024: its loss and the loss's gradient are one step each, few (batch, 4) arrays)
    assert before > planned + 2 * STEP_BOUND, (before, planned)


def test_a_gradient_reduced_to_its_own_shape_is_passed_through_not_copied(kbackend):
    # d(a + b)/da with both of shape (None, 3): autodiff reduces the gradient "to a's shape",
    # which at run time is the identity; the step hands the gradient on instead of copying it
    a, b = K.placeholder((None, 3)), K.placeholder((None, 3))
    w = K.variable(np.arange(3.0, dtype="float32"))
    y = K.sum((a + b) * w)
    f = K.function([a, b], K.gradients(y, [a, b]))
    av = np.ones((4, 3), "float32")
    for _ in range(3):  # unpooled, then pooled runs
        ga, gb = f([av, 2 * av])
        np.testing.assert_array_equal(ga, np.broadcast_to(np.arange(3.0, dtype="float32"), (4, 3)))
        np.testing.assert_array_equal(gb, ga)
    steps = [s for s in f.last_plan.steps if s.op == "sum_to_like"]
    assert steps and all(s.out_mode is None and s.bufs is None for s in steps)
    seen = []
    for s in steps:
        fn = s.fn
        s.fn = lambda x, ref, _fn=fn: seen.append(_fn(x, ref) is x) or _fn(x, ref)
    f([av, av])
    assert seen and all(seen)
    # another shape still reduces: (None, 3) against a (None, 3) operand fed as (1, 3)
    ga, gb = f([np.ones((1, 3), "float32"), np.ones((5, 3), "float32")])
    np.testing.assert_array_equal(ga, 5 * np.arange(3.0, dtype="float32")[None])
    assert gb.shape == (5, 3)

"""The declared backend protocol (keraslite/backend/interface.py): every registered backend
implements the hooks the compiler calls with the declared signatures, the defaults mean "no such
feature", the compiler calls the hooks directly, and a backend's fused forms equal the
composites they replace (values checked against NumPy formulas written here)."""
from __future__ import annotations

import contextlib
import inspect

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.backend import compiler, registry
from keraslite.backend.fusion import fuse
from keraslite.backend.graph import OPS, topological_order
from keraslite.backend import interface, patterns
from keraslite.backend.interface import PATTERNS, ArrayBackend, Backend

HOOKS = ("fusable", "compile_elementwise", "compile_elementwise_batch", "fused_form", "running", "prepare_plan",
         "out_mode", "empty")
CORE = ("from_numpy", "to_numpy", "rng", "primitive")


def _backends():
    """Every registered backend usable here, and the CUDA backend's class emulated on NumPy
    where no device answers (so its overrides are checked on every machine)."""
    found = [(name, registry.get_backend_object(name)) for name in registry.available_backends()]
    if "cuda" not in dict(found):
        try:
            from keraslite_cuda.backend import CudaBackend
        except ImportError:
            pass
        else:
            found.append(("cuda_hostsim", CudaBackend.emulated()))
    return found


BACKENDS = _backends()


def _params(fn):
    """A signature as (name, kind, default) triples, without annotations."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name,backend", BACKENDS, ids=[n for n, _ in BACKENDS])
def test_backend_declares_the_protocol(name, backend):
    assert isinstance(backend, Backend)
    assert isinstance(backend.name, str) and backend.name
    assert isinstance(backend.fuses_elementwise, bool)
    assert isinstance(backend.batches_elementwise, bool)
    assert isinstance(backend.supports_sparse, bool)
    for hook in HOOKS + CORE:
        assert callable(getattr(backend, hook)), hook
        assert _params(getattr(type(backend), hook)) == _params(getattr(Backend, hook)), \
            f"{name}.{hook} has signature {inspect.signature(getattr(type(backend), hook))}, " \
            f"the protocol declares {inspect.signature(getattr(Backend, hook))}"
    if backend.fuses_elementwise:
        assert type(backend).compile_elementwise is not Backend.compile_elementwise, \
            f"{name} sets fuses_elementwise but does not implement compile_elementwise"
    if backend.batches_elementwise:
        assert backend.fuses_elementwise, f"{name} batches elementwise programs it does not fuse"
        assert type(backend).compile_elementwise_batch is not Backend.compile_elementwise_batch, \
            f"{name} sets batches_elementwise but does not implement compile_elementwise_batch"
        assert backend.out_mode("elementwise_batch") in (None, "out", "inplace")


@pytest.mark.parametrize("name,backend", BACKENDS, ids=[n for n, _ in BACKENDS])
def test_primitive_overrides_keep_the_reference_signature(name, backend):
    # a backend may override a primitive for speed, never change its arguments (the compiler
    # binds the op's attrs by keyword, the same for every backend)
    if not isinstance(backend, ArrayBackend):
        pytest.skip("not an ArrayBackend")
    for op in OPS:
        ref = getattr(ArrayBackend, op, None)
        mine = getattr(type(backend), op, None)
        if ref is None or mine is ref:
            continue
        assert _params(mine) == _params(ref), \
            f"{name}.{op}{inspect.signature(mine)} differs from the reference {inspect.signature(ref)}"


@pytest.mark.parametrize("name,backend", BACKENDS, ids=[n for n, _ in BACKENDS])
def test_hooks_behave(name, backend):
    x = K.placeholder((4, 3))
    y = K.exp(x * 2.0) + 1.0
    assert backend.fusable(y) in (True, False)
    # an exp feeding an add is no declared pattern: no fused form anywhere
    order = topological_order([y], stop={x.id})
    assert patterns.find(backend, order, {y.id}, {x.id}) == ({}, set())
    cm = backend.running()
    assert hasattr(cm, "__enter__") and hasattr(cm, "__exit__")
    with backend.running():
        pass


@pytest.mark.parametrize("name,backend", [(n, b) for n, b in BACKENDS if b.fuses_elementwise],
                         ids=[n for n, b in BACKENDS if b.fuses_elementwise])
def test_compile_elementwise_runs_a_program(name, backend):
    a = K.placeholder((5, 3))
    b = K.placeholder((3,))
    u = K.exp(a * b) - a
    v = K.maximum(u, 0.5)
    order = topological_order([u, v], stop={a.id, b.id})
    _, groups = fuse(order, {u.id, v.id}, {a.id, b.id})
    (group,) = groups.values()
    fn = backend.compile_elementwise(group.program)
    rng = np.random.default_rng(0)
    av = rng.standard_normal((5, 3)).astype("float32")
    bv = rng.standard_normal(3).astype("float32")
    arrays = {a.id: av, b.id: bv}
    # constants (0.5) are inputs of the group too
    outs = fn(*[backend.from_numpy(arrays[i.id] if i.id in arrays else i.value) for i in group.inputs])
    want = {u.id: np.exp(av * bv) - av}
    want[v.id] = np.maximum(want[u.id], 0.5)
    assert len(outs) == len(group.outputs)
    for node, out in zip(group.outputs, outs):
        np.testing.assert_allclose(backend.to_numpy(out), want[node.id], rtol=1e-5, atol=1e-6)


def _conv_bias_case():
    x = K.placeholder((2, 6, 5, 3))
    w = K.variable(np.zeros((3, 3, 3, 4), "float32"))
    bias = K.variable(np.zeros(4, "float32"))
    out = K.bias_add(K.conv2d(x, w, padding="valid"), bias)
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((2, 6, 5, 3)).astype("float32")
    wv = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    bv = rng.standard_normal(4).astype("float32")
    # the composite, as NumPy: a valid cross-correlation then the bias
    want = np.zeros((2, 4, 3, 4), "float64")
    for i in range(3):
        for j in range(3):
            want += np.einsum("nhwc,cd->nhwd", xv[:, i:i + 4, j:j + 3].astype("float64"), wv[i, j])
    return x, out, (xv, wv, bv), want + bv, 1e-4


def _gemm_case(act, dtype):
    def case():
        x = K.placeholder((None, 70), dtype=dtype)
        w = K.variable(np.zeros((70, 40)), dtype=dtype)
        bias = K.variable(np.zeros(40), dtype=dtype)
        z = K.bias_add(K.dot(x, w), bias)
        out = {"relu": K.relu, "sigmoid": K.sigmoid, "tanh": K.tanh, None: lambda v: v}[act](z)
        rng = np.random.default_rng(2)
        xv, wv, bv = rng.standard_normal((33, 70)), rng.standard_normal((70, 40)), rng.standard_normal(40)
        zv = xv @ wv + bv
        want = {"relu": np.maximum(zv, 0), "sigmoid": 1 / (1 + np.exp(-zv)), "tanh": np.tanh(zv), None: zv}[act]
        return x, out, tuple(v.astype(dtype) for v in (xv, wv, bv)), want, 1e-4 if dtype == "float32" else 1e-10
    return case


def _crossentropy_case():
    t = K.placeholder((None, 6))
    p = K.placeholder((None, 6))
    out = K.categorical_crossentropy(t, p)
    rng = np.random.default_rng(3)
    tv = rng.random((9, 6)).astype("float32")
    pv = (rng.random((9, 6)) + 0.01).astype("float32")
    pv[2, 3] = 1e-12  # clipped at epsilon after renormalising
    q = np.clip(pv / pv.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    # the fused form's inputs: probabilities, probabilities again (the division), the clip bounds, target
    return None, out, (pv, pv, np.float32(1e-7), np.float32(1 - 1e-7), tv), -(tv * np.log(q)).sum(-1), 1e-5


def _first_max_backprop(r, g, size, stride):
    """NumPy: each window's g to its first maximal cell (row-major), valid padding."""
    dx = np.zeros(r.shape)
    for oh in range(g.shape[1]):
        for ow in range(g.shape[2]):
            win = r[:, oh * stride:oh * stride + size, ow * stride:ow * stride + size, :]
            flat = win.reshape(r.shape[0], -1, r.shape[-1])
            first = np.argmax(flat == flat.max(axis=1, keepdims=True), axis=1)  # (N, C)
            for k in range(size * size):
                i, j = divmod(k, size)
                dx[:, oh * stride + i, ow * stride + j, :] += np.where(first == k, g[:, oh, ow, :], 0.0)
    return dx


def _pool_relu_grad_case(dtype):
    def case():
        x = K.placeholder((2, 9, 7, 5), dtype=dtype)
        r = K.relu(x)
        y = K.pool2d(r, (3, 3), strides=(2, 2))
        c = K.placeholder(tuple(y.shape), dtype=dtype)
        out = K.gradients(K.sum(y * c), [x])[0]
        rng = np.random.default_rng(4)
        xv = rng.standard_normal((2, 9, 7, 5)).astype(dtype)
        rv = np.maximum(xv, 0)
        yv = np.zeros((2, 4, 3, 5), dtype)
        for i in range(4):
            for j in range(3):
                yv[:, i, j] = rv[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
        gv = rng.standard_normal((2, 4, 3, 5)).astype(dtype)
        want = _first_max_backprop(rv, gv, 3, 2) * (rv > 0)
        # the fused form's inputs: pool_backprop's (x, y, g), then relu_grad's mask (relu's output)
        return None, out, (rv, yv, gv, rv), want, 1e-5
    return case


def _batchnorm_relu_case():
    x = K.placeholder((3, 4, 5, 6))
    gamma, beta = K.variable(np.ones(6, "float32")), K.variable(np.zeros(6, "float32"))
    out = K.relu(K.normalize_batch_in_training(x, gamma, beta, (0, 1, 2))[0])
    rng = np.random.default_rng(5)
    xv = (rng.standard_normal((3, 4, 5, 6)) * 2 + 1).astype("float32")
    gv, bv = rng.uniform(0.5, 1.5, (1, 1, 1, 6)).astype("float32"), rng.standard_normal((1, 1, 1, 6)).astype("float32")
    mean, var = xv.mean(axis=(0, 1, 2), dtype="float64"), xv.var(axis=(0, 1, 2), dtype="float64")
    want = np.maximum((xv - mean) / np.sqrt(var + 1e-3) * gv + bv, 0)
    # the fused form's inputs: x, gamma and beta in keepdims form; its result (relu(y), mean, var)
    return None, out, (xv, gv, bv), want, 1e-4


def _batchnorm_add_relu_case(relu, shortcut_first):
    def case():
        r = K.placeholder((3, 4, 5, 6))
        x = K.conv2d(r, K.constant(np.full((1, 1, 6, 6), 0.25, "float32")))  # r: computed before the batch norm
        gamma, beta = K.variable(np.ones(6, "float32")), K.variable(np.zeros(6, "float32"))
        y = K.normalize_batch_in_training(x, gamma, beta, (0, 1, 2))[0]
        out = y + r if not shortcut_first else r + y
        out = K.relu(out) if relu else out
        rng = np.random.default_rng(10)
        xv, rv = ((rng.standard_normal((3, 4, 5, 6)) * 2 + 1).astype("float32") for _ in range(2))
        gv, bv = rng.uniform(0.5, 1.5, (1, 1, 1, 6)).astype("float32"), rng.standard_normal((1, 1, 1, 6)).astype("float32")
        mean, var = xv.mean(axis=(0, 1, 2), dtype="float64"), xv.var(axis=(0, 1, 2), dtype="float64")
        want = (xv - mean) / np.sqrt(var + 1e-3) * gv + bv + rv
        # the fused form's inputs: x, gamma and beta in keepdims form, the shortcut
        return None, out, (xv, gv, bv, rv), np.maximum(want, 0) if relu else want, 1e-4
    return case


def _batchnorm_inference_case(relu):
    def case():
        x = K.placeholder((None, 5, 7))
        params = [K.variable(v) for v in np.random.default_rng(7).uniform(0.5, 1.5, (4, 7)).astype("float32")]
        mean, var, beta, gamma = params
        y = K.batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3)
        out = K.relu(y) if relu else y
        rng = np.random.default_rng(8)
        xv = (rng.standard_normal((6, 5, 7)) + 1).astype("float32")
        mv, vv, bv, gv = (K.get_value(p) for p in params)
        scale = (gv / np.sqrt(vv + np.float32(1e-3))).astype("float32")
        want = (xv - mv) * scale + bv
        # the fused form's inputs: x, mean, the scale (gamma / sqrt(var + epsilon)), beta
        return None, out, (xv, mv, scale, bv), np.maximum(want, 0) if relu else want, 1e-5
    return case


def _bn_backward_np(x, gamma, gy, gmean, gvar, axes, eps=1e-3):
    """NumPy (float64): dx of y = (x - mean) / sqrt(var + eps) * gamma, plus the paths through
    the mean and the biased variance (incoming gradients gmean, gvar)."""
    x, gy = np.asarray(x, np.float64), np.asarray(gy, np.float64)
    n = np.prod([x.shape[a] for a in axes])
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    gh = gy * gamma
    dx = inv * (gh - gh.mean(axis=axes, keepdims=True) - xhat * (gh * xhat).mean(axis=axes, keepdims=True))
    return dx + gmean / n + gvar * 2 / n * (x - mean)


def _batchnorm_backward_sum_case(dtype):
    def case():
        axes = (0, 1, 2)
        shape = (3, 4, 5, 6)
        x = K.placeholder(shape, dtype=dtype)
        gamma = K.variable(np.linspace(0.5, 1.5, 6).astype(dtype), dtype=dtype)
        y, mean, var = K.normalize_batch_in_training(x, gamma, None, axes)
        rng = np.random.default_rng(6)
        c, cm, cv = (rng.standard_normal(s).astype(dtype) for s in (shape, (6,), (6,)))
        loss = K.sum(y * K.constant(c)) + K.sum(mean * K.constant(cm)) + K.sum(var * K.constant(cv))
        out = K.sum(K.gradients(loss, [x])[0], axis=axes, keepdims=True)
        xv = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        keep = (1, 1, 1, 6)
        g = K.get_value(gamma).reshape(keep)
        mv, vv = xv.mean(axis=axes, keepdims=True), xv.var(axis=axes, keepdims=True)
        want = _bn_backward_np(xv, g, c, cm.reshape(keep), cv.reshape(keep), axes).sum(axis=axes, keepdims=True)
        # the fused form's inputs: batchnorm_train_backward's (x, gamma, mean, var, gy, gmean, gvar)
        ins = (xv, g, mv.astype(dtype), vv.astype(dtype), c, cm.reshape(keep), cv.reshape(keep))
        return None, out, ins, want, 1e-4 if dtype == "float32" else 1e-9
    return case


CASES = {"conv+bias": _conv_bias_case, "gemm+bias+relu/float32": _gemm_case("relu", "float32"),
         "gemm+bias+sigmoid/float64": _gemm_case("sigmoid", "float64"),
         "gemm+bias+tanh/float32": _gemm_case("tanh", "float32"), "gemm+bias/float64": _gemm_case(None, "float64"),
         "crossentropy": _crossentropy_case, "pool_backprop+relu_grad/float32": _pool_relu_grad_case("float32"),
         "pool_backprop+relu_grad/float64": _pool_relu_grad_case("float64"), "batchnorm_train+relu": _batchnorm_relu_case,
         "batchnorm_inference+relu": _batchnorm_inference_case(True),
         "batchnorm_train+add+relu": _batchnorm_add_relu_case(True, False),
         "batchnorm_train+add (shortcut first)": _batchnorm_add_relu_case(False, True),
         "batchnorm_inference": _batchnorm_inference_case(False),
         "batchnorm_train_backward+sum/float32": _batchnorm_backward_sum_case("float32"),
         "batchnorm_train_backward+sum/float64": _batchnorm_backward_sum_case("float64")}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name,backend", BACKENDS, ids=[n for n, _ in BACKENDS])
def test_fused_forms_equal_their_composite(name, backend, case):
    """Where a backend fuses a declared pattern, its callable equals the pattern's composite (the
    chain's primitives on the same backend) and the NumPy formula of the chain."""
    _, out, arrays, want, tol = CASES[case]()
    order = topological_order([out])
    found = patterns.find(backend, order, {out.id}, set())[0]
    if not found:
        pytest.skip(f"{name} does not fuse {case}")
    (m,) = found.values()
    assert m.nodes[-1] is out and m.pattern in PATTERNS
    native = [backend.from_numpy(np.asarray(a)) for a in arrays]
    got, composite = m.fn(*native), m.pattern.composite(backend, m.nodes)(*native)
    k = m.element
    whole = composite
    if k is not None:  # a tuple: the chain's value is element k, the others pass through as they were
        assert m.at is m.nodes[0] and len(got) == len(composite)
        for a, b in zip(got, composite):
            a, b = backend.to_numpy(a), backend.to_numpy(b)
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        got, composite = got[k], composite[k]
    got, composite = backend.to_numpy(got), backend.to_numpy(composite)
    assert got.dtype == composite.dtype == out.dtype and got.shape == composite.shape
    np.testing.assert_allclose(got, composite, rtol=tol, atol=tol)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    if backend.out_mode(m.name) is not None:  # a fused form declaring out= fills the given array
        # out= takes the chain's value, or for a pattern appending to a tuple its first result
        first = backend.to_numpy(whole[0]) if m.pattern.appends else got
        buf = backend.empty(tuple(first.shape), first.dtype)
        res = m.fn(*native, out=buf)
        assert (res if k is None else res[0 if m.pattern.appends else k]) is buf
        np.testing.assert_allclose(backend.to_numpy(buf), first if m.pattern.appends else want, rtol=tol, atol=tol)
        np.testing.assert_allclose(backend.to_numpy(res if k is None else res[k]), want, rtol=tol, atol=tol)


def test_numba_fuses_every_declared_pattern():
    backend = registry.get_backend_object("numba")
    for case in CASES:
        _, out, *_ = CASES[case]()
        found = patterns.find(backend, topological_order([out]), {out.id}, set())[0]
        assert [m.nodes[-1] for m in found.values()] == [out], case


def test_patterns_are_declared():
    """The table: every pattern has a name, at least two links, ops named by registered
    primitives, and a composite runnable on the reference backend."""
    assert len({p.name for p in PATTERNS}) == len(PATTERNS) >= 3
    for p in PATTERNS:
        assert isinstance(p, interface.FusedPattern) and len(p.stages) >= 2 and p.doc
        assert not p.stages[0].optional
        for stage in p.stages:
            assert stage.ops and all(op in OPS for op in stage.ops), (p.name, stage.ops)


def test_chain_with_an_extra_reader_is_not_fused():
    """A link read by anything but the next one (here the pre-activation, also an output) stays
    materialised: the match stops before it."""
    backend = registry.get_backend_object("numba")
    x = K.placeholder((None, 8))
    z = K.bias_add(K.dot(x, K.variable(np.ones((8, 3)))), K.variable(np.ones(3)))
    y = K.relu(z)
    found, inner = patterns.find(backend, topological_order([y, z]), {y.id, z.id}, set())
    assert [m.name for m in found.values()] == ["matmul+add"] and y.id not in inner
    f = K.function([x], [y, z])
    xv = np.random.default_rng(0).standard_normal((5, 8)).astype("float32")
    yv, zv = f([xv])
    np.testing.assert_allclose(zv, xv @ np.ones((8, 3)) + 1, rtol=1e-5)
    np.testing.assert_allclose(yv, np.maximum(zv, 0), rtol=1e-6)


def test_batchnorm_backward_sum_keeps_dx_for_its_other_readers():
    """conv-style bias -> batch norm: the bias gradient (the sum of batch norm's dx) is taken in
    the backward pass's step, dx stays a value of its own for the input gradient; the pooled
    plan gives the same results, bit for bit, on every call."""
    import keraslite
    with keraslite.use_backend("numba"):
        x, c = K.placeholder((None, 6, 5, 4)), K.placeholder((None, 6, 5, 4))
        b = K.variable(np.zeros(4, "float32"))
        gamma = K.variable(np.array([0.5, 1.0, 1.5, 2.0], "float32"))
        y, mean, _ = K.normalize_batch_in_training(K.bias_add(x, b), gamma, None, (0, 1, 2))
        cm = np.array([0.25, -1.0, 2.0, 0.5], "float32")
        gb, gx = K.gradients(K.sum(y * c) + K.sum(mean * K.constant(cm)), [b, x])
        f = K.function([x, c], [gb, gx])
        rng = np.random.default_rng(9)
        xv, cv = (rng.standard_normal((7, 6, 5, 4)).astype("float32") for _ in range(2))
        runs = [f([xv, cv]) for _ in range(3)]
        kernels = f.last_plan.kernels()
    assert "batchnorm_train_backward+tuple_get+sum" in kernels and "sum" not in kernels, kernels
    dx = _bn_backward_np(xv, K.get_value(gamma).reshape(1, 1, 1, 4), cv, cm.reshape(1, 1, 1, 4), 0, (0, 1, 2))
    np.testing.assert_allclose(runs[0][1], dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(runs[0][0], dx.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(runs[0][0], cm, rtol=1e-4, atol=1e-5)  # the sum of dx: gmean's share alone
    for later in runs[1:]:
        for a, e in zip(later, runs[0]):
            assert a.tobytes() == e.tobytes()


def test_residual_add_of_a_value_not_computed_before_is_not_fused():
    """batch norm + add runs in the batch norm's place: a shortcut that is no ancestor of the
    batch norm (here another batch norm's output, as a ResNet conv block's two branches) is not
    taken into the fused step, and the plan still computes the sum."""
    import keraslite
    with keraslite.use_backend("numba"):
        a, b = K.placeholder((4, 3, 5)), K.placeholder((4, 3, 5))
        ya = K.normalize_batch_in_training(a, None, None, (0, 1))[0]
        yb = K.normalize_batch_in_training(b, None, None, (0, 1))[0]
        out = K.relu(ya + yb)
        backend = registry.get_backend_object("numba")
        found, _ = patterns.find(backend, topological_order([out]), {out.id}, set())
        assert not any("add" in m.name for m in found.values()), [m.name for m in found.values()]
        rng = np.random.default_rng(11)
        av, bv = (rng.standard_normal((4, 3, 5)).astype("float32") for _ in range(2))
        (got,) = K.function([a, b], [out])([av, bv])

    def bn(v):
        return (v - v.mean(axis=(0, 1))) / np.sqrt(v.var(axis=(0, 1)) + 1e-3)
    np.testing.assert_allclose(got, np.maximum(bn(av.astype(np.float64)) + bn(bv.astype(np.float64)), 0),
                               rtol=1e-4, atol=1e-5)


class _Bare(Backend):
    name = "bare"


def test_defaults_mean_no_feature():
    b = _Bare()
    x = K.placeholder((2,))
    y = K.exp(x)
    assert b.fusable(y) is True
    assert b.fused_form(PATTERNS[0], (x, y)) is None
    assert b.fuses_elementwise is False
    assert b.batches_elementwise is False
    assert b.supports_sparse is False
    with b.running():
        pass
    with pytest.raises(NotImplementedError, match="bare"):
        b.compile_elementwise(None)
    with pytest.raises(NotImplementedError, match="bare"):
        b.compile_elementwise_batch(None, "F")
    with pytest.raises(NotImplementedError, match="'bare' does not implement the primitive 'exp'"):
        b.primitive("exp", {})


class _Probe(ArrayBackend):
    """The reference backend, recording which hooks the compiler calls."""

    name = "probe"
    fuses_elementwise = True

    def __init__(self):
        self.calls = []

    def running(self):
        self.calls.append("running")
        return contextlib.nullcontext()

    def fusable(self, node):
        self.calls.append("fusable")
        return node.op != "sqrt"  # refused: runs as its own primitive

    def fused_form(self, pattern, nodes):
        self.calls.append("fused_form")
        if pattern is interface.GEMM_EPILOGUE and len(nodes) == 2:  # matmul + bias, no activation
            return lambda a, b, bias: a @ b + bias
        return None

    def compile_elementwise(self, program):
        self.calls.append("compile_elementwise")
        from keraslite_cuda.fused import evaluate_program
        return lambda *arrays: evaluate_program(np, program, arrays)


def test_compiler_calls_the_declared_hooks():
    pytest.importorskip("keraslite_cuda.fused")
    b = _Probe()
    x = K.placeholder((2, 3))
    w = np.arange(12, dtype="float32").reshape(3, 4) / 10
    bias = np.linspace(-1, 1, 4).astype("float32")
    folded = K.relu(K.bias_add(K.dot(x, K.constant(w)), K.constant(bias)))  # relu left out by the probe
    out = K.sqrt(K.abs(folded * 2.0) + 1.0)
    plan = compiler.Plan(b, [x], [out], [])
    kernels = plan.kernels()
    assert "matmul+add" in kernels and "sqrt" in kernels
    assert any(k.startswith("fused[") for k in kernels)
    assert {"fused_form", "fusable", "compile_elementwise"} <= set(b.calls)
    xv = np.array([[-1.0, 0.5, 2.0], [0.0, 1.0, -3.0]], "float32")
    (got,) = plan.run([xv])
    np.testing.assert_allclose(got, np.sqrt(np.abs(np.maximum(xv @ w + bias, 0) * 2.0) + 1.0), rtol=1e-6)
    assert b.calls.count("running") == 1


def _bn_graph():
    x = K.placeholder((None, 4, 3))
    gamma, beta = K.variable(np.full(3, 1.5, "float32")), K.variable(np.full(3, 0.25, "float32"))
    y, mean, var = K.normalize_batch_in_training(x, gamma, beta, (0, 1))
    xv = np.random.default_rng(6).standard_normal((5, 4, 3)).astype("float32")
    m, v = xv.mean((0, 1), dtype="float64"), xv.var((0, 1), dtype="float64")
    return x, y, mean, var, xv, (xv - m) / np.sqrt(v + 1e-3) * 1.5 + 0.25, m, v


def test_a_pattern_from_a_tuple_element_keeps_the_other_elements_readable():
    """batchnorm_train + relu goes on from element 0 of batch norm's tuple: the fused step runs in
    the tuple's place, so the statistics (elements 1 and 2) are read from it as before."""
    backend = registry.get_backend_object("numba")
    x, y, mean, var, xv, yv, m, v = _bn_graph()
    r = K.relu(y)
    found, inner = patterns.find(backend, topological_order([r, mean, var]), {r.id, mean.id, var.id}, set())
    (match,) = found.values()
    assert match.name == "batchnorm_train+tuple_get+relu" and match.at is match.nodes[0]
    assert r.id in inner and mean.id not in inner
    plan = compiler.Plan(backend, [x], [r, mean, var], [])
    assert "batchnorm_train+tuple_get+relu" in plan.kernels() and "relu" not in plan.kernels()
    got_r, got_m, got_v = plan.run([xv])
    np.testing.assert_allclose(got_r, np.maximum(yv, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_m, m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_v, v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("other", ["output", "second reader"])
def test_a_tuple_element_read_elsewhere_is_not_fused(other):
    """The normalised values also needed (an output, or a second reader): no match, both values right."""
    backend = registry.get_backend_object("numba")
    x, y, mean, var, xv, yv, m, v = _bn_graph()
    r = K.relu(y)
    outs = [r, y] if other == "output" else [r, y * 2.0]
    found, _ = patterns.find(backend, topological_order(outs), {o.id for o in outs}, set())
    assert not found
    got = compiler.Plan(backend, [x], outs, []).run([xv])
    np.testing.assert_allclose(got[0], np.maximum(yv, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], yv * (1.0 if other == "output" else 2.0), rtol=1e-5, atol=1e-6)

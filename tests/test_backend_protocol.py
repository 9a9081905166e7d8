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
from keraslite.backend.interface import ArrayBackend, Backend

HOOKS = ("fusable", "compile_elementwise", "fold", "running", "out_mode", "empty")
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
    assert isinstance(backend.supports_sparse, bool)
    for hook in HOOKS + CORE:
        assert callable(getattr(backend, hook)), hook
        assert _params(getattr(type(backend), hook)) == _params(getattr(Backend, hook)), \
            f"{name}.{hook} has signature {inspect.signature(getattr(type(backend), hook))}, " \
            f"the protocol declares {inspect.signature(getattr(Backend, hook))}"
    if backend.fuses_elementwise:
        assert type(backend).compile_elementwise is not Backend.compile_elementwise, \
            f"{name} sets fuses_elementwise but does not implement compile_elementwise"


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
    # an exp feeding an add has no fused form anywhere
    assert backend.fold(y.inputs[0], y) is None
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


@pytest.mark.parametrize("name,backend", BACKENDS, ids=[n for n, _ in BACKENDS])
def test_conv_bias_fold_equals_the_composite(name, backend):
    """Where a backend folds conv + bias add, the fused callable equals the two primitives."""
    x = K.placeholder((2, 6, 5, 3))
    w = K.variable(np.zeros((3, 3, 3, 4), "float32"))
    bias = K.variable(np.zeros(4, "float32"))
    conv = K.conv2d(x, w, padding="valid")
    out = K.bias_add(conv, bias)
    producer = out.inputs[0] if out.inputs[0].op == "conv" else out.inputs[1]
    fn = backend.fold(producer, out) if producer.op == "conv" and out.op == "add" else None
    if fn is None:
        pytest.skip(f"{name} has no fused conv + bias form")
    rng = np.random.default_rng(1)
    xv = rng.standard_normal((2, 6, 5, 3)).astype("float32")
    wv = rng.standard_normal((3, 3, 3, 4)).astype("float32")
    bv = rng.standard_normal(4).astype("float32")
    got = backend.to_numpy(fn(*[backend.from_numpy(v) for v in (xv, wv, bv)]))
    # the composite, as NumPy: a valid cross-correlation then the bias
    want = np.zeros((2, 4, 3, 4), "float64")
    for i in range(3):
        for j in range(3):
            want += np.einsum("nhwc,cd->nhwd", xv[:, i:i + 4, j:j + 3].astype("float64"), wv[i, j])
    np.testing.assert_allclose(got, want + bv, rtol=1e-4, atol=1e-4)


class _Bare(Backend):
    name = "bare"


def test_defaults_mean_no_feature():
    b = _Bare()
    x = K.placeholder((2,))
    y = K.exp(x)
    assert b.fusable(y) is True
    assert b.fold(x, y) is None
    assert b.fuses_elementwise is False
    assert b.supports_sparse is False
    with b.running():
        pass
    with pytest.raises(NotImplementedError, match="bare"):
        b.compile_elementwise(None)
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

    def fold(self, producer, consumer):
        self.calls.append("fold")
        if producer.op == "exp" and consumer.op == "log":  # log(exp(x)) = x, as one callable
            return lambda x: x.copy()
        return None

    def compile_elementwise(self, program):
        self.calls.append("compile_elementwise")
        from keraslite_cuda.fused import evaluate_program
        return lambda *arrays: evaluate_program(np, program, arrays)


def test_compiler_calls_the_declared_hooks():
    pytest.importorskip("keraslite_cuda.fused")
    b = _Probe()
    x = K.placeholder((3,))
    folded = K.log(K.exp(x))
    out = K.sqrt(K.abs(folded * 2.0) + 1.0)
    plan = compiler.Plan(b, [x], [out], [])
    kernels = plan.kernels()
    assert "exp+log" in kernels and "sqrt" in kernels
    assert any(k.startswith("fused[") for k in kernels)
    assert {"fold", "fusable", "compile_elementwise"} <= set(b.calls)
    xv = np.array([-1.0, 0.5, 2.0], "float32")
    (got,) = plan.run([xv])
    np.testing.assert_allclose(got, np.sqrt(np.abs(xv * 2.0) + 1.0), rtol=1e-6)
    assert b.calls.count("running") == 1

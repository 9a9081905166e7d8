"""The elementwise catalogue (keraslite/backend/elementwise): a new op is one entry.

A test registers an op and checks it works through K on every backend (forward and gradient),
fuses on Numba (the generated kernel source holds its expression) and in the CUDA generator
(the emitted C, compiled for the host by hostsim, matches an independent NumPy formula). The
catalogue-wide checks compare every entry's dtype rule with its NumPy formula, and every scalar
function's CUDA form (compiled on the host) and Numba form with the entry's NumPy formula.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite.backend import elementwise as E
from keraslite.backend import registry
from keraslite.backend.fusion import ElementwiseProgram
from keraslite.backend.graph import OPS, topological_order

from keraslite_cuda import fused as cuda_fused
from keraslite_cuda import hostsim
from keraslite_cuda.backend import CudaBackend
from keraslite_numba import fused as numba_fused

needs_cxx = pytest.mark.skipif(hostsim.compiler() is None, reason="no host C++ compiler (g++/clang++/$CXX)")


def softsign_ref(x):
    x = np.asarray(x, np.float64)
    return x / (np.abs(x) + 1)


def softsign_grad_ref(x):
    return 1 / (np.abs(np.asarray(x, np.float64)) + 1) ** 2


def _softsign_vjp(g, y, x):
    # composed of catalogue ops: g / (|x| + 1) ** 2
    d = E.call("add", E.call("abs", x), 1.0)
    return [E.call("div", g, E.call("mul", d, d))]


@contextlib.contextmanager
def registered(name, **fields):
    entry = E.register(name, **fields)
    try:
        yield entry
    finally:
        E.unregister(name)


def composed_softsign():
    """An op whose expression composes the portable language: no per-target code at all."""
    return registered("softsign_t", arity=1, array=lambda xp, x: x / (xp.abs(x) + 1), expr="({0} / (abs({0}) + 1.0))",
                      dtype=E.SAME, vjp=_softsign_vjp, float_inputs=True, doc="softsign_t(x): x / (|x| + 1).")


_HELPER = r"""
__device__ __forceinline__ float kls_softsign(float x) { return x / (fabsf(x) + 1.0f); }
__device__ __forceinline__ double kls_softsign(double x) { return x / (fabs(x) + 1.0); }
"""


def function_softsign():
    """An op that defines a new scalar function, with its Numba and CUDA forms in the entry."""
    return registered("softsign_f", arity=1, array=lambda xp, x: x / (xp.abs(x) + 1), expr="softsign_s({0})",
                      dtype=E.SAME, vjp=_softsign_vjp, call="softsign_s",
                      numba="catalogue_ext:softsign_s",
                      cuda=E.CudaForm("kls_softsign({0})", "kls_softsign({0})", None, preamble=_HELPER),
                      float_inputs=True)


def _plan_fused(f):
    return [k for k in f.last_plan.kernels() if k.startswith("fused[")]


# =============================================================================================
# a new op through K, gradients and fusion

@pytest.mark.parametrize("make", [composed_softsign, function_softsign], ids=["composed", "new_function"])
@pytest.mark.parametrize("shape", [(3, 5), (48, 64)])  # NumPy-expression path and a Numba kernel
def test_registered_op_through_k_and_gradients(kbackend, make, shape):
    with make() as entry:
        op = E.function(entry.name)
        x = np.random.default_rng(0).uniform(-4, 4, size=shape).astype(np.float32)
        w = np.random.default_rng(1).uniform(-1, 1, size=shape).astype(np.float32)
        xt = K.placeholder(shape=shape)
        y = op(xt * 2.0) + 1.0                        # fused with its neighbours
        loss = K.sum(y * K.constant(w))
        (gx,) = K.gradients(loss, [xt])
        f = K.function([xt], [y, gx])
        got_y, got_g = f([x])
        assert got_y.dtype == np.float32 and got_y.shape == shape
        np.testing.assert_allclose(got_y, softsign_ref(2 * x) + 1, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got_g, 2 * w * softsign_grad_ref(2 * x), rtol=1e-5, atol=1e-6)
        if registry.get_backend_object().fuses_elementwise:
            assert any(entry.name in k for k in _plan_fused(f)), f.last_plan.kernels()
        # integer input: float_inputs casts to floatx first
        it = K.placeholder(shape=(4,), dtype="int32")
        out = K.function([it], [op(it)])([np.array([-3, 0, 1, 7], np.int32)])[0]
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, softsign_ref([-3, 0, 1, 7]), rtol=1e-6)
    assert entry.name not in OPS and E.lookup(entry.name) is None


def test_registered_op_numba_kernel_source():
    """The Numba generator writes the entry's expression (or imports its function) verbatim."""
    for make, expect_body, expect_import in (
            (composed_softsign, "t1 = (t0 / (abs(t0) + 1.0))", None),
            (function_softsign, "t1 = softsign_s(t0)", "from catalogue_ext import softsign_s")):
        with make() as entry:
            program = ElementwiseProgram(1, (("t0", "(a0 * a0)"), ("t1", entry.template({}).format("t0"))),
                                         ("t1",), ("float32",))
            src = numba_fused._source(program, "F")
            assert "        " + expect_body.replace("t0 *", "x0 *") in src or expect_body in src
            if expect_import:
                assert expect_import in src
            kernel = numba_fused.FusedKernel(program)
            x = np.random.default_rng(2).uniform(-3, 3, size=(50, 60)).astype(np.float32)  # a compiled kernel
            (out,) = kernel(x)
            assert out.dtype == np.float32
            np.testing.assert_allclose(out, softsign_ref(x * x), rtol=1e-6)
            (small,) = kernel(x[:2, :3])  # NumPy-expression path: the entry's array formula
            np.testing.assert_allclose(small, softsign_ref(x[:2, :3] ** 2), rtol=1e-6)


@needs_cxx
def test_registered_op_cuda_source_and_host_run():
    with composed_softsign() as e1, function_softsign() as e2:
        program = ElementwiseProgram(2, (("t0", "(a0 + a1)"), ("t1", e1.template({}).format("t0")),
                                         ("t2", e2.template({}).format("t1"))), ("t1", "t2"), ("float32", "float32"))
        src = cuda_fused.generate(program, ("float32", "float32"))
        assert src.operation.splitlines() == [
            "const float t0 = (a0 + a1);",
            "const float t1 = (t0 / (kl_abs(t0) + ((float)1.0)));",
            "const float t2 = kls_softsign(t1);",
            "o0 = (float)t1;", "o1 = (float)t2;"]
        assert "kls_softsign(float x)" in src.preamble and "kls_softsign" in cuda_fused.PREAMBLE
        d64 = cuda_fused.generate(program, ("float64", "float32")).operation
        assert "const double t2 = kls_softsign(t1);" in d64
        with pytest.raises(cuda_fused.UnsupportedExpression):  # no integer form: array fallback
            cuda_fused.generate(ElementwiseProgram(1, (("t0", "softsign_s(a0)"),), ("t0",), ("int32",)), ("int32",))
        a = np.random.default_rng(3).uniform(-5, 5, size=(4, 7)).astype(np.float32)
        b = np.random.default_rng(4).uniform(-5, 5, size=(7,)).astype(np.float32)
        o1, o2 = hostsim.HostFusedKernels([(program, ("float32", "float32"))]).run(0, a, b)
        np.testing.assert_allclose(o1, softsign_ref(a + b), rtol=1e-6)
        np.testing.assert_allclose(o2, softsign_ref(softsign_ref(a + b)), rtol=1e-6)
        f1, f2 = cuda_fused.evaluate_program(np, program, [a, b])  # the array fallback
        np.testing.assert_allclose(f2, softsign_ref(softsign_ref(a + b)), rtol=1e-6)
    assert "kls_softsign" not in cuda_fused.PREAMBLE


@needs_cxx
def test_registered_op_on_the_emulated_cuda_backend():
    """Through K on CudaBackend.emulated(fused='host'): the fused chain runs the generated C."""
    backend = CudaBackend.emulated(fused="host")
    registry.register_backend("cuda_hostsim_catalogue", lambda: backend)
    try:
        with function_softsign() as entry, keraslite.use_backend("cuda_hostsim_catalogue"):
            x = np.random.default_rng(5).uniform(-4, 4, size=(6, 9)).astype(np.float32)
            xt = K.placeholder(shape=(6, 9))
            y = E.function(entry.name)(xt - 0.5)
            (gx,) = K.gradients(K.sum(y), [xt])
            f = K.function([xt], [y, gx])
            got_y, got_g = f([x])
            assert any("softsign_f" in k for k in _plan_fused(f))
            np.testing.assert_allclose(got_y, softsign_ref(x - 0.5), rtol=1e-6)
            np.testing.assert_allclose(got_g, softsign_grad_ref(x - 0.5), rtol=1e-5)
    finally:
        registry._factories.pop("cuda_hostsim_catalogue", None)
        registry._instances.pop("cuda_hostsim_catalogue", None)


# =============================================================================================
# registration errors

def test_register_rejects_malformed_entries_before_changing_anything():
    good = dict(arity=1, array=lambda xp, x: x, expr="({0} + 1)", dtype=E.SAME)
    n_ops, n_entries, version = len(OPS), len(E.entries()), E.version()
    with pytest.raises(ValueError, match="already defined"):
        E.register("add", **good)
    with pytest.raises(ValueError, match="identifier"):
        E.register("not a name", **good)
    with pytest.raises(ValueError, match="arity"):
        E.register("t_op", **{**good, "arity": 0})
    with pytest.raises(ValueError, match="not a Python expression"):
        E.register("t_op", **{**good, "expr": "({0} +"})
    with pytest.raises(ValueError, match="not a Python expression"):
        E.register("t_op", **{**good, "expr": "({0} + {1})"})
    with pytest.raises(TypeError, match="DtypeRule"):
        E.register("t_op", **{**good, "dtype": "float32"})
    with pytest.raises(ValueError, match="scalar function"):
        E.register("t_op", **{**good, "numba": "numpy:sin"})
    with pytest.raises(ValueError, match="already defined by 'exp'"):
        E.register("t_op", **{**good, "expr": "exp({0})", "call": "exp"})
    with pytest.raises(ValueError, match="numba="):
        E.register("t_op", **{**good, "expr": "nosuch({0})", "call": "nosuch"})
    with pytest.raises(ValueError, match="not a NumPy ufunc"):
        E.follows_numpy("nosuch")
    assert (len(OPS), len(E.entries()), E.version()) == (n_ops, n_entries, version)
    with pytest.raises(KeyError):
        E.unregister("t_op")
    with pytest.raises(ValueError, match="keraslite's own"):
        E.unregister("add")
    assert E.lookup("add") is not None and "add" in OPS


# =============================================================================================
# the catalogue itself

_DTYPES = ("float32", "float64", "int32", "int8", "bool")


def _sample_inputs(entry, dtypes, shape=(6,)):
    rng = np.random.default_rng(7)
    out = []
    for k, d in enumerate(dtypes):
        if entry.name == "where" and k == 0:
            d = "bool"
        if d == "bool":
            out.append(rng.random(shape) < 0.5)
        elif d.startswith("int"):
            out.append(rng.integers(1, 5, size=shape).astype(d))
        else:
            out.append(rng.uniform(0.25, 3.0, size=shape).astype(d))
    return out


def test_every_primitive_of_math_is_a_catalogue_entry_and_its_dtype_rule_matches_its_formula():
    names = {e.name for e in E.entries()}
    assert {"neg", "abs", "sqrt", "exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "round",
            "floor", "sigmoid", "relu", "add", "sub", "mul", "div",
            "pow", "maximum", "minimum", "equal", "greater", "greater_equal",
            "floordiv", "mod", "where", "cast"} <= names
    # compositions of those entries (ops/math.py), not primitives of their own
    assert not {"logical_not", "sign", "square", "not_equal", "less", "less_equal", "logical_and", "logical_or",
                "softplus"} & names
    checked = 0
    for entry in E.entries():
        assert OPS[entry.name].elementwise is entry.expr and OPS[entry.name].vjp is entry.vjp
        attrs = {"dtype": "float64"} if entry.name == "cast" else {}
        for d in _DTYPES:
            dts = (d,) * entry.arity
            arrays = _sample_inputs(entry, dts)
            try:
                with np.errstate(all="ignore"):
                    want = np.asarray(entry.array(np, *arrays, **attrs)).dtype.name
            except TypeError:  # NumPy has no loop for it (e.g. sign of bool)
                continue
            in_dtypes = tuple(a.dtype.name for a in arrays)
            assert entry.dtype.result(in_dtypes, attrs) == want, (entry.name, in_dtypes)
            checked += 1
    assert checked > 120  # 29 entries x their dtype combinations (150 before 10 entries became compositions)


def _function_entries():
    return [e for e in E.entries() if e.call is not None]


@needs_cxx
def test_every_scalar_function_cuda_form_matches_its_numpy_formula():
    items, cases = [], []
    for entry in _function_entries():
        args = ", ".join(f"a{i}" for i in range(entry.arity))
        for d in ("float32", "float64", "int32"):
            dts = (d,) * entry.arity
            out = entry.dtype.result(dts, {})
            program = ElementwiseProgram(entry.arity, (("t0", f"{entry.call}({args})"),), ("t0",), (out,))
            try:
                cuda_fused.generate(program, dts)
            except cuda_fused.UnsupportedExpression:
                assert d == "int32", (entry.name, d)  # only integer forms may be missing
                continue
            items.append((program, dts))
            cases.append((entry, dts))
    kernels = hostsim.HostFusedKernels(items)
    for k, (entry, dts) in enumerate(cases):
        arrays = _sample_inputs(entry, dts, shape=(9,))
        arrays[0][:3] = np.array([-2.5, 0, 1.5]).astype(dts[0]) if dts[0] != "int32" else [-2, 0, 3]
        (got,) = kernels.run(k, *arrays)
        with np.errstate(all="ignore"):
            want = np.asarray(entry.array(np, *arrays)).astype(got.dtype)
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7, err_msg=f"{entry.name} {dts}")
    assert len(cases) >= 2 * len(_function_entries())


def test_every_scalar_function_numba_form_matches_its_numpy_formula():
    """One Numba kernel calling every scalar function (float64), against the NumPy formulas."""
    entries = _function_entries()
    lines, n_in = [], 2
    for k, e in enumerate(entries):
        lines.append((f"t{k}", f"{e.call}({', '.join(f'a{i}' for i in range(e.arity))})"))
    program = ElementwiseProgram(n_in, tuple(lines), tuple(n for n, _ in lines), ("float64",) * len(lines))
    header = numba_fused._header(program)
    for e in entries:
        module, attr = e.numba_ref()
        if module != "builtins":
            assert E.numba_object(e) is not None and module in header
    x = np.random.default_rng(8).uniform(-3, 3, size=(40, 40))
    y = np.random.default_rng(9).uniform(-3, 3, size=(40, 40))
    outs = numba_fused.FusedKernel(program)(x, y)
    for e, got in zip(entries, outs):
        with np.errstate(all="ignore"):  # sqrt and log of negatives: NaN in both
            want = e.array(np, *(x, y)[:e.arity])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=e.name)


def test_numba_header_binds_each_called_function_to_its_catalogue_implementation():
    program = ElementwiseProgram(2, (("t0", "max(a0, a1)"), ("t1", "exp(t0)"), ("t2", "abs(t1)"),
                                     ("t3", "sigmoid(t2)")), ("t3",), ("float32",))
    header = numba_fused._header(program)
    env: dict = {}
    exec(compile(header, "<header>", "exec"), env)  # noqa: S102 - generated text under test
    import keraslite_numba.scalar as scalar
    assert env["max"] is np.maximum and env["exp"] is scalar.exp and env["sigmoid"] is scalar.sigmoid
    assert "abs" not in env  # Python's builtin, which Numba compiles
    with pytest.raises(ValueError, match="not a scalar function"):
        numba_fused._header(ElementwiseProgram(1, (("t0", "nosuch(a0)"),), ("t0",), ("float32",)))


def test_registered_op_without_vjp_passes_no_gradient(kbackend):
    """vjp=None: non-differentiable by design (like sign or floor), not an error."""
    with registered("floor_t", arity=1, array=lambda xp, x: xp.floor(x), expr="floor({0})",
                    dtype=E.follows_numpy("floor")) as entry:
        x = np.array([[-1.5, 0.25, 2.75]], np.float32)
        xt = K.placeholder(shape=(1, 3))
        y = E.function(entry.name)(xt)
        (gx,) = K.gradients(K.sum(y * 3.0 + xt), [xt])
        got_y, got_g = K.function([xt], [y, gx])([x])
        np.testing.assert_array_equal(got_y, np.floor(x))
        np.testing.assert_array_equal(got_g, np.ones_like(x))


def test_relu_gradient_is_one_op_on_relu_output_and_no_mask_is_materialised(kbackend):
    """relu's VJP is relu_grad(g, y): no greater/cast mask op, so the forward group that computes
    relu writes relu alone; the values are g * (y > 0), also for y == 0 exactly."""
    x = K.placeholder((4, 6))
    c = K.placeholder((4, 6))
    (g,) = K.gradients(K.sum(K.relu(x * 2.0) * c), [x])
    assert "relu_grad" in {n.op for n in topological_order([g])}
    assert not {"greater", "cast"} & {n.op for n in topological_order([g])}
    xv = np.random.default_rng(3).standard_normal((4, 6)).astype("float32")
    xv[0, :3] = 0.0
    cv = np.random.default_rng(4).standard_normal((4, 6)).astype("float32")
    (got,) = K.function([x, c], [g])([xv, cv])
    np.testing.assert_array_equal(got, cv * 2.0 * (xv > 0))
    # second order: relu_grad is linear in g and passes no gradient to y
    d = K.placeholder((4, 6))
    (gc,) = K.gradients(K.sum(g * d), [c])
    dv = np.random.default_rng(5).standard_normal((4, 6)).astype("float32")
    (got_c,) = K.function([x, c, d], [gc])([xv, cv, dv])
    np.testing.assert_allclose(got_c, dv * 2.0 * (xv > 0), rtol=1e-6)

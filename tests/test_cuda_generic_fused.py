"""The CUDA backend's fused elementwise kernels on the CPU, without CuPy or a GPU: generated
sources, their types, host-compiled runs and the array fallback against NumPy formulas; the
device compile of every generated kernel source with nvcc where nvcc is on the PATH.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from keraslite.backend.fusion import ElementwiseProgram

from keraslite_cuda import batchnorm as bn
from keraslite_cuda import fused, hostsim, pool, rawkernels

from cuda_generic_helpers import needs_cxx


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH: device compile of the kernels not checked")
def test_kernel_sources_compile_for_the_device_with_nvcc(tmp_path):
    parts = []
    for k, spec in enumerate(pool.KERNELS + bn.KERNELS):
        for dt in ("float32", "float64"):
            parts.append(f"namespace ns{k}_{dt} {{\n{rawkernels.source(spec, dt)}}}\n")
    progs = _fused_programs_for_compile()
    for k, (p, dts) in enumerate(progs):
        src = fused.generate(p, dts)
        params = ", ".join([f"const {fused.C_TYPES[np.dtype(d).name]}* A{i}" for i, d in enumerate(dts)]
                           + [f"{fused.C_TYPES[np.dtype(d).name]}* O{j}" for j, d in enumerate(p.out_dtypes)])
        loads = "".join(f"const {fused.C_TYPES[np.dtype(d).name]} a{i} = A{i}[i];\n" for i, d in enumerate(dts))
        stores = "".join(f"{fused.C_TYPES[np.dtype(d).name]}& o{j} = O{j}[i];\n" for j, d in enumerate(p.out_dtypes))
        parts.append(f'extern "C" __global__ void f{k}(long long n, {params}) {{\n'
                     f"long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;\n"
                     f"{loads}{stores}{src.operation}\n}}\n")
    cu = tmp_path / "k.cu"
    cu.write_text(fused.PREAMBLE + "".join(parts))
    r = subprocess.run(["nvcc", "-arch=sm_80", "--ptx", str(cu), "-o", str(tmp_path / "k.ptx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


# =============================================================================================
# fused elementwise: CUDA C generation

def _prog(lines, outputs, out_dtypes, n_inputs):
    return ElementwiseProgram(n_inputs, tuple(lines), tuple(outputs), tuple(out_dtypes))


# (lines, n_inputs, input dtypes, independent NumPy formula over the inputs)
FUSED_CASES = [
    ([("t0", "(a0 + a1)"), ("t1", "relu(t0)"), ("t2", "sigmoid(t1)")], 2, ("float32", "float32"),
     lambda a, b: 1 / (1 + np.exp(-np.maximum(a + b, 0)))),
    ([("t0", "(a0 * a1)"), ("t1", "(t0 - a0)"), ("t2", "tanh(t1)")], 2, ("float64", "float32"),
     lambda a, b: np.tanh(a * b - a)),
    ([("t0", "(a0 / a1)")], 2, ("int32", "int32"), lambda a, b: a / b),
    ([("t0", "(a0 // a1)")], 2, ("float32", "float32"), lambda a, b: np.floor_divide(a, b)),
    ([("t0", "(a0 % a1)")], 2, ("float64", "float64"), lambda a, b: np.mod(a, b)),
    ([("t0", "(a0 // a1)")], 2, ("int64", "int64"), lambda a, b: np.floor_divide(a, np.where(b == 0, 1, b)) * (b != 0)),
    ([("t0", "(a0 % a1)")], 2, ("int32", "int32"), lambda a, b: np.mod(a, np.where(b == 0, 1, b)) * (b != 0)),
    ([("t0", "(a0 ** a1)")], 2, ("float32", "float32"), lambda a, b: np.power(a, b)),
    ([("t0", "(a0 ** a1)")], 2, ("int32", "int32"), lambda a, b: np.power(a, np.abs(b))),
    ([("t0", "max(a0, a1)"), ("t1", "min(t0, a1)")], 2, ("float32", "float32"),
     lambda a, b: np.minimum(np.maximum(a, b), b)),
    # sign as keraslite composes it (K.sign: two comparisons and two selections)
    ([("t0", "(a0 > 0.0)"), ("t1", "(0.0 > a0)"), ("t2", "(-1.0 if t1 else a0)"), ("t3", "(1.0 if t0 else t2)"),
      ("t4", "abs(a0)"), ("t5", "(t3 * t4)")], 1, ("float32",), lambda a: np.sign(a) * np.abs(a)),
    ([("t0", "abs(a0)")], 1, ("int8",), lambda a: np.abs(a)),
    ([("t0", "(-a0)")], 1, ("int16",), lambda a: np.negative(a)),
    ([("t0", "(a0 > a1)"), ("t1", "(a0 == a1)"), ("t2", "(t0 or t1)"), ("t3", "(not t2)")], 2,
     ("float32", "float32"), lambda a, b: ~((a > b) | (a == b))),
    ([("t0", "(a0 and a1)")], 2, ("bool", "bool"), lambda a, b: a & b),
    ([("t0", "(a1 if a0 else a2)")], 3, ("bool", "float32", "float64"), lambda c, a, b: np.where(c, a, b)),
    ([("t0", "np.float32(a0)"), ("t1", "np.bool_(t0)"), ("t2", "np.int32(t0)")], 1, ("float64",),
     lambda a: a.astype(np.float32).astype(np.int32)),
    ([("t0", "(1.0 / a0)")], 1, ("float32",), lambda a: np.float32(1.0) / a),
    ([("t0", "sqrt(a0)"), ("t1", "exp(a0)"), ("t2", "log(a0)"), ("t3", "log1p(a0)"), ("t4", "expm1(a0)"),
      ("t5", "(((t0 + t1) + (t2 + t3)) + t4)")], 1, ("float32",),
     lambda a: np.sqrt(a) + np.exp(a) + np.log(a) + np.log1p(a) + np.expm1(a)),
    ([("t0", "sin(a0)"), ("t1", "cos(a0)"), ("t2", "rint(a0)"), ("t3", "floor(a0)"), ("t4", "(-floor((-a0)))"),
      ("t5", "(((t0 + t1) + (t2 + t3)) + t4)")], 1, ("float64",),
     lambda a: np.sin(a) + np.cos(a) + np.rint(a) + np.floor(a) + np.ceil(a)),
    ([("t0", "sigmoid(a0)"), ("t1", "max(t0, a0)")], 1, ("float32",), lambda a: np.maximum(1 / (1 + np.exp(-a)), a)),
    ([("t0", "sqrt(a0)")], 1, ("int32",), lambda a: np.sqrt(a)),
    ([("t0", "(a0 + a1)"), ("t1", "(t0 * a0)")], 2, ("uint8", "uint8"), lambda a, b: (a + b) * a),
    ([("t0", "(a0 * a0)"), ("t1", "(a0 + 1.0)")], 1, ("float32",), lambda a: a * a),  # two outputs below
]


def _special(dtype, shape, seed, finite=False):
    """Inputs with the awkward values of each kind: signed zeros, NaN, inf, negatives, ties
    (finite=True: no NaN or inf, e.g. for float -> int casts, undefined in C)."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = (max(info.min, -7), min(info.max, 7))
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    v = rng.uniform(-4, 4, size=shape).astype(dt)
    flat = v.reshape(-1)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 2.5, -2.5, 3.0], dtype=dt)
    if finite:
        specials = specials[np.isfinite(specials)]
    flat[:len(specials)] = specials[:flat.size]
    return v


def _fused_programs():
    out = []
    for k, (lines, n_in, dts, formula) in enumerate(FUSED_CASES):
        outputs = [lines[-1][0]]
        if k == len(FUSED_CASES) - 1:
            outputs = ["t0", "t1"]
        types = fused.local_dtypes(_prog(lines, [lines[-1][0]], ["float64"], n_in), dts)
        names = [n for n, _ in lines]
        out_dtypes = [types[names.index(o)] for o in outputs]
        out.append((_prog(lines, outputs, out_dtypes, n_in), dts, formula))
    return out


def _fused_programs_for_compile():
    return [(p, dts) for p, dts, _ in _fused_programs()]


@pytest.mark.parametrize("k", range(len(FUSED_CASES)))
def test_fused_local_types_follow_numpy(k):
    program, dts, formula = _fused_programs()[k]
    arrays = [_special(d, (4,), 1) for d in dts]
    with np.errstate(all="ignore"):
        want = np.asarray(formula(*arrays))
    types = fused.local_dtypes(program, dts)
    names = [n for n, _ in program.lines]
    assert types[names.index(program.outputs[0])] == want.dtype.name


def test_fused_source_shape():
    program, dts, _ = _fused_programs()[0]
    src = fused.generate(program, dts)
    assert src.in_params == "float32 a0, float32 a1" and src.out_params == "float32 o0"
    assert src.operation.splitlines() == [
        "const float t0 = (a0 + a1);",
        "const float t1 = kl_max(t0, (float)0);",
        "const float t2 = kl_sigmoid(t1);",
        "o0 = (float)t2;"]
    assert src.name.startswith("kl_fused_") and src.preamble == fused.PREAMBLE
    assert fused.generate(program, dts).name == src.name                    # deterministic
    assert fused.generate(program, ("float64", "float64")).name != src.name  # per dtypes
    # float32 stays float32: no double literals or double functions
    s = fused.generate(_fused_programs()[17][0], ("float32",)).operation
    assert "((float)1.0)" in s and "double" not in s


def test_fused_rejects_unknown_constructs():
    bad = [("t0", "gamma(a0)"), ("t0", "a0[0]"), ("t0", "(a0 < a1 < a0)"), ("t0", "foo"), ("t0", "(a0 +")]
    for line in bad:
        with pytest.raises(fused.UnsupportedExpression):
            fused.generate(_prog([line], ["t0"], ["float32"], 2), ("float32", "float32"))
    with pytest.raises(ValueError):
        fused.generate(_prog([("t0", "a0")], ["t0"], ["float32"], 2), ("float32",))


@needs_cxx
def test_fused_sources_compiled_on_the_host_match_numpy_formulas():
    progs = _fused_programs()
    kernels = hostsim.HostFusedKernels([(p, dts) for p, dts, _ in progs])
    for k, (program, dts, formula) in enumerate(progs):
        # a row broadcast against a full array, as the compiler's bias adds do
        shapes = [(3, 13)] + [(13,)] * (len(dts) - 1)
        arrays = [_special(d, s, 10 + i, finite=(k == 16)) for i, (d, s) in enumerate(zip(dts, shapes))]
        if k == 8:  # integer powers with negative exponents raise in NumPy
            arrays[1] = np.abs(arrays[1])
        outs = kernels.run(k, *arrays)
        with np.errstate(all="ignore"):
            want = np.asarray(formula(*[np.broadcast_to(a, shapes[0]) for a in arrays]))
        got = outs[0]
        assert got.dtype == np.dtype(program.out_dtypes[0]), k
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, want.astype(got.dtype), rtol=2e-6, atol=1e-6, equal_nan=True,
                                       err_msg=f"case {k}: {program.lines}")
        else:
            np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=f"case {k}: {program.lines}")
    # the two-output program writes both
    outs = kernels.run(len(progs) - 1, np.array([1.5, -2.0], np.float32))
    np.testing.assert_array_equal(outs[0], [2.25, 4.0])
    np.testing.assert_array_equal(outs[1], [2.5, -1.0])


def test_fused_array_fallback_matches_numpy_formulas():
    for k, (program, dts, formula) in enumerate(_fused_programs()):
        arrays = [_special(d, (2, 5), 20 + i) for i, d in enumerate(dts)]
        if k in (5, 6, 8):
            continue  # integer division by zero / negative powers: NumPy warns or raises
        got = fused.evaluate_program(np, program, arrays)[0]
        with np.errstate(all="ignore"):
            want = np.asarray(formula(*arrays)).astype(program.out_dtypes[0])
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=2e-6, atol=1e-6,
                                   equal_nan=True, err_msg=str(program.lines))


class _FakeCupy:
    """Stands in for cupy: records the ElementwiseKernels built and runs the array fallback."""

    def __init__(self):
        self.built = []

    def __getattr__(self, name):
        return getattr(np, name)

    def ElementwiseKernel(self, in_params, out_params, operation, name, preamble=""):
        self.built.append((in_params, out_params, name))
        program = self.program
        n_in = len(in_params.split(","))

        def kernel(*args):
            for o, v in zip(args[n_in:], fused.evaluate_program(np, program, args[:n_in])):
                o[...] = v
        return kernel


def test_fused_kernel_selection_one_kernel_per_dtype_signature_and_fallbacks():
    program = _prog([("t0", "(a0 + a1)"), ("t1", "relu(t0)")], ["t1"], ["float32"], 2)
    cp = _FakeCupy()
    cp.program = program
    k = fused.FusedKernel(program, cp)
    a, b = np.ones((2, 3), np.float32), np.full((3,), -2.0, np.float32)
    np.testing.assert_array_equal(k(a, b)[0], np.zeros((2, 3)))
    k(a, b)
    assert len(cp.built) == 1 and cp.built[0][0] == "float32 a0, float32 a1"
    k(a.astype(np.float64), b)
    assert len(cp.built) == 2 and cp.built[1][0] == "float64 a0, float32 a1"
    # float16 and untranslatable programs run as array operations, without a kernel
    out = k(a.astype(np.float16), b.astype(np.float16))
    assert len(cp.built) == 2 and out[0].dtype == np.float32
    odd = fused.FusedKernel(_prog([("t0", "hypot(a0, a1)")], ["t0"], ["float32"], 2), cp)
    np.testing.assert_allclose(odd(a, b)[0], np.hypot(a, b))   # not translatable: array operations
    assert len(cp.built) == 2
    # empty outputs launch nothing
    assert k(np.ones((0, 3), np.float32), b)[0].shape == (0, 3)


def test_generated_sources_are_accepted_by_cupy_where_cupy_imports():
    """CuPy parses ElementwiseKernel parameters and RawKernel names when the objects are made
    (compiling waits for the first launch, which needs a device)."""
    try:
        import cupy
    except Exception as e:
        pytest.skip(f"CuPy does not import here ({type(e).__name__}); nothing to check")
    for program, dts, _ in _fused_programs():
        src = fused.generate(program, dts)
        k = cupy.ElementwiseKernel(src.in_params, src.out_params, src.operation, src.name, preamble=src.preamble)
        assert k.nin == len(dts) and k.nout == len(program.outputs)
    for spec in pool.KERNELS + bn.KERNELS:
        for dt in rawkernels.SUPPORTED_DTYPES:
            cupy.RawKernel(rawkernels.source(spec, dt), spec.symbol(dt))

"""Run the CUDA backend's kernel sources on the host, for tests without a GPU.

The RawKernels (rawkernels.py) are grid-stride loops over independent items, so compiling the
same text as C++ with a one-thread grid (threadIdx = blockIdx = 0, blockDim = gridDim = 1)
computes exactly what the GPU computes, item by item. Fused elementwise operations (fused.py)
are wrapped in a plain loop over pre-broadcast inputs. This checks the kernels' arithmetic,
indexing and types with a C++ compiler (g++ or $CXX); it does not check the CUDA compiler,
launches, or anything about the device.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import rawkernels
from .fused import C_TYPES, generate, preamble

HOST_PRELUDE = r"""
#include <cmath>
#include <cstring>
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
struct kl_dim3 { unsigned x, y, z; };
static const kl_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
static inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, sizeof f); return f; }
static inline double __longlong_as_double(unsigned long long u) { double d; std::memcpy(&d, &u, sizeof d); return d; }
using std::fabs; using std::sqrt; using std::exp; using std::log; using std::log1p; using std::expm1;
using std::sin; using std::cos; using std::tanh; using std::rint; using std::floor; using std::ceil;
using std::fmod; using std::copysign; using std::pow;
"""


class CompilerUnavailable(RuntimeError):
    pass


def compiler() -> str | None:
    """The host C++ compiler: $CXX, else g++, else clang++; None when there is none."""
    for c in (os.environ.get("CXX"), "g++", "clang++"):
        if c and shutil.which(c):
            return c
    return None


def _cache_dir() -> Path:
    root = os.environ.get("KERASLITE_CACHE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keraslite"
    d = base / "cuda-hostsim"
    d.mkdir(parents=True, exist_ok=True)
    return d


def build(code: str) -> ctypes.CDLL:
    """Compile C++ `code` into a shared library (cached by its text) and load it."""
    cxx = compiler()
    if cxx is None:
        raise CompilerUnavailable("no C++ compiler (set $CXX or install g++)")
    digest = hashlib.sha1((cxx + "\n" + code).encode()).hexdigest()[:20]
    lib = _cache_dir() / f"k_{digest}.so"
    if not lib.exists():
        d = tempfile.mkdtemp(dir=lib.parent)
        try:
            src = Path(d) / "k.cpp"
            src.write_text(code)
            out = Path(d) / "k.so"
            r = subprocess.run([cxx, "-std=c++14", "-O1", "-shared", "-fPIC", "-w", str(src), "-o", str(out)],
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"host compile failed:\n{r.stderr[-4000:]}\n--- source ---\n{code}")
            os.replace(out, lib)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return ctypes.CDLL(str(lib))


# ------------------------------------------------------------------------------ raw kernels

_CT = {"i64": ctypes.c_longlong, "i32": ctypes.c_int}


class HostRunner:
    """Drop-in for rawkernels.CupyRunner on NumPy arrays."""

    def __init__(self, specs=None):
        self._fns: dict = {}
        if specs:
            self.prebuild(specs)

    def prebuild(self, specs, dtypes=rawkernels.SUPPORTED_DTYPES):
        """Compile many kernels in one translation unit (one compiler run)."""
        parts, names = [HOST_PRELUDE], []
        for k, spec in enumerate(specs):
            for dt in dtypes:
                parts.append(f"namespace kl_ns{k}_{dt} {{\n{rawkernels.source(spec, dt)}}}\n")
                names.append((spec, dt))
        lib = build("".join(parts))
        for spec, dt in names:
            self._fns[(spec.name, dt)] = self._bind(lib, spec, dt)

    def _bind(self, lib, spec, dtype):
        fn = getattr(lib, spec.symbol(dtype))
        scalar_t = ctypes.c_float if np.dtype(dtype) == np.float32 else ctypes.c_double
        types = [ctypes.c_longlong]
        for kind, _ in spec.params:
            types.append(_CT.get(kind, scalar_t if kind == "t" else ctypes.c_void_p))
        fn.argtypes = types
        fn.restype = None
        return fn

    def __call__(self, spec, dtype, n_items, *args):
        if n_items <= 0:
            return
        rawkernels.check_arrays(spec, args)
        key = (spec.name, np.dtype(dtype).name)
        fn = self._fns.get(key)
        if fn is None:
            lib = build(HOST_PRELUDE + rawkernels.source(spec, dtype))
            fn = self._fns[key] = self._bind(lib, spec, dtype)
        packed = rawkernels.pack_args(spec, dtype, n_items, args)
        call = [packed[0].item()]
        for (kind, pname), a in zip(spec.params, packed[1:]):
            if isinstance(a, np.ndarray):
                if kind.startswith("out") and not a.flags.writeable:
                    raise ValueError(f"kernel {spec.name}: output {pname} is not writeable")
                call.append(a.ctypes.data)
            else:
                call.append(a.item())
        fn(*call)


# --------------------------------------------------------------------------- fused kernels

def fused_host_source(src, in_dtypes, symbol="kl_run") -> str:
    """A host loop around one generated ElementwiseKernel operation (inputs pre-broadcast)."""
    lines = [f'extern "C" void {symbol}(long long n, void** ins, void** outs) {{',
             "  for (long long i = 0; i < n; ++i) {"]
    for k, dt in enumerate(in_dtypes):
        ct = C_TYPES[np.dtype(dt).name]
        lines.append(f"    const {ct} a{k} = ((const {ct}*)ins[{k}])[i];")
    for j, p in enumerate(src.out_params.split(", ") if src.out_params else []):
        ct = C_TYPES[p.split()[0]]
        lines.append(f"    {ct}& o{j} = ((({ct}*)outs[{j}])[i]);")
    lines.append("    {\n" + src.operation + "\n    }")
    lines += ["  }", "}"]
    return "\n".join(lines)


class HostFusedKernels:
    """Compile many (program, input dtypes) pairs in one C++ translation unit and run them on
    NumPy arrays: `run(k, *arrays)` for the k-th pair given to the constructor."""

    def __init__(self, items):
        self.items = [(p, tuple(np.dtype(d) for d in dts)) for p, dts in items]
        parts = [HOST_PRELUDE, preamble()]
        for k, (program, dts) in enumerate(self.items):
            src = generate(program, dts)
            assert src.preamble == parts[1]
            parts.append(fused_host_source(src, dts, f"kl_run_{k}") + "\n")
        self.lib = build("".join(parts))

    def run(self, k, *arrays):
        program, dts = self.items[k]
        shape = np.broadcast_shapes(*[np.shape(a) for a in arrays]) if arrays else ()
        ins = [np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=dt), shape)) for a, dt in zip(arrays, dts)]
        outs = [np.empty(shape, dtype=d) for d in program.out_dtypes]
        fn = getattr(self.lib, f"kl_run_{k}")
        fn.argtypes = [ctypes.c_longlong, ctypes.c_void_p, ctypes.c_void_p]
        fn.restype = None
        in_ptrs = (ctypes.c_void_p * max(len(ins), 1))(*[a.ctypes.data for a in ins])
        out_ptrs = (ctypes.c_void_p * max(len(outs), 1))(*[o.ctypes.data for o in outs])
        n = int(np.prod(shape)) if shape else 1
        fn(n, in_ptrs, out_ptrs)
        return outs


class HostFusedKernel:
    """A single program, compiled per input dtypes on first call (like fused.FusedKernel)."""

    def __init__(self, program):
        self.program = program
        self._compiled: dict = {}

    def __call__(self, *arrays):
        key = tuple(np.asarray(a).dtype.name for a in arrays)
        k = self._compiled.get(key)
        if k is None:
            k = self._compiled[key] = HostFusedKernels([(self.program, key)])
        return k.run(0, *arrays)

"""Hand-written CUDA kernels (pooling, batch normalisation) as source text plus their launch.

Every kernel is a grid-stride loop over independent work items: no shared memory, no
synchronisation, no atomics. Its result therefore does not depend on the launch configuration,
and the same text runs on the host when compiled as C++ with a one-thread "grid" (hostsim.py):
tests/ checks the kernels' arithmetic that way under NumPy. Only the launch and the device
compiler are left for gpu_tests/.

A kernel is a `KernelSpec`: a name, typed parameters and a body using `T` (the element type),
`idx` (the work item) and the parameters. `source(spec, dtype)` gives the full `extern "C"`
text for one dtype; `CupyRunner` compiles it with `cupy.RawKernel` (cached per kernel and
dtype) and launches it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# parameter kinds: "in" / "out" arrays of T, "in_f64" / "out_f64" arrays of double, "i64"
# (long long), "i32" (int), "t" (a scalar of T)
_PARAM_C = {"in": "const T* __restrict__", "out": "T* __restrict__",
            "in_f64": "const double* __restrict__", "out_f64": "double* __restrict__",
            "i64": "long long", "i32": "int", "t": "T"}

SUPPORTED_DTYPES = ("float32", "float64")

_DTYPE_C = {"float32": ("float", "__int_as_float(0xff800000)"),
            "float64": ("double", "__longlong_as_double(0xfff0000000000000ULL)")}


@dataclass(frozen=True)
class KernelSpec:
    name: str
    params: tuple      # of (kind, name)
    body: str          # the loop body; the loop variable is `idx`, the item count `n_items`

    def symbol(self, dtype) -> str:
        return f"kl_{self.name}_{np.dtype(dtype).name}"


def source(spec: KernelSpec, dtype) -> str:
    """Full CUDA C source of `spec` for one dtype (float32 or float64)."""
    name = np.dtype(dtype).name
    if name not in _DTYPE_C:
        raise TypeError(f"kernel {spec.name} supports {SUPPORTED_DTYPES}, not {name}")
    ctype, neg_inf = _DTYPE_C[name]
    params = ", ".join(f"{_PARAM_C[k]} {p}" for k, p in spec.params)
    return (
        f"typedef {ctype} T;\n"
        f"#define KL_NEG_INF ({neg_inf})\n"
        f'extern "C" __global__ void {spec.symbol(dtype)}(long long n_items, {params}) {{\n'
        f"  for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < n_items;\n"
        f"       idx += (long long)blockDim.x * gridDim.x) {{\n"
        f"{spec.body}\n"
        f"  }}\n"
        f"}}\n"
        f"#undef KL_NEG_INF\n")


def pack_args(spec: KernelSpec, dtype, n_items, args) -> tuple:
    """Kernel arguments with scalars as NumPy scalars of the declared C types."""
    if len(args) != len(spec.params):
        raise TypeError(f"kernel {spec.name} takes {len(spec.params)} arguments, got {len(args)}")
    dt = np.dtype(dtype)
    out = [np.int64(n_items)]
    for (kind, pname), a in zip(spec.params, args):
        if kind in ("in", "out"):
            if a.dtype != dt:
                raise TypeError(f"kernel {spec.name}: {pname} must be {dt.name}, got {a.dtype}")
            out.append(a)
        elif kind in ("in_f64", "out_f64"):
            if a.dtype != np.float64:
                raise TypeError(f"kernel {spec.name}: {pname} must be float64, got {a.dtype}")
            out.append(a)
        elif kind == "i64":
            out.append(np.int64(a))
        elif kind == "i32":
            out.append(np.int32(a))
        elif kind == "t":
            out.append(dt.type(a))
        else:
            raise ValueError(kind)
    return tuple(out)


def check_arrays(spec: KernelSpec, args):
    """Array arguments must be C-contiguous (kernels index flat memory)."""
    for (kind, pname), a in zip(spec.params, args):
        if kind in ("in", "out", "in_f64", "out_f64") and not a.flags.c_contiguous:
            raise ValueError(f"kernel {spec.name}: {pname} must be C-contiguous")


def launch_config(n_items: int, block: int = 256, max_blocks: int = 65535) -> tuple[int, int]:
    """(blocks, threads) for a grid-stride kernel over n_items."""
    blocks = max(1, min(max_blocks, -(-n_items // block)))
    return blocks, block


class CupyRunner:
    """Compiles kernels with cupy.RawKernel (cached per kernel and dtype) and launches them."""

    def __init__(self, cupy, max_blocks: int | None = None):
        self.cupy = cupy
        if max_blocks is None:
            try:
                sms = cupy.cuda.Device().attributes["MultiProcessorCount"]
                max_blocks = 32 * sms
            except Exception:
                max_blocks = 4096
        self.max_blocks = max_blocks
        self._compiled: dict = {}

    def __call__(self, spec: KernelSpec, dtype, n_items: int, *args):
        if n_items <= 0:
            return
        check_arrays(spec, args)
        key = (spec.name, np.dtype(dtype).name)
        k = self._compiled.get(key)
        if k is None:
            k = self._compiled[key] = self.cupy.RawKernel(source(spec, dtype), spec.symbol(dtype))
        blocks, threads = launch_config(n_items, max_blocks=self.max_blocks)
        k((blocks,), (threads,), pack_args(spec, dtype, n_items, args))

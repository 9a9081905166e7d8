"""CudaBackend: ArrayBackend's primitives with xp = cupy, and CUDA code where it counts.

* matmul: cuBLAS through cupy.matmul; float32 products use TF32 only when the user opts in
  (settings.py); the compute type is set around each call and restored.
* conv (rank 1 and 2) and both backprops: im2col + cuBLAS (conv.py), the algorithm timed per shape.
* pooling (rank 1 and 2) and training-mode batchnorm: RawKernels (pool.py, batchnorm.py).
* fused elementwise chains: one generated ElementwiseKernel per chain (fused.py).
* random: CuPy's on-device generator, seeded per random node (seeded_random.py).
* every plan step is wrapped so that running out of memory raises DeviceMemoryError naming the
  op, its inputs and the size (memory.py).

Host <-> device transfers happen in from_numpy / to_numpy only (feeds, fetches, get_value and
set_value, constants when a plan is built), apart from one-time uploads of convolution index
tables and small scalar reads (shapes given as tensors, truncated-normal redraws).

`CudaBackend.emulated()` builds the same class on NumPy with the kernels compiled for the host
(hostsim.py): tests/ runs it without a GPU.
"""
from __future__ import annotations

import numpy as np

from keraslite.backend.interface import ArrayBackend
from keraslite.backend.xp.nn_primitives import _into

from . import batchnorm as _bn
from . import conv as _conv
from . import pool as _pool
from . import settings
from .memory import DeviceMemoryError, describe_oom, guard, is_out_of_memory
from .seeded_random import SeededRandom

_FLOATS = (np.float32, np.float64)
# the 2-D pooling RawKernels of each mode: (forward, backprop)
_POOL = {"max": (_pool.max_pool2d, _pool.max_pool2d_backprop), "avg": (_pool.avg_pool2d, _pool.avg_pool2d_backprop)}


class CudaBackend(ArrayBackend):
    """CuPy arrays on the current CUDA device."""

    name = "cuda"
    fuses_elementwise = True

    def __init__(self):
        from .device import event_timer, import_cupy
        from .fused import FusedKernel
        from .rawkernels import CupyRunner
        cp = import_cupy()
        self.xp = cp
        self._cupy = cp
        self._runner = CupyRunner(cp)
        self._make_fused = lambda program: FusedKernel(program, cp, self.from_numpy)
        self._setup(event_timer(cp) if settings.conv_autotune_enabled() else None)
        try:
            from cupy._core import _routines_linalg as rl
            self._linalg = rl if hasattr(rl, "set_compute_type") else None
        except Exception:
            self._linalg = None

    @classmethod
    def emulated(cls, fused: str = "array", timer=None, runner=None):
        """The backend on NumPy, for tests without a GPU: RawKernels compiled for the host
        (hostsim.py; without a C++ compiler the array code runs instead); fused chains either
        through array operations (fused="array", fast) or through the generated CUDA C compiled
        for the host (fused="host")."""
        from .fused import evaluate_program
        from .hostsim import HostFusedKernel, HostRunner, compiler
        self = cls.__new__(cls)
        self.xp = np
        self._cupy = None
        self._linalg = None
        self.name = "cuda_hostsim"
        if runner is None and compiler() is not None:
            runner = HostRunner(_pool.KERNELS + _bn.KERNELS)
        self._runner = runner  # None: pooling and batchnorm use the array code
        if fused == "host":
            self._make_fused = HostFusedKernel
        else:
            self._make_fused = lambda program: (lambda *arrays: evaluate_program(np, program, arrays))
        self._setup(timer)
        return self

    def _setup(self, timer):
        self._fused: dict = {}
        self._tuner = _conv.ConvTuner(timer)
        self._conv_index = _conv.IndexCache(self._upload)

    # ----------------------------------------------------------------- arrays and memory
    def _upload(self, array):
        return self.from_numpy(array)

    def from_numpy(self, array):
        array = np.asarray(array, order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
        if self.xp is np:
            return array if array.flags.writeable else array.copy()
        try:
            return self.xp.asarray(array)
        except Exception as e:
            if is_out_of_memory(e):
                raise DeviceMemoryError(describe_oom("a transfer to the device", [array], e, self.memory_info())) from e
            raise

    def to_numpy(self, array, copy=True):
        if isinstance(array, np.ndarray) or self.xp is np:
            return super().to_numpy(np.asarray(array), copy)
        return self.xp.asnumpy(array)  # always a fresh host array

    def memory_info(self) -> dict:
        """Bytes in use and held by CuPy's pool, and free/total on the device ({} on NumPy)."""
        if self._cupy is None:
            return {}
        from .device import memory_info
        try:
            return memory_info(self._cupy)
        except Exception:
            return {}

    def synchronize(self) -> None:
        if self._cupy is not None:
            self._cupy.cuda.get_current_stream().synchronize()

    def primitive(self, op, attrs):
        return guard(super().primitive(op, attrs), f"op '{op}'", self)

    def compile_elementwise(self, program):
        """A callable(*arrays) -> list of outputs running `program` (cached by its source)."""
        key = program.source_key()
        kernel = self._fused.get(key)
        if kernel is None:
            kernel = self._fused[key] = guard(self._make_fused(program), "a fused elementwise kernel", self)
        return kernel

    # ---------------------------------------------------------------------- matmul (cuBLAS)
    def _gemm(self, a, b, out=None):
        xp = self.xp
        rl = self._linalg
        if rl is None or a.dtype != np.float32 or b.dtype != np.float32:
            return xp.matmul(a, b) if out is None else xp.matmul(a, b, out=out)
        want = rl.COMPUTE_TYPE_TF32 if settings.tf32_enabled() else rl.COMPUTE_TYPE_FP32
        f32 = np.dtype(np.float32)
        prev = rl.get_compute_type(f32)
        if prev != want:
            rl.set_compute_type(f32, want)
        try:
            return xp.matmul(a, b) if out is None else xp.matmul(a, b, out=out)
        finally:
            if prev != want:
                rl.set_compute_type(f32, prev)

    def matmul(self, a, b, out=None):
        return self._gemm(a, b, out=out)

    # ------------------------------------------------------------------------ convolution
    def _conv_ok(self, *arrays):
        dt = arrays[0].dtype
        return dt in _FLOATS and all(a.dtype == dt for a in arrays)

    def _conv_run(self, kind, g, a, *arrays):
        if kind == "forward":
            idx = self._conv_index.get("im2col", g) if a == "gather" else None
            return _conv.conv2d(self.xp, *arrays, g, a, self._gemm, idx)
        if kind == "backprop_filter":
            idx = self._conv_index.get("im2col", g) if a == "gather" else None
            return _conv.conv2d_backprop_filter(self.xp, *arrays, g, a, self._gemm, idx)
        idx = self._conv_index.get("col2im", g) if a == "gather" else None
        return _conv.conv2d_backprop_input(self.xp, *arrays, g, a, self._gemm, idx)

    def _conv(self, kind, g, *arrays):
        algo = self._tuner.choose(kind, g, arrays[0].dtype, lambda a: self._conv_run(kind, g, a, *arrays))
        return self._conv_run(kind, g, algo, *arrays)

    # The conv and pool primitives are rank-generic: rank 2 runs the kernels below; rank 1 goes
    # through ArrayBackend, which runs it as rank 2 on a unit first spatial axis (so through these
    # kernels again); rank 3 runs the array code.
    # `out=` keeps the reference signature; this backend declares no out_mode, so the compiler
    # never passes one (other callers get the result written into it)
    def conv(self, x, w, strides, padding, dilation, groups, out=None):
        if len(strides) != 2 or not self._conv_ok(x, w):
            return super().conv(x, w, strides, padding, dilation, groups, out=out)
        g = _conv.geometry(x.shape, w.shape, strides, padding, dilation, groups)
        return _into(out, self._conv("forward", g, x, w))

    def conv_backprop_input(self, g, w, input_shape, strides, padding, dilation, groups, out=None):
        if len(strides) != 2 or not self._conv_ok(g, w):
            return super().conv_backprop_input(g, w, input_shape, strides, padding, dilation, groups, out=out)
        shape = (g.shape[0],) + tuple(int(d) for d in input_shape)
        geo = _conv.geometry(shape, w.shape, strides, padding, dilation, groups)
        want = (shape[0], geo.ho, geo.wo, geo.cout)
        if tuple(g.shape) != want:
            raise ValueError(f"conv_backprop_input: gradient of shape {tuple(g.shape)} does not match the conv "
                             f"output {want}")
        return _into(out, self._conv("backprop_input", geo, g, w))

    def conv_backprop_filter(self, x, g, filter_shape, strides, padding, dilation, groups, out=None):
        if len(strides) != 2 or not self._conv_ok(x, g):
            return super().conv_backprop_filter(x, g, filter_shape, strides, padding, dilation, groups, out=out)
        geo = _conv.geometry(x.shape, tuple(filter_shape), strides, padding, dilation, groups)
        want = (x.shape[0], geo.ho, geo.wo, geo.cout)
        if tuple(g.shape) != want:
            raise ValueError(f"conv_backprop_filter: gradient of shape {tuple(g.shape)} does not match the conv "
                             f"output {want}")
        return _into(out, self._conv("backprop_filter", geo, x, g))

    # ---------------------------------------------------------------- pooling (RawKernels)
    def pool(self, x, mode, pool_size, strides, padding, out=None):
        if len(strides) != 2 or mode not in _POOL:
            return super().pool(x, mode, pool_size, strides, padding, out=out)
        forward = _POOL[mode][0]
        return _into(out, forward(self.xp, self._runner, x, pool_size, strides, padding))

    def pool_backprop(self, *arrays, mode, pool_size, strides, padding, input_shape=None, out=None):
        if len(strides) != 2 or mode not in _POOL:
            return super().pool_backprop(*arrays, mode=mode, pool_size=pool_size, strides=strides, padding=padding,
                                         input_shape=input_shape, out=out)
        backprop = _POOL[mode][1]
        if mode == "max":
            x, y, g = arrays
            return _into(out, backprop(self.xp, self._runner, x, y, g, pool_size, strides, padding))
        (g,) = arrays
        shape = (g.shape[0],) + tuple(int(d) for d in input_shape)
        return _into(out, backprop(self.xp, self._runner, g, shape, pool_size, strides, padding))

    # ------------------------------------------------------------ batchnorm (RawKernels)
    def batchnorm_train(self, x, gamma, beta, axes, epsilon, out=None):
        res = _bn.batchnorm_train(self.xp, self._runner, x, gamma, beta, axes, epsilon)
        return res if out is None else (_into(out, res[0]),) + tuple(res[1:])

    def batchnorm_train_backward(self, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=None):
        res = _bn.batchnorm_train_backward(self.xp, self._runner, x, gamma, mean, var, gy, gmean, gvar, axes,
                                           epsilon)
        return res if out is None else (_into(out, res[0]),) + tuple(res[1:])

    # ----------------------------------------------------------------------------- random
    def rng(self, seed: int):
        if settings.host_rng_enabled():
            return np.random.default_rng(seed)
        return SeededRandom(self.xp, seed)

    def random_uniform(self, *dyn, shape, minval, maxval, dtype, rng):
        if not isinstance(rng, SeededRandom):
            return super().random_uniform(*dyn, shape=shape, minval=minval, maxval=maxval, dtype=dtype, rng=rng)
        return rng.uniform(minval, maxval, self._shape_of(dyn, shape), dtype)

    def random_normal(self, *dyn, shape, mean, stddev, dtype, rng):
        if not isinstance(rng, SeededRandom):
            return super().random_normal(*dyn, shape=shape, mean=mean, stddev=stddev, dtype=dtype, rng=rng)
        return rng.normal(mean, stddev, self._shape_of(dyn, shape), dtype)

    def truncated_normal(self, *dyn, shape, mean, stddev, dtype, rng):
        if not isinstance(rng, SeededRandom):
            return super().truncated_normal(*dyn, shape=shape, mean=mean, stddev=stddev, dtype=dtype, rng=rng)
        return rng.truncated_normal(mean, stddev, self._shape_of(dyn, shape), dtype)

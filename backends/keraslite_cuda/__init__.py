"""keraslite_cuda: the NVIDIA GPU backend on CuPy arrays.

Importing this package (or any module in it) never imports CuPy or touches CUDA; creating the
backend (keraslite.set_backend("cuda")) checks that CuPy imports and a device answers, and
otherwise raises keraslite.BackendUnavailableError saying why and how to fix it.

Modules: backend (the CudaBackend class), device (finding CuPy and the device), settings (TF32
and other switches), fused (ElementwiseKernel source from fused programs), conv (im2col
convolutions), rawkernels / pool / batchnorm (hand-written kernels), memory (out-of-memory
errors), seeded_random (on-device random numbers), hostsim (the kernels compiled for the host,
for tests without a GPU).
"""
from __future__ import annotations

from keraslite.backend.registry import BackendUnavailableError

from .backend import CudaBackend
from .memory import DeviceMemoryError
from .settings import set_tf32, tf32_enabled

__all__ = ["CudaBackend", "BackendUnavailableError", "DeviceMemoryError", "set_tf32", "tf32_enabled"]

"""keraslite_cuda: the NVIDIA GPU backend on CuPy arrays.

Importing this package never touches CUDA; creating the backend checks that CuPy imports and a
device answers, and otherwise raises BackendUnavailableError saying why and how to fix it.
"""
from __future__ import annotations

import numpy as np

from keraslite.backend.interface import ArrayBackend
from keraslite.backend.registry import BackendUnavailableError

_INSTALL_HINT = ('install CuPy for your CUDA version: pip install "keraslite[cuda12]" (CUDA 12) or '
                 'pip install "keraslite[cuda13]" (CUDA 13); or use keraslite.set_backend("auto") to fall '
                 'back to the CPU')


def _import_cupy():
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(f"the 'cuda' backend needs CuPy, which is not installed ({e}); {_INSTALL_HINT}") from None
    except Exception as e:  # a broken CUDA install can fail at import with other errors
        raise BackendUnavailableError(f"the 'cuda' backend could not import CuPy: {e}; {_INSTALL_HINT}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        raise BackendUnavailableError(
            f"the 'cuda' backend found CuPy but no usable CUDA device or driver ({e}); check `nvidia-smi` and "
            "that the driver supports the CUDA version of your cupy-cuda package") from None
    if count < 1:
        raise BackendUnavailableError("the 'cuda' backend found CuPy but no CUDA device; check `nvidia-smi`")
    return cupy


class CudaBackend(ArrayBackend):
    """CuPy arrays on the current CUDA device; primitives from ArrayBackend with xp = cupy."""

    name = "cuda"

    def __init__(self):
        self.xp = _import_cupy()

    def from_numpy(self, array):
        return self.xp.asarray(np.ascontiguousarray(array))

    def to_numpy(self, array, copy=True):
        if isinstance(array, np.ndarray):
            return np.array(array, copy=True)
        return self.xp.asnumpy(array)  # always a fresh host array

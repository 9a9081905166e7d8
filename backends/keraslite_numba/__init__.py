"""keraslite_numba: the default CPU backend. NumPy arrays as the native type; hot primitives
replaced by Numba JIT kernels (compiled on first use, cached on disk)."""
import numpy as np

from keraslite.backend.interface import ArrayBackend


class NumbaBackend(ArrayBackend):
    """CPU backend: ArrayBackend's NumPy primitives, with Numba kernels where they win."""

    name = "numba"
    xp = np

    def to_numpy(self, array):
        return np.array(array, copy=True)

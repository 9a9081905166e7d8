"""keraslite_numba: the default CPU backend. NumPy arrays as the native type; hot primitives
replaced by Numba JIT kernels (compiled on first use, cached on disk)."""
import numpy as np

from keraslite.backend.interface import ArrayBackend


class NumbaBackend(ArrayBackend):
    """CPU backend: ArrayBackend's NumPy primitives, with Numba kernels where they win, and
    chains of elementwise ops fused into one generated kernel each."""

    name = "numba"
    xp = np
    fuses_elementwise = True

    def __init__(self):
        from .memory import keep_freed_memory
        self._fused: dict = {}
        keep_freed_memory()

    def compile_elementwise(self, program):
        """A callable(*arrays) -> list of outputs running `program` (cached by its source)."""
        from .fused import FusedKernel
        key = program.source_key()
        kernel = self._fused.get(key)
        if kernel is None:
            kernel = self._fused[key] = FusedKernel(program)
        return kernel

"""The backend contract.

A backend is an object with a `name`, array conversion (`from_numpy`, `to_numpy`), a seeded
generator factory (`rng`) and one method per primitive op, named like the op, taking the input
arrays positionally and the op's static attributes as keywords. `ArrayBackend` implements every
primitive once against `self.xp`, the NumPy API: the reference backend is that class with
xp = numpy, the CUDA backend the same with xp = cupy, and fast backends override the hot methods.
Gradients are never a backend's business: autodiff composes them from these primitives.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .xp import core as xcore
from .xp.ctc import CTCPrimitives
from .xp.nn_primitives import NNPrimitives
from .xp.sparse import SparsePrimitives


class Backend:
    """Protocol every backend satisfies (see the module docstring)."""

    name: str = "abstract"
    #: Ops whose chains a backend can fuse into one kernel (see compiler.py); empty: no fusion.
    fuses_elementwise: bool = False

    def from_numpy(self, array: np.ndarray) -> Any:
        raise NotImplementedError

    def to_numpy(self, array: Any, copy: bool = True) -> np.ndarray:
        """A host array the caller owns (copy=False allows returning `array` itself when it owns
        its memory)."""
        raise NotImplementedError

    def rng(self, seed: int):
        raise NotImplementedError

    def primitive(self, op: str, attrs: dict):
        """A callable(*arrays) evaluating `op` with its static `attrs` bound."""
        fn = getattr(self, op, None)
        if fn is None:
            raise NotImplementedError(f"backend '{self.name}' does not implement the primitive '{op}'")
        if not attrs:
            return fn
        return lambda *arrays: fn(*arrays, **attrs)


class ArrayBackend(xcore.ArrayPrimitives, NNPrimitives, CTCPrimitives, SparsePrimitives, Backend):
    """Every primitive written once against `self.xp`."""

    xp: Any = np

    def from_numpy(self, array):
        return self.xp.asarray(array)

    def to_numpy(self, array, copy=True):
        if isinstance(array, np.ndarray):
            # a view may alias a variable's storage: only an array owning its memory is handed out
            return array if (not copy and array.base is None) else np.array(array, copy=True)
        return np.asarray(array)

    def rng(self, seed: int):
        return np.random.default_rng(seed)

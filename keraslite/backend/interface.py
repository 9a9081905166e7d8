"""The backend contract.

A backend is an object with a `name`, array conversion (`from_numpy`, `to_numpy`), a seeded
generator factory (`rng`) and one method per primitive op, named like the op, taking the input
arrays positionally and the op's static attributes as keywords. `ArrayBackend` implements every
primitive once against `self.xp`, the NumPy API: the reference backend is that class with
xp = numpy, the CUDA backend the same with xp = cupy, and fast backends override the hot methods.
Gradients are never a backend's business: autodiff composes them from these primitives.

Besides the primitives, the compiler (compiler.py) calls the hooks declared on `Backend` below,
always directly: `fuses_elementwise`, `fusable`, `compile_elementwise`, `fold`, `running`,
`supports_sparse` and, for the memory plan (memplan.py), `out_mode` (with `empty`). Each has a
default that means "no such feature", so a backend overrides only what it offers;
tests/test_backend_protocol.py checks every registered backend against these declarations.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable, ContextManager

import numpy as np

from .xp import core as xcore
from .xp.ctc import CTCPrimitives
from .xp.nn_primitives import NNPrimitives
from .xp.sparse import SparsePrimitives


class Backend:
    """Protocol every backend satisfies (see the module docstring)."""

    name: str = "abstract"
    #: True when the backend compiles fused elementwise chains (`compile_elementwise`): the
    #: compiler then groups chains of elementwise ops (fusion.py) into one kernel each.
    fuses_elementwise: bool = False
    #: True when the backend holds sparse tensors (the sparse_* primitives, backend/sparse.py);
    #: a plan with a sparse tensor on a backend without it is a ValueError naming the backend.
    #: ArrayBackend answers by whether its xp has a SciPy-style sparse package.
    supports_sparse: bool = False

    # ------------------------------------------------------------------ compiler hooks
    def fusable(self, node) -> bool:
        """Whether the elementwise graph node `node` may join a fused group (asked only when
        `fuses_elementwise`); a refused node runs as its plain primitive. Default: every node."""
        return True

    def compile_elementwise(self, program) -> Callable:
        """A callable(*arrays) -> list of output arrays running the fusion.ElementwiseProgram
        `program` (inputs broadcast against the output shape, one output per program output).
        Required when `fuses_elementwise` is True; never called otherwise."""
        raise NotImplementedError(f"backend '{self.name}' declares no elementwise fusion")

    def fold(self, producer, consumer) -> Callable | None:
        """A fused form of two graph nodes: `producer`, whose values only `consumer` reads, and
        `consumer`. Returns a callable computing consumer's value from producer's inputs followed
        by consumer's other inputs, with consumer's shape and dtype, or None (the default) when
        the backend has no fused form for the pair (see compiler._folds)."""
        return None

    def running(self) -> ContextManager:
        """A context manager entered around each plan run (e.g. thread settings for the run).
        Default: one that does nothing."""
        return contextlib.nullcontext()

    def out_mode(self, op: str) -> str | None:
        """How the primitive `op` takes a caller-given result array; "elementwise" names the
        callables of `compile_elementwise`.

        None (the default): it allocates its result. "out": it accepts `out=`, an array of the
        result's shape and dtype (a list of them for several outputs) that overlaps none of its
        inputs, fills it and returns it. "inplace": as "out", and `out` may also be one of its
        inputs of the same shape and dtype (elementwise work). A backend declaring any op also
        implements `empty`. A folded form (`fold`) is named "producer+consumer" (e.g.
        "conv+add"). The compiler's memory plan (memplan.py) gives such steps pooled buffers."""
        return None

    def empty(self, shape: tuple, dtype) -> Any:
        """An uninitialised native array: the memory plan's buffers (asked only when `out_mode`
        declares an op)."""
        raise NotImplementedError(f"backend '{self.name}' declares out= primitives but no empty()")

    # ------------------------------------------------------------------ arrays

    def from_numpy(self, array: np.ndarray) -> Any:
        """The backend's native array holding a copy of (or, where safe, sharing) `array`."""
        raise NotImplementedError

    def to_numpy(self, array: Any, copy: bool = True) -> np.ndarray:
        """A host array the caller owns (copy=False allows returning `array` itself when it owns
        its memory)."""
        raise NotImplementedError

    def rng(self, seed: int):
        """A seeded random generator that the backend's random primitives accept as `rng`."""
        raise NotImplementedError

    def primitive(self, op: str, attrs: dict):
        """A callable(*arrays) evaluating `op` with its static `attrs` bound (keywords given at
        call time, such as `out=`, pass through)."""
        fn = getattr(self, op, None)
        if fn is None:
            raise NotImplementedError(f"backend '{self.name}' does not implement the primitive '{op}'")
        if not attrs:
            return fn
        return functools.partial(fn, **attrs)


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

    #: ops whose methods accept `out=` (see Backend.out_mode); subclasses declare theirs
    out_modes: dict = {}

    def out_mode(self, op):
        mode = self.out_modes.get(op)
        if mode is None or op == "elementwise" or "+" in op:  # compiled kernels and folded forms
            return mode
        fn = getattr(type(self), op, None)
        if fn is None:  # an elementwise primitive from the catalogue (ArrayPrimitives.__getattr__)
            return mode if xcore.catalogue_takes_out(op) else None
        # an override in a subclass that does not take `out=` keeps allocating
        return mode if _takes_out(fn) else None

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)


@functools.lru_cache(maxsize=None)
def _takes_out(fn) -> bool:
    return "out" in inspect.signature(fn).parameters

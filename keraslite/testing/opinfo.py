"""OpInfo: one row of the conformance table, and the helpers rows use to make inputs.

A row names a primitive (a `defop` registration) or a composite K function. It says how to build
the op from symbolic inputs (`fn`), what the op computes as an independent NumPy formula (`ref`,
never calling keraslite), which inputs to try (`samples`, deterministic for a given generator),
the dtypes to try, the tolerance per dtype, and whether gradients are checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: (rtol, atol) per dtype for forward comparisons; integer and bool results compare exactly.
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}
#: (rtol, atol) for an analytic gradient against central finite differences in float64.
GRAD_TOLERANCE = (1e-5, 1e-7)
FD_EPS = 1e-6


@dataclass
class Sample:
    """One input set: `args` become placeholders (their exact shapes and dtypes), `kwargs` are
    static Python arguments passed to both the op and its formula."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        shapes = ", ".join(("sparse " if is_sparse(a) else "") + f"{np.dtype(a.dtype).name}{list(a.shape)}"
                           for a in map(as_input, self.args))
        extra = f" {self.kwargs}" if self.kwargs else ""
        return (self.label + ": " if self.label else "") + f"({shapes}){extra}"


@dataclass
class OpInfo:
    """A row of the table.

    fn(*tensors, **kwargs) -> Tensor or tuple of Tensors;
    ref(*arrays, **kwargs) -> array or tuple of arrays (NumPy only);
    samples(rng, dtype) -> list[Sample];
    check(outputs, sample, dtype) replaces `ref` where values have no formula (random draws);
    grad_args: indices of the inputs differentiated (default: every float input);
    exercises: primitive names the built graph must contain (default: the row's own name for a
    primitive row), so a row cannot silently stop testing its primitive;
    fused: whether the fused-against-unfused check applies;
    dynamic_batch: whether the shape rule is also checked with axis 0 of every input unknown;
    unknown_batch: build every check with axis 0 unknown (ops that exist only for dynamic shapes);
    batch_args: the inputs whose axis 0 is the batch axis made unknown (default: all of them);
    context: a context-manager factory entered around every check of the row (state an op needs).
    """

    name: str
    fn: Callable
    ref: Callable | None
    samples: Callable
    dtypes: tuple = ("float32",)
    differentiable: bool = False
    primitive: bool = True
    grad_args: tuple | None = None
    tol: dict = field(default_factory=dict)
    grad_tol: tuple = GRAD_TOLERANCE
    check: Callable | None = None
    exercises: tuple | None = None
    fused: bool = True
    dynamic_batch: bool = True
    unknown_batch: bool = False
    batch_args: tuple | None = None
    context: Callable | None = None

    def tolerance(self, dtype: str) -> tuple:
        if dtype in self.tol:
            return self.tol[dtype]
        return TOLERANCES.get(np.dtype(dtype).name, (0.0, 0.0))

    def required_ops(self) -> tuple:
        if self.exercises is not None:
            return tuple(self.exercises)
        return (self.name,) if self.primitive else ()


# ---------------------------------------------------------------------------------------------
# input helpers (deterministic: every value comes from the generator passed in)

def uniform(rng, shape, dtype, low=-1.0, high=1.0) -> np.ndarray:
    """Floats in [low, high) (or ints in [low, high) for an integer dtype)."""
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        return rng.integers(int(low), int(high), size=shape).astype(dt)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    return rng.uniform(low, high, size=shape).astype(dt)


def away_from(rng, shape, dtype, points=(0.0,), gap=0.1, low=-2.0, high=2.0) -> np.ndarray:
    """Floats in [low, high) at least `gap` from every one of `points` (kinks, discontinuities),
    so finite differences and rounding ties stay well defined."""
    x = rng.uniform(low, high, size=shape)
    for p in points:
        near = np.abs(x - p) < gap
        x = np.where(near, p + np.where(x >= p, gap, -gap) * 1.5, x)
    return x.astype(np.dtype(dtype))


def distinct(rng, shape, dtype, low=-2.0, high=2.0) -> np.ndarray:
    """Floats with no ties (a shuffled grid), so max/min/argmax and their gradients are unique."""
    n = int(np.prod(shape, dtype=np.int64))
    grid = np.linspace(low, high, max(n, 1))[:n]
    return rng.permutation(grid).reshape(shape).astype(np.dtype(dtype))


def is_sparse(value) -> bool:
    """A scipy.sparse matrix (an input fed through a sparse placeholder)."""
    return type(value).__module__.startswith("scipy.sparse")


def as_input(value):
    """Sample inputs as they are fed: sparse matrices stay sparse, everything else an ndarray."""
    return value if is_sparse(value) else np.asarray(value)


def dense(value) -> np.ndarray:
    """A computed value as an ndarray (sparse outputs come back as scipy.sparse matrices)."""
    return np.asarray(value.toarray()) if is_sparse(value) else np.asarray(value)


def is_float_dtype(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]



"""The elementwise catalogue: one entry per elementwise op (docs/architecture_elementwise.md).

`register(...)` adds an op; `lookup(name)`, `entries()` and `scalar_function(call)` read the
catalogue; `function(name)` is the K-style function of an op. core.py defines the entry types,
builtin.py keraslite's own ops."""
from .core import (BOOL, SAME, CudaForm, DtypeRule, ElementwiseOp, call, cast, entries, follows_numpy, from_attr,
                   function, libm, lookup, numba_object, pow, promotes, register, scalar_function, unregister,
                   version, where)
from . import builtin as _builtin  # noqa: F401  (registers keraslite's ops)
from .core import seal_builtins as _seal

_seal()

__all__ = ["BOOL", "SAME", "CudaForm", "DtypeRule", "ElementwiseOp", "call", "cast", "entries", "follows_numpy",
           "from_attr", "function", "libm", "lookup", "numba_object", "pow", "promotes", "register",
           "scalar_function", "unregister", "version", "where"]

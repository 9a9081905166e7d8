"""Python operators and indexing on tensors (bound onto the Tensor class)."""
from __future__ import annotations

from ..graph import Tensor
from . import math as m
from .linalg import dot
from .shape import getitem


def _swap(fn):
    return lambda self, other: fn(other, self)


_BINDINGS = {
    "__add__": m.add, "__radd__": _swap(m.add),
    "__sub__": m.sub, "__rsub__": _swap(m.sub),
    "__mul__": m.mul, "__rmul__": _swap(m.mul),
    "__truediv__": m.div, "__rtruediv__": _swap(m.div),
    "__floordiv__": m.floordiv, "__rfloordiv__": _swap(m.floordiv),
    "__mod__": m.mod, "__rmod__": _swap(m.mod),
    "__pow__": lambda x, a: m.pow(x, a), "__rpow__": lambda x, a: m.pow(a, x),
    "__matmul__": dot, "__rmatmul__": _swap(dot),
    "__lt__": m.less, "__le__": m.less_equal, "__gt__": m.greater, "__ge__": m.greater_equal,
    "__and__": m.logical_and, "__rand__": _swap(m.logical_and),
    "__or__": m.logical_or, "__ror__": _swap(m.logical_or),
    "__neg__": m.neg, "__abs__": m.abs, "__pos__": lambda x: x,
    "__invert__": m.logical_not,
    "__getitem__": getitem,
}

for _name, _fn in _BINDINGS.items():
    setattr(Tensor, _name, _fn)

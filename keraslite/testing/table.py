"""The OpInfo table: every row, keyed by name, and its coverage of the primitive registry."""
from __future__ import annotations

from ..backend.graph import OPS
from .opinfo import OpInfo

_TABLE: dict | None = None


def _modules():
    from . import (rows_composite, rows_composite2, rows_distributed, rows_elementwise, rows_nn, rows_sparse,
                   rows_tensor)
    return [rows_elementwise, rows_tensor, rows_nn, rows_sparse, rows_distributed, rows_composite, rows_composite2]


def table() -> dict:
    """{name: OpInfo} for every row (primitives by their registered name, composites as 'K.<fn>')."""
    global _TABLE
    if _TABLE is None:
        registered_primitives()
        rows: dict = {}
        for module in _modules():
            for row in module.rows():
                if row.name in rows:
                    raise RuntimeError(f"keraslite.testing: two rows are named {row.name!r}")
                rows[row.name] = row
        _TABLE = rows
    return _TABLE


def primitive_rows() -> dict:
    return {k: r for k, r in table().items() if r.primitive}


def composite_rows() -> dict:
    return {k: r for k, r in table().items() if not r.primitive}


#: every module that registers primitives (importing them completes the registry)
PRIMITIVE_MODULES = ("keraslite.backend", "keraslite.backend.sparse", "keraslite.distributed.optimizer")


def registered_primitives() -> set:
    """The names of every `defop` registration, after importing every module that makes some."""
    import importlib
    for name in PRIMITIVE_MODULES:
        importlib.import_module(name)
    return set(OPS)


def missing_rows() -> list:
    """Registered primitives without a row: each one is a conformance failure."""
    return sorted(registered_primitives() - set(primitive_rows()))


def stale_rows() -> list:
    """Primitive rows naming no registered primitive (renamed or removed ops)."""
    return sorted(set(primitive_rows()) - registered_primitives())


def flag_mismatches() -> list:
    """Primitive rows whose differentiable flag disagrees with the registry (an op with a VJP rule
    is differentiable; one without passes no gradient)."""
    out = []
    for name, row in primitive_rows().items():
        od = OPS.get(name)
        if od is not None and row.differentiable != (od.vjp is not None):
            out.append(f"{name}: row says differentiable={row.differentiable}, the registry has "
                       f"{'a' if od.vjp is not None else 'no'} VJP rule")
    return out

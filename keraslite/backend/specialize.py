"""Graph specialisation: substitute known values for placeholders and prune dead branches.

Keras 2 layers choose between training and inference behaviour with `K.in_train_phase`, a
`where` on the scalar learning-phase flag. A model's train, test and predict functions each know
the flag in advance; specialising the graph on it removes the untaken branch (batch statistics
and dropout masks at inference, moving-average arithmetic in training) before the plan is built,
so a step computes only what it returns. The rewrite is graph.substitute: memoised per node,
sharing every subgraph it does not change.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .graph import Constant, Placeholder, Tensor, substitute


def _scalar_constant(t: Tensor):
    """The Python value of a 0-d (or all-size-1) constant tensor, else None."""
    if isinstance(t, Constant) and t.value.size == 1:
        return t.value.reshape(()).item()
    return None


def specialize(targets: Sequence[Tensor], givens: dict) -> list[Tensor]:
    """Rewrite `targets` with each placeholder in `givens` (placeholder -> value) replaced by a
    constant, folding `where` nodes whose condition becomes a known scalar."""
    if not givens:
        return list(targets)
    subst: dict = {}
    for ph, value in givens.items():
        if not isinstance(ph, Placeholder):
            raise TypeError(f"givens: keys must be placeholders, got {ph!r}")
        subst[ph] = Constant(np.asarray(value, dtype=ph.dtype).reshape(ph.shape), name=ph.name)
    return substitute(targets, subst, rewrite=_fold_where)


def _fold_where(node: Tensor, inputs: list[Tensor]) -> Tensor | None:
    """A `where` on a known scalar condition is the branch it selects (when that branch already
    has the node's shape and dtype)."""
    if node.op == "where":
        cond = _scalar_constant(inputs[0])
        if cond is not None:
            chosen = inputs[1] if cond else inputs[2]
            if chosen.shape == node.shape and chosen.dtype == node.dtype:
                return chosen
    return None

"""Graph specialisation: substitute known values for placeholders and prune dead branches.

Keras 2 layers choose between training and inference behaviour with `K.in_train_phase`, a
`where` on the scalar learning-phase flag. A model's train, test and predict functions each know
the flag in advance; specialising the graph on it removes the untaken branch (batch statistics
and dropout masks at inference, moving-average arithmetic in training) before the plan is built,
so a step computes only what it returns. The rewrite is memoised per node and shares every
subgraph it does not change.
"""
from __future__ import annotations

import copy
import itertools
from typing import Sequence

import numpy as np

from .graph import Constant, MultiOutput, Placeholder, Tensor, Variable, _ids

_LEAVES = (Variable, Constant, Placeholder)


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
    subst: dict[int, Tensor] = {}
    for ph, value in givens.items():
        if not isinstance(ph, Placeholder):
            raise TypeError(f"givens: keys must be placeholders, got {ph!r}")
        subst[ph.id] = Constant(np.asarray(value, dtype=ph.dtype).reshape(ph.shape), name=ph.name)
    memo: dict[int, Tensor] = {}

    def rewrite(node: Tensor) -> Tensor:
        # iterative post-order: graphs of deep models exceed Python's recursion limit
        stack = [(node, False)]
        while stack:
            n, expanded = stack.pop()
            if n.id in memo:
                continue
            if n.id in subst:
                memo[n.id] = subst[n.id]
                continue
            if isinstance(n, _LEAVES) or not n.inputs:
                memo[n.id] = n
                continue
            if not expanded:
                stack.append((n, True))
                stack.extend((i, False) for i in n.inputs if i.id not in memo)
                continue
            memo[n.id] = _rebuild(n, [memo[i.id] for i in n.inputs])
        return memo[node.id]

    return [rewrite(t) for t in targets]


def _rebuild(node: Tensor, inputs: list[Tensor]) -> Tensor:
    if node.op == "where":
        cond = _scalar_constant(inputs[0])
        if cond is not None:
            chosen = inputs[1] if cond else inputs[2]
            if chosen.shape == node.shape and chosen.dtype == node.dtype:
                return chosen
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return node
    # a shallow copy keeps everything a node carries (attrs, a random node's generator, the
    # out_specs of a multi-output op); only its inputs and identity are new
    new = copy.copy(node)
    new.inputs = tuple(inputs)
    new.id = next(_ids)
    return new

"""K.gradients: reverse-mode differentiation over the graph.

Walks the graph from the loss back to the requested tensors, calling each op's VJP rule (defined
next to the op, in terms of other ops), and sums the contributions that reach each node. The
result is itself a graph, so gradients of gradients work wherever the VJP rules are themselves
differentiable; where one is not, asking for it raises a clear error.
"""
from __future__ import annotations

from typing import Sequence

from .graph import OPS, MultiOutput, Tensor, as_tensor, is_float, topological_order
from .ops import shape_grads  # noqa: F401  (attaches the VJPs of concatenate, strided_slice, repeat)
from .ops.tensors import stop_gradient  # noqa: F401  (K.stop_gradient; defined with the ops)

# Ops with no VJP on purpose: their gradient is zero (or they have no float output). Elementwise
# ops are not listed: an elementwise catalogue entry without a vjp is non-differentiable by design.
_NON_DIFFERENTIABLE = {
    "stop_gradient", "argmax", "argmin", "one_hot", "shape", "arange", "random_uniform", "random_normal", "truncated_normal",
    "placeholder", "variable", "constant", "update",
}


def _elementwise_entry(op: str):
    from .elementwise import lookup
    return lookup(op)


def gradients(loss, variables) -> list:
    """gradients(loss, variables): symbolic gradients of `loss` (summed if not scalar) with
    respect to each of `variables` (variables, placeholders or any tensor of the graph). A single
    tensor instead of a list gives a one-element list. Unconnected tensors get zeros."""
    from .ops.math import cast
    from .ops.reduce import sum as reduce_sum
    from .ops.tensors import zeros_like

    single = isinstance(variables, Tensor)
    targets = [variables] if single else list(variables)
    for t in targets:
        if not isinstance(t, Tensor):
            raise TypeError(f"gradients: variables must be tensors, got {type(t).__name__}")
        if t.sparse:  # sparse tensors are data: a product passes gradients to its dense operand only
            raise TypeError(f"gradients: {t!r} is sparse; gradients are taken with respect to dense tensors only")
    loss = as_tensor(loss)
    if not is_float(loss.dtype):
        raise TypeError(f"gradients: the loss must be a float tensor, got dtype {loss.dtype}")
    if loss.ndim:
        loss = reduce_sum(loss)

    wanted = {t.id for t in targets}
    order = topological_order([loss])
    # only nodes on a path to a wanted tensor need a gradient
    on_path: set[int] = set()
    for node in order:
        if node.id in wanted or any(i.id in on_path for i in node.inputs):
            on_path.add(node.id)

    from .ops.tensors import ones_like
    grads: dict[int, Tensor] = {loss.id: ones_like(loss, dtype=loss.dtype)}
    multi: dict[int, list] = {}

    for node in reversed(order):
        if node.id not in on_path or not node.inputs:
            continue
        if isinstance(node, MultiOutput):
            g = multi.get(node.id)
        else:
            g = grads.get(node.id)
        if g is None:
            continue
        if node.op == "tuple_get":
            parent = node.inputs[0]
            slots = multi.setdefault(parent.id, [None] * OPS[parent.op].num_outputs)
            i = node.attrs["index"]
            slots[i] = g if slots[i] is None else _accumulate(slots[i], g)
            continue
        if node.custom_vjp is not None:  # a composite's declared gradient (graph.custom_gradient)
            inputs, rule = node.custom_vjp
            _add_grads(grads, on_path, inputs, rule(g, *inputs, wanted=wanted))
            continue
        od = OPS[node.op]
        if od.vjp is None:
            if node.op in _NON_DIFFERENTIABLE or _elementwise_entry(node.op) is not None:
                continue
            raise NotImplementedError(
                f"gradients: the op '{node.op}' has no gradient rule (this happens when differentiating a "
                "gradient of an op whose backward pass is not differentiable: second-order gradients are "
                "not supported through it)")
        _add_grads(grads, on_path, node.inputs, od.vjp(g, node, *node.inputs, **node.attrs))

    out = []
    for t in targets:
        g = grads.get(t.id)
        if g is None:
            g = zeros_like(t, dtype=t.dtype if is_float(t.dtype) else None)
        elif g.dtype != t.dtype and is_float(t.dtype):
            g = cast(g, t.dtype)
        out.append(g)
    return out


def _add_grads(grads: dict, on_path: set, inputs, in_grads) -> None:
    for inp, ig in zip(inputs, in_grads):
        if ig is None or inp.id not in on_path or not is_float(inp.dtype):
            continue
        prev = grads.get(inp.id)
        grads[inp.id] = ig if prev is None else _accumulate(prev, ig)


def _accumulate(a: Tensor, b: Tensor) -> Tensor:
    from .ops.math import add
    return add(a, b)

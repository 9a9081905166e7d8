"""model.summary(): Keras 2's table of layers, output shapes and parameter counts."""
from __future__ import annotations

import numpy as np

from .base_layer import _node_key


def _count(weights) -> int:
    seen, total = set(), 0
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            total += int(np.prod(w.shape))
    return total


def _is_chain(model) -> bool:
    if type(model).__name__ == "Sequential" or not getattr(model, "_is_graph_network", True):
        return True
    for depth_nodes in model._nodes_by_depth.values():
        if len(depth_nodes) > 1:
            return False
        for node in depth_nodes:
            if len(node.inbound_layers) > 1 or (node.inbound_layers and len(node.inbound_layers[0]._inbound_nodes) > 1):
                return False
    return True


def _fmt_shape(layer) -> str:
    try:
        return str(layer.output_shape)
    except AttributeError:
        return "multiple"


def print_summary(model, line_length=None, positions=None, print_fn=None) -> None:
    """print_summary(model, line_length=None, positions=None, print_fn=None)."""
    if print_fn is None:
        print_fn = print
    sequential_like = _is_chain(model)
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [0.33, 0.55, 0.67, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    relevant = getattr(model, "_network_nodes", set())

    def print_row(fields):
        line = ""
        for i, field in enumerate(fields):
            if i > 0:
                line = line[:-1] + " "
            line += str(field)
            line = line[:positions[i]]
            line += " " * (positions[i] - len(line))
        print_fn(line)

    print_fn('Model: "{}"'.format(model.name))
    print_fn("_" * line_length)
    print_row(headers)
    print_fn("=" * line_length)
    layers = model.layers
    for i, layer in enumerate(layers):
        name = f"{layer.name} ({type(layer).__name__})"
        params = layer.count_params() if layer.built else 0
        if sequential_like:
            print_row([name, _fmt_shape(layer), params])
        else:
            connections = []
            for ni, node in enumerate(layer._inbound_nodes):
                if relevant and _node_key(layer, ni) not in relevant:
                    continue
                for inbound, n, t in zip(node.inbound_layers, node.node_indices, node.tensor_indices):
                    connections.append(f"{inbound.name}[{n}][{t}]")
            print_row([name, _fmt_shape(layer), params, connections[0] if connections else ""])
            for c in connections[1:]:
                print_row(["", "", "", c])
        print_fn(("=" if i == len(layers) - 1 else "_") * line_length)
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    print_fn(f"Total params: {trainable + non_trainable:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {non_trainable:,}")
    print_fn("_" * line_length)

"""Model diagrams (`keras.utils.plot_model`), as Graphviz DOT.

keraslite writes the DOT source itself, so `plot_model(model, 'model.dot')` needs nothing else.
Image formats (png, svg, pdf, ...) are rendered with pydot when it is installed, else with the
Graphviz `dot` program; without either an ImportError says what to install.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shape_text(layer: Any, attr: str) -> str:
    try:
        return str(getattr(layer, attr))
    except (AttributeError, RuntimeError, ValueError):
        # Keras prints 'multiple' for layers used at several nodes with different shapes
        return "multiple"


def _inbound_nodes(layer: Any) -> list:
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes is None:
        nodes = getattr(layer, "inbound_nodes", None)
    return list(nodes or [])


def model_to_dot_source(model: Any, show_shapes: bool = False, show_layer_names: bool = True,
                        rankdir: str = "TB", dpi: int = 96) -> str:
    """The DOT text of a model graph: one record node per layer, one edge per connection."""
    if not getattr(model, "built", True) and hasattr(model, "build"):
        model.build()
    layers = list(model.layers)
    # A Sequential's `layers` omits its InputLayer: draw it anyway when a layer is fed by one.
    for layer in list(layers):
        for node in _inbound_nodes(layer):
            for inbound in getattr(node, "inbound_layers", None) or []:
                if inbound not in layers and type(inbound).__name__ == "InputLayer":
                    layers.insert(0, inbound)
    ids = {id(layer): f"n{i}" for i, layer in enumerate(layers)}
    network_nodes = getattr(model, "_network_nodes", None)

    lines = ["digraph G {", f"  graph [rankdir={_quote(rankdir)}, dpi={int(dpi)}];",
             '  node [shape="record"];']
    for layer in layers:
        class_name = type(layer).__name__
        label = f"{layer.name}: {class_name}" if show_layer_names else class_name
        if show_shapes:
            inputs = _shape_text(layer, "input_shape")
            outputs = _shape_text(layer, "output_shape")
            label = "%s\n|{input:|output:}|{{%s}|{%s}}" % (label, inputs, outputs)
        lines.append(f"  {ids[id(layer)]} [label={_quote(label)}];")
    for layer in layers:
        for i, node in enumerate(_inbound_nodes(layer)):
            # A shared layer has nodes in other models too: keep only this model's connections.
            if network_nodes is not None and f"{layer.name}_ib-{i}" not in network_nodes \
                    and type(layer).__name__ != "InputLayer":
                continue
            for inbound in getattr(node, "inbound_layers", None) or []:
                if id(inbound) in ids:
                    lines.append(f"  {ids[id(inbound)]} -> {ids[id(layer)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def model_to_dot(model: Any, show_shapes: bool = False, show_layer_names: bool = True, rankdir: str = "TB",
                 expand_nested: bool = False, dpi: int = 96, subgraph: bool = False) -> Any:
    """model_to_dot(model, show_shapes=False, show_layer_names=True, rankdir='TB', ...): a pydot.Dot
    (needs pydot; nested models are drawn as one box)."""
    try:
        import pydot
    except ImportError:
        raise ImportError("model_to_dot needs pydot (pip install pydot) and Graphviz; "
                          "plot_model(model, 'model.dot') writes the DOT text without them") from None
    return pydot.graph_from_dot_data(model_to_dot_source(model, show_shapes, show_layer_names, rankdir, dpi))[0]


def plot_model(model: Any, to_file: str = "model.png", show_shapes: bool = False, show_layer_names: bool = True,
               rankdir: str = "TB", expand_nested: bool = False, dpi: int = 96) -> None:
    """plot_model(model, to_file='model.png', show_shapes=False, show_layer_names=True, rankdir='TB',
    expand_nested=False, dpi=96): draw the model graph to `to_file`.

    '.dot'/'.gv' files get the DOT text; other extensions are rendered by pydot or Graphviz.
    """
    source = model_to_dot_source(model, show_shapes, show_layer_names, rankdir, dpi)
    extension = os.path.splitext(to_file)[1].lstrip(".").lower() or "png"
    if extension in ("dot", "gv"):
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(source)
        return
    try:
        import pydot
    except ImportError:
        pydot = None
    if pydot is not None:
        pydot.graph_from_dot_data(source)[0].write(to_file, format=extension)
        return
    dot = shutil.which("dot")
    if dot is None:
        raise ImportError(f"plot_model: rendering {extension!r} needs pydot (pip install pydot) or the Graphviz "
                          "'dot' program; save as '.dot' to get the graph text without them")
    subprocess.run([dot, f"-T{extension}", "-o", to_file], input=source.encode("utf-8"), check=True)

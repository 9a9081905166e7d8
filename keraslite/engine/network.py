"""Network: a graph of layers from input tensors to output tensors (Keras 2's functional model).

The graph is discovered by walking the `_keras_history` of the outputs back to the inputs. A
network is itself a layer: calling it on new tensors replays its nodes in depth order.
"""
from __future__ import annotations

import json

import numpy as np

from .. import backend as K
from ..backend.graph import Tensor, topological_order
from ..serialization import deserialize_layer, serialize_layer
from ..utils.generic_utils import has_arg, to_list, unpack_singleton
from . import subclassed
from .base_layer import Layer, Node, _node_key, _track_metric
from .input_layer import InputLayer


class Network(Layer):
    """Network(inputs, outputs, name=None): layers connected from `inputs` to `outputs`.

    Network(name=None) in a subclass that defines `call`: a subclassed model (see subclassed.py)."""

    # a subclass defining `call` tracks the layers and variables assigned to its attributes
    _tracks_attributes = True
    # the layers inside cast their own inputs (a float64 Input keeps its dtype)
    _autocast = False

    def __init__(self, *args, **kwargs):
        if (len(args) == 2 or ("inputs" in kwargs and "outputs" in kwargs)
                or (len(args) == 1 and "outputs" in kwargs)):
            self.__dict__["_is_graph_network"] = True
            inputs = args[0] if args else kwargs.pop("inputs")
            outputs = args[1] if len(args) > 1 else kwargs.pop("outputs")
            name = kwargs.pop("name", None)
            if kwargs:
                raise TypeError(f"Keyword argument not understood: {sorted(kwargs)[0]!r} (Model {name or ''})")
            self._base_init(name)
            self._init_graph_network(inputs, outputs)
        else:
            name = kwargs.pop("name", None)
            trainable = kwargs.pop("trainable", True)  # a subclassed model also takes these (Keras 2.3)
            dtype = kwargs.pop("dtype", None)
            if args or kwargs:
                raise TypeError("Model(inputs, outputs, name=None): give both inputs and outputs "
                                f"(got positional {len(args)}, keywords {sorted(kwargs)})")
            self.__dict__["_is_graph_network"] = False
            self._base_init(name)
            self.trainable = trainable
            if dtype is not None:
                self.dtype = dtype
            self.inputs, self.outputs = [], []
            self.built = False

    def __setattr__(self, name, value):
        subclassed.track(self, name, value)
        _track_metric(self, value)
        object.__setattr__(self, name, value)

    @property
    def _layers(self) -> list:
        if subclassed.is_subclassed(self):
            return subclassed.collect_layers(self)
        return self.__dict__["_layer_list"]

    @_layers.setter
    def _layers(self, layers) -> None:
        self.__dict__["_layer_list"] = layers

    def _base_init(self, name):
        if not name:
            prefix = type(self).__name__.lower()
            name = prefix + "_" + str(K.get_uid(prefix))
        Layer.__init__(self, name=name)
        self.supports_masking = False
        self.optimizer = None
        self._layers: list[Layer] = []

    # ------------------------------------------------------------------ graph discovery
    def _init_graph_network(self, inputs, outputs) -> None:
        self._is_graph_network = True
        self.inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self.outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        for what, tensors in (("inputs", self.inputs), ("outputs", self.outputs)):
            for x in tensors:
                if not isinstance(x, Tensor) or getattr(x, "_keras_history", None) is None:
                    raise ValueError(f"Model {self.name}: {what} must be tensors made by a Keras layer or Input "
                                     f"(keraslite.layers.Input); found: {x!r}")
        if len({id(x) for x in self.inputs}) != len(self.inputs):
            raise ValueError(f"Model {self.name}: the list of inputs passed to the model is redundant. All inputs "
                             "should only appear once.")
        for x in self.inputs:
            layer, node_index, _ = x._keras_history
            if not isinstance(layer, InputLayer) or node_index != 0:
                raise ValueError(f"Model {self.name}: input tensors to a Model must come from "
                                 f"`keraslite.layers.Input`. Received: {x!r} (missing previous layer metadata).")
        self._input_layers = [x._keras_history[0] for x in self.inputs]
        self._output_layers = [x._keras_history[0] for x in self.outputs]
        self._output_coordinates = [x._keras_history for x in self.outputs]
        self._input_coordinates = [x._keras_history for x in self.inputs]
        self.input_names = [l.name for l in self._input_layers]
        self.output_names = [l.name for l in self._output_layers]
        self._feed_input_names = list(self.input_names)
        self._feed_inputs = list(self.inputs)
        self._feed_input_shapes = [K.int_shape(x) for x in self.inputs]
        self._output_mask_cache = {}
        nodes_in_decreasing_depth, layer_indices = self._discover()
        self._compute_depths(nodes_in_decreasing_depth, layer_indices)
        self._check_disconnected()
        self.input_spec = None
        self.built = True
        self.supports_masking = False
        # node 0 is the network's own graph (Keras 2): model.input / model.output read it, and a
        # call of the model on new tensors becomes node 1, 2, ...
        own = getattr(self, "_own_node", None)
        if own is not None and own in self._inbound_nodes:
            self._inbound_nodes.remove(own)
        Node(self, [], [], [], list(self.inputs), list(self.outputs), [None] * len(self.inputs),
             [None] * len(self.outputs), [K.int_shape(x) for x in self.inputs],
             [K.int_shape(x) for x in self.outputs])
        self._own_node = self._inbound_nodes.pop()
        self._inbound_nodes.insert(0, self._own_node)

    def _discover(self):
        network_nodes = set()
        nodes_in_decreasing_depth: list[Node] = []
        layer_indices: dict = {}
        finished, in_progress = set(), set()

        def build_map(layer, node_index):
            node = layer._inbound_nodes[node_index]
            if id(node) in in_progress:
                raise ValueError(f"The tensor at layer \"{layer.name}\" is part of a cycle.")
            if id(node) in finished:
                return
            network_nodes.add(_node_key(layer, node_index))
            if id(layer) not in layer_indices:
                layer_indices[id(layer)] = (len(layer_indices), layer)
            in_progress.add(id(node))
            for i, inbound in enumerate(node.inbound_layers):
                build_map(inbound, node.node_indices[i])
            finished.add(id(node))
            in_progress.discard(id(node))
            nodes_in_decreasing_depth.append(node)

        for x in self.outputs:
            layer, node_index, _ = x._keras_history
            build_map(layer, node_index)
        self._network_nodes = network_nodes
        return nodes_in_decreasing_depth, layer_indices

    def _compute_depths(self, nodes_in_decreasing_depth, layer_indices) -> None:
        nodes_depths: dict = {}
        layers_depths: dict = {}
        node_by_id = {id(n): n for n in nodes_in_decreasing_depth}
        for node in reversed(nodes_in_decreasing_depth):
            depth = nodes_depths.setdefault(id(node), 0)
            layer = node.outbound_layer
            depth = max(depth, layers_depths.get(id(layer), 0))
            layers_depths[id(layer)] = depth
            nodes_depths[id(node)] = depth
            for i, inbound in enumerate(node.inbound_layers):
                inbound_node = inbound._inbound_nodes[node.node_indices[i]]
                nodes_depths[id(inbound_node)] = max(depth + 1, nodes_depths.get(id(inbound_node), 0))
        self._nodes_by_depth: dict[int, list[Node]] = {}
        for nid, depth in nodes_depths.items():
            self._nodes_by_depth.setdefault(depth, []).append(node_by_id[nid])
        layers_by_depth: dict[int, list] = {}
        for lid, depth in layers_depths.items():
            layers_by_depth.setdefault(depth, []).append(layer_indices[lid])
        self._layers = []
        for depth in sorted(layers_by_depth, reverse=True):
            self._layers.extend(layer for _, layer in sorted(layers_by_depth[depth], key=lambda p: p[0]))
        self._layers_by_depth = {d: [l for _, l in sorted(v, key=lambda p: p[0])] for d, v in layers_by_depth.items()}
        # execution order: deepest first; within a depth, keep discovery order
        order = {id(n): i for i, n in enumerate(nodes_in_decreasing_depth)}
        for depth in self._nodes_by_depth:
            self._nodes_by_depth[depth].sort(key=lambda n: order[id(n)])

    def _check_disconnected(self) -> None:
        computable = {id(x) for x in self.inputs}
        for depth in sorted(self._nodes_by_depth, reverse=True):
            for node in self._nodes_by_depth[depth]:
                layer = node.outbound_layer
                if isinstance(layer, InputLayer) and node.inbound_layers == []:
                    if id(node.output_tensors[0]) not in computable:
                        raise ValueError(f"Graph disconnected: cannot obtain value for tensor "
                                         f"{node.output_tensors[0]!r} at layer \"{layer.name}\". The following "
                                         f"previous layers were accessed without issue: "
                                         f"{[l.name for l in self._layers if l is not layer][:10]}")
                    continue
                for x in node.input_tensors:
                    if id(x) not in computable:
                        raise ValueError(f"Graph disconnected: cannot obtain value for tensor {x!r} at layer "
                                         f"\"{layer.name}\".")
                computable.update(id(o) for o in node.output_tensors)
        names = [l.name for l in self._layers]
        for n in set(names):
            if names.count(n) > 1:
                raise ValueError(f"The name \"{n}\" is used {names.count(n)} times in the model. All layer names "
                                 "should be unique.")

    def build(self, input_shape=None) -> None:
        """build(input_shape=None): a subclassed model traces `call` on placeholders of
        `input_shape` (a batch shape, or a list of them); a graph network has nothing to build."""
        if subclassed.is_subclassed(self):
            subclassed.build(self, input_shape)
        self.built = True

    def _ensure_built(self, x) -> None:
        if subclassed.is_subclassed(self):
            subclassed.ensure_built(self, x)

    # ------------------------------------------------------------------ layer access
    @property
    def layers(self) -> list:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """get_layer(name=None, index=None): a layer by name or by position in `layers`."""
        # Keras 2 indexes `self.layers`: a Sequential's auto-created InputLayer is not counted
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only has "
                                 f"{len(layers)} layers.")
            return layers[index]
        if not name:
            raise ValueError("Provide either a layer name or layer index.")
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}")

    # ------------------------------------------------------------------ weights
    def _unique(self, weights):
        seen, out = set(), []
        for w in weights:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return self._unique([w for l in self._layers for w in l.trainable_weights] + list(self._trainable_weights))

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self) -> list:
        own = [w for l in self._layers for w in l.non_trainable_weights] + list(self._non_trainable_weights)
        if not self.trainable:
            own = [w for l in self._layers for w in l.trainable_weights] + list(self._trainable_weights) + own
        return self._unique(own)

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    @property
    def weights(self) -> list:
        # layer by layer, each layer's trainable then non-trainable (Keras 2's saving order)
        return self._unique([w for l in self._layers for w in l.weights]
                            + list(self._trainable_weights) + list(self._non_trainable_weights))

    def count_params(self) -> int:
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ------------------------------------------------------------------ updates and losses
    def _keyed_updates(self) -> list:
        if not (self.trainable or self.stateful):
            return []
        out = []
        for layer in self._layers:
            if isinstance(layer, Network):
                out.extend(layer._keyed_updates())
            else:
                out.extend(layer._keyed_updates_all())
        return out + list(self._updates)

    def _keyed_losses(self) -> list:
        out = []
        for layer in self._layers:
            out.extend(layer._keyed_losses() if isinstance(layer, Network) else layer._keyed_losses_all())
        return out + list(self._losses)

    # a network's layers are its graph's (or, subclassed, its tracked attributes)
    _keyed_losses_all = _keyed_losses
    _keyed_updates_all = _keyed_updates

    @property
    def uses_learning_phase(self) -> bool:
        """True when an output depends on the learning phase (Dropout, BatchNormalization, ...)."""
        if not self.outputs:
            return False
        phase = K.learning_phase()
        return any(t is phase for t in topological_order(self.outputs))

    def _reachable_ids(self) -> set:
        return {t.id for t in topological_order(self.outputs)}

    def _relevant(self, keyed):
        reachable = self._reachable_ids()
        seen, out = set(), []
        for key, item in keyed:
            if (key is None or key <= reachable) and id(item) not in seen:
                seen.add(id(item))
                out.append(item)
        return out

    @property
    def updates(self) -> list:
        """Update ops of the layers that act on this network's own graph (e.g. BatchNormalization
        moving statistics), in layer order."""
        if subclassed.is_subclassed(self):
            return subclassed.relevant(self, [u for _, u in self._keyed_updates()])
        return self._relevant(self._keyed_updates()) if self._is_graph_network else []

    @property
    def losses(self) -> list:
        """Regularisation losses of this network's layers for its own graph."""
        if subclassed.is_subclassed(self):
            return subclassed.relevant(self, [l for _, l in self._keyed_losses()])
        return self._relevant(self._keyed_losses()) if self._is_graph_network else []

    @property
    def state_updates(self) -> list:
        updates = [u for l in self._layers if getattr(l, "stateful", False) for u in l.updates]
        return subclassed.relevant(self, updates) if subclassed.is_subclassed(self) else updates

    # ------------------------------------------------------------------ as a layer
    @property
    def input_spec(self):
        return None

    @input_spec.setter
    def input_spec(self, value):
        pass

    def call(self, inputs, mask=None):
        if subclassed.is_subclassed(self):
            raise NotImplementedError(subclassed.NO_CALL_ERROR)
        inputs = to_list(inputs)
        masks = [None] * len(inputs) if mask is None else to_list(mask)
        outputs, out_masks = self.run_internal_graph(inputs, masks)
        # Layer.__call__ asks compute_mask next: answer from this run, because replaying the graph
        # again would add the inner layers' activity losses, updates and nodes a second time
        self._last_call_masks = (inputs, masks, out_masks)
        return unpack_singleton(outputs) if len(outputs) == 1 else outputs

    def compute_mask(self, inputs, mask=None):
        if subclassed.is_subclassed(self):
            return None  # Keras 2: a subclassed model produces no mask
        inputs = to_list(inputs)
        masks = [None] * len(inputs) if mask is None else to_list(mask)
        last = getattr(self, "_last_call_masks", None)
        if last is not None and _same_objects(last[0], inputs) and _same_objects(last[1], masks):
            out_masks = last[2]
        else:
            _, out_masks = self.run_internal_graph(inputs, masks, dry=True)
        return unpack_singleton(out_masks) if len(out_masks) == 1 else out_masks

    @subclassed.traces_call
    def compute_output_shape(self, input_shape):
        if subclassed.is_subclassed(self):
            return subclassed.compute_output_shape(self, input_shape)
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(shapes) != len(self._input_layers):
            raise ValueError(f"Model {self.name} expects {len(self._input_layers)} input shapes, got {len(shapes)}")
        shape_map = {}
        for x, s in zip(self.inputs, shapes):
            shape_map[id(x)] = tuple(s)
        for depth in sorted(self._nodes_by_depth, reverse=True):
            for node in self._nodes_by_depth[depth]:
                if isinstance(node.outbound_layer, InputLayer) and not node.inbound_layers:
                    continue
                in_shapes = [shape_map[id(x)] for x in node.input_tensors]
                out = node.outbound_layer.compute_output_shape(unpack_singleton(in_shapes))
                out = out if isinstance(out, list) else [out]
                for o, s in zip(node.output_tensors, out):
                    shape_map[id(o)] = tuple(s)
        out_shapes = [shape_map[id(x)] for x in self.outputs]
        return out_shapes[0] if len(out_shapes) == 1 else out_shapes

    def run_internal_graph(self, inputs: list, masks: list | None = None, dry: bool = False):
        """Replay the graph on `inputs`: (output tensors, output masks)."""
        if masks is None:
            masks = [None] * len(inputs)
        if len(inputs) != len(self.inputs):
            raise ValueError(f"Model {self.name} expects {len(self.inputs)} inputs, but it received {len(inputs)} "
                             "input tensors")
        tensor_map: dict[int, tuple] = {}
        for x, y, m in zip(self.inputs, inputs, masks):
            tensor_map[id(x)] = (y, m)
        for depth in sorted(self._nodes_by_depth, reverse=True):
            for node in self._nodes_by_depth[depth]:
                layer = node.outbound_layer
                if isinstance(layer, InputLayer) and not node.inbound_layers:
                    continue
                if not all(id(x) in tensor_map for x in node.input_tensors):
                    continue
                computed = [tensor_map[id(x)] for x in node.input_tensors]
                kwargs = dict(node.arguments)
                tensors = [c[0] for c in computed]
                cmasks = [c[1] for c in computed]
                if len(computed) == 1:
                    if has_arg(layer.call, "mask") and "mask" not in kwargs:
                        kwargs["mask"] = cmasks[0]
                    out = layer(tensors[0], **kwargs)
                else:
                    if has_arg(layer.call, "mask") and "mask" not in kwargs:
                        kwargs["mask"] = cmasks
                    out = layer(tensors, **kwargs)
                outs = to_list(out)
                out_masks = [getattr(o, "_keras_mask", None) for o in outs]
                for ref, o, m in zip(node.output_tensors, outs, out_masks):
                    tensor_map[id(ref)] = (o, m)
        outputs, out_masks = [], []
        for x in self.outputs:
            if id(x) not in tensor_map:
                raise ValueError(f"Model {self.name}: could not compute output {x!r}")
            t, m = tensor_map[id(x)]
            outputs.append(t)
            out_masks.append(m)
        return outputs, out_masks

    # ------------------------------------------------------------------ shapes
    @property
    def input_shape(self):
        if not self._is_graph_network or not self.inputs:
            return super().input_shape
        shapes = [K.int_shape(x) for x in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        if not self._is_graph_network or not self.outputs:
            return super().output_shape
        shapes = [K.int_shape(x) for x in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """get_config(): {'name', 'layers' (with inbound_nodes), 'input_layers', 'output_layers'}."""
        if subclassed.is_subclassed(self):
            raise NotImplementedError(subclassed.CONFIG_ERROR)
        node_conversion = {}
        for layer in self._layers:
            # a nested graph network's node 0 is its own graph, rebuilt by from_config
            kept = 1 if isinstance(layer, Network) and layer._is_graph_network else 0
            for i, _ in enumerate(layer._inbound_nodes):
                if _node_key(layer, i) in self._network_nodes:
                    node_conversion[_node_key(layer, i)] = kept
                    kept += 1
        layer_configs = []
        for layer in self._layers:
            filtered = []
            for i, node in enumerate(layer._inbound_nodes):
                if _node_key(layer, i) not in self._network_nodes or not node.inbound_layers:
                    continue
                data = []
                for inbound, ni, ti in zip(node.inbound_layers, node.node_indices, node.tensor_indices):
                    data.append([inbound.name, node_conversion.get(_node_key(inbound, ni), 0), ti,
                                 _json_safe_kwargs(node.arguments)])
                filtered.append(data)
            cfg = serialize_layer(layer)
            layer_configs.append({"name": layer.name, "class_name": cfg["class_name"], "config": cfg["config"],
                                  "inbound_nodes": filtered})

        def coords(layers_coords):
            out = []
            for layer, ni, ti in layers_coords:
                out.append([layer.name, node_conversion.get(_node_key(layer, ni), 0), ti])
            return out

        return {"name": self.name, "layers": layer_configs, "input_layers": coords(self._input_coordinates),
                "output_layers": coords(self._output_coordinates)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """from_config(config, custom_objects=None): rebuild a functional model from get_config()."""
        created: dict[str, Layer] = {}
        pending: dict[str, list] = {}

        def process_node(layer, node_data) -> bool:
            tensors = []
            for name, ni, ti, *rest in node_data:
                inbound = created.get(name)
                if inbound is None or len(inbound._inbound_nodes) <= ni:
                    return False
                tensors.append(to_list(inbound._inbound_nodes[ni].output_tensors)[ti])
            kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
            layer(unpack_singleton(tensors) if len(tensors) == 1 else tensors, **(kwargs or {}))
            return True

        for layer_data in config["layers"]:
            layer = deserialize_layer({"class_name": layer_data["class_name"], "config": layer_data["config"]},
                                      custom_objects=custom_objects)
            created[layer_data["name"]] = layer
            pending[layer_data["name"]] = list(layer_data.get("inbound_nodes", []))
        progress = True
        while progress and any(pending.values()):
            progress = False
            for layer_data in config["layers"]:
                name = layer_data["name"]
                while pending[name] and process_node(created[name], pending[name][0]):
                    pending[name].pop(0)
                    progress = True
        if any(pending.values()):
            stuck = [n for n, v in pending.items() if v]
            raise ValueError(f"Model config cannot be rebuilt: the inbound nodes of {stuck} refer to missing layers")

        def tensors(coords):
            return [to_list(created[n]._inbound_nodes[ni].output_tensors)[ti] for n, ni, ti in coords]

        return cls(inputs=tensors(config["input_layers"]), outputs=tensors(config["output_layers"]),
                   name=config.get("name"))

    def to_json(self, **kwargs) -> str:
        """to_json(**kwargs): the model's architecture as a JSON string."""
        from .. import __version__
        from ..saving import KERAS_FORMAT_VERSION
        # the same version stamps as the HDF5 files: Keras 2 readers check keras_version
        model_config = {"class_name": type(self).__name__, "config": self.get_config(),
                        "keras_version": KERAS_FORMAT_VERSION, "backend": K.backend(),
                        "keraslite_version": __version__}
        return json.dumps(model_config, default=_json_default, **kwargs)

    def to_yaml(self, **kwargs) -> str:
        """to_yaml(**kwargs): the model's architecture as a YAML string (needs PyYAML)."""
        try:
            import yaml
        except ImportError:
            raise ImportError("Requires yaml module installed (`pip install pyyaml`).") from None
        return yaml.dump(json.loads(self.to_json()), **kwargs)

    def summary(self, line_length=None, positions=None, print_fn=None) -> None:
        """summary(line_length=None, positions=None, print_fn=None): Keras 2's table of layers."""
        from .summary import print_summary
        if not self.built:
            raise ValueError("This model has not yet been built. Build the model first by calling build() or "
                             "calling fit() with some data. Or specify input_shape or batch_input_shape in the "
                             "first layer for automatic build. ")
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn)

    def reset_states(self) -> None:
        for layer in self._layers:
            if hasattr(layer, "reset_states") and getattr(layer, "stateful", False):
                layer.reset_states()


def _json_safe_kwargs(kwargs: dict) -> dict:
    out = {}
    for k, v in kwargs.items():
        try:
            json.dumps(v)
            out[k] = v
        except TypeError:
            continue
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if callable(obj):
        return obj.__name__
    raise TypeError(f"Not JSON Serializable: {obj!r}")


def _same_objects(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))

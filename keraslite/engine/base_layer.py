"""Layer, Node and InputSpec: the Keras 2 layer contract.

A layer owns weights (backend variables made by `add_weight`) and turns input tensors into output
tensors with K functions in `call`. Each call on Keras tensors records a `Node` linking the layer
to the layers that produced its inputs; those nodes are what a functional `Model` walks, and what
`layer.input`/`get_output_at(i)` read. Layers never touch arrays or backends.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import backend as K
from ..backend.graph import Tensor, shape_str
from ..saving_checks import planned_weight_value
from ..utils.generic_utils import has_arg, to_list, to_snake_case, unpack_singleton

_BASE_KWARGS = {"input_shape", "batch_input_shape", "batch_size", "dtype", "name", "trainable", "weights",
                "input_dtype"}


class InputSpec:
    """InputSpec(dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None):
    what a layer accepts; checked on every call."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = axes or {}

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return "InputSpec(" + ", ".join(parts) + ")"


class Node:
    """One call of `outbound_layer` on tensors made by `inbound_layers` (Keras 2's Node)."""

    def __init__(self, outbound_layer, inbound_layers, node_indices, tensor_indices, input_tensors,
                 output_tensors, input_masks, output_masks, input_shapes, output_shapes, arguments=None):
        self.outbound_layer = outbound_layer
        self.inbound_layers = inbound_layers
        self.node_indices = node_indices
        self.tensor_indices = tensor_indices
        self.input_tensors = input_tensors
        self.output_tensors = output_tensors
        self.input_masks = input_masks
        self.output_masks = output_masks
        self.input_shapes = input_shapes
        self.output_shapes = output_shapes
        self.arguments = arguments or {}
        for layer in inbound_layers:
            if layer is not None:
                layer._outbound_nodes.append(self)
        outbound_layer._inbound_nodes.append(self)

    def get_config(self) -> dict:
        return {"outbound_layer": self.outbound_layer.name,
                "inbound_layers": [l.name if l is not None else None for l in self.inbound_layers],
                "node_indices": list(self.node_indices), "tensor_indices": list(self.tensor_indices)}


def _node_key(layer, node_index) -> str:
    """The key of a layer's node_index-th inbound node in a network's set of nodes."""
    return f"{layer.name}_ib-{node_index}"


def _shape_of(x) -> tuple:
    return tuple(K.int_shape(x))


def _shapes_compatible(expected, actual) -> bool:
    return len(expected) == len(actual) and all(e is None or a is None or e == a for e, a in zip(expected, actual))


def _unique(items: list) -> list:
    """`items` with repeats (by identity) dropped, first occurrence kept (for (key, item) pairs:
    the same pair reached through a layer and its sublayer counts once)."""
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _track_metric(layer, value) -> None:
    """Remember metric objects assigned to a layer's attributes, in order: add_metric reports
    them in that order (Keras 2.3)."""
    if hasattr(value, "update_state") and hasattr(value, "reset_states") and not isinstance(value, type):
        tracked = layer.__dict__.setdefault("_tracked_metrics", [])
        if all(m is not value for m in tracked):
            tracked.append(value)


class Layer:
    """Layer(**kwargs): the base of every layer. Keywords: input_shape, batch_input_shape,
    batch_size, dtype, name, trainable, weights."""

    def __init__(self, **kwargs):
        for kw in kwargs:
            if kw not in _BASE_KWARGS:
                raise TypeError(f"Keyword argument not understood: {kw!r} (layer {type(self).__name__})")
        self.input_spec = None
        self.supports_masking = False
        self.stateful = False
        self._trainable_weights: list = []
        self._non_trainable_weights: list = []
        self._losses: list = []       # (input tensor ids or None, loss tensor)
        self._updates: list = []      # (input tensor ids or None, update)
        self._inbound_nodes: list[Node] = []
        self._outbound_nodes: list[Node] = []
        self._per_input_losses: dict = {}
        self.built = False
        name = kwargs.get("name")
        if not name:
            prefix = to_snake_case(type(self).__name__)
            name = prefix + "_" + str(K.get_uid(prefix))
        self.name = name
        self.trainable = kwargs.get("trainable", True)
        if "input_shape" in kwargs or "batch_input_shape" in kwargs:
            if "batch_input_shape" in kwargs:
                batch_input_shape = tuple(kwargs["batch_input_shape"])
            else:
                input_shape = kwargs["input_shape"]
                if isinstance(input_shape, (int, np.integer)):
                    input_shape = (int(input_shape),)
                batch_input_shape = (kwargs.get("batch_size"),) + tuple(input_shape)
            self.batch_input_shape = tuple(None if d is None else int(d) for d in batch_input_shape)
        dtype = kwargs.get("dtype", kwargs.get("input_dtype"))
        self.dtype = K.floatx() if dtype is None else dtype
        self._initial_weights = kwargs.get("weights")

    # ------------------------------------------------------------------ attribute tracking
    def __setattr__(self, name, value):
        # Keras 2.3: layers and variables assigned as attributes belong to the layer (their
        # weights, losses and updates are the layer's); Network tracks its own way
        _track_metric(self, value)
        if isinstance(value, Layer) and value is not self:
            tracked = self.__dict__.setdefault("_tracked_layers", [])
            if all(l is not value for l in tracked):
                tracked.append(value)
        elif isinstance(value, K.Variable) and "_trainable_weights" in self.__dict__:
            own = self._trainable_weights if getattr(value, "trainable", True) else self._non_trainable_weights
            if all(w is not value for w in self._trainable_weights + self._non_trainable_weights):
                own.append(value)
        object.__setattr__(self, name, value)

    @property
    def _layers(self) -> list:
        """The layers assigned to this layer's attributes (Keras 2.3's sublayer tracking)."""
        return self.__dict__.setdefault("_tracked_layers", [])

    @_layers.setter
    def _layers(self, layers) -> None:
        self.__dict__["_tracked_layers"] = list(layers)

    def _keyed_losses_all(self) -> list:
        """(input key, loss) pairs of this layer and, recursively, of its tracked sublayers."""
        out = list(self._losses)
        for layer in self.__dict__.get("_tracked_layers", []):
            out += layer._keyed_losses_all()
        return out

    def _keyed_updates_all(self) -> list:
        """(input key, update) pairs of this layer and its tracked sublayers (none when frozen)."""
        if not (self.trainable or self.stateful):
            return []
        out = list(self._updates)
        for layer in self.__dict__.get("_tracked_layers", []):
            out += layer._keyed_updates_all()
        return out

    # ------------------------------------------------------------------ to override
    def build(self, input_shape) -> None:
        """build(input_shape): create the weights; called once, before the first call."""
        self.built = True

    def call(self, inputs, **kwargs):
        """call(inputs, **kwargs): the layer's computation on tensors."""
        return inputs

    def compute_output_shape(self, input_shape):
        """compute_output_shape(input_shape): the output shape (None for the batch)."""
        return input_shape

    def compute_mask(self, inputs, mask=None):
        """compute_mask(inputs, mask=None): the output mask (None: no mask)."""
        if not self.supports_masking:
            if mask is not None and any(m is not None for m in to_list(mask)):
                raise TypeError(f"Layer {self.name} does not support masking, but was passed an input mask")
            return None
        return mask

    def get_config(self) -> dict:
        """get_config(): the constructor arguments, JSON-able."""
        config = {"name": self.name, "trainable": self.trainable}
        if hasattr(self, "batch_input_shape"):
            config["batch_input_shape"] = self.batch_input_shape
        if hasattr(self, "dtype"):
            config["dtype"] = self.dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        """from_config(config): a new layer from get_config()'s dict."""
        return cls(**config)

    # ------------------------------------------------------------------ weights
    def add_weight(self, name: str, shape, dtype=None, initializer=None, regularizer=None, trainable: bool = True,
                   constraint=None):
        """add_weight(name, shape, dtype=None, initializer=None, regularizer=None, trainable=True,
        constraint=None): a new backend variable owned by the layer."""
        from .. import constraints, initializers, regularizers
        shape = tuple(int(d) for d in shape)
        if dtype is None:  # Keras 2: the layer's dtype (floatx unless the layer was given one)
            dtype = self.dtype if _is_float(getattr(self, "dtype", None)) else K.floatx()
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        # shape checked and, while load_model builds from a file, the saved value used (no initializer)
        value = planned_weight_value(self, name, shape, dtype)
        if value is None:
            value = init(shape, dtype=dtype) if has_arg(init, "dtype") else init(shape)
        if isinstance(value, Tensor):
            value = K.eval(value)
        value = np.asarray(value)
        if value.shape != shape:
            raise ValueError(f"Layer {self.name}: the initializer of weight '{name}' returned shape "
                             f"{shape_str(value.shape)}, expected {shape_str(shape)}")
        weight = K.variable(value, dtype=dtype, name=f"{self.name}/{name}", constraint=constraints.get(constraint))
        weight.trainable = trainable
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self.add_loss(regularizer(weight))
        (self._trainable_weights if trainable else self._non_trainable_weights).append(weight)
        return weight

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return _unique(list(self._trainable_weights) +
                       [w for l in self.__dict__.get("_tracked_layers", []) for w in l.trainable_weights])

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self) -> list:
        sub = self.__dict__.get("_tracked_layers", [])
        if self.trainable:
            return _unique(list(self._non_trainable_weights) + [w for l in sub for w in l.non_trainable_weights])
        return _unique(list(self._trainable_weights) + list(self._non_trainable_weights) +
                       [w for l in sub for w in l.weights])

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    @property
    def weights(self) -> list:
        return self.trainable_weights + self.non_trainable_weights

    def get_weights(self) -> list:
        """get_weights(): the weights as a list of NumPy arrays."""
        return K.batch_get_value(self.weights)

    def set_weights(self, weights: Sequence) -> None:
        """set_weights(weights): set the weights from NumPy arrays (count and shapes checked first,
        so a bad list changes nothing)."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            raise ValueError(f"You called `set_weights(weights)` on layer \"{self.name}\" with a weight list of "
                             f"length {len(weights)}, but the layer was expecting {len(params)} weights. "
                             f"Provided weights: {str(weights)[:50]}...")
        pairs = []
        for p, w in zip(params, weights):
            w = np.asarray(w)
            if tuple(p.shape) != w.shape:
                raise ValueError(f"Layer weight shape {tuple(p.shape)} not compatible with provided weight shape "
                                 f"{w.shape} (layer {self.name}, weight {p.name})")
            pairs.append((p, w))
        K.batch_set_value(pairs)

    def count_params(self) -> int:
        """count_params(): the number of scalars in the weights."""
        if not self.built:
            if type(self).build is Layer.build:
                self.built = True
            else:
                raise RuntimeError(f"You tried to call `count_params` on {self.name}, but the layer isn't built. "
                                   "You can build it manually via: `" + self.name + ".build(batch_input_shape)`.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ------------------------------------------------------------------ losses and updates
    def add_loss(self, losses, inputs=None) -> None:
        """add_loss(losses, inputs=None): losses (tensors) added to the training objective."""
        key = None if inputs is None else frozenset(t.id for t in to_list(inputs))
        for loss in to_list(losses):
            if loss is None:
                continue
            self._losses.append((key, loss if isinstance(loss, Tensor) else K.constant(loss)))

    def add_update(self, updates, inputs=None) -> None:
        """add_update(updates, inputs=None): update ops run by each training step."""
        key = None if inputs is None else frozenset(t.id for t in to_list(inputs))
        for u in to_list(updates):
            self._updates.append((key, u))

    def add_metric(self, value, name=None) -> None:
        """add_metric(value, name=None): report a tensor as a metric of the models this layer is
        in: its mean over the batches of an epoch (or of evaluate), under `name`; or the result of
        a metric object called on tensors (`add_metric(metrics.Mean(name='m')(x))`), under the
        object's name. A second metric of the same name is ignored (Keras 2.3)."""
        obj = getattr(value, "_metric_obj", None)
        if obj is None:
            if not isinstance(value, Tensor):
                raise TypeError(f"Layer {self.name}: add_metric expects a tensor, got {type(value).__name__}")
            if not name:
                raise ValueError(f"Layer {self.name}: give the metric a name, e.g. "
                                 "self.add_metric(K.sum(inputs), name='mean_activation')")
        name = name or obj.name
        added = self.__dict__.setdefault("_added_metrics", [])
        if all(n != name for n, _, _ in added):
            added.append((name, value, obj))

    @property
    def losses(self) -> list:
        return [l for _, l in _unique(self._keyed_losses_all())]

    @property
    def updates(self) -> list:
        if not self.trainable and not getattr(self, "stateful", False):
            return []
        return [u for _, u in _unique(self._keyed_updates_all())]

    def get_updates_for(self, inputs) -> list:
        """get_updates_for(inputs): updates conditional on these inputs (None: unconditional)."""
        return self._filter(_unique(self._keyed_updates_all()), inputs) if (self.trainable or self.stateful) else []

    def get_losses_for(self, inputs) -> list:
        """get_losses_for(inputs): losses conditional on these inputs (None: unconditional)."""
        return self._filter(_unique(self._keyed_losses_all()), inputs)

    @staticmethod
    def _filter(items, inputs):
        if inputs is None:
            return [v for k, v in items if k is None]
        key = frozenset(t.id for t in to_list(inputs))
        return [v for k, v in items if k is not None and k == key]

    # ------------------------------------------------------------------ calling
    def assert_input_compatibility(self, inputs) -> None:
        inputs = to_list(inputs)
        for x in inputs:
            if not isinstance(x, Tensor):
                raise ValueError(f"Layer {self.name} was called with an input that isn't a symbolic tensor. "
                                 f"Received type: {type(x)}. Full input: {inputs}")
        if not self.input_spec:
            return
        specs = to_list(self.input_spec)
        if len(specs) != len(inputs):
            raise ValueError(f"Layer {self.name} expects {len(specs)} inputs, but it received {len(inputs)} "
                             "input tensors")
        for i, (spec, x) in enumerate(zip(specs, inputs)):
            if spec is None:
                continue
            shape = _shape_of(x)
            where = f"Input {i} is incompatible with layer {self.name}"
            if spec.ndim is not None and len(shape) != spec.ndim:
                raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={len(shape)} "
                                 f"(shape {shape_str(shape)})")
            if spec.max_ndim is not None and len(shape) > spec.max_ndim:
                raise ValueError(f"{where}: expected max_ndim={spec.max_ndim}, found ndim={len(shape)}")
            if spec.min_ndim is not None and len(shape) < spec.min_ndim:
                raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, found ndim={len(shape)} "
                                 f"(shape {shape_str(shape)})")
            for axis, value in spec.axes.items():
                if value is not None and shape[int(axis)] not in (value, None):
                    raise ValueError(f"{where}: expected axis {axis} of input shape to have value {value} but got "
                                     f"shape {shape_str(shape)}")
            if spec.shape is not None and not _shapes_compatible(spec.shape, shape):
                raise ValueError(f"{where}: expected shape={shape_str(spec.shape)}, found shape={shape_str(shape)}")

    def __call__(self, inputs, **kwargs):
        """Apply the layer to tensor(s), building it first if needed, and record a node."""
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        self.assert_input_compatibility(inputs)
        input_list = to_list(inputs)
        if not self.built:
            shapes = [_shape_of(x) for x in input_list]
            self.build(unpack_singleton(shapes) if not isinstance(inputs, list) else shapes)
            self.built = True
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)
                self._initial_weights = None
        previous_mask = _collect_masks(input_list)
        mask_arg = None if previous_mask is None else (previous_mask if isinstance(inputs, list) else previous_mask[0])
        if mask_arg is not None and has_arg(self.call, "mask") and "mask" not in kwargs:
            kwargs["mask"] = mask_arg
        output = self.call(self._cast_inputs(inputs), **kwargs)
        output_mask = self.compute_mask(inputs, kwargs.get("mask", mask_arg))
        outputs = to_list(output)
        input_ids = {id(x) for x in input_list}
        # a layer returning its input (or another layer's output) needs a distinct tensor to own
        outputs = [K.identity(o) if (id(o) in input_ids or getattr(o, "_keras_history", None) is not None)
                   else o for o in outputs]
        in_shapes = [_shape_of(x) for x in input_list]
        out_shape = self.compute_output_shape(unpack_singleton(in_shapes) if not isinstance(inputs, list)
                                              else in_shapes)
        out_shapes = [tuple(s) for s in (out_shape if isinstance(out_shape, list) else [out_shape])]
        if len(out_shapes) == len(outputs):
            for o, s in zip(outputs, out_shapes):
                if len(s) == len(o.shape):
                    # the layer's own shape rule may know dims K's inference left open, and vice versa
                    o.shape = tuple(a if a is not None else b for a, b in zip(s, o.shape))
        masks = to_list(output_mask) if output_mask is not None else [None] * len(outputs)
        for o, m in zip(outputs, masks):
            o._keras_mask = m
        if all(getattr(x, "_keras_history", None) is not None for x in input_list):
            self._add_inbound_node(input_list, outputs, previous_mask, masks, kwargs)
        if getattr(self, "activity_regularizer", None) is not None:
            self.add_loss([self.activity_regularizer(o) for o in outputs], inputs=input_list)
        if isinstance(output, (list, tuple)) and len(outputs) != 1:
            return outputs
        return outputs[0]  # Keras 2 unpacks a one-element list (e.g. a Lambda returning K.gradients)

    # a layer computes in its dtype: floating inputs of another float dtype are cast on the way in
    # (tf.keras 2's autocasting, which mixed float32/float64 models saved by it rely on); a
    # container (Network) leaves that to the layers inside it
    _autocast = True

    def _cast_inputs(self, inputs):
        dtype = getattr(self, "dtype", None)
        if not self._autocast or not _is_float(dtype):
            return inputs

        def cast(x):
            if isinstance(x, Tensor) and _is_float(x.dtype) and np.dtype(x.dtype) != np.dtype(dtype):
                y = K.cast(x, dtype)
                y._keras_mask = getattr(x, "_keras_mask", None)
                return y
            return x
        return [cast(x) for x in inputs] if isinstance(inputs, list) else cast(inputs)

    def _add_inbound_node(self, input_tensors, output_tensors, input_masks, output_masks, arguments):
        inbound_layers, node_indices, tensor_indices = [], [], []
        for x in input_tensors:
            layer, node_index, tensor_index = x._keras_history
            inbound_layers.append(layer)
            node_indices.append(node_index)
            tensor_indices.append(tensor_index)
        arguments = {k: v for k, v in arguments.items() if k != "mask"}
        Node(self, inbound_layers, node_indices, tensor_indices, list(input_tensors), list(output_tensors),
             list(input_masks or [None] * len(input_tensors)), list(output_masks),
             [_shape_of(x) for x in input_tensors], [_shape_of(x) for x in output_tensors], arguments)
        node_index = len(self._inbound_nodes) - 1
        for i, o in enumerate(output_tensors):
            o._keras_history = (self, node_index, i)

    # ------------------------------------------------------------------ node access
    def _node_attr(self, node_index: int, attr: str, what: str):
        if not self._inbound_nodes:
            raise RuntimeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        if not 0 <= node_index < len(self._inbound_nodes) and not -len(self._inbound_nodes) <= node_index < 0:
            raise ValueError(f"Asked to get {what} at node {node_index}, but the layer {self.name} has only "
                             f"{len(self._inbound_nodes)} inbound nodes.")
        return unpack_singleton(getattr(self._inbound_nodes[node_index], attr))

    def get_input_at(self, node_index: int):
        """get_input_at(node_index): the input tensor(s) of the node_index-th call."""
        return self._node_attr(node_index, "input_tensors", "input")

    def get_output_at(self, node_index: int):
        """get_output_at(node_index): the output tensor(s) of the node_index-th call."""
        return self._node_attr(node_index, "output_tensors", "output")

    def get_input_shape_at(self, node_index: int):
        """get_input_shape_at(node_index): the input shape(s) of the node_index-th call."""
        return self._node_attr(node_index, "input_shapes", "input shape")

    def get_output_shape_at(self, node_index: int):
        """get_output_shape_at(node_index): the output shape(s) of the node_index-th call."""
        return self._node_attr(node_index, "output_shapes", "output shape")

    def get_input_mask_at(self, node_index: int):
        return self._node_attr(node_index, "input_masks", "input mask")

    def get_output_mask_at(self, node_index: int):
        return self._node_attr(node_index, "output_masks", "output mask")

    def _single_node(self, attr: str, what: str):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} is not connected, no {what} to return.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"Layer {self.name} has multiple inbound nodes, hence the notion of \"layer {what}\" "
                                 f"is ill-defined. Use `get_{what.replace(' ', '_')}_at(node_index)` instead.")
        return unpack_singleton(getattr(self._inbound_nodes[0], attr))

    @property
    def input(self):
        return self._single_node("input_tensors", "input")

    @property
    def output(self):
        return self._single_node("output_tensors", "output")

    @property
    def input_mask(self):
        return self._single_node("input_masks", "input mask")

    @property
    def output_mask(self):
        return self._single_node("output_masks", "output mask")

    def _shared_shape(self, attr: str, what: str):
        if not self._inbound_nodes:
            if what == "input shape" and hasattr(self, "batch_input_shape"):
                return self.batch_input_shape
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        shapes = {repr(getattr(n, attr)) for n in self._inbound_nodes}
        if len(shapes) != 1:
            raise AttributeError(f"The layer \"{self.name}\" has multiple inbound nodes, with different {what}s. "
                                 f"Hence the notion of \"{what}\" is ill-defined for the layer. Use "
                                 f"`get_{what.replace(' ', '_')}_at(node_index)` instead.")
        return unpack_singleton(getattr(self._inbound_nodes[0], attr))

    @property
    def input_shape(self):
        return self._shared_shape("input_shapes", "input shape")

    @property
    def output_shape(self):
        return self._shared_shape("output_shapes", "output shape")

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _is_float(dtype) -> bool:
    try:
        return dtype is not None and np.issubdtype(np.dtype(dtype), np.floating)
    except TypeError:
        return False


def _collect_masks(inputs: list):
    masks = [getattr(x, "_keras_mask", None) for x in inputs]
    return None if all(m is None for m in masks) else masks

"""Sequential: a linear stack of layers, built eagerly when the first layer knows its input shape
and lazily (on first data) otherwise.

A recurrent layer on an input whose time axis is unknown (`Embedding(n, d)` without
`input_length`, then `LSTM`) cannot be unrolled yet: the model then defers building to the first
data, whose shape fixes the time axis, as Keras 2 defers a model without an input shape."""
from __future__ import annotations

from .. import backend as K
from ..serialization import _register_layer_classes, deserialize_layer, serialize_layer
from .base_layer import Layer
from .input_layer import Input, InputLayer
from .training import Model


class Sequential(Model):
    """Sequential(layers=None, name=None): `add(layer)`, `pop()`, and everything a Model does."""

    _tracks_attributes = False

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._stack: list[Layer] = []
        self._build_input_shape = None
        self._deferred_input = None  # (batch_shape, dtype) of an input whose time axis data will fix
        self._axes_fixed_by_data = ()
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    @property
    def layers(self) -> list:
        return list(self._stack)

    @property
    def model(self):  # Keras 2.1 code reads model.model
        return self

    def add(self, layer: Layer) -> None:
        """add(layer): append a layer; the model is (re)built when the input shape is known."""
        if not isinstance(layer, Layer):
            raise TypeError("The added layer must be an instance of class Layer. Found: " + str(layer))
        if isinstance(layer, InputLayer):
            if self._stack or self.inputs:
                raise ValueError("An InputLayer can only be the first layer of a Sequential model")
            self.inputs = [layer._inbound_nodes[0].output_tensors[0]]
            self.outputs = list(self.inputs)
            self._input_layer = layer
            return
        if not self.outputs:
            shape = getattr(layer, "batch_input_shape", None)
            if shape is None and isinstance(layer, Model) and layer._is_graph_network and layer.inputs:
                shape = K.int_shape(layer.inputs[0])
            if shape is not None:
                x = Input(batch_shape=shape, dtype=getattr(layer, "dtype", None), name=layer.name + "_input")
                self.inputs = [x]
                self.outputs = [x]
        self._stack.append(layer)
        if self.outputs:
            try:
                self._connect(layer)
            except ValueError as err:
                from ..layers._utils import UnknownTimestepsError  # layers import the engine: no cycle
                if not isinstance(err, UnknownTimestepsError):
                    raise
                self._defer(layer)
        else:
            self.built = False

    def _defer(self, layer: Layer) -> None:  # noqa: ARG002  (the layer stays on the stack)
        """Forget the graph built so far and wait for data: its shape gives the unknown axes."""
        x = self.inputs[0]
        self._deferred_input = (K.int_shape(x), K.dtype(x))
        self.inputs, self.outputs = [], []
        self._layers = []
        self._is_graph_network = False
        self.built = False

    def _connect(self, layer: Layer) -> None:
        out = layer(self.outputs[0])
        if isinstance(out, list):
            raise ValueError("All layers in a Sequential model should have a single output tensor. For multi-output "
                             f"layers, use the functional API (layer {layer.name} has {len(out)} outputs).")
        self.outputs = [out]
        self._init_graph_network(self.inputs, self.outputs)

    def pop(self) -> None:
        """pop(): remove the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        self._stack.pop()
        if not self._stack:
            self.outputs = list(self.inputs)
            self._layers = []
            self.built = False
            return
        if self.inputs:
            self._rebuild(self.inputs)

    def _rebuild(self, inputs) -> None:
        x = inputs[0]
        for layer in self._stack:
            x = layer(x)
        self.inputs, self.outputs = list(inputs), [x]
        self._init_graph_network(self.inputs, self.outputs)

    def build(self, input_shape=None) -> None:
        """build(input_shape=None): connect the layers on an input of `input_shape` (with batch)."""
        if input_shape is not None and not self.inputs and self._deferred_input is not None:
            self._build_deferred(tuple(input_shape))
        elif input_shape is not None and not self.inputs:
            x = Input(batch_shape=tuple(input_shape), name=self._stack[0].name + "_input" if self._stack else None)
            self._build_input_shape = tuple(input_shape)
            self._rebuild([x])
        elif self.inputs and len(self.outputs) == 1 and self.outputs[0] is self.inputs[0] and self._stack:
            self._rebuild(self.inputs)
        if not self.inputs:
            raise ValueError(f"Sequential model {self.name} cannot be built: the first layer needs an `input_shape` "
                             "or call build(input_shape) / fit / predict on data first")
        self.built = True

    def _ensure_built(self, x) -> None:
        if not self.inputs or not self._is_graph_network:
            import numpy as np
            first = x[0] if isinstance(x, (list, tuple)) else x
            shape = (None,) + tuple(np.shape(first))[1:]
            if self._deferred_input is not None:
                self._build_deferred(shape)
            else:
                self.build(shape)

    def _build_deferred(self, data_shape: tuple) -> None:
        """Build on an input of the data's shape where the first layer's shape left axes unknown."""
        want, dtype = self._deferred_input
        if len(want) != len(data_shape) or any(w is not None and w != d for w, d in zip(want[1:], data_shape[1:])):
            raise ValueError(f"Sequential model {self.name}: expected input of shape {want[1:]} (None: any), got data "
                             f"of shape {data_shape[1:]}")
        batch_shape = (want[0],) + tuple(data_shape[1:])
        x = Input(batch_shape=batch_shape, dtype=dtype, name=self._stack[0].name + "_input")
        self._rebuild([x])
        self._deferred_input = None
        # the axes the first data fixed (a recurrent layer is unrolled over a known length): data
        # checks name them when later data differs there (engine/data.py)
        self._axes_fixed_by_data = tuple(i for i, w in enumerate(want) if i and w is None)
        self._build_input_shape = batch_shape
        self.built = True

    def get_config(self) -> dict:
        config = {"name": self.name, "layers": [serialize_layer(l) for l in self._stack]}
        if self._build_input_shape is not None:
            config["build_input_shape"] = self._build_input_shape
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if isinstance(config, list):  # Keras 2.1 and earlier
            name, layer_configs, build_shape = None, config, None
        else:
            name, layer_configs = config.get("name"), config["layers"]
            build_shape = config.get("build_input_shape")
        model = cls(name=name)
        for conf in layer_configs:
            model.add(deserialize_layer(conf, custom_objects=custom_objects))
        if not model.inputs and build_shape:
            model.build(build_shape)
        return model

    def predict_classes(self, x, batch_size=32, verbose=0):
        """predict_classes(x, batch_size=32, verbose=0): argmax over classes (or p > 0.5)."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        """predict_proba(x, batch_size=32, verbose=0): predict (a warning if outside [0, 1])."""
        preds = self.predict(x, batch_size, verbose)
        if preds.min() < 0.0 or preds.max() > 1.0:
            import warnings
            warnings.warn("Network returning invalid probability values. The last layer might not normalize "
                          "predictions into probabilities (like softmax or sigmoid would).")
        return preds


# layer configs may name it (keraslite.serialization's table of keraslite's own classes)
_register_layer_classes({"Sequential": Sequential})

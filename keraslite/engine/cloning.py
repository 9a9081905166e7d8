"""clone_model (keras.models.clone_model): the same architecture on new layers, hence new weights.

Each layer is recreated from its config (its own class, so custom layers need no custom_objects);
a Lambda keeps its Python function, and a nested model is cloned in turn. The graph is then
replayed node by node on the new inputs, with each call's keyword arguments."""
from __future__ import annotations

from .. import backend as K
from ..utils.generic_utils import to_list


def _clone_layer(layer):
    from ..layers.core import Lambda
    from .network import Network
    if isinstance(layer, Network):
        return clone_model(layer)
    if isinstance(layer, Lambda):
        # a config refers to functions by name; the clone calls the very same function
        return Lambda(layer.function, output_shape=layer._output_shape, mask=layer.mask, arguments=layer.arguments,
                      name=layer.name, trainable=layer.trainable)
    return layer.__class__.from_config(layer.get_config())


def _input_like(layer, tensor=None):
    from .input_layer import Input
    if tensor is not None:
        return Input(tensor=tensor, name="input_wrapper_for_" + layer.name) if not K.is_keras_tensor(tensor) \
            else tensor
    return Input(batch_shape=layer.batch_input_shape, dtype=layer.dtype, sparse=getattr(layer, "sparse", False),
                 name=layer.name)


def _check_inputs(model, input_tensors):
    input_tensors = to_list(input_tensors)
    if len(input_tensors) != len(model.inputs):
        raise ValueError(f"clone_model: model {model.name} has {len(model.inputs)} inputs, but input_tensors has "
                         f"{len(input_tensors)}")
    return input_tensors


def _clone_functional(model, input_tensors=None):
    from .input_layer import InputLayer
    from .training import Model
    layer_map: dict = {}
    tensor_map: dict = {}
    given = _check_inputs(model, input_tensors) if input_tensors is not None else [None] * len(model.inputs)
    new_inputs = []
    for x, layer, t in zip(model.inputs, model._input_layers, given):
        new = _input_like(layer, t)
        new_inputs.append(new)
        tensor_map[id(x)] = (new, getattr(new, "_keras_mask", None))
        layer_map[id(layer)] = new._keras_history[0] if t is None else layer
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer = node.outbound_layer
            if isinstance(layer, InputLayer):
                continue
            if id(layer) not in layer_map:
                layer_map[id(layer)] = _clone_layer(layer)
            new_layer = layer_map[id(layer)]
            if not all(id(x) in tensor_map for x in node.input_tensors):
                continue
            computed = [tensor_map[id(x)] for x in node.input_tensors]
            kwargs = dict(node.arguments)
            masks = [m for _, m in computed]
            if len(computed) == 1:
                if "mask" not in kwargs and masks[0] is not None:
                    kwargs["mask"] = masks[0]
                out = new_layer(computed[0][0], **kwargs)
            else:
                if "mask" not in kwargs and any(m is not None for m in masks):
                    kwargs["mask"] = masks
                out = new_layer([t for t, _ in computed], **kwargs)
            for ref, o in zip(node.output_tensors, to_list(out)):
                tensor_map[id(ref)] = (o, getattr(o, "_keras_mask", None))
    outputs = [tensor_map[id(x)][0] for x in model.outputs]
    return Model(new_inputs, outputs, name=model.name)


def _clone_sequential(model, input_tensors=None):
    from .input_layer import InputLayer
    from .sequential import Sequential
    layers = [_clone_layer(layer) for layer in model.layers if not isinstance(layer, InputLayer)]
    if input_tensors is None:
        clone = Sequential(name=model.name)
        if model.inputs:
            layer = model.inputs[0]._keras_history[0]
            clone.add(InputLayer(batch_input_shape=layer.batch_input_shape, dtype=layer.dtype, name=layer.name))
        elif model._deferred_input is not None:
            clone._deferred_input = model._deferred_input
        for layer in layers:
            clone.add(layer)
        return clone
    tensors = _check_inputs(model, input_tensors) if model.inputs else to_list(input_tensors)
    if len(tensors) != 1:
        raise ValueError("clone_model: a Sequential model takes one input tensor, got " + str(len(tensors)))
    x = tensors[0]
    if K.is_keras_tensor(x):
        origin = x._keras_history[0]
        if isinstance(origin, InputLayer):
            return Sequential(layers=[origin] + layers, name=model.name)
        from .training import Model
        out = x
        for layer in layers:
            out = layer(out)
        return Model(x, out, name=model.name)
    return Sequential(layers=[InputLayer(input_tensor=x, name="input_wrapper_for_" + model.name)] + layers,
                      name=model.name)


def clone_model(model, input_tensors=None):
    """clone_model(model, input_tensors=None): a new model with the architecture of the functional
    or Sequential `model` on new layers (freshly initialised weights: copy them with
    `clone.set_weights(model.get_weights())`), built on `input_tensors` if given, else on new
    Inputs like the model's.

    # Raises
        ValueError: `model` is not a functional or Sequential Model (a subclassed model has no
            graph to replay), or `input_tensors` does not match its inputs.
    """
    from .network import Network
    from .sequential import Sequential
    if isinstance(model, Sequential):
        return _clone_sequential(model, input_tensors)
    if not isinstance(model, Network):
        raise ValueError(f"Expected `model` argument to be a `Model` instance, got {model!r}")
    if not model._is_graph_network:
        raise ValueError("Expected `model` argument to be a functional `Model` instance, but got a subclass of "
                         "Model instead.")
    return _clone_functional(model, input_tensors)

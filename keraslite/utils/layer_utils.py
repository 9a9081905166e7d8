"""keras.utils.layer_utils: print_summary, count_params and get_source_inputs."""
from __future__ import annotations

import numpy as np


def print_summary(model, line_length=None, positions=None, print_fn=None) -> None:
    """print_summary(model, line_length=None, positions=None, print_fn=None): model.summary()."""
    # the table is the engine's (engine/summary.py); utils sits below the engine and asks the model
    model.summary(line_length=line_length, positions=positions, print_fn=print_fn)


def count_params(weights) -> int:
    """count_params(weights): the number of scalars in the (distinct) weights."""
    seen, total = set(), 0
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            total += int(np.prod(w.shape))
    return total


def get_source_inputs(tensor, layer=None, node_index=None) -> list:
    """get_source_inputs(tensor, layer=None, node_index=None): the Input tensors `tensor` is
    computed from."""
    if not hasattr(tensor, "_keras_history"):
        return [tensor]
    if layer is None or node_index is None:
        layer, node_index, _ = tensor._keras_history
    if not layer._inbound_nodes:
        return [tensor]
    node = layer._inbound_nodes[node_index]
    if not node.inbound_layers:
        return list(node.input_tensors)
    sources = []
    for x, inbound, index in zip(node.input_tensors, node.inbound_layers, node.node_indices):
        for s in get_source_inputs(x, inbound, index):
            if all(s is not t for t in sources):
                sources.append(s)
    return sources


# Keras 2 converts exactly these classes (SeparableConv2D existed only on TensorFlow)
_CONV_CLASSES = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose"}


def convert_all_kernels_in_model(model) -> None:
    """convert_all_kernels_in_model(model): flip the kernels of the Conv1D, Conv2D, Conv3D and
    Conv2DTranspose layers of `model.layers` between the Theano and TensorFlow conventions
    (Keras 2 semantics: the model's own layers, matched by class name; all set in one batch)."""
    from .. import backend as K
    from .conv_utils import convert_kernel
    to_assign = []
    for layer in model.layers:
        if type(layer).__name__ in _CONV_CLASSES:
            to_assign.append((layer.kernel, convert_kernel(K.get_value(layer.kernel))))
    K.batch_set_value(to_assign)


def convert_dense_weights_data_format(dense, previous_feature_map_shape, target_data_format="channels_first") -> None:
    """convert_dense_weights_data_format(dense, previous_feature_map_shape,
    target_data_format='channels_first'): reorder the kernel rows of a Dense layer that follows
    a Flatten, so that it reads the flattened feature map of a model using the other data format.

    # Arguments
        dense: the Dense layer to convert (changed in place).
        previous_feature_map_shape: the shape of the feature map before the Flatten, without the
            batch axis, in `target_data_format` (e.g. `(512, 7, 7)` for channels_first).
        target_data_format: 'channels_last' to convert a channels_first model to channels_last,
            'channels_first' for the reverse.
    """
    if target_data_format not in ("channels_first", "channels_last"):
        raise ValueError("convert_dense_weights_data_format: target_data_format must be 'channels_first' or "
                         f"'channels_last', got {target_data_format!r}")
    shape = tuple(int(d) for d in previous_feature_map_shape)
    weights = dense.get_weights()
    if not weights:
        raise ValueError(f"convert_dense_weights_data_format: layer {getattr(dense, 'name', dense)!r} has no "
                         "weights (build it first)")
    kernel = weights[0]
    if len(shape) < 2 or kernel.ndim != 2 or int(np.prod(shape)) != kernel.shape[0]:
        raise ValueError(f"convert_dense_weights_data_format: previous_feature_map_shape {shape} does not match "
                         f"the kernel of layer {dense.name!r}, shape {kernel.shape} (its rows must number "
                         "the product of the feature map shape)")
    n = len(shape)
    if target_data_format == "channels_first":  # rows are in channels_last order now
        source = shape[1:] + shape[:1]
        order = (n - 1,) + tuple(range(n - 1))
    else:  # rows are in channels_first order now
        source = shape[-1:] + shape[:-1]
        order = tuple(range(1, n)) + (0,)
    units = kernel.shape[1]
    moved = kernel.reshape(source + (units,)).transpose(order + (n,))
    dense.set_weights([moved.reshape(kernel.shape)] + list(weights[1:]))

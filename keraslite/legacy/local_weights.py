"""Read the kernels tf.keras's LocallyConnected1D/2D save with `implementation=2` or `3` (and the
optimizer state kept for them) into keraslite's layout (Keras 2.3's, tf.keras's
`implementation=1`).

All three implementations hold the same weights: one per (output position, filter, input
position in that output's patch, input channel). keraslite keeps them as
(output positions, patch size * channels, filters). Implementation 2 keeps a dense kernel over
every (input element, output element) pair, zero outside each output's receptive field, shaped
input dims + output dims in the layer's data format (channels_last: (in_len, in_dim, out_len,
filters) and (in_rows, in_cols, channels, out_rows, out_cols, filters); channels_first: (in_dim,
in_len, filters, out_len) and (channels, in_rows, in_cols, filters, out_rows, out_cols)).
Implementation 3 keeps only the connected entries, as a vector ordered by (flat output index,
flat input index), both flattened in the data format's order. The converter computes, for each of
keraslite's entries, the flat input and output index it connects, and reads it from either. The
layout is recognised from the saved kernel's rank (4 or 6: implementation 2, 1: implementation 3).
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["local_kernel_converter", "local_state_converter"]


def _connections(layer):
    """(out_idx, in_idx): for each entry of keraslite's kernel (positions, patch * channels,
    filters), the flat output and input index it connects, flattened as tf.keras does."""
    ksize, strides = tuple(layer.kernel_size), tuple(layer.strides)
    in_sp, out_sp = tuple(layer.input_spatial), tuple(layer.output_spatial)
    filters = layer.filters
    first = layer.data_format == "channels_first"
    channels = layer.kernel_shape[1] // int(np.prod(ksize))
    positions = list(itertools.product(*[range(o) for o in out_sp]))
    offsets = list(itertools.product(*[range(k) for k in ksize]))
    # keraslite's patch order: (offset, channel) channels_last, (channel, offset) channels_first
    patch = [(off, c) for c in range(channels) for off in offsets] if first else \
        [(off, c) for off in offsets for c in range(channels)]
    n_in, n_out = int(np.prod(in_sp)), int(np.prod(out_sp))
    out_idx = np.empty(layer.kernel_shape, dtype=np.int64)
    in_idx = np.empty(layer.kernel_shape, dtype=np.int64)
    f = np.arange(filters)
    for p, pos in enumerate(positions):
        out_flat = np.ravel_multi_index(pos, out_sp)
        out_idx[p] = (f * n_out + out_flat) if first else (out_flat * filters + f)
        for i, (off, c) in enumerate(patch):
            src = np.ravel_multi_index(tuple(o * s + a for o, s, a in zip(pos, strides, off)), in_sp)
            in_idx[p, i] = (c * n_in + src) if first else (src * channels + c)
    return out_idx, in_idx


def _from_saved(saved, layer):
    """keraslite's kernel (or a state of the same shape) from implementation 2's or 3's array."""
    out_idx, in_idx = _connections(layer)
    saved = np.asarray(saved)
    if saved.ndim == 1:  # implementation 3: the connected entries in sorted (output, input) order
        if saved.size != out_idx.size:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): the saved implementation=3 kernel "
                             f"has {saved.size} entries, the layer connects {out_idx.size}")
        order = np.lexsort((in_idx.ravel(), out_idx.ravel()))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return saved[rank].reshape(out_idx.shape)
    n_in = int(np.prod(layer.input_spatial)) * (layer.kernel_shape[1] // int(np.prod(layer.kernel_size)))
    if saved.size != n_in * int(np.prod(layer.output_spatial)) * layer.filters:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): the saved implementation=2 kernel of "
                         f"shape {saved.shape} does not match the layer's inputs and outputs")
    return saved.reshape(n_in, -1)[in_idx, out_idx]


def _saved_rank(layer):
    return {"LocallyConnected1D": (4, 1), "LocallyConnected2D": (6, 1)}.get(type(layer).__name__)


def local_kernel_converter(layer, saved_shapes, target_shapes):
    """local_kernel_converter(layer, saved_shapes, target_shapes): a function turning the saved
    arrays into keraslite's when `layer` is a LocallyConnected1D/2D whose saved kernel has
    implementation 2's or 3's rank; else None."""
    ranks = _saved_rank(layer)
    if ranks is None or not saved_shapes or len(saved_shapes[0]) not in ranks or len(target_shapes[0]) != 3:
        return None
    name = type(layer).__name__

    def convert(arrays):
        arrays = list(arrays)
        arrays[0] = _from_saved(arrays[0], layer)
        if tuple(arrays[0].shape) != tuple(target_shapes[0]):
            raise ValueError(f"Layer {layer.name!r} ({name}): the saved kernel gives {arrays[0].shape}, the layer "
                             f"needs {tuple(target_shapes[0])}")
        for i in range(1, len(arrays)):
            if tuple(np.shape(arrays[i])) != tuple(target_shapes[i]):
                raise ValueError(f"Layer {layer.name!r} ({name}): saved weight {i} has shape {np.shape(arrays[i])}, "
                                 f"the layer needs {tuple(target_shapes[i])}")
        return arrays
    return convert


def local_state_converter(layers, params):
    """local_state_converter(layers, params): a function (param index, saved array) -> the array
    in keraslite's layout, for optimizer state saved for the implementation 2/3 kernel of a
    LocallyConnected1D/2D among `layers`; other arrays come back unchanged."""
    owners = {}
    for layer in layers:
        kernel = getattr(layer, "kernel", None)
        if _saved_rank(layer) is not None and kernel is not None:
            owners[id(kernel)] = layer
    by_index = {i: owners[id(p)] for i, p in enumerate(params) if id(p) in owners}

    def convert(i, value):
        layer = by_index.get(i)
        if layer is None or np.ndim(value) not in _saved_rank(layer) or np.shape(value) == tuple(layer.kernel_shape):
            return value
        if np.ndim(value) == 1 and np.size(value) != int(np.prod(layer.kernel_shape)):
            return value
        return _from_saved(value, layer)
    return convert

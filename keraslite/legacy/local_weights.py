"""Read the kernels tf.keras's LocallyConnected1D/2D save with `implementation=2` into keraslite's
layout (Keras 2.3's, tf.keras's `implementation=1`).

Implementation 2 keeps a dense kernel over every (input position, output position) pair, zero
outside each output's receptive field; implementation 1 keeps, per output position, only the
weights of its patch. The same maths: the converter picks each output position's patch out of
the dense kernel. The saved layout is recognised from the kernel's rank alone (channels_last:
(in_len, in_dim, out_len, filters) and (in_rows, in_cols, channels, out_rows, out_cols, filters);
channels_first: (in_dim, in_len, filters, out_len) and (channels, in_rows, in_cols, filters,
out_rows, out_cols)). The sparse `implementation=3` is refused by keraslite.legacy.keras2_compat.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["local_kernel_converter"]


def _from_dense_1d(k2, layer):
    (ksize,), (stride,) = layer.kernel_size, layer.strides
    if layer.data_format == "channels_first":
        dim, _, filters, out_len = k2.shape
        get = lambda o, a, c: k2[c, o * stride + a, :, o]  # noqa: E731
        order = [(c, a) for c in range(dim) for a in range(ksize)]
    else:
        _, dim, out_len, filters = k2.shape
        get = lambda o, a, c: k2[o * stride + a, c, o, :]  # noqa: E731
        order = [(c, a) for a in range(ksize) for c in range(dim)]
    k1 = np.empty((out_len, ksize * dim, filters), dtype=k2.dtype)
    for o in range(out_len):
        for i, (c, a) in enumerate(order):
            k1[o, i] = get(o, a, c)
    return k1


def _from_dense_2d(k2, layer):
    (kr, kc), (sr, sc) = layer.kernel_size, layer.strides
    if layer.data_format == "channels_first":
        channels, _, _, filters, out_r, out_c = k2.shape
        get = lambda i, j, a, b, ch: k2[ch, i * sr + a, j * sc + b, :, i, j]  # noqa: E731
        order = [(a, b, ch) for ch in range(channels) for a in range(kr) for b in range(kc)]
    else:
        _, _, channels, out_r, out_c, filters = k2.shape
        get = lambda i, j, a, b, ch: k2[i * sr + a, j * sc + b, ch, i, j, :]  # noqa: E731
        order = [(a, b, ch) for a in range(kr) for b in range(kc) for ch in range(channels)]
    k1 = np.empty((out_r * out_c, kr * kc * channels, filters), dtype=k2.dtype)
    for i, j in itertools.product(range(out_r), range(out_c)):
        for n, (a, b, ch) in enumerate(order):
            k1[i * out_c + j, n] = get(i, j, a, b, ch)
    return k1


def local_kernel_converter(layer, saved_shapes, target_shapes):
    """local_kernel_converter(layer, saved_shapes, target_shapes): a function turning the saved
    arrays into keraslite's when `layer` is a LocallyConnected1D/2D whose saved kernel has
    implementation 2's rank; else None."""
    name = type(layer).__name__
    rank = {"LocallyConnected1D": 4, "LocallyConnected2D": 6}.get(name)
    if rank is None or not saved_shapes or len(saved_shapes[0]) != rank or len(target_shapes[0]) != 3:
        return None
    dense = _from_dense_1d if rank == 4 else _from_dense_2d

    def convert(arrays):
        arrays = list(arrays)
        arrays[0] = dense(np.asarray(arrays[0]), layer)
        if tuple(arrays[0].shape) != tuple(target_shapes[0]):
            raise ValueError(f"Layer {layer.name!r} ({name}): the saved implementation=2 kernel gives "
                             f"{arrays[0].shape}, the layer needs {tuple(target_shapes[0])}")
        for i in range(1, len(arrays)):
            if tuple(np.shape(arrays[i])) != tuple(target_shapes[i]):
                raise ValueError(f"Layer {layer.name!r} ({name}): saved weight {i} has shape {np.shape(arrays[i])}, "
                                 f"the layer needs {tuple(target_shapes[i])}")
        return arrays
    return convert

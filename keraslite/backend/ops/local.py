"""Locally connected (unshared-weight) convolutions: K.local_conv1d and K.local_conv2d.

Composed from existing ops, so the gradients come from theirs: one `gather` collects every output
position's input patch (the spatial axes flattened and moved first), then one batched `matmul`
applies each position's own kernel. Kernel layouts are Keras 2's: (positions, patch_features,
filters), the patch features ordered (kernel taps..., channels) for channels_last inputs and
(channels, kernel taps...) for channels_first.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..config import normalize_data_format
from ..graph import Constant, apply, as_tensor, num_elements, shape_str
from .linalg import matmul
from .math import _float, cast
from .shape import permute_dimensions, reshape
from .tensors import shape as shape_


def _ints(value, n, name, who):
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v < 1 for v in value):
        raise ValueError(f"{who}: {name} must be {n} positive ints, got {value!r}")
    return value


def _local_conv(inputs, kernel, kernel_size, strides, output_shape, data_format, who):
    data_format = normalize_data_format(data_format)
    x = _float(inputs, who)
    kernel = as_tensor(kernel)
    rank = len(output_shape)
    if x.ndim != rank + 2:
        raise ValueError(f"{who}: expects inputs of rank {rank + 2}, got {shape_str(x.shape)}")
    if kernel.ndim != 3:
        raise ValueError(f"{who}: kernel must be (positions, patch_features, filters), got {shape_str(kernel.shape)}")
    if kernel.dtype != x.dtype:
        kernel = cast(kernel, x.dtype)
    if data_format == "channels_first":
        channels, spatial = x.shape[1], x.shape[2:]
        to_last = [*range(2, rank + 2), 0, 1]  # (spatial..., N, C)
    else:
        channels, spatial = x.shape[-1], x.shape[1:-1]
        to_last = [*range(1, rank + 1), 0, rank + 1]
    if channels is None or any(d is None for d in spatial):
        raise ValueError(f"{who}: the spatial and channel dimensions of the inputs must be known, got "
                         f"{shape_str(x.shape)}")
    taps = num_elements(tuple(kernel_size))
    positions = num_elements(tuple(output_shape))
    features = taps * channels
    if kernel.shape[0] not in (None, positions) or kernel.shape[1] not in (None, features):
        raise ValueError(f"{who}: kernel {shape_str(kernel.shape)} does not match {positions} output positions "
                         f"x {features} patch features (kernel_size {tuple(kernel_size)}, {channels} channels)")
    for size, k, s, o in zip(spatial, kernel_size, strides, output_shape):
        if (o - 1) * s + k > size:
            raise ValueError(f"{who}: output_shape {tuple(output_shape)} with kernel_size {tuple(kernel_size)} and "
                             f"strides {tuple(strides)} does not fit in inputs {shape_str(x.shape)}")
    # index[p, k]: the flat spatial index of tap k of output position p
    flat = np.arange(num_elements(tuple(spatial))).reshape(spatial)
    index = np.empty((positions, taps), dtype=np.int64)
    for p, pos in enumerate(itertools.product(*[range(o) for o in output_shape])):
        window = tuple(slice(q * s, q * s + k) for q, s, k in zip(pos, strides, kernel_size))
        index[p] = flat[window].reshape(-1)
    # the batch entry is spelled out: with a zero-size axis, -1 would be undetermined
    batch = x.shape[0] if x.shape[0] is not None else shape_(x)[0]
    xs = reshape(permute_dimensions(x, to_last), (num_elements(tuple(spatial)), batch, channels))  # (HW, N, C)
    patches = apply("gather", xs, Constant(index))  # (P, taps, N, C)
    order = (0, 2, 3, 1) if data_format == "channels_first" else (0, 2, 1, 3)
    patches = reshape(permute_dimensions(patches, order), (positions, batch, features))  # (P, N, features)
    out = matmul(patches, kernel)  # (P, N, filters)
    filters = kernel.shape[2] if kernel.shape[2] is not None else -1
    out = reshape(out, tuple(output_shape) + (batch, filters))
    if data_format == "channels_first":
        perm = [rank, rank + 1, *range(rank)]
    else:
        perm = [rank, *range(rank), rank + 1]
    return permute_dimensions(out, perm)


def local_conv1d(inputs, kernel, kernel_size, strides, data_format=None):
    """local_conv1d(inputs, kernel, kernel_size, strides, data_format=None): 1-D convolution with
    a different kernel at every output step ('valid' windows). inputs (N, steps, in)
    (channels_first: (N, in, steps)); kernel (output_length, kernel_size * in, filters); output
    (N, output_length, filters) (channels_first: (N, filters, output_length))."""
    who = "local_conv1d"
    kernel_size = _ints(kernel_size, 1, "kernel_size", who)
    strides = _ints(strides, 1, "strides", who)
    kernel = as_tensor(kernel)
    if kernel.ndim != 3 or kernel.shape[0] is None:
        raise ValueError(f"{who}: kernel must be (output_length, kernel_size * in, filters) with a known "
                         f"output_length, got {shape_str(kernel.shape)}")
    return _local_conv(inputs, kernel, kernel_size, strides, (kernel.shape[0],), data_format, who)


def local_conv2d(inputs, kernel, kernel_size, strides, output_shape, data_format=None):
    """local_conv2d(inputs, kernel, kernel_size, strides, output_shape, data_format=None): 2-D
    convolution with a different kernel at every output position ('valid' windows). inputs
    (N, rows, cols, in) (channels_first: (N, in, rows, cols)); kernel
    (out_rows * out_cols, kh * kw * in, filters); output_shape (out_rows, out_cols); output
    (N, out_rows, out_cols, filters) (channels_first: (N, filters, out_rows, out_cols))."""
    who = "local_conv2d"
    kernel_size = _ints(kernel_size, 2, "kernel_size", who)
    strides = _ints(strides, 2, "strides", who)
    output_shape = _ints(output_shape, 2, "output_shape", who)
    return _local_conv(inputs, kernel, kernel_size, strides, output_shape, data_format, who)

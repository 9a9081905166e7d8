"""3-D convolution, pooling and resizing (K.conv3d, conv3d_transpose, pool3d, resize_volumes):
the rank-generic primitives of spatial.py on channels-last (N, D, H, W, C), as in 2-D (ops/conv.py)."""
from __future__ import annotations

from ..config import normalize_data_format
from ..graph import Tensor, apply, as_tensor, shape_str
from ._conv_common import _check_float, _from_last, _output_shape_entries, _pads, _to_last, _tuple
from .spatial import conv, conv_infer, pool

_NO_DILATION_3D = (1, 1, 1)


def _check_5d(x, kernel, who):
    if x.ndim != 5 or kernel.ndim != 5:
        raise ValueError(f"{who}: expects a 5-D input and a 5-D kernel, got {shape_str(x.shape)} and "
                         f"{shape_str(kernel.shape)}")


def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format=None, dilation_rate=(1, 1, 1)):
    """conv3d(x, kernel, strides=(1, 1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1, 1)): 3-D convolution (cross-correlation); kernel (kd, kh, kw, in, out)."""
    data_format = normalize_data_format(data_format)
    x, kernel = as_tensor(x), as_tensor(kernel)
    _check_5d(x, kernel, "conv3d")
    strides = _tuple(strides, 3, "strides", "conv3d")
    dilation = _tuple(dilation_rate, 3, "dilation_rate", "conv3d")
    kernel = _check_float(x, kernel, "conv3d")
    xl = _to_last(x, data_format)
    pads = _pads(padding, xl.shape[1:4], kernel.shape[:3], strides, dilation, "conv3d")
    return _from_last(conv(xl, kernel, strides, pads, dilation), data_format)


def conv3d_transpose(x, kernel, output_shape, strides=(1, 1, 1), padding="valid", data_format=None):
    """conv3d_transpose(x, kernel, output_shape, strides=(1, 1, 1), padding='valid',
    data_format=None): the gradient of conv3d with respect to its input; kernel
    (kd, kh, kw, out_channels, in_channels); output_shape in the given data_format (batch may be None)."""
    data_format = normalize_data_format(data_format)
    x, kernel = as_tensor(x), as_tensor(kernel)
    _check_5d(x, kernel, "conv3d_transpose")
    strides = _tuple(strides, 3, "strides", "conv3d_transpose")
    dilation = _NO_DILATION_3D
    out = _output_shape_entries(output_shape, "conv3d_transpose")
    if len(out) != 5:
        raise ValueError(f"conv3d_transpose: output_shape must have 5 entries, got {output_shape!r}")
    if None in out[1:]:
        raise ValueError(f"conv3d_transpose: the spatial and channel entries of output_shape must be known "
                         f"when the graph is built (only the batch may be a tensor or None), got {output_shape!r}")
    if data_format == "channels_first":
        out = (out[0], out[2], out[3], out[4], out[1])
    kernel = _check_float(x, kernel, "conv3d_transpose")
    xl = _to_last(x, data_format)
    if xl.shape[4] is not None and xl.shape[4] != kernel.shape[4]:
        raise ValueError(f"conv3d_transpose: the input has {xl.shape[4]} channels but the kernel "
                         f"{shape_str(kernel.shape)} expects {kernel.shape[4]}")
    pads = _pads(padding, out[1:4], kernel.shape[:3], strides, dilation, "conv3d_transpose")
    expected = conv_infer(Tensor("placeholder", (), {}, out, x.dtype), kernel, strides, pads, dilation, 1)[0]
    if expected[1:] != xl.shape[1:] and None not in xl.shape[1:]:
        raise ValueError(f"conv3d_transpose: output_shape {tuple(output_shape)} would convolve to "
                         f"{shape_str(expected)}, not to the input's shape {shape_str(xl.shape)}")
    y = apply("conv_backprop_input", xl, kernel, input_shape=out[1:], strides=strides, padding=pads,
              dilation=dilation, groups=1)
    return _from_last(y, data_format)


def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format=None, pool_mode="max"):
    """pool3d(x, pool_size, strides=(1, 1, 1), padding='valid', data_format=None, pool_mode='max'):
    3-D max or average pooling; average pooling with 'same' divides by the real (unpadded) cells."""
    data_format = normalize_data_format(data_format)
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"pool3d: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    x = as_tensor(x)
    if x.ndim != 5:
        raise ValueError(f"pool3d: expects a 5-D input, got {shape_str(x.shape)}")
    pool_size = _tuple(pool_size, 3, "pool_size", "pool3d")
    strides = _tuple(strides, 3, "strides", "pool3d")
    xl = _to_last(x, data_format)
    pads = _pads(padding, xl.shape[1:4], pool_size, strides, _NO_DILATION_3D, "pool3d")
    return _from_last(pool(xl, pool_mode, pool_size, strides, pads), data_format)


def resize_volumes(x, depth_factor, height_factor, width_factor, data_format):
    """resize_volumes(x, depth_factor, height_factor, width_factor, data_format): nearest-neighbour
    upsampling of the three spatial axes of a 5-D tensor by positive integer factors."""
    from .shape import repeat_elements
    data_format = normalize_data_format(data_format)
    x = as_tensor(x)
    if x.ndim != 5:
        raise ValueError(f"resize_volumes: expects a 5-D input, got {shape_str(x.shape)}")
    factors = _tuple((depth_factor, height_factor, width_factor), 3, "depth/height/width factor",
                     "resize_volumes")
    first = 2 if data_format == "channels_first" else 1
    for a, f in enumerate(factors):
        if f != 1:
            x = repeat_elements(x, f, axis=first + a)
    return x

"""3-D convolution, pooling and resizing (K.conv3d, conv3d_transpose, pool3d, resize_volumes):
channels-last primitives on (N, D, H, W, C), as in 2-D (ops/conv.py)."""
from __future__ import annotations

from ..config import normalize_data_format
from ..graph import Tensor, apply, as_tensor, defop, shape_str
from ._conv_common import (_GEOMETRY, _avgpool_bp_infer, _axis_pad, _check_float, _from_last, _out_len,
                           _output_shape_entries, _pads, _runtime_geometry, _to_last, _tuple)

# ---------------------------------------------------------------------------------------------
# 3-D convolution, pooling and resizing (channels-last primitives on (N, D, H, W, C), as in 2-D)

_NO_DILATION_3D = (1, 1, 1)

_GEOMETRY.update({
    "conv3d": lambda arrays, a: (arrays[0].shape[1:4], arrays[1].shape[:3], a["dilation"]),
    "conv3d_backprop_input": lambda arrays, a: (a["input_shape"][:3], arrays[1].shape[:3], a["dilation"]),
    "conv3d_backprop_filter": lambda arrays, a: (arrays[0].shape[1:4], a["filter_shape"][:3], a["dilation"]),
    "max_pool3d": lambda arrays, a: (arrays[0].shape[1:4], a["pool_size"], _NO_DILATION_3D),
    "max_pool3d_backprop": lambda arrays, a: (arrays[0].shape[1:4], a["pool_size"], _NO_DILATION_3D),
    "avg_pool3d": lambda arrays, a: (arrays[0].shape[1:4], a["pool_size"], _NO_DILATION_3D),
    "avg_pool3d_backprop": lambda arrays, a: (a["input_shape"][:3], a["pool_size"], _NO_DILATION_3D),
})


def _conv3d_infer(x, w, strides, padding, dilation):
    if x.ndim != 5 or w.ndim != 5:
        raise ValueError(f"conv3d: expects a 5-D input and kernel, got {shape_str(x.shape)} and {shape_str(w.shape)}")
    cin = x.shape[4]
    if cin is not None and cin != w.shape[3]:
        raise ValueError(f"conv3d: the input has {cin} channels but the kernel {shape_str(w.shape)} expects "
                         f"{w.shape[3]}")
    out = tuple(_out_len(x.shape[1 + a], w.shape[a], strides[a], _axis_pad(padding, a), dilation[a])
                for a in range(3))
    if any(o is not None and o < 1 for o in out):
        raise ValueError(f"conv3d: the kernel {shape_str(w.shape[:3])} (dilation {dilation}) does not fit the "
                         f"input {shape_str(x.shape)} with padding {padding}")
    return (x.shape[0],) + out + (w.shape[4],), x.dtype


def _bp3_input(g, w, x, geo):
    if None in x.shape[1:]:
        return apply("conv3d_backprop_input", g, w, x, input_shape=None, **geo)
    return apply("conv3d_backprop_input", g, w, input_shape=x.shape[1:], **geo)


def _conv3d_vjp(g, y, x, w, **geo):
    return [_bp3_input(g, w, x, geo), apply("conv3d_backprop_filter", x, g, filter_shape=w.shape, **geo)]


def _bp3_input_infer(g, w, *ref, input_shape, strides, padding, dilation):
    spatial = tuple(input_shape) if input_shape is not None else ref[0].shape[1:]
    return (g.shape[0],) + spatial, g.dtype


def _bp3_input_vjp(gg, y, g, w, *ref, input_shape, **geo):
    return [apply("conv3d", gg, w, **geo),
            apply("conv3d_backprop_filter", gg, g, filter_shape=w.shape, **geo)] + [None] * len(ref)


def _bp3_filter_infer(x, g, filter_shape, strides, padding, dilation):
    return tuple(filter_shape), x.dtype


def _bp3_filter_vjp(gw, y, x, g, filter_shape, **geo):
    return [_bp3_input(g, gw, x, geo), apply("conv3d", x, gw, **geo)]


defop("conv3d", _conv3d_infer, _conv3d_vjp, build=_runtime_geometry)
defop("conv3d_backprop_input", _bp3_input_infer, _bp3_input_vjp, build=_runtime_geometry)
defop("conv3d_backprop_filter", _bp3_filter_infer, _bp3_filter_vjp, build=_runtime_geometry)


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
    y = apply("conv3d", xl, kernel, strides=strides, padding=pads, dilation=dilation)
    return _from_last(y, data_format)


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
    expected = _conv3d_infer(Tensor("placeholder", (), {}, out, x.dtype), kernel, strides, pads, dilation)[0]
    if expected[1:] != xl.shape[1:] and None not in xl.shape[1:]:
        raise ValueError(f"conv3d_transpose: output_shape {tuple(output_shape)} would convolve to "
                         f"{shape_str(expected)}, not to the input's shape {shape_str(xl.shape)}")
    y = apply("conv3d_backprop_input", xl, kernel, input_shape=out[1:], strides=strides, padding=pads,
              dilation=dilation)
    return _from_last(y, data_format)


def _pool3d_infer(x, pool_size, strides, padding):
    if x.ndim != 5:
        raise ValueError(f"pool3d: expects a 5-D input, got {shape_str(x.shape)}")
    out = tuple(_out_len(x.shape[1 + a], pool_size[a], strides[a], _axis_pad(padding, a), 1) for a in range(3))
    if any(o is not None and o < 1 for o in out):
        raise ValueError(f"pool3d: pool_size {pool_size} does not fit the input {shape_str(x.shape)}")
    return (x.shape[0],) + out + (x.shape[4],), x.dtype


def _maxpool3d_vjp(g, y, x, **geo):
    return [apply("max_pool3d_backprop", x, y, g, **geo)]


def _avgpool3d_vjp(g, y, x, **geo):
    if None in x.shape[1:]:
        return [apply("avg_pool3d_backprop", g, x, input_shape=None, **geo)]
    return [apply("avg_pool3d_backprop", g, input_shape=x.shape[1:], **geo)]


defop("max_pool3d", _pool3d_infer, _maxpool3d_vjp, build=_runtime_geometry)
defop("avg_pool3d", _pool3d_infer, _avgpool3d_vjp, build=_runtime_geometry)
defop("max_pool3d_backprop", lambda x, y, g, **geo: (x.shape, x.dtype), build=_runtime_geometry)
defop("avg_pool3d_backprop", _avgpool_bp_infer,
      lambda gg, y, g, *ref, input_shape, **geo: [apply("avg_pool3d", gg, **geo)] + [None] * len(ref),
      build=_runtime_geometry)


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
    op = "max_pool3d" if pool_mode == "max" else "avg_pool3d"
    y = apply(op, xl, pool_size=pool_size, strides=strides, padding=pads)
    return _from_last(y, data_format)


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

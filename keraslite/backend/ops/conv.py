"""Convolution, pooling, resizing and padding of images and sequences.

The primitives work on channels-last arrays with explicit (before, after) padding; the K functions
here handle Keras's padding modes ('valid', 'same' with the extra cell after, 'causal') and
channels_first by transposing around the primitive.
"""
from __future__ import annotations

from ..config import normalize_data_format
from ..graph import Tensor, apply, as_tensor, shape_str
from ._conv_common import _check_float, _from_last, _output_shape_entries, _pads, _shape_vector, _to_last, _tuple
from .shape import expand_axes, pad, reshape, squeeze_axes
from .spatial import conv, conv_infer, pool, resize

# ---------------------------------------------------------------------------------------------
# convolution (the primitives are in spatial.py)


def _conv_nhwc(x, kernel, strides, padding, dilation, groups, who):
    r = len(strides)
    pads = _pads(padding, x.shape[1:1 + r], kernel.shape[:r], strides, dilation, who)
    return conv(x, kernel, strides, pads, dilation, groups)


def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1)):
    """conv2d(x, kernel, strides=(1, 1), padding='valid', data_format=None, dilation_rate=(1, 1)):
    2-D convolution (cross-correlation); kernel (kh, kw, in, out)."""
    data_format = normalize_data_format(data_format)
    x, kernel = as_tensor(x), as_tensor(kernel)
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"conv2d: expects a 4-D input and a 4-D kernel, got {shape_str(x.shape)} and "
                         f"{shape_str(kernel.shape)}")
    strides = _tuple(strides, 2, "strides", "conv2d")
    dilation = _tuple(dilation_rate, 2, "dilation_rate", "conv2d")
    kernel = _check_float(x, kernel, "conv2d")
    y = _conv_nhwc(_to_last(x, data_format), kernel, strides, padding, dilation, 1, "conv2d")
    return _from_last(y, data_format)


def conv1d(x, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """conv1d(x, kernel, strides=1, padding='valid', data_format=None, dilation_rate=1): 1-D
    convolution of (N, steps, C); kernel (k, in, out); padding also 'causal'."""
    data_format = normalize_data_format(data_format)
    x, kernel = as_tensor(x), as_tensor(kernel)
    if x.ndim != 3 or kernel.ndim != 3:
        raise ValueError(f"conv1d: expects a 3-D input and a 3-D kernel, got {shape_str(x.shape)} and "
                         f"{shape_str(kernel.shape)}")
    (s,) = _tuple(strides, 1, "strides", "conv1d")
    (d,) = _tuple(dilation_rate, 1, "dilation_rate", "conv1d")
    if str(padding).lower() == "causal":
        if data_format != "channels_last":
            raise ValueError("conv1d: causal padding is only supported with channels_last")
        x = pad(x, ((0, 0), (d * (kernel.shape[0] - 1), 0), (0, 0)))
        padding = "valid"
    kernel = _check_float(x, kernel, "conv1d")
    y = _conv_nhwc(_to_last(x, data_format), kernel, (s,), padding, (d,), 1, "conv1d")
    return _from_last(y, data_format)


def conv2d_transpose(x, kernel, output_shape, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """conv2d_transpose(x, kernel, output_shape, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1)): the gradient of conv2d with respect to its input; kernel
    (kh, kw, out_channels, in_channels); output_shape in the given data_format (batch may be None)."""
    data_format = normalize_data_format(data_format)
    x, kernel = as_tensor(x), as_tensor(kernel)
    strides = _tuple(strides, 2, "strides", "conv2d_transpose")
    dilation = _tuple(dilation_rate, 2, "dilation_rate", "conv2d_transpose")
    out = _output_shape_entries(output_shape, "conv2d_transpose")
    if len(out) != 4:
        raise ValueError(f"conv2d_transpose: output_shape must have 4 entries, got {output_shape!r}")
    channel_axis = 1 if data_format == "channels_first" else 3
    if out[channel_axis] is None:
        raise ValueError(f"conv2d_transpose: the channel entry of output_shape must be known when the graph is "
                         f"built, got {output_shape!r}")
    order = (0, 2, 3, 1) if data_format == "channels_first" else (0, 1, 2, 3)
    out = tuple(out[i] for i in order)
    kernel = _check_float(x, kernel, "conv2d_transpose")
    xl = _to_last(x, data_format)
    pads = _pads(padding, out[1:3], kernel.shape[:2], strides, dilation, "conv2d_transpose")
    geo = dict(strides=strides, padding=pads, dilation=dilation, groups=1)
    if None in out[1:3]:
        # spatial sizes known only at run time: the shape vector is the step's shape source
        shape_vec = _shape_vector(output_shape, order)
        return _from_last(apply("conv_backprop_input", xl, kernel, shape_vec, input_shape=None, **geo), data_format)
    expected = conv_infer(Tensor("placeholder", (), {}, out, x.dtype), kernel, strides, pads, dilation, 1)[0]
    if expected[1:] != xl.shape[1:] and None not in xl.shape[1:]:
        raise ValueError(f"conv2d_transpose: output_shape {tuple(output_shape)} would convolve to "
                         f"{shape_str(expected)}, not to the input's shape {shape_str(xl.shape)}")
    y = apply("conv_backprop_input", xl, kernel, input_shape=out[1:], **geo)
    return _from_last(y, data_format)


def depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding="valid", data_format=None,
                     dilation_rate=(1, 1)):
    """depthwise_conv2d(x, depthwise_kernel, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1)): per-channel convolution; kernel (kh, kw, in, multiplier), output channel
    c * multiplier + m."""
    data_format = normalize_data_format(data_format)
    x, k = as_tensor(x), as_tensor(depthwise_kernel)
    if x.ndim != 4 or k.ndim != 4:
        raise ValueError(f"depthwise_conv2d: expects 4-D input and kernel, got {shape_str(x.shape)} and {shape_str(k.shape)}")
    strides = _tuple(strides, 2, "strides", "depthwise_conv2d")
    dilation = _tuple(dilation_rate, 2, "dilation_rate", "depthwise_conv2d")
    k = _check_float(x, k, "depthwise_conv2d")
    kh, kw, cin, dm = k.shape
    xl = _to_last(x, data_format)
    if xl.shape[3] is not None and xl.shape[3] != cin:
        raise ValueError(f"depthwise_conv2d: the input has {xl.shape[3]} channels, the kernel "
                         f"{shape_str(k.shape)} expects {cin}")
    # with no channels there are no groups: an ordinary convolution of 0 into 0 channels
    grouped = reshape(k, (kh, kw, 1, cin * dm) if cin != 0 else (kh, kw, 0, 0))
    y = _conv_nhwc(xl, grouped, strides, padding, dilation, cin if cin != 0 else 1, "depthwise_conv2d")
    return _from_last(y, data_format)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid",
                     data_format=None, dilation_rate=(1, 1)):
    """separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding='valid',
    data_format=None, dilation_rate=(1, 1)): depthwise then 1x1 pointwise convolution."""
    data_format = normalize_data_format(data_format)
    y = depthwise_conv2d(x, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv2d(y, pointwise_kernel, (1, 1), "valid", data_format)


def separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                     dilation_rate=1):
    """separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides=1, padding='valid',
    data_format=None, dilation_rate=1)."""
    data_format = normalize_data_format(data_format)
    x = _to_last(as_tensor(x), data_format)
    (s,) = _tuple(strides, 1, "strides", "separable_conv1d")
    (d,) = _tuple(dilation_rate, 1, "dilation_rate", "separable_conv1d")
    y = separable_conv2d(expand_axes(x, (1,)), expand_axes(as_tensor(depthwise_kernel), (0,)),
                         expand_axes(as_tensor(pointwise_kernel), (0,)), (1, s), padding, "channels_last", (1, d))
    return _from_last(squeeze_axes(y, (1,)), data_format)


# ---------------------------------------------------------------------------------------------
# pooling


def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format=None, pool_mode="max"):
    """pool2d(x, pool_size, strides=(1, 1), padding='valid', data_format=None, pool_mode='max'):
    2-D max or average pooling; average pooling with 'same' divides by the real (unpadded) cells."""
    data_format = normalize_data_format(data_format)
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"pool2d: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"pool2d: expects a 4-D input, got {shape_str(x.shape)}")
    pool_size = _tuple(pool_size, 2, "pool_size", "pool2d")
    strides = _tuple(strides, 2, "strides", "pool2d")
    xl = _to_last(x, data_format)
    pads = _pads(padding, xl.shape[1:3], pool_size, strides, (1, 1), "pool2d")
    return _from_last(pool(xl, pool_mode, pool_size, strides, pads), data_format)


def pool1d(x, pool_size, strides=1, padding="valid", data_format=None, pool_mode="max"):
    """pool1d(x, pool_size, strides=1, padding='valid', data_format=None, pool_mode='max'): 1-D max
    or average pooling of (N, steps, C)."""
    data_format = normalize_data_format(data_format)
    if pool_mode not in ("max", "avg"):
        raise ValueError(f"pool1d: pool_mode must be 'max' or 'avg', got {pool_mode!r}")
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"pool1d: expects a 3-D input, got {shape_str(x.shape)}")
    pool_size = _tuple(pool_size, 1, "pool_size", "pool1d")
    strides = _tuple(strides, 1, "strides", "pool1d")
    xl = _to_last(x, data_format)
    pads = _pads(padding, xl.shape[1:2], pool_size, strides, (1,), "pool1d")
    return _from_last(pool(xl, pool_mode, pool_size, strides, pads), data_format)


# ---------------------------------------------------------------------------------------------
# resize and padding


def resize_images(x, height_factor, width_factor, data_format, interpolation="nearest"):
    """resize_images(x, height_factor, width_factor, data_format, interpolation='nearest'):
    upsample the two spatial axes by positive integer factors ('nearest' or 'bilinear')."""
    data_format = normalize_data_format(data_format)
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"resize_images: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"resize_images: expects a 4-D input, got {shape_str(x.shape)}")
    factors = _tuple((height_factor, width_factor), 2, "height_factor/width_factor", "resize_images")
    xl = _to_last(x, data_format)
    if interpolation == "bilinear" and None in xl.shape[1:3]:
        raise ValueError(f"resize_images: bilinear needs known spatial dimensions, got {shape_str(x.shape)}")
    return _from_last(resize(xl, interpolation, factors), data_format)


def _pair_of_pairs(padding, n, who):
    try:
        pairs = tuple((int(a), int(b)) for a, b in padding)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: padding must be {n} (before, after) pairs, got {padding!r}") from None
    if len(pairs) != n:
        raise ValueError(f"{who}: padding must be {n} (before, after) pairs, got {padding!r}")
    return pairs


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None):
    """spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None): zero-pad the two spatial
    axes of a 4-D tensor ((top, bottom), (left, right))."""
    data_format = normalize_data_format(data_format)
    x = as_tensor(x)
    pairs = _pair_of_pairs(padding, 2, "spatial_2d_padding")
    if x.ndim not in (3, 4):
        raise ValueError(f"spatial_2d_padding: expects a 4-D tensor, got {shape_str(x.shape)}")
    # a 3-D tensor is taken as one unbatched image (the seed tutorial pads a (224, 224, 1) variable)
    batch = ((0, 0),) if x.ndim == 4 else ()
    if data_format == "channels_first":
        return pad(x, batch + ((0, 0),) + pairs)
    return pad(x, batch + pairs + ((0, 0),))


def temporal_padding(x, padding=(1, 1)):
    """temporal_padding(x, padding=(1, 1)): zero-pad axis 1 of a 3-D tensor."""
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"temporal_padding: expects a 3-D tensor, got {shape_str(x.shape)}")
    return pad(x, ((0, 0), (int(padding[0]), int(padding[1])), (0, 0)))


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None):
    """spatial_3d_padding(x, padding=((1,1),(1,1),(1,1)), data_format=None): zero-pad a 5-D tensor."""
    data_format = normalize_data_format(data_format)
    x = as_tensor(x)
    pairs = _pair_of_pairs(padding, 3, "spatial_3d_padding")
    if x.ndim != 5:
        raise ValueError(f"spatial_3d_padding: expects a 5-D tensor, got {shape_str(x.shape)}")
    if data_format == "channels_first":
        return pad(x, ((0, 0), (0, 0)) + pairs)
    return pad(x, ((0, 0),) + pairs + ((0, 0),))


# 3-D convolution, pooling and resizing live in volumetric.py (this module stays under 600 lines)
from .volumetric import conv3d, conv3d_transpose, pool3d, resize_volumes  # noqa: E402,F401

"""Convolution, pooling, resizing and padding of images and sequences.

The primitives work on channels-last arrays with explicit (before, after) padding; the K functions
here handle Keras's padding modes ('valid', 'same' with the extra cell after, 'causal') and
channels_first by transposing around the primitive.
"""
from __future__ import annotations

import numpy as np

from ..config import normalize_data_format
from ..graph import Constant, Tensor, apply, as_tensor, defop, shape_str
from .shape import expand_axes, pad, permute_dimensions, reshape, squeeze_axes

# ---------------------------------------------------------------------------------------------
# geometry


def _tuple(value, n, name, who):
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v < 1 for v in value):
        raise ValueError(f"{who}: {name} must be {n} positive ints, got {value!r}")
    return value


def _out_len(size, k, s, pad_pair, d):
    if size is None:
        return None
    if pad_pair == "same":  # deferred (see _pads): ceil(size / stride)
        return -(-size // s)
    span = d * (k - 1) + 1
    padded = size + pad_pair[0] + pad_pair[1]
    if padded < span:
        return -1
    return (padded - span) // s + 1


def _pads(padding, spatial, kernel, strides, dilation, who):
    """Explicit (before, after) pairs for Keras padding modes."""
    padding = str(padding).lower()
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    if padding == "same":
        if any(size is None for size in spatial):
            # the pads depend on sizes known only at run time: the op carries 'same' and its step
            # resolves the pads from the actual arrays (_runtime_geometry)
            return "same"
        pads = []
        for size, k, s, d in zip(spatial, kernel, strides, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")


def _axis_pad(padding, axis):
    return padding if padding == "same" else padding[axis]


def _same_pads(spatial, kernel, strides, dilation):
    return _pads("same", tuple(int(d) for d in spatial), kernel, strides, dilation, "same padding")


# What each geometry op's 'same' padding is measured on, from its run-time arrays and attributes:
# (spatial size, kernel size, dilation).
_GEOMETRY = {
    "conv2d": lambda arrays, a: (arrays[0].shape[1:3], arrays[1].shape[:2], a["dilation"]),
    "conv2d_backprop_input": lambda arrays, a: (a["input_shape"][:2], arrays[1].shape[:2], a["dilation"]),
    "conv2d_backprop_filter": lambda arrays, a: (arrays[0].shape[1:3], a["filter_shape"][:2], a["dilation"]),
    "max_pool2d": lambda arrays, a: (arrays[0].shape[1:3], a["pool_size"], (1, 1)),
    "max_pool2d_backprop": lambda arrays, a: (arrays[0].shape[1:3], a["pool_size"], (1, 1)),
    "avg_pool2d": lambda arrays, a: (arrays[0].shape[1:3], a["pool_size"], (1, 1)),
    "avg_pool2d_backprop": lambda arrays, a: (a["input_shape"][:2], a["pool_size"], (1, 1)),
}


def _runtime_geometry(node, backend):
    """The step of a conv/pool op. Static geometry binds the backend primitive as usual; when the
    graph left 'same' padding or a backprop's input_shape open (unknown spatial sizes), the step
    resolves them from the arrays of each call, the last input then being the tensor whose shape
    input_shape stands for. The backend primitives only ever see explicit geometry."""
    attrs = node.attrs
    deferred_pad = attrs.get("padding") == "same"
    deferred_shape = "input_shape" in attrs and attrs["input_shape"] is None
    if not (deferred_pad or deferred_shape):
        return backend.primitive(node.op, attrs)
    geometry = _GEOMETRY[node.op]
    bound: dict = {}  # resolved geometry -> the backend's step for it (few distinct sizes per plan)

    def step(*arrays):
        a = dict(attrs)
        if deferred_shape:
            ref = arrays[-1]
            if len(ref.shape) == 1:  # a shape vector: its values, not its shape
                a["input_shape"] = tuple(int(v) for v in backend.to_numpy(ref)[1:])
            else:
                a["input_shape"] = tuple(ref.shape[1:])
            arrays = arrays[:-1]
        if deferred_pad:
            spatial, kernel, dilation = geometry(arrays, a)
            a["padding"] = _same_pads(spatial, kernel, a["strides"], dilation)
        key = tuple(sorted(a.items()))
        fn = bound.get(key)
        if fn is None:
            fn = bound[key] = backend.primitive(node.op, a)
        return fn(*arrays)
    return step


def _to_last(x, data_format):
    if data_format == "channels_first":
        return permute_dimensions(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return x


def _from_last(x, data_format):
    if data_format == "channels_first":
        return permute_dimensions(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))
    return x


# ---------------------------------------------------------------------------------------------
# conv primitives


def _conv_infer(x, w, strides, padding, dilation, groups):
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d: expects a 4-D input and kernel, got {shape_str(x.shape)} and {shape_str(w.shape)}")
    cin = x.shape[3]
    if cin is not None and cin != w.shape[2] * groups:
        raise ValueError(f"conv2d: the input has {cin} channels but the kernel {shape_str(w.shape)} expects "
                         f"{w.shape[2] * groups}")
    ho = _out_len(x.shape[1], w.shape[0], strides[0], _axis_pad(padding, 0), dilation[0])
    wo = _out_len(x.shape[2], w.shape[1], strides[1], _axis_pad(padding, 1), dilation[1])
    if (ho is not None and ho < 1) or (wo is not None and wo < 1):
        raise ValueError(f"conv2d: the kernel {shape_str(w.shape[:2])} (dilation {dilation}) does not fit the "
                         f"input {shape_str(x.shape)} with padding {padding}")
    return (x.shape[0], ho, wo, w.shape[3]), x.dtype


def _bp_input(g, w, x, geo):
    """dL/dx of a conv: x's spatial shape is an attribute when known, else x itself is the
    shape source (see _runtime_geometry)."""
    if None in x.shape[1:]:
        return apply("conv2d_backprop_input", g, w, x, input_shape=None, **geo)
    return apply("conv2d_backprop_input", g, w, input_shape=x.shape[1:], **geo)


def _conv_vjp(g, y, x, w, **geo):
    return [_bp_input(g, w, x, geo), apply("conv2d_backprop_filter", x, g, filter_shape=w.shape, **geo)]


def _bp_input_infer(g, w, *ref, input_shape, strides, padding, dilation, groups):
    if input_shape is not None:
        spatial = tuple(input_shape)
    elif ref[0].ndim == 1:  # a shape vector (conv2d_transpose with run-time sizes)
        entries = _static_entries(ref[0], "conv2d_transpose")
        spatial = tuple(None if e is None or e < 0 else e for e in entries[1:])
    else:
        spatial = ref[0].shape[1:]
    return (g.shape[0],) + spatial, g.dtype


def _bp_input_vjp(gg, y, g, w, *ref, input_shape, **geo):
    # dx = conv_transpose(g, w) is linear in g and in w
    return [apply("conv2d", gg, w, **geo),
            apply("conv2d_backprop_filter", gg, g, filter_shape=w.shape, **geo)] + [None] * len(ref)


def _bp_filter_infer(x, g, filter_shape, strides, padding, dilation, groups):
    return tuple(filter_shape), x.dtype


def _bp_filter_vjp(gw, y, x, g, filter_shape, **geo):
    return [_bp_input(g, gw, x, geo), apply("conv2d", x, gw, **geo)]


defop("conv2d", _conv_infer, _conv_vjp, build=_runtime_geometry)
defop("conv2d_backprop_input", _bp_input_infer, _bp_input_vjp, build=_runtime_geometry)
defop("conv2d_backprop_filter", _bp_filter_infer, _bp_filter_vjp, build=_runtime_geometry)


def _conv_nhwc(x, kernel, strides, padding, dilation, groups, who):
    spatial = x.shape[1:3]
    pads = _pads(padding, spatial, kernel.shape[:2], strides, dilation, who)
    return apply("conv2d", x, kernel, strides=strides, padding=pads, dilation=dilation, groups=groups)


def _check_float(x, kernel, who):
    if x.dtype != kernel.dtype:
        from .math import cast
        kernel = cast(kernel, x.dtype)
    return kernel


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
    x = _to_last(x, data_format)
    y = conv2d(expand_axes(x, (1,)), expand_axes(kernel, (0,)), (1, s), padding, "channels_last", (1, d))
    return _from_last(squeeze_axes(y, (1,)), data_format)


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
        return _from_last(apply("conv2d_backprop_input", xl, kernel, shape_vec, input_shape=None, **geo), data_format)
    expected = _conv_infer(Tensor("placeholder", (), {}, out, x.dtype), kernel, strides, pads, dilation, 1)[0]
    if expected[1:] != xl.shape[1:] and None not in xl.shape[1:]:
        raise ValueError(f"conv2d_transpose: output_shape {tuple(output_shape)} would convolve to "
                         f"{shape_str(expected)}, not to the input's shape {shape_str(xl.shape)}")
    y = apply("conv2d_backprop_input", xl, kernel, input_shape=out[1:], **geo)
    return _from_last(y, data_format)


def _shape_vector(output_shape, order):
    """output_shape (a 1-D int tensor, or entries that are ints or scalar tensors) as one int32
    vector in channels_last order."""
    from .math import cast
    from .shape import gather, stack
    if isinstance(output_shape, Tensor):
        return gather(cast(output_shape, "int32"), list(order))
    entries = [cast(as_tensor(d), "int32") if isinstance(d, Tensor) else as_tensor(np.int32(-1 if d is None else d))
               for d in output_shape]
    return stack([entries[i] for i in order], axis=0)


def _static_scalar(t):
    """The int value of a scalar tensor known when the graph is built, else None."""
    if isinstance(t, Constant):
        return int(np.asarray(t.value).reshape(()))
    if t.op in ("cast", "identity") and t.inputs:
        return _static_scalar(t.inputs[0])
    return None


def _static_entries(t, who):
    """Per-entry static values (int or None) of a 1-D int tensor such as K.stack([...])."""
    if t.ndim != 1 or t.shape[0] is None:
        raise ValueError(f"{who}: output_shape must be a tuple or a 1-D tensor of known length, got {t!r}")
    if isinstance(t, Constant):
        return [int(v) for v in np.asarray(t.value).reshape(-1)]
    if t.op in ("cast", "identity"):
        return _static_entries(t.inputs[0], who)
    if t.op == "concatenate" and t.attrs.get("axis") == 0:
        return [e for i in t.inputs for e in _static_entries(i, who)]
    if t.op == "expand_dims" and t.inputs[0].ndim == 0:
        return [_static_scalar(t.inputs[0])]
    return [None] * t.shape[0]


def _output_shape_entries(output_shape, who):
    """output_shape as a tuple of ints with None where the value is only known at run time (a
    tensor batch entry, as Keras's Conv2DTranspose passes K.shape(inputs)[0])."""
    if isinstance(output_shape, Tensor):
        return tuple(_static_entries(output_shape, who))
    out = []
    for d in output_shape:
        if d is None:
            out.append(None)
        elif isinstance(d, Tensor):
            if d.ndim != 0:
                raise ValueError(f"{who}: output_shape entries must be scalars, got {d!r}")
            out.append(_static_scalar(d))
        else:
            out.append(int(d))
    return tuple(out)


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


def _pool_infer(x, pool_size, strides, padding):
    if x.ndim != 4:
        raise ValueError(f"pool2d: expects a 4-D input, got {shape_str(x.shape)}")
    ho = _out_len(x.shape[1], pool_size[0], strides[0], _axis_pad(padding, 0), 1)
    wo = _out_len(x.shape[2], pool_size[1], strides[1], _axis_pad(padding, 1), 1)
    if (ho is not None and ho < 1) or (wo is not None and wo < 1):
        raise ValueError(f"pool2d: pool_size {pool_size} does not fit the input {shape_str(x.shape)}")
    return (x.shape[0], ho, wo, x.shape[3]), x.dtype


def _maxpool_vjp(g, y, x, **geo):
    return [apply("max_pool2d_backprop", x, y, g, **geo)]


def _avgpool_vjp(g, y, x, **geo):
    if None in x.shape[1:]:
        return [apply("avg_pool2d_backprop", g, x, input_shape=None, **geo)]
    return [apply("avg_pool2d_backprop", g, input_shape=x.shape[1:], **geo)]


def _avgpool_bp_infer(g, *ref, input_shape, **geo):
    spatial = tuple(input_shape) if input_shape is not None else ref[0].shape[1:]
    return (g.shape[0],) + spatial, g.dtype


defop("max_pool2d", _pool_infer, _maxpool_vjp, build=_runtime_geometry)
defop("avg_pool2d", _pool_infer, _avgpool_vjp, build=_runtime_geometry)
defop("max_pool2d_backprop", lambda x, y, g, **geo: (x.shape, x.dtype), build=_runtime_geometry)
defop("avg_pool2d_backprop", _avgpool_bp_infer,
      lambda gg, y, g, *ref, input_shape, **geo: [apply("avg_pool2d", gg, **geo)] + [None] * len(ref),
      build=_runtime_geometry)


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
    op = "max_pool2d" if pool_mode == "max" else "avg_pool2d"
    y = apply(op, xl, pool_size=pool_size, strides=strides, padding=pads)
    return _from_last(y, data_format)


def pool1d(x, pool_size, strides=1, padding="valid", data_format=None, pool_mode="max"):
    """1-D pooling of (N, steps, C), through pool2d."""
    data_format = normalize_data_format(data_format)
    x = _to_last(as_tensor(x), data_format)
    (p,) = _tuple(pool_size, 1, "pool_size", "pool1d")
    (s,) = _tuple(strides, 1, "strides", "pool1d")
    y = pool2d(expand_axes(x, (1,)), (1, p), (1, s), padding, "channels_last", pool_mode)
    return _from_last(squeeze_axes(y, (1,)), data_format)


# ---------------------------------------------------------------------------------------------
# resize and padding


def _resize_infer(x, factors):
    return (x.shape[0],) + tuple(None if d is None else d * f for d, f in zip(x.shape[1:3], factors)) + (x.shape[3],), x.dtype


defop("resize_nearest", _resize_infer, lambda g, y, x, factors: [apply("resize_nearest_backprop", g, factors=factors)])
defop("resize_nearest_backprop",
      lambda g, factors: ((g.shape[0],) + tuple(None if d is None else d // f for d, f in zip(g.shape[1:3], factors)) + (g.shape[3],), g.dtype),
      lambda gg, y, g, factors: [apply("resize_nearest", gg, factors=factors)])
defop("resize_bilinear", _resize_infer,
      lambda g, y, x, factors: [apply("resize_bilinear_backprop", g, input_shape=x.shape[1:], factors=factors)])
defop("resize_bilinear_backprop", lambda g, input_shape, factors: ((g.shape[0],) + tuple(input_shape), g.dtype))


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
    y = apply("resize_nearest" if interpolation == "nearest" else "resize_bilinear", xl, factors=factors)
    return _from_last(y, data_format)


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

"""Argument normalisation and output-length arithmetic shared by the layers (Keras 2's conv_utils)."""
from __future__ import annotations

import numpy as np

from .. import backend as K


class UnknownTimestepsError(ValueError):
    """A recurrent layer met an input whose time axis is unknown: keraslite unrolls recurrent loops,
    so the number of timesteps must be known when the graph is built. A Sequential model catches
    it and builds on the first data instead (whose shape fixes the time axis)."""


def normalize_tuple(value, n: int, name: str, who: str = "") -> tuple:
    """An int -> (value,) * n; a sequence of n ints -> a tuple; else ValueError."""
    where = f" (layer {who})" if who else ""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        value_tuple = tuple(value)
    except TypeError:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers{where}. Received: {value!r}") from None
    if len(value_tuple) != n:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers{where}. Received: {value!r}")
    out = []
    for v in value_tuple:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers{where}. Received: {value!r} "
                             f"including element {v!r} of type {type(v).__name__}")
        out.append(int(v))
    return tuple(out)


def normalize_padding(value, who: str = "", allow_causal: bool = False) -> str:
    padding = str(value).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {', '.join(repr(a) for a in allowed)}"
                         f"{' (layer ' + who + ')' if who else ''}. Received: {value!r}")
    return padding


def normalize_data_format(value) -> str:
    return K.normalize_data_format(value)


def conv_output_length(input_length, filter_size, padding, stride, dilation=1):
    """Keras 2's conv_utils.conv_output_length."""
    if input_length is None:
        return None
    dilated = (filter_size - 1) * dilation + 1
    if padding in ("same", "causal"):
        length = input_length
    elif padding == "valid":
        length = input_length - dilated + 1
    elif padding == "full":
        length = input_length + dilated - 1
    else:
        raise ValueError(f"unknown padding {padding!r}")
    return (length + stride - 1) // stride


def deconv_length(dim_size, stride_size, kernel_size, padding, output_padding, dilation=1):
    """Keras 2's conv_utils.deconv_length: the output length of a transposed convolution."""
    if dim_size is None:
        return None
    kernel_size = kernel_size + (kernel_size - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return dim_size * stride_size + max(kernel_size - stride_size, 0)
        if padding == "full":
            return dim_size * stride_size - (stride_size + kernel_size - 2)
        return dim_size * stride_size
    pad = {"same": kernel_size // 2, "valid": 0, "full": kernel_size - 1}[padding]
    return (dim_size - 1) * stride_size + kernel_size - 2 * pad + output_padding


def spatial_output_shape(input_shape, data_format, fn, params) -> tuple:
    """`input_shape` with its i-th spatial dimension d (the axes after the batch axis and, with
    channels_first, the channel axis) replaced by fn(d, params[i]), for each of `params`."""
    out = list(input_shape)
    first = 2 if data_format == "channels_first" else 1
    for i, param in enumerate(params):
        out[first + i] = fn(out[first + i], param)
    return tuple(out)


def scaled_dim(d, factor):
    """A dimension times `factor` (None stays None)."""
    return None if d is None else d * factor


def padded_dim(d, pads):
    """A dimension grown by the (before, after) pads (None stays None)."""
    return None if d is None else d + pads[0] + pads[1]


def shape_str(shape) -> str:
    if shape is None:
        return "None"
    if isinstance(shape, list):
        return "[" + ", ".join(shape_str(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"



def weight_args_config(layer, names=("kernel", "bias")) -> dict:
    """The serialised `<name>_initializer`, `<name>_regularizer`, `activity_regularizer` and
    `<name>_constraint` arguments of a layer with weights `names`, in Keras 2's key order."""
    from .. import constraints, initializers, regularizers
    config = {f"{n}_initializer": initializers.serialize(getattr(layer, f"{n}_initializer")) for n in names}
    config.update({f"{n}_regularizer": regularizers.serialize(getattr(layer, f"{n}_regularizer")) for n in names})
    config["activity_regularizer"] = regularizers.serialize(layer.activity_regularizer)
    config.update({f"{n}_constraint": constraints.serialize(getattr(layer, f"{n}_constraint")) for n in names})
    return config

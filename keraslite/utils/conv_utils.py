"""keras.utils.conv_utils.convert_kernel: flip a convolution kernel between the Theano and the
TensorFlow convention (convolution vs cross-correlation)."""
from __future__ import annotations

import numpy as np


def convert_kernel(kernel) -> np.ndarray:
    """convert_kernel(kernel): a copy of the kernel (3 to 5 dims, channels last two) with every
    spatial axis reversed; applying it twice gives the kernel back."""
    kernel = np.asarray(kernel)
    if not 3 <= kernel.ndim <= 5:
        raise ValueError(f"Invalid kernel shape: {kernel.shape} (convert_kernel takes the 3-D to 5-D kernels of "
                         "Conv1D/Conv2D/Conv3D)")
    flips = tuple([slice(None, None, -1)] * (kernel.ndim - 2) + [slice(None), slice(None)])
    return np.copy(kernel[flips])


# The shape arithmetic of Keras 2's conv_utils; the layers keep it in keraslite.layers._utils
# (imported on call: the layers package imports the utilities, not the other way round).

def normalize_tuple(value, n: int, name: str) -> tuple:
    """normalize_tuple(value, n, name): an int -> (value,) * n; a sequence of n ints -> a tuple."""
    from ..layers._utils import normalize_tuple as _normalize
    return _normalize(value, n, name)


def normalize_padding(value) -> str:
    """normalize_padding(value): 'valid', 'same' or 'causal' (any case); else ValueError."""
    from ..layers._utils import normalize_padding as _normalize
    return _normalize(value, allow_causal=True)


def conv_output_length(input_length, filter_size: int, padding: str, stride: int, dilation: int = 1):
    """conv_output_length(input_length, filter_size, padding, stride, dilation=1): the length of a
    convolution's output ('same', 'valid', 'full' or 'causal'); None stays None."""
    from ..layers._utils import conv_output_length as _length
    return _length(input_length, filter_size, padding, stride, dilation)


def conv_input_length(output_length, filter_size: int, padding: str, stride: int):
    """conv_input_length(output_length, filter_size, padding, stride): the input length a
    convolution needs for `output_length` ('same', 'valid' or 'full'); None stays None."""
    if output_length is None:
        return None
    pads = {"same": filter_size // 2, "valid": 0, "full": filter_size - 1}
    if padding not in pads:
        raise ValueError(f"conv_input_length: padding must be 'same', 'valid' or 'full', got {padding!r}")
    return (output_length - 1) * stride - 2 * pads[padding] + filter_size


def deconv_length(dim_size, stride_size: int, kernel_size: int, padding: str, output_padding=None,
                  dilation: int = 1):
    """deconv_length(dim_size, stride_size, kernel_size, padding, output_padding, dilation=1): the
    output length of a transposed convolution; None stays None."""
    from ..layers._utils import deconv_length as _length
    return _length(dim_size, stride_size, kernel_size, padding, output_padding, dilation)

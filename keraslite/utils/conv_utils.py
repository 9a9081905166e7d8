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

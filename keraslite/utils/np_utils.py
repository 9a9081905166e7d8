"""NumPy helpers for labels and features (`keras.utils.np_utils`)."""
from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """to_categorical(y, num_classes=None, dtype='float32'): one-hot encode integer labels.

    A trailing axis of length 1 is dropped ((N, 1) labels give (N, num_classes)); the result has
    shape y.shape + (num_classes,); num_classes=None means max(y) + 1.
    """
    y = np.array(y, dtype="int")
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.ravel()
    if not num_classes:
        num_classes = int(np.max(y)) + 1
    n = y.shape[0]
    categorical = np.zeros((n, num_classes), dtype=dtype)
    categorical[np.arange(n), y] = 1
    return np.reshape(categorical, input_shape + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """normalize(x, axis=-1, order=2): x divided by its L-`order` norm along `axis`; slices with a
    zero norm are left unchanged. As in Keras 2, a 1-D x comes back with shape (1, n)."""
    x = np.asarray(x)
    norms = np.atleast_1d(np.linalg.norm(x, order, axis))
    norms[norms == 0] = 1  # avoid 0/0: an all-zero slice stays zero
    return x / np.expand_dims(norms, axis)

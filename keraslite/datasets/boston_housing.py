"""Boston housing price regression (`keras.datasets.boston_housing`)."""
from __future__ import annotations

import numpy as np

from ..utils.data_utils import get_file
from ._safe_pickle import load_npz

ORIGIN = "https://s3.amazonaws.com/keras-datasets/boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """load_data(path='boston_housing.npz', test_split=0.2, seed=113): the Boston Housing dataset
    (13 attributes of 506 houses; targets are median prices in k$).

    # Arguments
        path: where to cache the dataset locally (relative to `~/.keras/datasets`).
        test_split: fraction of the data reserved for the test set, in [0, 1).
        seed: random seed for shuffling the data before the split.

    # Returns
        Tuple of NumPy arrays `(x_train, y_train), (x_test, y_test)`.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1); got {test_split!r}")
    path = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    arrays = load_npz(path)
    x, y = arrays["x"], arrays["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (np.array(x[:split]), np.array(y[:split])), (np.array(x[split:]), np.array(y[split:]))

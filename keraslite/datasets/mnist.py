"""MNIST handwritten digits (`keras.datasets.mnist`)."""
from __future__ import annotations

from ..utils.data_utils import get_file
from ._safe_pickle import load_npz

ORIGIN = "https://s3.amazonaws.com/img-datasets/mnist.npz"
FILE_HASH = "8a61469f7ea1b51cbae51d4f78837e45"


def load_data(path: str = "mnist.npz"):
    """load_data(path='mnist.npz'): the MNIST dataset, 60,000 28x28 grayscale training digits and
    10,000 test digits.

    # Arguments
        path: where to cache the dataset locally (relative to `~/.keras/datasets`).

    # Returns
        Tuple of NumPy arrays `(x_train, y_train), (x_test, y_test)`: uint8 images of shape
        (n, 28, 28) and uint8 labels 0-9 of shape (n,).
    """
    path = get_file(path, origin=ORIGIN, file_hash=FILE_HASH)
    arrays = load_npz(path)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

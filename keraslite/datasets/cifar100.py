"""CIFAR-100 small images classification (`keras.datasets.cifar100`)."""
from __future__ import annotations

import os

import numpy as np

from ..backend.config import image_data_format
from ..utils.data_utils import get_file
from .cifar import load_batch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
DIRNAME = "cifar-100-python"


def load_data(label_mode: str = "fine"):
    """load_data(label_mode='fine'): CIFAR-100, 50,000 32x32 colour training images and 10,000 test
    images, labelled with 100 fine or 20 coarse classes.

    # Arguments
        label_mode: 'fine' (100 classes) or 'coarse' (20 super-classes).

    # Returns
        Tuple of NumPy arrays `(x_train, y_train), (x_test, y_test)`: uint8 images of shape
        (n, 32, 32, 3) (channels first if so configured) and labels of shape (n, 1).

    # Raises
        ValueError: in case of an invalid `label_mode`.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`.')
    path = get_file(DIRNAME, origin=ORIGIN, untar=True)
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=label_mode + "_labels")
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=label_mode + "_labels")

    y_train = np.reshape(np.asarray(y_train), (len(y_train), 1))
    y_test = np.reshape(np.asarray(y_test), (len(y_test), 1))
    if image_data_format() == "channels_last":
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)

"""CIFAR-10 small images classification (`keras.datasets.cifar10`)."""
from __future__ import annotations

import os

import numpy as np

from ..backend.config import image_data_format
from ..utils.data_utils import get_file
from .cifar import load_batch

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
DIRNAME = "cifar-10-batches-py"


def load_data():
    """load_data(): CIFAR-10, 50,000 32x32 colour training images and 10,000 test images in 10
    classes.

    # Returns
        Tuple of NumPy arrays `(x_train, y_train), (x_test, y_test)`: uint8 images of shape
        (n, 32, 32, 3) (or (n, 3, 32, 32) when `image_data_format()` is 'channels_first') and
        uint8 labels of shape (n, 1).
    """
    path = get_file(DIRNAME, origin=ORIGIN, untar=True)
    batches = [load_batch(os.path.join(path, "data_batch_%d" % i)) for i in range(1, 6)]
    x_train = np.concatenate([data for data, _ in batches]).astype("uint8")
    y_train = np.concatenate([np.asarray(labels) for _, labels in batches]).astype("uint8")
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_test = x_test.astype(x_train.dtype)
    y_test = np.asarray(y_test).astype(y_train.dtype)

    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    if image_data_format() == "channels_last":
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test, y_test)

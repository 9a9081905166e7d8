"""Fashion-MNIST (`keras.datasets.fashion_mnist`): 28x28 grayscale images of 10 kinds of clothing.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag,
9 Ankle boot.
"""
from __future__ import annotations

import gzip
import os

import numpy as np

from ..utils.data_utils import get_file

BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = ["train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"]

_LABELS_MAGIC, _IMAGES_MAGIC = 2049, 2051


def _read_idx(path: str, magic: int, header_ints: int) -> tuple[np.ndarray, tuple[int, ...]]:
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    header = np.frombuffer(raw[:4 * header_ints], dtype=">u4") if len(raw) >= 4 * header_ints else None
    if header is None or int(header[0]) != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (magic number {magic})")
    dims = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * header_ints)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data, the header announces {dims}")
    return data, dims


def _labels(path: str) -> np.ndarray:
    data, _ = _read_idx(path, _LABELS_MAGIC, 2)
    return data


def _images(path: str) -> np.ndarray:
    data, dims = _read_idx(path, _IMAGES_MAGIC, 4)
    return data.reshape(dims)


def load_data():
    """load_data(): the Fashion-MNIST dataset, 60,000 training and 10,000 test images.

    # Returns
        Tuple of NumPy arrays `(x_train, y_train), (x_test, y_test)`: uint8 images of shape
        (n, 28, 28) and uint8 labels 0-9 of shape (n,).
    """
    dirname = os.path.join("datasets", "fashion-mnist")
    paths = [get_file(fname, origin=BASE_URL + fname, cache_subdir=dirname) for fname in FILES]
    y_train, x_train = _labels(paths[0]), _images(paths[1])
    y_test, x_test = _labels(paths[2]), _images(paths[3])
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError("Fashion-MNIST files disagree on the number of images and labels")
    return (x_train, y_train), (x_test, y_test)

"""The CIFAR batch reader shared by cifar10 and cifar100 (`keras.datasets.cifar`)."""
from __future__ import annotations

import numpy as np

from ._safe_pickle import restricted_load


def load_batch(fpath: str, label_key: str = "labels"):
    """load_batch(fpath, label_key='labels'): `(data, labels)` of one CIFAR batch file, data as a
    uint8 array of shape (n, 3, 32, 32).

    The batch is a (Python 2) pickle of a dict; it is read with a restricted unpickler that admits
    only NumPy arrays and plain containers, so a hostile file cannot run code.
    """
    with open(fpath, "rb") as handle:
        batch = restricted_load(handle, encoding="bytes", what=fpath)
    if not isinstance(batch, dict):
        raise ValueError(f"{fpath} is not a CIFAR batch (a pickled dict)")
    batch = {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ValueError(f"{fpath} is not a CIFAR batch with 'data' and {label_key!r}")
    data = np.asarray(batch["data"])
    labels = batch[label_key]
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != data.shape[0]:
        raise ValueError(f"{fpath}: expected data of shape (n, 3072) and n labels; got {data.shape} and "
                         f"{len(labels)} labels")
    return data.reshape(data.shape[0], 3, 32, 32), labels

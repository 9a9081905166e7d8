"""keras.utils.io_utils: HDF5Matrix, an HDF5 dataset used in place of a NumPy array."""
from __future__ import annotations

from collections import defaultdict

import numpy as np


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("The use of HDF5Matrix requires HDF5 and h5py installed.") from None
    return h5py


class HDF5Matrix:
    """HDF5Matrix(datapath, dataset, start=0, end=None, normalizer=None): rows `start` to `end`
    of dataset `dataset` in the HDF5 file `datapath`, read on demand and passed through
    `normalizer` (a function of an array) when given. Use it wherever fit/evaluate/predict take
    an array; fit with shuffle='batch' reads each batch as one contiguous block (any other
    shuffle works too: rows are read in increasing order and put back in the requested order).

    Files are opened read-only and shared by all matrices on the same path (`HDF5Matrix.refs`).
    """

    refs: dict = defaultdict(int)

    def __init__(self, datapath, dataset: str, start: int = 0, end: int | None = None, normalizer=None):
        h5py = _h5py()
        key = str(datapath)
        f = self.refs.get(key)
        if not f:  # not opened yet, or closed since
            f = h5py.File(key, "r")
            self.refs[key] = f
        if dataset not in f:
            raise KeyError(f"HDF5Matrix: no dataset {dataset!r} in {key!r} (it has: {sorted(f.keys())})")
        self.data = f[dataset]
        if not isinstance(self.data, h5py.Dataset):
            raise ValueError(f"HDF5Matrix: {dataset!r} in {key!r} is a group, not a dataset")
        rows = int(self.data.shape[0]) if self.data.shape else 0
        start = int(start)
        end = rows if end is None else int(end)
        if not 0 <= start <= end <= rows:
            raise ValueError(f"HDF5Matrix: start={start}, end={end} must satisfy 0 <= start <= end <= {rows} "
                             f"(the rows of {dataset!r})")
        self.start, self.end = start, end
        self.normalizer = normalizer
        first = self.data[start:start + 1] if end > start else self.data[0:1]
        if normalizer is not None:
            first = np.asarray(normalizer(first))
        self._base_shape = tuple(first.shape[1:])
        self._base_dtype = first.dtype

    def __len__(self) -> int:
        return self.end - self.start

    def _rows(self, key):
        """Dataset indices for `key` (relative to start); IndexError beyond end, as Keras 2."""
        n = len(self)
        if isinstance(key, slice):
            if key.stop is not None and key.stop > n:
                raise IndexError(f"HDF5Matrix: slice {key} goes past the end ({n} rows)")
            start, stop, step = key.indices(n)
            return slice(start + self.start, stop + self.start, step)
        if isinstance(key, (int, np.integer)):
            k = int(key) + n if key < 0 else int(key)
            if not 0 <= k < n:
                raise IndexError(f"HDF5Matrix: index {key} out of range for {n} rows")
            return k + self.start
        idx = np.asarray(key)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size and (idx.max() >= n or idx.min() < -n):
            raise IndexError(f"HDF5Matrix: index {int(idx.max())} out of range for {n} rows")
        return np.where(idx < 0, idx + n, idx).astype(np.int64) + self.start

    def __getitem__(self, key):
        rows = self._rows(key)
        if isinstance(rows, np.ndarray) and rows.ndim == 1 and rows.size and \
                np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):
            values = self.data[int(rows[0]):int(rows[0]) + rows.size]  # a batch of shuffle='batch': one block
        elif isinstance(rows, np.ndarray):
            # h5py reads only increasing, distinct indices: read those, then restore the order
            unique, inverse = np.unique(rows, return_inverse=True)
            values = self.data[unique.tolist()][inverse.reshape(rows.shape)] if unique.size else \
                np.empty((0,) + tuple(self.data.shape[1:]), self.data.dtype)
        else:
            values = self.data[rows]
        return self.normalizer(values) if self.normalizer is not None else values

    def rows(self, dtype, expand: bool = False) -> "MatrixRows":
        """The rows as fit/evaluate/predict read them: batch by batch, cast to `dtype`."""
        return MatrixRows(self, dtype, expand)

    def __array__(self, dtype=None, copy=None):
        values = np.asarray(self[:])
        return values.astype(dtype) if dtype is not None else values

    @property
    def shape(self) -> tuple:
        """(rows, ...) after normalization."""
        return (self.end - self.start,) + self._base_shape

    @property
    def dtype(self):
        return self._base_dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __repr__(self):
        return f"HDF5Matrix({self.data.file.filename!r}, {self.data.name!r}, start={self.start}, end={self.end})"


class MatrixRows:
    """An HDF5Matrix seen as a model input: shape, ndim and dtype like an array; indexing by a
    slice or by sample indices reads those rows only, cast to the input's dtype (with a trailing
    axis when 1-D data feeds a 2-D input), so training never holds the whole dataset."""

    _CHUNK = 4096

    def __init__(self, matrix: HDF5Matrix, dtype, expand: bool = False):
        self.matrix, self.dtype, self.expand = matrix, np.dtype(dtype), bool(expand)

    @property
    def shape(self) -> tuple:
        return self.matrix.shape + ((1,) if self.expand else ())

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.matrix)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice) and key.stop is not None and key.stop > len(self.matrix):
            key = slice(key.start, len(self.matrix), key.step)  # array semantics: a slice end is clipped
        values = np.asarray(self.matrix[key], dtype=self.dtype)
        return values[..., None] if self.expand else values

    def __array__(self, dtype=None, copy=None):
        values = self[:]
        return values.astype(dtype) if dtype is not None else values

    def check_finite(self, name: str, who: str) -> None:
        """Raise ValueError naming the first sample with NaN/inf, reading chunk by chunk."""
        if self.dtype.kind != "f":
            return
        for start in range(0, len(self), self._CHUNK):
            chunk = self[start:start + self._CHUNK]
            bad = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
            if bad.any():
                raise ValueError(f"{who}: {name} contains NaN or infinite values (first at sample "
                                 f"{start + int(np.argmax(bad))}); clean the data before training")


def ask_to_proceed_with_overwrite(filepath) -> bool:
    """ask_to_proceed_with_overwrite(filepath): ask on the terminal; True to overwrite."""
    overwrite = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while overwrite not in ("y", "n"):
        overwrite = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if overwrite == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True

"""Reading the pickled parts of Keras's dataset files without letting them run code.

The CIFAR batches are Python pickles and Keras 2's imdb.npz/reuters.npz hold object arrays (NumPy
pickles them). A pickle names callables that the loader calls, so an ordinary `pickle.load` of a
downloaded file would run whatever it names (`os.system`, ...). `RestrictedUnpickler` admits only
what plain NumPy arrays, NumPy scalars and builtin containers need; any other name is refused
before anything is called.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from typing import IO, Any

import numpy as np
import numpy.lib.format as npy_format

try:  # NumPy 2 moved the array internals to numpy._core; older pickles still name numpy.core
    from numpy._core.multiarray import _reconstruct, scalar as _scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct, scalar as _scalar
    from numpy.core.numeric import _frombuffer


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names something other than NumPy arrays and plain containers."""


def _latin1_encode(text, encoding="utf-8", errors="strict"):
    # Python 3 pickles `bytes` under protocol 2 as _codecs.encode(text, 'latin1'); admit only that
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str) or errors != "strict":
        raise UnsafePickleError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


_BUILTINS = {"list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset, "bytes": bytes,
             "bytearray": bytearray, "int": int, "float": float, "complex": complex, "str": str, "bool": bool}

_ALLOWED: dict[tuple[str, str], Any] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _reconstruct
    _ALLOWED[(_module, "scalar")] = _scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_module, "_frombuffer")] = _frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
for _module in ("builtins", "__builtin__"):  # Python 2 pickles (the CIFAR batches) say __builtin__
    for _name, _obj in _BUILTINS.items():
        _ALLOWED[(_module, _name)] = _obj
_ALLOWED[("_codecs", "encode")] = _latin1_encode


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose `find_class` resolves only NumPy array/scalar/dtype reconstruction and
    builtin containers; every other global raises UnsafePickleError. Nothing is imported."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refusing to load {module}.{name} from a pickle: only NumPy arrays and plain "
                                    f"containers are read") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a pickle with persistent ids")


def restricted_load(file: IO[bytes], encoding: str = "ASCII", what: str = "pickle") -> Any:
    """Unpickle from an open binary file with RestrictedUnpickler; `what` names the file in errors."""
    try:
        return RestrictedUnpickler(file, encoding=encoding).load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{what}: {err}") from None


def restricted_loads(data: bytes, encoding: str = "ASCII", what: str = "pickle") -> Any:
    return restricted_load(io.BytesIO(data), encoding=encoding, what=what)


def _read_npy(handle: IO[bytes], what: str) -> np.ndarray:
    """One .npy stream: plain arrays as NumPy reads them (allow_pickle=False); object arrays, which
    NumPy stores as a pickle after the header, through the restricted unpickler."""
    version = npy_format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran, dtype = npy_format.read_array_header_2_0(handle)
    else:
        shape, fortran, dtype = npy_format._read_array_header(handle, version)
    if not dtype.hasobject:
        count = int(np.prod(shape, dtype=np.int64))
        data = handle.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"{what}: truncated array data")
        array = np.frombuffer(data, dtype=dtype, count=count).copy()
        return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
    array = restricted_load(handle, encoding="latin1", what=what)
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(f"{what}: the pickled object array does not match its header (shape {shape})")
    return array


def load_npz(path: str) -> dict[str, np.ndarray]:
    """Every array of a .npz file, read without unrestricted pickle (see `_read_npy`)."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as handle:
                arrays[member[:-4]] = _read_npy(io.BufferedReader(handle), f"{path}[{member}]")
    return arrays

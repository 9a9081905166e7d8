"""HDF5 building blocks of keraslite's model files: checked reading of attributes, groups and
datasets (never following links to other files, never reading non-numeric data), and the
chunked attribute lists of Keras 2's layout."""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os

import numpy as np

from .legacy import keras2_compat

HDF5_OBJECT_HEADER_LIMIT = 64512


class ModelFileError(OSError, ValueError):
    """A file that cannot be read as a Keras model or weights file (not HDF5, truncated, corrupt,
    or of another kind). Both an OSError and a ValueError."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is in the test extra
        raise ImportError("keraslite saving needs h5py: pip install h5py (or keraslite[test])") from e
    return h5py


# ---------------------------------------------------------------------------------------------
# small helpers

def _to_str(value) -> str:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf8")
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"expected a string, found {type(value).__name__}")


def _where(group) -> str:
    """'file 'x.h5'' or 'file 'x.h5', group /model_weights' for messages."""
    try:
        filename = group.file.filename
        name = group.name
    except Exception:  # pragma: no cover - a closed or odd object
        return repr(group)
    return f"file {filename!r}" + ("" if name in ("/", None) else f", group {name}")


def _read_attr(obj, name: str, where: str):
    try:
        return obj.attrs[name]
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{where}: cannot read attribute {name!r} ({e}); the file is corrupt") from None


def _attr_string(obj, name: str, where: str) -> str | None:
    """A string attribute (bytes or str), None when absent."""
    if name not in obj.attrs:
        return None
    value = _read_attr(obj, name, where)
    try:
        return _to_str(value)
    except (TypeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{where}: attribute {name!r} should be a UTF-8 string ({e})") from None


def _attr_json(obj, name: str, where: str):
    text = _attr_string(obj, name, where)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise ModelFileError(f"{where}: attribute {name!r} is not valid JSON ({e})") from None


def save_attributes_to_hdf5_group(group, name: str, data) -> None:
    """save_attributes_to_hdf5_group(group, name, data): store a list of byte strings as the
    attribute `name`, split into `name0`, `name1`, ... when over the object-header limit."""
    data = [d.encode("utf8") if isinstance(d, str) else bytes(d) for d in data]
    bad = [x for x in data if len(x) > HDF5_OBJECT_HEADER_LIMIT]
    if bad:
        raise RuntimeError("The following attributes cannot be saved to HDF5 file because they are larger than "
                           f"{HDF5_OBJECT_HEADER_LIMIT} bytes: {bad[:3]}")
    data_npy = np.asarray(data)
    num_chunks = 1
    chunked = np.array_split(data_npy, num_chunks)
    while any(c.nbytes > HDF5_OBJECT_HEADER_LIMIT for c in chunked):
        num_chunks += 1
        chunked = np.array_split(data_npy, num_chunks)
    if num_chunks > 1:
        for i, chunk in enumerate(chunked):
            group.attrs["%s%d" % (name, i)] = chunk
    else:
        group.attrs[name] = data if data else np.zeros((0,), dtype="float64")  # Keras's empty list


def load_attributes_from_hdf5_group(group, name: str) -> list:
    """load_attributes_from_hdf5_group(group, name): the list of strings saved under `name`
    (joining `name0`, `name1`, ... chunks). ModelFileError when neither exists or it is not a
    list of strings."""
    where = _where(group)
    if name in group.attrs:
        values = [_read_attr(group, name, where)]
    elif f"{name}0" in group.attrs:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.append(_read_attr(group, f"{name}{i}", where))
            i += 1
    else:
        raise ModelFileError(f"{where}: attribute {name!r} not found")
    out = []
    for v in values:
        arr = np.asarray(v)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise ModelFileError(f"{where}: attribute {name!r} should be a list of names, found shape {arr.shape}")
        if arr.size == 0:
            continue
        for item in arr:
            try:
                out.append(_to_str(item))
            except (TypeError, UnicodeDecodeError):
                raise ModelFileError(f"{where}: attribute {name!r} should be a list of strings, found "
                                     f"{arr.dtype} values") from None
    return out


def _weight_save_names(weights, prefix: str | None = None) -> list[str]:
    """TensorFlow-style names: 'dense_1/kernel' -> 'dense_1/kernel:0'; unnamed -> 'param_<i>';
    duplicates get '_1', '_2' suffixes."""
    names: list[str] = []
    for i, w in enumerate(weights):
        name = getattr(w, "name", None)
        if name:
            name = str(name)
            if prefix and "/" not in name:
                name = prefix + "/" + name
            if not _has_output_index(name):
                name += ":0"
        else:
            name = "param_" + str(i)
        if name in names:
            k = 1
            while f"{name}_{k}" in names:
                k += 1
            name = f"{name}_{k}"
        names.append(name)
    return names


def _has_output_index(name: str) -> bool:
    head, sep, tail = name.rpartition(":")
    return bool(sep) and tail.isdigit()


def strip_output_index(name: str) -> str:
    """'dense_1/kernel:0' -> 'dense_1/kernel' (keraslite's variable names)."""
    return name.rpartition(":")[0] if _has_output_index(name) else name


@contextlib.contextmanager
def _open_for_reading(filepath, what: str):
    """Yield (h5py group, description) for a path or an h5py File/Group."""
    h5py = _h5py()
    if isinstance(filepath, h5py.Group):
        yield filepath, _where(filepath)
        return
    if hasattr(filepath, "read") and not isinstance(filepath, (str, bytes, os.PathLike)):
        # a binary file-like object holding an HDF5 file (Keras 2.3's load_model accepts one)
        data = filepath.read()
        name = getattr(filepath, "name", None)
        where = f"stream {name!r}" if isinstance(name, str) else f"a {type(filepath).__name__} stream"
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"Cannot {what}: {where} must be opened in binary mode (read() gave "
                            f"{type(data).__name__})")
        try:
            f = h5py.File(io.BytesIO(data), "r")
        except (OSError, RuntimeError, ValueError) as e:
            raise ModelFileError(f"Cannot {what}: {where} ({len(data)} bytes) is not a readable HDF5 file. "
                                 f"h5py said: {e}") from None
        try:
            yield f, where
        finally:
            with contextlib.suppress(Exception):
                f.close()
        return
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, f"Cannot {what}: no such file {path!r}", path)
    keras2_compat.check_not_foreign_format(path, what, ModelFileError)  # SavedModel, Keras 3 .keras
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"Cannot {what}: {path!r} is a directory", path)
    try:
        f = h5py.File(path, "r")
    except (OSError, RuntimeError, ValueError) as e:
        size = os.path.getsize(path)
        raise ModelFileError(f"Cannot {what}: {path!r} ({size} bytes) is not a readable HDF5 file: it is not HDF5 "
                             f"(Keras model files are HDF5), or it is truncated or corrupt. h5py said: {e}") from None
    try:
        yield f, f"file {path!r}"
    finally:
        with contextlib.suppress(Exception):
            f.close()


def _child(group, name: str, where: str, kind: str):
    """group[name] following hard and soft links only (never another file), checked to be a
    Group (kind 'group') or a numeric Dataset (kind 'dataset')."""
    h5py = _h5py()
    node = group
    parts = [p for p in name.split("/") if p]
    if not parts:
        raise ModelFileError(f"{where}: invalid {kind} name {name!r}")
    try:
        for part in parts:
            if not isinstance(node, h5py.Group):
                raise ModelFileError(f"{where}: {kind} {name!r} not found ({part!r} is not inside a group)")
            link = node.get(part, getlink=True)
            if link is None:
                raise ModelFileError(f"{where}: {kind} {name!r} not found; the file is incomplete or not a "
                                     "Keras file")
            if isinstance(link, h5py.ExternalLink):
                raise ModelFileError(f"{where}: {kind} {name!r} is a link to another file; refused")
            node = node[part]
    except ModelFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: cannot read {kind} {name!r} ({e}); the file is corrupt") from None
    if kind == "group":
        if not isinstance(node, h5py.Group):
            raise ModelFileError(f"{where}: {name!r} should be a group, found {type(node).__name__}")
        return node
    if not isinstance(node, h5py.Dataset):
        raise ModelFileError(f"{where}: weight {name!r} should be a dataset, found {type(node).__name__}")
    try:
        kind_char = node.dtype.kind
        virtual = node.is_virtual
        external = node.external
    except (OSError, RuntimeError, ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: cannot read weight {name!r} ({e}); the file is corrupt") from None
    if kind_char not in "biuf":
        raise ModelFileError(f"{where}: weight {name!r} has dtype {node.dtype}, expected numbers")
    if virtual or external:
        raise ModelFileError(f"{where}: weight {name!r} keeps its data outside the file; refused")
    _check_dataset_size(node, where, name)
    return node


def _check_dataset_size(node, where: str, name: str) -> None:
    """A dataset may not declare more data than this process may hold, nor (uncompressed) more
    than the file stores: HDF5 lets a tiny file declare terabytes of never-written data."""
    from .saving_checks import memory_limit_bytes
    shape = tuple(int(d) for d in node.shape)
    nbytes = node.dtype.itemsize
    for d in shape:
        nbytes *= d
    limit = memory_limit_bytes()
    if nbytes > limit:
        raise ModelFileError(f"{where}: weight {name!r} declares shape {shape} ({nbytes} bytes), more than the "
                             f"{limit} bytes of memory this process may use; the file is corrupt or hostile")
    if nbytes == 0:
        return
    try:
        filtered = node.id.get_create_plist().get_nfilters() > 0
        stored = node.id.get_storage_size()
    except (OSError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{where}: cannot read weight {name!r} ({e}); the file is corrupt") from None
    if not filtered and stored < nbytes:
        raise ModelFileError(f"{where}: weight {name!r} declares shape {shape} ({nbytes} bytes) but the file "
                             f"stores only {stored} bytes of it; the file is truncated or hostile")


def _read_dataset(dset, where: str, name: str) -> np.ndarray:
    try:
        return np.asarray(dset[()])
    except (OSError, RuntimeError, ValueError, TypeError) as e:
        raise ModelFileError(f"{where}: cannot read the data of weight {name!r} ({e}); the file is truncated or "
                             "corrupt") from None


def _file_versions(f, where: str):
    version = _attr_string(f, "keras_version", where)
    backend = _attr_string(f, "backend", where)
    if version is not None and (version == "1" or version.startswith("1.")):
        raise ModelFileError(f"{where} was written by Keras {version}; keraslite reads Keras 2 files only (load it "
                             "with Keras 2 and save it again)")
    return version, backend


def _weights_root(f, where: str):
    """The group holding `layer_names`: the root of a weights file or `model_weights`."""
    attrs = f.attrs
    if "layer_names" not in attrs and "layer_names0" not in attrs:
        if "model_weights" in f:
            return _child(f, "model_weights", where, "group"), where + ", group /model_weights"
        keys = sorted(list(f.keys()))[:8]
        raise ModelFileError(f"{where} is an HDF5 file but not a Keras model or weights file: it has no "
                             f"'layer_names' attribute and no 'model_weights' group (top-level entries: {keys})"
                             + keras2_compat.foreign_hdf5_hint(f))
    return f, where


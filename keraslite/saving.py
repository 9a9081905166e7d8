"""Saving and loading models and weights in HDF5 (h5py), in Keras 2's file layout.

A file written by `save_model` (what `model.save` does) holds:

* root attributes `keras_version`, `backend`, `model_config` (UTF-8 JSON
  `{"class_name": ..., "config": model.get_config()}`) and, when the model is compiled and
  `include_optimizer`, `training_config` (JSON: `optimizer_config`, `loss`, `metrics`,
  `sample_weight_mode`, `loss_weights`);
* group `model_weights`: attributes `layer_names` (every layer of `model.layers`, weightless ones
  included), `backend`, `keras_version`; one sub-group per layer with the attribute
  `weight_names` and one dataset per weight, e.g. `model_weights/dense_1/dense_1/kernel:0`
  (keraslite's variable names have no `:0`; it is added when saving, as TensorFlow names are);
* group `optimizer_weights` (when the optimizer has state): attribute `weight_names` and one
  dataset per optimizer weight, in `optimizer.weights` order (loaded by position).

`save_weights` writes the `model_weights` layout at the file root; `load_weights` reads either
kind of file. Attribute lists over the HDF5 object-header limit (64512 bytes) are split into
`name0`, `name1`, ... chunks, as Keras does. So files written by Keras 2.2/2.3 (TensorFlow
backend) load here for the same architecture, and files written here load in Keras 2.

Safety: writes go to a temporary file in the target's directory, renamed over the target only
when complete (a crash leaves the old file intact). Reading never unpickles or evaluates anything;
a file that is not HDF5, is truncated, or is not a Keras file raises `ModelFileError` (both an
OSError and a ValueError) naming the file and the problem, and every count and shape is checked
before any weight is assigned, so a failed load leaves the model unchanged.
"""
from __future__ import annotations

import contextlib
import errno
import inspect
import json
import os
import stat
import sys
import tempfile
import warnings

import numpy as np

from . import backend as K
from .legacy import cudnn_weights, keras2_compat, optimizer_state

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_config", "model_from_json",
           "save_weights_to_hdf5_group", "load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name",
           "save_attributes_to_hdf5_group", "load_attributes_from_hdf5_group", "ModelFileError",
           "HDF5_OBJECT_HEADER_LIMIT"]

HDF5_OBJECT_HEADER_LIMIT = 64512

# The Keras file-format version written in `keras_version` (readers of Keras 2 files use it only to
# recognise Keras 1 files); keraslite's own version goes into `keraslite_version`.
KERAS_FORMAT_VERSION = "2.2.4"

_CONV_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "ConvLSTM2D")


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


def get_json_type(obj):
    """json.dumps default: configs of Keras objects, NumPy values, functions and classes by name."""
    if hasattr(obj, "get_config"):
        return {"class_name": obj.__class__.__name__, "config": obj.get_config()}
    if type(obj).__module__ == np.__name__:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        return obj.item()
    if callable(obj):
        return obj.__name__
    if type(obj).__name__ == type.__name__:
        return obj.__name__
    raise TypeError(f"Not JSON Serializable: {obj!r}")


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


# ---------------------------------------------------------------------------------------------
# writing

def save_weights_to_hdf5_group(group, layers) -> None:
    """save_weights_to_hdf5_group(group, layers): `layer_names`, `backend`, `keras_version`
    attributes and one sub-group per layer (attribute `weight_names`, one dataset per weight)."""
    from . import __version__
    layers = list(layers)
    names = [layer.name for layer in layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Cannot save weights: several layers are named {dupes}; layer names must be unique")
    save_attributes_to_hdf5_group(group, "layer_names", names)
    group.attrs["backend"] = K.backend().encode("utf8")
    group.attrs["keras_version"] = KERAS_FORMAT_VERSION.encode("utf8")
    group.attrs["keraslite_version"] = str(__version__).encode("utf8")
    for layer in layers:
        g = group.create_group(layer.name)
        weights = list(layer.weights)
        values = K.batch_get_value(weights)
        weight_names = _weight_save_names(weights)
        save_attributes_to_hdf5_group(g, "weight_names", weight_names)
        for name, value in zip(weight_names, values):
            g.create_dataset(name, data=np.asarray(value))


def _save_optimizer_weights(f, optimizer) -> None:
    weights = list(getattr(optimizer, "weights", None) or [])
    if not weights:
        return
    values = K.batch_get_value(weights)
    names = _weight_save_names(weights, prefix=type(optimizer).__name__)
    g = f.create_group("optimizer_weights")
    save_attributes_to_hdf5_group(g, "weight_names", names)
    for name, value in zip(names, values):
        g.create_dataset(name, data=np.asarray(value))


def _training_config(model) -> dict:
    from . import optimizers
    optimizer = model.optimizer
    optimizer_config = {"class_name": type(optimizer).__name__, "config": dict(optimizer.get_config())}
    opt_config = optimizer_config["config"]
    if (type(optimizer).__module__ == optimizers.__name__ and "learning_rate" in opt_config
            and "lr" not in opt_config):
        # 'lr' is read by Keras 2.2 and 2.3 (and keraslite); 'learning_rate' only by 2.3
        opt_config["lr"] = opt_config.pop("learning_rate")
    config = {"optimizer_config": optimizer_config,
              "loss": getattr(model, "loss", None),
              "metrics": getattr(model, "metrics", None),
              "sample_weight_mode": getattr(model, "sample_weight_mode", None),
              "loss_weights": getattr(model, "loss_weights", None)}
    weighted = getattr(model, "weighted_metrics", None)
    if weighted:
        config["weighted_metrics"] = weighted
    return config


def _write_model(f, model, include_optimizer: bool) -> None:
    from . import __version__
    model_config = json.dumps({"class_name": model.__class__.__name__, "config": model.get_config()},
                              default=get_json_type)
    training_config = None
    optimizer = getattr(model, "optimizer", None)
    if include_optimizer and optimizer is not None:
        training_config = json.dumps(_training_config(model), default=get_json_type)
    f.attrs["keras_version"] = KERAS_FORMAT_VERSION.encode("utf8")
    f.attrs["keraslite_version"] = str(__version__).encode("utf8")
    f.attrs["backend"] = K.backend().encode("utf8")
    f.attrs["model_config"] = model_config.encode("utf8")
    save_weights_to_hdf5_group(f.create_group("model_weights"), model.layers)
    if training_config is not None:
        f.attrs["training_config"] = training_config.encode("utf8")
        _save_optimizer_weights(f, optimizer)


def _ask_to_proceed_with_overwrite(path: str) -> bool:
    stdin = sys.stdin
    if stdin is None or not hasattr(stdin, "isatty") or not stdin.isatty():
        raise FileExistsError(errno.EEXIST, f"{path!r} already exists and overwrite=False (no terminal to ask "
                                            "whether to overwrite it); pass overwrite=True", path)
    answer = input("[WARNING] %s already exists - overwrite? [y/n]" % path)
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).')
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, briefly, for every thread)
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _new_file_mode(existing: str) -> int:
    """The mode a plain open() would give: the old file's, else 0o666 less the umask (mkstemp
    makes 0o600 files)."""
    try:
        return stat.S_IMODE(os.stat(existing).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _write_hdf5(filepath, overwrite: bool, write, what: str) -> None:
    """Run write(h5py.File) on a temporary file next to `filepath`, then rename it over
    `filepath`; an h5py File or Group is written in place."""
    h5py = _h5py()
    if isinstance(filepath, h5py.Group):
        write(filepath)
        filepath.file.flush()
        return
    path = os.fspath(filepath)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"Cannot save {what}: {path!r} is a directory", path)
    if not overwrite and os.path.exists(path) and not _ask_to_proceed_with_overwrite(path):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"Cannot save {what} to {path!r}: the directory {directory!r} does "
                                              "not exist", path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
            f.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """save_model(model, filepath, overwrite=True, include_optimizer=True): architecture,
    weights and (when compiled and include_optimizer) the training configuration and optimizer
    state, in one HDF5 file (an h5py File/Group is also accepted)."""
    _write_hdf5(filepath, overwrite, lambda f: _write_model(f, model, include_optimizer), "the model")


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """save_weights(model, filepath, overwrite=True): the weights of `model.layers` at the root
    of an HDF5 file."""
    _write_hdf5(filepath, overwrite, lambda f: save_weights_to_hdf5_group(f, model.layers), "the weights")


# ---------------------------------------------------------------------------------------------
# reading

@contextlib.contextmanager
def _open_for_reading(filepath, what: str):
    """Yield (h5py group, description) for a path or an h5py File/Group."""
    h5py = _h5py()
    if isinstance(filepath, h5py.Group):
        yield filepath, _where(filepath)
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
    return node


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


def _saved_layers(f, where: str) -> list:
    """[(layer name, group, [weight names])] for every saved layer, in file order."""
    out = []
    for name in load_attributes_from_hdf5_group(f, "layer_names"):
        g = _child(f, name, where, "group")
        try:
            weight_names = load_attributes_from_hdf5_group(g, "weight_names")
        except ModelFileError:
            if "weight_names" not in g.attrs and "weight_names0" not in g.attrs:
                raise ModelFileError(f"{where}: the group of layer {name!r} has no 'weight_names' attribute") \
                    from None
            raise
        out.append((name, g, weight_names))
    return out


def _convert_kernel(kernel: np.ndarray) -> np.ndarray:
    """Flip the spatial axes (Theano convolution kernels -> correlation kernels)."""
    slices = [slice(None, None, -1)] * kernel.ndim
    slices[-2:] = [slice(None), slice(None)]
    return np.copy(kernel[tuple(slices)])


def _layer_values(layer, group, weight_names, symbolic, where, saved_name, backend, reshape, strict=True):
    """Read and check the arrays of one saved layer for `symbolic` (the layer's weights).
    Returns the list of arrays (cast to the variables' dtypes), or a string saying what does not
    fit when strict is False; raises ValueError when strict."""
    def mismatch(msg):
        if strict:
            raise ValueError(msg)
        return msg

    if len(weight_names) != len(symbolic):
        return mismatch(f"Layer {layer.name!r} (matched to layer {saved_name!r} of {where}) expects "
                        f"{len(symbolic)} weights, but the saved weights have {len(weight_names)} elements")
    dsets = [_child(group, n, where, "dataset") for n in weight_names]
    targets = [tuple(K.int_shape(w)) for w in symbolic]
    convert = cudnn_weights.recurrent_weight_converter(layer, [d.shape for d in dsets], targets)
    if convert is not None:  # Keras 2 loads CuDNNLSTM weights into LSTM (and back), decided by shapes
        arrays = convert([_read_dataset(d, where, n) for n, d in zip(weight_names, dsets)])
        return [np.asarray(a, dtype=K.dtype(w)) for w, a in zip(symbolic, arrays)]
    plans = []
    for n, d, w, target in zip(weight_names, dsets, symbolic, targets):
        shape = tuple(d.shape)
        if shape == target:
            plans.append(False)
        elif reshape and int(np.prod(shape)) == int(np.prod(target)):
            plans.append(True)
        else:
            how = "" if not reshape else " (and their sizes differ, so reshape=True cannot help)"
            return mismatch(f"Layer {layer.name!r}: weight {strip_output_index(getattr(w, 'name', '') or n)!r} "
                            f"has shape {target}, but the saved weight {n!r} of layer {saved_name!r} in {where} "
                            f"has shape {shape}{how}")
    values = []
    for n, d, w, target, do_reshape in zip(weight_names, dsets, symbolic, targets, plans):
        arr = _read_dataset(d, where, n)
        if do_reshape:
            arr = arr.reshape(target)
        values.append(arr)
    if backend == "theano" and type(layer).__name__ in _CONV_LAYERS and values:
        values[0] = _convert_kernel(values[0])
    out = []
    for w, arr in zip(symbolic, values):
        out.append(np.asarray(arr, dtype=K.dtype(w)) if hasattr(w, "dtype") else arr)
    return out


def load_weights_from_hdf5_group(f, layers, reshape: bool = False) -> None:
    """load_weights_from_hdf5_group(f, layers, reshape=False): assign the weights of a
    `save_weights_to_hdf5_group` group to `layers`, matching layers that have weights in order to
    saved layers with weights. Counts and shapes are checked first (ValueError); nothing is
    assigned unless everything fits."""
    where = _where(f)
    backend = _versions_and_backend(f, where)
    filtered_layers = [layer for layer in layers if layer.weights]
    saved = [s for s in _saved_layers(f, where) if s[2]]
    if len(saved) != len(filtered_layers):
        raise ValueError(f"You are trying to load a weight file ({where}) containing {len(saved)} layers with "
                         f"weights ({[s[0] for s in saved][:10]}) into a model with {len(filtered_layers)} layers "
                         f"with weights ({[l.name for l in filtered_layers][:10]})")
    pairs = []
    for (name, g, weight_names), layer in zip(saved, filtered_layers):
        symbolic = list(layer.weights)
        values = _layer_values(layer, g, weight_names, symbolic, where, name, backend, reshape)
        pairs.extend(zip(symbolic, values))
    K.batch_set_value(pairs)


def _versions_and_backend(f, where: str):
    """Check the group's (else the file's) keras_version; return the backend that wrote it."""
    _, backend = _file_versions(f, where)
    root = getattr(f, "file", None)
    if root is not None and root.name != f.name:
        _, root_backend = _file_versions(root, where)
        backend = backend if backend is not None else root_backend
    return backend


def load_weights_from_hdf5_group_by_name(f, layers, skip_mismatch: bool = False, reshape: bool = False) -> None:
    """load_weights_from_hdf5_group_by_name(f, layers, skip_mismatch=False, reshape=False): only
    layers whose name is in the file get weights; a layer whose count or shapes differ raises
    ValueError, or is skipped with a warning when skip_mismatch. Nothing is assigned unless every
    layer that is not skipped fits."""
    where = _where(f)
    backend = _versions_and_backend(f, where)
    index: dict = {}
    for layer in layers:
        if layer.name:
            index.setdefault(layer.name, []).append(layer)
    pairs = []
    for name, g, weight_names in _saved_layers(f, where):
        for layer in index.get(name, []):
            symbolic = list(layer.weights)
            values = _layer_values(layer, g, weight_names, symbolic, where, name, backend, reshape,
                                   strict=not skip_mismatch)
            if isinstance(values, str):
                warnings.warn(f"Skipping loading of weights for layer {layer.name}: {values}")
                continue
            pairs.extend(zip(symbolic, values))
    K.batch_set_value(pairs)


def load_weights(model, filepath, by_name: bool = False, skip_mismatch: bool = False, reshape: bool = False):
    """load_weights(model, filepath, by_name=False, skip_mismatch=False, reshape=False): load a
    file written by save_weights or save_model (Keras 2's or keraslite's) into `model.layers`.
    by_name=False: layers with weights are matched in order; by_name=True: by layer name
    (skip_mismatch skips layers that do not fit, with a warning)."""
    if skip_mismatch and not by_name:
        warnings.warn("load_weights: skip_mismatch only applies with by_name=True; it is ignored")
    with _open_for_reading(filepath, "load weights") as (f, where):
        group, _ = _weights_root(f, where)
        if by_name:
            load_weights_from_hdf5_group_by_name(group, model.layers, skip_mismatch=skip_mismatch, reshape=reshape)
        else:
            load_weights_from_hdf5_group(group, model.layers, reshape=reshape)


# ---------------------------------------------------------------------------------------------
# model configs

_MODEL_CLASSES = ("Sequential", "Model", "Functional", "Network")


def model_from_config(config, custom_objects=None):
    """model_from_config(config, custom_objects=None): a model (or layer) from
    {'class_name', 'config'}; `custom_objects` maps names of custom classes and functions."""
    if isinstance(config, list):
        raise TypeError("`model_from_config` expects a dictionary, not a list. Maybe you meant to use "
                        "`Sequential.from_config(config)`?")
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(f"model_from_config: expected a dict with 'class_name' and 'config', got {config!r:.200}")
    from .utils.generic_utils import deserialize_keras_object, get_custom_objects
    custom_objects = dict(custom_objects or {})
    # tf.keras / Keras 2.2-2.3 spellings (GlorotUniform, Functional, groups=1, ...) -> keraslite's
    config = keras2_compat.translate_model_config(config, set(custom_objects) | set(get_custom_objects()))
    class_name = config["class_name"]
    if class_name in custom_objects or class_name in get_custom_objects():
        return deserialize_keras_object(config, custom_objects=custom_objects, printable_module_name="layer")
    if class_name in _MODEL_CLASSES:
        if class_name == "Sequential":
            from .engine.sequential import Sequential as cls
        else:
            from .engine.training import Model as cls
        return _from_config(cls, config["config"], custom_objects)
    from .layers import deserialize
    return deserialize(config, custom_objects=custom_objects)


def _from_config(cls, config, custom_objects):
    from .utils.generic_utils import CustomObjectScope
    try:
        takes_custom = "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        takes_custom = False
    with CustomObjectScope(custom_objects):
        if takes_custom:
            return cls.from_config(config, custom_objects=custom_objects)
        return cls.from_config(config)


def model_from_json(json_string, custom_objects=None):
    """model_from_json(json_string, custom_objects=None): a model from `model.to_json()`."""
    if isinstance(json_string, (bytes, bytearray)):
        json_string = bytes(json_string).decode("utf8")
    if not isinstance(json_string, str):
        raise TypeError(f"model_from_json expects a JSON string, got {type(json_string).__name__}")
    try:
        config = json.loads(json_string)
    except ValueError as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e})") from None
    return model_from_config(config, custom_objects=custom_objects)


def _convert_custom_objects(obj, custom_objects: dict, deserialize=None):
    """Names in custom_objects become the objects; a serialised object ({'class_name', 'config'},
    e.g. a Keras 2.3 loss object) is rebuilt with `deserialize`; lists and per-output dicts
    are walked."""
    if isinstance(obj, list):
        return [_convert_custom_objects(v, custom_objects, deserialize) for v in obj]
    if isinstance(obj, dict):
        if deserialize is not None and set(obj) == {"class_name", "config"}:
            return deserialize(obj, custom_objects=custom_objects)
        return {k: _convert_custom_objects(v, custom_objects, deserialize) for k, v in obj.items()}
    if isinstance(obj, str) and obj in custom_objects:
        return custom_objects[obj]
    return obj


def _load_optimizer_weights(model, f, where: str) -> None:
    if "optimizer_weights" not in f:
        return
    group = _child(f, "optimizer_weights", where, "group")
    names = load_attributes_from_hdf5_group(group, "weight_names")
    values = [_read_dataset(_child(group, n, where, "dataset"), where, n) for n in names]
    if getattr(model, "_is_graph_network", True) is False or getattr(model, "built", True) is False:
        warnings.warn(f"{where}: the optimizer state was not loaded: the model is not built yet, so its "
                      "optimizer has no state variables. Your model starts with a freshly initialized optimizer.")
        return
    optimizer = model.optimizer
    current = list(getattr(optimizer, "weights", None) or [])
    if current and len(current) == len(values) and all(
            tuple(K.int_shape(w)) == tuple(v.shape) for w, v in zip(current, values)):
        # Saved before the optimizer had made its per-parameter state (only `iterations`): set it
        # now; the state variables start at zero when the training function is built, as saved.
        optimizer.set_weights(values)
        return
    model._make_train_function()
    # state saved by name by tf.keras (Adam/m/dense/kernel:0, Adam/dense/kernel/m:0): keraslite's order
    params = getattr(model, "_collected_trainable_weights", None) or getattr(model, "trainable_weights", None) or []
    ordered = optimizer_state.optimizer_weights_in_order(names, values, optimizer, params)
    values = values if ordered is None else ordered
    try:
        optimizer.set_weights(values)
    except ValueError as e:
        warnings.warn(f"Error in loading the saved optimizer state ({e}). As a result, your model is starting "
                      "with a freshly initialized optimizer.")


def load_model(filepath, custom_objects=None, compile: bool = True):
    """load_model(filepath, custom_objects=None, compile=True): the model saved by save_model
    (or Keras 2's model.save): rebuilt from its config, weights set and, when compile and the file
    has a training configuration, compiled with the saved optimizer (state included), loss,
    metrics, loss weights and sample-weight mode."""
    custom_objects = dict(custom_objects or {})
    with _open_for_reading(filepath, "load the model") as (f, where):
        _file_versions(f, where)
        config = _attr_json(f, "model_config", where)
        if config is None:
            hint = (" (it is a weights file: build the model and call model.load_weights)"
                    if "layer_names" in f.attrs or "layer_names0" in f.attrs else "")
            raise ModelFileError(f"No model found in {where}: it has no 'model_config' attribute{hint}")
        if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
            raise ModelFileError(f"{where}: 'model_config' should be a JSON object with 'class_name' and 'config'")
        training_config = _attr_json(f, "training_config", where) if compile else None
        if "model_weights" not in f:
            raise ModelFileError(f"{where} has a model_config but no 'model_weights' group: the file is incomplete")
        model = model_from_config(config, custom_objects=custom_objects)
        load_weights_from_hdf5_group(_child(f, "model_weights", where, "group"), model.layers)
        if not compile:
            return model
        if training_config is None:
            warnings.warn("No training configuration found in save file: the model was *not* compiled. Compile it "
                          "manually.")
            return model
        if not isinstance(training_config, dict) or "optimizer_config" not in training_config:
            raise ModelFileError(f"{where}: 'training_config' has no 'optimizer_config'")
        training_config = keras2_compat.translate_training_config(training_config, where)
        from . import losses, metrics, optimizers
        optimizer = optimizers.deserialize(training_config["optimizer_config"], custom_objects=custom_objects)
        kwargs = dict(optimizer=optimizer,
                      loss=_convert_custom_objects(training_config.get("loss"), custom_objects, losses.deserialize),
                      metrics=_convert_custom_objects(training_config.get("metrics"), custom_objects,
                                                      metrics.deserialize),
                      loss_weights=training_config.get("loss_weights"),
                      sample_weight_mode=training_config.get("sample_weight_mode"))
        weighted = training_config.get("weighted_metrics")
        if weighted:
            kwargs["weighted_metrics"] = _convert_custom_objects(weighted, custom_objects)
        model.compile(**kwargs)
        _load_optimizer_weights(model, f, where)
    return model

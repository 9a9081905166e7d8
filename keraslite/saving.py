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
when complete (a crash leaves the old file intact; the next save to the path removes temporary
files of killed saves: saving_files.py). Reading never unpickles or evaluates anything and a file
names only what keraslite.serialization allows; a file that is not HDF5, is truncated, or is not
a Keras file raises `ModelFileError` (both an OSError and a ValueError) naming the file and the
problem. Dimensions, saved shapes and sizes are checked before memory is requested
(saving_checks.py), non-finite weights are refused unless allow_nonfinite=True, and every count
and shape is checked before any weight is assigned, so a failed load leaves the model unchanged.
Module map: saving_h5.py (checked HDF5 access), saving_files.py (atomic writes),
saving_checks.py (limits and the weight plan), this file (the Keras layout and the entry points).
"""
from __future__ import annotations

import inspect
import json
import warnings

import numpy as np

from . import backend as K
from .legacy import cudnn_weights, keras2_compat, local_weights, optimizer_state
from .saving_checks import WeightPlan, check_finite, check_model_config
from .saving_files import _write_hdf5
from .saving_h5 import (HDF5_OBJECT_HEADER_LIMIT, ModelFileError, _attr_json, _child, _file_versions,  # noqa: F401
                        _open_for_reading, _read_dataset, _weight_save_names, _weights_root, _where,
                        load_attributes_from_hdf5_group, save_attributes_to_hdf5_group, strip_output_index)
from .layers import deserialize as deserialize_layer
from .serialization import (CustomObjectScope, SafeModeScope, deserialize_keras_object, get_registered_object,
                            layer_class, offered_names)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_config", "model_from_json",
           "save_weights_to_hdf5_group", "load_weights_from_hdf5_group", "load_weights_from_hdf5_group_by_name",
           "save_attributes_to_hdf5_group", "load_attributes_from_hdf5_group", "ModelFileError",
           "HDF5_OBJECT_HEADER_LIMIT"]

# The Keras file-format version written in `keras_version` (readers of Keras 2 files use it only to
# recognise Keras 1 files); keraslite's own version goes into `keraslite_version`.
KERAS_FORMAT_VERSION = "2.2.4"

_CONV_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "ConvLSTM2D")


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


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """save_model(model, filepath, overwrite=True, include_optimizer=True): architecture,
    weights and (when compiled and include_optimizer) the training configuration and optimizer
    state, in one HDF5 file (an h5py File/Group, or a binary file-like object with `write` such as
    io.BytesIO, is also accepted)."""
    _write_hdf5(filepath, overwrite, lambda f: _write_model(f, model, include_optimizer), "the model")


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """save_weights(model, filepath, overwrite=True): the weights of `model.layers` at the root
    of an HDF5 file."""
    _write_hdf5(filepath, overwrite, lambda f: save_weights_to_hdf5_group(f, model.layers), "the weights")


# ---------------------------------------------------------------------------------------------
# reading

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


def _layer_values(layer, group, weight_names, symbolic, where, saved_name, backend, reshape, strict=True,
                  allow_nonfinite=False, taken=None):
    """Read and check the arrays of one saved layer for `symbolic` (the layer's weights).
    Returns the list of arrays (cast to the variables' dtypes; None for a variable that
    `taken` says already holds this very dataset), or a string saying what does not fit when
    strict is False; raises ValueError when strict. Shapes are compared before anything is read."""
    def mismatch(kind, msg):
        if strict:
            raise ValueError(msg)
        return f"due to mismatch in {kind}: {msg}"  # Keras 2's wording for the skip warning

    if len(weight_names) != len(symbolic):
        return mismatch(f"number of weights ({len(symbolic)} vs {len(weight_names)})", f"Layer {layer.name!r} (matched to layer {saved_name!r} of {where}) expects "
                        f"{len(symbolic)} weights, but the saved weights have {len(weight_names)} elements")
    dsets = [_child(group, n, where, "dataset") for n in weight_names]
    targets = [tuple(K.int_shape(w)) for w in symbolic]
    convert = cudnn_weights.recurrent_weight_converter(layer, [d.shape for d in dsets], targets) or \
        local_weights.local_kernel_converter(layer, [d.shape for d in dsets], targets)
    if convert is not None:  # Keras 2 loads CuDNNLSTM weights into LSTM (and back), decided by shapes
        arrays = convert([_read_dataset(d, where, n) for n, d in zip(weight_names, dsets)])
        return [check_finite(np.asarray(a), K.dtype(w), allow_nonfinite, f"{where}: weight {n!r} of layer {saved_name!r}")
                for n, w, a in zip(weight_names, symbolic, arrays)]
    plans = []
    for n, d, w, target in zip(weight_names, dsets, symbolic, targets):
        shape = tuple(d.shape)
        if shape == target:
            plans.append(False)
        elif reshape and int(np.prod(shape)) == int(np.prod(target)):
            plans.append(True)
        else:
            how = "" if not reshape else " (and their sizes differ, so reshape=True cannot help)"
            return mismatch(f"shape ({target} vs {shape})", f"Layer {layer.name!r}: weight {strip_output_index(getattr(w, 'name', '') or n)!r} "
                            f"has shape {target}, but the saved weight {n!r} of layer {saved_name!r} in {where} "
                            f"has shape {shape}{how}")
    taken = taken or {}
    flip = backend == "theano" and type(layer).__name__ in _CONV_LAYERS
    values = []
    for i, (n, d, w, target, do_reshape) in enumerate(zip(weight_names, dsets, symbolic, targets, plans)):
        if not flip and not do_reshape and taken.get(getattr(w, "name", None)) == d.name:
            values.append(None)  # built from this dataset already (load_model's WeightPlan)
            continue
        arr = _read_dataset(d, where, n)
        if do_reshape:
            arr = arr.reshape(target)
        values.append(arr)
    if flip and values:
        values[0] = _convert_kernel(values[0])
    out = []
    for n, w, arr in zip(weight_names, symbolic, values):
        if arr is not None:
            arr = check_finite(arr, K.dtype(w) if hasattr(w, "dtype") else None, allow_nonfinite,
                               f"{where}: weight {n!r} of layer {saved_name!r}")
        out.append(arr)
    return out


def _assign(pairs) -> None:
    K.batch_set_value([(w, v) for w, v in pairs if v is not None])


def load_weights_from_hdf5_group(f, layers, reshape: bool = False, allow_nonfinite: bool = False,
                                 _taken: dict | None = None) -> None:
    """load_weights_from_hdf5_group(f, layers, reshape=False, allow_nonfinite=False): assign the
    weights of a `save_weights_to_hdf5_group` group to `layers`, matching layers that have weights
    in order to saved layers with weights. Counts, shapes and finiteness are checked first
    (ValueError); nothing is assigned unless everything fits."""
    where = _where(f)
    backend = _versions_and_backend(f, where)
    filtered_layers = [layer for layer in layers if layer.weights]
    saved = [s for s in _saved_layers(f, where) if s[2]]
    if len(saved) != len(filtered_layers):
        # Keras 2's sentence first, then which layers (with weights) each side has
        raise ValueError(f"You are trying to load a weight file containing {len(saved)} layers into a model with "
                         f"{len(filtered_layers)} layers. The {where} has weights for {[s[0] for s in saved][:10]}, "
                         f"the model for {[l.name for l in filtered_layers][:10]}")
    pairs = []
    for (name, g, weight_names), layer in zip(saved, filtered_layers):
        symbolic = list(layer.weights)
        values = _layer_values(layer, g, weight_names, symbolic, where, name, backend, reshape,
                               allow_nonfinite=allow_nonfinite, taken=_taken)
        pairs.extend(zip(symbolic, values))
    _assign(pairs)


def _versions_and_backend(f, where: str):
    """Check the group's (else the file's) keras_version; return the backend that wrote it."""
    _, backend = _file_versions(f, where)
    root = getattr(f, "file", None)
    if root is not None and root.name != f.name:
        _, root_backend = _file_versions(root, where)
        backend = backend if backend is not None else root_backend
    return backend


def load_weights_from_hdf5_group_by_name(f, layers, skip_mismatch: bool = False, reshape: bool = False,
                                         allow_nonfinite: bool = False) -> None:
    """load_weights_from_hdf5_group_by_name(f, layers, skip_mismatch=False, reshape=False,
    allow_nonfinite=False): only layers whose name is in the file get weights; a layer whose count
    or shapes differ raises ValueError, or is skipped with a warning when skip_mismatch.
    Non-finite weights raise ValueError unless allow_nonfinite. Nothing is assigned unless every
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
                                   strict=not skip_mismatch, allow_nonfinite=allow_nonfinite)
            if isinstance(values, str):
                warnings.warn(f"Skipping loading of weights for layer {layer.name} {values}")
                continue
            pairs.extend(zip(symbolic, values))
    _assign(pairs)


def load_weights(model, filepath, by_name: bool = False, skip_mismatch: bool = False, reshape: bool = False,
                 allow_nonfinite: bool = False):
    """load_weights(model, filepath, by_name=False, skip_mismatch=False, reshape=False,
    allow_nonfinite=False): load a file written by save_weights or save_model (Keras 2's or
    keraslite's) into `model.layers`. by_name=False: layers with weights are matched in order;
    by_name=True: by layer name (skip_mismatch skips layers that do not fit, with a warning).
    Weights holding inf/nan (or too large for the variable's dtype) are a ValueError unless
    allow_nonfinite=True."""
    if skip_mismatch and not by_name:
        warnings.warn("load_weights: skip_mismatch only applies with by_name=True; it is ignored")
    with _open_for_reading(filepath, "load weights") as (f, where):
        group, _ = _weights_root(f, where)
        if by_name:
            load_weights_from_hdf5_group_by_name(group, model.layers, skip_mismatch=skip_mismatch, reshape=reshape,
                                                 allow_nonfinite=allow_nonfinite)
        else:
            load_weights_from_hdf5_group(group, model.layers, reshape=reshape, allow_nonfinite=allow_nonfinite)


# ---------------------------------------------------------------------------------------------
# model configs

_MODEL_CLASSES = ("Sequential", "Model", "Functional", "Network")


def model_from_config(config, custom_objects=None, safe_mode: bool | None = None):
    """model_from_config(config, custom_objects=None, safe_mode=None): a model (or layer) from
    {'class_name', 'config'}; `custom_objects` maps names of custom classes and functions. Names
    resolve by keraslite.serialization's policy; safe_mode=False also lets Lambda layers name
    functions of imported modules (None: the process default, safe unless
    enable_unsafe_deserialization() was called)."""
    if isinstance(config, list):
        raise TypeError("`model_from_config` expects a dictionary, not a list. Maybe you meant to use "
                        "`Sequential.from_config(config)`?")
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(f"model_from_config: expected a dict with 'class_name' and 'config', got {config!r:.200}")
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        raise ValueError(f"model_from_config: 'class_name' should be a string, got {class_name!r:.100}")
    custom_objects = dict(custom_objects or {})
    # tf.keras / Keras 2.2-2.3 spellings (GlorotUniform, Functional, groups=1, ...) -> keraslite's
    config = keras2_compat.translate_model_config(config, offered_names(custom_objects))
    check_model_config(config, offered_names(custom_objects))
    with SafeModeScope(safe_mode):
        if get_registered_object(class_name, custom_objects) is not None:
            return deserialize_keras_object(config, custom_objects=custom_objects, printable_module_name="layer")
        if class_name in _MODEL_CLASSES:
            cls = layer_class("Sequential" if class_name == "Sequential" else "Model")
            return _from_config(cls, config["config"], custom_objects)
        return deserialize_layer(config, custom_objects=custom_objects)


def _from_config(cls, config, custom_objects):
    try:
        takes_custom = "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        takes_custom = False
    with CustomObjectScope(custom_objects):
        if takes_custom:
            return cls.from_config(config, custom_objects=custom_objects)
        return cls.from_config(config)


def model_from_json(json_string, custom_objects=None, safe_mode: bool | None = None):
    """model_from_json(json_string, custom_objects=None, safe_mode=None): a model from
    `model.to_json()` (see model_from_config for safe_mode)."""
    if isinstance(json_string, (bytes, bytearray)):
        json_string = bytes(json_string).decode("utf8")
    if not isinstance(json_string, str):
        raise TypeError(f"model_from_json expects a JSON string, got {type(json_string).__name__}")
    try:
        config = json.loads(json_string)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e})") from None
    return model_from_config(config, custom_objects=custom_objects, safe_mode=safe_mode)


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


def _all_layers(layer) -> list:
    """The layer and every layer inside it (nested models, wrappers), depth first."""
    found = [layer]
    inner = list(getattr(layer, "layers", None) or [])
    inner += [getattr(layer, a) for a in ("layer", "forward_layer", "backward_layer") if getattr(layer, a, None)]
    for sub in inner:
        found += _all_layers(sub)
    return found


def _load_optimizer_weights(model, f, where: str, allow_nonfinite: bool) -> None:
    if "optimizer_weights" not in f:
        return
    group = _child(f, "optimizer_weights", where, "group")
    names = load_attributes_from_hdf5_group(group, "weight_names")
    dsets = [_child(group, n, where, "dataset") for n in names]
    if getattr(model, "_is_graph_network", True) is False or getattr(model, "built", True) is False:
        warnings.warn(f"{where}: the optimizer state was not loaded: the model is not built yet, so its "
                      "optimizer has no state variables. Your model starts with a freshly initialized optimizer.")
        return
    optimizer = model.optimizer
    saved_shapes = [tuple(d.shape) for d in dsets]

    def fits(current):
        return len(current) == len(saved_shapes) and all(
            tuple(K.int_shape(w)) == s for w, s in zip(current, saved_shapes))

    # Saved before the optimizer had made its per-parameter state (only `iterations`): set it now;
    # else the state variables are made first. Shapes are compared before anything is read.
    current = list(getattr(optimizer, "weights", None) or [])
    if not (current and fits(current)):
        model._make_train_function()
        current = list(getattr(optimizer, "weights", None) or [])
        # state saved by name by tf.keras (Adam/m/dense/kernel:0, Adam/dense/kernel/m:0): keraslite's order
        params = (getattr(model, "_collected_trainable_weights", None) or getattr(model, "trainable_weights", None)
                  or [])
        convert = local_weights.local_state_converter(_all_layers(model), params)
        if optimizer_state.optimizer_weights_in_order(names, [np.broadcast_to(np.float32(0), s) for s in saved_shapes],
                                                      optimizer,
                                                      params, convert) is not None:
            raw = [check_finite(_read_dataset(d, where, n), None, allow_nonfinite, f"{where}: optimizer weight {n!r}")
                   for d, n in zip(dsets, names)]
            ordered = optimizer_state.optimizer_weights_in_order(names, raw, optimizer, params, convert)
            if len(ordered) == len(current) and all(tuple(K.int_shape(w)) == tuple(np.shape(v))
                                                    for w, v in zip(current, ordered)):
                values = [np.asarray(v, dtype=K.dtype(w)) for w, v in zip(current, ordered)]
                try:
                    optimizer.set_weights(values)
                    return
                except ValueError:
                    pass
        if not fits(current):
            warnings.warn(f"Error in loading the saved optimizer state ({where} holds {len(saved_shapes)} optimizer "
                          f"weights of shapes {saved_shapes[:6]}, the optimizer has {len(current)} of shapes "
                          f"{[tuple(K.int_shape(w)) for w in current][:6]}). As a result, your model is starting "
                          "with a freshly initialized optimizer.")
            return
    values = [check_finite(_read_dataset(d, where, n), K.dtype(w), allow_nonfinite, f"{where}: optimizer weight {n!r}")
              for d, n, w in zip(dsets, names, current)]
    try:
        optimizer.set_weights(values)
    except ValueError as e:
        warnings.warn(f"Error in loading the saved optimizer state ({e}). As a result, your model is starting "
                      "with a freshly initialized optimizer.")


def _weight_plan(group, where: str, allow_nonfinite: bool) -> WeightPlan:
    """The saved weights by variable name, every dataset checked (numeric, in this file, as large
    as it says) before the model is built."""
    found, ambiguous = {}, set()
    for layer_name, g, weight_names in _saved_layers(group, where):
        for n in weight_names:
            var_name = strip_output_index(n)
            if var_name in found:
                ambiguous.add(var_name)
            found[var_name] = (_child(g, n, where, "dataset"), n, layer_name)
    for var_name in ambiguous:
        del found[var_name]
    return WeightPlan(found, where, _read_dataset, allow_nonfinite=allow_nonfinite)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool | None = None,
               allow_nonfinite: bool = False):
    """load_model(filepath, custom_objects=None, compile=True, safe_mode=None,
    allow_nonfinite=False): the model saved by save_model (or Keras 2's model.save): rebuilt from
    its config, weights set and, when compile and the file has a training configuration, compiled
    with the saved optimizer (state included), loss, metrics, loss weights and sample-weight mode.
    `filepath` may be a path, an h5py File/Group or a binary file-like object with `read`.

    The file may name only keraslite's public classes and functions and what `custom_objects` (or
    the custom-object scope, or the registry) offers; safe_mode=False also lets Lambda layers name
    functions of modules already imported (only for files you trust; None means the process
    default, safe unless enable_unsafe_deserialization() was called). Python code stored in a file
    is never run. Dimensions are checked and each weight's saved shape is compared with the config
    before memory is requested for it; weights are read in their saved dtype. Weights holding
    inf/nan, or values too large for the variable's dtype, are a ValueError unless
    allow_nonfinite=True."""
    custom_objects = dict(custom_objects or {})
    with _open_for_reading(filepath, "load the model") as (f, where), SafeModeScope(safe_mode):
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
        weights_group = _child(f, "model_weights", where, "group")
        plan = _weight_plan(weights_group, where, allow_nonfinite)
        with plan.active():
            model = model_from_config(config, custom_objects=custom_objects)
        load_weights_from_hdf5_group(weights_group, model.layers, allow_nonfinite=allow_nonfinite, _taken=plan.taken)
        if not compile:
            return model
        if training_config is None:
            warnings.warn("No training configuration found in save file: the model was *not* compiled. Compile it "
                          "manually.")
            return model
        if not isinstance(training_config, dict) or "optimizer_config" not in training_config:
            raise ModelFileError(f"{where}: 'training_config' has no 'optimizer_config'")
        training_config = keras2_compat.translate_training_config(training_config, where,
                                                                  getattr(model, "output_names", None))
        from . import losses, metrics, optimizers
        optimizer = optimizers.deserialize(training_config["optimizer_config"], custom_objects=custom_objects)
        kwargs = dict(optimizer=optimizer,
                      loss=_convert_custom_objects(training_config.get("loss"), custom_objects, losses.deserialize),
                      metrics=_convert_custom_objects(training_config.get("metrics"), custom_objects,
                                                      metrics.deserialize),
                      loss_weights=training_config.get("loss_weights"),
                      sample_weight_mode=training_config.get("sample_weight_mode"))
        if "sample_weight_mode" not in training_config and keras2_compat.written_by_tf2(config):
            # tf.keras saves no sample_weight_mode and weighs a sequence output per timestep or per
            # sample, whichever it is given: 'temporal', with 1-D weights spread over the timesteps
            modes = ["temporal" if len(K.int_shape(o)) >= 3 else None for o in model.outputs]
            kwargs["sample_weight_mode"] = modes if any(modes) else None
            model._sample_weights_broadcast = True
        weighted = training_config.get("weighted_metrics")
        if weighted:
            kwargs["weighted_metrics"] = _convert_custom_objects(weighted, custom_objects)
        model.compile(**kwargs)
        _load_optimizer_weights(model, f, where, allow_nonfinite)
    return model

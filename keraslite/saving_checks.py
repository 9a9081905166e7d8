"""Checks of what a model file asks for, made before memory is requested.

* `check_model_config(config)`: the dimension fields of every layer config (units, filters,
  kernel_size, shapes, ...) are integers in range; errors name the layer and the field.
* `planned_weight_value(layer, name, shape, dtype)`: called by `Layer.add_weight` before an
  initializer runs. It refuses negative dimensions and weights larger than this machine's memory
  (naming the layer, the weight and the config fields that gave the size), and while a
  `WeightPlan` is active (load_model) it compares the shape with the saved weight of the same
  name and returns the saved values, read in their saved dtype, so no initializer runs and a
  shape that disagrees with the file fails before anything is allocated for it.
* `check_finite(arr, ...)`: non-finite weights (inf/nan, or values that overflow the variable's
  dtype) are an error unless the caller passed allow_nonfinite=True.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
from typing import Any

import numpy as np

__all__ = ["check_model_config", "planned_weight_value", "WeightPlan", "check_finite", "memory_limit_bytes",
           "MAX_DIMENSION"]

# The largest single dimension a config may give (HDF5 and BLAS index with 32-bit ints in practice).
MAX_DIMENSION = 2 ** 31 - 1

# Fields whose integers are sizes (at least 1) or paddings/croppings/shapes (at least 0).
_POSITIVE_FIELDS = ("units", "filters", "kernel_size", "strides", "pool_size", "dilation_rate", "depth_multiplier",
                    "output_dim", "input_dim", "n", "size", "input_length", "dims")
_NON_NEGATIVE_FIELDS = ("cropping", "padding", "output_padding", "batch_input_shape", "batch_size",
                        "build_input_shape")


def memory_limit_bytes() -> int:
    """The most bytes one load may request: this machine's physical memory (KERASLITE_MAX_WEIGHT_BYTES
    overrides it)."""
    env = os.environ.get("KERASLITE_MAX_WEIGHT_BYTES")
    if env:
        try:
            return int(env)
        except ValueError:
            pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 2 ** 40


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# static checks of a config


def _ints(value):
    """The numbers inside a field value (nested lists/tuples), bools and strings left out."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float, np.integer, np.floating)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _ints(v)


def _check_field(class_name, layer_name, field, value, minimum):
    for v in _ints(value):
        if isinstance(v, (float, np.floating)):
            if not math.isfinite(v) or v != int(v):
                raise ValueError(f"Layer {layer_name!r} ({class_name}): field {field!r} should hold integers, "
                                 f"found {v!r}")
            v = int(v)
        if v < minimum and not (field == "target_shape" and v == -1):
            raise ValueError(f"Layer {layer_name!r} ({class_name}): field {field!r} is {value!r}; a "
                             f"{'size' if minimum else 'dimension'} must be at least {minimum}")
        if v > MAX_DIMENSION:
            raise ValueError(f"Layer {layer_name!r} ({class_name}): field {field!r} is {value!r}, an absurd size "
                             f"(more than {MAX_DIMENSION}); the file is corrupt or hostile")


def _check_layer(class_name, config):
    name = config.get("name")
    for field in _POSITIVE_FIELDS:
        if field in config:
            _check_field(class_name, name, field, config[field], 1 if field not in ("input_length",) else 0)
    for field in _NON_NEGATIVE_FIELDS:
        if field in config:
            _check_field(class_name, name, field, config[field], 0)
    if "target_shape" in config:
        _check_field(class_name, name, "target_shape", config["target_shape"], 1)


def check_model_config(config: Any, offered=(), _depth: int = 0) -> None:
    """check_model_config(config, offered=()): ValueError naming the layer and field for a
    negative, non-integer or absurd dimension anywhere in a (model or layer) config. The fields of
    classes named in `offered` (the caller's custom objects) are theirs and not checked."""
    if _depth > 200:
        raise ValueError("The model config is nested more than 200 levels deep; the file is corrupt or hostile")
    if isinstance(config, dict):
        inner = config.get("config")
        name = config.get("class_name")
        if isinstance(name, str) and isinstance(inner, dict) and name not in offered:
            _check_layer(name, inner)
        for value in config.values():
            if isinstance(value, (dict, list)):
                check_model_config(value, offered, _depth + 1)
    elif isinstance(config, list):
        for value in config:
            if isinstance(value, (dict, list)):
                check_model_config(value, offered, _depth + 1)


# ---------------------------------------------------------------------------------------------
# the add_weight hook


def _fields_giving(layer, dims) -> str:
    """' (from field 'units' = 1000000)' for config fields holding one of `dims`."""
    try:
        config = layer.get_config()
    except Exception:  # a layer half way through build may not serialise; the message still names it
        return ""
    hits = []
    for key, value in config.items():
        if isinstance(value, bool):
            continue
        if any(v in dims for v in _ints(value) if isinstance(v, (int, np.integer))):
            hits.append(f"{key}={value!r}")
    return f" (from its config: {', '.join(hits)})" if hits else ""


def _who(layer) -> str:
    """"Layer 'lstm_cell_3' (LSTMCell), inside layer 'lstm_1' (LSTM)": a cell or wrapped layer
    is named with the layer of the file that builds it (found on the call stack; error path only)."""
    owners = [layer]
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not None and all(owner is not o for o in owners) and hasattr(owner, "add_weight") \
                and hasattr(owner, "name") and frame.f_code.co_name in ("build", "__call__"):
            owners.append(owner)
        frame = frame.f_back
    return ", inside ".join(f"{'Layer ' if i == 0 else 'layer '}{getattr(o, 'name', None)!r} ({type(o).__name__})"
                            for i, o in enumerate(owners))


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


_PLAN: contextvars.ContextVar = contextvars.ContextVar("keraslite_weight_plan", default=None)


def planned_weight_value(layer, name: str, shape: tuple, dtype) -> np.ndarray | None:
    """Checks a weight about to be created (negative or absurd shape: ValueError naming the layer,
    the weight and the config fields); returns its saved value when a WeightPlan has one, else None
    (the initializer then runs)."""
    negative = [d for d in shape if d < 0]
    if negative:
        raise ValueError(f"{_who(layer)}: weight {name!r} would have shape {_shape_str(shape)} with "
                         f"a negative dimension{_fields_giving(layer, negative)}")
    itemsize = np.dtype(dtype).itemsize
    nbytes = math.prod(int(d) for d in shape) * itemsize
    plan = _PLAN.get()
    limit = memory_limit_bytes() if plan is None else plan.bytes_left()
    if nbytes > limit:
        big = [d for d in shape if d > 1]
        raise ValueError(f"{_who(layer)}: weight {name!r} of shape {_shape_str(shape)} would need "
                         f"{_human(nbytes)}, more than the {_human(limit)} of memory this process may use"
                         f"{_fields_giving(layer, big)}; the config is corrupt or hostile")
    if plan is None:
        return None
    return plan.take(layer, name, tuple(int(d) for d in shape), dtype, nbytes)


class WeightPlan:
    """The saved weights of a model file by variable name ('dense_1/kernel'), handed to
    add_weight while the model is built from its config (see planned_weight_value)."""

    def __init__(self, datasets: dict, where: str, read, allow_nonfinite: bool = False):
        # datasets: variable name -> (h5py Dataset, saved weight name, saved layer name); `read`
        # reads a dataset (checked) as a NumPy array of its saved dtype
        self.datasets = dict(datasets)
        self.where = where
        self.read = read
        self.allow_nonfinite = allow_nonfinite
        # variable name -> dataset path, for load_weights_from_hdf5_group to skip re-reading;
        # a name created twice (nested layers that share names) is never skipped
        self.taken: dict[str, str] = {}
        self._seen: set[str] = set()
        self._budget = memory_limit_bytes()

    def bytes_left(self) -> int:
        return self._budget

    def take(self, layer, name: str, shape: tuple, dtype, nbytes: int):
        self._budget -= nbytes
        var_name = f"{layer.name}/{name}"
        if var_name in self._seen:
            self.taken.pop(var_name, None)
            return None
        self._seen.add(var_name)
        entry = self.datasets.pop(var_name, None)
        if entry is None:
            return None
        dset, saved_name, saved_layer = entry
        saved_shape = tuple(int(d) for d in dset.shape)
        if saved_shape != shape and type(layer).__name__ in ("LocallyConnected1D", "LocallyConnected2D") and \
                len(saved_shape) in (1, 4, 6) and name == "kernel":
            return None  # tf.keras's implementation=2/3 kernel: converted when the weights are loaded
        if saved_shape != shape:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): weight {name!r} has shape "
                             f"{_shape_str(shape)} from the model config, but the saved weight {saved_name!r} of "
                             f"layer {saved_layer!r} in {self.where} has shape {_shape_str(saved_shape)}; nothing "
                             "was loaded")
        value = self.read(dset, self.where, saved_name)
        value = check_finite(value, dtype, self.allow_nonfinite, f"{self.where}: weight {saved_name!r} of layer "
                                                                 f"{saved_layer!r}")
        self.taken[var_name] = dset.name
        return value

    @contextlib.contextmanager
    def active(self):
        """with plan.active(): add_weight takes saved values from this plan."""
        token = _PLAN.set(self)
        try:
            yield self
        finally:
            _PLAN.reset(token)


def check_finite(arr: np.ndarray, dtype, allow_nonfinite: bool, what: str) -> np.ndarray:
    """`arr` cast to `dtype` (None: kept); ValueError when a value is or becomes inf/nan, unless
    allow_nonfinite."""
    arr = np.asarray(arr)
    if dtype is not None and arr.dtype != np.dtype(dtype):
        with np.errstate(over="ignore", invalid="ignore"):
            cast = arr.astype(dtype)
    else:
        cast = arr
    if allow_nonfinite or cast.dtype.kind not in "fc" or cast.size == 0:
        return cast
    finite = np.isfinite(cast)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        overflow = (arr.dtype.kind in "fc" and bool(np.isfinite(arr).all()))
        why = (f"it holds values too large for {cast.dtype} (they would become inf)" if overflow else
               f"it holds {bad} non-finite value{'s' if bad != 1 else ''} (inf or nan)")
        raise ValueError(f"{what}: {why}. Weights must be finite; pass allow_nonfinite=True to load them anyway")
    return cast

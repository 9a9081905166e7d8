"""The arguments of fit/evaluate/predict, their *_on_batch and *_generator forms, checked before
any work: a bad value gets a TypeError (wrong type) or ValueError (wrong value) naming the entry
point, the argument and the value, so a bad call never builds, trains or moves a variable.

What is accepted follows Keras 2.3: batch_size=None means 32 (or the model's static batch size)
unless steps are given, steps with arrays feed the whole arrays once per step, numpy integers count
as integers, and generators or Sequences stand for x (fit/evaluate/predict hand them to the
generator loops, whose batches train_on_batch & co. check as they come). Shapes are checked
later, against the model, by data.py.
"""
from __future__ import annotations

import numbers

import numpy as np

from .data_adapters import is_generator_like

_REAL_KINDS = "biuf"  # bool, signed and unsigned int, float
_KIND_NAMES = {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes", "V": "raw records",
               "M": "datetimes", "m": "timedeltas"}
_KIND_HINTS = {"c": "take the real part or the magnitude explicitly (np.real, np.abs)",
               "O": "convert it to a numeric array first (e.g. np.asarray(x, dtype='float32'))",
               "U": "encode the strings as numbers first (e.g. a Tokenizer or class indices)",
               "S": "encode the bytes as numbers first"}


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _short(value) -> str:
    return f"an array of shape {tuple(value.shape)}" if hasattr(value, "shape") else _show(value)


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str, who: str, allow_none: bool = True, minimum: int = 1) -> int | None:
    """`value` as an int >= minimum (None passes when allowed); TypeError/ValueError naming it."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise TypeError(f"{who}: `{name}` must be an integer{' or None' if allow_none else ''}, got {_show(value)}")
    if value < minimum:
        raise ValueError(f"{who}: `{name}` must be {'positive' if minimum == 1 else f'>= {minimum}'}, "
                         f"got {value!r}")
    return int(value)


def is_generator_or_sequence(x) -> bool:
    """True for a utils.Sequence or an iterator (a generator): batches, not arrays."""
    return is_generator_like(x)


# ------------------------------------------------------------------------------- scalars

def batch_size(value, who: str, model=None, steps=None, steps_name: str = "steps") -> int | None:
    """The batch size to use: None means the model's static batch size or 32, unless `steps`
    are given (then batch_size must stay None: each step feeds the whole arrays)."""
    value = positive_int(value, "batch_size", who)
    if steps is not None:
        if value is not None:
            raise ValueError(f"{who}: `batch_size` must be None when `{steps_name}` is given (each step feeds the "
                             f"whole arrays), got batch_size={value!r} and {steps_name}={steps!r}")
        return None
    static = _static_batch_size(model)
    if static is not None:
        if value is not None and value != static:
            raise ValueError(f"{who}: `batch_size`={value} is incompatible with the batch size {static} that the "
                             "model's input layer fixes")
        return static
    return 32 if value is None else value


def _static_batch_size(model):
    inputs = getattr(model, "inputs", None) or []
    shape = getattr(inputs[0], "shape", None) if inputs else None
    return shape[0] if shape else None


def epochs(epochs_value, initial_epoch, who: str) -> None:
    """epochs and initial_epoch: integers, 0 <= initial_epoch <= epochs."""
    epochs_value = positive_int(epochs_value, "epochs", who, allow_none=False, minimum=0)
    initial_epoch = positive_int(initial_epoch, "initial_epoch", who, allow_none=False, minimum=0)
    if initial_epoch > epochs_value:
        raise ValueError(f"{who}: `initial_epoch`={initial_epoch} is past `epochs`={epochs_value} (epochs is the "
                         "index of the last epoch, not a count of further epochs)")


def verbose(value, who: str) -> None:
    """verbose: 0, 1, 2 (or a bool)."""
    if isinstance(value, (bool, np.bool_)):
        return
    if not _is_int(value):
        raise TypeError(f"{who}: `verbose` must be 0, 1 or 2, got {_show(value)}")
    if value not in (0, 1, 2):
        raise ValueError(f"{who}: `verbose` must be 0, 1 or 2, got {value!r}")


def shuffle(value, who: str) -> None:
    """shuffle: True, False or 'batch'."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, str) and value == "batch"):
        return
    raise (ValueError if isinstance(value, str) else TypeError)(
        f"{who}: `shuffle` must be True, False or 'batch', got {_show(value)}")


def validation_split(value, who: str) -> float:
    """validation_split: a real number in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{who}: `validation_split` must be a number in [0, 1), got {_show(value)}")
    if not 0.0 <= float(value) < 1.0:  # also rejects NaN
        raise ValueError(f"{who}: `validation_split` must be in [0, 1), got {value!r}")
    return float(value)


def validation_freq(value, who: str) -> None:
    """validation_freq: a positive integer, or a collection of (1-based) epoch numbers."""
    if isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            positive_int(v, "validation_freq", who, allow_none=False)
        return
    positive_int(value, "validation_freq", who, allow_none=False)


def callbacks(value, who: str) -> None:
    """callbacks: None or a list of Callback objects."""
    if value is None:
        return
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{who}: `callbacks` must be a list of Callback objects, got {_show(value)}")
    for cb in value:
        if not (hasattr(cb, "set_model") and hasattr(cb, "set_params")):
            raise TypeError(f"{who}: `callbacks` must hold Callback objects, got {_show(cb)}")


def class_weight(value, who: str, output_names=()) -> None:
    """None, {class index: weight}, or per output: {output name: dict or None} / a list."""
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        for cw in value:
            if cw is not None:
                _class_weight_dict(cw, who)
        return
    if not isinstance(value, dict):
        raise TypeError(f"{who}: `class_weight` must be a dict {{class index: weight}}, got {_show(value)}")
    names = set(output_names)
    if value and all(isinstance(k, str) and k in names for k in value):
        for cw in value.values():
            if cw is not None:
                _class_weight_dict(cw, who)
        return
    _class_weight_dict(value, who)


def _class_weight_dict(cw, who: str) -> None:
    if not isinstance(cw, dict):
        raise TypeError(f"{who}: `class_weight` must be a dict {{class index: weight}}, got {_show(cw)}")
    for key, weight in cw.items():
        if not (_is_int(key) or (isinstance(key, (float, np.floating)) and float(key).is_integer())):
            raise ValueError(f"{who}: `class_weight` keys must be class indices (integers), got {_show(key)}")
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (numbers.Real, np.number)) \
                or isinstance(weight, (complex, np.complexfloating)):
            raise TypeError(f"{who}: `class_weight` for class {key!r} must be a number, got {_show(weight)}")
        if not np.isfinite(float(weight)):
            raise ValueError(f"{who}: `class_weight` for class {key!r} must be finite, got {weight!r}")


# ------------------------------------------------------------------------------- data

def _leaves(value, name: str):
    """(label, array-like) for every array in `value` (an array, a list of arrays, a dict)."""
    if isinstance(value, dict):
        for key, v in value.items():
            yield from _leaves(v, f"{name}[{key!r}]")
    elif isinstance(value, (list, tuple)) and any(hasattr(e, "shape") or isinstance(e, dict) for e in value):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{name}[{i}]")
    elif isinstance(value, (list, tuple)) and value and _ragged(value):
        # nested lists of unequal lengths: one list per model input, or a ragged batch (data.py
        # tells which, knowing the model)
        for i, v in enumerate(value):
            yield name if len(value) == 1 else f"{name}[{i}]", v
    elif value is not None:
        yield name, value


def _ragged(value) -> bool:
    try:
        np.asarray(value)
    except (ValueError, TypeError):
        return True
    return False


def _as_array(value, label: str, who: str):
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ValueError(f"{who}: `{label}` cannot be read as an array ({e})") from None


def data(value, name: str, who: str) -> int | None:
    """Check that every array of x / y / sample_weight holds real numbers and at least one
    sample; returns the number of samples of the first array (None if there is none)."""
    n = None
    for label, leaf in _leaves(value, name):
        arr = _as_array(leaf, label, who)
        kind = np.dtype(arr.dtype).kind
        if kind not in _REAL_KINDS:
            what = _KIND_NAMES.get(kind, f"dtype {arr.dtype}")
            hint = _KIND_HINTS.get(kind, "convert it to a numeric dtype first")
            raise TypeError(f"{who}: `{label}` holds {what} (dtype {arr.dtype}); keraslite takes real numbers "
                            f"(bool, int or float): {hint}")
        if len(arr.shape) and arr.shape[0] == 0:
            raise ValueError(f"{who}: `{label}` has no samples (shape {tuple(arr.shape)}); pass at least one")
        if n is None and len(arr.shape):
            n = int(arr.shape[0])
    return n


def _split_sizes(n, split: float, who: str) -> None:
    if n is None or not split:
        return
    at = int(n * (1.0 - split))
    if at == 0:
        raise ValueError(f"{who}: `validation_split`={split!r} leaves no training samples out of {n}")
    if at == n:
        raise ValueError(f"{who}: `validation_split`={split!r} leaves no validation samples out of {n}")


def _validation_data(value, who: str) -> None:
    if is_generator_or_sequence(value):
        return
    if not isinstance(value, (list, tuple)) or len(value) not in (2, 3):
        count = len(value) if isinstance(value, (list, tuple)) else 1
        raise ValueError(f"{who}: `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"val_sample_weights), got {type(value).__name__} with {count} item(s)")
    for i, part in enumerate(value):
        if part is not None:
            data(part, f"validation_data[{i}]", who)


# ------------------------------------------------------------------------------- entry points

def fit(model, x, y, batch_size_value, epochs_value, verbose_value, callbacks_value, split, validation_data,
        shuffle_value, class_weight_value, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_freq_value=1, who: str = "fit") -> int | None:
    """Check every argument of Model.fit; returns the batch size to use (None: step-wise)."""
    epochs(epochs_value, initial_epoch, who)
    verbose(verbose_value, who)
    callbacks(callbacks_value, who)
    shuffle(shuffle_value, who)
    split = validation_split(split, who)
    validation_freq(validation_freq_value, who)
    steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch", who)
    validation_steps = positive_int(validation_steps, "validation_steps", who)
    class_weight(class_weight_value, who, getattr(model, "output_names", ()))
    if x is None:
        raise ValueError(f"{who}: `x` is needed (an array, a list or dict of arrays, a generator or a Sequence)")
    if is_generator_or_sequence(x):
        _generator_form(who, x, y, batch_size_value, sample_weight, split)
        if validation_data is not None:
            _validation_data(validation_data, who)
        return None
    bs = batch_size(batch_size_value, who, model, steps_per_epoch, "steps_per_epoch")
    n = data(x, "x", who)
    data(y, "y", who)
    data(sample_weight, "sample_weight", who)
    if is_generator_or_sequence(validation_data):
        # array batches validated on a generator or Sequence (tf.keras; data_adapters.fit_arrays)
        if steps_per_epoch is not None:
            raise ValueError(f"{who}: `steps_per_epoch`={steps_per_epoch} cannot go with validation_data from a "
                             "generator or Sequence: fit then trains on batches of batch_size samples")
        _generator_validation_steps(validation_data, validation_steps, who)
        return bs
    if validation_data is not None:
        _validation_data(validation_data, who)
    else:
        _split_sizes(n, split, who)
    has_validation = validation_data is not None or split > 0
    if validation_steps is not None and steps_per_epoch is None:
        raise ValueError(f"{who}: `validation_steps`={validation_steps} is for step-wise training (give "
                         "`steps_per_epoch` too) or for validation_data from a generator")
    if validation_steps is not None and not has_validation:
        raise ValueError(f"{who}: `validation_steps`={validation_steps} is given but there is no validation data "
                         "(validation_data or validation_split)")
    if steps_per_epoch is not None and has_validation and validation_steps is None:
        raise ValueError(f"{who}: step-wise training (steps_per_epoch={steps_per_epoch}) validates step-wise too: "
                         "give `validation_steps`")
    return bs


def _generator_validation_steps(validation_data, validation_steps, who: str) -> None:
    from ..utils.data_utils import Sequence
    if validation_steps is None and not isinstance(validation_data, Sequence):
        raise ValueError(f"{who}: `validation_steps` is required when `validation_data` is a generator that is "
                         "not a keraslite.utils.Sequence")


def evaluate(model, x, y, batch_size_value, verbose_value, sample_weight, steps, callbacks_value=None,
             who: str = "evaluate") -> int | None:
    """Check every argument of Model.evaluate; returns the batch size (None: step-wise)."""
    verbose(verbose_value, who)
    callbacks(callbacks_value, who)
    steps = positive_int(steps, "steps", who)
    if x is None:
        raise ValueError(f"{who}: `x` is needed (an array, a list or dict of arrays, a generator or a Sequence)")
    if is_generator_or_sequence(x):
        _generator_form(who, x, y, batch_size_value, sample_weight, 0.0)
        return None
    bs = batch_size(batch_size_value, who, model, steps)
    data(x, "x", who)
    data(y, "y", who)
    data(sample_weight, "sample_weight", who)
    return bs


def predict(model, x, batch_size_value, verbose_value, steps, callbacks_value=None,
            who: str = "predict") -> int | None:
    """Check every argument of Model.predict; returns the batch size (None: step-wise)."""
    # evaluate's checks with no targets and no weights (checking an absent y is a no-op)
    return evaluate(model, x, None, batch_size_value, verbose_value, None, steps, callbacks_value, who)


def on_batch(model, who: str, x, y=None, sample_weight=None, class_weight_value=None) -> None:
    """Check the arguments of train_on_batch / test_on_batch / predict_on_batch."""
    if x is None:
        raise ValueError(f"{who}: `x` is needed (an array, a list or dict of arrays)")
    class_weight(class_weight_value, who, getattr(model, "output_names", ()))
    data(x, "x", who)
    data(y, "y", who)
    data(sample_weight, "sample_weight", who)


def _generator_form(who, x, y, batch_size_value, sample_weight, split) -> None:
    """Keras 2.3's rules for a generator or Sequence given as x: it yields whole batches."""
    for name, value in (("batch_size", batch_size_value), ("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(f"{who}: `{name}` is not supported when x is a generator or a Sequence (got "
                             f"{name}={_short(value)}): the generator yields (x, y) or (x, y, sample_weight) "
                             "batches of its own size")
    if split:
        raise ValueError(f"{who}: `validation_split`={split!r} cannot split a generator or Sequence: pass "
                         "validation_data")


def generator(who: str, gen, steps, steps_name: str = "steps", epochs_value=1, initial_epoch=0, verbose_value=0,
              callbacks_value=None, validation_data=None, validation_steps=None, class_weight_value=None,
              shuffle_value=True, max_queue_size=10, workers=1, use_multiprocessing=False,
              validation_freq_value=1, model=None) -> None:
    """Check the arguments of fit_generator / evaluate_generator / predict_generator."""
    from ..utils.data_utils import Sequence
    if not is_generator_or_sequence(gen):
        hint = " (call the generator function to get a generator)" if callable(gen) else ""
        raise TypeError(f"{who}: `generator` must be a generator (an iterator) or a keraslite.utils.Sequence, got "
                        f"{type(gen).__name__}{hint}")
    steps = positive_int(steps, steps_name, who)
    if steps is None:
        if not isinstance(gen, Sequence):
            raise ValueError(f"{who}: `{steps_name}=None` is only valid for a generator based on the "
                             f"`keras.utils.Sequence` class. Please specify `{steps_name}` or use the "
                             "`keras.utils.Sequence` class.")
        if len(gen) == 0:
            raise ValueError(f"{who}: the Sequence is empty (len 0): there is no batch to run")
    epochs(epochs_value, initial_epoch, who)
    verbose(verbose_value, who)
    callbacks(callbacks_value, who)
    shuffle(shuffle_value, who)
    validation_freq(validation_freq_value, who)
    class_weight(class_weight_value, who, getattr(model, "output_names", ()))
    positive_int(max_queue_size, "max_queue_size", who, allow_none=False)
    positive_int(workers, "workers", who, allow_none=False, minimum=0)
    if not isinstance(use_multiprocessing, (bool, np.bool_)):
        raise TypeError(f"{who}: `use_multiprocessing` must be True or False, got {_show(use_multiprocessing)}")
    validation_steps = positive_int(validation_steps, "validation_steps", who)
    if validation_data is not None:
        _validation_data(validation_data, who)
        if is_generator_or_sequence(validation_data):
            _generator_validation_steps(validation_data, validation_steps, who)


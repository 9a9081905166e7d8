"""Metrics (keras.metrics): functions (y_true, y_pred) -> one value per sample, averaged over the
batch by the training loop; every loss can be used as a metric by name.

`resolve_metric` is what `Model.compile` uses to turn an entry of `metrics=[...]` into a display
name and a function, with Keras 2.3 naming ('accuracy' -> 'accuracy', 'acc' -> 'acc').
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import backend as K
from . import losses as _losses
from .losses import (MAE, MAPE, MSE, MSLE, KLD, binary_crossentropy, categorical_crossentropy,  # noqa: F401
                     categorical_hinge, cosine, cosine_proximity, cosine_similarity, hinge, kld,
                     kullback_leibler_divergence, logcosh, mae, mape, mean_absolute_error,
                     mean_absolute_percentage_error, mean_squared_error, mean_squared_logarithmic_error, mse,
                     msle, poisson, sparse_categorical_crossentropy, squared_hinge)
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object


def _pred_float(y_pred):
    y_pred = y_pred if isinstance(y_pred, K.Tensor) else K.constant(y_pred)
    if np.dtype(K.dtype(y_pred)).kind != "f":
        y_pred = K.cast(y_pred, K.floatx())
    return y_pred


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """binary_accuracy(y_true, y_pred, threshold=0.5): mean over the last axis of
    y_true == (y_pred rounded); a threshold other than 0.5 compares y_pred > threshold (2.3)."""
    y_pred = _pred_float(y_pred)
    dtype = K.dtype(y_pred)
    if threshold != 0.5:
        y_pred = K.cast(K.greater(y_pred, float(threshold)), dtype)
    # rounding (not `> 0.5`) is what Keras does; it differs only for outputs outside [0, 1]
    hit = K.equal(K.cast(y_true, dtype), K.round(y_pred))
    return K.mean(K.cast(hit, K.floatx()), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """categorical_accuracy(y_true, y_pred): 1.0 where argmax(y_true) == argmax(y_pred), else 0.0."""
    hit = K.equal(K.argmax(y_true, axis=-1), K.argmax(y_pred, axis=-1))
    return K.cast(hit, K.floatx())


def sparse_categorical_accuracy(y_true, y_pred):
    """sparse_categorical_accuracy(y_true, y_pred): 1.0 where the integer label equals
    argmax(y_pred); labels of shape (N,) or (N, 1) (a trailing length-1 axis is squeezed)."""
    if K.ndim(y_true) == K.ndim(y_pred):
        y_true = K.squeeze(y_true, -1)
    labels = K.cast(K.argmax(y_pred, axis=-1), K.floatx())
    return K.cast(K.equal(K.cast(y_true, K.floatx()), labels), K.floatx())


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """top_k_categorical_accuracy(y_true, y_pred, k=5): 1.0 where the true class (argmax of the
    one-hot y_true) is among the k largest predictions (per sample, as in Keras 2.3)."""
    return K.cast(K.in_top_k(y_pred, K.argmax(y_true, axis=-1), k), K.floatx())


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """sparse_top_k_categorical_accuracy(y_true, y_pred, k=5): top-k accuracy with integer labels
    of shape (N,) or (N, 1)."""
    return K.cast(K.in_top_k(y_pred, K.cast(K.flatten(y_true), "int32"), k), K.floatx())


_FUNCTIONS = [binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
              sparse_top_k_categorical_accuracy]

# Names deserialization resolves: the metric functions and every loss name and alias.
METRICS: dict[str, Callable] = dict(_losses.LOSSES)
METRICS.update({f.__name__: f for f in _FUNCTIONS})

__all__ = sorted(METRICS) + ["get", "serialize", "deserialize", "resolve_metric"]


def serialize(metric: Callable) -> str | dict:
    """serialize(metric): the function's name (or a config dict for objects with get_config)."""
    return serialize_keras_object(metric)


def deserialize(config, custom_objects: dict | None = None) -> Callable:
    """deserialize(config, custom_objects=None): the metric with that name; ValueError if unknown."""
    return deserialize_keras_object(config, module_objects=METRICS, custom_objects=custom_objects,
                                    printable_module_name="metric function")


def get(identifier) -> Callable:
    """get(identifier): a name or config dict -> the metric; a callable -> itself; else ValueError.
    ('accuracy'/'acc' depend on the model's output and loss: see resolve_metric.)"""
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric function identifier: {identifier!r}")


_ACCURACY_NAMES = ("accuracy", "acc")
_CROSSENTROPY_NAMES = ("crossentropy", "ce")


def _loss_is(loss_fn, target: Callable) -> bool:
    if loss_fn is None:
        return False
    if isinstance(loss_fn, str):
        try:
            loss_fn = _losses.get(loss_fn)
        except ValueError:
            return False
    # identity, or the same name (the engine may wrap losses for weighting)
    return loss_fn is target or getattr(loss_fn, "__name__", None) == target.__name__


def _display_name(fn) -> str:
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str):
        name = getattr(fn, "name", None)
    if not isinstance(name, str):
        from .utils.generic_utils import to_snake_case
        name = to_snake_case(type(fn).__name__)
    return name


def resolve_metric(name_or_fn, output_shape: Sequence | None, loss_fn=None) -> tuple[str, Callable]:
    """resolve_metric(name_or_fn, output_shape, loss_fn) -> (display_name, fn).

    'accuracy'/'acc' (and 'crossentropy'/'ce') become the binary form when the output's last
    dimension is 1 or the loss is binary_crossentropy, the sparse form when the loss is
    sparse_categorical_crossentropy, the categorical form otherwise. Strings keep the name as
    written (Keras 2.3: 'acc' -> 'acc', 'mae' -> 'mae'); callables use __name__ (or .name)."""
    if isinstance(name_or_fn, str):
        family = None
        if name_or_fn in _ACCURACY_NAMES:
            family = (binary_accuracy, sparse_categorical_accuracy, categorical_accuracy)
        elif name_or_fn in _CROSSENTROPY_NAMES:
            family = (binary_crossentropy, sparse_categorical_crossentropy, categorical_crossentropy)
        if family is None:
            return name_or_fn, get(name_or_fn)
        last = None
        if output_shape is not None and len(tuple(output_shape)) > 0:
            last = tuple(output_shape)[-1]
        if last == 1 or _loss_is(loss_fn, _losses.binary_crossentropy):
            return name_or_fn, family[0]
        if _loss_is(loss_fn, _losses.sparse_categorical_crossentropy):
            return name_or_fn, family[1]
        return name_or_fn, family[2]
    if isinstance(name_or_fn, dict):
        fn = deserialize(name_or_fn)
        return _display_name(fn), fn
    if callable(name_or_fn):
        return _display_name(name_or_fn), name_or_fn
    raise ValueError(f"Could not interpret metric identifier: {name_or_fn!r}")

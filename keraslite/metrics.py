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



# =============================================================================================
# Stateful metric objects (Keras 2.3 `keras.metrics.Metric`): the base classes live in
# _metrics_base.py, the confusion-matrix metrics in _metrics_confusion.py; all are public here.

from ._metrics_base import (_NEG_INF, Mean, Metric, Reduce, Sum, _as_tensor, _broadcast_weights,  # noqa: E402,F401
                            _div_no_nan, _has_placeholder, _match_ranks, to_list_ops)
from ._metrics_confusion import (AUC, FalseNegatives, FalsePositives, MeanIoU, Precision, Recall,  # noqa: E402,F401
                                 SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives, TruePositives,
                                 _ConfusionMatrixConditionCount, _PrecisionRecall, _confusion_counts, _filter_top_k,
                                 _parse_thresholds)


class MeanMetricWrapper(Mean):
    """MeanMetricWrapper(fn, name=None, dtype=None, **kwargs): the weighted mean of
    fn(y_true, y_pred, **kwargs) over every sample seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if name is None:
            name = _display_name(fn)
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = K.cast(_as_tensor(y_pred), self.dtype) if not isinstance(y_pred, K.Tensor) else y_pred
        y_true = _as_tensor(y_true)
        y_true = _match_ranks(y_true, y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = dict(self._fn_kwargs)
        if type(self) is MeanMetricWrapper:
            config["fn"] = serialize(self._fn)
        config.update(super().get_config())
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is MeanMetricWrapper:
            config["fn"] = get(config["fn"])
        return cls(**config)


def _accuracy(y_true, y_pred):
    y_pred = _pred_float(y_pred)
    return K.cast(K.equal(K.cast(y_true, K.dtype(y_pred)), y_pred), K.floatx())


def _cosine_similarity(y_true, y_pred, axis=-1):
    y_true = K.l2_normalize(K.cast(y_true, K.dtype(y_pred)), axis=axis)
    y_pred = K.l2_normalize(y_pred, axis=axis)
    return K.sum(y_true * y_pred, axis=axis)


def _wrapper(class_name, fn, default_name, doc, **defaults):
    """A MeanMetricWrapper subclass whose __init__ takes (name=default_name, dtype=None, **defaults)."""
    def __init__(self, name=default_name, dtype=None, **kwargs):
        for k in kwargs:
            if k not in defaults:
                raise TypeError(f"{class_name}: unexpected keyword argument {k!r}")
        fn_kwargs = dict(defaults)
        fn_kwargs.update(kwargs)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **fn_kwargs)

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


Accuracy = _wrapper("Accuracy", _accuracy, "accuracy",
                    "Accuracy(name='accuracy', dtype=None): how often y_pred equals y_true (elementwise).")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy",
                          "BinaryAccuracy(name='binary_accuracy', dtype=None, threshold=0.5).", threshold=0.5)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy",
                               "CategoricalAccuracy(name='categorical_accuracy', dtype=None).")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy",
                                     "SparseCategoricalAccuracy(name='sparse_categorical_accuracy', dtype=None).")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy",
                                   "TopKCategoricalAccuracy(k=5, name='top_k_categorical_accuracy', dtype=None).",
                                   k=5)
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy",
                                         "SparseTopKCategoricalAccuracy(k=5, "
                                         "name='sparse_top_k_categorical_accuracy', dtype=None).", k=5)
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error",
                            "MeanSquaredError(name='mean_squared_error', dtype=None).")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                             "MeanAbsoluteError(name='mean_absolute_error', dtype=None).")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error",
                                       "MeanAbsolutePercentageError(name='mean_absolute_percentage_error', "
                                       "dtype=None).")
MeanSquaredLogarithmicError = _wrapper("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error",
                                       "MeanSquaredLogarithmicError(name='mean_squared_logarithmic_error', "
                                       "dtype=None).")
Hinge = _wrapper("Hinge", hinge, "hinge", "Hinge(name='hinge', dtype=None).")
SquaredHinge = _wrapper("SquaredHinge", squared_hinge, "squared_hinge", "SquaredHinge(name='squared_hinge', dtype=None).")
CategoricalHinge = _wrapper("CategoricalHinge", categorical_hinge, "categorical_hinge",
                            "CategoricalHinge(name='categorical_hinge', dtype=None).")
LogCoshError = _wrapper("LogCoshError", logcosh, "logcosh", "LogCoshError(name='logcosh', dtype=None).")
Poisson = _wrapper("Poisson", poisson, "poisson", "Poisson(name='poisson', dtype=None).")
KLDivergence = _wrapper("KLDivergence", kullback_leibler_divergence, "kullback_leibler_divergence",
                        "KLDivergence(name='kullback_leibler_divergence', dtype=None).")
CosineSimilarity = _wrapper("CosineSimilarity", _cosine_similarity, "cosine_similarity",
                            "CosineSimilarity(name='cosine_similarity', dtype=None, axis=-1): the mean cosine "
                            "similarity (positive: 1 for equal directions).", axis=-1)
BinaryCrossentropy = _wrapper("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                              "BinaryCrossentropy(name='binary_crossentropy', dtype=None, from_logits=False, "
                              "label_smoothing=0).", from_logits=False, label_smoothing=0)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
                                   "CategoricalCrossentropy(name='categorical_crossentropy', dtype=None, "
                                   "from_logits=False, label_smoothing=0).", from_logits=False, label_smoothing=0)
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy",
                                         "SparseCategoricalCrossentropy(name='sparse_categorical_crossentropy', "
                                         "dtype=None, from_logits=False, axis=-1).", from_logits=False, axis=-1)


class RootMeanSquaredError(Mean):
    """RootMeanSquaredError(name='root_mean_squared_error', dtype=None): sqrt of the weighted mean
    of (y_pred - y_true) ** 2 over every element seen (Keras 2.3)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """update_state(y_true, y_pred, sample_weight=None): fold in the squared errors."""
        y_pred = K.cast(_as_tensor(y_pred), self.dtype)
        y_true = _match_ranks(K.cast(_as_tensor(y_true), self.dtype), y_pred)
        return super().update_state(K.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self):
        return K.sqrt(super().result())


_CLASSES = [Metric, Reduce, Sum, Mean, MeanMetricWrapper, RootMeanSquaredError, Accuracy, BinaryAccuracy,
            CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Hinge, SquaredHinge,
            CategoricalHinge, LogCoshError, Poisson, KLDivergence, CosineSimilarity, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy, TruePositives, TrueNegatives, FalsePositives,
            FalseNegatives, Precision, Recall, SensitivityAtSpecificity, SpecificityAtSensitivity, AUC, MeanIoU]
# deserialization by class name gives the metric classes (not the loss classes of the same name)
METRICS.update({c.__name__: c for c in _CLASSES})
__all__ = sorted(set(__all__) | {c.__name__ for c in _CLASSES})

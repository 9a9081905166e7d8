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
from .backend.graph import substitute
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
# Stateful metric objects (Keras 2.3 `keras.metrics.Metric`)
#
# A Metric keeps its running state in K.variables made by `add_weight`. `update_state(...)`
# returns the update ops (K.update_add, ...) folding one batch into the state; `result()` is a
# tensor computed from the state variables; `reset_states()` sets them back to zero. Outside a
# model, run the ops with K.batch_get_value(ops); calling the metric, `m(y_true, y_pred)`, applies
# the update at once when the inputs hold values and returns the result tensor.
# =============================================================================================

_NEG_INF = -1e10


def _as_tensor(x, dtype=None):
    if not isinstance(x, K.Tensor):
        x = K.constant(np.asarray(x), dtype=dtype or (None if np.asarray(x).dtype.kind == "f" else K.floatx()))
    return x


def _has_placeholder(tensors) -> bool:
    from .backend.graph import Placeholder
    seen, stack = set(), [t for t in tensors if isinstance(t, K.Tensor)]
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if isinstance(n, Placeholder):
            return True
        stack.extend(n.inputs)
    return False


def _div_no_nan(num, den):
    """num / den, 0 where den == 0."""
    zero = K.cast(K.equal(den, 0.0), K.dtype(den))
    return num / (den + zero) * (1.0 - zero)


def _match_ranks(y_true, y_pred):
    """Keras' squeeze_or_expand_dimensions for labels: a (N,) target against an (N, 1) output
    gains the axis; an (N, 1) target against an (N,) output loses it."""
    if y_true.ndim == y_pred.ndim - 1 and K.int_shape(y_pred)[-1] == 1:
        y_true = K.expand_dims(y_true, -1)
    elif y_true.ndim == y_pred.ndim + 1 and K.int_shape(y_true)[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    return y_true


def _broadcast_weights(sample_weight, values, dtype):
    """Sample weights shaped like `values` (a trailing length-1 axis squeezed, missing trailing
    axes added and broadcast), or None."""
    if sample_weight is None:
        return None
    w = K.cast(_as_tensor(sample_weight), dtype)
    while w.ndim > values.ndim and K.int_shape(w)[-1] == 1:
        w = K.squeeze(w, -1)
    if w.ndim > values.ndim:
        raise ValueError(f"sample_weight of rank {w.ndim} cannot weight values of rank {values.ndim}")
    while w.ndim < values.ndim:
        w = K.expand_dims(w, -1)
    return w * K.ones_like(values) if values.ndim else w


class Metric:
    """Metric(name=None, dtype=None): the base of stateful metrics. Subclasses make their state
    with `add_weight` in __init__ and define `update_state(y_true, y_pred, sample_weight=None)`
    (returning update ops) and `result()` (a tensor)."""

    def __init__(self, name=None, dtype=None, **kwargs):
        from .utils.generic_utils import to_snake_case
        for kw in kwargs:
            if kw not in ("trainable",):
                raise TypeError(f"{type(self).__name__}: unexpected keyword argument {kw!r}")
        self.name = name if name else to_snake_case(type(self).__name__)
        self.dtype = K.floatx() if dtype is None else str(np.dtype(dtype))
        self.stateful = True
        self._weights: list = []

    # state
    def add_weight(self, name, shape=(), initializer="zeros", dtype=None):
        """add_weight(name, shape=(), initializer='zeros', dtype=None): a state variable."""
        dtype = dtype or self.dtype
        shape = tuple(int(d) for d in shape)
        if initializer in (None, "zeros"):
            value = np.zeros(shape, dtype=dtype)
        elif initializer == "ones":
            value = np.ones(shape, dtype=dtype)
        else:
            from . import initializers
            value = initializers.get(initializer)(shape, dtype=dtype)
        v = K.variable(value, dtype=dtype, name=f"{self.name}/{name}")
        self._weights.append(v)
        return v

    @property
    def weights(self) -> list:
        return list(self._weights)

    variables = weights

    def reset_states(self) -> None:
        """reset_states(): every state variable back to zero."""
        K.batch_set_value([(v, np.zeros(K.int_shape(v), dtype=K.dtype(v))) for v in self._weights])

    def get_weights(self) -> list:
        return K.batch_get_value(self._weights)

    def set_weights(self, values) -> None:
        K.batch_set_value(list(zip(self._weights, values)))

    # computation
    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def updated_result(self, updates):
        """The result as it will be once `updates` (from update_state) are applied: the result
        graph with each updated variable replaced by its new value."""
        mapping = {}
        for u in updates:
            if isinstance(u, K.Tensor) and u.op == "update":
                mapping[u.inputs[0]] = u.inputs[1]
        return substitute([self.result()], mapping)[0]

    def __call__(self, *args, **kwargs):
        """m(y_true, y_pred, sample_weight=None): update the state and return the result tensor.
        With value inputs the update is applied now; with symbolic inputs the returned tensor is
        the result after the update, whose ops are left in `m.last_updates`."""
        updates = to_list_ops(self.update_state(*args, **kwargs))
        if _has_placeholder(updates):
            self.last_updates = updates
            return self.updated_result(updates)
        if updates:
            K.batch_get_value(updates)
        self.last_updates = []
        return self.result()

    # config
    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def to_list_ops(x) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        out = []
        for e in x:
            out.extend(to_list_ops(e))
        return out
    return [x]


class Reduce(Metric):
    """Reduce(reduction, name=None, dtype=None): the sum ('sum') or the weighted mean
    ('weighted_mean') of the values seen."""

    def __init__(self, reduction, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if reduction not in ("sum", "weighted_mean", "sum_over_batch_size"):
            raise ValueError(f"Reduce: unknown reduction {reduction!r}")
        self.reduction = reduction
        self.total = self.add_weight("total")
        if reduction != "sum":
            self.count = self.add_weight("count")

    def update_state(self, values, sample_weight=None):
        """update_state(values, sample_weight=None): fold in the (weighted) values."""
        values = K.cast(_as_tensor(values), self.dtype)
        w = _broadcast_weights(sample_weight, values, self.dtype)
        weighted = values if w is None else values * w
        ops = [K.update_add(self.total, K.sum(weighted))]
        if self.reduction == "sum":
            return ops
        if w is None or self.reduction == "sum_over_batch_size":
            n = K.sum(K.ones_like(values))
        else:
            n = K.sum(w)
        ops.append(K.update_add(self.count, n))
        return ops

    def result(self):
        if self.reduction == "sum":
            return K.identity(self.total)
        return _div_no_nan(self.total, self.count)


class Sum(Reduce):
    """Sum(name='sum', dtype=None): the (weighted) sum of the values."""

    def __init__(self, name="sum", dtype=None):
        super().__init__("sum", name=name, dtype=dtype)


class Mean(Reduce):
    """Mean(name='mean', dtype=None): the weighted mean sum(w*v) / sum(w) of the values."""

    def __init__(self, name="mean", dtype=None):
        super().__init__("weighted_mean", name=name, dtype=dtype)


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


# ---------------------------------------------------------------------------------------------
# confusion-matrix metrics

def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [float(default)]
    values = [float(t) for t in to_list_ops(list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray))
                                            else thresholds)]
    for t in values:
        if default != _NEG_INF and not 0.0 <= t <= 1.0:
            raise ValueError(f"Threshold values must be in [0, 1]. Invalid values: {values}")
    return values


def _filter_top_k(x, k: int):
    """x with every entry outside the k largest of its last axis set to -1e10 (ties broken by the
    lower index, as tf.nn.top_k)."""
    n = K.int_shape(x)[-1]
    a = K.expand_dims(x, -2)   # [..., 1, j]
    b = K.expand_dims(x, -1)   # [..., i, 1]
    ahead = K.cast(K.greater(a, b), K.floatx())
    if n is not None:
        earlier = K.constant(np.tril(np.ones((n, n)), -1))   # [i, j] = j < i
        ahead = ahead + K.cast(K.equal(a, b), K.floatx()) * earlier
    rank = K.sum(ahead, axis=-1)
    keep = K.cast(K.less(rank, float(k)), K.dtype(x))
    return x * keep + _NEG_INF * (1.0 - keep)


def _confusion_counts(y_true, y_pred, thresholds, sample_weight, dtype, top_k=None, class_id=None):
    """(tp, fp, tn, fn) tensors of shape (len(thresholds),): the weighted counts of entries with
    y_pred > threshold against y_true."""
    y_pred = K.cast(_as_tensor(y_pred), dtype)
    y_true = K.cast(_match_ranks(_as_tensor(y_true), y_pred), dtype)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        y_true = y_true[..., class_id]
        y_pred = y_pred[..., class_id]
    w = _broadcast_weights(sample_weight, y_pred, dtype)
    preds = K.expand_dims(K.flatten(y_pred), -1)                        # (M, 1)
    labels = K.expand_dims(K.flatten(y_true), -1)
    thr = K.constant(np.asarray(thresholds, dtype=dtype).reshape(1, -1), dtype=dtype)
    pos = K.cast(K.greater(preds, thr), dtype)                          # (M, T)
    neg = 1.0 - pos
    is_true = K.cast(K.greater(labels, 0.5), dtype)
    is_false = 1.0 - is_true
    if w is not None:
        wf = K.expand_dims(K.flatten(w), -1)
        is_true = is_true * wf
        is_false = is_false * wf
    return {"tp": K.sum(is_true * pos, axis=0), "fp": K.sum(is_false * pos, axis=0),
            "tn": K.sum(is_false * neg, axis=0), "fn": K.sum(is_true * neg, axis=0)}


class _ConfusionMatrixConditionCount(Metric):
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self.accumulator = self.add_weight("accumulator", shape=(len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype)
        return [K.update_add(self.accumulator, counts[self._condition])]

    def result(self):
        return self.accumulator[0] if len(self.thresholds) == 1 else K.identity(self.accumulator)

    def get_config(self):
        config = {"thresholds": self.init_thresholds}
        config.update(super().get_config())
        return config


class TruePositives(_ConfusionMatrixConditionCount):
    """TruePositives(thresholds=None, name=None, dtype=None): the weighted count of positives
    predicted above each threshold (default 0.5; a scalar for one threshold)."""
    _condition = "tp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """TrueNegatives(thresholds=None, name=None, dtype=None)."""
    _condition = "tn"


class FalsePositives(_ConfusionMatrixConditionCount):
    """FalsePositives(thresholds=None, name=None, dtype=None)."""
    _condition = "fp"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """FalseNegatives(thresholds=None, name=None, dtype=None)."""
    _condition = "fn"


class _PrecisionRecall(Metric):
    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else _NEG_INF)
        n = len(self.thresholds)
        self.true_positives = self.add_weight("true_positives", shape=(n,))
        other = "false_positives" if self._other == "fp" else "false_negatives"
        setattr(self, other, self.add_weight(other, shape=(n,)))
        self._other_var = getattr(self, other)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype, top_k=self.top_k,
                                   class_id=self.class_id)
        return [K.update_add(self.true_positives, counts["tp"]), K.update_add(self._other_var, counts[self._other])]

    def result(self):
        r = _div_no_nan(self.true_positives, self.true_positives + self._other_var)
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self):
        config = {"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id}
        config.update(super().get_config())
        return config


class Precision(_PrecisionRecall):
    """Precision(thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
    tp / (tp + fp) at each threshold (default 0.5; with top_k, only the k largest predictions of
    each sample count as positive; class_id restricts to that class)."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """Recall(thresholds=None, top_k=None, class_id=None, name=None, dtype=None): tp / (tp + fn)."""
    _other = "fn"


class AUC(Metric):
    """AUC(num_thresholds=200, curve='ROC', summation_method='interpolation', name=None,
    dtype=None, thresholds=None): the area under the ROC or PR curve from confusion counts at
    num_thresholds thresholds (i/(n-1) for the inner ones, -eps and 1+eps at the ends).
    summation_method: 'interpolation' (trapezoids for ROC, Davis & Goadrich for PR),
    'minoring' or 'majoring' (Riemann sums of the lower or upper heights)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None):
        super().__init__(name=name, dtype=dtype)
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid curve: "{curve}". Valid options are: "ROC", "PR"')
        summation_method = str(summation_method).lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'Invalid summation method: "{summation_method}". Valid options are '
                             '"interpolation", "minoring", "majoring"')
        self.curve = curve
        self.summation_method = summation_method
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("`num_thresholds` must be > 1.")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = int(num_thresholds)
        self._inner_thresholds = inner if thresholds is not None else None
        eps = K.epsilon()
        self.thresholds = [0.0 - eps] + inner + [1.0 + eps]
        shape = (self.num_thresholds,)
        self.true_positives = self.add_weight("true_positives", shape=shape)
        self.true_negatives = self.add_weight("true_negatives", shape=shape)
        self.false_positives = self.add_weight("false_positives", shape=shape)
        self.false_negatives = self.add_weight("false_negatives", shape=shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        c = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype)
        return [K.update_add(self.true_positives, c["tp"]), K.update_add(self.true_negatives, c["tn"]),
                K.update_add(self.false_positives, c["fp"]), K.update_add(self.false_negatives, c["fn"])]

    def _interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        slope = _div_no_nan(dtp, K.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        both = K.cast(K.greater(p[:n - 1], 0.0), self.dtype) * K.cast(K.greater(p[1:], 0.0), self.dtype)
        ratio = _div_no_nan(p[:n - 1], K.maximum(p[1:], 0.0))
        # log of the ratio where both are positive, log(1) = 0 elsewhere
        log_ratio = K.log(both * ratio + (1.0 - both))
        return K.sum(_div_no_nan(slope * (dtp + intercept * log_ratio), K.maximum(tp[1:] + fn[1:], 0.0)))

    def result(self):
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _div_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _div_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = K.minimum(y[:n - 1], y[1:])
        else:
            heights = K.maximum(y[:n - 1], y[1:])
        return K.sum((x[:n - 1] - x[1:]) * heights)

    def get_config(self):
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method}
        if self._inner_thresholds is not None:
            config["thresholds"] = list(self._inner_thresholds)
        config.update(super().get_config())
        return config


class MeanIoU(Metric):
    """MeanIoU(num_classes, name=None, dtype=None): the mean over classes of
    tp / (tp + fp + fn) from a running confusion matrix; y_true and y_pred hold class indices
    (cast to int); classes absent from both are left out of the mean."""

    def __init__(self, num_classes, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        self.total_cm = self.add_weight("total_confusion_matrix", shape=(self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_tensor(y_pred)
        y_true = _as_tensor(y_true)
        w = None
        if sample_weight is not None:
            w = K.flatten(K.cast(_as_tensor(sample_weight), self.dtype))
        t = K.one_hot(K.cast(K.flatten(y_true), "int32"), self.num_classes)
        p = K.one_hot(K.cast(K.flatten(y_pred), "int32"), self.num_classes)
        t = K.cast(t, self.dtype)
        p = K.cast(p, self.dtype)
        if w is not None:
            t = t * K.expand_dims(w, -1)
        cm = K.dot(K.transpose(t), p)      # [true class, predicted class]
        return [K.update_add(self.total_cm, cm)]

    def result(self):
        cm = self.total_cm
        pred_counts = K.sum(cm, axis=0)
        true_counts = K.sum(cm, axis=1)
        tp = K.sum(cm * K.constant(np.eye(self.num_classes), dtype=self.dtype), axis=1)
        denominator = pred_counts + true_counts - tp
        valid = K.sum(K.cast(K.not_equal(denominator, 0.0), self.dtype))
        return _div_no_nan(K.sum(_div_no_nan(tp, denominator)), valid)

    def get_config(self):
        config = {"num_classes": self.num_classes}
        config.update(super().get_config())
        return config


_CLASSES = [Metric, Reduce, Sum, Mean, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
            SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Hinge, SquaredHinge,
            CategoricalHinge, LogCoshError, Poisson, KLDivergence, CosineSimilarity, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy, TruePositives, TrueNegatives, FalsePositives,
            FalseNegatives, Precision, Recall, AUC, MeanIoU]
# deserialization by class name gives the metric classes (not the loss classes of the same name)
METRICS.update({c.__name__: c for c in _CLASSES})
__all__ = sorted(set(__all__) | {c.__name__ for c in _CLASSES})

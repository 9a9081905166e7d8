"""Loss functions (keras.losses): each takes (y_true, y_pred) and returns one value per sample,
reducing the last axis, so `compile`/`fit` can weight samples before averaging.

Function names are the full Keras names (metrics and History keys use `__name__`); the short
aliases (mse, mae, ...) are the same function objects.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import backend as K
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object

_LOG2 = float(np.log(2.0))


def _eps(dtype: str) -> float:
    return float(np.asarray(K.epsilon(), dtype=dtype))


def _float_pair(y_true, y_pred):
    """y_pred as a float tensor and y_true cast to its dtype (integer labels are common)."""
    if not isinstance(y_pred, K.Tensor):
        y_pred = K.constant(y_pred)
    if not np.dtype(K.dtype(y_pred)).kind == "f":
        y_pred = K.cast(y_pred, K.floatx())
    if not isinstance(y_true, K.Tensor) or K.dtype(y_true) != K.dtype(y_pred):
        y_true = K.cast(y_true, K.dtype(y_pred))
    return y_true, y_pred


def mean_squared_error(y_true, y_pred):
    """mean_squared_error(y_true, y_pred): mean((y_pred - y_true)^2) over the last axis."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    return K.mean(K.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean_absolute_error(y_true, y_pred): mean(|y_pred - y_true|) over the last axis."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    return K.mean(K.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """mean_absolute_percentage_error(y_true, y_pred):
    100 * mean(|(y_true - y_pred) / clip(|y_true|, eps, inf)|)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    diff = K.abs((y_true - y_pred) / K.clip(K.abs(y_true), _eps(K.dtype(y_pred)), None))
    return 100.0 * K.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean_squared_logarithmic_error(y_true, y_pred):
    mean((log(clip(y_pred, eps) + 1) - log(clip(y_true, eps) + 1))^2)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    eps = _eps(K.dtype(y_pred))
    first = K.log(K.clip(y_pred, eps, None) + 1.0)
    second = K.log(K.clip(y_true, eps, None) + 1.0)
    return K.mean(K.square(first - second), axis=-1)


def _maybe_convert_labels(y_true):
    """Keras 2.3: labels that are all 0/1 become -1/1 for the hinge losses. Written as
    y + b*(y - 1) with b = 1 when every label is 0 or 1, so it needs no branch; labels already in
    {-1, 1} pass unchanged either way (1 maps to 1)."""
    is_binary = K.all(K.equal(y_true * (1.0 - y_true), 0.0))
    b = K.cast(is_binary, K.dtype(y_true))
    return y_true + b * (y_true - 1.0)


def squared_hinge(y_true, y_pred):
    """squared_hinge(y_true, y_pred): mean(max(1 - y_true*y_pred, 0)^2); y_true in {-1, 1}
    (0/1 labels are converted, as in Keras 2.3)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    y_true = _maybe_convert_labels(y_true)
    return K.mean(K.square(K.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def hinge(y_true, y_pred):
    """hinge(y_true, y_pred): mean(max(1 - y_true*y_pred, 0)); y_true in {-1, 1} (0/1 labels are
    converted, as in Keras 2.3)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    y_true = _maybe_convert_labels(y_true)
    return K.mean(K.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def categorical_hinge(y_true, y_pred):
    """categorical_hinge(y_true, y_pred): max(0, max((1 - y_true)*y_pred) - sum(y_true*y_pred) + 1)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    pos = K.sum(y_true * y_pred, axis=-1)
    neg = K.max((1.0 - y_true) * y_pred, axis=-1)
    return K.maximum(neg - pos + 1.0, 0.0)


def logcosh(y_true, y_pred):
    """logcosh(y_true, y_pred): mean(log(cosh(y_pred - y_true))), computed as
    x + softplus(-2x) - log 2 so that large errors do not overflow cosh."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    x = y_pred - y_true
    return K.mean(x + K.softplus(-2.0 * x) - _LOG2, axis=-1)


def huber_loss(y_true, y_pred, delta: float = 1.0):
    """huber_loss(y_true, y_pred, delta=1.0): mean over the last axis of
    0.5*q^2 + delta*(|e| - q), e = y_pred - y_true, q = min(|e|, delta). (Keras 2.3's function
    returns the elementwise values; keraslite reduces the last axis like every other loss, which
    gives the same batch mean.)"""
    y_true, y_pred = _float_pair(y_true, y_pred)
    abs_error = K.abs(y_pred - y_true)
    quadratic = K.minimum(abs_error, float(delta))
    linear = abs_error - quadratic
    return K.mean(0.5 * K.square(quadratic) + float(delta) * linear, axis=-1)


def _num_classes(y, dtype):
    n = K.int_shape(y)[-1]
    if n is not None:
        return float(n)
    return K.cast(K.shape(y)[-1], dtype)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0):
    """categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0): per-sample
    -sum(y_true * log(y_pred)) with y_pred renormalised and clipped to [eps, 1-eps]; smoothing
    replaces y_true by y_true*(1-s) + s/num_classes (Keras 2.3)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    if label_smoothing:
        s = float(label_smoothing)
        y_true = y_true * (1.0 - s) + s / _num_classes(y_true, K.dtype(y_pred))
    return K.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, axis: int = -1):
    """sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1): cross-entropy
    with integer labels of shape (N,) or (N, 1)."""
    return K.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0):
    """binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0):
    mean(-(y*log(p) + (1-y)*log(1-p))) over the last axis, p clipped to [eps, 1-eps]; smoothing
    replaces y by y*(1-s) + 0.5*s (Keras 2.3)."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    if label_smoothing:
        s = float(label_smoothing)
        y_true = y_true * (1.0 - s) + 0.5 * s
    return K.mean(K.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=-1)


def kullback_leibler_divergence(y_true, y_pred):
    """kullback_leibler_divergence(y_true, y_pred): sum(y*log(y/p)) with y and p clipped to [eps, 1]."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    eps = _eps(K.dtype(y_pred))
    y_true = K.clip(y_true, eps, 1.0)
    y_pred = K.clip(y_pred, eps, 1.0)
    return K.sum(y_true * K.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """poisson(y_true, y_pred): mean(y_pred - y_true*log(y_pred + eps))."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    return K.mean(y_pred - y_true * K.log(y_pred + _eps(K.dtype(y_pred))), axis=-1)


def cosine_proximity(y_true, y_pred, axis: int = -1):
    """cosine_proximity(y_true, y_pred, axis=-1): -sum(l2_normalize(y_true)*l2_normalize(y_pred));
    -1 is a perfect match."""
    y_true, y_pred = _float_pair(y_true, y_pred)
    y_true = K.l2_normalize(y_true, axis=axis)
    y_pred = K.l2_normalize(y_pred, axis=axis)
    return -K.sum(y_true * y_pred, axis=axis)


# Keras 2 aliases: the same function objects, so __name__ is always the full name.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence
cosine = cosine_similarity = cosine_proximity

_FUNCTIONS = [mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
              mean_squared_logarithmic_error, squared_hinge, hinge, categorical_hinge, logcosh, huber_loss,
              categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy,
              kullback_leibler_divergence, poisson, cosine_proximity]
_ALIASES = {"mse": mse, "MSE": MSE, "mae": mae, "MAE": MAE, "mape": mape, "MAPE": MAPE, "msle": msle,
            "MSLE": MSLE, "kld": kld, "KLD": KLD, "cosine": cosine, "cosine_similarity": cosine_similarity}

# ---------------------------------------------------------------------------------------------
# Keras 2.3's loss classes: objects wrapping the functions above, with a reduction and a name.

_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "auto")


class Loss:
    """Loss(reduction='sum_over_batch_size', name=None): a loss object (Keras 2.3).
    `loss(y_true, y_pred, sample_weight=None)` reduces `call(y_true, y_pred)` weighted by
    `sample_weight`: 'sum_over_batch_size' (also 'auto') the mean over all values, 'sum' the
    sum, 'none' the values."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.name = name
        self.__name__ = name or type(self).__name__

    def call(self, y_true, y_pred):
        """call(y_true, y_pred): the per-sample values."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        if sample_weight is not None:
            values = values * _weights_like(K.cast(sample_weight, values.dtype), values, self.__name__)
        if self.reduction == "none":
            return values
        if self.reduction == "sum":
            return K.sum(values)
        return K.mean(values)

    def get_config(self) -> dict:
        return {"reduction": self.reduction, "name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _weights_like(weights, values, who):
    """Keras 2.3's rule: a weight of one rank more than the values loses its last (size-1) axis,
    e.g. (batch, 1) weights for per-sample losses; one of lower rank gains trailing axes."""
    if weights.ndim == values.ndim + 1 and weights.ndim > 0 and weights.shape[-1] in (1, None):
        weights = K.squeeze(weights, -1)
    if weights.ndim > values.ndim:
        raise ValueError(f"{who}: sample_weight of shape {K.int_shape(weights)} does not fit losses of shape "
                         f"{K.int_shape(values)}")
    while weights.ndim < values.ndim:
        weights = K.expand_dims(weights, -1)
    return weights


class LossFunctionWrapper(Loss):
    """LossFunctionWrapper(fn, reduction='sum_over_batch_size', name=None, **kwargs): a loss
    object calling fn(y_true, y_pred, **kwargs)."""

    def __init__(self, fn: Callable, reduction: str = "sum_over_batch_size", name: str | None = None, **kwargs):
        super().__init__(reduction=reduction, name=name)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return dict(super().get_config(), **self._fn_kwargs)


def _loss_class(class_name: str, fn: Callable, doc_args: str = "", **defaults):
    """A LossFunctionWrapper subclass for `fn` whose keyword arguments (with Keras 2.3's
    defaults) are `defaults`."""

    def __init__(self, reduction="sum_over_batch_size", name=fn.__name__, **kwargs):
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{class_name}: unexpected keyword arguments {sorted(unknown)}")
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, **dict(defaults, **kwargs))

    sig = ", ".join([f"{k}={v!r}" for k, v in defaults.items()] + ["reduction='sum_over_batch_size'",
                                                                   f"name='{fn.__name__}'"])
    return type(class_name, (LossFunctionWrapper,),
                {"__init__": __init__, "__doc__": f"{class_name}({sig}): the loss object of {fn.__name__}."})


MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error)
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error)
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", mean_absolute_percentage_error)
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error)
BinaryCrossentropy = _loss_class("BinaryCrossentropy", binary_crossentropy, from_logits=False, label_smoothing=0)
CategoricalCrossentropy = _loss_class("CategoricalCrossentropy", categorical_crossentropy, from_logits=False,
                                      label_smoothing=0)
SparseCategoricalCrossentropy = _loss_class("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                            from_logits=False)
Hinge = _loss_class("Hinge", hinge)
SquaredHinge = _loss_class("SquaredHinge", squared_hinge)
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge)
Poisson = _loss_class("Poisson", poisson)
LogCosh = _loss_class("LogCosh", logcosh)
KLDivergence = _loss_class("KLDivergence", kullback_leibler_divergence)
Huber = _loss_class("Huber", huber_loss, delta=1.0)
CosineSimilarity = _loss_class("CosineSimilarity", cosine_proximity, axis=-1)

_CLASSES = [Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
            MeanSquaredLogarithmicError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            Hinge, SquaredHinge, CategoricalHinge, Poisson, LogCosh, KLDivergence, Huber, CosineSimilarity]


def per_sample_function(loss: Callable) -> Callable:
    """The per-sample form of a loss: a loss object's `call`, a function as it is."""
    return loss.call if isinstance(loss, Loss) else loss


def loss_name(loss: Callable) -> str:
    """The function name a loss stands for ('categorical_crossentropy' for CategoricalCrossentropy())."""
    fn = loss.fn if isinstance(loss, LossFunctionWrapper) else loss
    return getattr(fn, "__name__", "")


# The names deserialization resolves (never helpers or imported modules).
LOSSES: dict[str, Callable] = {f.__name__: f for f in _FUNCTIONS}
LOSSES.update(_ALIASES)
LOSSES.update({c.__name__: c for c in _CLASSES})

__all__ = sorted(LOSSES) + ["get", "serialize", "deserialize"]


def serialize(loss: Callable) -> str | dict:
    """serialize(loss): the function's name (or a config dict for objects with get_config)."""
    return serialize_keras_object(loss)


def deserialize(name, custom_objects: dict | None = None) -> Callable:
    """deserialize(name, custom_objects=None): the loss function with that name; ValueError if unknown."""
    return deserialize_keras_object(name, module_objects=LOSSES, custom_objects=custom_objects,
                                    printable_module_name="loss function")


def get(identifier) -> Callable | None:
    """get(identifier): None -> None; a name or config dict -> the loss; a callable -> itself;
    anything else -> ValueError."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        loss = deserialize(identifier)
        # a class name gives an instance with the defaults, as Keras 2.3
        return loss() if isinstance(loss, type) and issubclass(loss, Loss) else loss
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss function identifier: {identifier!r}")

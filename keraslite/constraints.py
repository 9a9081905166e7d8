"""Weight constraints (`keras.constraints`), Keras 2.2/2.3 semantics.

A constraint maps a weight tensor to its projected value; the optimizer applies it after each
update (``K.update(p, constraint(new_p))``).
"""
from __future__ import annotations

from typing import Any

from . import backend as K
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object, get_instance


def _tensor(w: Any) -> K.Tensor:
    # NumPy weights are accepted too (handy in tests and user code): make them constants first.
    if K.is_tensor(w):
        return w
    return K.constant(w, dtype=K.dtype(w) if K.dtype(w).startswith("float") else None)


def _norms(w: Any, axis: Any) -> K.Tensor:
    return K.sqrt(K.sum(K.square(w), axis=axis, keepdims=True))


class Constraint:
    """Constraint base class: `__call__(w)` returns the constrained weight (identity here)."""

    def __call__(self, w: Any) -> Any:
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Constraint":
        return cls(**config)


class MaxNorm(Constraint):
    """MaxNorm(max_value=2, axis=0): rescale slices whose L2 norm along `axis` exceeds max_value.

    axis=0 suits Dense kernels (input_dim, units): each unit's incoming weight vector; for
    channels_last conv kernels use axis=[0, 1, 2].
    """

    def __init__(self, max_value: float = 2, axis: Any = 0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: Any) -> K.Tensor:
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = K.clip(norms, 0, self.max_value)
        # epsilon keeps all-zero slices at zero instead of 0/0
        return w * (desired / (K.epsilon() + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """NonNeg(): negative weights set to zero."""

    def __call__(self, w: Any) -> K.Tensor:
        w = _tensor(w)
        return w * K.cast(K.greater_equal(w, 0.), K.dtype(w))


class UnitNorm(Constraint):
    """UnitNorm(axis=0): each slice along `axis` divided by its L2 norm."""

    def __init__(self, axis: Any = 0):
        self.axis = axis

    def __call__(self, w: Any) -> K.Tensor:
        w = _tensor(w)
        return w / (K.epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0): norms moved towards
    [min_value, max_value]: desired = rate * clip(norm, min, max) + (1 - rate) * norm."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: Any) -> K.Tensor:
        w = _tensor(w)
        norms = _norms(w, self.axis)
        desired = self.rate * K.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (K.epsilon() + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras 2 aliases (and the legacy Keras 1 spellings it still accepts).
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm
maxnorm = MaxNorm
nonneg = NonNeg
unitnorm = UnitNorm

_MODULE_OBJECTS: dict[str, Any] = {
    "Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm,
    "max_norm": max_norm, "non_neg": non_neg, "unit_norm": unit_norm, "min_max_norm": min_max_norm,
    "maxnorm": maxnorm, "nonneg": nonneg, "unitnorm": unitnorm,
}


def serialize(constraint: Any) -> Any:
    """serialize(constraint): {'class_name': ..., 'config': ...}."""
    return serialize_keras_object(constraint)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    """deserialize(config, custom_objects=None): a constraint from serialize()'s output."""
    return deserialize_keras_object(config, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects,
                                    printable_module_name="constraint")


def get(identifier: Any) -> Any:
    """get(identifier): None -> None; a name ('max_norm') or config dict -> an instance; a
    callable passes through; anything else -> ValueError."""
    return get_instance(identifier, deserialize, "constraint")

"""Weight regularizers (`keras.regularizers`), Keras 2.2/2.3 semantics.

A regularizer maps a weight tensor to a scalar Tensor that the engine adds to the model's loss.
"""
from __future__ import annotations

from typing import Any

from . import backend as K
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object, get_instance


class Regularizer:
    """Regularizer base class: `__call__(x)` returns a scalar penalty."""

    def __call__(self, x: Any) -> Any:
        return 0.

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        return cls(**config)


class L1L2(Regularizer):
    """L1L2(l1=0., l2=0.): sum(l1 * |x|) + sum(l2 * x**2)."""

    def __init__(self, l1: float = 0., l2: float = 0.):
        # Plain Python floats: multiplying a tensor by them keeps the weight's dtype.
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x: Any) -> K.Tensor:
        if not K.is_tensor(x):  # NumPy weights: a constant of their own float dtype
            x = K.constant(x, dtype=K.dtype(x) if K.dtype(x).startswith("float") else None)
        # Always a Tensor of x's dtype, even for l1 = l2 = 0, so callers can add it to the loss.
        penalty = K.constant(0., dtype=K.dtype(x))
        if self.l1:
            penalty = penalty + K.sum(self.l1 * K.abs(x))
        if self.l2:
            penalty = penalty + K.sum(self.l2 * K.square(x))
        return penalty

    def get_config(self) -> dict:
        return {"l1": float(self.l1), "l2": float(self.l2)}

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1!r}, l2={self.l2!r})"


def l1(l: float = 0.01) -> L1L2:
    """l1(l=0.01): L1L2(l1=l)."""
    return L1L2(l1=l)


def l2(l: float = 0.01) -> L1L2:
    """l2(l=0.01): L1L2(l2=l)."""
    return L1L2(l2=l)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """l1_l2(l1=0.01, l2=0.01): L1L2(l1=l1, l2=l2)."""
    return L1L2(l1=l1, l2=l2)


_MODULE_OBJECTS: dict[str, Any] = {"Regularizer": Regularizer, "L1L2": L1L2, "l1": l1, "l2": l2, "l1_l2": l1_l2}


def serialize(regularizer: Any) -> Any:
    """serialize(regularizer): {'class_name': ..., 'config': ...}."""
    return serialize_keras_object(regularizer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    """deserialize(config, custom_objects=None): a regularizer from serialize()'s output."""
    return deserialize_keras_object(config, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects,
                                    printable_module_name="regularizer")


def get(identifier: Any) -> Any:
    """get(identifier): None -> None; a name ('l2') or config dict -> an instance; a callable
    passes through; anything else -> ValueError."""
    return get_instance(identifier, deserialize, "regularizer")

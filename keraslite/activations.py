"""Activation functions (`keras.activations`), Keras 2.2/2.3 semantics.

Each function takes and returns a symbolic Tensor (NumPy input becomes a constant) and is built
from K functions only, so it runs on every backend and is differentiated by K.gradients.
Layers accept them by name: ``Dense(10, activation='relu')`` resolves through `get`.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

from . import backend as K
from .utils.generic_utils import deserialize_keras_object


def softmax(x: Any, axis: int = -1) -> K.Tensor:
    """softmax(x, axis=-1): exp(x) / sum(exp(x)) along `axis`; ValueError for a 1-D (or 0-D) x."""
    ndim = K.ndim(x)
    if ndim < 2:
        # Keras 2 refuses 1-D input: a softmax over a batch of scalars is almost always a mistake.
        raise ValueError(f"Cannot apply softmax to a tensor that is 1D. Received input with shape {K.int_shape(x)}")
    # K.softmax subtracts the max along `axis` itself, so it is stable for every rank >= 2.
    return K.softmax(x, axis=axis)


def elu(x: Any, alpha: float = 1.0) -> K.Tensor:
    """elu(x, alpha=1.0): x if x > 0 else alpha * (exp(x) - 1)."""
    return K.elu(x, alpha)


def selu(x: Any) -> K.Tensor:
    """selu(x): scale * elu(x, alpha), scale = 1.0507009873554805, alpha = 1.6732632423543772."""
    return K.selu(x)


def softplus(x: Any) -> K.Tensor:
    """softplus(x): log(exp(x) + 1)."""
    return K.softplus(x)


def softsign(x: Any) -> K.Tensor:
    """softsign(x): x / (|x| + 1)."""
    return K.softsign(x)


def relu(x: Any, alpha: float = 0., max_value: float | None = None, threshold: float = 0.) -> K.Tensor:
    """relu(x, alpha=0., max_value=None, threshold=0.): x for x >= threshold (capped at
    max_value), alpha * (x - threshold) below it."""
    return K.relu(x, alpha=alpha, max_value=max_value, threshold=threshold)


def tanh(x: Any) -> K.Tensor:
    """tanh(x): hyperbolic tangent."""
    return K.tanh(x)


def sigmoid(x: Any) -> K.Tensor:
    """sigmoid(x): 1 / (1 + exp(-x))."""
    return K.sigmoid(x)


def hard_sigmoid(x: Any) -> K.Tensor:
    """hard_sigmoid(x): clip(0.2 * x + 0.5, 0, 1)."""
    return K.hard_sigmoid(x)


def exponential(x: Any) -> K.Tensor:
    """exponential(x): exp(x)."""
    return K.exp(x)


def linear(x: Any) -> Any:
    """linear(x): x unchanged (what activation=None means)."""
    return x


# Only the activations are resolvable by name, not the helpers imported into this module.
_MODULE_OBJECTS: dict[str, Callable] = {
    f.__name__: f for f in (softmax, elu, selu, softplus, softsign, relu, tanh, sigmoid, hard_sigmoid,
                            exponential, linear)
}


def serialize(activation: Callable) -> Any:
    """serialize(activation): the function's name (an object with get_config gives its config)."""
    if hasattr(activation, "get_config"):  # an advanced-activation layer used as activation
        return {"class_name": activation.__class__.__name__, "config": activation.get_config()}
    return activation.__name__


def deserialize(name: Any, custom_objects: dict | None = None) -> Callable:
    """deserialize(name, custom_objects=None): the activation called `name`; ValueError if unknown."""
    return deserialize_keras_object(name, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects,
                                    printable_module_name="activation function")


def get(identifier: Any) -> Callable:
    """get(identifier): None -> linear; a name -> that function; a callable passes through (a
    layer instance with a UserWarning, as Keras 2.3 gives); anything else -> ValueError."""
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        from .engine.base_layer import Layer  # deferred: layers import this module
        if isinstance(identifier, Layer):
            warnings.warn(f"Do not pass a layer instance (such as {type(identifier).__name__}) as the activation "
                          "argument of another layer. Instead, advanced activation layers should be used just "
                          "like any other layer in a model.", UserWarning, stacklevel=2)
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")

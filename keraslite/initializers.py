"""Weight initializers (`keras.initializers`), Keras 2.2/2.3 semantics.

An initializer is called as ``init(shape, dtype=None)`` and returns a NumPy array of ``dtype``
(default ``K.floatx()``). Values are drawn on the host with a NumPy Generator rather than with a
backend's random kernels, so a given seed yields the same weights on every backend (numpy, numba,
cuda); ``K.variable`` then moves them to the device. As in Keras 2.3 a seeded initializer adds 1
to its seed after each call, so two layers that share one initializer object get different
weights, while a freshly built ``glorot_uniform(seed=0)`` always starts from the same draw.
Unseeded calls take their seed from NumPy's global RNG, so ``np.random.seed(n)`` repeats a run.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .backend.graph import canonical_dtype
from .backend.ops.random import host_rng
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object, get_instance

Shape = Sequence[int]

# Std of a unit normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)): VarianceScaling
# divides by it so that the weights keep the intended variance after truncation.
_TRUNC_STD = 0.87962566103423978


def _shape(shape: Any, who: str) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = (shape,)
    if any(d is None for d in dims):
        raise ValueError(f"{who}: cannot initialize a weight of partially unknown shape {dims}")
    dims = tuple(int(d) for d in dims)
    if any(d < 0 for d in dims):
        raise ValueError(f"{who}: negative dimension in shape {dims}")
    return dims


def _out(values: Any, dtype: Any, who: str) -> np.ndarray:
    # Draws happen in float64 and are cast at the end, so float16/float32/float64 weights come from
    # the same underlying numbers for a seed.
    out = np.asarray(values).astype(canonical_dtype(dtype, who), copy=False)
    # (np.ascontiguousarray would turn a scalar weight's 0-d array into shape (1,))
    return out if out.flags.c_contiguous else np.ascontiguousarray(out)


def _truncated(rng: np.random.Generator, mean: float, stddev: float, shape: tuple[int, ...]) -> np.ndarray:
    """Normal samples, redrawing those more than two standard deviations from the mean (TF's rule)."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():  # about 4.6% redrawn each round, so this ends after a few rounds
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return mean + stddev * z


def _compute_fans(shape: Shape, data_format: str = "channels_last") -> tuple[float, float]:
    """(fan_in, fan_out) for a weight shape, Keras 2's rule.

    2-D: (fan_in, fan_out) = shape. Conv kernels (rank 3 to 5): the receptive field is the product
    of the spatial dims; channels_last kernels are (..., in, out), channels_first (out, in, ...).
    Other ranks: both are sqrt(prod(shape)).
    """
    shape = tuple(shape)
    if len(shape) == 2:
        fan_in, fan_out = shape[0], shape[1]
    elif len(shape) in (3, 4, 5):
        if data_format == "channels_first":
            receptive_field = int(np.prod(shape[2:]))
            fan_in, fan_out = shape[1] * receptive_field, shape[0] * receptive_field
        elif data_format == "channels_last":
            receptive_field = int(np.prod(shape[:-2]))
            fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
        else:
            raise ValueError("Invalid data_format: " + str(data_format))
    else:
        fan_in = fan_out = math.sqrt(float(np.prod(shape)))
    return fan_in, fan_out


class Initializer:
    """Initializer base class: `__call__(shape, dtype=None)` returns the initial values."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        config = dict(config)
        config.pop("dtype", None)  # tf.keras configs carry a dtype the constructor does not take
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.__class__.__name__}({args})"


class _Seeded(Initializer):
    """Shared seed handling: one generator per call, then the seed moves on (Keras 2.3)."""

    seed: int | None

    def _rng(self) -> np.random.Generator:
        rng = host_rng(self.seed)
        if self.seed is not None:
            self.seed += 1
        return rng


class Zeros(Initializer):
    """Zeros(): all zeros."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return np.zeros(_shape(shape, "Zeros"), dtype=canonical_dtype(dtype, "Zeros"))


class Ones(Initializer):
    """Ones(): all ones."""

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        return np.ones(_shape(shape, "Ones"), dtype=canonical_dtype(dtype, "Ones"))


class Constant(Initializer):
    """Constant(value=0): every entry `value` (a scalar, or an array broadcastable to the shape)."""

    def __init__(self, value: Any = 0):
        self.value = value

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "Constant")
        value = np.asarray(self.value)
        try:
            out = np.broadcast_to(value, shape)
        except ValueError:
            if value.size != int(np.prod(shape)):
                raise ValueError(f"Constant: value of shape {value.shape} does not fit the weight shape {shape}") from None
            out = value.reshape(shape)
        return _out(out, dtype, "Constant")

    def get_config(self) -> dict:
        value = self.value.tolist() if isinstance(self.value, np.ndarray) else self.value
        return {"value": value}


class RandomNormal(_Seeded):
    """RandomNormal(mean=0., stddev=0.05, seed=None): N(mean, stddev**2)."""

    def __init__(self, mean: float = 0., stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "RandomNormal")
        return _out(self._rng().normal(self.mean, self.stddev, shape), dtype, "RandomNormal")

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    """RandomUniform(minval=-0.05, maxval=0.05, seed=None): U[minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "RandomUniform")
        return _out(self._rng().uniform(self.minval, self.maxval, shape), dtype, "RandomUniform")

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_Seeded):
    """TruncatedNormal(mean=0., stddev=0.05, seed=None): N(mean, stddev**2) with values more than
    two standard deviations from the mean redrawn."""

    def __init__(self, mean: float = 0., stddev: float = 0.05, seed: int | None = None):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "TruncatedNormal")
        return _out(_truncated(self._rng(), self.mean, self.stddev, shape), dtype, "TruncatedNormal")

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_Seeded):
    """VarianceScaling(scale=1.0, mode='fan_in', distribution='normal', seed=None).

    s = scale / max(1, n) with n = fan_in, fan_out or their mean (mode 'fan_avg').
    'normal' (alias 'truncated_normal'): truncated normal whose std after truncation is sqrt(s);
    'untruncated_normal': N(0, s); 'uniform': U(-sqrt(3s), sqrt(3s)).
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "normal",
                 seed: int | None = None):
        if scale <= 0.:
            raise ValueError(f"`scale` must be a positive float. Got: {scale}")
        mode = str(mode).lower()
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: expected one of {{'fan_in', 'fan_out', 'fan_avg'}} "
                             f"but got {mode!r}")
        distribution = str(distribution).lower()
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError("Invalid `distribution` argument: expected one of {'normal', 'uniform', "
                             f"'truncated_normal', 'untruncated_normal'}} but got {distribution!r}")
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "VarianceScaling")
        fan_in, fan_out = _compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.}[self.mode]
        s = self.scale / max(1., float(n))
        rng = self._rng()
        if self.distribution in ("normal", "truncated_normal"):
            values = _truncated(rng, 0., math.sqrt(s) / _TRUNC_STD, shape)
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0., math.sqrt(s), shape)
        else:
            limit = math.sqrt(3. * s)
            values = rng.uniform(-limit, limit, shape)
        return _out(values, dtype, "VarianceScaling")

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class Orthogonal(_Seeded):
    """Orthogonal(gain=1., seed=None): a (semi-)orthogonal matrix, reshaped to the weight shape.

    The shape is flattened to (prod(shape[:-1]), shape[-1]); the orthonormal SVD factor of a
    Gaussian matrix of that shape is taken and multiplied by `gain`.
    """

    def __init__(self, gain: float = 1., seed: int | None = None):
        self.gain = gain
        self.seed = seed

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the weight must be at least 2-D, got shape {shape}")
        flat = (int(np.prod(shape[:-1])), shape[-1])
        a = self._rng().normal(0., 1., flat)
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat else vt  # the factor with the flat shape has orthonormal rows or columns
        return _out(self.gain * q.reshape(shape), dtype, "Orthogonal")

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """Identity(gain=1.): `gain` times the identity matrix (2-D shapes only; rectangular shapes
    get the leading block of the identity)."""

    def __init__(self, gain: float = 1.):
        self.gain = gain

    def __call__(self, shape: Shape, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices, got shape {shape}")
        return _out(self.gain * np.eye(shape[0], shape[1]), dtype, "Identity")

    def get_config(self) -> dict:
        return {"gain": self.gain}


def lecun_uniform(seed: int | None = None) -> VarianceScaling:
    """lecun_uniform(seed=None): U(-limit, limit), limit = sqrt(3 / fan_in)."""
    return VarianceScaling(scale=1., mode="fan_in", distribution="uniform", seed=seed)


def lecun_normal(seed: int | None = None) -> VarianceScaling:
    """lecun_normal(seed=None): truncated normal with std sqrt(1 / fan_in)."""
    return VarianceScaling(scale=1., mode="fan_in", distribution="normal", seed=seed)


def glorot_uniform(seed: int | None = None) -> VarianceScaling:
    """glorot_uniform(seed=None): U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))."""
    return VarianceScaling(scale=1., mode="fan_avg", distribution="uniform", seed=seed)


def glorot_normal(seed: int | None = None) -> VarianceScaling:
    """glorot_normal(seed=None): truncated normal with std sqrt(2 / (fan_in + fan_out))."""
    return VarianceScaling(scale=1., mode="fan_avg", distribution="normal", seed=seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    """he_uniform(seed=None): U(-limit, limit), limit = sqrt(6 / fan_in)."""
    return VarianceScaling(scale=2., mode="fan_in", distribution="uniform", seed=seed)


def he_normal(seed: int | None = None) -> VarianceScaling:
    """he_normal(seed=None): truncated normal with std sqrt(2 / fan_in)."""
    return VarianceScaling(scale=2., mode="fan_in", distribution="normal", seed=seed)


# Keras 2 lower-case aliases: `keras.initializers.zeros` is the class Zeros, and so on.
zero = zeros = Zeros
one = ones = Ones
constant = Constant
normal = random_normal = RandomNormal
uniform = random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
orthogonal = Orthogonal
identity = Identity

# Names deserialisation may resolve: only initializers, never the helpers imported above.
_MODULE_OBJECTS: dict[str, Any] = {
    "Initializer": Initializer, "Zeros": Zeros, "Ones": Ones, "Constant": Constant,
    "RandomNormal": RandomNormal, "RandomUniform": RandomUniform, "TruncatedNormal": TruncatedNormal,
    "VarianceScaling": VarianceScaling, "Orthogonal": Orthogonal, "Identity": Identity,
    "zero": zero, "zeros": zeros, "one": one, "ones": ones, "constant": constant, "normal": normal,
    "random_normal": random_normal, "uniform": uniform, "random_uniform": random_uniform,
    "truncated_normal": truncated_normal, "variance_scaling": variance_scaling, "orthogonal": orthogonal,
    "identity": identity, "lecun_uniform": lecun_uniform, "lecun_normal": lecun_normal,
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_uniform": he_uniform,
    "he_normal": he_normal,
}


def serialize(initializer: Any) -> Any:
    """serialize(initializer): {'class_name': ..., 'config': ...} (a function gives its name)."""
    return serialize_keras_object(initializer)


def deserialize(config: Any, custom_objects: dict | None = None) -> Any:
    """deserialize(config, custom_objects=None): an initializer from serialize()'s output; a name
    of a function such as 'glorot_uniform' is called to give an instance."""
    return deserialize_keras_object(config, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects,
                                    printable_module_name="initializer")


def get(identifier: Any) -> Any:
    """get(identifier): None -> None; a name or config dict -> an initializer instance; a callable
    passes through; anything else -> ValueError."""
    return get_instance(identifier, deserialize, "initializer")

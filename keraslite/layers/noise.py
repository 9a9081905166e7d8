"""Noise layers (training phase only): GaussianNoise, GaussianDropout, AlphaDropout."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..engine.base_layer import Layer


def _shape_of(inputs):
    shape = K.int_shape(inputs)
    return shape if None not in shape else K.shape(inputs)


class GaussianNoise(Layer):
    """GaussianNoise(stddev): adds N(0, stddev^2) noise in the training phase."""

    def __init__(self, stddev, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.stddev = float(stddev)

    def call(self, inputs, training=None):
        def noised():
            return inputs + K.random_normal(shape=_shape_of(inputs), mean=0.0, stddev=self.stddev,
                                            dtype=K.dtype(inputs))
        return K.in_train_phase(noised, inputs, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"stddev": self.stddev}
        return dict(list(super().get_config().items()) + list(config.items()))


class GaussianDropout(Layer):
    """GaussianDropout(rate): multiplies by N(1, rate / (1 - rate)) noise in the training phase."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if 0 < self.rate < 1:
            def noised():
                stddev = float(np.sqrt(self.rate / (1.0 - self.rate)))
                return inputs * K.random_normal(shape=_shape_of(inputs), mean=1.0, stddev=stddev,
                                                dtype=K.dtype(inputs))
            return K.in_train_phase(noised, inputs, training=training)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"rate": self.rate}
        return dict(list(super().get_config().items()) + list(config.items()))


class AlphaDropout(Layer):
    """AlphaDropout(rate, noise_shape=None, seed=None): dropout that keeps the self-normalising
    mean and variance (for SELU networks); dropped units take SELU's negative saturation value,
    then an affine map restores the moments."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=None):
        if 0.0 < self.rate < 1.0:
            if self.noise_shape:
                dyn = K.shape(inputs) if any(d is None for d in self.noise_shape) else None
                noise_shape = [dyn[i] if d is None else d for i, d in enumerate(self.noise_shape)] \
                    if dyn is not None else self.noise_shape
            else:
                noise_shape = _shape_of(inputs)
            rate, seed = self.rate, self.seed

            def dropped_inputs():
                alpha = 1.6732632423543772848170429916717
                scale = 1.0507009873554804934193349852946
                alpha_p = -alpha * scale
                kept = K.cast(K.greater_equal(K.random_uniform(noise_shape, seed=seed, dtype=K.dtype(inputs)), rate),
                              K.dtype(inputs))
                a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
                b = -a * alpha_p * rate
                x = inputs * kept + alpha_p * (1 - kept)
                return a * x + b
            return K.in_train_phase(dropped_inputs, inputs, training=training)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
        return dict(list(super().get_config().items()) + list(config.items()))

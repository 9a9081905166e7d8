"""BatchNormalization (Keras 2.2/2.3 semantics, with the plain EMA of 2.3 for the moving stats)."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from .. import constraints, initializers, regularizers
from ..engine.base_layer import InputSpec, Layer
from ._utils import shape_str


class BatchNormalization(Layer):
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
    beta_initializer='zeros', gamma_initializer='ones', moving_mean_initializer='zeros',
    moving_variance_initializer='ones', beta_regularizer=None, gamma_regularizer=None,
    beta_constraint=None, gamma_constraint=None).

    Training phase: normalise with the batch mean and biased variance, and queue the updates
    moving_mean <- m * moving_mean + (1 - m) * mean and the same for moving_variance with the
    unbiased batch variance (variance * n / (n - (1 + epsilon))). Inference: moving statistics.
    Weights: gamma, beta (trainable), moving_mean, moving_variance (non-trainable)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization ({self.name}): axis must be an int, got {axis!r}")
            axis = axis[0]
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization ({self.name}): axis {self.axis} is out of range for an input of "
                             f"shape {shape_str(input_shape)}")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"BatchNormalization ({self.name}): axis {self.axis} of the input tensor should have a "
                             f"defined dimension but the layer received an input with shape {shape_str(input_shape)}.")
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: dim})
        shape = (dim,)
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        else:
            self.gamma = None
        if self.center:
            self.beta = self.add_weight(name="beta", shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        else:
            self.beta = None
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(name="moving_variance", shape=shape,
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        input_shape = K.int_shape(inputs)
        ndim = len(input_shape)
        axis = self.axis % ndim
        reduction_axes = [i for i in range(ndim) if i != axis]

        def normalize_inference():
            return K.batch_normalization(inputs, self.moving_mean, self.moving_variance, self.beta, self.gamma,
                                         axis=axis, epsilon=self.epsilon)

        if training is not None and not isinstance(training, K.Tensor) and not training:
            return normalize_inference()

        normed_training, mean, variance = K.normalize_batch_in_training(inputs, self.gamma, self.beta,
                                                                        reduction_axes, epsilon=self.epsilon)
        dims = [input_shape[i] for i in reduction_axes]
        if None not in dims:
            sample_size = float(np.prod(dims, dtype=np.float64))
            variance = variance * (sample_size / (sample_size - (1.0 + self.epsilon)))
        else:
            symbolic = K.shape(inputs)
            sample_size = None
            for i in reduction_axes:
                d = K.cast(symbolic[i], K.dtype(inputs)) if input_shape[i] is None else float(input_shape[i])
                sample_size = d if sample_size is None else sample_size * d
            variance = variance * (sample_size / (sample_size - (1.0 + self.epsilon)))
        self.add_update([K.moving_average_update(self.moving_mean, mean, self.momentum),
                         K.moving_average_update(self.moving_variance, variance, self.momentum)], inputs)
        return K.in_train_phase(normed_training, normalize_inference, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint),
        }
        return dict(list(super().get_config().items()) + list(config.items()))

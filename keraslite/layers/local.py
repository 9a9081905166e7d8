"""Locally connected layers: LocallyConnected1D and LocallyConnected2D (Keras 2 semantics: like
Conv1D/Conv2D with 'valid' windows, but with a different, unshared kernel at every output position)."""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, regularizers
from .. import backend as K
from ..engine.base_layer import InputSpec, Layer
from ._utils import weight_args_config, conv_output_length, normalize_data_format, normalize_tuple, shape_str


class _LocallyConnected(Layer):
    """Shared machinery of the rank-1 and rank-2 locally connected layers."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{who} ({self.name}): filters must be a positive int, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, self.rank, "strides", self.name)
        self.padding = str(padding).lower()
        if self.padding != "valid":
            raise ValueError(f"Invalid border mode for {who} (only \"valid\" is supported): {padding!r}")
        self.data_format = normalize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _split(self, input_shape):
        """(channels, spatial dims) of an input shape, checking they are known."""
        input_shape = tuple(input_shape)
        who = type(self).__name__
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{who} ({self.name}) expects an input of rank {self.rank + 2}, got shape "
                             f"{shape_str(input_shape)}")
        if self.data_format == "channels_first":
            channels, spatial = input_shape[1], input_shape[2:]
        else:
            channels, spatial = input_shape[-1], input_shape[1:-1]
        return channels, tuple(spatial)

    def _out_spatial(self, spatial):
        return tuple(conv_output_length(spatial[i], self.kernel_size[i], self.padding, self.strides[i])
                     for i in range(self.rank))

    def build(self, input_shape):
        channels, spatial = self._split(input_shape)
        who = type(self).__name__
        if channels is None or any(d is None for d in spatial):
            raise ValueError(f"{who} ({self.name}): the spatial and channel dimensions of the inputs must be "
                             f"fully defined, found shape {shape_str(tuple(input_shape))}")
        out = self._out_spatial(spatial)
        if any(o < 1 for o in out):
            raise ValueError(f"{who} ({self.name}): kernel_size {self.kernel_size} does not fit in inputs of shape "
                             f"{shape_str(tuple(input_shape))}")
        self.output_spatial = out
        self.input_spatial = tuple(int(d) for d in spatial)  # read by keraslite.legacy.local_weights
        positions = int(np.prod(out))
        self.kernel_shape = (positions, int(np.prod(self.kernel_size)) * channels, self.filters)
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self._bias_shape(out), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        axis = 1 if self.data_format == "channels_first" else -1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        self.built = True

    def compute_output_shape(self, input_shape):
        _, spatial = self._split(input_shape)
        out = self._out_spatial(spatial)
        if self.data_format == "channels_first":
            return (input_shape[0], self.filters) + out
        return (input_shape[0],) + out + (self.filters,)

    def call(self, inputs):
        output = self._local_conv(inputs)
        if self.use_bias:
            output = K.bias_add(output, self.bias, data_format=self.data_format)
        if self.activation is not None:
            output = self.activation(output)
        return output

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self),
        }
        return dict(list(super().get_config().items()) + list(config.items()))


class LocallyConnected1D(_LocallyConnected):
    """LocallyConnected1D(filters, kernel_size, strides=1, padding='valid', data_format=None,
    activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
    kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, bias_constraint=None): Conv1D without weight sharing. Weights: kernel
    (output_length, kernel_size * input_dim, filters), bias (output_length, filters). Only 'valid'
    padding (ValueError otherwise)."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)

    def _bias_shape(self, out):
        return (out[0], self.filters)

    def _local_conv(self, inputs):
        return K.local_conv1d(inputs, self.kernel, self.kernel_size, self.strides, data_format=self.data_format)


class LocallyConnected2D(_LocallyConnected):
    """LocallyConnected2D(filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
    activation=None, use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
    kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, bias_constraint=None): Conv2D without weight sharing. Weights: kernel
    (output_row * output_col, kh * kw * input_filter, filters), bias (output_row, output_col,
    filters). Only 'valid' padding (ValueError otherwise)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, activation=None,
                 use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        self.output_row, self.output_col = self.output_spatial

    def _bias_shape(self, out):
        return (out[0], out[1], self.filters)

    def _local_conv(self, inputs):
        return K.local_conv2d(inputs, self.kernel, self.kernel_size, self.strides, (self.output_row, self.output_col),
                              data_format=self.data_format)

"""Convolution layers: Conv1D, Conv2D, Conv3D, Conv2DTranspose, Conv3DTranspose, SeparableConv1D/2D,
DepthwiseConv2D, UpSampling1D/2D/3D, ZeroPadding1D/2D/3D, Cropping1D/2D/3D (Keras 2.2/2.3 semantics)."""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, regularizers
from .. import backend as K
from ..engine.base_layer import InputSpec, Layer
from ._utils import (weight_args_config, conv_output_length, deconv_length, normalize_data_format, normalize_padding,
                     normalize_tuple, shape_str)
from ._resampling import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D, UpSampling2D,  # noqa: F401
                          UpSampling3D, ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
# Keras 2 scripts also import the pooling layers from here (keras.layers.convolutional.MaxPooling2D)
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, MaxPooling1D,  # noqa: F401
                      MaxPooling2D, MaxPooling3D)

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "Conv3D", "Conv3DTranspose", "SeparableConv1D",
           "SeparableConv2D", "DepthwiseConv2D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D",
           "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Convolution1D",
           "Convolution2D", "Convolution3D", "SeparableConvolution1D", "SeparableConvolution2D",
           "Convolution2DTranspose", "Convolution3DTranspose", "Deconvolution2D", "Deconv2D"]


class _Conv(Layer):
    """Abstract N-D convolution (rank 1, 2 or 3): kernel_size + (in, filters) kernel, optional bias."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        if filters is not None and (isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1):
            raise ValueError(f"{type(self).__name__} ({self.name}): filters must be a positive int, got {filters!r}")
        self.filters = None if filters is None else int(filters)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, rank, "strides", self.name)
        self.padding = normalize_padding(padding, self.name, allow_causal=(rank == 1))
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", self.name)
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

    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _input_channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{type(self).__name__} ({self.name}) expects an input of rank {self.rank + 2}, got "
                             f"shape {shape_str(input_shape)}")
        dim = input_shape[self._channel_axis]
        if dim is None:
            raise ValueError(f"{type(self).__name__} ({self.name}): the channel dimension of the inputs should be "
                             f"defined. Found `None` (input shape {shape_str(input_shape)}, {self.data_format})")
        return dim

    def build(self, input_shape):
        input_dim = self._input_channels(input_shape)
        kernel_shape = self.kernel_size + (input_dim, self.filters)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self._build_bias(self.filters)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: input_dim})
        self.built = True

    def _build_bias(self, n):
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(n,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None

    def _convolve(self, inputs):
        if self.rank == 1:
            return K.conv1d(inputs, self.kernel, strides=self.strides[0], padding=self.padding,
                            data_format=self.data_format, dilation_rate=self.dilation_rate[0])
        return K.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, dilation_rate=self.dilation_rate)

    def _finish(self, outputs):
        if self.use_bias:
            outputs = K.bias_add(outputs, self.bias, data_format=self.data_format)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def call(self, inputs):
        return self._finish(self._convolve(inputs))

    def _spatial_out(self, space):
        return [conv_output_length(space[i], self.kernel_size[i], self.padding, self.strides[i],
                                   dilation=self.dilation_rate[i]) for i in range(len(space))]

    def _out_channels(self, input_shape):
        return self.filters

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        filters = self._out_channels(input_shape)
        if self.data_format == "channels_last":
            new_space = self._spatial_out(input_shape[1:-1])
            return (input_shape[0],) + tuple(new_space) + (filters,)
        new_space = self._spatial_out(input_shape[2:])
        return (input_shape[0], filters) + tuple(new_space)

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self),
        }
        return dict(list(super().get_config().items()) + list(config.items()))


class Conv1D(_Conv):
    """Conv1D(filters, kernel_size, strides=1, padding='valid', data_format='channels_last',
    dilation_rate=1, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None,
    activity_regularizer=None, kernel_constraint=None, bias_constraint=None). padding may be
    'causal' (channels_last only)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last",
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        if str(padding).lower() == "causal" and normalize_data_format(data_format) != "channels_last":
            raise ValueError("When using causal padding in `Conv1D`, `data_format` must be \"channels_last\" "
                             "(temporal data).")
        super().__init__(rank=1, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class Conv2D(_Conv):
    """Conv2D(filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None,
    activity_regularizer=None, kernel_constraint=None, bias_constraint=None)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=2, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class Conv2DTranspose(Conv2D):
    """Conv2DTranspose(filters, kernel_size, strides=(1, 1), padding='valid', output_padding=None,
    data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True, ...): the transposed
    convolution; kernel (kh, kw, filters, in)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, **kwargs)
        self.input_spec = InputSpec(ndim=4)
        self.output_padding = output_padding
        if self.output_padding is not None:
            self.output_padding = normalize_tuple(self.output_padding, 2, "output_padding", self.name)
            for stride, out_pad in zip(self.strides, self.output_padding):
                if out_pad >= stride:
                    raise ValueError(f"Conv2DTranspose ({self.name}): stride {self.strides} must be greater than "
                                     f"output padding {self.output_padding}")

    def build(self, input_shape):
        input_dim = self._input_channels(input_shape)
        kernel_shape = self.kernel_size + (self.filters, input_dim)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self._build_bias(self.filters)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: input_dim})
        self.built = True

    def _spatial_out(self, space):
        out_pad = self.output_padding or (None, None)
        return [deconv_length(space[i], self.strides[i], self.kernel_size[i], self.padding, out_pad[i],
                              self.dilation_rate[i]) for i in range(2)]

    def call(self, inputs):
        shape = K.int_shape(inputs)
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        if any(shape[a] is None for a in axes):
            # sizes known only at run time: the output size is computed from K.shape, as Keras 2 does
            dynamic = K.shape(inputs)
            space = [shape[a] if shape[a] is not None else dynamic[a] for a in axes]
        else:
            space = [shape[a] for a in axes]
        out_h, out_w = self._spatial_out(space)
        if self.data_format == "channels_first":
            output_shape = (shape[0], self.filters, out_h, out_w)
        else:
            output_shape = (shape[0], out_h, out_w, self.filters)
        outputs = K.conv2d_transpose(inputs, self.kernel, output_shape, self.strides, padding=self.padding,
                                     data_format=self.data_format, dilation_rate=self.dilation_rate)
        return self._finish(outputs)

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config


class Conv3D(_Conv):
    """Conv3D(filters, kernel_size, strides=(1, 1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1, 1), activation=None, use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None,
    activity_regularizer=None, kernel_constraint=None, bias_constraint=None); kernel
    (kd, kh, kw, in, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=3, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, **kwargs)

    def _convolve(self, inputs):
        return K.conv3d(inputs, self.kernel, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, dilation_rate=self.dilation_rate)


class Conv3DTranspose(Conv3D):
    """Conv3DTranspose(filters, kernel_size, strides=(1, 1, 1), padding='valid', output_padding=None,
    data_format=None, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', ...regularizers/constraints...): the transposed 3-D convolution;
    kernel (kd, kh, kw, filters, in). No dilation (as in Keras 2)."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid", output_padding=None,
                 data_format=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, **kwargs)
        self.input_spec = InputSpec(ndim=5)
        self.output_padding = output_padding
        if self.output_padding is not None:
            self.output_padding = normalize_tuple(self.output_padding, 3, "output_padding", self.name)
            for stride, out_pad in zip(self.strides, self.output_padding):
                if out_pad >= stride:
                    raise ValueError(f"Conv3DTranspose ({self.name}): stride {self.strides} must be greater than "
                                     f"output padding {self.output_padding}")

    def build(self, input_shape):
        input_dim = self._input_channels(input_shape)
        kernel_shape = self.kernel_size + (self.filters, input_dim)
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self._build_bias(self.filters)
        self.input_spec = InputSpec(ndim=5, axes={self._channel_axis: input_dim})
        self.built = True

    def _spatial_out(self, space):
        out_pad = self.output_padding or (None, None, None)
        return [deconv_length(space[i], self.strides[i], self.kernel_size[i], self.padding, out_pad[i])
                for i in range(3)]

    def call(self, inputs):
        shape = K.int_shape(inputs)
        space = shape[2:] if self.data_format == "channels_first" else shape[1:4]
        if None in space:
            raise ValueError(f"Conv3DTranspose ({self.name}): keraslite needs known spatial dimensions, got input "
                             f"shape {shape_str(shape)}")
        out_space = tuple(self._spatial_out(space))
        if self.data_format == "channels_first":
            output_shape = (shape[0], self.filters) + out_space
        else:
            output_shape = (shape[0],) + out_space + (self.filters,)
        outputs = K.conv3d_transpose(inputs, self.kernel, output_shape, self.strides, padding=self.padding,
                                     data_format=self.data_format)
        return self._finish(outputs)

    def get_config(self):
        config = super().get_config()
        config.pop("dilation_rate")
        config["output_padding"] = self.output_padding
        return config


class _SeparableConv(_Conv):
    """Depthwise then pointwise convolution (rank 1 or 2)."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        if str(padding).lower() == "causal":
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}")
        super().__init__(rank=rank, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, bias_constraint=bias_constraint, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        input_dim = self._input_channels(input_shape)
        depthwise_kernel_shape = self.kernel_size + (input_dim, self.depth_multiplier)
        pointwise_kernel_shape = (1,) * self.rank + (self.depth_multiplier * input_dim, self.filters)
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=depthwise_kernel_shape,
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(name="pointwise_kernel", shape=pointwise_kernel_shape,
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        self._build_bias(self.filters)
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: input_dim})
        self.built = True

    def _convolve(self, inputs):
        if self.rank == 1:
            return K.separable_conv1d(inputs, self.depthwise_kernel, self.pointwise_kernel,
                                      strides=self.strides[0], padding=self.padding, data_format=self.data_format,
                                      dilation_rate=self.dilation_rate[0])
        return K.separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel, strides=self.strides,
                                  padding=self.padding, data_format=self.data_format,
                                  dilation_rate=self.dilation_rate)

    def get_config(self):
        config = super().get_config()
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key)
        config.update({
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
        })
        return config


class SeparableConv1D(_SeparableConv):
    """SeparableConv1D(filters, kernel_size, strides=1, padding='valid',
    data_format='channels_last', dilation_rate=1, depth_multiplier=1, activation=None,
    use_bias=True, depthwise_initializer='glorot_uniform', pointwise_initializer='glorot_uniform',
    bias_initializer='zeros', ...regularizers/constraints...)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last",
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=1, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, depth_multiplier=depth_multiplier,
                         activation=activation, use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class SeparableConv2D(_SeparableConv):
    """SeparableConv2D(filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
    depthwise_initializer='glorot_uniform', pointwise_initializer='glorot_uniform',
    bias_initializer='zeros', ...regularizers/constraints...)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(rank=2, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, depth_multiplier=depth_multiplier,
                         activation=activation, use_bias=use_bias, depthwise_initializer=depthwise_initializer,
                         pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
                         depthwise_regularizer=depthwise_regularizer, pointwise_regularizer=pointwise_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                         bias_constraint=bias_constraint, **kwargs)


class DepthwiseConv2D(Conv2D):
    """DepthwiseConv2D(kernel_size, strides=(1, 1), padding='valid', depth_multiplier=1,
    data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
    depthwise_initializer='glorot_uniform', bias_initializer='zeros', depthwise_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
    bias_constraint=None): per-channel convolution; output channel c * depth_multiplier + m."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters=None, kernel_size=kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                         use_bias=use_bias, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, bias_constraint=bias_constraint,
                         bias_initializer=bias_initializer, **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = constraints.get(depthwise_constraint)

    def build(self, input_shape):
        if len(tuple(input_shape)) < 4:
            raise ValueError(f"Inputs to `DepthwiseConv2D` ({self.name}) should have rank 4. Received input shape: "
                             f"{shape_str(tuple(input_shape))}")
        input_dim = self._input_channels(input_shape)
        depthwise_kernel_shape = (self.kernel_size[0], self.kernel_size[1], input_dim, self.depth_multiplier)
        self.depthwise_kernel = self.add_weight(name="depthwise_kernel", shape=depthwise_kernel_shape,
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self._build_bias(input_dim * self.depth_multiplier)
        self.input_spec = InputSpec(ndim=4, axes={self._channel_axis: input_dim})
        self.built = True

    def _convolve(self, inputs):
        return K.depthwise_conv2d(inputs, self.depthwise_kernel, strides=self.strides, padding=self.padding,
                                  dilation_rate=self.dilation_rate, data_format=self.data_format)

    def _out_channels(self, input_shape):
        c = input_shape[self._channel_axis]
        return None if c is None else c * self.depth_multiplier

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            config.pop(key)
        config["depth_multiplier"] = self.depth_multiplier
        config["depthwise_initializer"] = initializers.serialize(self.depthwise_initializer)
        config["depthwise_regularizer"] = regularizers.serialize(self.depthwise_regularizer)
        config["depthwise_constraint"] = constraints.serialize(self.depthwise_constraint)
        return config


# Keras 2 aliases
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
Deconvolution2D = Deconv2D = Conv2DTranspose

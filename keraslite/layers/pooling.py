"""Pooling layers: Max/Average pooling 1D, 2D and 3D, global max/average pooling 1D, 2D and 3D,
with the Keras 2 aliases (MaxPool2D, AvgPool3D, GlobalAvgPool2D, ...)."""
from __future__ import annotations

from .. import backend as K
from ..engine.base_layer import InputSpec, Layer
from ._utils import conv_output_length, normalize_data_format, normalize_padding, normalize_tuple, spatial_output_shape


def _pooled_shape(layer, input_shape) -> tuple:
    """The output shape of a 1-D, 2-D or 3-D pooling layer (pool_size, strides, padding)."""
    return spatial_output_shape(input_shape, layer.data_format,
                                lambda d, i: conv_output_length(d, layer.pool_size[i], layer.padding, layer.strides[i]),
                                range(len(layer.pool_size)))


class _Pooling1D(Layer):
    """Abstract 1-D pooling over axis 1 (channels_last) or axis 2 (channels_first)."""

    _mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        if strides is None:
            strides = pool_size
        self.pool_size = normalize_tuple(pool_size, 1, "pool_size", self.name)
        self.strides = normalize_tuple(strides, 1, "strides", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        return _pooled_shape(self, input_shape)

    def call(self, inputs):
        dummy_axis = 2 if self.data_format == "channels_last" else 3
        x = K.expand_dims(inputs, dummy_axis)
        y = K.pool2d(x, self.pool_size + (1,), strides=self.strides + (1,), padding=self.padding,
                     data_format=self.data_format, pool_mode=self._mode)
        return K.squeeze(y, dummy_axis)

    def get_config(self):
        config = {"strides": self.strides, "pool_size": self.pool_size, "padding": self.padding,
                  "data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class MaxPooling1D(_Pooling1D):
    """MaxPooling1D(pool_size=2, strides=None, padding='valid', data_format='channels_last')."""

    _mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling1D):
    """AveragePooling1D(pool_size=2, strides=None, padding='valid', data_format='channels_last')."""

    _mode = "avg"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format="channels_last", **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _Pooling2D(Layer):
    """Abstract 2-D pooling."""

    _mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self.name)
        if strides is None:
            strides = self.pool_size
        self.strides = normalize_tuple(strides, 2, "strides", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        return _pooled_shape(self, input_shape)

    def call(self, inputs):
        return K.pool2d(inputs, pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, pool_mode=self._mode)

    def get_config(self):
        config = {"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                  "data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class MaxPooling2D(_Pooling2D):
    """MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid', data_format=None); strides
    default to pool_size."""

    _mode = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling2D):
    """AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid', data_format=None); under
    'same' the padded cells are left out of each average."""

    _mode = "avg"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=3)
        self.data_format = normalize_data_format(data_format)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_first":
            return (input_shape[0], input_shape[1])
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class GlobalAveragePooling1D(_GlobalPooling1D):
    """GlobalAveragePooling1D(data_format='channels_last'): mean over the steps axis; a mask (from
    Embedding(mask_zero=True) or Masking) leaves masked steps out of the mean."""

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(data_format, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        steps_axis = 1 if self.data_format == "channels_last" else 2
        if mask is not None:
            mask = K.cast(mask, K.dtype(inputs))
            mask = K.expand_dims(mask, 2 if self.data_format == "channels_last" else 1)
            return K.sum(inputs * mask, axis=steps_axis) / K.sum(mask, axis=steps_axis)
        return K.mean(inputs, axis=steps_axis)

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalMaxPooling1D(_GlobalPooling1D):
    """GlobalMaxPooling1D(data_format='channels_last'): max over the steps axis."""

    def call(self, inputs):
        steps_axis = 1 if self.data_format == "channels_last" else 2
        return K.max(inputs, axis=steps_axis)


class _GlobalPooling2D(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], input_shape[3])
        return (input_shape[0], input_shape[1])

    def _axes(self):
        return [1, 2] if self.data_format == "channels_last" else [2, 3]

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class GlobalAveragePooling2D(_GlobalPooling2D):
    """GlobalAveragePooling2D(data_format=None): mean over the two spatial axes -> (N, C)."""

    def call(self, inputs):
        return K.mean(inputs, axis=self._axes())


class GlobalMaxPooling2D(_GlobalPooling2D):
    """GlobalMaxPooling2D(data_format=None): max over the two spatial axes -> (N, C)."""

    def call(self, inputs):
        return K.max(inputs, axis=self._axes())


class _Pooling3D(Layer):
    """Abstract 3-D pooling."""

    _mode = "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.pool_size = normalize_tuple(pool_size, 3, "pool_size", self.name)
        if strides is None:
            strides = self.pool_size
        self.strides = normalize_tuple(strides, 3, "strides", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.input_spec = InputSpec(ndim=5)

    def compute_output_shape(self, input_shape):
        return _pooled_shape(self, input_shape)

    def call(self, inputs):
        return K.pool3d(inputs, pool_size=self.pool_size, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, pool_mode=self._mode)

    def get_config(self):
        config = {"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                  "data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class MaxPooling3D(_Pooling3D):
    """MaxPooling3D(pool_size=(2, 2, 2), strides=None, padding='valid', data_format=None); strides
    default to pool_size."""

    _mode = "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(_Pooling3D):
    """AveragePooling3D(pool_size=(2, 2, 2), strides=None, padding='valid', data_format=None); under
    'same' the padded cells are left out of each average."""

    _mode = "avg"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class _GlobalPooling3D(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_last":
            return (input_shape[0], input_shape[4])
        return (input_shape[0], input_shape[1])

    def _axes(self):
        return [1, 2, 3] if self.data_format == "channels_last" else [2, 3, 4]

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class GlobalAveragePooling3D(_GlobalPooling3D):
    """GlobalAveragePooling3D(data_format=None): mean over the three spatial axes -> (N, C)."""

    def call(self, inputs):
        return K.mean(inputs, axis=self._axes())


class GlobalMaxPooling3D(_GlobalPooling3D):
    """GlobalMaxPooling3D(data_format=None): max over the three spatial axes -> (N, C)."""

    def call(self, inputs):
        return K.max(inputs, axis=self._axes())


# Keras 2 aliases
AvgPool1D = AveragePooling1D
MaxPool1D = MaxPooling1D
AvgPool2D = AveragePooling2D
MaxPool2D = MaxPooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
AvgPool3D = AveragePooling3D
MaxPool3D = MaxPooling3D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool3D = GlobalAveragePooling3D

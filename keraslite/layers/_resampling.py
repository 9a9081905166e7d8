"""UpSampling1D/2D/3D, ZeroPadding1D/2D/3D and Cropping1D/2D/3D (Keras 2 defines them in
keras.layers.convolutional; keraslite.layers.convolutional re-exports them)."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..engine.base_layer import InputSpec, Layer
from ._utils import normalize_data_format, normalize_tuple, padded_dim, scaled_dim, shape_str, spatial_output_shape


# ---------------------------------------------------------------------------------------------
# up-sampling, padding, cropping


class UpSampling1D(Layer):
    """UpSampling1D(size=2): repeat each timestep `size` times."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        size = self.size * input_shape[1] if input_shape[1] is not None else None
        return (input_shape[0], size, input_shape[2])

    def call(self, inputs):
        return K.repeat_elements(inputs, self.size, axis=1)

    def get_config(self):
        config = {"size": self.size}
        return dict(list(super().get_config().items()) + list(config.items()))


def _half_pixel_matrix(size: int, factor: int) -> np.ndarray:
    """(size*factor, size) weights of bilinear up-sampling with half-pixel centres: output o
    samples source (o + 0.5)/factor - 0.5, neighbours clamped to the edges (tf.image.resize)."""
    a = np.zeros((size * factor, size), dtype=np.float64)
    for o in range(size * factor):
        s = (o + 0.5) / factor - 0.5
        lo = int(np.floor(s))
        frac = s - lo
        a[o, min(max(lo, 0), size - 1)] += 1.0 - frac
        a[o, min(max(lo + 1, 0), size - 1)] += frac
    return a


class UpSampling2D(Layer):
    """UpSampling2D(size=(2, 2), data_format=None, interpolation='nearest', *,
    half_pixel_centers=False). Keras 2.3's 'bilinear' samples source (i / factor); with
    half_pixel_centers=True (tf.keras 2.x's rule, kept by models loaded from its files) it samples
    (i + 0.5) / factor - 0.5."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", *, half_pixel_centers=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = normalize_tuple(size, 2, "size", self.name)
        self.input_spec = InputSpec(ndim=4)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D ({self.name}): interpolation should be one of \"nearest\" or "
                             f"\"bilinear\", got {interpolation!r}")
        self.interpolation = interpolation
        self.half_pixel_centers = bool(half_pixel_centers)

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(input_shape, self.data_format, scaled_dim, self.size)

    def call(self, inputs):
        if self.interpolation == "bilinear" and self.half_pixel_centers:
            return self._half_pixel_bilinear(inputs)
        return K.resize_images(inputs, self.size[0], self.size[1], self.data_format,
                               interpolation=self.interpolation)

    def _half_pixel_bilinear(self, x):
        # each spatial axis in turn: move it last, multiply by the fixed weights, move it back
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        for axis, factor in zip(axes, self.size):
            size = K.int_shape(x)[axis]
            if size is None:
                raise ValueError(f"UpSampling2D ({self.name}): bilinear with half-pixel centres needs known spatial "
                                 f"dimensions, got {shape_str(K.int_shape(x))}")
            order = [i for i in range(4) if i != axis] + [axis]
            back = list(np.argsort(order))
            weights = K.constant(_half_pixel_matrix(size, factor).T, dtype=K.dtype(x))
            x = K.permute_dimensions(K.dot(K.permute_dimensions(x, order), weights), back)
        return x

    def get_config(self):
        config = {"size": self.size, "data_format": self.data_format, "interpolation": self.interpolation}
        if self.half_pixel_centers:
            config["half_pixel_centers"] = True
        return dict(list(super().get_config().items()) + list(config.items()))


def _pairs_2d(value, name, who):
    """int p -> ((p, p), (p, p)); (a, b) -> ((a, a), (b, b)); ((t, b), (l, r)) as given."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = int(value)
        return ((value, value), (value, value))
    if hasattr(value, "__len__"):
        if len(value) != 2:
            raise ValueError(f"{who}: `{name}` should have two elements. Found: {value!r}")
        first = normalize_tuple(value[0], 2, f"1st entry of {name}", who)
        second = normalize_tuple(value[1], 2, f"2nd entry of {name}", who)
        return (first, second)
    raise ValueError(f"{who}: `{name}` should be either an int, a tuple of 2 ints (symmetric_height_{name}, "
                     f"symmetric_width_{name}), or a tuple of 2 tuples of 2 ints ((top_{name}, bottom_{name}), "
                     f"(left_{name}, right_{name})). Found: {value!r}")


def _check_non_negative(pairs, name, who):
    flat = [v for p in (pairs if isinstance(pairs[0], tuple) else (pairs,)) for v in p]
    if any(v < 0 for v in flat):
        raise ValueError(f"{who}: `{name}` entries must be non-negative, got {pairs!r}")


class ZeroPadding1D(Layer):
    """ZeroPadding1D(padding=1): int or (left, right) zeros added along the time axis."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = normalize_tuple(padding, 2, "padding", self.name)
        _check_non_negative(self.padding, "padding", self.name)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        length = input_shape[1] + self.padding[0] + self.padding[1] if input_shape[1] is not None else None
        return (input_shape[0], length, input_shape[2])

    def call(self, inputs):
        return K.temporal_padding(inputs, padding=self.padding)

    def get_config(self):
        config = {"padding": self.padding}
        return dict(list(super().get_config().items()) + list(config.items()))


def _crop_len(d, pair, who, shape):
    if d is None:
        return None
    out = d - pair[0] - pair[1]
    if out < 0:
        raise ValueError(f"{who}: cropping {pair} is larger than the input dimension {d} "
                         f"(input shape {shape_str(tuple(shape))})")
    return out


class _SpatialPairs(Layer):
    """The shared part of ZeroPadding2D/3D and Cropping2D/3D: `_arg` ('padding' or 'cropping')
    as one (before, after) pair per spatial axis of a rank-`_rank` image, and data_format."""

    _arg = "padding"
    _rank = 2

    def __init__(self, pairs, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        pairs = (_pairs_2d if self._rank == 2 else _pairs_3d)(pairs, self._arg, self.name)
        _check_non_negative(pairs, self._arg, self.name)
        setattr(self, self._arg, pairs)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def get_config(self):
        config = {self._arg: getattr(self, self._arg), "data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class _ZeroPadding(_SpatialPairs):
    def compute_output_shape(self, input_shape):
        return spatial_output_shape(input_shape, self.data_format, padded_dim, self.padding)

    def call(self, inputs):
        pad = K.spatial_2d_padding if self._rank == 2 else K.spatial_3d_padding
        return pad(inputs, padding=self.padding, data_format=self.data_format)


class _Cropping(_SpatialPairs):
    _arg = "cropping"

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(input_shape, self.data_format,
                                    lambda d, pair: _crop_len(d, pair, self.name, input_shape), self.cropping)

    def call(self, inputs):
        self.compute_output_shape(K.int_shape(inputs))  # a clear error for a crop larger than the input
        spatial = tuple(slice(a, -b if b else None) for a, b in self.cropping)
        if self.data_format == "channels_first":
            return inputs[(slice(None), slice(None)) + spatial]
        return inputs[(slice(None),) + spatial + (slice(None),)]


class ZeroPadding2D(_ZeroPadding):
    """ZeroPadding2D(padding=(1, 1), data_format=None): padding int, (sym_h, sym_w) or
    ((top, bottom), (left, right))."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping1D(Layer):
    """Cropping1D(cropping=(1, 1)): remove timesteps from the start and end of axis 1."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = normalize_tuple(cropping, 2, "cropping", self.name)
        _check_non_negative(self.cropping, "cropping", self.name)
        self.input_spec = InputSpec(ndim=3)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _crop_len(input_shape[1], self.cropping, self.name, input_shape), input_shape[2])

    def call(self, inputs):
        self.compute_output_shape(K.int_shape(inputs))
        a, b = self.cropping
        return inputs[:, a:(-b if b else None), :]

    def get_config(self):
        config = {"cropping": self.cropping}
        return dict(list(super().get_config().items()) + list(config.items()))


class Cropping2D(_Cropping):
    """Cropping2D(cropping=((0, 0), (0, 0)), data_format=None): cropping int, (sym_h, sym_w) or
    ((top, bottom), (left, right))."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class UpSampling3D(Layer):
    """UpSampling3D(size=(2, 2, 2), data_format=None): repeat each cell size[i] times along the
    three spatial axes."""

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = normalize_tuple(size, 3, "size", self.name)
        self.input_spec = InputSpec(ndim=5)

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(input_shape, self.data_format, scaled_dim, self.size)

    def call(self, inputs):
        return K.resize_volumes(inputs, self.size[0], self.size[1], self.size[2], self.data_format)

    def get_config(self):
        config = {"size": self.size, "data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


def _pairs_3d(value, name, who):
    """int p -> ((p, p),) * 3; (a, b, c) -> ((a, a), (b, b), (c, c)); three pairs as given."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = int(value)
        return ((value, value),) * 3
    if hasattr(value, "__len__"):
        if len(value) != 3:
            raise ValueError(f"{who}: `{name}` should have 3 elements. Found: {value!r}")
        return tuple(normalize_tuple(v, 2, f"entry {i + 1} of {name}", who) for i, v in enumerate(value))
    raise ValueError(f"{who}: `{name}` should be either an int, a tuple of 3 ints (symmetric_dim1_{name}, "
                     f"symmetric_dim2_{name}, symmetric_dim3_{name}), or a tuple of 3 tuples of 2 ints "
                     f"((left_dim1_{name}, right_dim1_{name}), ...). Found: {value!r}")


class ZeroPadding3D(_ZeroPadding):
    """ZeroPadding3D(padding=(1, 1, 1), data_format=None): padding int, three symmetric ints or
    three (before, after) pairs for the depth, height and width axes."""

    _rank = 3

    def __init__(self, padding=(1, 1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Cropping3D(cropping=((1, 1), (1, 1), (1, 1)), data_format=None): cropping int, three
    symmetric ints or three (before, after) pairs for the depth, height and width axes."""

    _rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)

"""keraslite.preprocessing.image (`keras.preprocessing.image`): real-time image augmentation.

Everything array-based is plain NumPy: the affine transforms (rotation, shift, shear, zoom) map
each output pixel back to the input through one 3x3 matrix and sample with nearest-neighbour
(`interpolation_order=0`) or bilinear (`1`, the default) interpolation; pixels that land outside
follow `fill_mode` ('constant' | 'nearest' | 'reflect' | 'wrap'). No SciPy is needed.
Reading/writing image files (`load_img`, `save_img`, `array_to_img`, `flow_from_directory`,
`flow_from_dataframe`) needs Pillow.

Behaviour follows keras_preprocessing 1.1 (Keras 2.2/2.3), including its quirks:
transforms rotate/zoom about `(h/2 + 0.5, w/2 + 0.5)`; `tx` comes from `height_shift_range`
(rows) and `ty` from `width_shift_range` (columns); brightness works on the image first scaled
to [0, 255] (as Keras' PIL round trip does). 'wrap' is plain periodic tiling (SciPy's
'grid-wrap'; Keras' SciPy 'wrap' differs near edges); 'reflect' is half-sample symmetric (d c b a | a b c d | d c b a), as SciPy's.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..backend import config as _config
from ._image_iterators import (DataFrameIterator, DirectoryIterator, Iterator, NumpyArrayIterator,  # noqa: F401
                               _FilesIterator, _split_range)
from ._image_transforms import (_FILL_MODES, _PIL_INTERPOLATION_NAMES, _check_format, _map_index,  # noqa: F401
                                _pil_image, _pil_interpolation, _sample, _scaled_to_255, apply_affine_transform,
                                apply_brightness_shift, apply_channel_shift, array_to_img, flip_axis, img_to_array,
                                list_pictures, load_img, random_brightness, random_channel_shift, random_rotation,
                                random_shear, random_shift, random_zoom, save_img, transform_matrix_offset_center)

__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator", "DataFrameIterator",
           "load_img", "img_to_array", "array_to_img", "save_img", "list_pictures", "apply_affine_transform",
           "apply_channel_shift", "apply_brightness_shift", "flip_axis", "transform_matrix_offset_center",
           "random_rotation", "random_shift", "random_shear", "random_zoom", "random_channel_shift",
           "random_brightness"]


# =============================================================================================
# the generator

class ImageDataGenerator(object):
    """ImageDataGenerator(featurewise_center=False, samplewise_center=False,
    featurewise_std_normalization=False, samplewise_std_normalization=False, zca_whitening=False,
    zca_epsilon=1e-6, rotation_range=0, width_shift_range=0., height_shift_range=0.,
    brightness_range=None, shear_range=0., zoom_range=0., channel_shift_range=0.,
    fill_mode='nearest', cval=0., horizontal_flip=False, vertical_flip=False, rescale=None,
    preprocessing_function=None, data_format=None, validation_split=0.0, dtype=None,
    interpolation_order=1)

    Real-time augmentation: `flow(x, y)` yields batches of randomly transformed, then
    standardized images. Shift ranges: a float < 1 is a fraction of the size, >= 1 pixels; an int
    n draws integers in (-n, n); a list draws from its values. `zoom_range` float z means
    [1 - z, 1 + z]. Feature-wise statistics and ZCA need `fit(x)` first.
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0., height_shift_range=0., brightness_range=None, shear_range=0., zoom_range=0.,
                 channel_shift_range=0., fill_mode='nearest', cval=0., horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None, validation_split=0.0, dtype=None,
                 interpolation_order=1):
        if data_format is None:
            data_format = _config.image_data_format()
        if dtype is None:
            dtype = _config.floatx()
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = zoom_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in _FILL_MODES:
            raise ValueError('`fill_mode` should be one of %s. Received: %s' % (_FILL_MODES, fill_mode))
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        self.interpolation_order = interpolation_order

        if data_format not in ('channels_last', 'channels_first'):
            raise ValueError('`data_format` should be `"channels_last"` (channel after row and column) or '
                             '`"channels_first"` (channel before row and column). Received: %s' % (data_format,))
        self.data_format = data_format
        if data_format == 'channels_first':
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if validation_split and not 0 < validation_split < 1:
            raise ValueError('`validation_split` must be strictly between 0 and 1. Received: %s'
                             % (validation_split,))
        self._validation_split = validation_split

        self.mean = None
        self.std = None
        self.principal_components = None

        if np.isscalar(zoom_range) and isinstance(zoom_range, (int, float, np.number)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (isinstance(zoom_range, (list, tuple, np.ndarray)) and len(zoom_range) == 2
              and all(isinstance(v, (int, float, np.number)) for v in zoom_range)):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError('`zoom_range` should be a float or a tuple or list of two floats. Received: %s'
                             % (zoom_range,))
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn('This ImageDataGenerator specifies `zca_whitening`, which overrides setting of '
                              '`featurewise_center`.')
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn('This ImageDataGenerator specifies `zca_whitening` which overrides setting of'
                              '`featurewise_std_normalization`.')
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn('This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides '
                          'setting of `featurewise_center`.')
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn('This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides '
                          'setting of `samplewise_center`.')
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                raise ValueError('`brightness_range should be tuple or list of two floats. Received: %s'
                                 % (brightness_range,))
        self.brightness_range = brightness_range

    # ------------------------------------------------------------------ iterators
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix='', save_format='png', subset=None):
        """flow(x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
        save_to_dir=None, save_prefix='', save_format='png', subset=None) -> NumpyArrayIterator"""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format, subset=subset, dtype=self.dtype)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode='rgb', classes=None,
                            class_mode='categorical', batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix='', save_format='png', follow_links=False, subset=None,
                            interpolation='nearest'):
        """flow_from_directory(directory, target_size=(256, 256), color_mode='rgb', classes=None,
        class_mode='categorical', batch_size=32, shuffle=True, seed=None, save_to_dir=None,
        save_prefix='', save_format='png', follow_links=False, subset=None,
        interpolation='nearest') -> DirectoryIterator. Needs Pillow."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, follow_links=follow_links, subset=subset,
                                 interpolation=interpolation, dtype=self.dtype)

    def flow_from_dataframe(self, dataframe, directory=None, x_col='filename', y_col='class', weight_col=None,
                            target_size=(256, 256), color_mode='rgb', classes=None, class_mode='categorical',
                            batch_size=32, shuffle=True, seed=None, save_to_dir=None, save_prefix='',
                            save_format='png', subset=None, interpolation='nearest', validate_filenames=True,
                            **kwargs):
        """flow_from_dataframe(dataframe, directory=None, x_col='filename', y_col='class',
        weight_col=None, target_size=(256, 256), color_mode='rgb', classes=None,
        class_mode='categorical', batch_size=32, shuffle=True, seed=None, save_to_dir=None,
        save_prefix='', save_format='png', subset=None, interpolation='nearest',
        validate_filenames=True) -> DataFrameIterator. Needs Pillow."""
        if kwargs:
            if 'has_ext' in kwargs or 'sort' in kwargs or 'drop_duplicates' in kwargs:
                warnings.warn('has_ext, sort and drop_duplicates are deprecated and ignored.')
            unknown = set(kwargs) - {'has_ext', 'sort', 'drop_duplicates'}
            if unknown:
                raise TypeError('Unrecognized keyword arguments: %s' % sorted(unknown))
        return DataFrameIterator(dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
                                 target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, subset=subset, interpolation=interpolation,
                                 dtype=self.dtype, validate_filenames=validate_filenames)

    # ------------------------------------------------------------------ per-image work
    def standardize(self, x):
        """standardize(x): preprocessing_function, rescale, sample-wise then feature-wise
        normalisation and ZCA whitening (the feature-wise steps need `fit`). Float arrays are
        modified in place, as in Keras."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if not (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)):
            x = np.asarray(x, dtype=self.dtype)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= (np.std(x, keepdims=True) + 1e-6)
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn('This ImageDataGenerator specifies `featurewise_center`, but it hasn\'t been fit on '
                              'any training data. Fit it first by calling `.fit(numpy_data)`.')
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= (self.std + 1e-6)
            else:
                warnings.warn('This ImageDataGenerator specifies `featurewise_std_normalization`, but it hasn\'t '
                              'been fit on any training data. Fit it first by calling `.fit(numpy_data)`.')
        if self.zca_whitening:
            if self.principal_components is not None:
                flatx = np.reshape(x, (-1, int(np.prod(x.shape[-3:]))))
                whitex = flatx @ self.principal_components
                x = np.reshape(whitex, x.shape).astype(x.dtype, copy=False)
            else:
                warnings.warn('This ImageDataGenerator specifies `zca_whitening`, but it hasn\'t been fit on any '
                              'training data. Fit it first by calling `.fit(numpy_data)`.')
        return x

    @staticmethod
    def _draw_shift(shift_range, size):
        if not shift_range:
            return 0
        if isinstance(shift_range, (int, np.integer)) and not isinstance(shift_range, bool):
            t = float(np.random.choice(int(shift_range))) * np.random.choice([-1, 1])
        elif np.isscalar(shift_range):
            t = np.random.uniform(-shift_range, shift_range)
        else:
            t = float(np.random.choice(np.asarray(shift_range))) * np.random.choice([-1, 1])
        if np.max(shift_range) < 1:
            t *= size
        return t

    def get_random_transform(self, img_shape, seed=None):
        """get_random_transform(img_shape, seed=None): a dict of random transform parameters for
        one image: theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
        channel_shift_intensity, brightness."""
        img_row_axis = self.row_axis - 1
        img_col_axis = self.col_axis - 1
        if seed is not None:
            np.random.seed(seed)
        theta = np.random.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = self._draw_shift(self.height_shift_range, img_shape[img_row_axis])
        ty = self._draw_shift(self.width_shift_range, img_shape[img_col_axis])
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = bool(np.random.random() < 0.5) and bool(self.horizontal_flip)
        flip_vertical = bool(np.random.random() < 0.5) and bool(self.vertical_flip)
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = np.random.uniform(-self.channel_shift_range, self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = np.random.uniform(self.brightness_range[0], self.brightness_range[1])
        return {'theta': theta, 'tx': tx, 'ty': ty, 'shear': shear, 'zx': zx, 'zy': zy,
                'flip_horizontal': flip_horizontal, 'flip_vertical': flip_vertical,
                'channel_shift_intensity': channel_shift_intensity, 'brightness': brightness}

    def apply_transform(self, x, transform_parameters):
        """apply_transform(x, transform_parameters): one 3D image transformed by the given
        parameters (any subset of get_random_transform's keys): affine transform, channel
        shift, flips, brightness."""
        img_row_axis = self.row_axis - 1
        img_col_axis = self.col_axis - 1
        img_channel_axis = self.channel_axis - 1
        p = transform_parameters
        x = apply_affine_transform(x, p.get('theta', 0), p.get('tx', 0), p.get('ty', 0), p.get('shear', 0),
                                   p.get('zx', 1), p.get('zy', 1), row_axis=img_row_axis, col_axis=img_col_axis,
                                   channel_axis=img_channel_axis, fill_mode=self.fill_mode, cval=self.cval,
                                   order=self.interpolation_order)
        if p.get('channel_shift_intensity') is not None:
            x = apply_channel_shift(x, p['channel_shift_intensity'], img_channel_axis)
        if p.get('flip_horizontal', False):
            x = flip_axis(x, img_col_axis)
        if p.get('flip_vertical', False):
            x = flip_axis(x, img_row_axis)
        if p.get('brightness') is not None:
            x = apply_brightness_shift(x, p['brightness'])
        return x

    def random_transform(self, x, seed=None):
        """random_transform(x, seed=None): one 3D image randomly augmented."""
        params = self.get_random_transform(np.shape(x), seed)
        return self.apply_transform(x, params)

    def fit(self, x, augment=False, rounds=1, seed=None):
        """fit(x, augment=False, rounds=1, seed=None): compute the feature-wise mean/std and the
        ZCA matrix from a rank-4 sample array (after `rescale`; with `augment`, from `rounds`
        randomly augmented copies)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError('Input to `.fit()` should have rank 4. Got array with shape: ' + str(x.shape))
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn('Expected input to be images (as Numpy array) following the data format convention "'
                          + self.data_format + '" (channels on axis ' + str(self.channel_axis) + '), i.e. expected '
                          'either 1, 3 or 4 channels on axis ' + str(self.channel_axis) + '. However, it was passed '
                          'an array with shape ' + str(x.shape) + ' (' + str(x.shape[self.channel_axis])
                          + ' channels).')
        if seed is not None:
            np.random.seed(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            ax = np.zeros((rounds * x.shape[0],) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                for i in range(x.shape[0]):
                    ax[i + r * x.shape[0]] = self.random_transform(x[i])
            x = ax
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.reshape(np.mean(x, axis=(0, self.row_axis, self.col_axis)), broadcast_shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.reshape(np.std(x, axis=(0, self.row_axis, self.col_axis)), broadcast_shape)
            x /= (self.std + 1e-6)
        if self.zca_whitening:
            flat_x = np.reshape(x, (x.shape[0], -1)).astype('float64')
            sigma = flat_x.T @ flat_x / flat_x.shape[0]
            u, s, _ = np.linalg.svd(sigma)
            s_inv = 1. / np.sqrt(s[np.newaxis] + self.zca_epsilon)
            self.principal_components = ((u * s_inv) @ u.T).astype(self.dtype)

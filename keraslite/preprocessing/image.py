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

import os
import re
import threading
import warnings

import numpy as np

from ..backend import config as _config
from ..utils.data_utils import Sequence

__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator", "DataFrameIterator",
           "load_img", "img_to_array", "array_to_img", "save_img", "list_pictures", "apply_affine_transform",
           "apply_channel_shift", "apply_brightness_shift", "flip_axis", "transform_matrix_offset_center",
           "random_rotation", "random_shift", "random_shear", "random_zoom", "random_channel_shift",
           "random_brightness"]

_FILL_MODES = ('constant', 'nearest', 'reflect', 'wrap')
_PIL_INTERPOLATION_NAMES = ('nearest', 'bilinear', 'bicubic', 'hamming', 'box', 'lanczos')


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('This keraslite.preprocessing.image function reads or writes image files and needs '
                          'Pillow: `pip install Pillow`.') from None
    return Image


def _pil_interpolation(name):
    Image = _pil_image()
    resampling = getattr(Image, 'Resampling', Image)
    table = {}
    for n in _PIL_INTERPOLATION_NAMES:
        if hasattr(resampling, n.upper()):
            table[n] = getattr(resampling, n.upper())
    if name not in table:
        raise ValueError('Invalid interpolation method {} specified. Supported methods are {}'.format(
            name, ", ".join(table.keys())))
    return table[name]


# =============================================================================================
# array-level transforms

def flip_axis(x, axis):
    """flip_axis(x, axis): x reversed along `axis`."""
    x = np.asarray(x).swapaxes(axis, 0)
    x = x[::-1, ...]
    return x.swapaxes(0, axis)


def transform_matrix_offset_center(matrix, x, y):
    """transform_matrix_offset_center(matrix, x, y): `matrix` conjugated to act about the point
    `(x/2 + 0.5, y/2 + 0.5)` (Keras' choice of image centre)."""
    o_x = float(x) / 2 + 0.5
    o_y = float(y) / 2 + 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset @ matrix @ reset


def _map_index(idx, n, fill_mode):
    """Integer sample positions -> valid indices in [0, n) for the out-of-range fill modes."""
    if fill_mode == 'reflect':
        idx = np.mod(idx, 2 * n)
        return np.where(idx >= n, 2 * n - 1 - idx, idx)
    if fill_mode == 'wrap':
        return np.mod(idx, n)
    return np.clip(idx, 0, n - 1)  # 'nearest', and 'constant' (whose outside pixels are replaced by cval)


def _sample(img, rows, cols, fill_mode, cval, order):
    """img (h, w, c); rows/cols (h', w') float source coordinates -> (h', w', c)."""
    h, w = img.shape[0], img.shape[1]
    if order == 0:
        r = _map_index(np.floor(rows + 0.5).astype(np.int64), h, fill_mode)
        c = _map_index(np.floor(cols + 0.5).astype(np.int64), w, fill_mode)
        out = img[r, c]
    else:
        r0f = np.floor(rows)
        c0f = np.floor(cols)
        fr = (rows - r0f)[..., None]
        fc = (cols - c0f)[..., None]
        r0 = r0f.astype(np.int64)
        c0 = c0f.astype(np.int64)
        r0m, r1m = _map_index(r0, h, fill_mode), _map_index(r0 + 1, h, fill_mode)
        c0m, c1m = _map_index(c0, w, fill_mode), _map_index(c0 + 1, w, fill_mode)
        out = ((1 - fr) * ((1 - fc) * img[r0m, c0m] + fc * img[r0m, c1m])
               + fr * ((1 - fc) * img[r1m, c0m] + fc * img[r1m, c1m]))
    if fill_mode == 'constant':
        tol = 1e-6
        outside = (rows < -tol) | (rows > h - 1 + tol) | (cols < -tol) | (cols > w - 1 + tol)
        out = np.where(outside[..., None], cval, out)
    return out


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=0, col_axis=1, channel_axis=2,
                           fill_mode='nearest', cval=0., order=1):
    """apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=0, col_axis=1,
    channel_axis=2, fill_mode='nearest', cval=0., order=1)

    One 3D image `x` transformed by rotation `theta` (degrees), shift `(tx, ty)` (pixels along
    rows, columns), `shear` (degrees) and zoom `(zx, zy)` (>1 shows less of the image). Output
    pixel `p` takes the input at `M @ p` (inverse mapping), interpolated with `order` 0 (nearest)
    or 1 (bilinear).
    """
    if fill_mode not in _FILL_MODES:
        raise ValueError('Invalid fill_mode: %s; expected one of %s' % (fill_mode, _FILL_MODES))
    if order not in (0, 1):
        raise ValueError('interpolation order must be 0 (nearest) or 1 (bilinear); got %s' % (order,))
    matrix = None

    def compose(m):
        return m if matrix is None else matrix @ m

    if theta != 0:
        t = np.deg2rad(theta)
        matrix = compose(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]]))
    if tx != 0 or ty != 0:
        matrix = compose(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype='float64'))
    if shear != 0:
        s = np.deg2rad(shear)
        matrix = compose(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        matrix = compose(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]], dtype='float64'))
    if matrix is None:
        return x

    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError('apply_affine_transform expects a single 3D image; got shape %s' % (x.shape,))
    h, w = x.shape[row_axis], x.shape[col_axis]
    matrix = transform_matrix_offset_center(matrix, h, w)
    img = np.transpose(x, (row_axis, col_axis, channel_axis))
    rr, cc = np.meshgrid(np.arange(h, dtype='float64'), np.arange(w, dtype='float64'), indexing='ij')
    src_r = matrix[0, 0] * rr + matrix[0, 1] * cc + matrix[0, 2]
    src_c = matrix[1, 0] * rr + matrix[1, 1] * cc + matrix[1, 2]
    out = _sample(img, src_r, src_c, fill_mode, cval, order)
    inverse = np.argsort((row_axis, col_axis, channel_axis))
    out = np.transpose(out, inverse)
    return out.astype(x.dtype, copy=False) if np.issubdtype(x.dtype, np.floating) else out


def apply_channel_shift(x, intensity, channel_axis=0):
    """apply_channel_shift(x, intensity, channel_axis=0): `intensity` added to every channel,
    clipped to the image's original [min, max]."""
    x = np.asarray(x)
    lo, hi = np.min(x), np.max(x)
    return np.clip(x + intensity, lo, hi)


def _scaled_to_255(x):
    """The array part of array_to_img(scale=True): shift up if negative, divide by max, x255."""
    x = np.array(x, dtype='float64')
    x = x + max(-np.min(x), 0)
    x_max = np.max(x)
    if x_max != 0:
        x /= x_max
    return x * 255


def apply_brightness_shift(x, brightness, scale=True):
    """apply_brightness_shift(x, brightness, scale=True)

    Keras round-trips the image through PIL's ImageEnhance.Brightness: the image is first
    scaled to [0, 255] (when `scale`, or when it lies outside that range), multiplied by
    `brightness`, clipped to [0, 255] and truncated to integers. Done here in NumPy; with
    `scale=False` an image that had to be scaled is mapped back to its original range.
    """
    x = np.asarray(x)
    x_min, x_max = float(np.min(x)), float(np.max(x))
    local_scale = x_min < 0 or x_max > 255
    arr = _scaled_to_255(x) if (scale or local_scale) else np.array(x, dtype='float64')
    arr = np.floor(arr)  # the uint8 image
    out = np.clip(np.round(arr * brightness), 0, 255)
    if not scale and local_scale:
        out = out / 255 * (x_max - x_min) + x_min
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else _config.floatx()
    return out.astype(dtype)


def random_rotation(x, rg, row_axis=1, col_axis=2, channel_axis=0, fill_mode='nearest', cval=0.,
                    interpolation_order=1):
    """random_rotation(x, rg, ...): rotated by a uniform angle in [-rg, rg] degrees."""
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shift(x, wrg, hrg, row_axis=1, col_axis=2, channel_axis=0, fill_mode='nearest', cval=0.,
                 interpolation_order=1):
    """random_shift(x, wrg, hrg, ...): shifted by uniform fractions of width/height."""
    h, w = x.shape[row_axis], x.shape[col_axis]
    tx = np.random.uniform(-hrg, hrg) * h
    ty = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_shear(x, intensity, row_axis=1, col_axis=2, channel_axis=0, fill_mode='nearest', cval=0.,
                 interpolation_order=1):
    """random_shear(x, intensity, ...): sheared by a uniform angle in [-intensity, intensity] degrees."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_zoom(x, zoom_range, row_axis=1, col_axis=2, channel_axis=0, fill_mode='nearest', cval=0.,
                interpolation_order=1):
    """random_zoom(x, zoom_range, ...): zoomed by (zx, zy) drawn uniformly from zoom_range."""
    if len(zoom_range) != 2:
        raise ValueError('`zoom_range` should be a tuple or list of two floats. Received: %s' % (zoom_range,))
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis, channel_axis=channel_axis,
                                  fill_mode=fill_mode, cval=cval, order=interpolation_order)


def random_channel_shift(x, intensity_range, channel_axis=0):
    """random_channel_shift(x, intensity_range, channel_axis=0)."""
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def random_brightness(x, brightness_range):
    """random_brightness(x, brightness_range): apply_brightness_shift by a uniform factor."""
    if len(brightness_range) != 2:
        raise ValueError('`brightness_range should be tuple or list of two floats. Received: %s'
                         % (brightness_range,))
    u = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, u)


# =============================================================================================
# image files

def _check_format(data_format):
    if data_format is None:
        data_format = _config.image_data_format()
    if data_format not in ('channels_first', 'channels_last'):
        raise ValueError('Unknown data_format: %s' % (data_format,))
    return data_format


def img_to_array(img, data_format=None, dtype=None):
    """img_to_array(img, data_format=None, dtype=None): a PIL image (or any array-like) as a
    3D array, channels placed by `data_format` (default: the backend's image_data_format)."""
    data_format = _check_format(data_format)
    if dtype is None:
        dtype = _config.floatx()
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 3:
        if data_format == 'channels_first':
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1,) + x.shape) if data_format == 'channels_first' else x.reshape(x.shape + (1,))
    else:
        raise ValueError('Unsupported image shape: %s' % (x.shape,))
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """array_to_img(x, data_format=None, scale=True, dtype=None): a 3D array as a PIL image
    (1 channel -> 'L' (or 'I' above 255), 3 -> 'RGB', 4 -> 'RGBA'); with `scale` the values are
    shifted to be non-negative and scaled so the maximum is 255. Needs Pillow."""
    data_format = _check_format(data_format)
    if dtype is None:
        dtype = _config.floatx()
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError('Expected image array to have rank 3 (single image). Got array with shape: %s'
                         % (x.shape,))
    if data_format == 'channels_first':
        x = x.transpose(1, 2, 0)
    if scale:
        x = _scaled_to_255(x)
    if x.shape[2] not in (1, 3, 4):
        raise ValueError('Unsupported channel number: %s' % (x.shape[2],))
    Image = _pil_image()
    if x.shape[2] == 4:
        return Image.fromarray(x.astype('uint8'), 'RGBA')
    if x.shape[2] == 3:
        return Image.fromarray(x.astype('uint8'), 'RGB')
    if np.max(x) > 255:
        return Image.fromarray(x[:, :, 0].astype('int32'), 'I')
    return Image.fromarray(x[:, :, 0].astype('uint8'), 'L')


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs): write an
    image array to a file (Pillow; kwargs go to PIL's Image.save)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == 'RGBA' and file_format in ('jpg', 'jpeg'):
        warnings.warn('The JPG format does not support RGBA images, converting to RGB.')
        img = img.convert('RGB')
    if file_format == 'jpg':
        file_format = 'jpeg'
    img.save(path, format=file_format, **kwargs)


def load_img(path, grayscale=False, color_mode='rgb', target_size=None, interpolation='nearest'):
    """load_img(path, grayscale=False, color_mode='rgb', target_size=None, interpolation='nearest'):
    a PIL image, converted to 'grayscale' | 'rgb' | 'rgba' and resized to `target_size`
    (height, width) if given. Needs Pillow."""
    if grayscale:
        warnings.warn('grayscale is deprecated. Please use color_mode = "grayscale"')
        color_mode = 'grayscale'
    Image = _pil_image()
    modes = {'grayscale': 'L', 'rgba': 'RGBA', 'rgb': 'RGB'}
    if color_mode not in modes:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    with open(path, 'rb') as f:
        img = Image.open(f)
        img.load()
    if img.mode != modes[color_mode]:
        img = img.convert(modes[color_mode])
    if target_size is not None:
        wh = (target_size[1], target_size[0])
        if img.size != wh:
            img = img.resize(wh, _pil_interpolation(interpolation))
    return img


def list_pictures(directory, ext='jpg|jpeg|bmp|png|ppm'):
    """list_pictures(directory, ext='jpg|jpeg|bmp|png|ppm'): picture file paths under directory."""
    return [os.path.join(root, f) for root, _, files in os.walk(directory) for f in files
            if re.match(r'([\w]+\.(?:' + ext + '))', f.lower())]


# =============================================================================================
# iterators

class Iterator(Sequence):
    """Iterator(n, batch_size, shuffle, seed): base of the image iterators.

    A keraslite Sequence (indexable: `it[i]` is batch i, `len(it)` batches per epoch, reshuffled in
    `on_epoch_end`) and, like Keras', also an endless Python iterator (`next(it)`).
    Subclasses implement `_get_batches_of_transformed_samples(index_array)`.
    """

    white_list_formats = ('png', 'jpg', 'jpeg', 'bmp', 'ppm', 'tif', 'tiff')

    def __init__(self, n, batch_size, shuffle, seed):
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        self.index_generator = self._flow_index()

    def _set_index_array(self):
        self.index_array = np.arange(self.n)
        if self.shuffle:
            self.index_array = np.random.permutation(self.n)

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError('Asked to retrieve element {idx}, but the Sequence has length {length}'.format(
                idx=idx, length=len(self)))
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_end(self):
        self._set_index_array()

    def reset(self):
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            if self.seed is not None:
                np.random.seed(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self._set_index_array()
            current_index = (self.batch_index * self.batch_size) % self.n if self.n else 0
            if self.n > current_index + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            yield self.index_array[current_index:current_index + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self):
        """The next batch (endless; wraps around epochs)."""
        with self.lock:
            index_array = next(self.index_generator)
        return self._get_batches_of_transformed_samples(index_array)

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError


class NumpyArrayIterator(Iterator):
    """NumpyArrayIterator(x, y, image_data_generator, batch_size=32, shuffle=False,
    sample_weight=None, seed=None, data_format=None, save_to_dir=None, save_prefix='',
    save_format='png', subset=None, dtype=None)

    Batches `(x, y[, sample_weight])` (or just `x` when `y` is None) from a rank-4 array, each
    image randomly transformed then standardized by `image_data_generator`. `x` may be a tuple
    `(images, other_array_or_list)`: the other arrays ride along untransformed.
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None, seed=None,
                 data_format=None, save_to_dir=None, save_prefix='', save_format='png', subset=None, dtype=None):
        data_format = _check_format(data_format)
        self.dtype = _config.floatx() if dtype is None else dtype
        if isinstance(x, (tuple, list)):
            if not isinstance(x[1], list):
                x_misc = [np.asarray(x[1])]
            else:
                x_misc = [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError('All of the arrays in `x` should have the same length. Found a pair with: '
                                     'len(x[0]) = %s, len(x[?]) = %s' % (len(x), len(xx)))
        else:
            x_misc = []
        if y is not None and len(x) != len(y):
            raise ValueError('`x` (images tensor) and `y` (labels) should have the same length. Found: '
                             'x.shape = %s, y.shape = %s' % (np.asarray(x).shape, np.asarray(y).shape))
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError('`x` (images tensor) and `sample_weight` should have the same length. Found: '
                             'x.shape = %s, sample_weight.shape = %s'
                             % (np.asarray(x).shape, np.asarray(sample_weight).shape))
        if subset is not None:
            if subset not in ('training', 'validation'):
                raise ValueError('Invalid subset name: %s; expected "training" or "validation".' % (subset,))
            split_idx = int(len(x) * image_data_generator._validation_split)
            if y is not None:
                y = np.asarray(y)
                if not np.array_equal(np.unique(y[:split_idx]), np.unique(y[split_idx:])):
                    raise ValueError('Training and validation subsets have different number of classes after '
                                     'the split. If your numpy arrays are sorted by the label, you might want '
                                     'to shuffle them.')
            part = slice(None, split_idx) if subset == 'validation' else slice(split_idx, None)
            x = np.asarray(x)[part]
            x_misc = [np.asarray(xx[part]) for xx in x_misc]
            if y is not None:
                y = y[part]
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[part]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError('Input data in `NumpyArrayIterator` should have rank 4. You passed an array with '
                             'shape %s' % (self.x.shape,))
        channels_axis = 3 if data_format == 'channels_last' else 1
        if self.x.shape[channels_axis] not in (1, 3, 4):
            warnings.warn('NumpyArrayIterator is set to use the data format convention "%s" (channels on axis '
                          '%s), i.e. expected either 1, 3, or 4 channels on axis %s. However, it was passed an '
                          'array with shape %s (%s channels).' % (data_format, channels_axis, channels_axis,
                                                                  self.x.shape, self.x.shape[channels_axis]))
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        gen = self.image_data_generator
        for i, j in enumerate(index_array):
            x = self.x[j].copy()
            params = gen.get_random_transform(x.shape)
            x = gen.apply_transform(x.astype(self.dtype), params)
            x = gen.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            for i, j in enumerate(index_array):
                img = array_to_img(batch_x[i], self.data_format, scale=True)
                fname = '{prefix}_{index}_{hash}.{format}'.format(prefix=self.save_prefix, index=j,
                                                                  hash=np.random.randint(1e4),
                                                                  format=self.save_format)
                img.save(os.path.join(self.save_to_dir, fname))
        batch_x_miscs = [xx[index_array] for xx in self.x_misc]
        output = (batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs,)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output


class _FilesIterator(Iterator):
    """Shared part of DirectoryIterator and DataFrameIterator: batches loaded from image files."""

    allowed_class_modes = {'categorical', 'binary', 'sparse', 'input', None}

    def _setup_images(self, image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                      save_format, interpolation, dtype):
        self.image_data_generator = image_data_generator
        self.target_size = tuple(target_size)
        if color_mode not in ('rgb', 'rgba', 'grayscale'):
            raise ValueError('Invalid color mode: %s; expected "rgb", "rgba", or "grayscale".' % (color_mode,))
        self.color_mode = color_mode
        self.data_format = _check_format(data_format)
        channels = {'rgba': 4, 'rgb': 3, 'grayscale': 1}[color_mode]
        if self.data_format == 'channels_last':
            self.image_shape = self.target_size + (channels,)
        else:
            self.image_shape = (channels,) + self.target_size
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        self.dtype = _config.floatx() if dtype is None else dtype

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        filepaths = self.filepaths
        for i, j in enumerate(index_array):
            img = load_img(filepaths[j], color_mode=self.color_mode, target_size=self.target_size,
                           interpolation=self.interpolation)
            x = img_to_array(img, data_format=self.data_format, dtype=self.dtype)
            if hasattr(img, 'close'):
                img.close()
            if self.image_data_generator:
                params = self.image_data_generator.get_random_transform(x.shape)
                x = self.image_data_generator.apply_transform(x, params)
                x = self.image_data_generator.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            for i, j in enumerate(index_array):
                img = array_to_img(batch_x[i], self.data_format, scale=True)
                fname = '{prefix}_{index}_{hash}.{format}'.format(prefix=self.save_prefix, index=j,
                                                                  hash=np.random.randint(1e7),
                                                                  format=self.save_format)
                img.save(os.path.join(self.save_to_dir, fname))
        mode = self.class_mode
        if mode == 'input':
            batch_y = batch_x.copy()
        elif mode == 'sparse':
            batch_y = self.classes[index_array]
        elif mode == 'binary':
            batch_y = self.classes[index_array].astype(self.dtype)
        elif mode == 'categorical':
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, label in enumerate(self.classes[index_array]):
                batch_y[i, label] = 1.
        elif mode == 'raw':
            batch_y = self._raw_labels[index_array]
        else:
            return batch_x
        return batch_x, batch_y


def _split_range(validation_split, subset):
    if subset is None or not validation_split:
        return None
    if subset == 'validation':
        return (0, validation_split)
    if subset == 'training':
        return (validation_split, 1)
    raise ValueError('Invalid subset name: %s; expected "training" or "validation"' % (subset,))


class DirectoryIterator(_FilesIterator):
    """DirectoryIterator(directory, image_data_generator, target_size=(256, 256), color_mode='rgb',
    classes=None, class_mode='categorical', batch_size=32, shuffle=True, seed=None,
    data_format=None, save_to_dir=None, save_prefix='', save_format='png', follow_links=False,
    subset=None, interpolation='nearest', dtype=None)

    Images from `directory/<class name>/...` (one sub-folder per class, sorted; files with the
    white-listed extensions, sorted). Needs Pillow.
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode='rgb', classes=None,
                 class_mode='categorical', batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix='', save_format='png', follow_links=False, subset=None,
                 interpolation='nearest', dtype=None):
        _pil_image()
        self._setup_images(image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                           save_format, interpolation, dtype)
        if class_mode not in self.allowed_class_modes:
            raise ValueError('Invalid class_mode: %s; expected one of "categorical", "binary", "sparse", '
                             '"input" or None.' % (class_mode,))
        self.directory = directory
        self.classes_list = classes
        self.class_mode = class_mode
        split = _split_range(getattr(image_data_generator, '_validation_split', 0), subset)
        self.split = split
        self.subset = subset
        if not classes:
            classes = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        filenames, labels = [], []
        for name in classes:
            class_dir = os.path.join(directory, name)
            files = []
            for root, _, fnames in sorted(os.walk(class_dir, followlinks=follow_links), key=lambda t: t[0]):
                for fname in sorted(fnames):
                    if fname.lower().endswith(tuple('.' + e for e in self.white_list_formats)):
                        files.append(os.path.relpath(os.path.join(root, fname), directory))
            if split:
                n = len(files)
                files = files[int(split[0] * n):int(split[1] * n)]
            filenames.extend(files)
            labels.extend([self.class_indices[name]] * len(files))
        self.filenames = filenames
        self.classes = np.array(labels, dtype='int32')
        self.samples = len(filenames)
        self.filepaths = [os.path.join(directory, f) for f in filenames]
        print('Found %d images belonging to %d classes.' % (self.samples, self.num_classes))
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self.classes


class DataFrameIterator(_FilesIterator):
    """DataFrameIterator(dataframe, directory=None, image_data_generator=None, x_col='filename',
    y_col='class', weight_col=None, target_size=(256, 256), color_mode='rgb', classes=None,
    class_mode='categorical', batch_size=32, shuffle=True, seed=None, data_format=None,
    save_to_dir=None, save_prefix='', save_format='png', subset=None, interpolation='nearest',
    dtype=None, validate_filenames=True)

    Images named by `dataframe[x_col]` (relative to `directory` unless absolute), labels from
    `dataframe[y_col]`. class_mode: 'categorical' | 'binary' | 'sparse' (class names, a list of
    names per row allowed for 'categorical'), 'raw' (the y_col values), 'input' or None.
    Works with a pandas DataFrame or a dict of columns. Needs Pillow.
    """

    allowed_class_modes = {'binary', 'categorical', 'input', 'raw', 'sparse', None}

    def __init__(self, dataframe, directory=None, image_data_generator=None, x_col='filename', y_col='class',
                 weight_col=None, target_size=(256, 256), color_mode='rgb', classes=None, class_mode='categorical',
                 batch_size=32, shuffle=True, seed=None, data_format=None, save_to_dir=None, save_prefix='',
                 save_format='png', subset=None, interpolation='nearest', dtype=None, validate_filenames=True):
        _pil_image()
        self._setup_images(image_data_generator, target_size, color_mode, data_format, save_to_dir, save_prefix,
                           save_format, interpolation, dtype)
        if class_mode not in self.allowed_class_modes:
            raise ValueError('Invalid class_mode: {}; expected one of: {}'.format(
                class_mode, self.allowed_class_modes))
        if weight_col is not None:
            raise NotImplementedError('keraslite DataFrameIterator: weight_col is not supported')
        self.class_mode = class_mode
        self.directory = directory or ''
        filenames = [str(f) for f in list(dataframe[x_col])]
        ys = list(dataframe[y_col]) if class_mode is not None and class_mode != 'input' else [None] * len(filenames)
        if validate_filenames:
            keep = [i for i, f in enumerate(filenames)
                    if f.lower().endswith(tuple('.' + e for e in self.white_list_formats))
                    and os.path.isfile(os.path.join(self.directory, f))]
            filenames = [filenames[i] for i in keep]
            ys = [ys[i] for i in keep]
        split = _split_range(getattr(image_data_generator, '_validation_split', 0), subset)
        if split:
            n = len(filenames)
            part = slice(int(split[0] * n), int(split[1] * n))
            filenames, ys = filenames[part], ys[part]
        self.filenames = filenames
        self.filepaths = [os.path.join(self.directory, f) for f in filenames]
        self.samples = len(filenames)
        if class_mode in ('categorical', 'binary', 'sparse'):
            if not classes:
                names = set()
                for v in ys:
                    names.update(v if isinstance(v, (list, tuple)) else [v])
                classes = sorted(names)
            self.class_indices = dict(zip(classes, range(len(classes))))
            if class_mode == 'categorical' and any(isinstance(v, (list, tuple)) for v in ys):
                self._multi = [[self.class_indices[c] for c in (v if isinstance(v, (list, tuple)) else [v])]
                               for v in ys]
                self.classes = np.array([m[0] if m else -1 for m in self._multi])
            else:
                self._multi = None
                self.classes = np.array([self.class_indices[v] for v in ys], dtype='int32')
            self.num_classes = len(classes)
            print('Found %d validated image filenames belonging to %d classes.' % (self.samples, self.num_classes))
        else:
            self._multi = None
            self.class_indices = {}
            self.classes = None
            self._raw_labels = np.asarray(ys) if class_mode == 'raw' else None
            print('Found %d validated image filenames.' % self.samples)
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        out = super()._get_batches_of_transformed_samples(index_array)
        if self._multi is not None:
            batch_x = out[0]
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                batch_y[i, self._multi[j]] = 1.
            return batch_x, batch_y
        return out

    @property
    def labels(self):
        return self.classes


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

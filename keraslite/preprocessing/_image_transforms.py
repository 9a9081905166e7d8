"""Array-level image transforms (affine, channel and brightness shifts, random augmentations) and
image files (load_img, save_img, img_to_array, array_to_img), for keraslite.preprocessing.image,
which documents their behaviour and exports them."""
from __future__ import annotations

import os
import re
import warnings

import numpy as np

from ..backend import config as _config


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

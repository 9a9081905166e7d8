"""ImageNet helpers shared by the applications (`keras.applications.imagenet_utils`):
`preprocess_input` (caffe / tf / torch modes), `decode_predictions` and the input-shape rules."""
from __future__ import annotations

import json
import warnings

import numpy as np

from .. import backend as K

CLASS_INDEX = None
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

# ImageNet statistics of the three preprocessing conventions (facts from Keras 2)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_MODES = ("caffe", "tf", "torch")


def _channel_slices(ndim: int, data_format: str):
    """Index expressions selecting channel c of a 3-D or 4-D image batch."""
    if data_format == "channels_first":
        lead = (slice(None),) if ndim == 4 else ()
        return lambda c: lead + (c,)
    return lambda c: (Ellipsis, c)


def _preprocess_numpy(x: np.ndarray, data_format: str, mode: str) -> np.ndarray:
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(K.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        if data_format == "channels_first":
            x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
        else:
            x = x[..., ::-1]
        mean, std = _CAFFE_MEAN_BGR, None
    at = _channel_slices(x.ndim, data_format)
    for c in range(3):
        x[at(c)] -= mean[c]
        if std is not None:
            x[at(c)] /= std[c]
    return x


def _preprocess_symbolic(x, data_format: str, mode: str):
    if mode == "tf":
        return x / 127.5 - 1.0
    channel_axis = (1 if K.ndim(x) == 4 else 0) if data_format == "channels_first" else K.ndim(x) - 1
    shape = [1] * K.ndim(x)
    shape[channel_axis] = 3
    if mode == "torch":
        mean = np.reshape(np.array(_TORCH_MEAN, K.floatx()), shape)
        std = np.reshape(np.array(_TORCH_STD, K.floatx()), shape)
        return (x / 255.0 - K.constant(mean)) / K.constant(std)
    x = K.reverse(x, channel_axis)
    mean = np.reshape(np.array(_CAFFE_MEAN_BGR, K.floatx()), shape)
    return x - K.constant(mean)


def preprocess_input(x, data_format=None, mode: str = "caffe", **kwargs):
    """preprocess_input(x, data_format=None, mode='caffe'): an image batch (3-D or 4-D NumPy
    array or symbolic tensor) prepared for an ImageNet model.

    - caffe: RGB to BGR, then the ImageNet mean pixel subtracted per channel (no scaling).
    - tf: scaled to [-1, 1].
    - torch: scaled to [0, 1], then normalised with the ImageNet mean and std per channel.

    A float NumPy array is overwritten in place, as in Keras (pass `np.copy(x)` to keep it);
    integer arrays are converted to floatx first.
    """
    if kwargs:
        raise TypeError(f"preprocess_input: invalid keyword argument(s) {sorted(kwargs)}")
    if data_format is None:
        data_format = K.image_data_format()
    if data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Unknown data_format " + str(data_format))
    if mode not in _MODES:
        raise ValueError(f"preprocess_input: `mode` must be one of {_MODES}, got {mode!r}")
    if isinstance(x, np.ndarray):
        if x.ndim not in (3, 4):
            raise ValueError(f"preprocess_input expects a 3-D image or a 4-D batch of images, got an array of "
                             f"shape {x.shape}")
        channels = x.shape[-1] if data_format == "channels_last" else x.shape[0 if x.ndim == 3 else 1]
        if mode != "tf" and channels != 3:
            raise ValueError(f"preprocess_input(mode={mode!r}) needs 3 colour channels ({data_format}); got an "
                             f"array of shape {x.shape}")
        return _preprocess_numpy(x, data_format, mode)
    if isinstance(x, (list, tuple)) or np.isscalar(x):
        raise TypeError(f"preprocess_input expects a NumPy array or a symbolic tensor, got {type(x).__name__}")
    return _preprocess_symbolic(x, data_format, mode)


def _class_index() -> dict:
    global CLASS_INDEX
    if CLASS_INDEX is None:
        from ..utils.data_utils import get_file
        fpath = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                         file_hash=CLASS_INDEX_HASH)
        with open(fpath) as f:
            index = json.load(f)
        if not isinstance(index, dict) or any(str(i) not in index for i in range(1000)):
            raise ValueError(f"decode_predictions: {fpath} is not an ImageNet class index (a JSON object mapping "
                             "'0'..'999' to [class_name, description])")
        CLASS_INDEX = index
    return CLASS_INDEX


def decode_predictions(preds, top: int = 5, **kwargs) -> list:
    """decode_predictions(preds, top=5): for each row of a (samples, 1000) batch of ImageNet
    predictions, the `top` best `(class_name, class_description, score)` tuples, best first.

    The class index is `imagenet_class_index.json`, fetched once through `get_file` into
    `~/.keras/models`."""
    if kwargs:
        raise TypeError(f"decode_predictions: invalid keyword argument(s) {sorted(kwargs)}")
    shape = np.shape(preds)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         "(samples, 1000)). Found array with shape: " + str(shape))
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"decode_predictions: `top` must be a positive integer, got {top!r}")
    preds = np.asarray(preds)
    index = _class_index()
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def _obtain_input_shape(input_shape, default_size: int, min_size: int, data_format: str, require_flatten: bool,
                        weights=None) -> tuple:
    """The model's input shape (no batch axis): `input_shape` checked against Keras 2's rules
    (3 channels for ImageNet weights, at least min_size x min_size, static when flattened), or
    the default one when None."""
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))) for d in input_shape):
            raise ValueError(f"`input_shape` must be a tuple of three integers (or None); got {input_shape!r}")
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if data_format == "channels_first" else input_shape[-1]
        if channels not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an input_shape "
                          "with " + str(channels) + " input channels.")
        default_shape = ((channels, default_size, default_size) if data_format == "channels_first"
                         else (default_size, default_size, channels))
    else:
        default_shape = ((3, default_size, default_size) if data_format == "channels_first"
                         else (default_size, default_size, 3))
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, `input_shape` should "
                             "be " + str(default_shape) + ".")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if data_format == "channels_first":
            channels, rows, cols = input_shape
        else:
            rows, cols, channels = input_shape
        if channels != 3 and weights == "imagenet":
            raise ValueError("The input must have 3 channels; got `input_shape=" + str(input_shape) + "`")
        if (rows is not None and rows < min_size) or (cols is not None and cols < min_size):
            raise ValueError("Input size must be at least " + str(min_size) + "x" + str(min_size) +
                             "; got `input_shape=" + str(input_shape) + "`")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if data_format == "channels_first" else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static `input_shape`. Got `input_shape=" +
                         str(input_shape) + "`")
    return input_shape


def correct_pad(inputs, kernel_size) -> tuple:
    """((top, bottom), (left, right)) zero padding that makes a stride-2 'valid' convolution of
    `inputs` match TensorFlow's 'same' padding."""
    img_dim = 2 if K.image_data_format() == "channels_first" else 1
    input_size = K.int_shape(inputs)[img_dim:img_dim + 2]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = tuple(1 if size is None else 1 - size % 2 for size in input_size)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))

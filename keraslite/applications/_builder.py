"""What every application constructor does around its architecture: argument checks, the image
input, the optional pooling head, the Model, and loading ImageNet weights or a weights file."""
from __future__ import annotations

import numbers
import os
import warnings

from .. import backend as K
from .imagenet_utils import _obtain_input_shape

# the GitHub releases Keras 2 fetches most ImageNet weight files from (a version folder each)
RELEASES = "https://github.com/fchollet/deep-learning-models/releases/download/"
_WEIGHTS_ERROR = ("The `weights` argument should be either `None` (random initialization), `imagenet` "
                  "(pre-training on ImageNet), or the path to the weights file to be loaded.")


def check_arguments(weights, include_top, classes, pooling, model_name: str) -> None:
    """Keras 2's checks on weights/classes, plus clear errors for arguments Keras would only
    trip over later (a non-integer `classes`, an unknown `pooling`)."""
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if weights is not None and not isinstance(weights, str):
        raise ValueError(f"{model_name}: {_WEIGHTS_ERROR} Got {weights!r}.")
    if weights not in (None, "imagenet") and not os.path.exists(weights):
        raise ValueError(f"{model_name}: {_WEIGHTS_ERROR} Got {weights!r}, which is not an existing file.")
    if isinstance(classes, bool) or not isinstance(classes, numbers.Integral) or classes < 1:
        raise ValueError(f"{model_name}: `classes` must be a positive integer, got {classes!r}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights` as `\"imagenet\"` with `include_top` as true, `classes` should be 1000")
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{model_name}: `pooling` must be None, 'avg' or 'max', got {pooling!r}")


def image_input(input_tensor, input_shape):
    """The Keras tensor the network starts from: a new Input, or `input_tensor` itself (wrapped
    in an Input when it is a plain backend tensor)."""
    from ..engine.input_layer import Input
    if input_tensor is None:
        return Input(shape=input_shape)
    if not K.is_keras_tensor(input_tensor):  # raises ValueError for non-tensors
        return Input(tensor=input_tensor, shape=input_shape)
    return input_tensor


def channel_axis() -> int:
    return 1 if K.image_data_format() == "channels_first" else -1


def pooling_head(x, pooling, avg_name=None, max_name=None):
    """include_top=False: optional global pooling of the last feature map."""
    from ..layers import GlobalAveragePooling2D, GlobalMaxPooling2D
    if pooling == "avg":
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=max_name)(x)
    return x


def make_model(input_tensor, img_input, x, name: str):
    """Model from the source inputs of `input_tensor` (so its predecessors count) or the Input."""
    from ..engine.training import Model
    from ..utils.layer_utils import get_source_inputs
    inputs = get_source_inputs(input_tensor) if input_tensor is not None else img_input
    return Model(inputs, x, name=name)


def load_weights(model, weights, fname: str, origin: str, file_hash=None) -> None:
    """weights='imagenet': fetch `origin` through get_file (cached under ~/.keras/models, checked
    against `file_hash` when Keras gives one) and load it; a path: load that file."""
    if weights == "imagenet":
        from ..utils.data_utils import get_file
        path = get_file(fname, origin, cache_subdir="models", file_hash=file_hash)
        model.load_weights(path)
    elif weights is not None:
        model.load_weights(os.fspath(weights))


def checked_image_input(input_tensor, input_shape, default_size: int, min_size: int, include_top: bool, weights):
    """The image input of a network, its shape checked (and defaulted) by _obtain_input_shape."""
    input_shape = _obtain_input_shape(input_shape, default_size=default_size, min_size=min_size,
                                      data_format=K.image_data_format(), require_flatten=include_top, weights=weights)
    return image_input(input_tensor, input_shape)


def classifier(x, include_top: bool, classes: int, pooling, dense_name="predictions", pooling_names=False):
    """include_top: global average pooling ('avg_pool') and a softmax Dense named `dense_name`;
    otherwise pooling_head (its layers named 'avg_pool' / 'max_pool' with `pooling_names`)."""
    from ..layers import Dense, GlobalAveragePooling2D
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        return Dense(classes, activation="softmax", name=dense_name)(x)
    return pooling_head(x, pooling, *(("avg_pool", "max_pool") if pooling_names else ()))


def load_keras_weights(model, weights, include_top: bool, top, notop) -> None:
    """load_weights with the (origin, file_hash) of the file with or without the top, cached
    under the origin's file name."""
    origin, file_hash = top if include_top else notop
    load_weights(model, weights, origin.rsplit("/", 1)[-1], origin, file_hash)


def spatial_size(shape, channels_first: bool):
    """(rows, cols) of a 3-D image shape."""
    return (shape[1], shape[2]) if channels_first else (shape[0], shape[1])


def imagenet_rows(rows, cols, sizes) -> int:
    """The input size whose ImageNet weights load: `rows` for a square input of one of `sizes`,
    else 224, with Keras's warning."""
    if rows == cols and rows in sizes:
        return rows
    warnings.warn(f"`input_shape` is undefined or non-square, or `rows` is not in {list(sizes)}. "
                  "Weights for input shape (224, 224) will be loaded as the default.")
    return 224


def release_files(version: str, stem: str) -> tuple:
    """The URLs of Keras's weight files `stem`.h5 (with the top) and `stem`_notop.h5 in release
    `version` of RELEASES."""
    return RELEASES + version + "/" + stem + ".h5", RELEASES + version + "/" + stem + "_notop.h5"

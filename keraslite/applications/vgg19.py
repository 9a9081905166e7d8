"""VGG19 (`keras.applications.vgg19`): the 19-layer VGG network (Simonyan & Zisserman, 2014).
Weights: Keras's own ImageNet files."""
from __future__ import annotations

from . import _builder
from .imagenet_utils import decode_predictions  # noqa: F401
from .vgg16 import build_vgg, preprocess_input  # noqa: F401

WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP = _builder.release_files("v0.1", "vgg19_weights_tf_dim_ordering_tf_kernels")
WEIGHTS_HASH = "cbe5617147190e668d6c5d5026f83318"
WEIGHTS_HASH_NO_TOP = "253f8cb515780f3b799900260a226db6"


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    """VGG19(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): the 19-layer VGG network (143,667,240 parameters with its top).

    Arguments as VGG16: include_top (the 3 fully-connected layers), weights (None, 'imagenet' or
    a weights file path), input_tensor, input_shape (only without the top; 3 channels for
    ImageNet weights, at least 32x32), pooling (None, 'avg' or 'max' without the top), classes
    (with the top and no ImageNet weights).

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    return build_vgg((2, 2, 4, 4, 4), "vgg19", include_top, weights, input_tensor, input_shape, pooling, classes,
                     ((WEIGHTS_PATH, WEIGHTS_HASH), (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASH_NO_TOP)))

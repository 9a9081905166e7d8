"""VGG16 (`keras.applications.vgg16`): Simonyan & Zisserman, "Very Deep Convolutional Networks
for Large-Scale Image Recognition" (2014). Weights: Keras's own ImageNet files."""
from __future__ import annotations

from . import _builder
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import preprocess_input as _imagenet_preprocess

WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP = _builder.release_files("v0.1", "vgg16_weights_tf_dim_ordering_tf_kernels")
WEIGHTS_HASH = "64373286793e3c8b2b4e3219cbf3544b"
WEIGHTS_HASH_NO_TOP = "6d6bbae143d832006294945121d1f1fc"


def preprocess_input(x, data_format=None, **kwargs):
    """preprocess_input(x, data_format=None): 'caffe' mode (RGB to BGR, ImageNet mean subtracted)."""
    return _imagenet_preprocess(x, data_format=data_format, mode="caffe", **kwargs)


def build_vgg(convs_per_block, name, include_top, weights, input_tensor, input_shape, pooling, classes, files):
    """The VGG network with `convs_per_block` 3x3 convolutions in each of its five blocks;
    `files`: the (origin, file_hash) of its weights with and without the top."""
    from ..layers import Conv2D, Dense, Flatten, MaxPooling2D
    _builder.check_arguments(weights, include_top, classes, pooling, name.upper())
    img_input = _builder.checked_image_input(input_tensor, input_shape, 224, 32, include_top, weights)
    x = img_input
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), start=1):
        for i in range(1, convs + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation="softmax", name="predictions")(x)
    else:
        x = _builder.pooling_head(x, pooling)
    model = _builder.make_model(input_tensor, img_input, x, name)
    _builder.load_keras_weights(model, weights, include_top, *files)
    return model


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    """VGG16(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): the 16-layer VGG network (138,357,544 parameters with its top).

    # Arguments
        include_top: whether to include the 3 fully-connected layers at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional shape tuple, only when include_top is False (otherwise
            (224, 224, 3), or (3, 224, 224) with channels_first); 3 channels for ImageNet
            weights, width and height at least 32.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    return build_vgg((2, 2, 3, 3, 3), "vgg16", include_top, weights, input_tensor, input_shape, pooling, classes,
                     ((WEIGHTS_PATH, WEIGHTS_HASH), (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASH_NO_TOP)))

"""InceptionV3 (`keras.applications.inception_v3`): Szegedy et al., "Rethinking the Inception
Architecture for Computer Vision" (2015), with Keras 2.3's layer names (mixed0..mixed10)."""
from __future__ import annotations

from . import _builder
from ._blocks import bn_axis, conv_bn, suffixed
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import preprocess_input as _imagenet_preprocess

WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP = _builder.release_files("v0.5", "inception_v3_weights_tf_dim_ordering_tf_kernels")
WEIGHTS_HASH = "9a0d58056eeedaa3f26cb7ebd46da564"
WEIGHTS_HASH_NO_TOP = "bcbd6486424b2319ff4ef7d526e38f63"


def preprocess_input(x, data_format=None, **kwargs):
    """preprocess_input(x, data_format=None): 'tf' mode (pixels scaled to [-1, 1])."""
    return _imagenet_preprocess(x, data_format=data_format, mode="tf", **kwargs)


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv2D without bias, BatchNormalization without scale, ReLU; named name_conv / name_bn /
    name when `name` is given."""
    return conv_bn(x, filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                   name=suffixed(name, "_conv"), bn_name=suffixed(name, "_bn"), act_name=name, scale=False)


def _avg_branch(x, filters):
    from ..layers import AveragePooling2D
    return conv2d_bn(AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x), filters, 1, 1)


def _block_35(x, pool_filters, name, axis):
    """The 35x35 module (mixed0-2): 1x1, 5x5, double 3x3 and pooled branches."""
    from ..layers import concatenate
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    branch3x3dbl = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
    return concatenate([branch1x1, branch5x5, branch3x3dbl, _avg_branch(x, pool_filters)], axis=axis, name=name)


def _block_17(x, mid, name, axis):
    """The 17x17 module (mixed4-7) with factorised 7x7 convolutions of width `mid`."""
    from ..layers import concatenate
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, mid, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, mid, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, mid, 1, 1)
    for filters, (rows, cols) in ((mid, (7, 1)), (mid, (1, 7)), (mid, (7, 1)), (192, (1, 7))):
        branch7x7dbl = conv2d_bn(branch7x7dbl, filters, rows, cols)
    return concatenate([branch1x1, branch7x7, branch7x7dbl, _avg_branch(x, 192)], axis=axis, name=name)


def _block_8(x, i, axis):
    """The 8x8 module (mixed9, mixed10) with split 1x3 / 3x1 branches."""
    from ..layers import concatenate
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = concatenate([conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)], axis=axis,
                            name="mixed9_" + str(i))
    branch3x3dbl = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
    branch3x3dbl = concatenate([conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)], axis=axis)
    return concatenate([branch1x1, branch3x3, branch3x3dbl, _avg_branch(x, 192)], axis=axis,
                       name="mixed" + str(9 + i))


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    """InceptionV3(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): Inception v3 (23,851,784 parameters with its top).

    # Arguments
        include_top: whether to include the fully-connected layer at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional shape tuple, only when include_top is False (otherwise
            (299, 299, 3)); 3 channels for ImageNet weights, width and height at least 75.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    from ..layers import MaxPooling2D, concatenate
    _builder.check_arguments(weights, include_top, classes, pooling, "InceptionV3")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 299, 75, include_top, weights)
    axis = bn_axis()
    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _block_35(x, 32, "mixed0", axis)
    x = _block_35(x, 64, "mixed1", axis)
    x = _block_35(x, 64, "mixed2", axis)
    # mixed3: 35x35 -> 17x17
    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = concatenate([branch3x3, branch3x3dbl, branch_pool], axis=axis, name="mixed3")
    for i, mid in enumerate((128, 160, 160, 192)):
        x = _block_17(x, mid, "mixed" + str(4 + i), axis)
    # mixed8: 17x17 -> 8x8
    branch3x3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = concatenate([branch3x3, branch7x7x3, branch_pool], axis=axis, name="mixed8")
    for i in range(2):
        x = _block_8(x, i, axis)
    x = _builder.classifier(x, include_top, classes, pooling)
    model = _builder.make_model(input_tensor, img_input, x, "inception_v3")
    _builder.load_keras_weights(model, weights, include_top, (WEIGHTS_PATH, WEIGHTS_HASH),
                                (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASH_NO_TOP))
    return model

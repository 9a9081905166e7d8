"""Xception (`keras.applications.xception`): Chollet, "Xception: Deep Learning with Depthwise
Separable Convolutions" (2017), with Keras 2.3's layer names (block1_conv1 .. block14_sepconv2)."""
from __future__ import annotations

from . import _builder
from ._blocks import conv_bn
from .imagenet_utils import decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)

TF_WEIGHTS_PATH, TF_WEIGHTS_PATH_NO_TOP = _builder.release_files("v0.4", "xception_weights_tf_dim_ordering_tf_kernels")
WEIGHTS_HASH = "0a58e3b7378bc2990ea3b43d5981f1f6"
WEIGHTS_HASH_NO_TOP = "b0042744bf5b25fce3cb969f33bebb97"


def _sepconv_bn(x, filters, name, axis):
    from ..layers import BatchNormalization, SeparableConv2D
    x = SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(axis=axis, name=name + "_bn")(x)


def _projection(x, filters, axis):
    """The strided 1x1 shortcut of the entry/exit blocks (unnamed, as in Keras)."""
    return conv_bn(x, filters, (1, 1), strides=(2, 2), padding="same", use_bias=False, activation=None, axis=axis)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    """Xception(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): the Xception network (22,910,480 parameters with its top).

    # Arguments
        include_top: whether to include the fully-connected layer at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional shape tuple, only when include_top is False (otherwise
            (299, 299, 3)); 3 channels for ImageNet weights, width and height at least 71.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    from ..layers import Activation, MaxPooling2D, add
    _builder.check_arguments(weights, include_top, classes, pooling, "Xception")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 299, 71, include_top, weights)
    axis = _builder.channel_axis()
    # entry flow
    x = img_input
    for i, (filters, strides) in enumerate(((32, (2, 2)), (64, (1, 1))), start=1):
        x = conv_bn(x, filters, (3, 3), strides=strides, use_bias=False, name=f"block1_conv{i}",
                    bn_name=f"block1_conv{i}_bn", act_name=f"block1_conv{i}_act", axis=axis)
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = _projection(x, filters, axis)
        if block != 2:  # block 2 starts right after block1_conv2_act
            x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv1", axis)
        x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
        x = _sepconv_bn(x, filters, f"block{block}_sepconv2", axis)
        x = MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(x)
        x = add([x, residual])
    # middle flow
    for i in range(8):
        residual = x
        prefix = "block" + str(i + 5)
        for j in (1, 2, 3):
            x = Activation("relu", name=f"{prefix}_sepconv{j}_act")(x)
            x = _sepconv_bn(x, 728, f"{prefix}_sepconv{j}", axis)
        x = add([x, residual])
    # exit flow
    residual = _projection(x, 1024, axis)
    x = Activation("relu", name="block13_sepconv1_act")(x)
    x = _sepconv_bn(x, 728, "block13_sepconv1", axis)
    x = Activation("relu", name="block13_sepconv2_act")(x)
    x = _sepconv_bn(x, 1024, "block13_sepconv2", axis)
    x = MaxPooling2D((3, 3), strides=(2, 2), padding="same", name="block13_pool")(x)
    x = add([x, residual])
    x = _sepconv_bn(x, 1536, "block14_sepconv1", axis)
    x = Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2", axis)
    x = Activation("relu", name="block14_sepconv2_act")(x)
    x = _builder.classifier(x, include_top, classes, pooling)
    model = _builder.make_model(input_tensor, img_input, x, "xception")
    _builder.load_keras_weights(model, weights, include_top, (TF_WEIGHTS_PATH, WEIGHTS_HASH),
                                (TF_WEIGHTS_PATH_NO_TOP, WEIGHTS_HASH_NO_TOP))
    return model

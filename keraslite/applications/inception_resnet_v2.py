"""InceptionResNetV2 (`keras.applications.inception_resnet_v2`): Szegedy et al.,
"Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning" (2016),
with Keras 2.3's layer names (mixed_5b, block35_1 .. block8_10, conv_7b)."""
from __future__ import annotations

from . import _builder
from ._blocks import bn_axis, conv_bn, suffixed
from .imagenet_utils import decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)

BASE_WEIGHT_URL = _builder.RELEASES + "v0.7/"
WEIGHTS_HASH = "e693bd0210a403b3192acc6073ad2e96"
WEIGHTS_HASH_NO_TOP = "d19885ff4a710c122648d3b5c3b684e4"


def scaled_residual(inputs, scale):
    """inputs[0] + scale * inputs[1]: the residual sum of an Inception-ResNet block (a module-level
    function so a Lambda wrapping it can be rebuilt from a config)."""
    return inputs[0] + inputs[1] * scale


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False, name=None):
    """Conv2D, then (without bias) BatchNormalization without scale, then the activation;
    named name / name_bn / name_ac when `name` is given."""
    return conv_bn(x, filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name,
                   bn_name=suffixed(name, "_bn"), act_name=suffixed(name, "_ac"), activation=activation, scale=False,
                   batch_norm=not use_bias)


def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
    """One residual Inception block: 'block35' (35x35), 'block17' (17x17) or 'block8' (8x8)."""
    from .. import backend as K
    from ..layers import Activation, Concatenate, Lambda
    if block_type == "block35":
        branches = [conv2d_bn(x, 32, 1),
                    conv2d_bn(conv2d_bn(x, 32, 1), 32, 3),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 32, 1), 48, 3), 64, 3)]
    elif block_type == "block17":
        branches = [conv2d_bn(x, 192, 1),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 128, 1), 160, [1, 7]), 192, [7, 1])]
    elif block_type == "block8":
        branches = [conv2d_bn(x, 192, 1),
                    conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1), 224, [1, 3]), 256, [3, 1])]
    else:
        raise ValueError('Unknown Inception-ResNet block type. Expects "block35", "block17" or "block8", but got: '
                         + str(block_type))
    block_name = block_type + "_" + str(block_idx)
    axis = bn_axis()
    mixed = Concatenate(axis=axis, name=block_name + "_mixed")(branches)
    up = conv2d_bn(mixed, K.int_shape(x)[axis], 1, activation=None, use_bias=True, name=block_name + "_conv")
    x = Lambda(scaled_residual, output_shape=K.int_shape(x)[1:], arguments={"scale": scale}, name=block_name)([x, up])
    if activation is not None:
        x = Activation(activation, name=block_name + "_ac")(x)
    return x


def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                      classes=1000):
    """InceptionResNetV2(include_top=True, weights='imagenet', input_tensor=None,
    input_shape=None, pooling=None, classes=1000): Inception-ResNet v2 (55,873,736 parameters
    with its top).

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
    from ..layers import AveragePooling2D, Concatenate, MaxPooling2D
    _builder.check_arguments(weights, include_top, classes, pooling, "InceptionResNetV2")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 299, 75, include_top, weights)
    axis = bn_axis()
    # stem
    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = MaxPooling2D(3, strides=2)(x)
    # mixed 5b (Inception-A)
    branch_0 = conv2d_bn(x, 96, 1)
    branch_1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    branch_2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3)
    branch_pool = conv2d_bn(AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)
    x = Concatenate(axis=axis, name="mixed_5b")([branch_0, branch_1, branch_2, branch_pool])
    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)
    # mixed 6a (Reduction-A)
    branch_0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")
    branch_1 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2, padding="valid")
    branch_pool = MaxPooling2D(3, strides=2, padding="valid")(x)
    x = Concatenate(axis=axis, name="mixed_6a")([branch_0, branch_1, branch_pool])
    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)
    # mixed 7a (Reduction-B)
    branch_0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")
    branch_1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    branch_2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2, padding="valid")
    branch_pool = MaxPooling2D(3, strides=2, padding="valid")(x)
    x = Concatenate(axis=axis, name="mixed_7a")([branch_0, branch_1, branch_2, branch_pool])
    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)
    x = conv2d_bn(x, 1536, 1, name="conv_7b")
    x = _builder.classifier(x, include_top, classes, pooling)
    model = _builder.make_model(input_tensor, img_input, x, "inception_resnet_v2")
    stem = BASE_WEIGHT_URL + "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels"
    _builder.load_keras_weights(model, weights, include_top, (stem + ".h5", WEIGHTS_HASH),
                                (stem + "_notop.h5", WEIGHTS_HASH_NO_TOP))
    return model

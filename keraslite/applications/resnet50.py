"""ResNet50 (`keras.applications.resnet50`): He et al., "Deep Residual Learning for Image
Recognition" (2015), with Keras 2.3's layer names (res2a_branch2a, bn_conv1, fc1000, ...)."""
from __future__ import annotations

import warnings

from . import _builder
from ._blocks import conv_bn
from .imagenet_utils import decode_predictions  # noqa: F401
from .vgg16 import preprocess_input  # noqa: F401  ('caffe' mode, as in Keras)

WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP = _builder.release_files("v0.2", "resnet50_weights_tf_dim_ordering_tf_kernels")
WEIGHTS_HASH = "a7b3fe01876f51b976af0dea6bc144eb"
WEIGHTS_HASH_NO_TOP = "a268eb855778b3df3c7506639542a6af"


def _bottleneck(input_tensor, kernel_size, filters, stage, block, strides=None):
    """1x1 / kxk / 1x1 bottleneck; with `strides` the shortcut is a projection (conv_block),
    without it the identity (identity_block)."""
    from ..layers import Activation, add
    axis = _builder.channel_axis()

    def unit(x, filters, size, branch, activation="relu", strides=(1, 1), padding="valid"):
        return conv_bn(x, filters, size, strides=strides, padding=padding, name=f"res{stage}{block}_branch{branch}",
                       bn_name=f"bn{stage}{block}_branch{branch}", activation=activation, axis=axis,
                       kernel_initializer="he_normal")
    filters1, filters2, filters3 = filters
    x = unit(input_tensor, filters1, (1, 1), "2a", strides=strides if strides is not None else (1, 1))
    x = unit(x, filters2, kernel_size, "2b", padding="same")
    x = unit(x, filters3, (1, 1), "2c", activation=None)
    if strides is None:
        shortcut = input_tensor
    else:
        shortcut = unit(input_tensor, filters3, (1, 1), "1", activation=None, strides=strides)
    x = add([x, shortcut])
    return Activation("relu")(x)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    """ResNet50(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): the 50-layer residual network (25,636,712 parameters with its top).

    # Arguments
        include_top: whether to include the fully-connected layer at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional shape tuple, only when include_top is False (otherwise
            (224, 224, 3)); 3 channels for ImageNet weights, width and height at least 32.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    from ..layers import MaxPooling2D, ZeroPadding2D
    _builder.check_arguments(weights, include_top, classes, pooling, "ResNet50")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 224, 32, include_top, weights)
    x = ZeroPadding2D(padding=(3, 3), name="conv1_pad")(img_input)
    x = conv_bn(x, 64, (7, 7), strides=(2, 2), padding="valid", kernel_initializer="he_normal", name="conv1",
                bn_name="bn_conv1", axis=_builder.channel_axis())
    x = ZeroPadding2D(padding=(1, 1), name="pool1_pad")(x)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    stages = ((2, (64, 64, 256), "abc"), (3, (128, 128, 512), "abcd"), (4, (256, 256, 1024), "abcdef"),
              (5, (512, 512, 2048), "abc"))
    for stage, filters, blocks in stages:
        first_strides = (1, 1) if stage == 2 else (2, 2)
        x = _bottleneck(x, 3, filters, stage, blocks[0], strides=first_strides)
        for block in blocks[1:]:
            x = _bottleneck(x, 3, filters, stage, block)
    if not include_top and pooling is None:
        warnings.warn("The output shape of `ResNet50(include_top=False)` has been changed since Keras 2.2.0.")
    x = _builder.classifier(x, include_top, classes, pooling, dense_name="fc1000")
    model = _builder.make_model(input_tensor, img_input, x, "resnet50")
    _builder.load_keras_weights(model, weights, include_top, (WEIGHTS_PATH, WEIGHTS_HASH),
                                (WEIGHTS_PATH_NO_TOP, WEIGHTS_HASH_NO_TOP))
    return model

"""MobileNetV2 (`keras.applications.mobilenet_v2`): Sandler et al., "MobileNetV2: Inverted
Residuals and Linear Bottlenecks" (2018), with Keras 2.3's layer names (Conv1, expanded_conv_*,
block_1_expand .. block_16_project_BN, Conv_1, Logits) and weight files."""
from __future__ import annotations

from . import _builder
from .imagenet_utils import _obtain_input_shape, correct_pad, decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)

BASE_WEIGHT_PATH = "https://github.com/JonathanCMitchell/mobilenet_v2_keras/releases/download/v1.1/"
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
_SIZES = (96, 128, 160, 192, 224)


def _make_divisible(v, divisor, min_value=None):
    """v rounded to the nearest multiple of `divisor`, never more than 10% below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _bn(x, name):
    from ..layers import BatchNormalization
    return BatchNormalization(axis=_builder.channel_axis(), epsilon=1e-3, momentum=0.999, name=name)(x)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1), depthwise 3x3, linear project (1x1); a residual Add when shapes allow."""
    from .. import backend as K
    from ..layers import Add, Conv2D, DepthwiseConv2D, ReLU, ZeroPadding2D
    in_channels = K.int_shape(inputs)[_builder.channel_axis()]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = "block_{}_".format(block_id)
    if block_id:
        x = Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                   name=prefix + "expand")(x)
        x = _bn(x, prefix + "expand_BN")
        x = ReLU(6.0, name=prefix + "expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = ZeroPadding2D(padding=correct_pad(x, 3), name=prefix + "pad")(x)
    x = DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                        padding="same" if stride == 1 else "valid", name=prefix + "depthwise")(x)
    x = _bn(x, prefix + "depthwise_BN")
    x = ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
               name=prefix + "project")(x)
    x = _bn(x, prefix + "project_BN")
    if in_channels == pointwise_filters and stride == 1:
        return Add(name=prefix + "add")([inputs, x])
    return x


def _default_size(input_shape, input_tensor, channels_first):
    """The square size the ImageNet weights are chosen by: from input_shape, else from a Keras
    input_tensor, else 224."""
    from .. import backend as K
    if input_shape is not None and len(input_shape) == 3:
        rows, cols = _builder.spatial_size(input_shape, channels_first)
    elif input_shape is None and input_tensor is not None and K.is_keras_tensor(input_tensor):
        shape = K.int_shape(input_tensor)
        rows, cols = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    else:
        return 224
    return rows if rows == cols and rows in _SIZES else 224


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000):
    """MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights='imagenet',
    input_tensor=None, pooling=None, classes=1000): MobileNet v2 (3,538,984 parameters at
    alpha=1 with its top).

    # Arguments
        input_shape: optional shape tuple (3 channels for ImageNet weights, at least 32x32);
            ImageNet weights exist for square 96, 128, 160, 192 and 224 inputs.
        alpha: width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4).
        include_top: whether to include the classifier at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input; its size must agree with
            `input_shape` when both are given.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `alpha`, `classes`, `pooling`, input tensor or input shape.
    """
    from .. import backend as K
    from ..layers import Conv2D, Dense, GlobalAveragePooling2D, ReLU, ZeroPadding2D
    _builder.check_arguments(weights, include_top, classes, pooling, "MobileNetV2")
    channels_first = K.image_data_format() == "channels_first"
    if input_tensor is not None and input_shape is not None:
        if not K.is_keras_tensor(input_tensor):  # is_keras_tensor raises ValueError for non-tensors
            raise ValueError(f"input_tensor specified: {input_tensor} is not a keras tensor")
        spatial = slice(2, 4) if channels_first else slice(1, 3)
        if len(input_shape) != 3 or K.int_shape(input_tensor)[spatial] != tuple(input_shape)[
                slice(1, 3) if channels_first else slice(0, 2)]:
            raise ValueError(f"input_shape: {input_shape} and input_tensor: {input_tensor} do not meet the same "
                             "shape requirements")
    default_size = _default_size(input_shape, input_tensor, channels_first)
    input_shape = _obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                      data_format=K.image_data_format(), require_flatten=include_top,
                                      weights=weights)
    rows, cols = _builder.spatial_size(input_shape, channels_first)
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of `0.35`, `0.50`, `0.75`, "
                             "`1.0`, `1.3` or `1.4` only.")
        rows = _builder.imagenet_rows(rows, cols, _SIZES)
    img_input = _builder.image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=correct_pad(img_input, 3), name="Conv1_pad")(img_input)
    x = Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="valid", use_bias=False,
               name="Conv1")(x)
    x = _bn(x, "bn_Conv1")
    x = ReLU(6.0, name="Conv1_relu")(x)
    plan = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
            (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
            (320, 1, 6))
    for block_id, (filters, stride, expansion) in enumerate(plan):
        x = _inverted_res_block(x, filters=filters, alpha=alpha, stride=stride, expansion=expansion,
                                block_id=block_id)
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _bn(x, "Conv_1_bn")
    x = ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = GlobalAveragePooling2D()(x)
        x = Dense(classes, activation="softmax", use_bias=True, name="Logits")(x)
    else:
        x = _builder.pooling_head(x, pooling)
    model = _builder.make_model(input_tensor, img_input, x, "mobilenetv2_%0.2f_%s" % (alpha, rows))
    fname = ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_" + str(alpha) + "_" + str(rows)
             + ("" if include_top else "_no_top") + ".h5")
    # Keras gives no hash for the MobileNetV2 files
    _builder.load_weights(model, weights, fname, BASE_WEIGHT_PATH + fname, None)
    return model

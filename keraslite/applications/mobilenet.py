"""MobileNet (`keras.applications.mobilenet`): Howard et al., "MobileNets: Efficient
Convolutional Neural Networks for Mobile Vision Applications" (2017), with Keras 2.3's layer
names (conv1, conv_dw_1 .. conv_pw_13, conv_preds) and weight files."""
from __future__ import annotations

from . import _builder
from .imagenet_utils import _obtain_input_shape, decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)

BASE_WEIGHT_PATH = _builder.RELEASES + "v0.6/"
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
_SIZES = (128, 160, 192, 224)


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    from ..layers import BatchNormalization, Conv2D, ReLU, ZeroPadding2D
    filters = int(filters * alpha)
    x = ZeroPadding2D(padding=((0, 1), (0, 1)), name="conv1_pad")(inputs)
    x = Conv2D(filters, kernel, padding="valid", use_bias=False, strides=strides, name="conv1")(x)
    x = BatchNormalization(axis=_builder.channel_axis(), name="conv1_bn")(x)
    return ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 (strided ones padded bottom/right first), BN, ReLU6, then pointwise 1x1,
    BN, ReLU6."""
    from ..layers import BatchNormalization, Conv2D, DepthwiseConv2D, ReLU, ZeroPadding2D
    axis = _builder.channel_axis()
    pointwise_conv_filters = int(pointwise_conv_filters * alpha)
    x = inputs if strides == (1, 1) else ZeroPadding2D(((0, 1), (0, 1)), name="conv_pad_%d" % block_id)(inputs)
    x = DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid", depth_multiplier=depth_multiplier,
                        strides=strides, use_bias=False, name="conv_dw_%d" % block_id)(x)
    x = BatchNormalization(axis=axis, name="conv_dw_%d_bn" % block_id)(x)
    x = ReLU(6.0, name="conv_dw_%d_relu" % block_id)(x)
    x = Conv2D(pointwise_conv_filters, (1, 1), padding="same", use_bias=False, strides=(1, 1),
               name="conv_pw_%d" % block_id)(x)
    x = BatchNormalization(axis=axis, name="conv_pw_%d_bn" % block_id)(x)
    return ReLU(6.0, name="conv_pw_%d_relu" % block_id)(x)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000):
    """MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3,
    include_top=True, weights='imagenet', input_tensor=None, pooling=None, classes=1000):
    MobileNet v1 (4,253,864 parameters at alpha=1 with its top).

    # Arguments
        input_shape: optional shape tuple, only when include_top is False (otherwise (224, 224, 3),
            or 128/160/192 square); 3 channels for ImageNet weights, at least 32x32.
        alpha: width multiplier (ImageNet weights exist for 0.25, 0.50, 0.75 and 1.0).
        depth_multiplier: depthwise channel multiplier (1 for ImageNet weights).
        dropout: dropout rate before the classifier.
        include_top: whether to include the classifier at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `weights`, `alpha`, `depth_multiplier`, `classes`, `pooling` or input
            shape.
    """
    from .. import backend as K
    from ..layers import Activation, Conv2D, Dropout, GlobalAveragePooling2D, Reshape
    _builder.check_arguments(weights, include_top, classes, pooling, "MobileNet")
    channels_first = K.image_data_format() == "channels_first"
    default_size = 224
    if input_shape is not None and len(input_shape) == 3:
        rows, cols = _builder.spatial_size(input_shape, channels_first)
        if rows == cols and rows in _SIZES:
            default_size = rows
    input_shape = _obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                      data_format=K.image_data_format(), require_flatten=include_top,
                                      weights=weights)
    rows, cols = _builder.spatial_size(input_shape, channels_first)
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be 1")
        if alpha not in _ALPHA_TEXT:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of`0.25`, `0.50`, `0.75` or "
                             "`1.0` only.")
        rows = _builder.imagenet_rows(rows, cols, _SIZES)
    img_input = _builder.image_input(input_tensor, input_shape)
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    plan = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
            (512, 1), (1024, 2), (1024, 1))
    for block_id, (filters, stride) in enumerate(plan, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)
    if include_top:
        shape = (int(1024 * alpha), 1, 1) if channels_first else (1, 1, int(1024 * alpha))
        x = GlobalAveragePooling2D()(x)
        x = Reshape(shape, name="reshape_1")(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        x = Activation("softmax", name="act_softmax")(x)
    else:
        x = _builder.pooling_head(x, pooling)
    model = _builder.make_model(input_tensor, img_input, x, "mobilenet_%0.2f_%s" % (alpha, rows))
    fname = None
    if weights == "imagenet":
        fname = "mobilenet_%s_%d_tf%s.h5" % (_ALPHA_TEXT[alpha], rows, "" if include_top else "_no_top")
    # Keras gives no hash for the MobileNet files
    _builder.load_weights(model, weights, fname, BASE_WEIGHT_PATH + str(fname), None)
    return model

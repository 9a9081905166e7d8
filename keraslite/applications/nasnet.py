"""NASNetMobile / NASNetLarge (`keras.applications.nasnet`): Zoph et al., "Learning Transferable
Architectures for Scalable Image Recognition" (2017), NASNet-A cells with Keras 2.3's layer
names (stem_conv1, normal_conv_1_0, reduction_left1_stem_1, ...) and weight files.

The family is channels_last only: with channels_first configured, Keras (and keraslite) warn and
build a channels_last model."""
from __future__ import annotations

import warnings

from . import _builder
from .imagenet_utils import _obtain_input_shape, correct_pad, decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)

BASE_WEIGHTS_PATH = "https://github.com/titu1994/Keras-NASNet/releases/download/v1.2/"
NASNET_MOBILE_WEIGHT_PATH = BASE_WEIGHTS_PATH + "NASNet-mobile.h5"
NASNET_MOBILE_WEIGHT_PATH_NO_TOP = BASE_WEIGHTS_PATH + "NASNet-mobile-no-top.h5"
NASNET_LARGE_WEIGHT_PATH = BASE_WEIGHTS_PATH + "NASNet-large.h5"
NASNET_LARGE_WEIGHT_PATH_NO_TOP = BASE_WEIGHTS_PATH + "NASNet-large-no-top.h5"
WEIGHTS_HASHES = {  # (with top, without top), as Keras gives them
    "mobile": ("020fb642bf7360b370c678b08e0adf61", "1ed92395b5b598bdda52abe5c0dbfd63"),
    "large": ("11577c9a518f0070763c2b964a382f17", "d81d89dc07e6e56530c4e77faddd61b5"),
}
_BN = {"axis": -1, "momentum": 0.9997, "epsilon": 1e-3}


def _separable_conv_block(ip, filters, kernel_size=(3, 3), strides=(1, 1), block_id=None):
    """Two [ReLU, SeparableConv2D, BatchNormalization] stacks; the first may be strided."""
    from ..layers import Activation, BatchNormalization, SeparableConv2D, ZeroPadding2D
    x = Activation("relu")(ip)
    if strides == (2, 2):
        x = ZeroPadding2D(padding=correct_pad(x, kernel_size), name="separable_conv_1_pad_%s" % block_id)(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = SeparableConv2D(filters, kernel_size, strides=strides, name="separable_conv_1_%s" % block_id,
                        padding=conv_pad, use_bias=False, kernel_initializer="he_normal")(x)
    x = BatchNormalization(name="separable_conv_1_bn_%s" % block_id, **_BN)(x)
    x = Activation("relu")(x)
    x = SeparableConv2D(filters, kernel_size, name="separable_conv_2_%s" % block_id, padding="same", use_bias=False,
                        kernel_initializer="he_normal")(x)
    return BatchNormalization(name="separable_conv_2_bn_%s" % block_id, **_BN)(x)


def _adjust_block(p, ip, filters, block_id=None):
    """The previous cell's output `p` brought to the size and width of `ip` (halved by two offset
    1x1 paths when the size differs, projected when only the width does)."""
    from .. import backend as K
    from ..layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Cropping2D, ZeroPadding2D,
                          concatenate)
    if p is None:
        return ip
    ip_shape, p_shape = K.int_shape(ip), K.int_shape(p)
    if p_shape[-2] != ip_shape[-2]:
        p = Activation("relu", name="adjust_relu_1_%s" % block_id)(p)
        p1 = AveragePooling2D((1, 1), strides=(2, 2), padding="valid", name="adjust_avg_pool_1_%s" % block_id)(p)
        p1 = Conv2D(filters // 2, (1, 1), padding="same", use_bias=False, name="adjust_conv_1_%s" % block_id,
                    kernel_initializer="he_normal")(p1)
        p2 = ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = AveragePooling2D((1, 1), strides=(2, 2), padding="valid", name="adjust_avg_pool_2_%s" % block_id)(p2)
        p2 = Conv2D(filters // 2, (1, 1), padding="same", use_bias=False, name="adjust_conv_2_%s" % block_id,
                    kernel_initializer="he_normal")(p2)
        p = concatenate([p1, p2], axis=-1)
        p = BatchNormalization(name="adjust_bn_%s" % block_id, **_BN)(p)
    elif p_shape[-1] != filters:
        p = Activation("relu")(p)
        p = Conv2D(filters, (1, 1), strides=(1, 1), padding="same", name="adjust_conv_projection_%s" % block_id,
                   use_bias=False, kernel_initializer="he_normal")(p)
        p = BatchNormalization(name="adjust_bn_%s" % block_id, **_BN)(p)
    return p


def _squeeze(ip, filters, kind, block_id):
    """ReLU, 1x1 conv and BN at the start of a cell."""
    from ..layers import Activation, BatchNormalization, Conv2D
    h = Activation("relu")(ip)
    h = Conv2D(filters, (1, 1), strides=(1, 1), padding="same", name="%s_conv_1_%s" % (kind, block_id),
               use_bias=False, kernel_initializer="he_normal")(h)
    return BatchNormalization(name="%s_bn_1_%s" % (kind, block_id), **_BN)(h)


def _normal_a_cell(ip, p, filters, block_id=None):
    """NASNet-A normal cell (Fig. 4 of the paper); returns (output, ip)."""
    from ..layers import AveragePooling2D, add, concatenate
    p = _adjust_block(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "normal", block_id)
    x1_1 = _separable_conv_block(h, filters, kernel_size=(5, 5), block_id="normal_left1_%s" % block_id)
    x1_2 = _separable_conv_block(p, filters, block_id="normal_right1_%s" % block_id)
    x1 = add([x1_1, x1_2], name="normal_add_1_%s" % block_id)
    x2_1 = _separable_conv_block(p, filters, (5, 5), block_id="normal_left2_%s" % block_id)
    x2_2 = _separable_conv_block(p, filters, (3, 3), block_id="normal_right2_%s" % block_id)
    x2 = add([x2_1, x2_2], name="normal_add_2_%s" % block_id)
    x3 = AveragePooling2D((3, 3), strides=(1, 1), padding="same", name="normal_left3_%s" % block_id)(h)
    x3 = add([x3, p], name="normal_add_3_%s" % block_id)
    x4_1 = AveragePooling2D((3, 3), strides=(1, 1), padding="same", name="normal_left4_%s" % block_id)(p)
    x4_2 = AveragePooling2D((3, 3), strides=(1, 1), padding="same", name="normal_right4_%s" % block_id)(p)
    x4 = add([x4_1, x4_2], name="normal_add_4_%s" % block_id)
    x5 = _separable_conv_block(h, filters, block_id="normal_left5_%s" % block_id)
    x5 = add([x5, h], name="normal_add_5_%s" % block_id)
    x = concatenate([p, x1, x2, x3, x4, x5], axis=-1, name="normal_concat_%s" % block_id)
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id=None):
    """NASNet-A reduction cell (Fig. 4 of the paper); returns (output, ip)."""
    from ..layers import AveragePooling2D, MaxPooling2D, ZeroPadding2D, add, concatenate
    p = _adjust_block(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "reduction", block_id)
    h3 = ZeroPadding2D(padding=correct_pad(h, 3), name="reduction_pad_1_%s" % block_id)(h)
    x1_1 = _separable_conv_block(h, filters, (5, 5), strides=(2, 2), block_id="reduction_left1_%s" % block_id)
    x1_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id="reduction_right1_%s" % block_id)
    x1 = add([x1_1, x1_2], name="reduction_add_1_%s" % block_id)
    x2_1 = MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name="reduction_left2_%s" % block_id)(h3)
    x2_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id="reduction_right2_%s" % block_id)
    x2 = add([x2_1, x2_2], name="reduction_add_2_%s" % block_id)
    x3_1 = AveragePooling2D((3, 3), strides=(2, 2), padding="valid", name="reduction_left3_%s" % block_id)(h3)
    x3_2 = _separable_conv_block(p, filters, (5, 5), strides=(2, 2), block_id="reduction_right3_%s" % block_id)
    x3 = add([x3_1, x3_2], name="reduction_add3_%s" % block_id)
    x4 = AveragePooling2D((3, 3), strides=(1, 1), padding="same", name="reduction_left4_%s" % block_id)(x1)
    x4 = add([x2, x4])
    x5_1 = _separable_conv_block(x1, filters, (3, 3), block_id="reduction_left4_%s" % block_id)
    x5_2 = MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name="reduction_right5_%s" % block_id)(h3)
    x5 = add([x5_1, x5_2], name="reduction_add4_%s" % block_id)
    x = concatenate([x2, x3, x4, x5], axis=-1, name="reduction_concat_%s" % block_id)
    return x, ip


def NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
           filter_multiplier=2, include_top=True, weights=None, input_tensor=None, pooling=None, classes=1000,
           default_size=None):
    """NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96,
    skip_reduction=True, filter_multiplier=2, include_top=True, weights=None,
    input_tensor=None, pooling=None, classes=1000, default_size=None): a NASNet-A (N @ P)
    network with N = num_blocks and P = penultimate_filters (a multiple of
    24 * filter_multiplier ** 2). ImageNet weights exist for default_size 224 (mobile) and 331
    (large). As in Keras, input_shape defaults to (default_size, default_size, 3) even without
    the top.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling`, `penultimate_filters` or input shape.
    """
    from .. import backend as K
    from ..layers import Activation, BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D
    _builder.check_arguments(weights, include_top, classes, pooling, "NASNet")
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ValueError("When specifying the input shape of a NASNet and loading `ImageNet` weights, the "
                         "input_shape argument must be static (no None entries). Got: `input_shape=" +
                         str(input_shape) + "`.")
    if default_size is None:
        default_size = 331
    if weights == "imagenet" and default_size not in (224, 331):
        raise ValueError("ImageNet weights can only be loaded with NASNetLarge or NASNetMobile")
    if penultimate_filters % (24 * (filter_multiplier ** 2)) != 0:
        raise ValueError("For NASNet-A models, the `penultimate_filters` must be a multiple of 24 * "
                         "(`filter_multiplier` ** 2). Current value: %d" % penultimate_filters)
    old_data_format = K.image_data_format()
    if old_data_format != "channels_last":
        warnings.warn('The NASNet family of models is only available for the input data format "channels_last" '
                      '(width, height, channels). However your settings specify the default data format '
                      '"channels_first" (channels, width, height). You should set '
                      '`image_data_format="channels_last"` in your Keras config located at ~/.keras/keras.json. '
                      'The model being returned right now will expect inputs to follow the "channels_last" data '
                      'format.')
    # the returned model is channels_last, so input_shape is read as channels_last (Keras checked it
    # against the configured format, turning the default (3, 331, 331) into a 3-row image)
    input_shape = _obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                      data_format="channels_last", require_flatten=True, weights=weights)
    K.set_image_data_format("channels_last")
    try:
        img_input = _builder.image_input(input_tensor, input_shape)
        filters = penultimate_filters // 24
        x = Conv2D(stem_block_filters, (3, 3), strides=(2, 2), padding="valid", use_bias=False, name="stem_conv1",
                   kernel_initializer="he_normal")(img_input)
        x = BatchNormalization(name="stem_bn1", **_BN)(x)
        p = None
        x, p = _reduction_a_cell(x, p, filters // (filter_multiplier ** 2), block_id="stem_1")
        x, p = _reduction_a_cell(x, p, filters // filter_multiplier, block_id="stem_2")
        for stage in range(3):
            if stage:
                x, p0 = _reduction_a_cell(x, p, filters * filter_multiplier ** stage,
                                          block_id="reduce_%d" % (stage * num_blocks))
                p = p0 if not skip_reduction else p
            for i in range(num_blocks):
                x, p = _normal_a_cell(x, p, filters * filter_multiplier ** stage,
                                      block_id="%d" % (stage * num_blocks + i + 1 if stage else i))
        x = Activation("relu")(x)
        if include_top:
            x = GlobalAveragePooling2D()(x)
            x = Dense(classes, activation="softmax", name="predictions")(x)
        else:
            x = _builder.pooling_head(x, pooling)
        model = _builder.make_model(input_tensor, img_input, x, "NASNet")
        if weights == "imagenet":
            size = "mobile" if default_size == 224 else "large"
            origin = globals()["NASNET_%s_WEIGHT_PATH%s" % (size.upper(), "" if include_top else "_NO_TOP")]
            fname = "nasnet_%s%s.h5" % (size, "" if include_top else "_no_top")
            _builder.load_weights(model, weights, fname, origin, WEIGHTS_HASHES[size][0 if include_top else 1])
        else:
            _builder.load_weights(model, weights, None, None)
    finally:
        K.set_image_data_format(old_data_format)
    return model


def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000):
    """NASNetLarge(input_shape=None, include_top=True, weights='imagenet', input_tensor=None,
    pooling=None, classes=1000): NASNet-A (6 @ 4032) for 331x331 inputs (88,949,818
    parameters with its top). Arguments as the other applications; input_shape (331, 331, 3)
    by default, at least 32x32."""
    return NASNet(input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=331)


def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                 classes=1000):
    """NASNetMobile(input_shape=None, include_top=True, weights='imagenet', input_tensor=None,
    pooling=None, classes=1000): NASNet-A (4 @ 1056) for 224x224 inputs (5,326,716 parameters
    with its top). Arguments as the other applications; input_shape (224, 224, 3) by default, at
    least 32x32."""
    return NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32, skip_reduction=False,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=224)

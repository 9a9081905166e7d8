"""DenseNet121/169/201 (`keras.applications.densenet`): Huang et al., "Densely Connected
Convolutional Networks" (2017), with Keras 2.3's layer names (conv1/conv, conv2_block1_0_bn,
pool2_conv, bn, fc1000) and weight files."""
from __future__ import annotations

from . import _builder
from ._blocks import bn_act, bn_axis, conv_bn
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import preprocess_input as _imagenet_preprocess

BASE_WEIGTHS_PATH = "https://github.com/keras-team/keras-applications/releases/download/densenet/"
DENSENET121_WEIGHT_PATH = BASE_WEIGTHS_PATH + "densenet121_weights_tf_dim_ordering_tf_kernels.h5"
DENSENET121_WEIGHT_PATH_NO_TOP = BASE_WEIGTHS_PATH + "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
DENSENET169_WEIGHT_PATH = BASE_WEIGTHS_PATH + "densenet169_weights_tf_dim_ordering_tf_kernels.h5"
DENSENET169_WEIGHT_PATH_NO_TOP = BASE_WEIGTHS_PATH + "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5"
DENSENET201_WEIGHT_PATH = BASE_WEIGTHS_PATH + "densenet201_weights_tf_dim_ordering_tf_kernels.h5"
DENSENET201_WEIGHT_PATH_NO_TOP = BASE_WEIGTHS_PATH + "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5"
# (with top, without top) file hashes, as Keras gives them
WEIGHTS_HASHES = {
    "densenet121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_NAMED_BLOCKS = {(6, 12, 24, 16): "densenet121", (6, 12, 32, 32): "densenet169", (6, 12, 48, 32): "densenet201"}


def preprocess_input(x, data_format=None, **kwargs):
    """preprocess_input(x, data_format=None): 'torch' mode (scaled to [0, 1], then normalised
    with the ImageNet mean and std per channel)."""
    return _imagenet_preprocess(x, data_format=data_format, mode="torch", **kwargs)


def _bn_relu(x, name):
    return bn_act(x, name + "_bn", name + "_relu", epsilon=1.001e-5)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 * growth_rate), BN-ReLU-3x3 conv (growth_rate), concatenated to x."""
    from ..layers import Concatenate, Conv2D
    x1 = Conv2D(4 * growth_rate, 1, use_bias=False, name=name + "_1_conv")(_bn_relu(x, name + "_0"))
    x1 = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=name + "_2_conv")(_bn_relu(x1, name + "_1"))
    return Concatenate(axis=bn_axis(), name=name + "_concat")([x, x1])


def dense_block(x, blocks, name):
    """`blocks` conv_blocks named name_block1, name_block2, ..."""
    for i in range(blocks):
        x = conv_block(x, 32, name=name + "_block" + str(i + 1))
    return x


def transition_block(x, reduction, name):
    """BN-ReLU-1x1 conv shrinking the channels by `reduction`, then 2x2 average pooling."""
    from .. import backend as K
    from ..layers import AveragePooling2D, Conv2D
    x = _bn_relu(x, name)
    x = Conv2D(int(K.int_shape(x)[bn_axis()] * reduction), 1, use_bias=False, name=name + "_conv")(x)
    return AveragePooling2D(2, strides=2, name=name + "_pool")(x)


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000):
    """DenseNet(blocks, include_top=True, weights='imagenet', input_tensor=None,
    input_shape=None, pooling=None, classes=1000): a DenseNet with `blocks` (four ints) conv
    blocks in its dense blocks; ImageNet weights exist for the 121/169/201 layouts.

    # Arguments
        blocks: numbers of building blocks of the four dense blocks.
        include_top: whether to include the fully-connected layer at the top.
        weights: None (random initialization), 'imagenet' (Keras's ImageNet weights, fetched
            through get_file) or the path to a weights file.
        input_tensor: optional Keras tensor to use as the image input.
        input_shape: optional shape tuple, only when include_top is False (otherwise
            (224, 224, 3)); 3 channels for ImageNet weights, width and height at least 32.
        pooling: None, 'avg' or 'max': global pooling of the last block when include_top is False.
        classes: number of classes when include_top is True and no weights are loaded.

    # Raises
        ValueError: invalid `blocks`, `weights`, `classes`, `pooling` or input shape.
    """
    from ..layers import MaxPooling2D, ZeroPadding2D
    try:
        blocks = tuple(int(b) for b in blocks)
    except (TypeError, ValueError):
        blocks = ()
    if len(blocks) != 4 or min(blocks) < 1:
        raise ValueError(f"DenseNet: `blocks` must be four positive integers, got {blocks!r}")
    name = _NAMED_BLOCKS.get(blocks, "densenet")
    _builder.check_arguments(weights, include_top, classes, pooling, name)
    if weights == "imagenet" and name == "densenet":
        raise ValueError(f"DenseNet: ImageNet weights exist only for blocks {sorted(_NAMED_BLOCKS)}, got {blocks}")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 224, 32, include_top, weights)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = conv_bn(x, 64, 7, strides=2, use_bias=False, name="conv1/conv", bn_name="conv1/bn", act_name="conv1/relu",
                epsilon=1.001e-5)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = bn_act(x, "bn", "relu", epsilon=1.001e-5)
    x = _builder.classifier(x, include_top, classes, pooling, dense_name="fc1000", pooling_names=True)
    model = _builder.make_model(input_tensor, img_input, x, name)
    if weights == "imagenet":
        suffix = "" if include_top else "_NO_TOP"
        origin = globals()[name.upper() + "_WEIGHT_PATH" + suffix]
        fname = name + "_weights_tf_dim_ordering_tf_kernels" + ("" if include_top else "_notop") + ".h5"
        _builder.load_weights(model, weights, fname, origin, WEIGHTS_HASHES[name][0 if include_top else 1])
    else:
        _builder.load_weights(model, weights, None, None)
    return model


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    """DenseNet121(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): DenseNet-121 (8,062,504 parameters with its top); arguments as
    DenseNet."""
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    """DenseNet169(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): DenseNet-169 (14,307,880 parameters with its top); arguments as
    DenseNet."""
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    """DenseNet201(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
    pooling=None, classes=1000): DenseNet-201 (20,242,984 parameters with its top); arguments as
    DenseNet."""
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes)

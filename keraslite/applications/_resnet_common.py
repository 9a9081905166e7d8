"""The ResNet family of `keras.applications.resnet` / `resnet_v2` (Keras 2.3): ResNet v1 with
Keras's newer layer names (conv2_block1_1_conv, ..., probs) and the pre-activation ResNet v2,
sharing one stem/head builder and weight table."""
from __future__ import annotations

from . import _builder
from ._blocks import bn_act, conv_bn

BASE_WEIGHTS_PATH = "https://github.com/keras-team/keras-applications/releases/download/resnet/"
WEIGHTS_HASHES = {  # (with top, without top), as Keras gives them
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}
_EPS = 1.001e-5


def _conv_bn(x, filters, kernel_size, name, activation="relu", **kwargs):
    """Conv2D name_conv, BN name_bn (epsilon 1.001e-5) and, with an activation, name_relu."""
    return conv_bn(x, filters, kernel_size, name=name + "_conv", bn_name=name + "_bn", act_name=name + "_relu",
                   activation=activation, epsilon=_EPS, **kwargs)


def _bn_relu(x, name):
    return bn_act(x, name + "_bn", name + "_relu", epsilon=_EPS)


def block1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """ResNet v1 bottleneck: 1x1 (strided) / kxk / 1x1 (4 * filters), projection or identity
    shortcut, ReLU after the sum."""
    from ..layers import Activation, Add
    shortcut = _conv_bn(x, 4 * filters, 1, name + "_0", activation=None, strides=stride) if conv_shortcut else x
    x = _conv_bn(x, filters, 1, name + "_1", strides=stride)
    x = _conv_bn(x, filters, kernel_size, name + "_2", padding="same")
    x = _conv_bn(x, 4 * filters, 1, name + "_3", activation=None)
    x = Add(name=name + "_add")([shortcut, x])
    return Activation("relu", name=name + "_out")(x)


def stack1(x, filters, blocks, stride1=2, name=None):
    """`blocks` block1s; the first one projects (and strides by stride1)."""
    x = block1(x, filters, stride=stride1, name=name + "_block1")
    for i in range(2, blocks + 1):
        x = block1(x, filters, conv_shortcut=False, name=name + "_block" + str(i))
    return x


def block2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """ResNet v2 (pre-activation) bottleneck; the stride sits on the 3x3 convolution."""
    from ..layers import Add, Conv2D, MaxPooling2D, ZeroPadding2D
    preact = _bn_relu(x, name + "_preact")
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = _conv_bn(preact, filters, 1, name + "_1", strides=1, use_bias=False)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name=name + "_2_pad")(x)
    x = _conv_bn(x, filters, kernel_size, name + "_2", strides=stride, use_bias=False)
    x = Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    return Add(name=name + "_out")([shortcut, x])


def stack2(x, filters, blocks, stride1=2, name=None):
    """`blocks` block2s; the first projects, the last strides by stride1."""
    x = block2(x, filters, conv_shortcut=True, name=name + "_block1")
    for i in range(2, blocks):
        x = block2(x, filters, name=name + "_block" + str(i))
    return block2(x, filters, stride=stride1, name=name + "_block" + str(blocks))


def ResNet(stack_fn, preact, use_bias, model_name="resnet", include_top=True, weights="imagenet", input_tensor=None,
           input_shape=None, pooling=None, classes=1000):
    """ResNet(stack_fn, preact, use_bias, model_name='resnet', include_top=True,
    weights='imagenet', input_tensor=None, input_shape=None, pooling=None, classes=1000): the
    stem (7x7 conv, 3x3 max pool), `stack_fn(x)`, then the head. `preact` moves the stem's
    BN-ReLU after the stacks (v2). ImageNet weights exist for the model names in WEIGHTS_HASHES;
    for other names weights='imagenet' is refused.

    # Raises
        ValueError: invalid `weights`, `classes`, `pooling` or input shape.
    """
    from ..layers import Conv2D, MaxPooling2D, ZeroPadding2D
    _builder.check_arguments(weights, include_top, classes, pooling, model_name)
    if weights == "imagenet" and model_name not in WEIGHTS_HASHES:
        # Keras silently returns random weights here; refusing is clearer
        raise ValueError(f"{model_name}: ImageNet weights exist only for {sorted(WEIGHTS_HASHES)}")
    img_input = _builder.checked_image_input(input_tensor, input_shape, 224, 32, include_top, weights)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn_relu(x, "conv1")
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn_relu(x, "post")
    x = _builder.classifier(x, include_top, classes, pooling, dense_name="probs", pooling_names=True)
    model = _builder.make_model(input_tensor, img_input, x, model_name)
    if weights == "imagenet":
        fname = model_name + "_weights_tf_dim_ordering_tf_kernels" + ("" if include_top else "_notop") + ".h5"
        _builder.load_weights(model, weights, fname, BASE_WEIGHTS_PATH + fname,
                              WEIGHTS_HASHES[model_name][0 if include_top else 1])
    else:
        _builder.load_weights(model, weights, None, None)
    return model


def v1_stacks(blocks3):
    """stack_fn of ResNet v1 with `blocks3` blocks in conv4 (6, 23, 36) and conv3 to match."""
    conv3 = 8 if blocks3 == 36 else 4

    def stack_fn(x):
        x = stack1(x, 64, 3, stride1=1, name="conv2")
        x = stack1(x, 128, conv3, name="conv3")
        x = stack1(x, 256, blocks3, name="conv4")
        return stack1(x, 512, 3, name="conv5")
    return stack_fn


def v2_stacks(blocks3):
    """stack_fn of ResNet v2 with `blocks3` blocks in conv4 (6, 23, 36) and conv3 to match."""
    conv3 = 8 if blocks3 == 36 else 4

    def stack_fn(x):
        x = stack2(x, 64, 3, name="conv2")
        x = stack2(x, 128, conv3, name="conv3")
        x = stack2(x, 256, blocks3, name="conv4")
        return stack2(x, 512, 3, stride1=1, name="conv5")
    return stack_fn

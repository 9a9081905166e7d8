"""ResNet50V2/101V2/152V2 (`keras.applications.resnet_v2`, Keras 2.3): He et al., "Identity
Mappings in Deep Residual Networks" (2016), pre-activation ResNets with Keras's layer names
(conv2_block1_preact_bn, ..., post_bn, probs) and weight files."""
from __future__ import annotations

from ._resnet_common import ResNet, v2_stacks
from .imagenet_utils import decode_predictions  # noqa: F401
from .inception_v3 import preprocess_input  # noqa: F401  ('tf' mode, as in Keras)
from .resnet import _document


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
               classes=1000):
    return ResNet(v2_stacks(6), True, True, "resnet50v2", include_top, weights, input_tensor, input_shape, pooling,
                  classes)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    return ResNet(v2_stacks(23), True, True, "resnet101v2", include_top, weights, input_tensor, input_shape,
                  pooling, classes)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000):
    return ResNet(v2_stacks(36), True, True, "resnet152v2", include_top, weights, input_tensor, input_shape,
                  pooling, classes)


_document(ResNet50V2, "ResNet-50 v2", 25613800)
_document(ResNet101V2, "ResNet-101 v2", 44675560)
_document(ResNet152V2, "ResNet-152 v2", 60380648)

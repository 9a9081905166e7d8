"""ResNet50/101/152 of `keras.applications.resnet` (Keras 2.3): ResNet v1 with Keras's newer
layer names (conv1_conv, conv2_block1_1_conv, ..., probs) and weight files. The top-level
`keraslite.applications.ResNet50` is the older `resnet50` module's, as in Keras 2.3."""
from __future__ import annotations

from ._resnet_common import ResNet, v1_stacks
from .imagenet_utils import decode_predictions  # noqa: F401
from .vgg16 import preprocess_input  # noqa: F401  ('caffe' mode, as in Keras)

_ARGS = """

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


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    return ResNet(v1_stacks(6), False, True, "resnet50", include_top, weights, input_tensor, input_shape, pooling,
                  classes)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    return ResNet(v1_stacks(23), False, True, "resnet101", include_top, weights, input_tensor, input_shape, pooling,
                  classes)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000):
    return ResNet(v1_stacks(36), False, True, "resnet152", include_top, weights, input_tensor, input_shape, pooling,
                  classes)


def _document(fn, title: str, params: int) -> None:
    """Give a ResNet constructor its Keras signature line, parameter count and arguments."""
    fn.__doc__ = (f"{fn.__name__}(include_top=True, weights='imagenet', input_tensor=None, input_shape=None, "
                  f"pooling=None, classes=1000): {title} ({params:,} parameters with its top)." + _ARGS)


_document(ResNet50, "ResNet-50 v1", 25636712)
_document(ResNet101, "ResNet-101 v1", 44707176)
_document(ResNet152, "ResNet-152 v1", 60419944)

"""keraslite.applications (`keras.applications`): the Keras 2.3 ImageNet models with Keras's
arguments, layer names and weight files, and each family's preprocess_input/decode_predictions.

Modules and constructors load on first use, so importing this package builds nothing."""
from __future__ import annotations

import importlib

_CONSTRUCTORS = {
    "VGG16": "vgg16", "VGG19": "vgg19", "ResNet50": "resnet50", "InceptionV3": "inception_v3",
    "InceptionResNetV2": "inception_resnet_v2", "Xception": "xception", "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2", "DenseNet121": "densenet", "DenseNet169": "densenet", "DenseNet201": "densenet",
    "NASNetMobile": "nasnet", "NASNetLarge": "nasnet", "ResNet101": "resnet", "ResNet152": "resnet",
    "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2", "ResNet152V2": "resnet_v2",
}
_MODULES = ("vgg16", "vgg19", "resnet50", "inception_v3", "inception_resnet_v2", "xception", "mobilenet",
            "mobilenet_v2", "densenet", "nasnet", "resnet", "resnet_v2", "imagenet_utils")


def __getattr__(name):
    if name in _CONSTRUCTORS:
        return getattr(importlib.import_module(f"{__name__}.{_CONSTRUCTORS[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(_CONSTRUCTORS) + list(_MODULES))


__all__ = sorted(_CONSTRUCTORS)

"""keraslite.layers: the Keras 2 layers, `Input`/`InputLayer`, and layer (de)serialisation."""
from __future__ import annotations

from ..engine.base_layer import InputSpec, Layer
from ..engine.input_layer import Input, InputLayer
from ..serialization import _register_layer_classes, deserialize_layer, serialize_layer
from .advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU
from .convolutional import (Conv1D, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, Convolution1D, Convolution2D,
                            Convolution2DTranspose, Convolution3D, Convolution3DTranspose, Cropping1D, Cropping2D,
                            Cropping3D, Deconv2D, Deconvolution2D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
                            SeparableConvolution1D, SeparableConvolution2D, UpSampling1D, UpSampling2D, UpSampling3D,
                            ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
from .convolutional_recurrent import ConvLSTM2D, ConvLSTM2DCell, ConvRNN2D
from .core import (Activation, ActivityRegularization, Dense, Dropout, Flatten, Lambda, Masking, Permute, RepeatVector,
                   Reshape, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from .cudnn_recurrent import CuDNNGRU, CuDNNLSTM
from .embeddings import Embedding
from .local import LocallyConnected1D, LocallyConnected2D
from .merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
                    dot, maximum, minimum, multiply, subtract)
from .noise import AlphaDropout, GaussianDropout, GaussianNoise
from .normalization import BatchNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D,
                      GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPool1D, MaxPool2D, MaxPool3D,
                      MaxPooling1D, MaxPooling2D, MaxPooling3D)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells
from .wrappers import Bidirectional, TimeDistributed, Wrapper

_LAYER_CLASSES = {
    name: obj for name, obj in dict(globals()).items()
    if isinstance(obj, type) and issubclass(obj, Layer) and not name.startswith("_")
}
# what layer configs may name (with Model and Sequential, which the engine registers)
_register_layer_classes(_LAYER_CLASSES)


def serialize(layer) -> dict:
    """serialize(layer): {'class_name': type name, 'config': layer.get_config()}."""
    return serialize_layer(layer)


def deserialize(config, custom_objects=None, safe_mode=None):
    """deserialize(config, custom_objects=None, safe_mode=None): a layer (or Model/Sequential)
    from serialize()'s dict; class names resolve through custom_objects, the custom-object scope,
    the registry and keraslite's layers (keraslite.serialization's policy; safe_mode=False lets
    Lambda layers name functions of imported modules). Dimensions are checked first."""
    return deserialize_layer(config, custom_objects=custom_objects, safe_mode=safe_mode)


__all__ = sorted([n for n in _LAYER_CLASSES] + ["Input", "InputSpec", "serialize", "deserialize", "add", "subtract",
                                               "multiply", "average", "maximum", "minimum", "concatenate", "dot"])

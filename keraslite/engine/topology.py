"""keras.engine.topology, kept by Keras 2.3 for older scripts (`from keras.engine.topology import
Layer`): the same names as keraslite.engine."""
from .base_layer import InputSpec, Layer, Node
from .input_layer import Input, InputLayer
from .network import Network
from ..utils.layer_utils import get_source_inputs

__all__ = ["InputSpec", "Layer", "Node", "Input", "InputLayer", "Network", "get_source_inputs"]

"""The Keras engine: Layer and Node, Input, the functional Network/Model, Sequential, training."""
from .base_layer import InputSpec, Layer, Node
from .input_layer import Input, InputLayer
from .network import Network
from .training import Model
from .sequential import Sequential
from ..utils.layer_utils import get_source_inputs

__all__ = ["InputSpec", "Layer", "Node", "Input", "InputLayer", "Network", "Model", "Sequential", "get_source_inputs"]

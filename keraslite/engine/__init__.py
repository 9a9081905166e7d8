"""The Keras engine: Layer and Node, Input, the functional Network/Model, Sequential, training."""
from .base_layer import InputSpec, Layer, Node
from .input_layer import Input, InputLayer
from .network import Network
from .training import Model
from .sequential import Sequential
from ..utils.layer_utils import get_source_inputs
# the layers register themselves in keraslite.serialization, where Network/Sequential.from_config
# look up the classes of nested layer configs (the layers import the engine modules, not this
# package, so this is no cycle)
from .. import layers as _layers  # noqa: F401,E402

__all__ = ["InputSpec", "Layer", "Node", "Input", "InputLayer", "Network", "Model", "Sequential", "get_source_inputs"]

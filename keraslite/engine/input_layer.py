"""InputLayer and Input(): where a functional graph starts."""
from __future__ import annotations

from .. import backend as K
from ..backend.graph import Tensor
from .base_layer import Layer, Node


class InputLayer(Layer):
    """InputLayer(input_shape=None, batch_size=None, batch_input_shape=None, dtype=None,
    input_tensor=None, sparse=False, name=None): the layer behind a model's input tensor."""

    def __init__(self, input_shape=None, batch_size=None, batch_input_shape=None, dtype=None, input_tensor=None,
                 sparse=False, name=None, **kwargs):
        if not name:
            name = "input_" + str(K.get_uid("input"))
        if "batch_shape" in kwargs:  # Keras 1 spelling
            batch_input_shape = kwargs.pop("batch_shape")
        super().__init__(name=name, **{k: v for k, v in kwargs.items() if k == "trainable"})
        if input_shape is not None and batch_input_shape is not None:
            raise ValueError("Only provide the input_shape OR batch_input_shape argument to InputLayer, not both "
                             f"(layer {name})")
        self.sparse = bool(sparse)
        self.trainable = False
        self.built = True
        if input_tensor is not None and batch_input_shape is None:
            batch_input_shape = K.int_shape(input_tensor)
        if input_tensor is None:
            if batch_input_shape is None:
                if input_shape is None:
                    raise ValueError(f"InputLayer {name}: an input_shape or batch_input_shape is needed")
                if isinstance(input_shape, int):
                    input_shape = (input_shape,)
                batch_input_shape = (batch_size,) + tuple(input_shape)
            batch_input_shape = tuple(None if d is None else int(d) for d in batch_input_shape)
            dtype = K.floatx() if dtype is None else dtype
            if self.sparse and len(batch_input_shape) != 2:
                raise ValueError(f"InputLayer {name}: a sparse input is 2-D (batch, features), fed with "
                                 f"scipy.sparse matrices; got batch_input_shape {batch_input_shape}")
            input_tensor = K.placeholder(shape=batch_input_shape, dtype=dtype, sparse=self.sparse, name=self.name)
        else:
            dtype = input_tensor.dtype if dtype is None else dtype
        self.batch_input_shape = tuple(batch_input_shape)
        self.dtype = dtype
        self.is_placeholder = True
        input_tensor._keras_shape = tuple(batch_input_shape)
        input_tensor._uses_learning_phase = False
        input_tensor._keras_history = (self, 0, 0)
        input_tensor._keras_mask = None
        Node(self, [], [], [], [input_tensor], [input_tensor], [None], [None], [self.batch_input_shape],
             [self.batch_input_shape])

    def get_config(self) -> dict:
        return {"batch_input_shape": self.batch_input_shape, "dtype": self.dtype, "sparse": self.sparse,
                "name": self.name}


def Input(shape=None, batch_shape=None, name=None, dtype=None, sparse=False, tensor=None) -> Tensor:
    """Input(shape=None, batch_shape=None, name=None, dtype=None, sparse=False, tensor=None): a
    Keras tensor to start a functional model; `shape` excludes the batch axis."""
    if shape is None and batch_shape is None and tensor is None:
        raise ValueError("Please provide to Input either a `shape` or a `batch_shape` argument. Note that `shape` "
                         "does not include the batch dimension.")
    if shape is not None and batch_shape is None:
        if isinstance(shape, int):
            shape = (shape,)
        batch_shape = (None,) + tuple(shape)
    layer = InputLayer(batch_input_shape=batch_shape, name=name, dtype=dtype, sparse=sparse, input_tensor=tensor)
    return layer._inbound_nodes[0].output_tensors[0]

"""Recurrent layers (Keras 2.2.4 semantics): the RNN base with the cell API (SimpleRNNCell,
LSTMCell, GRUCell, StackedRNNCells) and the SimpleRNN, LSTM and GRU layers.

keraslite graphs are static, so every recurrent loop is unrolled over the time axis (K.rnn): the
number of timesteps must be known when the layer is built (give `input_shape=(T, features)`,
`input_length=T` or an Input with a fixed time axis); an unknown length is a ValueError.
Masks (Embedding(mask_zero=True), Masking) are honoured: a masked step repeats the previous
output and keeps the previous states.
"""
from __future__ import annotations

import numpy as np

from .. import backend as K
from .. import regularizers
from ..engine.base_layer import InputSpec, Layer
from ..serialization import deserialize_layer
from ..utils.generic_utils import has_arg, to_list
from ._utils import UnknownTimestepsError, shape_str
from ._recurrent_cells import (GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells,  # noqa: F401  (public here too)
                               _as_array, _check_units, _clamp_rate, _DropoutCell, _generate_dropout_mask,
                               _reset_dropout_masks, _state_sizes)

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
           "call_with_states"]


# ---------------------------------------------------------------------------------------------
# the RNN layer



def call_with_states(layer_call, layer, inputs, additional_inputs, additional_specs, initial_state, constants,
                     kwargs, what):
    """Call a recurrent layer (or wrapper) given initial states / constants. Keras tensors join the
    node's inputs, with their specs, so that a saved model rebuilds them; other tensors reach
    `call` as keywords. `what` names the layer and argument in the error for a mix of both."""
    is_keras_tensor = K.is_keras_tensor(additional_inputs[0])
    if any(K.is_keras_tensor(t) != is_keras_tensor for t in additional_inputs):
        raise ValueError(f"{what} cannot be specified with a mix of Keras tensors and non-Keras tensors (a \"Keras "
                         "tensor\" is a tensor that was returned by a Keras layer, or by `Input`)")
    if is_keras_tensor:
        original_spec = layer.input_spec
        layer.input_spec = list(to_list(original_spec)) + additional_specs
        try:
            return layer_call([inputs] + additional_inputs, **kwargs)
        finally:
            layer.input_spec = original_spec
    if initial_state is not None:
        kwargs["initial_state"] = initial_state
    if constants is not None:
        kwargs["constants"] = constants
    return layer_call(inputs, **kwargs)


class RNN(Layer):
    """RNN(cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
    unroll=False): runs `cell` over the time axis of (N, T, features) inputs.

    `cell` has `call(inputs, states) -> (output, new_states)` and `state_size` (an int or a tuple,
    one entry per state); a list of cells becomes StackedRNNCells. Output (N, units), or
    (N, T, units) with return_sequences (in processing order, so reversed with go_backwards);
    return_state appends the final states. `stateful=True` keeps the last states of each batch
    as the initial states of the next (a fixed batch size is required; `reset_states()` zeroes
    them). The loop is always unrolled (`unroll` is accepted for Keras compatibility), so the
    number of timesteps must be known. `call` also takes `initial_state` and `constants`."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call"):
            raise ValueError(f"`cell` should have a `call` method. The RNN was passed: {cell!r}")
        if not hasattr(cell, "state_size"):
            raise ValueError("The RNN cell should have an attribute `state_size` (tuple of integers, one integer "
                             f"per RNN state); received {cell!r}")
        input_dim = kwargs.pop("input_dim", None)
        input_length = kwargs.pop("input_length", None)
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs and \
                (input_dim is not None or input_length is not None):
            kwargs["input_shape"] = (input_length, input_dim)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.supports_masking = True
        self.input_spec = [InputSpec(ndim=3)]
        self.state_spec = None
        self._states = None
        self.constants_spec = None
        self._num_constants = None
        self._batch_size = None

    # ------------------------------------------------------------------ states
    @property
    def states(self):
        if self._states is None:
            return [None] * len(_state_sizes(self.cell))
        return self._states

    @states.setter
    def states(self, states):
        self._states = states

    # ------------------------------------------------------------------ weights (owned by the cell)
    @property
    def trainable_weights(self):
        if not self.trainable or not isinstance(self.cell, Layer):
            return []
        return self.cell.trainable_weights

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self):
        if not isinstance(self.cell, Layer):
            return []
        if not self.trainable:
            return self.cell.trainable_weights + self.cell.non_trainable_weights
        return self.cell.non_trainable_weights

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    # ------------------------------------------------------------------ shapes and masks
    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        sizes = _state_sizes(self.cell)
        output_dim = int(getattr(self.cell, "output_size", None) or sizes[0])
        if self.return_sequences:
            output_shape = (input_shape[0], input_shape[1], output_dim)
        else:
            output_shape = (input_shape[0], output_dim)
        if self.return_state:
            return [output_shape] + [(input_shape[0], d) for d in sizes]
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, list):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(_state_sizes(self.cell))
        return output_mask

    def _who(self):
        return f"{type(self).__name__} ({self.name})"

    def build(self, input_shape):
        input_shape = self._checked_input_shape(input_shape)
        self._batch_size = input_shape[0]
        if self.stateful:
            self.input_spec[0] = InputSpec(shape=(input_shape[0], None) + input_shape[2:])
        self._build_cell((input_shape[0],) + input_shape[2:])
        if self.stateful:
            self.reset_states()
        self.built = True

    def _checked_input_shape(self, input_shape) -> tuple:
        """The input shape as a tuple, checked for an unrolled loop: rank 3 (batch, timesteps,
        features) with known timesteps and features."""
        input_shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"{self._who()}: expected an input of rank 3 (batch, timesteps, features), got shape "
                             f"{shape_str(input_shape)}")
        self._require_timesteps(input_shape, "; give input_shape=(timesteps, features), input_length, or an "
                                             "Input with a fixed time axis")
        if input_shape[2] is None:
            raise ValueError(f"{self._who()}: the feature axis of the input must be known, got input shape "
                             f"{shape_str(input_shape)}")
        return input_shape

    def _require_timesteps(self, input_shape, hint=""):
        if input_shape[1] is None:
            raise UnknownTimestepsError(f"{self._who()}: the number of timesteps must be known (keraslite unrolls "
                                        f"recurrent loops), got input shape {shape_str(input_shape)}{hint}")

    def _build_cell(self, step_input_shape):
        """Build a Layer cell for one step's input shape, its weights named in this layer's scope,
        and take over its losses."""
        if not isinstance(self.cell, Layer):
            return
        if not self.cell.built:
            self.cell.build(step_input_shape)
            self.cell.built = True
        # Keras builds the cell inside the layer's name scope: lstm_1/kernel, lstm_1/bias, ...
        for w in self.cell.weights:
            if isinstance(w.name, str) and "/" in w.name and not w.name.startswith(self.name + "/"):
                w.name = self.name + "/" + w.name.split("/", 1)[1]
        for item in self.cell._losses:
            if all(item is not mine for mine in self._losses):
                self._losses.append(item)

    def get_initial_state(self, inputs):
        """Zero states (N, state_size) for each state of the cell."""
        base = K.zeros_like(inputs[:, 0, 0:1], dtype=K.dtype(inputs))  # (N, 1)
        return [K.tile(base, [1, d]) for d in _state_sizes(self.cell)]

    # ------------------------------------------------------------------ calling
    def _standardize_args(self, inputs, initial_state, constants):
        if isinstance(inputs, (list, tuple)):
            inputs = list(inputs)
            if initial_state is not None or constants is not None:
                raise ValueError(f"{self._who()}: give initial_state/constants either in the input list or as "
                                 "keyword arguments, not both")
            if self._num_constants is not None:
                constants = inputs[-self._num_constants:]
                inputs = inputs[:-self._num_constants]
            if len(inputs) > 1:
                initial_state = inputs[1:]
            inputs = inputs[0]

        def to_list_or_none(x):
            if x is None or isinstance(x, list):
                return x
            if isinstance(x, tuple):
                return list(x)
            return [x]
        return inputs, to_list_or_none(initial_state), to_list_or_none(constants)

    def __call__(self, inputs, initial_state=None, constants=None, **kwargs):
        inputs, initial_state, constants = self._standardize_args(inputs, initial_state, constants)
        if initial_state is None and constants is None:
            return super().__call__(inputs, **kwargs)
        additional_inputs, additional_specs = [], []
        if initial_state is not None:
            additional_inputs += initial_state
            self.state_spec = [InputSpec(shape=K.int_shape(s)) for s in initial_state]
            additional_specs += self.state_spec
        if constants is not None:
            additional_inputs += constants
            self.constants_spec = [InputSpec(shape=K.int_shape(c)) for c in constants]
            self._num_constants = len(constants)
            additional_specs += self.constants_spec
        return call_with_states(super().__call__, self, inputs, additional_inputs, additional_specs, initial_state,
                                constants, kwargs, f"{self._who()}: the initial state or constants of an RNN layer")

    def call(self, inputs, mask=None, training=None, initial_state=None, constants=None):
        if isinstance(inputs, list):
            inputs = list(inputs)
            if self._num_constants is not None:
                constants = inputs[-self._num_constants:]
                inputs = inputs[:-self._num_constants]
            if len(inputs) > 1:
                initial_state = inputs[1:]
            inputs = inputs[0]
        if initial_state is None:
            initial_state = list(self.states) if self.stateful else self.get_initial_state(inputs)
        initial_state = to_list(initial_state)
        if isinstance(mask, list):
            mask = mask[0]
        n_states = len(_state_sizes(self.cell))
        if len(initial_state) != n_states:
            raise ValueError(f"{self._who()}: the layer has {n_states} states but was passed "
                             f"{len(initial_state)} initial states")
        self._require_timesteps(K.int_shape(inputs))
        timesteps = K.int_shape(inputs)[1]
        _reset_dropout_masks(self.cell)
        cell_kwargs = {}
        if has_arg(self.cell.call, "training"):
            cell_kwargs["training"] = training
        constants = list(constants) if constants else []
        if constants:
            if not has_arg(self.cell.call, "constants"):
                raise ValueError(f"{self._who()}: the RNN cell does not support constants")
            n_const = len(constants)

            def step(x, states):
                return self.cell.call(x, states[:-n_const], constants=states[-n_const:], **cell_kwargs)
        else:
            def step(x, states):
                return self.cell.call(x, states, **cell_kwargs)
        last_output, outputs, states = K.rnn(step, inputs, initial_state, constants=constants,
                                             go_backwards=self.go_backwards, mask=mask, unroll=self.unroll,
                                             input_length=timesteps)
        _reset_dropout_masks(self.cell)
        if self.stateful:
            self.add_update([(self.states[i], states[i]) for i in range(len(states))], inputs)
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            out = [output]
            for s in states:
                # a state that is also the output (or another state) gets its own tensor
                out.append(K.identity(s) if any(s is o for o in out) else s)
            return out
        return output

    def reset_states(self, states=None):
        """reset_states(states=None): set the states of a stateful layer to zeros, or to the given
        NumPy arrays (one per state, shape (batch_size, state_size); (batch_size,) + output frame
        for a ConvRNN2D)."""
        if not self.stateful:
            raise AttributeError(f"{self._who()}: reset_states() needs a stateful layer (stateful=True)")
        shapes = self._full_state_shapes()
        if self._states is None or any(s is None for s in self._states):
            self._states = [K.zeros(shape) for shape in shapes]
            for i, s in enumerate(self._states):
                s.name = f"{self.name}/state_{i}"
        if states is None:
            K.batch_set_value([(s, np.zeros(shape, dtype=s.dtype)) for s, shape in zip(self._states, shapes)])
            return
        states = [states] if not isinstance(states, (list, tuple)) else list(states)
        if len(states) != len(self._states):
            raise ValueError(f"{self._who()}: expected {len(self._states)} state values, got {len(states)}")
        pairs = []
        for index, (value, shape) in enumerate(zip(states, shapes)):
            value = np.asarray(value)
            if value.shape != shape:
                raise ValueError(f"State {index} is incompatible with layer {self.name}: expected shape="
                                 f"{shape}, found shape={value.shape}")
            pairs.append((self._states[index], value))
        K.batch_set_value(pairs)

    def _full_state_shapes(self) -> list:
        """The shape (batch_size, state_size) of each state of a stateful layer."""
        batch_size = self._batch_size
        if batch_size is None and hasattr(self, "batch_input_shape"):
            batch_size = self.batch_input_shape[0]
        if batch_size is None:
            raise ValueError(f"{self._who()}: a stateful RNN needs to know its batch size. Specify the batch size "
                             "of your input tensors: for a Sequential model, give the first layer "
                             "`batch_input_shape=(batch_size, timesteps, features)` (or `batch_size` with "
                             "`input_shape`); for a functional model, an Input with `batch_shape=(batch_size, "
                             "timesteps, features)`")
        return [(batch_size, d) for d in _state_sizes(self.cell)]

    def get_config(self):
        config = {"return_sequences": self.return_sequences, "return_state": self.return_state,
                  "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll}
        if self._num_constants is not None:
            config["num_constants"] = self._num_constants
        config["cell"] = {"class_name": self.cell.__class__.__name__, "config": self.cell.get_config()}
        return dict(list(super().get_config().items()) + list(config.items()))

    def _layer_config(self, cell_keys):
        """The config of a layer that makes its own cell from its arguments (SimpleRNN, LSTM, GRU,
        ConvLSTM2D): this RNN's config without the cell, then `cell_keys` of the cell's config and
        the activity_regularizer."""
        cell_config = self.cell.get_config()
        config = {k: cell_config[k] for k in cell_keys}
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        base = RNN.get_config(self)
        del base["cell"]
        return dict(list(base.items()) + list(config.items()))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_layer(config.pop("cell"), custom_objects=custom_objects)
        num_constants = config.pop("num_constants", None)
        layer = cls(cell, **config)
        layer._num_constants = num_constants
        return layer


# ---------------------------------------------------------------------------------------------
# SimpleRNN, LSTM, GRU


_CELL_ATTRS = ("units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
               "kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
               "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout")


def _cell_property(attr):
    return property(lambda self: getattr(self.cell, attr))


class _CellLayer(RNN):
    """An RNN with a fixed built-in cell whose arguments are the layer's own (SimpleRNN/LSTM/GRU)."""

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if config.get("implementation") == 0:  # Keras 2.2's files may say 0, which means 1
            config["implementation"] = 1
        return cls(**config)


for _attr in _CELL_ATTRS:
    setattr(_CellLayer, _attr, _cell_property(_attr))


class SimpleRNN(_CellLayer):
    """SimpleRNN(units, activation='tanh', use_bias=True, kernel_initializer='glorot_uniform',
    recurrent_initializer='orthogonal', bias_initializer='zeros', kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.,
    recurrent_dropout=0., return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False): fully-connected RNN, `h_t = act(x_t W + b + h_{t-1} U)`.
    Weights `kernel` (in, units), `recurrent_kernel` (units, units), `bias` (units,)."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0.,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 **kwargs):
        kwargs.pop("implementation", None)  # Keras 2.2 accepts and ignores it
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                             recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                             dropout=dropout, recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def get_config(self):
        return self._layer_config(["units", "activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                                   "bias_initializer", "kernel_regularizer", "recurrent_regularizer",
                                   "bias_regularizer", "kernel_constraint", "recurrent_constraint",
                                   "bias_constraint", "dropout", "recurrent_dropout"])

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("implementation", None)
        return cls(**config)


class LSTM(_CellLayer):
    """LSTM(units, activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', unit_forget_bias=True, kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.,
    recurrent_dropout=0., implementation=1, return_sequences=False, return_state=False,
    go_backwards=False, stateful=False, unroll=False): Long Short-Term Memory (Hochreiter 1997).

    Defaults follow Keras 2.2.4: recurrent_activation='hard_sigmoid' and implementation=1
    (Keras 2.3 changed them to 'sigmoid' and 2). Weights `kernel` (in, 4u), `recurrent_kernel`
    (u, 4u), `bias` (4u,), gate blocks i, f, c, o; states [h, c]."""

    def __init__(self, units, activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0., recurrent_dropout=0., implementation=1, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                        kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                        unit_forget_bias=unit_forget_bias, bias_initializer=bias_initializer,
                        kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, implementation=implementation)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    recurrent_activation = _cell_property("recurrent_activation")
    unit_forget_bias = _cell_property("unit_forget_bias")
    implementation = _cell_property("implementation")

    def get_config(self):
        return self._layer_config(["units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                                   "recurrent_initializer", "bias_initializer", "unit_forget_bias",
                                   "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                   "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                                   "recurrent_dropout", "implementation"])


class GRU(_CellLayer):
    """GRU(units, activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', kernel_regularizer=None, recurrent_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
    recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0.,
    implementation=1, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False, reset_after=False): Gated Recurrent Unit (Cho et al. 2014).

    Defaults follow Keras 2.2.4 ('hard_sigmoid', implementation=1; 2.3: 'sigmoid', 2). Weights
    `kernel` (in, 3u), `recurrent_kernel` (u, 3u), `bias` (3u,) or (2, 3u) with reset_after
    (the CuDNN-compatible variant); blocks z, r, h."""

    def __init__(self, units, activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.,
                 recurrent_dropout=0., implementation=1, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=False, **kwargs):
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                       kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                       recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                       kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                       implementation=implementation, reset_after=reset_after)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    recurrent_activation = _cell_property("recurrent_activation")
    implementation = _cell_property("implementation")
    reset_after = _cell_property("reset_after")

    def get_config(self):
        return self._layer_config(["units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                                   "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                                   "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                                   "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
                                   "implementation", "reset_after"])

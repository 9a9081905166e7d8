"""Layer wrappers (Keras 2.2/2.3 semantics): `Wrapper`, `TimeDistributed` and `Bidirectional`.

A wrapper owns no weights of its own: its weights, `trainable` flag, updates and losses are those
of the layer(s) it wraps, so a functional Model (which reads every layer's keyed `_updates` and
`_losses`) sees the inner layer's regularisation losses and update ops through the wrapper.
"""
from __future__ import annotations

from .. import backend as K
from ..backend.graph import Tensor
from ..engine.base_layer import InputSpec, Layer
from ..serialization import deserialize_layer
from ..utils.generic_utils import has_arg, to_list
from ._utils import shape_str
from .recurrent import call_with_states

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _input_key(inputs) -> frozenset:
    """Keras 2's object_list_uid: a key for a tensor or list of tensors."""
    return frozenset(t.id for t in to_list(inputs))


def _merge_unique(own: list, others) -> list:
    out = list(own)
    for items in others:
        for item in items:
            if all(item is not mine for mine in out):
                out.append(item)
    return out


class Wrapper(Layer):
    """Wrapper(layer, **kwargs): the abstract base of layer wrappers. Its weights, `trainable`
    flag, updates and losses come from the wrapped `layer`; get_config() holds
    {'layer': serialize(layer)}."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `{type(self).__name__}` layer with a `Layer` instance. "
                             f"You passed: {layer!r}")
        self.layer = layer
        # wrapper inputs -> the tensors the inner layer was really called on (its updates and
        # losses are keyed by those)
        self._input_map: dict = {}
        self._own_losses: list = []
        self._own_updates: list = []
        inner_trainable = layer.trainable
        super().__init__(**kwargs)
        if "trainable" not in kwargs:
            # Layer.__init__ set trainable=True, which goes to the inner layer: keep its own flag
            self.trainable = inner_trainable

    def _inner_layers(self) -> list:
        return [self.layer]

    def build(self, input_shape=None):
        self.built = True

    @staticmethod
    def _apply_initial_weights(layer) -> None:
        """Layers built by hand (not by __call__) still honour their `weights=` argument."""
        initial = getattr(layer, "_initial_weights", None)
        if initial is not None:
            layer.set_weights(initial)
            layer._initial_weights = None

    # ------------------------------------------------------------------ trainable and weights
    @property
    def activity_regularizer(self):
        return getattr(self.layer, "activity_regularizer", None)

    @property
    def trainable(self):
        return self.layer.trainable

    @trainable.setter
    def trainable(self, value):
        self.layer.trainable = bool(value)

    @property
    def trainable_weights(self):
        return self.layer.trainable_weights

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self):
        return self.layer.non_trainable_weights

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    @property
    def weights(self):
        return list(self.layer.weights)

    # ------------------------------------------------------------------ losses and updates
    # The engine reads the keyed `_losses`/`_updates` lists: a wrapper's are its own plus those of
    # its inner layer(s), each (input key or None, item) pair appearing once.
    @property
    def _losses(self):
        return _merge_unique(self.__dict__.get("_own_losses", []),
                             [l._losses for l in self._inner_layers()])

    @_losses.setter
    def _losses(self, value):
        self._own_losses = list(value)

    @property
    def _updates(self):
        return _merge_unique(self.__dict__.get("_own_updates", []),
                             [l._updates for l in self._inner_layers()])

    @_updates.setter
    def _updates(self, value):
        self._own_updates = list(value)

    def add_loss(self, losses, inputs=None) -> None:
        key = None if inputs is None else _input_key(inputs)
        for loss in to_list(losses):
            if loss is None:
                continue
            self._own_losses.append((key, loss if isinstance(loss, Tensor) else K.constant(loss)))

    def add_update(self, updates, inputs=None) -> None:
        key = None if inputs is None else _input_key(inputs)
        for u in to_list(updates):
            self._own_updates.append((key, u))

    def get_updates_for(self, inputs) -> list:
        inner_inputs = inputs
        if inputs is not None:
            inner_inputs = self._input_map.get(_input_key(inputs), inputs)
        updates = []
        for layer in self._inner_layers():
            updates += layer.get_updates_for(inner_inputs)
        if self.trainable or self.stateful:
            updates += self._filter(self._own_updates, inputs)
        return updates

    def get_losses_for(self, inputs) -> list:
        # Keras 2.3: the inner layers' losses conditional on the same inputs count too (a
        # Bidirectional's inner layers see the wrapper's own inputs)
        losses = []
        for layer in self._inner_layers():
            losses += layer.get_losses_for(inputs)
        return losses + self._filter(self._own_losses, inputs)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"layer": {"class_name": self.layer.__class__.__name__, "config": self.layer.get_config()}}
        base_config = super().get_config()
        return dict(list(base_config.items()) + list(config.items()))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)


class TimeDistributed(Wrapper):
    """TimeDistributed(layer): applies `layer` to every temporal slice of an input (N, T, ...).

    With a known batch size the slices are run one by one (K.rnn, as Keras 2); otherwise the input
    is reshaped to (N*T, ...), the layer applied once, and the result reshaped to (N, T, ...).
    Output shape (N, T) + layer.compute_output_shape((N,) + input_shape[2:])[1:]. A mask (N, T)
    passes through (or is reshaped through the inner layer's compute_mask)."""

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed ({self.name}): the input must have rank >= 3 (batch, time, ...), "
                             f"got input shape {shape_str(input_shape)}")
        return (input_shape[0],) + input_shape[2:]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        child_input_shape = self._child_input_shape(input_shape)
        self.input_spec = InputSpec(shape=input_shape)
        if not self.layer.built:
            self.layer.build(child_input_shape)
            self.layer.built = True
            self._apply_initial_weights(self.layer)
        super().build()

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        child_output_shape = tuple(self.layer.compute_output_shape(self._child_input_shape(input_shape)))
        timesteps = input_shape[1]
        return (child_output_shape[0], timesteps) + child_output_shape[1:]

    @staticmethod
    def _get_shape_tuple(init_tuple, tensor, start_idx, int_shape=None):
        """init_tuple + the shape of tensor from start_idx, unknown entries read at run time."""
        if int_shape is None:
            int_shape = K.int_shape(tensor)[start_idx:]
        if all(s is not None for s in int_shape):
            return tuple(init_tuple) + tuple(int_shape)
        tensor_shape = K.shape(tensor)
        int_shape = list(int_shape)
        for i, s in enumerate(int_shape):
            if s is None:
                int_shape[i] = tensor_shape[start_idx + i]
        return tuple(init_tuple) + tuple(int_shape)

    def call(self, inputs, training=None, mask=None):
        kwargs = {}
        if has_arg(self.layer.call, "training"):
            kwargs["training"] = training
        input_shape = K.int_shape(inputs)
        if input_shape[0] is not None and input_shape[1] is not None:
            # the batch size matters: run the slices one by one
            def step(x, _):
                return self.layer.call(x, **kwargs), []

            _, outputs, _ = K.rnn(step, inputs, initial_states=[], input_length=input_shape[1], unroll=False)
            return outputs
        # no fixed batch size: one (N*T, ...) call
        input_length = input_shape[1]
        if input_length is None:
            input_length = K.shape(inputs)[1]
        input_key = _input_key(inputs)
        inner_input_shape = self._get_shape_tuple((-1,), inputs, 2)
        inner_inputs = K.reshape(inputs, inner_input_shape)
        self._input_map[input_key] = inner_inputs
        if has_arg(self.layer.call, "mask") and mask is not None:
            kwargs["mask"] = K.reshape(mask, self._get_shape_tuple((-1,), mask, 2))
        y = self.layer.call(inner_inputs, **kwargs)
        output_shape = self.compute_output_shape(input_shape)
        y = K.reshape(y, self._get_shape_tuple((-1, input_length), y, 1, output_shape[2:]))
        return y

    def compute_mask(self, inputs, mask=None):
        input_shape = K.int_shape(inputs)
        if input_shape[0] is not None and input_shape[1] is not None:
            # slice by slice: the mask is not handled explicitly
            return mask
        inner_mask = mask
        if inner_mask is not None:
            inner_mask = K.reshape(inner_mask, self._get_shape_tuple((-1,), mask, 2))
        inner_inputs = self._input_map.get(_input_key(inputs), inputs)
        output_mask = self.layer.compute_mask(inner_inputs, inner_mask)
        if output_mask is None:
            if mask is None:
                return None
            # the inner layer drops the mask: keep a (N, T) one
            output_mask = mask
            for _ in range(2, len(K.int_shape(mask))):
                output_mask = K.any(output_mask, axis=-1)
            return output_mask
        input_length = input_shape[1]
        if input_length is None:
            input_length = K.shape(inputs)[1]
        mask_int_shape = K.int_shape(output_mask)
        if mask_int_shape is None:
            mask_int_shape = K.int_shape(mask) if mask is not None else self.compute_output_shape(input_shape)[:-1]
        return K.reshape(output_mask, self._get_shape_tuple((-1, input_length), output_mask, 1,
                                                            tuple(mask_int_shape)[1:]))


def _standardize_args(inputs, initial_state, constants, num_constants):
    """Split a list input [x, *initial_state, *constants] (Keras 2's recurrent._standardize_args)."""
    if isinstance(inputs, (list, tuple)):
        inputs = list(inputs)
        if initial_state is not None or constants is not None:
            raise ValueError("Bidirectional: give initial_state/constants either in the input list or as keyword "
                             "arguments, not both")
        if num_constants is not None:
            constants = inputs[-num_constants:]
            inputs = inputs[:-num_constants]
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


class Bidirectional(Wrapper):
    """Bidirectional(layer, merge_mode='concat', weights=None): runs a recurrent layer forwards
    and backwards over the input and merges the two outputs.

    The two directions are new layers made by `layer.__class__.from_config(layer.get_config())`,
    the backward one with `go_backwards` flipped, named 'forward_<name>' and 'backward_<name>'.
    merge_mode: 'concat' (last axis), 'sum', 'mul', 'ave' or None (a list [forward, backward]).
    With return_sequences the backward output is reversed along time (so step t of both outputs
    refers to input step t); with return_state the forward states then the backward states follow
    the output(s). Weights: the forward layer's then the backward layer's; `weights` (a list in
    that order) sets them when the layer is built."""

    def __init__(self, layer, merge_mode="concat", weights=None, zero_output_for_mask=False, **kwargs):
        # zero_output_for_mask=True: with return_sequences, masked steps output zeros in both
        # directions (tf.keras's rule, set when its files are loaded); Keras 2.3 carries the
        # previous step's output
        self.zero_output_for_mask = bool(zero_output_for_mask)
        if merge_mode not in _MERGE_MODES:
            raise ValueError("Invalid merge mode. Merge mode should be one of "
                             "{\"sum\", \"mul\", \"ave\", \"concat\", None}, got " + repr(merge_mode))
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a `Layer` instance. You passed: {layer!r}")
        config = layer.get_config()
        if "go_backwards" not in config:
            raise ValueError(f"Bidirectional: the wrapped layer must be a recurrent layer (with `go_backwards` in "
                             f"its config), got {layer!r}")
        self.forward_layer = layer.__class__.from_config(dict(config))
        backward_config = dict(config)
        backward_config["go_backwards"] = not config["go_backwards"]
        self.backward_layer = layer.__class__.from_config(backward_config)
        self.forward_layer.name = "forward_" + layer.name
        self.backward_layer.name = "backward_" + layer.name
        self.merge_mode = merge_mode
        self._direction_weights = list(weights) if weights else None
        self._trainable = layer.trainable
        super().__init__(layer, **kwargs)
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        spec = layer.input_spec
        self.input_spec = list(spec) if isinstance(spec, (list, tuple)) else spec
        self._num_constants = None

    def _inner_layers(self) -> list:
        return [self.forward_layer, self.backward_layer]

    # ------------------------------------------------------------------ trainable and weights
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self.forward_layer.trainable = bool(value)
        self.backward_layer.trainable = bool(value)

    @property
    def trainable_weights(self):
        return self.forward_layer.trainable_weights + self.backward_layer.trainable_weights

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self):
        return self.forward_layer.non_trainable_weights + self.backward_layer.non_trainable_weights

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    @property
    def weights(self):
        return list(self.forward_layer.weights) + list(self.backward_layer.weights)

    def get_weights(self):
        return self.forward_layer.get_weights() + self.backward_layer.get_weights()

    def set_weights(self, weights):
        weights = list(weights)
        n_forward = len(self.forward_layer.weights)
        if len(weights) != n_forward + len(self.backward_layer.weights):
            raise ValueError(f"You called `set_weights(weights)` on layer \"{self.name}\" with a weight list of "
                             f"length {len(weights)}, but the layer was expecting "
                             f"{n_forward + len(self.backward_layer.weights)} weights.")
        Layer.set_weights(self, weights)

    def reset_states(self, states=None):
        """reset_states(): reset the states of both directions (stateful layers only)."""
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        states = list(states)
        half = len(states) // 2
        self.forward_layer.reset_states(states[:half])
        self.backward_layer.reset_states(states[half:])

    # ------------------------------------------------------------------ shapes and masks
    def compute_output_shape(self, input_shape):
        output_shape = self.forward_layer.compute_output_shape(input_shape)
        state_shape = []
        if self.return_state:
            state_shape = [tuple(s) for s in output_shape[1:]]
            output_shape = output_shape[0]
        output_shape = tuple(output_shape)
        if self.merge_mode == "concat":
            last = output_shape[-1]
            output_shape = output_shape[:-1] + (None if last is None else 2 * last,)
        elif self.merge_mode is None:
            output_shape = [output_shape, output_shape]
        if self.return_state:
            if self.merge_mode is None:
                return output_shape + state_shape + list(state_shape)
            return [output_shape] + state_shape + list(state_shape)
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, list):
            mask = mask[0]
        if self.return_sequences:
            output_mask = [mask, mask] if self.merge_mode is None else mask
        else:
            output_mask = [None, None] if self.merge_mode is None else None
        if self.return_state:
            state_mask = [None] * len(self.forward_layer.states)
            if isinstance(output_mask, list):
                return output_mask + state_mask * 2
            return [output_mask] + state_mask * 2
        return output_mask

    # ------------------------------------------------------------------ building and calling
    def build(self, input_shape):
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(input_shape)
                direction.built = True
        if self._direction_weights is not None:
            self.set_weights(self._direction_weights)
            self._direction_weights = None
        self.built = True

    def __call__(self, inputs, initial_state=None, constants=None, **kwargs):
        inputs, initial_state, constants = _standardize_args(inputs, initial_state, constants, self._num_constants)
        if initial_state is None and constants is None:
            return super().__call__(inputs, **kwargs)
        additional_inputs, additional_specs = [], []
        if initial_state is not None:
            num_states = len(initial_state)
            if num_states % 2 > 0:
                raise ValueError("When passing `initial_state` to a Bidirectional RNN, the state should be a list "
                                 "containing the states of the underlying RNNs (forward then backward). Found: "
                                 f"{initial_state}")
            additional_inputs += initial_state
            state_specs = [InputSpec(shape=K.int_shape(s)) for s in initial_state]
            self.forward_layer.state_spec = state_specs[:num_states // 2]
            self.backward_layer.state_spec = state_specs[num_states // 2:]
            additional_specs += state_specs
        if constants is not None:
            additional_inputs += constants
            constants_spec = [InputSpec(shape=K.int_shape(c)) for c in constants]
            self.forward_layer.constants_spec = constants_spec
            self.backward_layer.constants_spec = constants_spec
            additional_specs += constants_spec
            self._num_constants = len(constants)
            self.forward_layer._num_constants = self._num_constants
            self.backward_layer._num_constants = self._num_constants
        return call_with_states(super().__call__, self, inputs, additional_inputs, additional_specs, initial_state,
                                constants, kwargs, "The initial state of a Bidirectional layer")

    def call(self, inputs, mask=None, training=None, initial_state=None, constants=None):
        if isinstance(inputs, list):
            inputs = list(inputs)
            if self._num_constants:
                constants = inputs[-self._num_constants:]
                inputs = inputs[:-self._num_constants]
            if len(inputs) > 1:
                initial_state = inputs[1:]
            inputs = inputs[0]
        if isinstance(mask, list):
            mask = mask[0]
        kwargs = {}
        if has_arg(self.forward_layer.call, "training"):
            kwargs["training"] = training
        if has_arg(self.forward_layer.call, "mask"):
            kwargs["mask"] = mask
        if constants is not None:
            kwargs["constants"] = constants
        if initial_state is not None:
            initial_state = to_list(initial_state)
            half = len(initial_state) // 2
            y = self.forward_layer.call(inputs, initial_state=initial_state[:half], **kwargs)
            y_rev = self.backward_layer.call(inputs, initial_state=initial_state[half:], **kwargs)
        else:
            y = self.forward_layer.call(inputs, **kwargs)
            y_rev = self.backward_layer.call(inputs, **kwargs)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = K.reverse(y_rev, 1)
            if self.zero_output_for_mask and mask is not None:
                keep = K.expand_dims(K.cast(mask, K.dtype(y)), -1)
                y, y_rev = y * keep, y_rev * keep
        if self.merge_mode == "concat":
            output = K.concatenate([y, y_rev])
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            if self.merge_mode is None:
                return output + states
            return [output] + states
        return output

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"merge_mode": self.merge_mode}
        if self.zero_output_for_mask:
            config["zero_output_for_mask"] = True
        if self._num_constants is not None:
            config["num_constants"] = self._num_constants
        base_config = super().get_config()
        return dict(list(base_config.items()) + list(config.items()))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        num_constants = config.pop("num_constants", None)
        layer = super().from_config(config, custom_objects=custom_objects)
        layer._num_constants = num_constants
        return layer

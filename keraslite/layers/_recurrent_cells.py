"""The recurrent cells (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells) and the helpers the
RNN layers share: one step of a recurrence each, with Keras 2.2.4's weights and dropout masks.
Public through keraslite.layers and keraslite.layers.recurrent."""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, regularizers
from .. import backend as K
from ..backend.graph import Tensor
from ..engine.base_layer import Layer
from ..serialization import deserialize_layer
from ..utils.generic_utils import has_arg, to_list
from ._utils import shape_str


# ---------------------------------------------------------------------------------------------
# helpers


def _generate_dropout_mask(ones, rate, training=None, count=1):
    """One dropout mask (or `count` of them) shaped like `ones`, active in the training phase only."""
    def dropped_inputs():
        return K.dropout(ones, rate)
    if count > 1:
        return [K.in_train_phase(dropped_inputs, ones, training=training) for _ in range(count)]
    return K.in_train_phase(dropped_inputs, ones, training=training)


def _state_sizes(cell) -> list:
    size = cell.state_size
    return [int(s) for s in size] if hasattr(size, "__len__") else [int(size)]


def _clamp_rate(rate) -> float:
    return min(1.0, max(0.0, float(rate)))


def _reset_dropout_masks(cell) -> None:
    """Forget the dropout masks of a cell (and of the cells it stacks): one mask per sequence."""
    for sub in getattr(cell, "cells", None) or []:
        _reset_dropout_masks(sub)
    if hasattr(cell, "_dropout_mask"):
        cell._dropout_mask = None
    if hasattr(cell, "_recurrent_dropout_mask"):
        cell._recurrent_dropout_mask = None


def _as_array(value):
    if isinstance(value, Tensor):
        value = K.eval(value)
    return np.asarray(value)


def _check_units(units, who, exact=False):
    """`units` as an int >= 1; with `exact`, a value that int() would change (2.5) is refused too."""
    try:
        value = int(units)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: units must be a positive integer, got {units!r}") from None
    if value < 1 or (exact and value != units):
        raise ValueError(f"{who}: units must be a positive integer, got {units!r}")
    return value


def initial_part(init, n: int, dtype):
    """`init((n,))` as a NumPy array (initializers that take no dtype are called without one)."""
    return _as_array(init((n,), dtype=dtype) if has_arg(init, "dtype") else init((n,)))


# the three weights of a recurrent cell, in the order Keras lists their arguments
_WEIGHTS = ("kernel", "recurrent", "bias")


def set_weight_args(obj, initializer_args, regularizer_args, constraint_args) -> None:
    """Keep on `obj` the resolved `<w>_initializer`, `<w>_regularizer` and `<w>_constraint` of
    its kernel, recurrent kernel and bias, each group given as a (kernel, recurrent, bias) triple
    of Keras arguments."""
    for w, init, reg, con in zip(_WEIGHTS, initializer_args, regularizer_args, constraint_args):
        setattr(obj, f"{w}_initializer", initializers.get(init))
        setattr(obj, f"{w}_regularizer", regularizers.get(reg))
        setattr(obj, f"{w}_constraint", constraints.get(con))


def weight_args_config(obj, after_initializers=None, after_regularizers=None) -> dict:
    """The serialized weight arguments of `obj` in Keras's key order: the initializers, then
    `after_initializers`, the regularizers, `after_regularizers`, the constraints."""
    config = {f"{w}_initializer": initializers.serialize(getattr(obj, f"{w}_initializer")) for w in _WEIGHTS}
    config.update(after_initializers or {})
    config.update({f"{w}_regularizer": regularizers.serialize(getattr(obj, f"{w}_regularizer")) for w in _WEIGHTS})
    config.update(after_regularizers or {})
    config.update({f"{w}_constraint": constraints.serialize(getattr(obj, f"{w}_constraint")) for w in _WEIGHTS})
    return config


def add_recurrent_weights(layer, kernel_shape, recurrent_shape, bias_shape=None, bias_initializer=None) -> None:
    """Add `kernel`, `recurrent_kernel` and (with a `bias_shape`) `bias` to `layer`, in that order,
    with its initializers, regularizers and constraints; `bias` is None without a `bias_shape`."""
    layer.kernel = layer.add_weight(shape=kernel_shape, name="kernel", initializer=layer.kernel_initializer,
                                    regularizer=layer.kernel_regularizer, constraint=layer.kernel_constraint)
    layer.recurrent_kernel = layer.add_weight(shape=recurrent_shape, name="recurrent_kernel",
                                              initializer=layer.recurrent_initializer,
                                              regularizer=layer.recurrent_regularizer,
                                              constraint=layer.recurrent_constraint)
    layer.bias = None
    if bias_shape is not None:
        layer.bias = layer.add_weight(shape=bias_shape, name="bias",
                                      initializer=bias_initializer or layer.bias_initializer,
                                      regularizer=layer.bias_regularizer, constraint=layer.bias_constraint)


# ---------------------------------------------------------------------------------------------
# cells


def unit_forget_bias_initializer(base, units: int):
    """The LSTM bias initializer with Keras's unit_forget_bias: `base` for the input, cell and
    output gates, ones for the forget gate (gate order i, f, c, o)."""
    def bias_initializer(shape, dtype=None):
        dt = dtype or K.floatx()
        return np.concatenate([initial_part(base, units, dtype), np.ones((units,), dtype=dt),
                               initial_part(base, 2 * units, dtype)]).astype(dt)
    return bias_initializer


class _DropoutCell(Layer):
    """Shared pieces of the built-in cells: their weight arguments, input checks, weights, config
    and the per-sequence dropout masks."""

    def _set_cell_args(self, activation, use_bias, initializer_args, regularizer_args, constraint_args, dropout,
                       recurrent_dropout) -> None:
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_args(self, initializer_args, regularizer_args, constraint_args)
        self.dropout = _clamp_rate(dropout)
        self.recurrent_dropout = _clamp_rate(recurrent_dropout)
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    def _input_dim(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} ({self.name}): the last axis of the input must be known, "
                             f"got input shape {shape_str(input_shape)}")
        return int(input_shape[-1])

    def _add_weights(self, kernel_shape, recurrent_shape, bias_shape, forget_bias_units=None):
        """The cell's weights; `forget_bias_units` (LSTM-like cells) applies unit_forget_bias."""
        bias_initializer = None
        if forget_bias_units is not None and self.unit_forget_bias:
            bias_initializer = unit_forget_bias_initializer(self.bias_initializer, forget_bias_units)
        add_recurrent_weights(self, kernel_shape, recurrent_shape, bias_shape if self.use_bias else None,
                              bias_initializer)
        self.built = True

    def _masks(self, inputs, h_tm1, training, count):
        if 0 < self.dropout < 1 and self._dropout_mask is None:
            self._dropout_mask = _generate_dropout_mask(K.ones_like(inputs), self.dropout, training=training,
                                                        count=count)
        if 0 < self.recurrent_dropout < 1 and self._recurrent_dropout_mask is None:
            self._recurrent_dropout_mask = _generate_dropout_mask(K.ones_like(h_tm1), self.recurrent_dropout,
                                                                  training=training, count=count)
        return self._dropout_mask, self._recurrent_dropout_mask

    def _gated_head(self) -> dict:
        """The config's first keys for a cell with units, activation and recurrent_activation."""
        return {"units": self.units, "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation), "use_bias": self.use_bias}

    def _cell_config(self, head: dict, tail: dict = None) -> dict:
        """Layer config + `head` + the weight arguments (with unit_forget_bias after the
        initializers where the cell has it) + the dropout rates + `tail`, in Keras's key order."""
        extra = {"unit_forget_bias": self.unit_forget_bias} if hasattr(self, "unit_forget_bias") else None
        config = dict(head)
        config.update(weight_args_config(self, after_initializers=extra))
        config.update({"dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        config.update(tail or {})
        return dict(list(super().get_config().items()) + list(config.items()))


class SimpleRNNCell(_DropoutCell):
    """SimpleRNNCell(units, activation='tanh', use_bias=True, kernel_initializer='glorot_uniform',
    recurrent_initializer='orthogonal', bias_initializer='zeros', kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
    recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0.):
    one step `h_t = activation(x_t . kernel + bias + h_{t-1} . recurrent_kernel)`.
    Weights `kernel` (input_dim, units), `recurrent_kernel` (units, units), `bias` (units,)."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0., **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, f"SimpleRNNCell ({self.name})")
        self._set_cell_args(activation, use_bias, (kernel_initializer, recurrent_initializer, bias_initializer),
                            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
                            (kernel_constraint, recurrent_constraint, bias_constraint), dropout, recurrent_dropout)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        self._add_weights((self._input_dim(input_shape), u), (u, u), (u,))

    def call(self, inputs, states, training=None):
        prev_output = states[0]
        dp_mask, rec_dp_mask = self._masks(inputs, prev_output, training, count=1)
        if dp_mask is not None:
            h = K.dot(inputs * dp_mask, self.kernel)
        else:
            h = K.dot(inputs, self.kernel)
        if self.bias is not None:
            h = K.bias_add(h, self.bias)
        if rec_dp_mask is not None:
            prev_output = prev_output * rec_dp_mask
        output = h + K.dot(prev_output, self.recurrent_kernel)
        if self.activation is not None:
            output = self.activation(output)
        return output, [output]

    def get_config(self):
        return self._cell_config({"units": self.units, "activation": activations.serialize(self.activation),
                                  "use_bias": self.use_bias})


class LSTMCell(_DropoutCell):
    """LSTMCell(units, activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', unit_forget_bias=True, kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
    recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0.,
    implementation=1): one LSTM step; states [h, c].

    The `recurrent_activation` default is 'hard_sigmoid', as in Keras 2.2.4 (Keras 2.3 uses
    'sigmoid'). Weights `kernel` (input_dim, 4*units), `recurrent_kernel` (units, 4*units),
    `bias` (4*units,), gate blocks in the order i, f, c, o; `unit_forget_bias` initialises the f
    block of the bias to 1. implementation=1 does one product per gate (one dropout mask per
    gate), implementation=2 one product for all gates (one dropout mask)."""

    def __init__(self, units, activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.,
                 recurrent_dropout=0., implementation=1, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, f"LSTMCell ({self.name})")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._set_cell_args(activation, use_bias, (kernel_initializer, recurrent_initializer, bias_initializer),
                            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
                            (kernel_constraint, recurrent_constraint, bias_constraint), dropout, recurrent_dropout)
        if int(implementation) not in (0, 1, 2):
            raise ValueError(f"LSTMCell ({self.name}): implementation must be 1 or 2, got {implementation!r}")
        self.implementation = max(1, int(implementation))
        self.state_size = (self.units, self.units)
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        self._add_weights((self._input_dim(input_shape), 4 * u), (u, 4 * u), (4 * u,), forget_bias_units=u)

    def call(self, inputs, states, training=None):
        u = self.units
        h_tm1, c_tm1 = states[0], states[1]
        dp_mask, rec_dp_mask = self._masks(inputs, h_tm1, training, count=4)
        ra, act = self.recurrent_activation, self.activation
        if self.implementation == 1:
            xs, hs = [], []
            for g in range(4):
                x_g = inputs * dp_mask[g] if dp_mask is not None else inputs
                z = K.dot(x_g, self.kernel[:, g * u:(g + 1) * u])
                if self.use_bias:
                    z = K.bias_add(z, self.bias[g * u:(g + 1) * u])
                xs.append(z)
                hs.append(h_tm1 * rec_dp_mask[g] if rec_dp_mask is not None else h_tm1)
            rk = self.recurrent_kernel
            i = ra(xs[0] + K.dot(hs[0], rk[:, :u]))
            f = ra(xs[1] + K.dot(hs[1], rk[:, u:2 * u]))
            c = f * c_tm1 + i * act(xs[2] + K.dot(hs[2], rk[:, 2 * u:3 * u]))
            o = ra(xs[3] + K.dot(hs[3], rk[:, 3 * u:]))
        else:
            x = inputs * dp_mask[0] if dp_mask is not None else inputs
            z = K.dot(x, self.kernel)
            h = h_tm1 * rec_dp_mask[0] if rec_dp_mask is not None else h_tm1
            z = z + K.dot(h, self.recurrent_kernel)
            if self.use_bias:
                z = K.bias_add(z, self.bias)
            i = ra(z[:, :u])
            f = ra(z[:, u:2 * u])
            c = f * c_tm1 + i * act(z[:, 2 * u:3 * u])
            o = ra(z[:, 3 * u:])
        h = o * act(c)
        return h, [h, c]

    def get_config(self):
        return self._cell_config(self._gated_head(), {"implementation": self.implementation})


class GRUCell(_DropoutCell):
    """GRUCell(units, activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', kernel_regularizer=None, recurrent_regularizer=None,
    bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
    bias_constraint=None, dropout=0., recurrent_dropout=0., implementation=1,
    reset_after=False): one GRU step (Keras 2.2.4; 'hard_sigmoid' default as in 2.2.4).

    Weights `kernel` (input_dim, 3*units), `recurrent_kernel` (units, 3*units), `bias` (3*units,)
    or (2, 3*units) with reset_after (row 0 input bias, row 1 recurrent bias); blocks z, r, h.
    reset_after=False: hh = act(x W_h + b_h + (r*h) U_h); True: hh = act(x W_h + b_h^in +
    r*(h U_h + b_h^rec)); h = z*h_prev + (1-z)*hh."""

    def __init__(self, units, activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0., implementation=1,
                 reset_after=False, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, f"GRUCell ({self.name})")
        self.recurrent_activation = activations.get(recurrent_activation)
        self._set_cell_args(activation, use_bias, (kernel_initializer, recurrent_initializer, bias_initializer),
                            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
                            (kernel_constraint, recurrent_constraint, bias_constraint), dropout, recurrent_dropout)
        if int(implementation) not in (0, 1, 2):
            raise ValueError(f"GRUCell ({self.name}): implementation must be 1 or 2, got {implementation!r}")
        self.implementation = max(1, int(implementation))
        self.reset_after = bool(reset_after)
        self.state_size = self.units
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        self._add_weights((self._input_dim(input_shape), 3 * u), (u, 3 * u),
                          (2, 3 * u) if self.reset_after else (3 * u,))
        if self.bias is None:
            self.input_bias = self.recurrent_bias = None
        elif self.reset_after:
            self.input_bias, self.recurrent_bias = self.bias[0], self.bias[1]
        else:
            self.input_bias, self.recurrent_bias = self.bias, None

    def call(self, inputs, states, training=None):
        u = self.units
        h_tm1 = states[0]
        dp_mask, rec_dp_mask = self._masks(inputs, h_tm1, training, count=3)
        ra, act = self.recurrent_activation, self.activation
        k, rk = self.kernel, self.recurrent_kernel
        if self.implementation == 1:
            x_parts, h_parts = [], []
            for g in range(3):
                x_g = inputs * dp_mask[g] if dp_mask is not None else inputs
                z = K.dot(x_g, k[:, g * u:(g + 1) * u])
                if self.use_bias:
                    z = K.bias_add(z, self.input_bias[g * u:(g + 1) * u])
                x_parts.append(z)
                h_parts.append(h_tm1 * rec_dp_mask[g] if rec_dp_mask is not None else h_tm1)
            x_z, x_r, x_h = x_parts
            rec_z = K.dot(h_parts[0], rk[:, :u])
            rec_r = K.dot(h_parts[1], rk[:, u:2 * u])
            if self.reset_after and self.use_bias:
                rec_z = K.bias_add(rec_z, self.recurrent_bias[:u])
                rec_r = K.bias_add(rec_r, self.recurrent_bias[u:2 * u])
            z = ra(x_z + rec_z)
            r = ra(x_r + rec_r)
            if self.reset_after:
                rec_h = K.dot(h_parts[2], rk[:, 2 * u:])
                if self.use_bias:
                    rec_h = K.bias_add(rec_h, self.recurrent_bias[2 * u:])
                rec_h = r * rec_h
            else:
                rec_h = K.dot(r * h_parts[2], rk[:, 2 * u:])
            hh = act(x_h + rec_h)
        else:
            x = inputs * dp_mask[0] if dp_mask is not None else inputs
            matrix_x = K.dot(x, k)
            if self.use_bias:
                matrix_x = K.bias_add(matrix_x, self.input_bias)
            h = h_tm1 * rec_dp_mask[0] if rec_dp_mask is not None else h_tm1
            if self.reset_after:
                matrix_inner = K.dot(h, rk)
                if self.use_bias:
                    matrix_inner = K.bias_add(matrix_inner, self.recurrent_bias)
            else:
                matrix_inner = K.dot(h, rk[:, :2 * u])
            z = ra(matrix_x[:, :u] + matrix_inner[:, :u])
            r = ra(matrix_x[:, u:2 * u] + matrix_inner[:, u:2 * u])
            if self.reset_after:
                rec_h = r * matrix_inner[:, 2 * u:]
            else:
                rec_h = K.dot(r * h, rk[:, 2 * u:])
            hh = act(matrix_x[:, 2 * u:] + rec_h)
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]

    def get_config(self):
        return self._cell_config(self._gated_head(), {"implementation": self.implementation,
                                                      "reset_after": self.reset_after})


class StackedRNNCells(Layer):
    """StackedRNNCells(cells): several cells run one after the other at each step, so that an RNN
    of them behaves as a stack of RNN layers. States are a flat list in reverse order of the
    stack (Keras 2.2.4), so state_size[0] is the output size of the last cell."""

    def __init__(self, cells, **kwargs):
        cells = list(cells)
        if not cells:
            raise ValueError("StackedRNNCells: expected a non-empty list of cells")
        for cell in cells:
            if not hasattr(cell, "call"):
                raise ValueError(f"StackedRNNCells: all cells must have a `call` method, received {cell!r}")
            if not hasattr(cell, "state_size"):
                raise ValueError(f"StackedRNNCells: all cells must have a `state_size` attribute, received {cell!r}")
        self.cells = cells
        super().__init__(**kwargs)

    @property
    def state_size(self):
        sizes = []
        for cell in self.cells[::-1]:
            sizes += _state_sizes(cell)
        return tuple(sizes)

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _state_sizes(last)[0]

    def call(self, inputs, states, constants=None, **kwargs):
        states = list(states)
        nested = []
        for cell in self.cells[::-1]:
            n = len(_state_sizes(cell))
            nested.append(states[:n])
            states = states[n:]
        nested = nested[::-1]
        new_nested = []
        for cell, cell_states in zip(self.cells, nested):
            cell_kwargs = {k: v for k, v in kwargs.items() if has_arg(cell.call, k)}
            if constants is not None and has_arg(cell.call, "constants"):
                cell_kwargs["constants"] = constants
            inputs, new_states = cell.call(inputs, cell_states, **cell_kwargs)
            new_nested.append(to_list(new_states))
        flat = []
        for cell_states in new_nested[::-1]:
            flat += cell_states
        return inputs, flat

    def build(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(input_shape)
                cell.built = True
            out = getattr(cell, "output_size", None) or _state_sizes(cell)[0]
            input_shape = (input_shape[0], int(out))
            for item in getattr(cell, "_losses", []):
                if all(item is not mine for mine in self._losses):
                    self._losses.append(item)
        self.built = True

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for c in self.cells if isinstance(c, Layer) for w in c.trainable_weights]

    @trainable_weights.setter
    def trainable_weights(self, weights):
        self._trainable_weights = list(weights)

    @property
    def non_trainable_weights(self):
        weights = [w for c in self.cells if isinstance(c, Layer) for w in c.non_trainable_weights]
        if not self.trainable:
            weights = [w for c in self.cells if isinstance(c, Layer) for w in c.trainable_weights] + weights
        return weights

    @non_trainable_weights.setter
    def non_trainable_weights(self, weights):
        self._non_trainable_weights = list(weights)

    def get_config(self):
        cells = [{"class_name": c.__class__.__name__, "config": c.get_config()} for c in self.cells]
        config = {"cells": cells}
        return dict(list(super().get_config().items()) + list(config.items()))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_layer(c, custom_objects=custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)

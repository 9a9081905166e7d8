"""Convolutional recurrent layers (Keras 2.3 `keras.layers.convolutional_recurrent`): the
ConvLSTM2DCell, the ConvRNN2D base that runs a convolutional cell over the time axis of 5-D
inputs, and ConvLSTM2D.

As with the other recurrent layers, the loop is unrolled (K.rnn), so the number of timesteps
must be known when the layer is built.
"""
from __future__ import annotations

import numpy as np

from .. import activations, regularizers
from .. import backend as K
from ..engine.base_layer import InputSpec
from ._utils import conv_output_length, normalize_data_format, normalize_padding, normalize_tuple, shape_str
from .recurrent import RNN, _cell_property, _DropoutCell

__all__ = ["ConvLSTM2DCell", "ConvRNN2D", "ConvLSTM2D"]


def _check_filters(filters, who):
    if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
        raise ValueError(f"{who}: filters must be a positive integer, got {filters!r}")
    return int(filters)


class ConvLSTM2DCell(_DropoutCell):
    """ConvLSTM2DCell(filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1), activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', unit_forget_bias=True, kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
    recurrent_constraint=None, bias_constraint=None, dropout=0., recurrent_dropout=0.)

    One ConvLSTM step on a 4-D frame; states [h, c], each shaped like the output frame.
    Gates i, f, c, o: `z_g = conv(x, kernel_g) + bias_g + conv_same(h, recurrent_kernel_g)`,
    `c = f * c_prev + i * activation(z_c)`, `h = o * activation(c)`, where the input convolution
    uses strides, padding and dilation and the recurrent one stride 1 and 'same' padding.
    Weights (Keras 2 layout): `kernel` kernel_size + (in_channels, 4 * filters),
    `recurrent_kernel` kernel_size + (filters, 4 * filters), `bias` (4 * filters,), gate blocks
    i, f, c, o on the last axis; `unit_forget_bias` starts the f block of the bias at 1.
    dropout / recurrent_dropout: one mask per gate, per sequence, on the input / state frames."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.,
                 recurrent_dropout=0., **kwargs):
        super().__init__(**kwargs)
        who = f"ConvLSTM2DCell ({self.name})"
        self.filters = _check_filters(filters, who)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, 2, "strides", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.name)
        if any(s < 1 for s in self.strides + self.kernel_size + self.dilation_rate):
            raise ValueError(f"{who}: kernel_size, strides and dilation_rate must be positive, got "
                             f"{self.kernel_size}, {self.strides}, {self.dilation_rate}")
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._set_cell_args(activation, use_bias, (kernel_initializer, recurrent_initializer, bias_initializer),
                            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
                            (kernel_constraint, recurrent_constraint, bias_constraint), dropout, recurrent_dropout)
        self.state_size = (self.filters, self.filters)

    def _input_dim(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(f"ConvLSTM2DCell ({self.name}): expected a 4-D frame shape (batch, rows, cols, channels) "
                             f"or (batch, channels, rows, cols), got {shape_str(input_shape)}")
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if channels is None:
            raise ValueError(f"ConvLSTM2DCell ({self.name}): the channel dimension of the inputs should be defined, "
                             f"got input shape {shape_str(input_shape)}")
        return int(channels)

    def build(self, input_shape):
        f = self.filters
        self.kernel_shape = self.kernel_size + (self._input_dim(input_shape), 4 * f)
        self._add_weights(self.kernel_shape, self.kernel_size + (f, 4 * f), (4 * f,), forget_bias_units=f)

    def input_conv(self, x, w, b=None, padding="valid"):
        """The input convolution (strides, dilation, the given padding) plus bias."""
        out = K.conv2d(x, w, strides=self.strides, padding=padding, data_format=self.data_format,
                       dilation_rate=self.dilation_rate)
        if b is not None:
            out = K.bias_add(out, b, data_format=self.data_format)
        return out

    def recurrent_conv(self, x, w):
        """The state convolution: stride 1, 'same' padding, so the state keeps its shape."""
        return K.conv2d(x, w, strides=(1, 1), padding="same", data_format=self.data_format)

    def call(self, inputs, states, training=None):
        f = self.filters
        h_tm1, c_tm1 = states[0], states[1]
        dp_mask, rec_dp_mask = self._masks(inputs, h_tm1, training, count=4)
        if dp_mask is None and rec_dp_mask is None:
            # no per-gate masks: one convolution of each kind for all four gates, then split
            zz = self.input_conv(inputs, self.kernel, self.bias, padding=self.padding) \
                + self.recurrent_conv(h_tm1, self.recurrent_kernel)
            if self.data_format == "channels_first":
                z = [zz[:, g * f:(g + 1) * f] for g in range(4)]
            else:
                z = [zz[..., g * f:(g + 1) * f] for g in range(4)]
            return self._gates(z, c_tm1)
        z = []
        for g in range(4):
            x_g = inputs * dp_mask[g] if dp_mask is not None else inputs
            h_g = h_tm1 * rec_dp_mask[g] if rec_dp_mask is not None else h_tm1
            bias = self.bias[g * f:(g + 1) * f] if self.use_bias else None
            z.append(self.input_conv(x_g, self.kernel[:, :, :, g * f:(g + 1) * f], bias, padding=self.padding)
                     + self.recurrent_conv(h_g, self.recurrent_kernel[:, :, :, g * f:(g + 1) * f]))
        return self._gates(z, c_tm1)

    def _gates(self, z, c_tm1):
        ra, act = self.recurrent_activation, self.activation
        i, fg, o = ra(z[0]), ra(z[1]), ra(z[3])
        c = fg * c_tm1 + i * act(z[2])
        h = o * act(c)
        return h, [h, c]

    def get_config(self):
        return self._cell_config({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation), "use_bias": self.use_bias})


class ConvRNN2D(RNN):
    """ConvRNN2D(cell, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False): runs a convolutional cell (filters, kernel_size, strides,
    padding, dilation_rate, data_format) over the time axis of 5-D inputs (N, T, rows, cols,
    channels) or (N, T, channels, rows, cols). Cells cannot be stacked and `unroll=True` is a
    TypeError, as in Keras 2.3 (the loop is unrolled here regardless)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        if unroll:
            raise TypeError("Unrolling isn't possible with convolutional RNNs.")
        if isinstance(cell, (list, tuple)):
            raise TypeError("It is not possible at the moment to stack convolutional cells.")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=False, **kwargs)
        self.input_spec = [InputSpec(ndim=5)]
        self._state_shape = None

    def _frame_output_shape(self, input_shape):
        """(rows, cols) of the output frame for a 5-D input shape."""
        cell = self.cell
        if cell.data_format == "channels_first":
            rows, cols = input_shape[3], input_shape[4]
        else:
            rows, cols = input_shape[2], input_shape[3]
        rows = conv_output_length(rows, cell.kernel_size[0], cell.padding, cell.strides[0], cell.dilation_rate[0])
        cols = conv_output_length(cols, cell.kernel_size[1], cell.padding, cell.strides[1], cell.dilation_rate[1])
        return rows, cols

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        input_shape = tuple(input_shape)
        rows, cols = self._frame_output_shape(input_shape)
        f = self.cell.filters
        frame = (f, rows, cols) if self.cell.data_format == "channels_first" else (rows, cols, f)
        output_shape = (input_shape[0],) + ((input_shape[1],) if self.return_sequences else ()) + frame
        if self.return_state:
            return [output_shape] + [(input_shape[0],) + frame] * 2
        return output_shape

    def build(self, input_shape):
        rows, cols = self._frame_output_shape(self._checked_input_shape(input_shape))
        f = self.cell.filters
        self._state_shape = (f, rows, cols) if self.cell.data_format == "channels_first" else (rows, cols, f)
        super().build(input_shape)

    def _checked_input_shape(self, input_shape) -> tuple:
        """The input shape as a tuple, checked: rank 5 with known timesteps."""
        input_shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        if len(input_shape) != 5:
            raise ValueError(f"{self._who()}: expected an input of rank 5 (batch, timesteps, rows, cols, channels) "
                             f"or (batch, timesteps, channels, rows, cols), got shape {shape_str(input_shape)}")
        self._require_timesteps(input_shape)
        return input_shape

    def get_initial_state(self, inputs):
        """Zero states shaped like the output frame (batch, rows, cols, filters)."""
        frame = K.zeros_like(inputs[:, 0])  # (N, rows, cols, channels), or channels first
        shape = list(self.cell.kernel_shape)
        shape[-1] = self.cell.filters
        # a convolution with a zero kernel gives zeros of exactly the output frame's shape, known or not
        zeros = np.zeros(tuple(shape), dtype=K.dtype(inputs))
        state = self.cell.input_conv(frame, zeros, padding=self.cell.padding)
        return [state, state]

    def _full_state_shapes(self) -> list:
        """The shape (batch_size,) + output frame of both states [h, c] of a stateful layer."""
        batch_size = self._batch_size
        if batch_size is None:
            raise ValueError(f"{self._who()}: a stateful RNN needs to know its batch size. Specify the batch size of "
                             "your input tensors: for a Sequential model, give the first layer "
                             "`batch_input_shape=(batch_size, timesteps, rows, cols, channels)`; for a functional "
                             "model, an Input with `batch_shape=(...)`")
        if self._state_shape is None or None in self._state_shape:
            raise ValueError(f"{self._who()}: a stateful ConvLSTM2D needs fixed spatial dimensions, got state shape "
                             f"{shape_str((batch_size,) + tuple(self._state_shape or ()))}")
        return [(batch_size,) + self._state_shape] * 2


_CELL_ARGS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
              "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout")


class ConvLSTM2D(ConvRNN2D):
    """ConvLSTM2D(filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
    dilation_rate=(1, 1), activation='tanh', recurrent_activation='hard_sigmoid', use_bias=True,
    kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', unit_forget_bias=True, kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
    return_sequences=False, go_backwards=False, stateful=False, dropout=0., recurrent_dropout=0.)

    Convolutional LSTM (Shi et al. 2015): an LSTM whose input and recurrent transformations are
    convolutions (see ConvLSTM2DCell for the step and the weight layout). Input 5-D
    (N, T, rows, cols, channels) or (N, T, channels, rows, cols) with data_format
    'channels_first'; output the last frame (N, new_rows, new_cols, filters), or every frame with
    return_sequences; `return_state=True` (a keyword, as in Keras) appends the states [h, c]."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 activation="tanh", recurrent_activation="hard_sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 return_sequences=False, go_backwards=False, stateful=False, dropout=0., recurrent_dropout=0.,
                 **kwargs):
        cell = ConvLSTM2DCell(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                              data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                              recurrent_activation=recurrent_activation, use_bias=use_bias,
                              kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                              bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                              kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                              bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                              recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                              dropout=dropout, recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, go_backwards=go_backwards, stateful=stateful,
                         **kwargs)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def get_config(self):
        return self._layer_config(_CELL_ARGS)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


for _attr in _CELL_ARGS:
    setattr(ConvLSTM2D, _attr, _cell_property(_attr))

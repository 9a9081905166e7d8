"""CuDNNLSTM and CuDNNGRU (Keras 2.3 signatures) with cuDNN's weight layout, on every backend.

Keras 2 runs these layers only through cuDNN on a GPU. keraslite computes the same equations
with ordinary backend ops, so models (and files) built with them run anywhere:

* Keras 2 hands each gate's block of `kernel` and `recurrent_kernel` to cuDNN as a flat buffer,
  which cuDNN reads as its row-major (units, input) matrix W_g (gate = W_g . x). So the block
  `kernel[:, g*u:(g+1)*u]` of shape (input_dim, units) holds W_g's buffer: the matrix applied is
  `reshape(block, (units, input_dim)).T`, and for the square recurrent block it is `block.T`.
  keraslite applies exactly that, which is why files from Keras 2 GPU models load as they are
  (and why these weights differ from an LSTM's: Keras converts them when loading into one);
* the input projection `x_t . W + input bias` is one product over the whole sequence (as cuDNN
  does it); the recurrence then only multiplies the state by the recurrent matrix;
* cuDNN keeps two bias vectors, one added to the input projection and one to the recurrent
  projection. `bias` holds both: (8*units,) for the LSTM (input biases i, f, c, o, then recurrent
  biases i, f, c, o), (6*units,) for the GRU (input z, r, h, then recurrent z, r, h);
* LSTM: gates i, f, o = sigmoid(...), candidate tanh(...), c = f*c + i*cand, h = o*tanh(c)
  (identical to LSTM(recurrent_activation='sigmoid') with bias = input + recurrent biases);
* GRU: z, r = sigmoid(x W + b_x + h U + b_h), h~ = tanh(x W_h + b_xh + r*(h U_h + b_hh)),
  h = z*h_prev + (1-z)*h~: the reset gate acts after the recurrent product, cuDNN's placement
  (identical to GRU(reset_after=True, recurrent_activation='sigmoid') with bias reshaped (2, 3u)).

There is no dropout, no masking and no unrolling choice, as in Keras 2.3.
"""
from __future__ import annotations

import numpy as np

from .. import regularizers
from .. import backend as K
from ..engine.base_layer import Layer
from ._recurrent_cells import _check_units, add_recurrent_weights, initial_part, set_weight_args, weight_args_config
from .recurrent import RNN

__all__ = ["CuDNNLSTM", "CuDNNGRU"]


class _CuDNNKernel(Layer):
    """The weights and the recurrent step of a cuDNN layer (internal: `call` takes the projected
    inputs, x_t . kernel + input bias, not the raw x_t). Subclasses give `gates`, `input_bias()`
    (the bias added to the input projection) and `call`."""

    gates = 0

    def __init__(self, units, weight_args, **kwargs):
        """`weight_args`: the (kernel, recurrent, bias) triples of initializers, regularizers and
        constraints, as set_weight_args takes them."""
        super().__init__(**kwargs)
        self.units = units
        set_weight_args(self, *weight_args)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the feature axis of the input must be known")
        g, u = self.gates, self.units
        add_recurrent_weights(self, (int(input_shape[-1]), g * u), (u, g * u), (2 * g * u,), self._bias_initializer())
        self.built = True

    def _gate_matrices(self, weight, rows: int):
        """The matrices cuDNN applies, from Keras's storage of its per-gate buffers (see above)."""
        u = self.units
        blocks = [K.transpose(K.reshape(weight[:, g * u:(g + 1) * u], (u, rows))) for g in range(self.gates)]
        return K.concatenate(blocks, axis=1)

    def project(self, inputs):
        """x . W + input bias for every timestep at once: (N, T, F) -> (N, T, gates*units). Also
        prepares the recurrent matrix the steps of this call use."""
        input_dim = int(K.int_shape(self.kernel)[0])
        self._recurrent = self._gate_matrices(self.recurrent_kernel, self.units)
        return K.bias_add(K.dot(inputs, self._gate_matrices(self.kernel, input_dim)), self.input_bias())


class _CuDNNLSTMKernel(_CuDNNKernel):
    gates = 4

    def __init__(self, units, weight_args, unit_forget_bias=True, **kwargs):
        super().__init__(units, weight_args, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = (units, units)
        self.output_size = units

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = self.bias_initializer, self.units

        def bias_initializer(shape, dtype=None):
            # the 1 goes into the recurrent half's forget block (index 5u:6u), as Keras 2.3 does
            dt = dtype or K.floatx()
            return np.concatenate([initial_part(base, 5 * u, dt), np.ones((u,), dtype=dt),
                                   initial_part(base, 2 * u, dt)]).astype(dt)
        return bias_initializer

    def input_bias(self):
        n = 4 * self.units
        return self.bias[:n] + self.bias[n:]

    def call(self, inputs, states):
        u = self.units
        h_tm1, c_tm1 = states[0], states[1]
        z = inputs + K.dot(h_tm1, self._recurrent)
        i = K.sigmoid(z[:, :u])
        f = K.sigmoid(z[:, u:2 * u])
        c = f * c_tm1 + i * K.tanh(z[:, 2 * u:3 * u])
        o = K.sigmoid(z[:, 3 * u:])
        h = o * K.tanh(c)
        return h, [h, c]


class _CuDNNGRUKernel(_CuDNNKernel):
    gates = 3

    def __init__(self, units, weight_args, **kwargs):
        super().__init__(units, weight_args, **kwargs)
        self.state_size = units
        self.output_size = units

    def input_bias(self):
        return self.bias[:3 * self.units]

    def call(self, inputs, states):
        u = self.units
        h_tm1 = states[0]
        rec = K.bias_add(K.dot(h_tm1, self._recurrent), self.bias[3 * u:])
        z = K.sigmoid(inputs[:, :u] + rec[:, :u])
        r = K.sigmoid(inputs[:, u:2 * u] + rec[:, u:2 * u])
        hh = K.tanh(inputs[:, 2 * u:] + r * rec[:, 2 * u:])
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h]


_KERNEL_ARGS = ("kernel_initializer", "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
                "bias_constraint")


class _CuDNNRNN(RNN):
    """The shared layer: an RNN over the projected inputs (no masking, dropout or `unroll`)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 activity_regularizer=None, **kwargs):
        for key in ("unroll", "dropout", "recurrent_dropout", "implementation", "time_major"):
            if key in kwargs:
                raise TypeError(f"Keyword argument not understood: {key!r} (layer {type(self).__name__}: "
                                "cuDNN layers have no dropout, unrolling or time-major option)")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **kwargs)
        self.supports_masking = False
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def call(self, inputs, mask=None, training=None, initial_state=None, constants=None):
        if mask is not None and not (isinstance(mask, list) and all(m is None for m in mask)):
            raise TypeError(f"Layer {self.name} ({type(self).__name__}) does not support masking, but was passed an "
                            "input mask (cuDNN layers ignore no timesteps: remove the Masking/mask_zero, or use "
                            "LSTM/GRU)")
        if constants:
            raise ValueError(f"{self._who()}: cuDNN layers do not take constants")
        if isinstance(inputs, list):
            inputs = [self.cell.project(inputs[0])] + list(inputs[1:])
        else:
            inputs = self.cell.project(inputs)
        return RNN.call(self, inputs, mask=None, training=training, initial_state=initial_state)

    def compute_mask(self, inputs, mask=None):
        if self.return_state:
            return [None] * (1 + len(np.atleast_1d(self.cell.state_size)))
        return None

    def _kernel_config(self):
        config = {"units": self.cell.units}
        config.update(weight_args_config(self.cell, after_regularizers={
            "activity_regularizer": regularizers.serialize(self.activity_regularizer)}))
        return config

    def get_config(self):
        config = RNN.get_config(self)
        for key in ("cell", "unroll", "num_constants"):
            config.pop(key, None)
        config.update(self._kernel_config())
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _kernel_property(attr):
    return property(lambda self: getattr(self.cell, attr), doc=f"The layer's `{attr}` (kept by its kernel object).")


# units, initializers, regularizers, constraints and the weights live on the kernel object
for _attr in ("units", "kernel", "recurrent_kernel", "bias") + _KERNEL_ARGS:
    setattr(_CuDNNRNN, _attr, _kernel_property(_attr))


class CuDNNLSTM(_CuDNNRNN):
    """CuDNNLSTM(units, kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', unit_forget_bias=True, kernel_regularizer=None,
    recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
    kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
    return_sequences=False, return_state=False, go_backwards=False, stateful=False):
    Keras 2's fast LSTM with cuDNN's weights, computed with the same equations on any backend.

    Weights `kernel` (input_dim, 4*units), `recurrent_kernel` (units, 4*units) and `bias`
    (8*units,): the input biases then the recurrent biases, gate blocks i, f, c, o in each; each
    kernel block holds cuDNN's buffer of that gate's matrix (see the module docstring).
    `unit_forget_bias` puts 1 in the recurrent forget-gate block at initialisation. States [h, c].
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, **kwargs):
        cell = _CuDNNLSTMKernel(_check_units(units, "CuDNNLSTM", exact=True), (
            (kernel_initializer, recurrent_initializer, bias_initializer),
            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
            (kernel_constraint, recurrent_constraint, bias_constraint)), unit_forget_bias=unit_forget_bias)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)

    unit_forget_bias = _kernel_property("unit_forget_bias")

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.cell.unit_forget_bias
        return config


class CuDNNGRU(_CuDNNRNN):
    """CuDNNGRU(units, kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal',
    bias_initializer='zeros', kernel_regularizer=None, recurrent_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
    recurrent_constraint=None, bias_constraint=None, return_sequences=False, return_state=False,
    go_backwards=False, stateful=False): Keras 2's fast GRU with cuDNN's weights and cuDNN's
    reset-gate placement, computed with the same equations on any backend.

    Weights `kernel` (input_dim, 3*units), `recurrent_kernel` (units, 3*units) and `bias`
    (6*units,): the input biases then the recurrent biases, gate blocks z, r, h in each; each
    kernel block holds cuDNN's buffer of that gate's matrix (see the module docstring).
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, **kwargs):
        cell = _CuDNNGRUKernel(_check_units(units, "CuDNNGRU", exact=True), (
            (kernel_initializer, recurrent_initializer, bias_initializer),
            (kernel_regularizer, recurrent_regularizer, bias_regularizer),
            (kernel_constraint, recurrent_constraint, bias_constraint)))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)

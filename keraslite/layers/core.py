"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Permute, RepeatVector, Lambda,
ActivityRegularization, SpatialDropout1D/2D, Masking (Keras 2.2/2.3 semantics)."""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, regularizers
from .. import backend as K
from ..engine.base_layer import InputSpec, Layer
from ..serialization import resolve_function
from ..utils.generic_utils import has_arg
from ._utils import weight_args_config, normalize_data_format, shape_str


class Masking(Layer):
    """Masking(mask_value=0.0): masks timesteps whose features all equal `mask_value`."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.mask_value = mask_value

    def compute_mask(self, inputs, mask=None):
        return K.any(K.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        boolean_mask = K.any(K.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return inputs * K.cast(boolean_mask, K.dtype(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"mask_value": self.mask_value}
        return dict(list(super().get_config().items()) + list(config.items()))


class Dropout(Layer):
    """Dropout(rate, noise_shape=None, seed=None): inverted dropout in the training phase,
    identity at test time. `rate` is clamped to [0, 1]."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = min(1.0, max(0.0, float(rate)))
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def _get_noise_shape(self, inputs):
        return self.noise_shape

    def call(self, inputs, training=None):
        if 0.0 < self.rate < 1.0:
            noise_shape = self._get_noise_shape(inputs)

            def dropped_inputs():
                return K.dropout(inputs, self.rate, noise_shape, seed=self.seed)
            return K.in_train_phase(dropped_inputs, inputs, training=training)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
        return dict(list(super().get_config().items()) + list(config.items()))


class SpatialDropout1D(Dropout):
    """SpatialDropout1D(rate): drops whole feature maps of (N, steps, channels)."""

    def __init__(self, rate, **kwargs):
        super().__init__(rate, **kwargs)
        self.input_spec = InputSpec(ndim=3)

    def _get_noise_shape(self, inputs):
        return (None, 1, None)


class SpatialDropout2D(Dropout):
    """SpatialDropout2D(rate, data_format=None): drops whole 2-D feature maps."""

    def __init__(self, rate, data_format=None, **kwargs):
        super().__init__(rate, **kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def _get_noise_shape(self, inputs):
        if self.data_format == "channels_first":
            return (None, None, 1, 1)
        return (None, 1, 1, None)

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class SpatialDropout3D(Dropout):
    """SpatialDropout3D(rate, data_format=None): drops whole 3-D feature maps of
    (N, dim1, dim2, dim3, channels) (channels_last) or (N, channels, dim1, dim2, dim3): one keep/drop
    draw per sample and channel, kept maps scaled by 1 / (1 - rate), in the training phase only."""

    def __init__(self, rate, data_format=None, **kwargs):
        super().__init__(rate, **kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=5)

    def _get_noise_shape(self, inputs):
        if self.data_format == "channels_first":
            return (None, None, 1, 1, 1)
        return (None, 1, 1, 1, None)

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class Activation(Layer):
    """Activation(activation): applies an activation function (a name or a callable)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"activation": activations.serialize(self.activation)}
        return dict(list(super().get_config().items()) + list(config.items()))


class Reshape(Layer):
    """Reshape(target_shape): reshape the non-batch axes; at most one entry may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            self.target_shape = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError(f"Reshape ({self.name}): target_shape must be a tuple of ints, got "
                             f"{target_shape!r}") from None
        if sum(d < 0 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape ({self.name}): can only specify one unknown dimension (-1), got "
                             f"target_shape={self.target_shape}")
        if any(d < -1 for d in self.target_shape):
            raise ValueError(f"Reshape ({self.name}): invalid target_shape {self.target_shape}")

    def _fix_unknown_dimension(self, input_shape, output_shape):
        output_shape = list(output_shape)
        msg = (f"Reshape ({self.name}): total size of new array must be unchanged: cannot reshape input "
               f"{shape_str(tuple(input_shape))} to target_shape {tuple(self.target_shape)}")
        known, unknown = 1, None
        for index, dim in enumerate(output_shape):
            if dim < 0:
                unknown = index
            else:
                known *= dim
        original = int(np.prod(input_shape, dtype=np.int64))
        if unknown is not None:
            if known == 0 or original % known != 0:
                raise ValueError(msg)
            output_shape[unknown] = original // known
        elif original != known:
            raise ValueError(msg)
        return tuple(output_shape)

    def compute_output_shape(self, input_shape):
        if None in input_shape[1:]:
            return (input_shape[0],) + tuple(s if s != -1 else None for s in self.target_shape)
        return (input_shape[0],) + self._fix_unknown_dimension(input_shape[1:], self.target_shape)

    def call(self, inputs):
        shape = K.int_shape(inputs)
        if None not in shape[1:]:
            target = self._fix_unknown_dimension(shape[1:], self.target_shape)
            return K.reshape(inputs, (-1,) + target)
        if -1 not in self.target_shape:
            return K.reshape(inputs, (-1,) + self.target_shape)
        return K.reshape(inputs, (K.shape(inputs)[0],) + self.target_shape)

    def get_config(self):
        config = {"target_shape": self.target_shape}
        return dict(list(super().get_config().items()) + list(config.items()))


class Permute(Layer):
    """Permute(dims): permute the non-batch axes; dims is a 1-based permutation, e.g. (2, 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Invalid permutation `dims` for Permute layer {self.name}: {dims}. The set of "
                             f"indices in `dims` must be consecutive and start from 1.")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def compute_output_shape(self, input_shape):
        input_shape = list(input_shape)
        output_shape = list(input_shape)
        for i, dim in enumerate(self.dims):
            output_shape[i + 1] = input_shape[dim]
        return tuple(output_shape)

    def call(self, inputs):
        return K.permute_dimensions(inputs, (0,) + self.dims)

    def get_config(self):
        config = {"dims": self.dims}
        return dict(list(super().get_config().items()) + list(config.items()))


class Flatten(Layer):
    """Flatten(data_format=None): (N, d1, ..., dk) -> (N, d1*...*dk); channels_first inputs are
    flattened in channels_last order."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(min_ndim=3)
        self.data_format = normalize_data_format(data_format)

    def _check(self, input_shape):
        if None in tuple(input_shape[1:]):
            raise ValueError(f"The shape of the input to \"Flatten\" (layer {self.name}) is not fully defined "
                             f"(got {shape_str(tuple(input_shape[1:]))}). Make sure to pass a complete "
                             "\"input_shape\" or \"batch_input_shape\" argument to the first layer in your model.")

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64)))

    def call(self, inputs):
        self._check(K.int_shape(inputs))
        if self.data_format == "channels_first":
            permutation = [0] + list(range(2, K.ndim(inputs))) + [1]
            inputs = K.permute_dimensions(inputs, permutation)
        return K.batch_flatten(inputs)

    def get_config(self):
        config = {"data_format": self.data_format}
        return dict(list(super().get_config().items()) + list(config.items()))


class RepeatVector(Layer):
    """RepeatVector(n): (N, d) -> (N, n, d)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def call(self, inputs):
        return K.repeat(inputs, self.n)

    def get_config(self):
        config = {"n": self.n}
        return dict(list(super().get_config().items()) + list(config.items()))


# ---------------------------------------------------------------------------------------------
# Lambda: functions are serialised by reference (module + name), never as code.


def _function_reference(fn):
    """(name, type, module) describing `fn` by reference. type 'function' can be found again by
    name; 'lambda' (lambdas, local functions, callable objects) cannot be rebuilt from a config."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    module = getattr(fn, "__module__", None)
    if name is None:  # a callable object
        return type(fn).__qualname__, "lambda", type(fn).__module__
    if "<lambda>" in name or "<locals>" in name:
        return name, "lambda", module
    return name, "function", module


def _resolve_function(name, ftype, module, custom_objects, layer_name, what, safe_mode=None):
    # one policy for every config: keraslite.serialization.resolve_function
    return resolve_function(name, module, custom_objects, function_type=ftype, layer_name=layer_name, what=what,
                            safe_mode=safe_mode)


class Lambda(Layer):
    """Lambda(function, output_shape=None, mask=None, arguments=None): wraps `function(inputs,
    **arguments)` as a layer. Configs refer to functions by module and name."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda layer {self.name}: `function` must be callable, got {function!r}")
        self.function = function
        self.arguments = dict(arguments) if arguments else {}
        if mask is not None:
            self.supports_masking = True
        self.mask = mask
        if isinstance(output_shape, list) and output_shape and not isinstance(output_shape[0], (list, tuple)):
            output_shape = tuple(output_shape)
        self._output_shape = output_shape

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            if isinstance(input_shape, list):
                xs = [K.placeholder(shape=tuple(s)) for s in input_shape]
                x = self.call(xs)
            else:
                x = self.call(K.placeholder(shape=tuple(input_shape)))
            if isinstance(x, (list, tuple)):
                return [tuple(K.int_shape(t)) for t in x]
            return tuple(K.int_shape(x))
        if callable(self._output_shape):
            shape = self._output_shape(input_shape)
            if not isinstance(shape, (list, tuple)):
                raise ValueError(f"Lambda layer {self.name}: the `output_shape` function must return a tuple or a "
                                 f"list of tuples, got {shape!r}")
            if isinstance(shape, list) and (not shape or isinstance(shape[0], int) or shape[0] is None):
                shape = tuple(shape)
            return shape
        if isinstance(input_shape, list):
            num_samples = input_shape[0][0]
        else:
            num_samples = input_shape[0] if input_shape else None
        if isinstance(self._output_shape, list):
            return [(num_samples,) + tuple(s) for s in self._output_shape]
        return (num_samples,) + tuple(self._output_shape)

    def call(self, inputs, mask=None):
        arguments = dict(self.arguments)
        if has_arg(self.function, "mask"):
            arguments["mask"] = mask
        return self.function(inputs, **arguments)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self):
        function, function_type, module = _function_reference(self.function)
        if callable(self._output_shape):
            output_shape, output_shape_type, output_shape_module = _function_reference(self._output_shape)
        else:
            output_shape, output_shape_type, output_shape_module = self._output_shape, "raw", None
        config = {"function": function, "module": module, "function_type": function_type,
                  "output_shape": output_shape, "output_shape_type": output_shape_type,
                  "output_shape_module": output_shape_module, "arguments": self.arguments}
        if self.mask is not None and not callable(self.mask):
            config["mask"] = self.mask
        return dict(list(super().get_config().items()) + list(config.items()))

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """from_config(config, custom_objects=None, safe_mode=None): functions are resolved by
        keraslite.serialization's policy (offered objects and keraslite's public functions;
        safe_mode=False adds functions of imported modules); bytecode is never run."""
        config = dict(config)
        name = config.get("name")
        if "function" not in config:
            raise ValueError(f"Lambda layer {name!r}: its config has no 'function'")
        module = config.pop("module", None)
        function_type = config.pop("function_type", "function")
        config["function"] = _resolve_function(config["function"], function_type, module, custom_objects, name,
                                               "function", safe_mode)
        output_shape_module = config.pop("output_shape_module", None)
        output_shape_type = config.pop("output_shape_type", "raw")
        if output_shape_type in ("function", "lambda"):
            config["output_shape"] = _resolve_function(config["output_shape"], output_shape_type,
                                                       output_shape_module, custom_objects, name, "output_shape",
                                                       safe_mode)
        elif isinstance(config.get("output_shape"), list):
            shape = config["output_shape"]
            config["output_shape"] = ([tuple(s) for s in shape] if shape and isinstance(shape[0], (list, tuple))
                                      else tuple(shape))
        if "arguments" in config and config["arguments"]:
            arguments = dict(config["arguments"])
            for key, value in arguments.items():  # Keras 2: NumPy arrays are stored as tagged lists
                if isinstance(value, dict) and value.get("type") == "ndarray":
                    arguments[key] = np.array(value["value"])
            config["arguments"] = arguments
        return cls(**config)


class Dense(Layer):
    """Dense(units, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
    bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None,
    activity_regularizer=None, kernel_constraint=None, bias_constraint=None): activation(x . kernel
    + bias) on the last axis of an input of rank >= 2. Also accepts input_dim."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        if "input_shape" not in kwargs and "input_dim" in kwargs:
            kwargs["input_shape"] = (kwargs.pop("input_dim"),)
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense ({self.name}): units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"Dense ({self.name}) expects an input of rank >= 2, got shape {shape_str(input_shape)}")
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense ({self.name}): the last dimension of the inputs should be defined, found None "
                             f"(input shape {shape_str(input_shape)})")
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, self.units),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        output = K.dot(inputs, self.kernel)
        if self.use_bias:
            output = K.bias_add(output, self.bias, data_format="channels_last")
        if self.activation is not None:
            output = self.activation(output)
        return output

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense ({self.name}): expected an input of rank >= 2 with a defined last dimension, "
                             f"got {shape_str(input_shape)}")
        return input_shape[:-1] + (self.units,)

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self),
        }
        return dict(list(super().get_config().items()) + list(config.items()))


class ActivityRegularization(Layer):
    """ActivityRegularization(l1=0.0, l2=0.0): identity that adds an L1/L2 penalty on its output
    to the loss."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.activity_regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"l1": self.l1, "l2": self.l2}
        return dict(list(super().get_config().items()) + list(config.items()))

"""What the convolution and pooling ops of every rank share: Keras padding modes turned into
explicit (before, after) pads, the run-time geometry of 'same' padding, channels-first
transposes, and the parsing of a transposed convolution's output_shape."""
from __future__ import annotations

import numpy as np

from ..graph import Constant, Tensor, as_tensor
from .shape import permute_dimensions

# ---------------------------------------------------------------------------------------------
# geometry


def _tuple(value, n, name, who):
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v < 1 for v in value):
        raise ValueError(f"{who}: {name} must be {n} positive ints, got {value!r}")
    return value


def _out_len(size, k, s, pad_pair, d):
    if size is None:
        return None
    if pad_pair == "same":  # deferred (see _pads): ceil(size / stride)
        return -(-size // s)
    span = d * (k - 1) + 1
    padded = size + pad_pair[0] + pad_pair[1]
    if padded < span:
        return -1
    return (padded - span) // s + 1


def _pads(padding, spatial, kernel, strides, dilation, who):
    """Explicit (before, after) pairs for Keras padding modes."""
    padding = str(padding).lower()
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    if padding == "same":
        if any(size is None for size in spatial):
            # the pads depend on sizes known only at run time: the op carries 'same' and its step
            # resolves the pads from the actual arrays (_runtime_geometry)
            return "same"
        pads = []
        for size, k, s, d in zip(spatial, kernel, strides, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")


def _axis_pad(padding, axis):
    return padding if padding == "same" else padding[axis]


def _same_pads(spatial, kernel, strides, dilation):
    return _pads("same", tuple(int(d) for d in spatial), kernel, strides, dilation, "same padding")


# What each op's 'same' padding is measured on, from its run-time arrays and attributes:
# (spatial size, kernel size, dilation). Filled by ops/spatial.py, which defines the ops.
_GEOMETRY: dict = {}


def _runtime_geometry(node, backend):
    """The step of a conv/pool op. Static geometry binds the backend primitive as usual; when the
    graph left 'same' padding or a backprop's input_shape open (unknown spatial sizes), the step
    resolves them from the arrays of each call, the last input then being the tensor whose shape
    input_shape stands for. The backend primitives only ever see explicit geometry."""
    attrs = node.attrs
    deferred_pad = attrs.get("padding") == "same"
    deferred_shape = "input_shape" in attrs and attrs["input_shape"] is None
    if not (deferred_pad or deferred_shape):
        return backend.primitive(node.op, attrs)
    geometry = _GEOMETRY[node.op]
    bound: dict = {}  # resolved geometry -> the backend's step for it (few distinct sizes per plan)

    def step(*arrays, **out):
        a = dict(attrs)
        if deferred_shape:
            ref = arrays[-1]
            if len(ref.shape) == 1:  # a shape vector: its values, not its shape
                a["input_shape"] = tuple(int(v) for v in backend.to_numpy(ref)[1:])
            else:
                a["input_shape"] = tuple(ref.shape[1:])
            arrays = arrays[:-1]
        if deferred_pad:
            spatial, kernel, dilation = geometry(arrays, a)
            a["padding"] = _same_pads(spatial, kernel, a["strides"], dilation)
        key = tuple(sorted(a.items()))
        fn = bound.get(key)
        if fn is None:
            fn = bound[key] = backend.primitive(node.op, a)
        return fn(*arrays, **out)
    step.forwards_out = True  # `out=` reaches the primitive (compiler.py's memory plan)
    return step


def _to_last(x, data_format):
    if data_format == "channels_first":
        return permute_dimensions(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return x


def _from_last(x, data_format):
    if data_format == "channels_first":
        return permute_dimensions(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))
    return x


def _check_float(x, kernel, who):
    if x.dtype != kernel.dtype:
        from .math import cast
        kernel = cast(kernel, x.dtype)
    return kernel


def _shape_vector(output_shape, order):
    """output_shape (a 1-D int tensor, or entries that are ints or scalar tensors) as one int32
    vector in channels_last order."""
    from .math import cast
    from .shape import gather, stack
    if isinstance(output_shape, Tensor):
        return gather(cast(output_shape, "int32"), list(order))
    entries = [cast(as_tensor(d), "int32") if isinstance(d, Tensor) else as_tensor(np.int32(-1 if d is None else d))
               for d in output_shape]
    return stack([entries[i] for i in order], axis=0)


def _static_scalar(t):
    """The int value of a scalar tensor known when the graph is built, else None."""
    if isinstance(t, Constant):
        return int(np.asarray(t.value).reshape(()))
    if (t.op == "cast" or (t.op == "reshape" and len(t.inputs) == 1 and t.inputs[0].ndim == 0)) and t.inputs:
        return _static_scalar(t.inputs[0])
    return None


def _static_entries(t, who):
    """Per-entry static values (int or None) of a 1-D int tensor such as K.stack([...])."""
    if t.ndim != 1 or t.shape[0] is None:
        raise ValueError(f"{who}: output_shape must be a tuple or a 1-D tensor of known length, got {t!r}")
    if isinstance(t, Constant):
        return [int(v) for v in np.asarray(t.value).reshape(-1)]
    if t.op == "cast" or (t.op == "strided_slice" and all(k == slice(None) for k in t.attrs["key"])
                          and len(t.attrs["key"]) == t.inputs[0].ndim):  # cast, K.identity
        return _static_entries(t.inputs[0], who)
    if t.op == "concatenate" and t.attrs.get("axis") == 0:
        return [e for i in t.inputs for e in _static_entries(i, who)]
    if t.op == "reshape" and len(t.inputs) == 1 and t.inputs[0].ndim == 0:  # K.stack's expand_dims
        return [_static_scalar(t.inputs[0])]
    return [None] * t.shape[0]


def _output_shape_entries(output_shape, who):
    """output_shape as a tuple of ints with None where the value is only known at run time (a
    tensor batch entry, as Keras's Conv2DTranspose passes K.shape(inputs)[0])."""
    if isinstance(output_shape, Tensor):
        return tuple(_static_entries(output_shape, who))
    out = []
    for d in output_shape:
        if d is None:
            out.append(None)
        elif isinstance(d, Tensor):
            if d.ndim != 0:
                raise ValueError(f"{who}: output_shape entries must be scalars, got {d!r}")
            out.append(_static_scalar(d))
        else:
            out.append(int(d))
    return tuple(out)


def _avgpool_bp_infer(g, *ref, input_shape, **geo):
    spatial = tuple(input_shape) if input_shape is not None else ref[0].shape[1:]
    return (g.shape[0],) + spatial, g.dtype

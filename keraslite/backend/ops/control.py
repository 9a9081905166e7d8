"""Control flow and the learning phase: switch, in_train_phase, in_test_phase."""
from __future__ import annotations

import numpy as np

from .. import config
from ..graph import Placeholder, Tensor, as_tensor, defop, shape_str
from .math import cast, where

_learning_phase: list = [None]


def learning_phase():
    """learning_phase(): the learning-phase flag (0 = test, 1 = train). A scalar bool placeholder
    defaulting to 0, which K.function accepts as an input, unless set_learning_phase fixed it."""
    fixed = config._state["learning_phase_value"]
    if fixed is not None:
        return fixed
    if _learning_phase[0] is None:
        _learning_phase[0] = Placeholder((), "bool", name="keras_learning_phase", default=False)
    return _learning_phase[0]


def set_learning_phase(value):
    """set_learning_phase(value): fix the learning phase to 0 (test) or 1 (train)."""
    if value not in (0, 1):
        raise ValueError(f"set_learning_phase: expected 0 or 1, got {value!r}")
    config._state["learning_phase_value"] = int(value)


def clear_session():
    """clear_session(): reset layer name counters and the learning phase. Existing tensors stay
    valid in keraslite (there is no global graph to destroy)."""
    config.reset_uids()
    config._state["learning_phase_value"] = None
    _learning_phase[0] = None


def _value(x):
    return x() if callable(x) and not isinstance(x, Tensor) else x


def switch(condition, then_expression, else_expression):
    """switch(condition, then_expression, else_expression): select between two tensors (or
    zero-argument callables). A scalar condition picks one whole expression; a tensor condition
    selects elementwise, a lower-rank one being padded with trailing length-1 axes."""
    if isinstance(condition, (bool, int)) and not isinstance(condition, Tensor):
        return as_tensor(_value(then_expression) if condition else _value(else_expression))
    cond = as_tensor(condition)
    then_t = as_tensor(_value(then_expression))
    else_t = as_tensor(_value(else_expression))
    if cond.dtype != "bool":
        cond = cast(cond, "bool")
    if cond.ndim:
        expr_ndim = max(then_t.ndim, else_t.ndim)
        if cond.ndim > expr_ndim:
            raise ValueError(f"switch: the condition {shape_str(cond.shape)} has a higher rank than the "
                             f"expressions {shape_str(then_t.shape)} / {shape_str(else_t.shape)}")
        if cond.ndim < expr_ndim:
            from .shape import expand_axes
            cond = expand_axes(cond, tuple(range(cond.ndim, expr_ndim)))
    out = where(cond, then_t, else_t)
    out._uses_learning_phase = True
    return out


def in_train_phase(x, alt, training=None):
    """in_train_phase(x, alt, training=None): x when training, alt otherwise. `training` may be a
    Python bool/int (decided now) or a tensor; None uses learning_phase()."""
    if training is None:
        training = learning_phase()
    if not isinstance(training, Tensor):
        return _value(x) if training else _value(alt)
    out = switch(training, x, alt)
    out._uses_learning_phase = True
    return out


def in_test_phase(x, alt, training=None):
    """in_test_phase(x, alt, training=None): x at test time, alt in training."""
    return in_train_phase(alt, x, training=training)


# ---------------------------------------------------------------------------------------------
# loops: keraslite graphs are static, so loops are unrolled and need a known length


def _static_length(n, who, what):
    if n is None:
        raise ValueError(f"{who}: the length of {what} must be known when the graph is built "
                         "(keraslite unrolls loops); give a fixed shape or input_length")
    return int(n)


def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None,
        unroll=False, input_length=None):
    """rnn(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None,
    unroll=False, input_length=None) -> (last_output, outputs, new_states).

    Iterates step_function(input_t, states + constants) -> (output_t, new_states) over axis 1 of
    inputs (N, T, ...). A masked step (mask 0) repeats the previous output (zeros before the first
    step) and keeps the previous states. The loop is unrolled: T must be known."""
    from .shape import stack
    from .tensors import zeros_like
    inputs = as_tensor(inputs)
    if inputs.ndim < 3:
        raise ValueError(f"rnn: inputs must have rank >= 3 (samples, time, ...), got {shape_str(inputs.shape)}")
    steps = _static_length(inputs.shape[1] if inputs.shape[1] is not None else input_length, "rnn", "the time axis")
    if steps == 0:  # there would be no last output to return
        raise ValueError(f"rnn: the time axis of inputs {shape_str(inputs.shape)} is empty: no step to run")
    states = [as_tensor(s) for s in initial_states]
    constants = list(constants or [])
    if mask is not None:
        mask = as_tensor(mask)
        if mask.ndim == inputs.ndim and mask.shape[-1] == 1:
            from .shape import squeeze
            mask = squeeze(mask, -1)
        if mask.dtype != "bool":
            mask = cast(mask, "bool")
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs, prev = [], None
    for t in order:
        output, new_states = step_function(inputs[:, t], states + constants)
        output = as_tensor(output)
        new_states = [as_tensor(s) for s in new_states]
        if mask is not None:
            m = mask[:, t]
            if prev is None:
                prev = zeros_like(output, dtype=output.dtype)
            output = switch(m, output, prev)
            new_states = [switch(m, n, o) for n, o in zip(new_states, states)]
        outputs.append(output)
        prev, states = output, new_states
    return outputs[-1], stack(outputs, axis=1), states


def map_fn(fn, elems, name=None, dtype=None):
    """map_fn(fn, elems, name=None, dtype=None): fn applied to each slice of elems along axis 0,
    stacked. With a known length the map is unrolled (and differentiable); otherwise fn's graph
    runs once per slice at run time (not differentiable)."""
    from .shape import stack
    elems = as_tensor(elems)
    if elems.ndim == 0:
        raise ValueError("map_fn: elems must have at least one axis")
    n = elems.shape[0]
    if n:  # known and non-zero (an empty map runs the op below, which knows the body's shape)
        out = stack([as_tensor(fn(elems[i])) for i in range(n)], axis=0)
        return cast(out, dtype) if dtype is not None else out
    item = Placeholder(elems.shape[1:], elems.dtype, name="map_fn_item")
    body = as_tensor(fn(item))
    if dtype is not None:
        body = cast(body, dtype)
    from ..graph import Constant, Variable, apply, topological_order
    captured = [t for t in topological_order([body]) if not t.inputs and t is not item
                and not isinstance(t, (Variable, Constant)) and getattr(t, "default", None) is None]
    return apply("map_fn", elems, *captured, item=item, body=body, captured=tuple(captured))


def _map_fn_build(node, backend):
    from ..compiler import Function
    item, body, captured = node.attrs["item"], node.attrs["body"], node.attrs["captured"]
    f = Function([item] + list(captured), [body])

    def run(elems, *extra):
        host = backend.to_numpy(elems, False)
        extra_host = [backend.to_numpy(e, False) for e in extra]
        rows = [f([host[i]] + extra_host)[0] for i in range(host.shape[0])]
        out = np.stack(rows) if rows else np.zeros((0,) + tuple(body.shape), dtype=body.dtype)
        return backend.from_numpy(out)
    return run


defop("map_fn", lambda elems, *extra, item, body, captured: ((elems.shape[0],) + body.shape, body.dtype),
      build=_map_fn_build)


def foldl(fn, elems, initializer=None, name=None):
    """foldl(fn, elems, initializer=None, name=None): acc = fn(acc, x) over axis 0, left to right;
    without an initializer the first element starts the fold."""
    elems = as_tensor(elems)
    n = _static_length(elems.shape[0] if elems.ndim else None, "foldl", "axis 0 of elems")
    start = 0
    if initializer is None:
        acc, start = elems[0], 1
    else:
        acc = as_tensor(initializer)
    for i in range(start, n):
        acc = as_tensor(fn(acc, elems[i]))
    return acc


def foldr(fn, elems, initializer=None, name=None):
    """foldr(fn, elems, initializer=None, name=None): acc = fn(acc, x) over axis 0, right to left;
    without an initializer the last element starts the fold."""
    elems = as_tensor(elems)
    n = _static_length(elems.shape[0] if elems.ndim else None, "foldr", "axis 0 of elems")
    last = n - 1
    if initializer is None:
        acc, last = elems[n - 1], n - 2
    else:
        acc = as_tensor(initializer)
    for i in range(last, -1, -1):
        acc = as_tensor(fn(acc, elems[i]))
    return acc

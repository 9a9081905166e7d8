"""Control flow and the learning phase: switch, in_train_phase, in_test_phase."""
from __future__ import annotations

from .. import config
from ..graph import Placeholder, Tensor, as_tensor, shape_str
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

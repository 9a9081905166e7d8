"""The update op: assigns a new value to a variable when the compiled call that evaluates it
succeeds (compiler.Plan applies updates after every output is computed). Kept apart from
ops/tensors.py because the compiler builds update nodes itself and tensors.py needs the compiler
(K.eval, K.batch_get_value)."""
from __future__ import annotations

from ..graph import Variable, apply, as_tensor, defop
from .math import cast


def _update_infer(var, value):
    return var.shape, var.dtype


defop("update", _update_infer)


def update(x, new_x):
    """update(x, new_x): an op assigning new_x to the variable x when it is evaluated."""
    if not isinstance(x, Variable):
        raise TypeError(f"update: {x!r} is not a variable")
    new_x = as_tensor(new_x)
    if new_x.ndim != x.ndim or any(a is not None and b is not None and a != b for a, b in zip(x.shape, new_x.shape)):
        from ..graph import shape_str
        raise ValueError(f"update: variable '{x.name}' has shape {shape_str(x.shape)}, "
                         f"the new value has shape {shape_str(new_x.shape)}")
    if new_x.dtype != x.dtype:
        new_x = cast(new_x, x.dtype)
    return apply("update", x, new_x)

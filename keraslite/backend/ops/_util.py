"""Helpers shared by the op modules: weak conversion of Python/NumPy operands, dtype inference."""
from __future__ import annotations

import functools

import numpy as np

from .. import config
from ..graph import Constant, Tensor, as_tensor


def is_scalar_like(x) -> bool:
    return isinstance(x, (bool, int, float, np.number, np.bool_)) or (isinstance(x, np.ndarray) and x.ndim == 0)


def weak(x, like: Tensor) -> Tensor:
    """Convert a non-tensor operand to the dtype of the tensor it meets (as TF does with Python
    numbers), so `float32_tensor * 2` stays float32."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot use {type(x).__name__} {x!r} as a tensor operand")
    kind = np.dtype(like.dtype).kind
    if kind == "f" or (kind in "iu" and arr.dtype.kind in "biu") or (kind == "b" and arr.dtype.kind == "b"):
        return Constant(arr.astype(like.dtype))
    return as_tensor(arr)


def operands(x, y) -> tuple[Tensor, Tensor]:
    if isinstance(x, Tensor):
        return x, weak(y, x)
    if isinstance(y, Tensor):
        return weak(x, y), y
    return as_tensor(x), as_tensor(y)


@functools.lru_cache(maxsize=None)
def numpy_result_dtype(ufunc_name: str, *dtypes: str) -> str:
    """The dtype NumPy gives for this ufunc on these input dtypes (the backends follow NumPy)."""
    fn = getattr(np, ufunc_name)
    with np.errstate(all="ignore"):
        return fn(*[np.ones(1, dtype=d) for d in dtypes]).dtype.name


def floatx_if_int(dtype: str) -> str:
    return dtype if np.dtype(dtype).kind == "f" else config.floatx()

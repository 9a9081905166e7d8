"""Variables, placeholders, constants, introspection, value access and updates."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import config
from ..commit import swap_in
from ..graph import (Constant, Placeholder, Tensor, Variable, apply, as_tensor, canonical_dtype,
                     defop, num_elements)
from .math import add, cast, mul, sub
from .random import host_rng
from .state import update  # noqa: F401  (K.update)
from .shape import _static_len, shape, size, stack  # noqa: F401  (shape, size: K.shape, K.size)

# ---------------------------------------------------------------------------------------------
# creation


def variable(value, dtype=None, name=None, constraint=None) -> Variable:
    """variable(value, dtype=None, name=None, constraint=None): a mutable tensor holding `value`."""
    from ..sparse import is_scipy_sparse
    if is_scipy_sparse(value):
        from ..sparse import sparse_variable
        return sparse_variable(value, dtype=dtype, name=name)
    dtype = canonical_dtype(dtype, "variable")
    if isinstance(value, Tensor):
        from ..compiler import eval as eval_
        value = eval_(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"variable: cannot make a variable from {type(value).__name__} {value!r}")
    return Variable(arr.astype(dtype), name=name, constraint=constraint)


def constant(value, dtype=None, shape=None, name=None) -> Tensor:
    """constant(value, dtype=None, shape=None, name=None): an immutable tensor; a scalar value is
    broadcast to `shape` when given."""
    dtype = canonical_dtype(dtype, "constant")
    arr = np.asarray(value, dtype=dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=dtype)
        elif arr.shape != shape:
            arr = arr.reshape(shape)
    return Constant(arr, name=name)


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None) -> Placeholder:
    """placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None): a graph input;
    `sparse=True` makes a 2-D sparse input fed with scipy.sparse matrices."""
    dtype = canonical_dtype(dtype, "placeholder")
    if not shape:
        if shape is None and ndim is None:
            # TensorFlow made an unknown-rank placeholder here; keraslite tensors always have a rank
            raise ValueError("placeholder: give a shape or an ndim (keraslite has no tensors of unknown rank; "
                             "note that shape=(None) is None: write shape=(None,) for a 1-D placeholder)")
        shape = (None,) * int(ndim or 0) if not shape else ()
    shape = tuple(None if d is None else int(d) for d in shape)
    if sparse:
        from ..sparse import sparse_placeholder
        return sparse_placeholder(shape, dtype, name=name)
    return Placeholder(shape, dtype, name=name)


def _filled(shape, value, dtype, name):
    dtype = canonical_dtype(dtype, "zeros/ones")
    if isinstance(shape, Tensor) or any(isinstance(d, Tensor) for d in shape):
        return fill(shape, value, dtype)
    return Variable(np.full(tuple(int(d) for d in shape), value, dtype=dtype), name=name)


def zeros(shape, dtype=None, name=None):
    """zeros(shape, dtype=None, name=None): an all-zeros variable."""
    return _filled(shape, 0, dtype, name)


def ones(shape, dtype=None, name=None):
    """ones(shape, dtype=None, name=None): an all-ones variable."""
    return _filled(shape, 1, dtype, name)


def eye(size, dtype=None, name=None):
    """eye(size, dtype=None, name=None): identity matrix; size an int or (rows, cols)."""
    dtype = canonical_dtype(dtype, "eye")
    n, m = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    return Variable(np.eye(int(n), int(m), dtype=dtype), name=name)


def fill(shape, value, dtype):
    """A tensor of `value` with a run-time shape (a 1-D int tensor, or entries of ints and scalar
    tensors): the scalar broadcast to it (a read-only view; nothing is written)."""
    if not isinstance(shape, Tensor):
        shape = stack([cast(d, "int32") if isinstance(d, Tensor) else d for d in shape])
    shape = cast(shape, "int32")
    scalar = Constant(np.array(value, dtype=canonical_dtype(dtype, "fill")))
    return apply("broadcast_to", scalar, shape, shape=(None,) * _static_len(shape))


def _like(x, value, dtype):
    x = as_tensor(x)
    dtype = canonical_dtype(dtype, "zeros_like/ones_like")
    if None not in x.shape:
        return Constant(np.full(x.shape, value, dtype=dtype))
    return fill(shape(x), value, dtype)


def zeros_like(x, dtype=None, name=None):
    """zeros_like(x, dtype=None, name=None): zeros with the shape of x (dtype None -> floatx)."""
    return _like(x, 0, dtype)


def ones_like(x, dtype=None, name=None):
    """ones_like(x, dtype=None, name=None): ones with the shape of x (dtype None -> floatx)."""
    return _like(x, 1, dtype)


defop("stop_gradient", lambda x: (x.shape, x.dtype))


def stop_gradient(variables):
    """stop_gradient(variables): identity forward, zero gradient backward; a list in gives a list out."""
    if isinstance(variables, (list, tuple)):
        return [apply("stop_gradient", as_tensor(v)) for v in variables]
    return apply("stop_gradient", as_tensor(variables))


def identity(x, name=None):
    """identity(x, name=None): a new tensor with the same content: x[:, ..., :] (a view; a 0-d
    tensor reshaped to ())."""
    x = as_tensor(x)
    if x.ndim == 0:
        return apply("reshape", x, shape=())
    return apply("strided_slice", x, key=(slice(None),) * x.ndim)


def random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None):
    """random_uniform_variable(shape, low, high, dtype=None, name=None, seed=None)."""
    dtype = canonical_dtype(dtype, "random_uniform_variable")
    return Variable(host_rng(seed).uniform(low, high, tuple(shape)).astype(dtype), name=name)


def random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None):
    """random_normal_variable(shape, mean, scale, dtype=None, name=None, seed=None)."""
    dtype = canonical_dtype(dtype, "random_normal_variable")
    return Variable(host_rng(seed).normal(mean, scale, tuple(shape)).astype(dtype), name=name)


# ---------------------------------------------------------------------------------------------
# introspection


def is_tensor(x) -> bool:
    """is_tensor(x): True for keraslite tensors and variables."""
    return isinstance(x, Tensor)


def is_variable(x) -> bool:
    """is_variable(x): True for variables."""
    return isinstance(x, Variable)


def is_placeholder(x) -> bool:
    """is_placeholder(x): True for tensors made by placeholder()."""
    return isinstance(x, Placeholder)


def is_keras_tensor(x) -> bool:
    """is_keras_tensor(x): True for tensors produced by a Keras layer or Input; ValueError for
    something that is not a tensor at all."""
    if not isinstance(x, Tensor):
        raise ValueError(f"is_keras_tensor: unexpectedly found an instance of type {type(x)!r}; "
                         "expected a symbolic tensor instance")
    return getattr(x, "_keras_history", None) is not None


def is_sparse(tensor) -> bool:
    """is_sparse(tensor): True for a sparse tensor (K.variable of a scipy.sparse matrix,
    K.placeholder(sparse=True), K.concatenate of sparse tensors)."""
    return bool(getattr(tensor, "sparse", False))


def to_dense(tensor):
    """to_dense(tensor): the dense tensor of a sparse one; dense tensors pass through."""
    if getattr(tensor, "sparse", False):
        from ..sparse import to_dense as sparse_to_dense
        return sparse_to_dense(tensor)
    return tensor


def int_shape(x):
    """int_shape(x): the static shape as a tuple of ints and None."""
    if isinstance(x, Tensor):
        return x.shape
    return tuple(np.shape(x))


def get_variable_shape(x):
    """get_variable_shape(x): alias of int_shape."""
    return int_shape(x)


def ndim(x):
    """ndim(x): the rank as a Python int."""
    return len(int_shape(x))


def dtype(x) -> str:
    """dtype(x): the dtype name, e.g. 'float32'."""
    if isinstance(x, Tensor):
        return x.dtype
    return np.asarray(x).dtype.name


def count_params(x) -> int:
    """count_params(x): the static number of elements."""
    n = num_elements(int_shape(x))
    if n is None:
        raise ValueError(f"count_params: {x!r} has unknown dimensions")
    return n


# ---------------------------------------------------------------------------------------------
# value access


def eval(x):
    """eval(x): the value of a tensor as a NumPy array (evaluating an update applies it)."""
    from ..compiler import eval as eval_
    return eval_(x)


def get_value(x):
    """get_value(x): the value of a variable (or any tensor) as a NumPy array."""
    if isinstance(x, Variable):
        return x.numpy()
    return eval(x)


def batch_get_value(ops: Sequence) -> list:
    """batch_get_value(ops): a list of NumPy values."""
    ops = list(ops)
    if not ops:
        return []
    if all(isinstance(o, Variable) for o in ops):
        return [o.numpy() for o in ops]
    from ..compiler import function
    return function([], ops)([])


def set_value(x, value) -> None:
    """set_value(x, value): assign a NumPy value to a variable (cast to its dtype; same shape)."""
    batch_set_value([(x, value)])


def batch_set_value(tuples) -> None:
    """batch_set_value(tuples): assign many (variable, value) pairs; all or none."""
    tuples = list(tuples)
    checked = []
    for var, value in tuples:
        if not isinstance(var, Variable):
            raise TypeError(f"set_value: {var!r} is not a variable")
        if var.sparse:  # a scipy.sparse matrix or a dense array, kept sparse
            from ..sparse import sparse_value
            arr = sparse_value(value, var)
            checked.append((var, arr))
            continue
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"set_value: cannot assign {type(value).__name__} to variable '{var.name}'")
        var.check_value(arr.shape)
        checked.append((var, arr))
    swap_in(checked, lambda var, arr: var.assign_host(arr))  # all or none, a Ctrl-C included; sparse too


def print_tensor(x, message=""):
    """print_tensor(x, message=''): x, printing `message` and the value when evaluated."""
    return apply("print_tensor", as_tensor(x), message=str(message))


defop("print_tensor", lambda x, message: (x.shape, x.dtype), lambda g, y, x, message: [g])

# ---------------------------------------------------------------------------------------------
# updates: evaluated after the outputs of the call that runs them


def update_add(x, increment):
    """update_add(x, increment): x += increment when evaluated."""
    return update(x, add(x, increment))


def update_sub(x, decrement):
    """update_sub(x, decrement): x -= decrement when evaluated."""
    return update(x, sub(x, decrement))


def moving_average_update(x, value, momentum):
    """moving_average_update(x, value, momentum): x = x * momentum + value * (1 - momentum)."""
    return update(x, add(mul(x, momentum), mul(value, sub(1.0, momentum) if isinstance(momentum, Tensor) else 1.0 - momentum)))

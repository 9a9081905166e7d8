"""Sparse tensors (Keras 2 with TensorFlow: `K.variable(scipy_matrix)`, `K.placeholder(sparse=True)`).

A sparse tensor is a 2-D matrix whose run-time value is the backend's sparse matrix type (CSR):
scipy.sparse on the NumPy-based backends (numpy, numba), cupyx.scipy.sparse on cuda. A backend
says it can hold them with `supports_sparse`; a graph with a sparse tensor on a backend without it
is a ValueError naming the backend. scipy is optional: only sparse tensors need it.

What takes sparse operands, as in Keras 2: `K.to_dense`, `K.dot` (sparse x dense, dense x sparse;
sparse x sparse densifies the second operand), `K.concatenate` (all sparse gives a sparse result,
a mix concatenates densely), `K.shape`/`K.int_shape`/`K.ndim`/`K.dtype`, and `K.eval` (which
returns the dense array, as Keras's TensorFlow backend does). Every other op raises a TypeError
that says to call `K.to_dense` first. `K.function` returns a sparse output as a scipy.sparse CSR
matrix, and takes scipy.sparse matrices (or dense arrays) for sparse placeholders. Gradients flow
to the dense operand of a product, not to a sparse tensor's values (sparse tensors are data).
"""
from __future__ import annotations

import numpy as np

from .graph import SPARSE_OPS, Placeholder, _ids, Tensor, Variable, apply, canonical_dtype, defop, promote, shape_str


def is_scipy_sparse(value) -> bool:
    """True for a scipy.sparse matrix or array (checked without importing scipy)."""
    if not type(value).__module__.startswith("scipy.sparse"):
        return False
    import scipy.sparse as sp
    return sp.issparse(value)


def _check_backend(backend, what: str) -> None:
    if not backend.supports_sparse:
        hint = " (install scipy)" if getattr(getattr(backend, "xp", None), "__name__", "") == "numpy" else ""
        raise ValueError(f"{what}: the '{backend.name}' backend has no sparse tensor support{hint}; "
                         "convert the value to a dense array (or use K.to_dense) to run on it")


class SparseVariable(Variable):
    """A 2-D sparse value held as a CSR matrix (what K.variable makes from a scipy.sparse matrix).
    Keras 2 makes a constant tf.SparseTensor here: it is not trainable."""

    sparse = True

    def __init__(self, matrix, dtype: str, name: str | None = None):
        csr = matrix.tocsr().astype(dtype)
        csr.sum_duplicates()
        Tensor.__init__(self, "variable", (), {}, csr.shape, np.dtype(dtype).name,
                        name=name or f"sparse_variable_{next(_ids)}")
        self._host = csr
        self._native = None
        self._backend = None
        self.constraint = None
        self.trainable = False

    def native(self, backend):
        if self._backend is not backend:
            _check_backend(backend, f"sparse variable '{self.name}'")
            host = self._host if self._backend is None else self._backend.sparse_to_host(self._native)
            self._native = backend.sparse_from_host(host)
            self._backend = backend
            self._host = None
        return self._native

    def sparse_value(self):
        """The value as a scipy.sparse CSR matrix (a copy)."""
        if self._backend is None:
            return self._host.copy()
        return self._backend.sparse_to_host(self._native)

    def numpy(self) -> np.ndarray:
        # K.eval / K.get_value of a sparse tensor give the dense array, as Keras's TF backend does
        return np.asarray(self.sparse_value().toarray())

    def assign_host(self, value) -> None:
        csr = sparse_value(value, self)
        if self._backend is None:
            self._host = csr
        else:
            self._native = self._backend.sparse_from_host(csr)


def sparse_value(value, var: SparseVariable):
    """A value for the sparse variable `var` (a scipy.sparse matrix or a dense 2-D array) as a
    CSR matrix of its dtype; ValueError for another shape, TypeError for a non-numeric value."""
    import scipy.sparse as sp
    if not is_scipy_sparse(value):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf" or arr.ndim != 2:
            raise TypeError(f"set_value: cannot assign {type(value).__name__} to sparse variable '{var.name}'")
        value = sp.csr_matrix(arr)
    var.check_value(value.shape)
    return value.tocsr().astype(var.dtype)


def sparse_variable(matrix, dtype=None, name=None) -> SparseVariable:
    """K.variable(scipy.sparse matrix): a sparse tensor of dtype `dtype` (floatx by default)."""
    return SparseVariable(matrix, canonical_dtype(dtype, "variable"), name=name)


def sparse_placeholder(shape, dtype, name=None) -> Placeholder:
    """K.placeholder(shape, sparse=True): a 2-D sparse graph input."""
    if len(shape) != 2:
        raise ValueError(f"placeholder: a sparse placeholder must be 2-D (a scipy.sparse matrix), got shape "
                         f"{shape_str(shape)}")
    p = Placeholder(shape, dtype, name=name)
    p.sparse = True
    return p


def feed(t: Tensor, value, index: int, backend):
    """A value for the sparse placeholder `t`: a scipy.sparse matrix (or a dense 2-D array), as
    the backend's sparse matrix, and its signature for the plan cache."""
    _check_backend(backend, f"K.function: sparse input {index} ('{t.name}')")
    if is_scipy_sparse(value):
        matrix = value.tocsr()
    else:
        import scipy.sparse as sp
        arr = np.asarray(value)
        if arr.ndim != 2 or arr.dtype.kind not in "biuf":
            raise ValueError(f"K.function: input {index} ('{t.name}') is sparse {shape_str(t.shape)}: feed a "
                             f"scipy.sparse matrix or a 2-D numeric array, got {type(value).__name__}")
        matrix = sp.csr_matrix(arr)
    if any(d is not None and d != a for d, a in zip(t.shape, matrix.shape)):
        raise ValueError(f"K.function: input {index} ('{t.name}') expects shape {shape_str(t.shape)}, got a "
                         f"sparse matrix of shape {shape_str(tuple(matrix.shape))}")
    matrix = matrix.astype(t.dtype)
    return backend.sparse_from_host(matrix), (tuple(matrix.shape), str(t.dtype), "sparse")


# ---------------------------------------------------------------------------------------------
# ops


def _sparse_out(t: Tensor) -> Tensor:
    t.sparse = True
    return t


defop("sparse_to_dense", lambda x: (x.shape, x.dtype))


def _matmul_infer(a, b, transpose_a):
    rows, k = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    if b.ndim != 2:
        raise ValueError(f"dot: a sparse operand multiplies 2-D tensors only, got {shape_str(b.shape)}")
    if k is not None and b.shape[0] is not None and k != b.shape[0]:
        raise ValueError(f"dot: the sparse operand {shape_str(a.shape)} does not match {shape_str(b.shape)}")
    return (rows, b.shape[1]), promote(a.dtype, b.dtype)


def _matmul_vjp(g, y, a, b, transpose_a):
    # d(op(A) B)/dB = op(A)^T g; no gradient for the sparse values
    return [None, apply("sparse_dense_matmul", a, g, transpose_a=not transpose_a)]


defop("sparse_dense_matmul", _matmul_infer, _matmul_vjp)


def _concat_infer(*xs, axis):
    other = 1 - axis
    dims = {x.shape[other] for x in xs if x.shape[other] is not None}
    if len(dims) > 1:
        raise ValueError("concatenate: sparse operands differ in axis "
                         f"{other}: " + ", ".join(shape_str(x.shape) for x in xs))
    along = [x.shape[axis] for x in xs]
    size = None if None in along else sum(along)
    shape = [None, None]
    shape[axis] = size
    shape[other] = dims.pop() if dims else None
    return tuple(shape), promote(*[x.dtype for x in xs])


defop("sparse_concat", _concat_infer)
SPARSE_OPS.update({"sparse_to_dense", "sparse_dense_matmul", "sparse_concat", "shape"})


def to_dense(x) -> Tensor:
    """K.to_dense: the dense tensor of a sparse one."""
    return apply("sparse_to_dense", x)


def _transpose2d(x: Tensor) -> Tensor:
    return apply("transpose", x, perm=(1, 0))


def dot(x: Tensor, y: Tensor) -> Tensor:
    """K.dot with a sparse operand (both 2-D)."""
    for t in (x, y):
        if t.ndim != 2:
            raise ValueError(f"dot: a sparse operand multiplies 2-D tensors only, got {shape_str(x.shape)} and "
                             f"{shape_str(y.shape)}")
    if getattr(x, "sparse", False):
        dense = to_dense(y) if getattr(y, "sparse", False) else y
        return apply("sparse_dense_matmul", x, dense, transpose_a=False)
    # x y = (y^T x^T)^T with the sparse y on the left
    return _transpose2d(apply("sparse_dense_matmul", y, _transpose2d(x), transpose_a=True))


def concatenate(tensors: list, axis: int, dense_concatenate) -> Tensor:
    """K.concatenate with sparse operands: all sparse stay sparse; a mix is joined densely by
    `dense_concatenate` (ops/shape.py's, passed in: this module sits below the ops)."""
    from .graph import normalize_axis
    if all(getattr(t, "sparse", False) for t in tensors):
        axis = normalize_axis(axis, 2, "concatenate")
        return _sparse_out(apply("sparse_concat", *tensors, axis=axis))
    return dense_concatenate([to_dense(t) if getattr(t, "sparse", False) else t for t in tensors], axis=axis)

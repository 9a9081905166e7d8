"""Rows for the sparse-tensor primitives (keraslite/backend/sparse.py): inputs are scipy.sparse
CSR matrices fed through sparse placeholders; backends without `supports_sparse` skip them."""
from __future__ import annotations

import numpy as np

from .checks import Skip
from .opinfo import OpInfo, Sample, uniform


def _K():
    from .. import backend as K
    return K


def _csr(rng, shape, dtype, density=0.4):
    try:
        import scipy.sparse as sp
    except ImportError:
        raise Skip("scipy is not installed (sparse tensors need it)") from None
    values = uniform(rng, shape, dtype) * (rng.random(shape) < density)
    return sp.csr_matrix(values.astype(dtype))


def _to_dense_samples(rng, dtype):
    return [Sample((_csr(rng, s, dtype),)) for s in [(3, 4), (0, 3), (2, 2)]]


def _matmul_samples(rng, dtype):
    out = []
    for (m, k, n), order in [((3, 4, 2), "sparse@dense"), ((2, 3, 4), "dense@sparse"), ((1, 1, 3), "sparse@dense"),
                             ((0, 2, 2), "sparse@dense")]:
        a = _csr(rng, (m, k), dtype)
        b = uniform(rng, (k, n), dtype)
        out.append(Sample((a, b), {"order": order}) if order == "sparse@dense" else
                   Sample((_csr(rng, (k, n), dtype), uniform(rng, (m, k), dtype)), {"order": order}))
    return out


def _matmul(a, b, order):
    return _K().dot(a, b) if order == "sparse@dense" else _K().dot(b, a)


def _matmul_ref(a, b, order):
    a = a.toarray()
    return a @ b if order == "sparse@dense" else b @ a


def _concat_samples(rng, dtype):
    return [Sample((_csr(rng, (2, 3), dtype), _csr(rng, (1, 3), dtype)), {"axis": 0}),
            Sample((_csr(rng, (2, 1), dtype), _csr(rng, (2, 3), dtype)), {"axis": 1}),
            Sample((_csr(rng, (0, 2), dtype), _csr(rng, (2, 2), dtype)), {"axis": 0})]


def rows() -> list:
    """The rows of this module."""
    K = _K()
    return [
        OpInfo("sparse_to_dense", lambda x: K.to_dense(x), lambda x: x.toarray(), _to_dense_samples,
               dtypes=("float32", "float64")),
        OpInfo("sparse_dense_matmul", _matmul, _matmul_ref, _matmul_samples, dtypes=("float32", "float64"),
               differentiable=True, grad_args=(1,), tol={"float32": (1e-5, 1e-6)}, dynamic_batch=False),
        OpInfo("sparse_concat", lambda a, b, axis: K.concatenate([a, b], axis=axis),
               lambda a, b, axis: np.concatenate([a.toarray(), b.toarray()], axis=axis), _concat_samples,
               dynamic_batch=False),
    ]

"""The sparse primitives (backend/sparse.py), written once for array libraries with a SciPy-style
sparse package: scipy.sparse beside NumPy, cupyx.scipy.sparse beside CuPy. Values are CSR matrices."""
from __future__ import annotations


class SparsePrimitives:
    """`supports_sparse` and the sparse_* primitives for a backend whose `xp` is NumPy or CuPy."""

    def sparse_module(self):
        """The sparse package that matches `self.xp`, or None (no such package installed)."""
        name = getattr(getattr(self, "xp", None), "__name__", "")
        try:
            if name == "numpy":
                import scipy.sparse as sp
                return sp
            if name == "cupy":
                import cupyx.scipy.sparse as sp
                return sp
        except ImportError:
            return None
        return None

    @property
    def supports_sparse(self) -> bool:
        return self.sparse_module() is not None

    def sparse_from_host(self, matrix):
        """A scipy.sparse matrix as this backend's CSR matrix (a copy)."""
        sp = self.sparse_module()
        csr = matrix.tocsr(copy=True)
        if sp.__name__.startswith("scipy"):
            return csr
        return sp.csr_matrix(csr)

    def sparse_to_host(self, x):
        """This backend's sparse matrix as a scipy.sparse CSR matrix (a copy)."""
        if hasattr(x, "get"):
            return x.get().tocsr()
        return x.tocsr(copy=True)

    def sparse_to_dense(self, x):
        return self.xp.ascontiguousarray(x.toarray())

    def sparse_dense_matmul(self, a, b, transpose_a=False):
        a = a.T if transpose_a else a
        out = a @ b
        dtype = self.xp.result_type(a.dtype, b.dtype)
        return self.xp.ascontiguousarray(self.xp.asarray(out), dtype=dtype)

    def sparse_concat(self, *xs, axis):
        sp = self.sparse_module()
        join = sp.hstack if axis == 1 else sp.vstack
        dtype = self.xp.result_type(*[x.dtype for x in xs])
        return join([x.astype(dtype) for x in xs], format="csr")

"""The Numba backend's GEMM (backends/keraslite_numba/kernels/gemm.py): every layout BLAS takes,
the row split over Numba threads inside a plan, the bias/activation epilogue, and the NumPy
path for everything else, against float64 NumPy formulas written here."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy.linalg.cython_blas")

from keraslite_numba import threads  # noqa: E402
from keraslite_numba.kernels import gemm  # noqa: E402

ACTS = {None: lambda z: z, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh}


def _want(a, b, bias, act):
    z = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    if bias is not None:
        z = z + bias
    return ACTS[act](z)


def _operands(rng, dtype, m, k, n):
    """(name, a, b) in every layout: C, transposed (F), a row-sliced view, a column-sliced view."""
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    wide = rng.standard_normal((m + 3, k + 5)).astype(dtype)
    return [("C,C", a, b), ("F,F", np.asfortranarray(a), np.asfortranarray(b)),
            ("T,C", np.ascontiguousarray(a.T).T, b), ("C,T", a, np.ascontiguousarray(b.T).T),
            ("view,C", wide[1:m + 1, 2:k + 2], b), ("C,colview", a, rng.standard_normal((k, n + 4)).astype(dtype)[:, 3:n + 3])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("split", [False, True], ids=["one-call", "split"])
@pytest.mark.parametrize("act", [None, "relu", "sigmoid", "tanh"])
def test_matmul_with_epilogue_in_every_layout(dtype, split, act):
    rng = np.random.default_rng(0)
    tol = 2e-5 if dtype == "float32" else 1e-12
    m, k, n = (150, 120, 90) if split else (7, 5, 3)  # split: above MIN_SPLIT_MACS
    assert (m * n * k >= gemm.MIN_SPLIT_MACS) == split
    bias = rng.standard_normal(n).astype(dtype)
    for name, a, b in _operands(rng, dtype, m, k, n):
        for with_bias in (False, True):
            bb = bias if with_bias else None
            want = _want(a, b, bb, act)
            with threads.SerialBlas():
                got = gemm.matmul(a, b, bias=bb, act=act)
                out = np.full((m, n), np.nan, dtype)
                again = gemm.matmul(a, b, out=out, bias=bb, act=act)
            assert got.dtype == dtype and got.shape == (m, n)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{name} bias={with_bias}")
            assert again is out
            np.testing.assert_array_equal(out, got)  # the same work, the same bits


@pytest.mark.parametrize("m, k, n, b_transposed", [(256, 300, 200, False), (256, 300, 200, True),
                                                   (20, 300, 517, False), (20, 300, 517, True), (64, 300, 64, False)])
def test_split_is_used_inside_a_plan_only_and_is_deterministic(monkeypatch, m, k, n, b_transposed):
    """Inside a plan a product is cut into blocks of rows, or of columns (multiples of 16) when
    rows are too few for every thread: each block's numbers match NumPy's and repeat bit for bit."""
    calls = []
    real = gemm._gemm_split
    monkeypatch.setattr(gemm, "_gemm_split", lambda *a: calls.append((a[8], a[9])) or real(*a))
    monkeypatch.setattr(gemm, "TILES", False)  # the BLAS route (test_numba_dense.py: the other)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype("float32")
    b = rng.standard_normal((n, k)).astype("float32").T if b_transposed else rng.standard_normal((k, n)).astype("float32")
    bias = rng.standard_normal(n).astype("float32")
    want = np.maximum(a.astype(np.float64) @ b.astype(np.float64) + bias, 0)
    outside = gemm.matmul(a, b, bias=bias, act="relu")
    assert calls == []
    with threads.SerialBlas():
        first = gemm.matmul(a, b, bias=bias, act="relu")
        second = gemm.matmul(a, b, bias=bias, act="relu")
        # blocks run at once on several threads: every block writes all of its cells every
        # time (a race between blocks once left the last columns unwritten now and then)
        repeats = [gemm.matmul(a, b, out=np.full((m, n), np.nan, np.float32), bias=bias, act="relu")
                   for _ in range(100)]
    import numba
    t = numba.get_num_threads()
    if t > 1:
        rows = min(t, m // gemm.MIN_BLOCK)
        cut = (rows, 1) if rows == t or n // gemm.MIN_BLOCK <= rows else (1, min(t, n // gemm.MIN_BLOCK))
        assert calls == [cut] * 102
    np.testing.assert_array_equal(first, second)
    for again in repeats:
        np.testing.assert_array_equal(again, first)
    np.testing.assert_allclose(first, want, rtol=1e-4, atol=1e-4)
    # BLAS on a block may sum in another order than on the whole (OpenBLAS's Haswell kernels do)
    np.testing.assert_allclose(first, outside, rtol=1e-4, atol=1e-4)


def test_column_cuts_fall_on_whole_vectors_and_cover_the_output():
    for n in (16, 17, 100, 512, 517):
        for nc in (1, 2, 3, 4):
            cuts = [gemm._edges.py_func(j, 1, nc, 5, n)[2:] for j in range(nc)]
            assert cuts[0][0] == 0 and cuts[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
            assert all(c0 % 16 == 0 for c0, _ in cuts)


def test_nd_input_and_numpy_fallbacks():
    rng = np.random.default_rng(2)
    a3 = rng.standard_normal((2, 3, 4)).astype("float32")
    b = rng.standard_normal((4, 5)).astype("float32")
    bias = rng.standard_normal(5).astype("float32")
    np.testing.assert_allclose(gemm.matmul(a3, b, bias=bias, act="tanh"), _want(a3, b, bias, "tanh"), rtol=1e-5,
                               atol=1e-6)
    # a layout BLAS cannot take (no unit stride), integers, mixed dtypes, empty products
    strided = rng.standard_normal((6, 8)).astype("float64")[:, ::2]
    b64 = rng.standard_normal((4, 3))
    np.testing.assert_allclose(gemm.matmul(strided, b64, act="relu"), _want(strided, b64, None, "relu"), rtol=1e-12)
    ai, bi = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    got = gemm.matmul(ai, bi)
    assert got.dtype == ai.dtype and (got == ai @ bi).all()
    assert gemm.matmul(a3[0].astype("float64"), b).dtype == np.float64
    assert gemm.matmul(np.zeros((0, 4), "float32"), b).shape == (0, 5)
    np.testing.assert_array_equal(gemm.matmul(np.zeros((3, 0), "float32"), np.zeros((0, 2), "float32"),
                                              bias=np.ones(2, "float32")), np.ones((3, 2)))


def test_scipy_blas_is_serial_inside_a_plan_and_restored_after():
    from threadpoolctl import threadpool_info, threadpool_limits
    assert gemm.available()

    def scipy_threads():
        return [i["num_threads"] for i in threadpool_info() if "scipy.libs" in i["filepath"] or
                "scipy/" in i["filepath"]]
    with threadpool_limits(2, user_api="blas"):
        before = scipy_threads()
        with threads.SerialBlas():
            assert threads.serial_blas()
            assert all(n == 1 for n in scipy_threads())
        assert scipy_threads() == before
    assert not threads.serial_blas()


def test_numba_backend_matmul_keeps_numpy_semantics():
    import keraslite
    from keraslite import backend as K
    with keraslite.use_backend("numba"):
        rng = np.random.default_rng(3)
        x = K.placeholder((None, 3, 40))
        w = K.variable(rng.standard_normal((40, 30)))
        b = K.variable(rng.standard_normal(30))
        y = K.relu(K.bias_add(K.dot(x, w), b))  # a Dense on sequences: N-D input, fused epilogue
        f = K.function([x], [y])
        xv = rng.standard_normal((5, 3, 40)).astype("float32")
        np.testing.assert_allclose(f([xv])[0], _want(xv, K.eval(w), K.eval(b), "relu"), rtol=1e-5, atol=1e-5)
        assert f.last_plan.kernels() == ["matmul+add+relu"]


@pytest.mark.parametrize("ashape,bshape", [((0, 0, 1), (1, 0)), ((0, 0, 0), (0, 1)), ((2, 0, 3), (3, 4)),
                                           ((2, 3, 0), (0, 4))])
def test_size_zero_nd_products(ashape, bshape):
    """N-D times 2-D with a size-0 operand (found by the hypothesis suite): NumPy's result."""
    gemm = pytest.importorskip("keraslite_numba.kernels.gemm")
    a = np.ones(ashape, np.float32)
    b = np.ones(bshape, np.float32)
    got = gemm.matmul(a, b)
    assert got.shape == ashape[:-1] + bshape[1:]
    np.testing.assert_array_equal(got, np.zeros(got.shape, np.float32))

"""The numba backend's matrix products split over its thread team (keraslite_numba/gemm.py)."""
import numpy as np
import pytest

pytest.importorskip("keraslite_numba")
from keraslite_numba import gemm, team  # noqa: E402
from keraslite_numba.threads import SerialBlas  # noqa: E402


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n", [(128, 784, 512), (784, 128, 512), (10, 512, 4000), (3, 5, 7), (0, 600, 600)])
@pytest.mark.parametrize("layout", ["c", "a_transposed", "b_transposed"])
def test_split_gemm_matches_a_float64_product(m, k, n, dtype, layout):
    rng = np.random.default_rng(m + k + n)
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    if layout == "a_transposed":
        a = np.ascontiguousarray(a.T).T
    elif layout == "b_transposed":
        b = np.ascontiguousarray(b.T).T
    with SerialBlas():  # as inside a plan
        got = gemm.matmul(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got.shape == (m, n) and got.dtype == np.dtype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(k))


def test_split_gemm_is_deterministic_and_uses_every_chunk(monkeypatch):
    calls = []
    real = team.run

    def spy(kernel, nchunks, *args):
        calls.append((kernel.__name__, nchunks))
        return real(kernel, nchunks, *args)

    monkeypatch.setattr(team, "num_threads", lambda: 3)
    monkeypatch.setattr(team, "run", spy)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 256)).astype(np.float32)
    b = rng.normal(size=(256, 200)).astype(np.float32)
    r1 = gemm.matmul(a, b)
    r2 = gemm.matmul(a, b)
    np.testing.assert_array_equal(r1, r2)
    assert calls == [("_rows", 3), ("_rows", 3)]
    wide = gemm.matmul(a[:8], rng.normal(size=(256, 4096)).astype(np.float32))
    assert calls[-1] == ("_cols", 3) and wide.shape == (8, 4096)


def test_non_float_or_batched_products_are_plain_matmul():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(gemm.matmul(a, a.T), a @ a.T)
    x = np.ones((2, 3, 4), np.float32)
    np.testing.assert_array_equal(gemm.matmul(x, np.ones((4, 5), np.float32)), np.full((2, 3, 5), 4, np.float32))


def test_split_gemm_writes_into_out():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 300)).astype(np.float32)
    b = rng.normal(size=(300, 100)).astype(np.float32)
    out = np.full((200, 100), np.nan, np.float32)
    got = gemm.matmul(a, b, out=out)
    assert got is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="out must be"):
        gemm.matmul(a, b, out=np.empty((200, 99), np.float32))

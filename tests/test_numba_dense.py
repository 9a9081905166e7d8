"""Products on the convolution microkernel (backends/keraslite_numba/kernels/dense.py): which
products gemm.matmul sends there, and their numbers in each layout it takes, against float64
NumPy formulas written here."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy.linalg.cython_blas")

from keraslite_numba import threads  # noqa: E402
from keraslite_numba.kernels import conv, dense, gemm  # noqa: E402


def _layouts(rng, m, k, n):
    """(name, a, b): the operands the kernel takes: b C-contiguous, a C-contiguous or the
    transpose of a C-contiguous array (a weight gradient's transpose(x) @ g)."""
    b = rng.standard_normal((k, n)).astype(np.float32)
    layouts = [("C,C", rng.standard_normal((m, k)).astype(np.float32), b)]
    if conv.NR >= 32:  # the AVX-512 tile: a transposed a too (with AVX2 only it stays on BLAS)
        layouts.append(("T,C", rng.standard_normal((k, m)).astype(np.float32).T, b))
    return layouts


@pytest.mark.parametrize("m, k, n", [(128, 784, 512), (37, 300, 70), (9, 1, 32), (1, 17, 33), (200, 1024, 96)])
def test_products_in_every_layout_match_numpy(m, k, n):
    rng = np.random.default_rng(m + k + n)
    bias = rng.standard_normal(n).astype(np.float32)
    for name, a, b in _layouts(rng, m, k, n):
        assert dense.usable(a, b), name
        exact = a.astype(np.float64) @ b.astype(np.float64)
        for with_bias in (False, True):
            for relu in (False, True):
                want = exact + bias if with_bias else exact
                want = np.maximum(want, 0) if relu else want
                out = np.full((m, n), np.nan, np.float32)
                got = dense.matmul(a, b, out, bias if with_bias else None, relu)
                assert got is out
                tol = 1e-5 * max(1.0, np.sqrt(k))
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{name} bias={with_bias} relu={relu}")
                again = dense.matmul(a, b, np.empty_like(out), bias if with_bias else None, relu)
                assert again.tobytes() == got.tobytes(), "the same product must give the same bits"


@pytest.mark.parametrize("n", [256, 512])
def test_weights_read_in_place_with_rows_far_apart_give_the_packed_panels_bits(monkeypatch, n):
    """Rows of b at least conv_kernels.PF_MIN_STRIDE bytes apart take the microkernel's
    prefetching loop; its sums are the packed panels' (a loop without it), bit for bit."""
    from keraslite_numba.kernels import conv_kernels
    assert n * 4 >= conv_kernels.PF_MIN_STRIDE
    rng = np.random.default_rng(n)
    a = rng.standard_normal((50, 300)).astype(np.float32)
    b = rng.standard_normal((300, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    in_place = dense.matmul(a, b, np.empty((50, n), np.float32), bias, True)
    monkeypatch.setattr(conv, "IN_PLACE_MAX", 0)  # b packed into panels NR floats wide
    packed = dense.matmul(a, b, np.empty((50, n), np.float32), bias, True)
    assert in_place.tobytes() == packed.tobytes()
    want = np.maximum(a.astype(np.float64) @ b.astype(np.float64) + bias, 0)
    np.testing.assert_allclose(in_place, want, rtol=2e-4, atol=2e-4)


def test_relu_keeps_nan_and_results_do_not_depend_on_the_thread_count():
    import numba
    rng = np.random.default_rng(3)
    a = rng.standard_normal((64, 40)).astype(np.float32)
    a[5, 7] = np.nan
    b = rng.standard_normal((40, 64)).astype(np.float32)
    before = numba.get_num_threads()
    runs = []
    try:
        for t in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(t)
            runs.append(dense.matmul(a, b, np.empty((64, 64), np.float32), None, True))
    finally:
        numba.set_num_threads(before)
    assert np.isnan(runs[0][5]).all() and not np.isnan(np.delete(runs[0], 5, axis=0)).any()
    assert all(r.tobytes() == runs[0].tobytes() for r in runs)


def test_layouts_and_dtypes_it_does_not_take():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((8, 6)).astype(np.float32)
    b = rng.standard_normal((6, 5)).astype(np.float32)
    assert not dense.usable(a.astype(np.float64), b.astype(np.float64))
    assert not dense.usable(rng.standard_normal((8, 12)).astype(np.float32)[:, ::2], b)  # no unit stride
    assert not dense.usable(a, rng.standard_normal((6, 9)).astype(np.float32)[:, 2:7])  # a column window
    assert not dense.usable(a, np.ascontiguousarray(b.T).T)  # a transposed b: gemm.py's BLAS route
    # a transposed a (a weight gradient): taken with the AVX-512 tile only
    assert dense.usable(np.ascontiguousarray(a.T).T, b) == (conv.NR >= 32)
    assert not dense.usable(rng.standard_normal((12, 8)).astype(np.float32)[::2].T, b)  # no unit stride
    assert not dense.usable(a[:, :0], b[:0])
    assert not dense.usable(a[None], b)


@pytest.mark.parametrize("case, routed", [
    (dict(m=128, k=784, n=512, act="relu"), True),
    (dict(m=128, k=512, n=512, act=None), True),
    (dict(m=128, k=512, n=10, act=None), False),         # under one NR-column panel
    (dict(m=128, k=1500, n=512, act=None), False),       # inner dimension over MAX_K
    (dict(m=128, k=512, n=512, act="tanh"), False),      # an epilogue the kernel does not have
    (dict(m=128, k=512, n=512, act=None, dtype="float64"), False),
    (dict(m=4, k=20, n=40, act=None), False),            # too small to split: one BLAS call
])
def test_gemm_sends_large_float32_products_inside_a_plan_only(monkeypatch, case, routed):
    calls = []
    real = dense.matmul
    monkeypatch.setattr(dense, "matmul", lambda *a: calls.append(a[0].shape) or real(*a))
    rng = np.random.default_rng(5)
    dt = case.get("dtype", "float32")
    m, k, n, act = case["m"], case["k"], case["n"], case["act"]
    a = rng.standard_normal((m, k)).astype(dt)
    b = rng.standard_normal((k, n)).astype(dt)
    bias = rng.standard_normal(n).astype(dt)
    outside = gemm.matmul(a, b, bias=bias, act=act)
    assert calls == []
    with threads.SerialBlas():
        inside = gemm.matmul(a, b, bias=bias, act=act)
    assert calls == ([(m, k)] if routed else [])
    np.testing.assert_allclose(inside, outside, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape, flip", [((1, 1, 40, 70), False), ((3, 3, 5, 7), True), ((1, 1, 300, 300), False),
                                         ((2, 2, 33, 65), True)])
def test_filter_panels_written_into_a_given_buffer_equal_fresh_ones(shape, flip):
    """packed_filter(out=) fills every cell of a reused buffer (NumPy and Numba routes)."""
    from keraslite_numba.kernels import conv_pack
    w = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    fresh = conv_pack.packed_filter(w, 1, flip, 32)
    buf = np.full(conv_pack.panels_shape(shape, 1, flip, 32), np.nan, np.float32)
    assert conv_pack.packed_filter(w, 1, flip, 32, out=buf) is buf
    assert buf.tobytes() == fresh.tobytes()

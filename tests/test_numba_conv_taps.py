"""conv.py skips the filter taps that would read padding (conv_geometry.tap_classes): every sum
is the full sum without its zero terms, in the same order, so the results equal bit for bit those
of the same kernel on an explicitly zero-padded input (one class, every tap); and both match a
float64 NumPy formula."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from cuda_generic_helpers import ref_conv  # noqa: E402  (the grouped NumPy reference)
from keraslite_numba.kernels import conv  # noqa: E402
from keraslite_numba.kernels.conv_geometry import tap_classes  # noqa: E402

# (N, H, W, kh, kw, Cin, Cout, strides, padding, dilation, groups)
CASES = [
    (3, 7, 9, 3, 3, 5, 40, (1, 1), ((1, 1), (1, 1)), (1, 1), 1),       # 'same', a partial column panel
    (2, 2, 2, 3, 3, 4, 32, (1, 1), ((1, 1), (1, 1)), (1, 1), 1),       # ResNet's 2x2 maps: no interior pixel
    (2, 5, 6, 3, 2, 3, 7, (2, 1), ((2, 0), (1, 3)), (1, 2), 1),        # strides, dilation, uneven padding
    (1, 4, 4, 3, 3, 6, 12, (1, 1), ((5, 4), (4, 5)), (1, 1), 2),       # padding past the filter: pixels with no tap
    (4, 9, 9, 7, 7, 3, 16, (2, 2), ((3, 3), (3, 3)), (1, 1), 1),       # a 7x7 stride-2 first layer
    (2, 6, 5, 1, 1, 8, 33, (1, 1), ((1, 2), (0, 1)), (1, 1), 1),       # 1x1 with padding: border pixels are zero
]


def _pad(x, padding):
    (pt, pb), (pl, pr) = padding
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_skipping_padding_taps_changes_no_bit(case, dtype):
    N, H, W, kh, kw, Cin, Co, strides, padding, dilation, G = case
    rng = np.random.default_rng(H * 100 + Co)
    x = rng.standard_normal((N, H, W, Cin)).astype(dtype)
    w = rng.standard_normal((kh, kw, Cin // G, Co)).astype(dtype)
    b = rng.standard_normal(Co).astype(dtype)
    got = conv.conv2d(x, w, strides, padding, dilation, G, bias=b)
    padded = conv.conv2d(_pad(x, padding), w, strides, ((0, 0), (0, 0)), dilation, G, bias=b)
    np.testing.assert_array_equal(got, padded)
    want = ref_conv(x.astype(np.float64), w.astype(np.float64), strides, padding, dilation, G) + b
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", [c for c in CASES if c[7] == (1, 1)])
def test_backprop_input_reads_the_gradient_as_if_padded(case, monkeypatch):
    """Stride 1: the forward kernel on g itself with tap classes; bit for bit what the route
    through a zero-bordered copy of g computes (forced by allowing no class tables)."""
    N, H, W, kh, kw, Cin, Co, strides, padding, dilation, G = case
    rng = np.random.default_rng(Cin * 7 + Co)
    w = rng.standard_normal((kh, kw, Cin // G, Co)).astype(np.float32)
    y_shape = conv.conv2d(np.zeros((N, H, W, Cin), np.float32), w, strides, padding, dilation, G).shape
    g = rng.standard_normal(y_shape).astype(np.float32)
    got = conv.conv2d_backprop_input(g, w, (N, H, W, Cin), strides, padding, dilation, G)
    monkeypatch.setattr(conv, "CLASS_ENTRIES_MAX", 0)
    conv._tiles.cache_clear()
    try:
        copied = conv.conv2d_backprop_input(g, w, (N, H, W, Cin), strides, padding, dilation, G)
    finally:
        conv._tiles.cache_clear()
    np.testing.assert_array_equal(got, copied)
    # against the adjoint of the forward formula: <conv(x), g> = <x, dx> for every x
    x = rng.standard_normal((N, H, W, Cin))
    lhs = np.sum(ref_conv(x, w.astype(np.float64), strides, padding, dilation, G) * g)
    np.testing.assert_allclose(lhs, np.sum(x * got), rtol=1e-4)


def test_classes_partition_the_pixels_and_list_only_taps_inside():
    H, W, kh, kw, sh, sw, dh, dw, pt, pl, Cig = 5, 4, 3, 2, 1, 2, 2, 1, 2, 1, 3
    Ho, Wo = (H + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (W + pl + 1 - dw * (kw - 1) - 1) // sw + 1
    koff, brow, pix, pos, cls = tap_classes(H, W, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl, Cig, Cig)
    assert sorted(pix.tolist()) == list(range(Ho * Wo))
    for k0, K, p0, n, run in cls:
        assert K % run == 0 or K == 0
        for p, base in zip(pix[p0:p0 + n], pos[p0:p0 + n]):
            oh, ow = divmod(int(p), Wo)
            inside = {((i * kw + j) * Cig + c) for i in range(kh) for j in range(kw) for c in range(Cig)
                      if 0 <= oh * sh + i * dh - pt < H and 0 <= ow * sw + j * dw - pl < W}
            assert set(brow[k0:k0 + K].tolist()) == inside
            assert list(brow[k0:k0 + K]) == sorted(brow[k0:k0 + K])  # the full sum's order
            for k in range(k0, k0 + K):  # each offset reads the cell of its filter row
                t, c = divmod(int(brow[k]), Cig)
                i, j = divmod(t, kw)
                assert int(base) + int(koff[k]) == ((oh * sh + i * dh - pt) * W + ow * sw + j * dw - pl) * Cig + c
            for r in range(0, K, run):  # runs are consecutive filter rows
                assert np.all(np.diff(brow[k0 + r:k0 + r + run]) == 1)


def test_epilogue_vectors_are_checked_before_any_work():
    x = np.ones((1, 3, 3, 2), np.float32)
    w = np.ones((2, 2, 2, 4), np.float32)
    out = np.full((1, 2, 2, 4), 7.0, np.float32)
    v = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="affine"):
        conv.conv2d(x, w, out=out, affine=(v, v))
    with pytest.raises(ValueError, match="scale"):
        conv.conv2d(x, w, out=out, affine=(v, np.zeros(3, np.float32), v))
    with pytest.raises(ValueError, match="bias"):
        conv.conv2d(x, w, out=out, bias=np.zeros(5, np.float32))
    assert np.all(out == 7.0)  # nothing written
    got = conv.conv2d(x, w, bias=v + 1, affine=(v + 2, v + 0.5, v - 1), relu=True)
    np.testing.assert_array_equal(got, np.maximum(((8.0 + 1) - 2) * 0.5 - 1, 0) * np.ones((1, 2, 2, 4)))

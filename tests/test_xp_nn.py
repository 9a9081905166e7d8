"""keraslite.backend.xp.nn with xp = numpy, against naive loop references and finite differences.

The references below are written independently of the module under test: explicit Python loops
over every output cell, slow but obviously right, so shapes stay small.
"""
import importlib.util
import itertools
import math
from fractions import Fraction
from pathlib import Path
import zlib

import numpy as np
import pytest

try:
    from keraslite.backend.xp import nn as xnn
except Exception:  # the rest of the package may still be half-written
    _path = Path(__file__).resolve().parents[1] / "keraslite" / "backend" / "xp" / "nn.py"
    _spec = importlib.util.spec_from_file_location("_keraslite_xp_nn", _path)
    xnn = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(xnn)


def _rng(*key):
    # str hashes change between runs; crc32 keeps every case's data fixed
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _out(size, k, s, pad, d=1):
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def numeric_grad(f, arr, eps=1e-6):
    """Central finite differences of the scalar f() with respect to every entry of arr."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        saved = arr[idx]
        arr[idx] = saved + eps
        up = f()
        arr[idx] = saved - eps
        down = f()
        arr[idx] = saved
        grad[idx] = (up - down) / (2 * eps)
    return grad


# ------------------------------------------------------------------------ naive references

def ref_conv2d(x, w, strides, padding, dilation, groups):
    n_, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    cog = cout // groups
    (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = strides, dilation, padding
    ho, wo = _out(h, kh, sh, (pt, pb), dh), _out(wd, kw, sw, (pl, pr), dw)
    y = np.zeros((n_, ho, wo, cout))
    for n, oh, ow, co in itertools.product(range(n_), range(ho), range(wo), range(cout)):
        grp = co // cog
        acc = 0.0
        for i, j, c in itertools.product(range(kh), range(kw), range(cg)):
            r, s = oh * sh + i * dh - pt, ow * sw + j * dw - pl
            if 0 <= r < h and 0 <= s < wd:
                acc += x[n, r, s, grp * cg + c] * w[i, j, c, co]
        y[n, oh, ow, co] = acc
    return y


def ref_conv2d_grads(x, w, g, strides, padding, dilation, groups):
    """(dx, dw) of sum(conv2d(x, w) * g), accumulated cell by cell."""
    n_, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    cog = cout // groups
    (sh, sw), (dh, dw_), ((pt, _), (pl, _)) = strides, dilation, padding
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    _, ho, wo, _ = g.shape
    for n, oh, ow, co in itertools.product(range(n_), range(ho), range(wo), range(cout)):
        grp = co // cog
        for i, j, c in itertools.product(range(kh), range(kw), range(cg)):
            r, s = oh * sh + i * dh - pt, ow * sw + j * dw_ - pl
            if 0 <= r < h and 0 <= s < wd:
                dx[n, r, s, grp * cg + c] += g[n, oh, ow, co] * w[i, j, c, co]
                dw[i, j, c, co] += g[n, oh, ow, co] * x[n, r, s, grp * cg + c]
    return dx, dw


def _windows(h, wd, pool, strides, padding):
    """For every output cell (oh, ow): the list of real input cells (r, s), row-major."""
    (ph, pw), (sh, sw), ((pt, pb), (pl, pr)) = pool, strides, padding
    ho, wo = _out(h, ph, sh, (pt, pb)), _out(wd, pw, sw, (pl, pr))
    out = {}
    for oh, ow in itertools.product(range(ho), range(wo)):
        cells = []
        for i, j in itertools.product(range(ph), range(pw)):
            r, s = oh * sh + i - pt, ow * sw + j - pl
            if 0 <= r < h and 0 <= s < wd:
                cells.append((r, s))
        out[oh, ow] = cells
    return ho, wo, out


def ref_max_pool(x, pool, strides, padding):
    n_, h, wd, c_ = x.shape
    ho, wo, win = _windows(h, wd, pool, strides, padding)
    y = np.zeros((n_, ho, wo, c_))
    dx_route = {}
    for n, c in itertools.product(range(n_), range(c_)):
        for (oh, ow), cells in win.items():
            best = None
            for r, s in cells:
                if best is None or x[n, r, s, c] > x[n, best[0], best[1], c]:
                    best = (r, s)
            y[n, oh, ow, c] = x[n, best[0], best[1], c]
            dx_route[n, oh, ow, c] = (n, best[0], best[1], c)
    return y, dx_route


def ref_max_pool_backprop(x, g, pool, strides, padding):
    _, route = ref_max_pool(x, pool, strides, padding)
    dx = np.zeros_like(x)
    for out_idx, in_idx in route.items():
        dx[in_idx] += g[out_idx]
    return dx


def ref_avg_pool(x, pool, strides, padding):
    n_, h, wd, c_ = x.shape
    ho, wo, win = _windows(h, wd, pool, strides, padding)
    y = np.zeros((n_, ho, wo, c_))
    for n, c in itertools.product(range(n_), range(c_)):
        for (oh, ow), cells in win.items():
            y[n, oh, ow, c] = sum(x[n, r, s, c] for r, s in cells) / len(cells)
    return y


def ref_avg_pool_backprop(g, input_shape, pool, strides, padding):
    n_, h, wd, c_ = input_shape
    _, _, win = _windows(h, wd, pool, strides, padding)
    dx = np.zeros(input_shape)
    for n, c in itertools.product(range(n_), range(c_)):
        for (oh, ow), cells in win.items():
            for r, s in cells:
                dx[n, r, s, c] += g[n, oh, ow, c] / len(cells)
    return dx


def ref_batchnorm(x, gamma, beta, axes, eps):
    kshape = tuple(1 if a in axes else x.shape[a] for a in range(x.ndim))
    mean, var, y = np.zeros(kshape), np.zeros(kshape), np.zeros_like(x)
    for kidx in np.ndindex(kshape):
        sel = tuple(slice(None) if a in axes else kidx[a] for a in range(x.ndim))
        values = [float(v) for v in x[sel].ravel()]
        m = sum(values) / len(values)
        v = sum((e - m) ** 2 for e in values) / len(values)
        mean[kidx], var[kidx] = m, v
        gm = 1.0 if gamma is None else gamma[kidx]
        bt = 0.0 if beta is None else beta[kidx]
        y[sel] = (x[sel] - m) / math.sqrt(v + eps) * gm + bt
    return y, mean, var


def _bilinear_taps(i, f, size):
    src = Fraction(i, f)
    lo = math.floor(src)
    return lo, min(lo + 1, size - 1), float(src - lo)


def ref_resize_bilinear(x, factors):
    n_, h, wd, c_ = x.shape
    fh, fw = factors
    y = np.zeros((n_, h * fh, wd * fw, c_))
    for n, i, j, c in itertools.product(range(n_), range(h * fh), range(wd * fw), range(c_)):
        r0, r1, dy = _bilinear_taps(i, fh, h)
        s0, s1, dx = _bilinear_taps(j, fw, wd)
        y[n, i, j, c] = ((1 - dy) * ((1 - dx) * x[n, r0, s0, c] + dx * x[n, r0, s1, c])
                         + dy * ((1 - dx) * x[n, r1, s0, c] + dx * x[n, r1, s1, c]))
    return y


def ref_resize_bilinear_backprop(g, input_shape, factors):
    n_, h, wd, c_ = input_shape
    fh, fw = factors
    out = np.zeros(input_shape)
    for n, i, j, c in itertools.product(range(n_), range(h * fh), range(wd * fw), range(c_)):
        r0, r1, dy = _bilinear_taps(i, fh, h)
        s0, s1, dx = _bilinear_taps(j, fw, wd)
        v = g[n, i, j, c]
        out[n, r0, s0, c] += (1 - dy) * (1 - dx) * v
        out[n, r0, s1, c] += (1 - dy) * dx * v
        out[n, r1, s0, c] += dy * (1 - dx) * v
        out[n, r1, s1, c] += dy * dx * v
    return out


def ref_resize_nearest(x, factors):
    n_, h, wd, c_ = x.shape
    fh, fw = factors
    y = np.zeros((n_, h * fh, wd * fw, c_))
    for n, i, j, c in itertools.product(range(n_), range(h * fh), range(wd * fw), range(c_)):
        y[n, i, j, c] = x[n, i // fh, j // fw, c]
    return y


# ------------------------------------------------------------------------------ convolution

P0 = ((0, 0), (0, 0))
P1 = ((1, 1), (1, 1))
# (N, H, W, Cin, kh, kw, Cout, strides, padding, dilation, groups)
CONV_CASES = {
    "basic": (2, 5, 6, 3, 3, 3, 4, (1, 1), P0, (1, 1), 1),
    "stride2_pad1": (1, 7, 6, 2, 3, 3, 2, (2, 2), P1, (1, 1), 1),
    "stride3_asym": (2, 8, 7, 2, 2, 3, 3, (3, 3), ((0, 0), (1, 0)), (1, 1), 1),
    "stride_gt_kernel": (1, 7, 8, 2, 2, 2, 3, (3, 3), P0, (1, 1), 1),
    "mixed_strides": (2, 6, 7, 2, 3, 2, 2, (2, 1), ((1, 0), (0, 1)), (1, 1), 1),
    "1x1": (2, 4, 5, 3, 1, 1, 2, (1, 1), P0, (1, 1), 1),
    "1x1_stride2": (1, 5, 4, 3, 1, 1, 2, (2, 2), P0, (1, 1), 1),
    "1x1_padded": (1, 3, 4, 2, 1, 1, 2, (1, 1), ((1, 0), (0, 2)), (1, 1), 1),
    "kernel_eq_padded_input": (2, 3, 4, 2, 5, 6, 3, (1, 1), P1, (1, 1), 1),
    "kernel_eq_input": (1, 4, 3, 2, 4, 3, 2, (2, 2), P0, (1, 1), 1),
    "asym_pad": (1, 5, 6, 2, 3, 3, 2, (1, 1), ((0, 1), (1, 0)), (1, 1), 1),
    "dilation2": (1, 7, 8, 2, 3, 2, 2, (1, 1), ((2, 2), (1, 1)), (2, 2), 1),
    "dilation2_stride2": (2, 9, 8, 2, 3, 3, 2, (2, 1), ((1, 2), (2, 1)), (2, 2), 1),
    "dilation_mixed": (1, 6, 9, 2, 2, 3, 2, (1, 2), P0, (1, 3), 1),
    "groups2": (2, 5, 5, 4, 3, 3, 6, (1, 1), P1, (1, 1), 2),
    "groups2_stride2_dil": (1, 7, 6, 4, 2, 2, 4, (2, 2), ((0, 1), (1, 1)), (2, 1), 2),
    "depthwise": (2, 5, 4, 3, 3, 3, 3, (1, 1), P1, (1, 1), 3),
    "depthwise_mult2": (1, 6, 5, 3, 3, 2, 6, (2, 1), ((1, 1), (0, 1)), (1, 1), 3),
    "groups3_1x1": (1, 3, 4, 6, 1, 1, 3, (1, 1), P0, (1, 1), 3),
}


def _conv_data(name, dtype=np.float64):
    n, h, w, cin, kh, kw, cout, strides, padding, dilation, groups = CONV_CASES[name]
    rng = _rng("conv", name)
    x = rng.standard_normal((n, h, w, cin)).astype(dtype)
    wt = rng.standard_normal((kh, kw, cin // groups, cout)).astype(dtype)
    return x, wt, strides, padding, dilation, groups


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_forward(name):
    x, w, strides, padding, dilation, groups = _conv_data(name)
    y = xnn.conv2d(np, x, w, strides, padding, dilation, groups)
    ref = ref_conv2d(x, w, strides, padding, dilation, groups)
    assert y.shape == ref.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv2d_backprops(name):
    x, w, strides, padding, dilation, groups = _conv_data(name)
    y = xnn.conv2d(np, x, w, strides, padding, dilation, groups)
    g = _rng("conv-g", name).standard_normal(y.shape)
    dx = xnn.conv2d_backprop_input(np, g, w, x.shape, strides, padding, dilation, groups)
    dw = xnn.conv2d_backprop_filter(np, x, g, w.shape, strides, padding, dilation, groups)
    ref_dx, ref_dw = ref_conv2d_grads(x, w, g, strides, padding, dilation, groups)
    assert dx.shape == x.shape and dw.shape == w.shape
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-12, atol=1e-12)

    def loss():
        return float(np.sum(xnn.conv2d(np, x, w, strides, padding, dilation, groups) * g))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, numeric_grad(loss, w), rtol=1e-6, atol=1e-7)


def test_conv2d_uncovered_input_gets_zero_gradient():
    # k = 2, s = 3: rows (H = 7) 0-1 and 3-4 are read, rows 2, 5, 6 never; cols (W = 8) 2, 5 never
    x, w, strides, padding, dilation, groups = _conv_data("stride_gt_kernel")
    g = np.ones((1, 2, 3, 3))
    dx = xnn.conv2d_backprop_input(np, g, w, x.shape, strides, padding, dilation, groups)
    assert np.all(dx[:, [2, 5, 6]] == 0) and np.all(dx[:, :, [2, 5]] == 0)
    assert np.all(dx[:, [0, 1, 3, 4]][:, :, [0, 1, 3, 4, 6, 7]] != 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_conv2d_keeps_dtype(dtype):
    for name in ("stride2_pad1", "groups2", "depthwise_mult2", "1x1"):
        x64, w64, strides, padding, dilation, groups = _conv_data(name)
        x, w = x64.astype(dtype), w64.astype(dtype)
        args = (strides, padding, dilation, groups)
        y = xnn.conv2d(np, x, w, *args)
        g = np.ones_like(y)
        dx = xnn.conv2d_backprop_input(np, g, w, x.shape, *args)
        dw = xnn.conv2d_backprop_filter(np, x, g, w.shape, *args)
        assert y.dtype == dx.dtype == dw.dtype == dtype
        tol = 1e-4 if dtype == np.float32 else 3e-2
        ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), *args)
        np.testing.assert_allclose(y, ref, rtol=tol, atol=tol * 10)
        ref_dx, ref_dw = ref_conv2d_grads(x.astype(np.float64), w.astype(np.float64),
                                          g.astype(np.float64), *args)
        np.testing.assert_allclose(dx, ref_dx, rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(dw, ref_dw, rtol=tol, atol=tol * 10)


def test_conv2d_rejects_bad_groups_and_oversized_kernels():
    x = np.zeros((1, 4, 4, 4))
    with pytest.raises(ValueError):
        xnn.conv2d(np, x, np.zeros((3, 3, 3, 4)), (1, 1), P0, (1, 1), 2)
    with pytest.raises(ValueError):
        xnn.conv2d(np, x, np.zeros((3, 3, 2, 3)), (1, 1), P0, (1, 1), 2)
    with pytest.raises(ValueError):
        xnn.conv2d(np, x, np.zeros((6, 3, 4, 2)), (1, 1), P0, (1, 1), 1)


# ---------------------------------------------------------------------------------- pooling

# (N, H, W, C, pool, strides, padding)
POOL_CASES = {
    "2x2_s2": (2, 4, 6, 3, (2, 2), (2, 2), P0),
    "3x3_s2_pad": (1, 5, 6, 2, (3, 3), (2, 2), P1),
    "3x2_mixed": (2, 5, 4, 2, (3, 2), (1, 2), ((1, 1), (0, 1))),
    "stride_gt_pool": (1, 7, 8, 2, (2, 2), (3, 3), P0),
    "1x1": (1, 3, 4, 2, (1, 1), (1, 1), P0),
    "overlap_s1": (2, 4, 5, 1, (2, 3), (1, 1), ((0, 1), (1, 1))),
    "asym_pad": (1, 5, 5, 2, (3, 3), (3, 1), ((2, 0), (0, 2))),
    "pool_eq_padded_input": (2, 3, 4, 2, (4, 5), (1, 1), ((1, 0), (0, 1))),
    "stride3": (1, 9, 8, 2, (3, 2), (3, 3), ((0, 0), (0, 1))),
}


def _pool_args(name):
    n, h, w, c, pool, strides, padding = POOL_CASES[name]
    return (n, h, w, c), pool, strides, padding


@pytest.mark.parametrize("name", list(POOL_CASES))
def test_max_pool_distinct_values(name):
    shape, pool, strides, padding = _pool_args(name)
    rng = _rng("maxpool", name)
    # distinct values well apart, so finite differences never cross a tie
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 3.0).astype(np.float64)
    y = xnn.max_pool2d(np, x, pool, strides, padding)
    ref_y, _ = ref_max_pool(x, pool, strides, padding)
    np.testing.assert_array_equal(y, ref_y)
    g = rng.standard_normal(y.shape)
    dx = xnn.max_pool2d_backprop(np, x, y, g, pool, strides, padding)
    np.testing.assert_allclose(dx, ref_max_pool_backprop(x, g, pool, strides, padding),
                               rtol=1e-12, atol=1e-12)

    def loss():
        return float(np.sum(xnn.max_pool2d(np, x, pool, strides, padding) * g))
    np.testing.assert_allclose(dx, numeric_grad(loss, x, eps=1e-4), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(POOL_CASES))
def test_max_pool_ties_go_to_first_cell(name):
    shape, pool, strides, padding = _pool_args(name)
    rng = _rng("maxpool-ties", name)
    x = rng.integers(-2, 1, size=shape).astype(np.float64)   # many ties, many non-positive maxima
    y = xnn.max_pool2d(np, x, pool, strides, padding)
    np.testing.assert_array_equal(y, ref_max_pool(x, pool, strides, padding)[0])
    g = rng.standard_normal(y.shape)
    dx = xnn.max_pool2d_backprop(np, x, y, g, pool, strides, padding)
    np.testing.assert_allclose(dx, ref_max_pool_backprop(x, g, pool, strides, padding),
                               rtol=1e-12, atol=1e-12)
    # the total gradient is conserved: every window hands its g to exactly one cell
    np.testing.assert_allclose(dx.sum(), g.sum(), rtol=1e-10)


def test_max_pool_padding_never_wins_even_against_minus_inf():
    x = np.full((1, 2, 2, 1), -np.inf)
    pad = ((1, 0), (1, 0))
    y = xnn.max_pool2d(np, x, (2, 2), (1, 1), pad)
    assert np.all(y == -np.inf)
    g = np.ones_like(y)
    dx = xnn.max_pool2d_backprop(np, x, y, g, (2, 2), (1, 1), pad)
    # every window contains a real cell and hands it its gradient: nothing is lost to padding
    assert dx.sum() == g.sum()
    # real cell (0, 0) is the first real cell of all four windows
    np.testing.assert_array_equal(dx[0, :, :, 0], [[4, 0], [0, 0]])


@pytest.mark.parametrize("name", list(POOL_CASES))
def test_avg_pool(name):
    shape, pool, strides, padding = _pool_args(name)
    rng = _rng("avgpool", name)
    x = rng.standard_normal(shape)
    y = xnn.avg_pool2d(np, x, pool, strides, padding)
    np.testing.assert_allclose(y, ref_avg_pool(x, pool, strides, padding), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = xnn.avg_pool2d_backprop(np, g, x.shape, pool, strides, padding)
    assert dx.shape == x.shape
    np.testing.assert_allclose(dx, ref_avg_pool_backprop(g, x.shape, pool, strides, padding),
                               rtol=1e-12, atol=1e-12)

    def loss():
        return float(np.sum(xnn.avg_pool2d(np, x, pool, strides, padding) * g))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)


def test_avg_pool_divides_by_real_cells_only():
    x = np.ones((1, 3, 3, 1))
    y = xnn.avg_pool2d(np, x, (3, 3), (1, 1), P1)
    np.testing.assert_array_equal(y, np.ones_like(y))   # padding would pull border means down


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_pooling_keeps_dtype(dtype):
    shape, pool, strides, padding = _pool_args("3x3_s2_pad")
    x = _rng("pool-dtype").standard_normal(shape).astype(dtype)
    for fwd in (xnn.max_pool2d, xnn.avg_pool2d):
        y = fwd(np, x, pool, strides, padding)
        assert y.dtype == dtype
    y = xnn.max_pool2d(np, x, pool, strides, padding)
    g = np.ones_like(y)
    assert xnn.max_pool2d_backprop(np, x, y, g, pool, strides, padding).dtype == dtype
    assert xnn.avg_pool2d_backprop(np, g, x.shape, pool, strides, padding).dtype == dtype
    np.testing.assert_allclose(xnn.avg_pool2d(np, x, pool, strides, padding),
                               ref_avg_pool(x.astype(np.float64), pool, strides, padding),
                               rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------------------- batchnorm

BN_CASES = {
    "dense": ((6, 4), (0,)),
    "nhwc": ((2, 3, 4, 3), (0, 1, 2)),
    "nchw": ((2, 3, 3, 4), (0, 2, 3)),
    "axis1": ((3, 5, 2), (1,)),
    "negative_axes": ((2, 3, 4), (-3, -1)),
}


def _keep_shape(shape, axes):
    axes = {a % len(shape) for a in axes}
    return tuple(1 if a in axes else d for a, d in enumerate(shape))


@pytest.mark.parametrize("name", list(BN_CASES))
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_forward(name, affine):
    shape, axes = BN_CASES[name]
    rng = _rng("bn", name)
    x = rng.standard_normal(shape) * 3 + 1.5
    ks = _keep_shape(shape, axes)
    gamma = rng.standard_normal(ks) if affine else None
    beta = rng.standard_normal(ks) if affine else None
    y, mean, var = xnn.batchnorm_train_forward(np, x, gamma, beta, axes, 1e-3)
    norm_axes = tuple(a % len(shape) for a in axes)
    ref_y, ref_mean, ref_var = ref_batchnorm(x, gamma, beta, norm_axes, 1e-3)
    assert mean.shape == var.shape == ks
    np.testing.assert_allclose(y, ref_y, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, ref_var, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(BN_CASES))
@pytest.mark.parametrize("with_stat_grads", [True, False])
def test_batchnorm_backward(name, with_stat_grads):
    shape, axes = BN_CASES[name]
    rng = _rng("bn-grad", name)
    eps = 1e-3
    x = rng.standard_normal(shape) * 2 + 0.5
    ks = _keep_shape(shape, axes)
    gamma = rng.standard_normal(ks)
    beta = rng.standard_normal(ks)
    gy = rng.standard_normal(shape)
    gmean = rng.standard_normal(ks) if with_stat_grads else None
    gvar = rng.standard_normal(ks) if with_stat_grads else None

    def loss():
        y, mean, var = xnn.batchnorm_train_forward(np, x, gamma, beta, axes, eps)
        total = np.sum(y * gy)
        if with_stat_grads:
            total += np.sum(mean * gmean) + np.sum(var * gvar)
        return float(total)

    _, mean, var = xnn.batchnorm_train_forward(np, x, gamma, beta, axes, eps)
    dx, dgamma, dbeta = xnn.batchnorm_train_backward(np, x, gamma, mean, var, gy, gmean, gvar,
                                                     axes, eps)
    assert dx.shape == shape and dgamma.shape == dbeta.shape == ks
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dgamma, numeric_grad(loss, gamma), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dbeta, numeric_grad(loss, beta), rtol=1e-5, atol=1e-7)


def test_batchnorm_backward_without_gamma():
    shape, axes = BN_CASES["nhwc"]
    rng = _rng("bn-nogamma")
    x, gy = rng.standard_normal(shape), rng.standard_normal(shape)
    ks = _keep_shape(shape, axes)
    gmean, gvar = rng.standard_normal(ks), rng.standard_normal(ks)

    def loss():
        y, mean, var = xnn.batchnorm_train_forward(np, x, None, None, axes, 1e-3)
        return float(np.sum(y * gy) + np.sum(mean * gmean) + np.sum(var * gvar))

    _, mean, var = xnn.batchnorm_train_forward(np, x, None, None, axes, 1e-3)
    dx, dgamma, dbeta = xnn.batchnorm_train_backward(np, x, None, mean, var, gy, gmean, gvar,
                                                     axes, 1e-3)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    xhat = (x - mean) / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(dgamma, np.sum(gy * xhat, axis=axes, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(dbeta, np.sum(gy, axis=axes, keepdims=True), rtol=1e-10)


def test_batchnorm_keeps_float32():
    shape, axes = BN_CASES["nchw"]
    rng = _rng("bn-f32")
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    ks = _keep_shape(shape, axes)
    gamma, beta = np.ones(ks, np.float32), np.zeros(ks, np.float32)
    y, mean, var = xnn.batchnorm_train_forward(np, x, gamma, beta, axes, 1e-3)
    assert y.dtype == mean.dtype == var.dtype == np.float32
    gy = np.ones_like(x)
    outs = xnn.batchnorm_train_backward(np, x, gamma, mean, var, gy, np.ones_like(mean),
                                        np.ones_like(var), axes, 1e-3)
    assert all(o.dtype == np.float32 for o in outs)
    ref_y, _, _ = ref_batchnorm(x.astype(np.float64), None, None, axes, 1e-3)
    np.testing.assert_allclose(y, ref_y, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------------- resize

RESIZE_CASES = [((2, 3, 4, 2), (2, 3)), ((1, 4, 3, 1), (3, 2)), ((1, 1, 2, 2), (2, 2)),
                ((2, 3, 3, 1), (1, 1)), ((1, 2, 1, 3), (4, 3))]


@pytest.mark.parametrize("shape,factors", RESIZE_CASES)
def test_resize_nearest(shape, factors):
    rng = _rng("nearest", shape, factors)
    x = rng.standard_normal(shape)
    y = xnn.resize_nearest(np, x, factors)
    np.testing.assert_array_equal(y, ref_resize_nearest(x, factors))
    g = rng.standard_normal(y.shape)
    dx = xnn.resize_nearest_backprop(np, g, factors)

    def loss():
        return float(np.sum(xnn.resize_nearest(np, x, factors) * g))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape,factors", RESIZE_CASES)
def test_resize_bilinear(shape, factors):
    rng = _rng("bilinear", shape, factors)
    x = rng.standard_normal(shape)
    y = xnn.resize_bilinear(np, x, factors)
    np.testing.assert_allclose(y, ref_resize_bilinear(x, factors), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx = xnn.resize_bilinear_backprop(np, g, x.shape, factors)
    np.testing.assert_allclose(dx, ref_resize_bilinear_backprop(g, x.shape, factors),
                               rtol=1e-12, atol=1e-12)

    def loss():
        return float(np.sum(xnn.resize_bilinear(np, x, factors) * g))
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)


def test_resize_bilinear_known_values():
    # TF1 resize_bilinear(align_corners=False) of [[0, 1], [2, 3]] to 4x4 (no half-pixel centres)
    x = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 2, 2, 1)
    expected = [[0.0, 0.5, 1.0, 1.0],
                [1.0, 1.5, 2.0, 2.0],
                [2.0, 2.5, 3.0, 3.0],
                [2.0, 2.5, 3.0, 3.0]]
    np.testing.assert_allclose(xnn.resize_bilinear(np, x, (2, 2))[0, :, :, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_resize_keeps_dtype(dtype):
    x = _rng("resize-dtype").standard_normal((1, 3, 2, 2)).astype(dtype)
    for fwd, back in ((xnn.resize_nearest, lambda g: xnn.resize_nearest_backprop(np, g, (2, 3))),
                      (xnn.resize_bilinear,
                       lambda g: xnn.resize_bilinear_backprop(np, g, x.shape, (2, 3)))):
        y = fwd(np, x, (2, 3))
        assert y.dtype == dtype and y.shape == (1, 6, 6, 2)
        assert back(np.ones_like(y)).dtype == dtype
    np.testing.assert_allclose(xnn.resize_bilinear(np, x, (2, 3)),
                               ref_resize_bilinear(x.astype(np.float64), (2, 3)),
                               rtol=1e-2, atol=1e-2)

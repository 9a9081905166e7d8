"""Numba CPU kernels (backends/keraslite_numba/kernels): convolution, pooling, batch norm.

Each kernel is compared with an independent NumPy reference written with explicit loops (small
shapes), and every backprop with central finite differences of its forward in float64.

The kernel modules are loaded by path so that this file runs without the rest of the package.
They are registered under their package names (keraslite_numba.kernels.*) because Numba's
on-disk cache records the module name of every cached kernel.

Cold-cache compile time dominates this file's run time; most checks therefore use float64 and
only a few distinct array signatures, float32 is checked once per kernel.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

_KDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "backends",
                     "keraslite_numba", "kernels")


def _load(name):
    full = f"keraslite_numba.kernels.{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, os.path.join(_KDIR, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[full] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[full]
        raise
    return mod


conv = _load("conv")
pool = _load("pool")
bn = _load("batchnorm")


# ---------------------------------------------------------------------------------------------
# naive references
# ---------------------------------------------------------------------------------------------
def _out_size(n, k, s, p, d=1):
    return (n + p[0] + p[1] - d * (k - 1) - 1) // s + 1


def ref_conv(x, w, strides, padding, dilation, groups):
    N, H, W, Cin = x.shape
    kh, kw, Cig, Co = w.shape
    sh, sw = strides
    dh, dw = dilation
    (pt, pb), (pl, pr) = padding
    Ho = _out_size(H, kh, sh, (pt, pb), dh)
    Wo = _out_size(W, kw, sw, (pl, pr), dw)
    Cog = Co // groups
    y = np.zeros((N, Ho, Wo, Co))
    for n in range(N):
        for oh in range(Ho):
            for ow in range(Wo):
                for co in range(Co):
                    g = co // Cog
                    s = 0.0
                    for i in range(kh):
                        h = oh * sh + i * dh - pt
                        if not 0 <= h < H:
                            continue
                        for j in range(kw):
                            ww = ow * sw + j * dw - pl
                            if not 0 <= ww < W:
                                continue
                            for c in range(Cig):
                                s += x[n, h, ww, g * Cig + c] * w[i, j, c, co]
                    y[n, oh, ow, co] = s
    return y


def ref_conv_grads(x, w, gy, strides, padding, dilation, groups):
    """dL/dx and dL/dw of L = sum(conv(x, w) * gy), by the same explicit loops."""
    N, H, W, Cin = x.shape
    kh, kw, Cig, Co = w.shape
    sh, sw = strides
    dh, dw = dilation
    (pt, pb), (pl, pr) = padding
    _, Ho, Wo, _ = gy.shape
    Cog = Co // groups
    dx = np.zeros(x.shape)
    dwt = np.zeros(w.shape)
    for n in range(N):
        for oh in range(Ho):
            for ow in range(Wo):
                for co in range(Co):
                    g = co // Cog
                    gv = gy[n, oh, ow, co]
                    for i in range(kh):
                        h = oh * sh + i * dh - pt
                        if not 0 <= h < H:
                            continue
                        for j in range(kw):
                            ww = ow * sw + j * dw - pl
                            if not 0 <= ww < W:
                                continue
                            for c in range(Cig):
                                dx[n, h, ww, g * Cig + c] += gv * w[i, j, c, co]
                                dwt[i, j, c, co] += gv * x[n, h, ww, g * Cig + c]
    return dx, dwt


def _windows(H, W, pool_size, strides, padding):
    ph, pw = pool_size
    sh, sw = strides
    (pt, pb), (pl, pr) = padding
    Ho = _out_size(H, ph, sh, (pt, pb))
    Wo = _out_size(W, pw, sw, (pl, pr))
    for oh in range(Ho):
        for ow in range(Wo):
            cells = [(h, w) for h in range(oh * sh - pt, oh * sh - pt + ph)
                     for w in range(ow * sw - pl, ow * sw - pl + pw)
                     if 0 <= h < H and 0 <= w < W]
            yield oh, ow, cells


def ref_max_pool(x, pool_size, strides, padding):
    N, H, W, C = x.shape
    Ho = _out_size(H, pool_size[0], strides[0], padding[0])
    Wo = _out_size(W, pool_size[1], strides[1], padding[1])
    y = np.full((N, Ho, Wo, C), -np.inf)
    for n in range(N):
        for oh, ow, cells in _windows(H, W, pool_size, strides, padding):
            for c in range(C):
                for h, w in cells:
                    y[n, oh, ow, c] = max(y[n, oh, ow, c], x[n, h, w, c])
    return y


def ref_max_pool_grad(x, g, pool_size, strides, padding):
    N, H, W, C = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for oh, ow, cells in _windows(H, W, pool_size, strides, padding):
            for c in range(C):
                vals = [x[n, h, w, c] for h, w in cells]
                h, w = cells[int(np.argmax(vals))]  # argmax: first maximal cell
                dx[n, h, w, c] += g[n, oh, ow, c]
    return dx


def ref_avg_pool(x, pool_size, strides, padding):
    N, H, W, C = x.shape
    Ho = _out_size(H, pool_size[0], strides[0], padding[0])
    Wo = _out_size(W, pool_size[1], strides[1], padding[1])
    y = np.zeros((N, Ho, Wo, C))
    for n in range(N):
        for oh, ow, cells in _windows(H, W, pool_size, strides, padding):
            for c in range(C):
                y[n, oh, ow, c] = sum(x[n, h, w, c] for h, w in cells) / len(cells)
    return y


def ref_avg_pool_grad(g, input_shape, pool_size, strides, padding):
    N, H, W, C = input_shape
    dx = np.zeros(input_shape)
    for n in range(N):
        for oh, ow, cells in _windows(H, W, pool_size, strides, padding):
            for c in range(C):
                for h, w in cells:
                    dx[n, h, w, c] += g[n, oh, ow, c] / len(cells)
    return dx


def ref_bn(x, gamma, beta, axes, eps):
    n = np.prod([x.shape[a] for a in axes])
    mean = x.sum(axis=axes, keepdims=True) / n
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / n
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, mean, var


def fd_grad(f, a, idx, eps=1e-6):
    """Central differences of the scalar f() with respect to a[idx] (a modified in place)."""
    out = []
    for i in idx:
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        out.append((fp - fm) / (2 * eps))
    return np.array(out)


def some_indices(shape, rng, k=6):
    flat = rng.choice(int(np.prod(shape)), size=min(k, int(np.prod(shape))), replace=False)
    return [np.unravel_index(int(i), shape) for i in flat]


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------
CONV_CASES = [
    # x shape, (kh, kw, Cout), strides, padding, dilation, groups
    pytest.param((2, 5, 6, 3), (3, 3, 4), (1, 1), ((0, 0), (0, 0)), (1, 1), 1, id="3x3-valid"),
    pytest.param((2, 7, 6, 2), (3, 3, 5), (2, 2), ((1, 1), (1, 1)), (1, 1), 1, id="stride2-pad1"),
    pytest.param((1, 8, 7, 3), (2, 2, 3), (3, 3), ((0, 2), (1, 0)), (1, 1), 1,
                 id="stride3>kernel-asympad-batch1"),
    pytest.param((2, 5, 5, 4), (1, 1, 3), (2, 1), ((0, 0), (0, 0)), (1, 1), 1, id="1x1"),
    pytest.param((2, 4, 3, 2), (5, 4, 3), (1, 1), ((1, 0), (0, 1)), (1, 1), 1,
                 id="kernel-as-large-as-padded-input"),
    pytest.param((2, 7, 8, 3), (3, 2, 4), (1, 2), ((2, 2), (1, 2)), (2, 2), 1, id="dilation2"),
    pytest.param((2, 5, 5, 4), (3, 3, 6), (1, 1), ((1, 1), (1, 1)), (1, 1), 2, id="groups2"),
    pytest.param((2, 5, 4, 3), (3, 3, 6), (2, 1), ((1, 1), (0, 1)), (1, 1), 3,
                 id="depthwise-groups=Cin"),
    pytest.param((1, 4, 5, 35), (2, 2, 40), (1, 1), ((0, 0), (0, 0)), (1, 1), 1,
                 id="wide-channels-tails"),
    pytest.param((2, 5, 6, 20), (1, 1, 6), (2, 2), ((0, 0), (0, 0)), (1, 1), 1, id="1x1-stride2-wide"),
    pytest.param((2, 6, 5, 36), (1, 1, 8), (2, 3), ((1, 0), (0, 2)), (1, 1), 2,
                 id="1x1-strided-padded-groups2"),
]


@pytest.mark.parametrize("xshape,kshape,strides,padding,dilation,groups", CONV_CASES)
def test_conv2d_against_loops(xshape, kshape, strides, padding, dilation, groups):
    rng = np.random.default_rng(abs(hash((xshape, kshape))) % 2**32)
    kh, kw, Co = kshape
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((kh, kw, xshape[3] // groups, Co))
    y = conv.conv2d(x, w, strides, padding, dilation, groups)
    ref = ref_conv(x, w, strides, padding, dilation, groups)
    assert y.shape == ref.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)

    gy = rng.standard_normal(y.shape)
    rdx, rdw = ref_conv_grads(x, w, gy, strides, padding, dilation, groups)
    dx = conv.conv2d_backprop_input(gy, w, x.shape, strides, padding, dilation, groups)
    dw = conv.conv2d_backprop_filter(x, gy, w.shape, strides, padding, dilation, groups)
    np.testing.assert_allclose(dx, rdx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, rdw, rtol=1e-12, atol=1e-12)

    def loss():
        return float(np.sum(conv.conv2d(x, w, strides, padding, dilation, groups) * gy))

    ix = some_indices(x.shape, rng)
    np.testing.assert_allclose(fd_grad(loss, x, ix), [dx[i] for i in ix], rtol=1e-6, atol=1e-7)
    iw = some_indices(w.shape, rng)
    np.testing.assert_allclose(fd_grad(loss, w, iw), [dw[i] for i in iw], rtol=1e-6, atol=1e-7)


def test_strided_1x1_backprop_input_equals_the_zero_inserted_route():
    # the products are made on g itself; the same bits as the forward kernel on g with zeros
    # inserted between its pixels (and as the plain loops)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 7, 6, 40)).astype(np.float32)
    w = rng.standard_normal((1, 1, 40, 24)).astype(np.float32)
    g = rng.standard_normal((3, 4, 3, 24)).astype(np.float32)
    dx = conv.conv2d_backprop_input(g, w, x.shape, (2, 2), ((0, 0), (0, 0)))
    q = np.zeros((3, 7, 6, 24), np.float32)
    q[:, ::2, ::2] = g
    ref = conv.conv2d(q, np.ascontiguousarray(w.transpose(0, 1, 3, 2)))
    np.testing.assert_array_equal(dx, ref)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("shape,groups", [((3, 3, 6, 150), 1), ((1, 1, 40, 64), 1), ((3, 2, 5, 70), 2),
                                          ((2, 2, 3, 9), 3)])
def test_filter_panels_packed_by_numba_equal_numpy(shape, groups, flip):
    pack = _load("conv_pack")
    w = np.random.default_rng(3).standard_normal(shape)
    kh, kw, Cig, Co = shape
    Cog = Co // groups
    cols, rows = (Cig, Cog) if flip else (Cog, Cig)
    nblk = -(-cols // conv.NR)
    ref = pack.packed_filter(w, groups, flip, conv.NR)  # small: the NumPy route
    got = np.full_like(ref, np.nan)
    pack._pack(w, groups, flip, conv.NR, got)
    np.testing.assert_array_equal(got, ref)
    # the definition, element by element
    for p, k, c in [(0, 0, 0), (groups * nblk - 1, kh * kw * rows - 1, conv.NR - 1), (nblk // 2, kh * kw * rows // 2, 1)]:
        g, b = divmod(p, nblk)
        i, rest = divmod(k, kw * rows)
        j, r = divmod(rest, rows)
        if b * conv.NR + c >= cols:
            expect = 0.0
        elif flip:
            expect = w[kh - 1 - i, kw - 1 - j, b * conv.NR + c, g * Cog + r]
        else:
            expect = w[i, j, r, g * Cog + b * conv.NR + c]
        assert ref[p, k, c] == expect


@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_few_rows_many_channels_on_1_and_2_threads(groups, monkeypatch):
    # a deep layer's shape (2x2 pixels, 5 column panels per group): the work is shared out by
    # column panel and smaller row blocks; each output element is still one ordered sum, so the
    # forward result does not depend on the thread count
    import numba
    monkeypatch.setattr(_load("conv_pack"), "NUMBA_MIN", 0)  # the filters packed by the kernel
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 2, 2, 6 * groups)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, 150 * groups)).astype(np.float32)
    b = rng.standard_normal(150 * groups).astype(np.float32)
    pad = ((1, 1), (1, 1))
    gy = rng.standard_normal((3, 2, 2, 150 * groups)).astype(np.float32)
    x64, w64, gy64 = x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64)
    ref = ref_conv(x64, w64, (1, 1), pad, (1, 1), groups) + b
    rdx, rdw = ref_conv_grads(x64, w64, gy64, (1, 1), pad, (1, 1), groups)
    before = numba.get_num_threads()
    results = []
    try:
        for t in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(t)
            y = conv.conv2d(x, w, (1, 1), pad, (1, 1), groups, bias=b)
            dx = conv.conv2d_backprop_input(gy, w, x.shape, (1, 1), pad, (1, 1), groups)
            dw = conv.conv2d_backprop_filter(x, gy, w.shape, (1, 1), pad, (1, 1), groups)
            np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(dw, rdw, rtol=1e-4, atol=1e-4)
            results.append((y, dx))
    finally:
        numba.set_num_threads(before)
    for y, dx in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(dx, results[0][1])


def test_conv2d_float32_and_noncontiguous():
    rng = np.random.default_rng(7)
    x64 = rng.standard_normal((3, 9, 8, 5))
    w64 = rng.standard_normal((3, 3, 5, 33))
    strides, padding, dilation = (1, 1), ((1, 1), (1, 1)), (1, 1)
    # non-contiguous float32 inputs (transposed views)
    x = np.asfortranarray(x64.astype(np.float32))
    w = np.asfortranarray(w64.astype(np.float32))
    y = conv.conv2d(x, w, strides, padding, dilation)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref_conv(x64, w64, strides, padding, dilation, 1),
                               rtol=1e-4, atol=1e-4)
    gy64 = rng.standard_normal(y.shape)
    gy = gy64.astype(np.float32)
    rdx, rdw = ref_conv_grads(x64, w64, gy64, strides, padding, dilation, 1)
    dx = conv.conv2d_backprop_input(gy, w, x.shape, strides, padding, dilation)
    dw = conv.conv2d_backprop_filter(x, gy, w.shape, strides, padding, dilation)
    assert dx.dtype == np.float32 and dw.dtype == np.float32
    np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dw, rdw, rtol=1e-4, atol=1e-3)
    # out= receives the result
    out = np.empty_like(y)
    assert conv.conv2d(x, w, strides, padding, dilation, out=out) is out
    np.testing.assert_array_equal(out, y)


def test_conv2d_argument_errors():
    x = np.zeros((1, 4, 4, 4))
    with pytest.raises(ValueError):
        conv.conv2d(x, np.zeros((3, 3, 3, 2)), (1, 1), ((0, 0), (0, 0)), (1, 1))
    with pytest.raises(ValueError):
        conv.conv2d(x, np.zeros((3, 3, 2, 3)), (1, 1), ((0, 0), (0, 0)), (1, 1), groups=2)


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------
POOL_CASES = [
    pytest.param((3, 3), (2, 2), ((0, 0), (0, 0)), id="3x3s2"),
    pytest.param((2, 2), (2, 2), ((1, 0), (0, 1)), id="2x2s2-asympad"),
    pytest.param((3, 3), (1, 1), ((1, 1), (1, 1)), id="3x3s1-pad1-overlap"),
    pytest.param((2, 2), (3, 3), ((0, 0), (0, 0)), id="stride>pool"),
    pytest.param((1, 1), (1, 1), ((0, 0), (0, 0)), id="1x1"),
]


@pytest.mark.parametrize("pool_size,strides,padding", POOL_CASES)
def test_max_pool(pool_size, strides, padding):
    rng = np.random.default_rng(3)
    # ties everywhere: small integers
    xt = rng.integers(0, 3, size=(2, 7, 8, 5)).astype(np.float64)
    y = pool.max_pool2d(xt, pool_size, strides, padding)
    np.testing.assert_array_equal(y, ref_max_pool(xt, pool_size, strides, padding))
    g = rng.standard_normal(y.shape)
    dx = pool.max_pool2d_backprop(xt, y, g, pool_size, strides, padding)
    np.testing.assert_allclose(dx, ref_max_pool_grad(xt, g, pool_size, strides, padding),
                               rtol=1e-13, atol=1e-13)
    # finite differences where the max is unique (distinct values)
    x = rng.permutation(xt.size).reshape(xt.shape) / xt.size
    y = pool.max_pool2d(x, pool_size, strides, padding)
    dx = pool.max_pool2d_backprop(x, y, g, pool_size, strides, padding)

    def loss():
        return float(np.sum(pool.max_pool2d(x, pool_size, strides, padding) * g))

    idx = some_indices(x.shape, rng, 10)
    np.testing.assert_allclose(fd_grad(loss, x, idx), [dx[i] for i in idx],
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_cut_windows_nan_and_signed_zero_ties(dtype):
    """Windows cut by padding on every side, windows wider than the row or wholly in padding
    (-inf), NaN cells never winning (an all-NaN window gives -inf), and among equal cells (+-0)
    the first in column-major order kept, as the separable kernel compares."""
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, size=(2, 6, 5, 19)).astype(dtype)
    x[0, :, :, 0] = np.nan
    x[1, 2:4, 1:3, 1] = np.nan
    x[rng.random(x.shape) < 0.2] = np.nan
    zeros = (x == 0) & (rng.random(x.shape) < 0.5)
    x[zeros] = -0.0
    cases = [((3, 3), (2, 2), ((1, 1), (1, 1))), ((2, 7), (1, 1), ((0, 1), (2, 1))),
             ((1, 1), (1, 1), ((2, 0), (0, 2))), ((4, 3), (3, 2), ((2, 2), (0, 1)))]
    for size, strides, pad in cases:
        y = pool.max_pool2d(x, size, strides, pad)
        ref = ref_max_pool(np.where(np.isnan(x), -np.inf, x), size, strides, pad).astype(dtype)
        np.testing.assert_array_equal(y, ref)
        # bits: the first cell equal to the max in column-major order (only +-0 differ)
        for n in range(x.shape[0]):
            for oh, ow, cells in _windows(x.shape[1], x.shape[2], size, strides, pad):
                cells = sorted(cells, key=lambda hw: (hw[1], hw[0]))
                for c in range(x.shape[3]):
                    first = next((x[n, h, w, c] for h, w in cells if x[n, h, w, c] == y[n, oh, ow, c]),
                                 dtype(-np.inf))
                    assert np.signbit(first) == np.signbit(y[n, oh, ow, c]), (size, n, oh, ow, c)
    # a tie row-major order would break the other way: +0 first by rows, -0 first by columns
    t = np.array([[[[-1.0], [0.0]], [[-0.0], [-1.0]]]], dtype)
    y = pool.max_pool2d(t, (2, 2), (1, 1))
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == 0 and np.signbit(y[0, 0, 0, 0])


@pytest.mark.parametrize("pool_size,strides,padding", POOL_CASES)
def test_avg_pool(pool_size, strides, padding):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 7, 8, 5))
    y = pool.avg_pool2d(x, pool_size, strides, padding)
    np.testing.assert_allclose(y, ref_avg_pool(x, pool_size, strides, padding), rtol=1e-13,
                               atol=1e-13)
    g = rng.standard_normal(y.shape)
    dx = pool.avg_pool2d_backprop(g, x.shape, pool_size, strides, padding)
    np.testing.assert_allclose(dx, ref_avg_pool_grad(g, x.shape, pool_size, strides, padding),
                               rtol=1e-13, atol=1e-13)

    def loss():
        return float(np.sum(pool.avg_pool2d(x, pool_size, strides, padding) * g))

    idx = some_indices(x.shape, rng, 10)
    np.testing.assert_allclose(fd_grad(loss, x, idx), [dx[i] for i in idx], rtol=1e-6,
                               atol=1e-7)


def test_pool_float32_and_noncontiguous():
    rng = np.random.default_rng(5)
    x64 = rng.standard_normal((2, 9, 9, 6))
    x = np.asfortranarray(x64.astype(np.float32))
    args = ((3, 3), (2, 2), ((1, 1), (1, 1)))
    y = pool.max_pool2d(x, *args)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ref_max_pool(x64.astype(np.float32), *args))
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = pool.max_pool2d_backprop(x, y, g, *args)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, ref_max_pool_grad(x64.astype(np.float32), g, *args),
                               rtol=1e-6, atol=1e-6)
    ya = pool.avg_pool2d(x, *args)
    assert ya.dtype == np.float32
    np.testing.assert_allclose(ya, ref_avg_pool(x64, *args), rtol=1e-5, atol=1e-5)
    da = pool.avg_pool2d_backprop(g, x.shape, *args)
    assert da.dtype == np.float32
    np.testing.assert_allclose(da, ref_avg_pool_grad(g.astype(np.float64), x.shape, *args),
                               rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# batch norm
# ---------------------------------------------------------------------------------------------
BN_CASES = [
    pytest.param((4, 3, 5, 6), (0, 1, 2), True, False, id="channels-last-(0,1,2)"),
    pytest.param((7, 5), (0,), True, True, id="dense-(0,)"),
    pytest.param((3, 4, 2, 5), (0, 2, 3), True, True, id="channels-first-(0,2,3)"),
    pytest.param((3, 4, 5), (0, 1), False, True, id="no-gamma-beta"),
]


@pytest.mark.parametrize("shape,axes,with_affine,with_stat_grads", BN_CASES)
def test_batchnorm(shape, axes, with_affine, with_stat_grads):
    rng = np.random.default_rng(11)
    eps = 1e-3
    x = rng.standard_normal(shape) * 2 + 0.5
    kshape = tuple(1 if a in axes else s for a, s in enumerate(shape))
    gamma = rng.standard_normal(kshape) if with_affine else None
    beta = rng.standard_normal(kshape) if with_affine else None
    y, mean, var = bn.batchnorm_train_forward(x, gamma, beta, axes, eps)
    ry, rmean, rvar = ref_bn(x, gamma, beta, axes, eps)
    assert mean.shape == kshape and var.shape == kshape and y.shape == shape
    np.testing.assert_allclose(y, ry, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mean, rmean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, rvar, rtol=1e-10, atol=1e-12)

    gy = rng.standard_normal(shape)
    gmean = rng.standard_normal(kshape) if with_stat_grads else None
    gvar = rng.standard_normal(kshape) if with_stat_grads else None
    dx, dgamma, dbeta = bn.batchnorm_train_backward(x, gamma, mean, var, gy, gmean, gvar, axes,
                                                    eps)
    assert dx.shape == shape and dgamma.shape == kshape and dbeta.shape == kshape

    def loss():
        yy, mm, vv = bn.batchnorm_train_forward(x, gamma, beta, axes, eps)
        s = np.sum(yy * gy)
        if with_stat_grads:
            s += np.sum(mm * gmean) + np.sum(vv * gvar)
        return float(s)

    idx = some_indices(shape, rng, 8)
    np.testing.assert_allclose(fd_grad(loss, x, idx), [dx[i] for i in idx], rtol=1e-6,
                               atol=1e-7)
    if with_affine:
        idx = some_indices(kshape, rng, 4)
        np.testing.assert_allclose(fd_grad(loss, gamma, idx), [dgamma[i] for i in idx],
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fd_grad(loss, beta, idx), [dbeta[i] for i in idx],
                                   rtol=1e-6, atol=1e-7)


def test_batchnorm_float32_and_large_mean():
    rng = np.random.default_rng(12)
    x64 = rng.standard_normal((6, 5, 4, 8)) * 0.1 + 100.0  # mean >> std: cancellation check
    x = x64.astype(np.float32)
    gamma = rng.standard_normal(8).astype(np.float32)
    beta = rng.standard_normal(8).astype(np.float32)
    y, mean, var = bn.batchnorm_train_forward(x, gamma, beta, (0, 1, 2), 1e-3)
    assert y.dtype == mean.dtype == var.dtype == np.float32
    ry, rmean, rvar = ref_bn(x.astype(np.float64), gamma, beta, (0, 1, 2), 1e-3)
    np.testing.assert_allclose(mean, rmean, rtol=1e-6)
    np.testing.assert_allclose(var, rvar, rtol=1e-4)
    np.testing.assert_allclose(y, ry, rtol=1e-3, atol=1e-3)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    dx, dgamma, dbeta = bn.batchnorm_train_backward(x, gamma, mean, var, gy, None, None,
                                                    (0, 1, 2), 1e-3)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32
    dx64, dg64, db64 = bn.batchnorm_train_backward(x.astype(np.float64), gamma, rmean, rvar,
                                                   gy.astype(np.float64), None, None,
                                                   (0, 1, 2), 1e-3)
    np.testing.assert_allclose(dx, dx64, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dgamma, dg64, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(dbeta, db64, rtol=1e-4, atol=1e-4)
    # out= receives y / dx, also through the transposed (non-fast-path) layout
    for axes in ((0, 1, 2), (0, 2, 3)):
        y, mean, var = bn.batchnorm_train_forward(x, None, None, axes, 1e-3)
        out = np.empty_like(x)
        assert bn.batchnorm_train_forward(x, None, None, axes, 1e-3, out=out)[0] is out
        np.testing.assert_array_equal(out, y)
        dx = bn.batchnorm_train_backward(x, None, mean, var, gy, None, None, axes, 1e-3)[0]
        assert bn.batchnorm_train_backward(x, None, mean, var, gy, None, None, axes, 1e-3,
                                           out=out)[0] is out
        np.testing.assert_array_equal(out, dx)

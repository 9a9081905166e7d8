"""The CUDA backend's logic on the CPU, without CuPy or a GPU.

What runs here: the im2col/col2im index math and every convolution algorithm under NumPy; the
algorithm tuner; the pooling/batch-norm RawKernels, compiled as C++ for the host (hostsim.py) and
compared with independent NumPy formulas. The generated CUDA C of fused elementwise chains and the
nvcc device compile: tests/test_cuda_generic_fused.py; the whole CudaBackend class on NumPy
(`CudaBackend.emulated()`) through the K surface, import without CuPy, out-of-memory messages, the
TF32 switch, seeded random numbers: tests/test_cuda_generic_backend.py; the K conformance tests of
conv, nn, math and gradients on it: tests/test_cuda_generic_conformance.py. What cannot run here
(CuPy launching the kernels on a device) is in gpu_tests/.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from keraslite_cuda import batchnorm as bn
from keraslite_cuda import conv, hostsim, pool, rawkernels

from cuda_generic_helpers import _distinct, _out, _padded, _r, ref_bn, ref_conv, ref_conv_backprop, ref_pool, ref_pool_backprop


# =============================================================================================
# convolution: index math and algorithms under NumPy

CONV_CASES = [
    # x shape, w shape, strides, padding, dilation, groups
    ((2, 7, 6, 3), (3, 3, 3, 4), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((2, 9, 8, 4), (3, 2, 2, 6), (2, 3), ((2, 0), (1, 2)), (2, 1), 2),
    ((3, 5, 5, 3), (1, 1, 3, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 8, 7, 6), (2, 3, 1, 6), (3, 2), ((0, 1), (2, 0)), (1, 2), 6),
    ((2, 6, 6, 2), (1, 1, 2, 3), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 4, 5, 2), (4, 5, 2, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((2, 5, 4, 2), (2, 2, 2, 2), (3, 3), ((2, 2), (2, 2)), (1, 1), 1),  # windows wholly in padding
]


def _conv_data(case, dtype=np.float64):
    xs, ws, st, pad, dil, gr = case
    x, w = _r(xs, 1, dtype), _r(ws, 2, dtype)
    g = conv.geometry(xs, ws, st, pad, dil, gr)
    gy = _r((xs[0], g.ho, g.wo, ws[3]), 3, dtype)
    return x, w, gy, g


@pytest.mark.parametrize("case", CONV_CASES)
def test_geometry_matches_output_size_formula(case):
    xs, ws, st, pad, dil, gr = case
    g = conv.geometry(xs, ws, st, pad, dil, gr)
    assert (g.ho, g.wo) == (_out(xs[1], ws[0], st[0], dil[0], pad[0]), _out(xs[2], ws[1], st[1], dil[1], pad[1]))
    assert g.rows == xs[0] * g.ho * g.wo and g.depth == ws[0] * ws[1] * ws[2]
    assert g.is_pointwise == (ws[:2] == (1, 1) and st == (1, 1) and gr == 1 and pad == ((0, 0), (0, 0)))


@pytest.mark.parametrize("case", CONV_CASES)
def test_im2col_gather_equals_explicit_patches(case):
    x, w, gy, g = _conv_data(case)
    (sh, sw), (dh, dw) = g.strides, g.dilation
    xp_ = _padded(x, g.padding)
    want = np.empty((g.n, g.ho, g.wo, g.kh, g.kw, g.cin))
    for oh, ow, i, j in itertools.product(range(g.ho), range(g.wo), range(g.kh), range(g.kw)):
        want[:, oh, ow, i, j, :] = xp_[:, oh * sh + i * dh, ow * sw + j * dw, :]
    # group-major columns: (G, M, kh*kw*Cg)
    want = want.reshape(g.rows, g.kh * g.kw, g.groups, g.cg).transpose(2, 0, 1, 3).reshape(g.groups, g.rows, -1)
    for algo in ("gather", "taps"):
        np.testing.assert_array_equal(conv.im2col(np, x, g, algo), want, err_msg=algo)


@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_is_the_adjoint_of_im2col(case):
    x, w, gy, g = _conv_data(case)
    cols = conv.im2col(np, x, g, "gather")
    c = _r(cols.shape, 7, np.float64)
    for algo in ("gather", "taps"):
        dx = conv.col2im(np, lambda out: (c if out is None else (out.__setitem__(Ellipsis, c), out)[1]), g, algo,
                         np.float64)
        assert dx.shape == x.shape
        np.testing.assert_allclose(np.sum(dx * x), np.sum(c * cols), rtol=1e-12, err_msg=algo)


@pytest.mark.parametrize("case", CONV_CASES)
def test_col2im_index_lists_exactly_the_patch_entries_of_each_cell(case):
    _, _, _, g = _conv_data(case)
    idx, T = conv.col2im_index(g)
    (sh, sw), (dh, dw), ((pt, _), (pl, _)) = g.strides, g.dilation, g.padding
    sentinel = g.n * g.ho * g.wo * g.kh * g.kw
    table = idx.reshape(g.n, g.h, g.w, T)
    for b, h, w in itertools.product(range(g.n), range(g.h), range(g.w)):
        want = sorted(((b * g.ho + oh) * g.wo + ow) * g.kh * g.kw + i * g.kw + j
                      for oh, ow, i, j in itertools.product(range(g.ho), range(g.wo), range(g.kh), range(g.kw))
                      if oh * sh + i * dh == h + pt and ow * sw + j * dw == w + pl)
        got = sorted(int(v) for v in table[b, h, w] if v != sentinel)
        assert got == want, (b, h, w)


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_algorithms_match_loop_reference(case, dtype):
    x, w, gy, g = _conv_data(case, dtype)
    y_ref = ref_conv(x.astype(np.float64), w.astype(np.float64), g.strides, g.padding, g.dilation, g.groups)
    dx_ref, dw_ref = ref_conv_backprop(x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64),
                                       g.strides, g.padding, g.dilation, g.groups)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    cands = conv.candidates("forward", g)
    assert cands[0] == ("pointwise" if g.is_pointwise else "gather")
    for algo in cands:
        y = conv.conv2d(np, x, w, g, algo)
        dx = conv.conv2d_backprop_input(np, gy, w, g, algo)
        dw = conv.conv2d_backprop_filter(np, x, gy, g, algo)
        for got, want, what in ((y, y_ref, "y"), (dx, dx_ref, "dx"), (dw, dw_ref, "dw")):
            assert got.dtype == dtype and got.shape == want.shape, (algo, what)
            np.testing.assert_allclose(got, want, err_msg=f"{algo} {what}", **tol)


def test_conv_pointwise_rejects_other_geometries():
    _, _, _, g = _conv_data(CONV_CASES[0])
    x = np.zeros((g.n, g.h, g.w, g.cin))
    with pytest.raises(ValueError, match="pointwise"):
        conv.im2col(np, x, g, "pointwise")
    with pytest.raises(ValueError, match="unknown"):
        conv.im2col(np, x, g, "winograd")


def test_conv_index_cache_uploads_once_per_geometry():
    uploads = []
    cache = conv.IndexCache(lambda a: uploads.append(a.shape) or a)
    _, _, _, g = _conv_data(CONV_CASES[1])
    a = cache.get("im2col", g)
    b = cache.get("im2col", g)
    c = cache.get("col2im", g)
    assert a is b and len(uploads) == 2 and isinstance(c, tuple)


def test_conv_tuner_measures_once_and_keeps_the_fastest():
    _, _, _, g = _conv_data(CONV_CASES[0])
    speed = {"gather": 3.0, "taps": 1.0}
    ran = []
    current = {}

    def timer(fn):
        fn()
        return speed[current["algo"]]

    def run(a):
        current["algo"] = a
        ran.append(a)

    tuner = conv.ConvTuner(timer)
    assert tuner.choose("forward", g, np.float32, run) == "taps"
    n = len(ran)
    assert set(ran) == {"gather", "taps"}
    assert tuner.choose("forward", g, np.float32, run) == "taps" and len(ran) == n  # cached
    assert tuner.timings[("forward", g, "float32")] == speed
    # another dtype is another choice
    speed["gather"] = 0.5
    assert tuner.choose("forward", g, np.float64, run) == "gather"


def test_conv_tuner_without_timer_uses_the_heuristic_and_respects_index_memory():
    _, _, _, g = _conv_data(CONV_CASES[2])      # pointwise
    assert conv.ConvTuner().choose("forward", g, np.float32, None) == "pointwise"
    _, _, _, g = _conv_data(CONV_CASES[0])
    assert conv.ConvTuner().choose("backprop_input", g, np.float32, None) == "gather"
    assert conv.ConvTuner(max_index_bytes=16).choose("backprop_input", g, np.float32, None) == "taps"
    big = conv.geometry((256, 64, 64, 8), (3, 3, 8, 8), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert conv._index_bytes("backprop_input", big) == 8 * 256 * 64 * 64 * 9


# =============================================================================================
# RawKernels: sources, argument packing, launch shape; run on the host

def test_rawkernel_source_is_extern_c_grid_stride_per_dtype():
    for spec in pool.KERNELS + bn.KERNELS:
        for dt in ("float32", "float64"):
            src = rawkernels.source(spec, dt)
            assert f'extern "C" __global__ void {spec.symbol(dt)}(long long n_items' in src
            assert "idx += (long long)blockDim.x * gridDim.x" in src
            assert ("typedef float T;" if dt == "float32" else "typedef double T;") in src
            assert "__shared__" not in src and "atomic" not in src and "__syncthreads" not in src
    with pytest.raises(TypeError, match="float16"):
        rawkernels.source(pool.MAX_POOL, "float16")


def test_rawkernel_pack_args_uses_the_declared_c_types():
    x = np.zeros((2, 3, 3, 1), np.float32)
    y = np.zeros((2, 1, 1, 1), np.float32)
    args = rawkernels.pack_args(pool.MAX_POOL, np.float32, 2, [x, y] + [3] * 11)
    assert type(args[0]) is np.int64 and args[1] is x and args[2] is y
    assert all(type(a) is np.int32 for a in args[3:])
    with pytest.raises(TypeError, match="must be float32"):
        rawkernels.pack_args(pool.MAX_POOL, np.float32, 2, [x.astype(np.float64), y] + [3] * 11)
    with pytest.raises(TypeError, match="takes 13"):
        rawkernels.pack_args(pool.MAX_POOL, np.float32, 2, [x, y])
    with pytest.raises(ValueError, match="contiguous"):
        rawkernels.check_arrays(pool.MAX_POOL, [x[:, ::2], y])


def test_launch_config_covers_every_item():
    assert rawkernels.launch_config(1) == (1, 256)
    assert rawkernels.launch_config(257) == (2, 256)
    blocks, threads = rawkernels.launch_config(10 ** 9, max_blocks=4224)
    assert blocks == 4224 and threads == 256   # the grid-stride loop does the rest


@pytest.fixture(scope="module")
def host_runner():
    if hostsim.compiler() is None:
        pytest.skip("no host C++ compiler (g++/clang++/$CXX)")
    return hostsim.HostRunner(pool.KERNELS + bn.KERNELS)


POOL_CASES = [
    ((2, 2), (2, 2), ((0, 0), (0, 0))),
    ((3, 3), (1, 2), ((1, 1), (0, 2))),
    ((3, 2), (2, 1), ((2, 2), (1, 1))),
    ((2, 3), (3, 3), ((1, 0), (0, 1))),
    ((1, 1), (1, 1), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_kernels_match_loop_reference(host_runner, case, dtype):
    ps, st, pad = case
    x = _distinct((2, 7, 8, 3), 4, dtype)
    for mode in ("max", "avg"):
        y_ref = ref_pool(x.astype(np.float64), ps, st, pad, mode)
        fwd = pool.max_pool2d if mode == "max" else pool.avg_pool2d
        y = fwd(np, host_runner, x, ps, st, pad)
        assert y.dtype == dtype
        np.testing.assert_allclose(y, y_ref, rtol=1e-6, atol=1e-6, err_msg=mode)
        g = _r(y.shape, 5, dtype)
        dx_ref = ref_pool_backprop(x.astype(np.float64), g.astype(np.float64), ps, st, pad, mode)
        if mode == "max":
            dx = pool.max_pool2d_backprop(np, host_runner, x, y, g, ps, st, pad)
        else:
            dx = pool.avg_pool2d_backprop(np, host_runner, g, x.shape, ps, st, pad)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-6, err_msg=mode)


def test_max_pool_kernel_nan_ties_and_padding(host_runner):
    x = np.zeros((1, 3, 3, 1), np.float32)
    x[0, 0, 0, 0] = np.nan
    x[0, 2, 2, 0] = -np.inf
    y = pool.max_pool2d(np, host_runner, x, (2, 2), (1, 1), ((0, 0), (0, 0)))
    assert np.isnan(y[0, 0, 0, 0]) and (y[0, 1, :, 0] == 0).all()
    # ties: the gradient goes to the first maximal cell of each window (row-major), only once
    t = np.ones((1, 2, 2, 1), np.float32)
    y = pool.max_pool2d(np, host_runner, t, (2, 2), (2, 2), ((0, 0), (0, 0)))
    dx = pool.max_pool2d_backprop(np, host_runner, t, y, np.full(y.shape, 5, np.float32), (2, 2), (2, 2),
                                  ((0, 0), (0, 0)))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5, 0], [0, 0]])
    # an all--inf input with padding: padded cells never win
    m = np.full((1, 1, 1, 1), -np.inf, np.float32)
    y = pool.max_pool2d(np, host_runner, m, (3, 3), (1, 1), ((1, 1), (1, 1)))
    dx = pool.max_pool2d_backprop(np, host_runner, m, y, np.ones_like(y), (3, 3), (1, 1), ((1, 1), (1, 1)))
    assert y[0, 0, 0, 0] == -np.inf and dx[0, 0, 0, 0] == 1


def test_pool_falls_back_to_array_code_for_other_dtypes():
    calls = []
    x = np.arange(16, dtype=np.int32).reshape(1, 4, 4, 1)
    y = pool.max_pool2d(np, lambda *a: calls.append(a), x, (2, 2), (2, 2), ((0, 0), (0, 0)))
    assert not calls and y.dtype == np.int32
    np.testing.assert_array_equal(y[0, :, :, 0], [[5, 7], [13, 15]])


def test_bn_channel_view_and_partitions():
    assert bn.channel_view((8, 5, 5, 3), (0, 1, 2), (3,), (1, 1, 1, 3)) == (200, 3, 1, 3)
    assert bn.channel_view((8, 3, 5, 5), (0, 2, 3), (1, 3, 1, 1), None) == (8, 3, 25, 1)
    assert bn.channel_view((8, 3, 5, 5), (0, -2, -1), None) == (8, 3, 25, 1)
    assert bn.channel_view((8, 3), (0,), (3,)) == (8, 3, 1, 1)
    assert bn.channel_view((8, 3, 5), (0,), None) is None             # two kept axes
    assert bn.channel_view((8, 3, 5), (0, 2), (5,)) is None            # gamma along a reduced axis
    assert bn.channel_view((8, 3, 5), (0, 2), (2, 1, 1, 1)) is None    # gamma of higher rank
    for C, R in ((3, 200), (512, 7), (1, 10 ** 6), (70000, 4), (5, 0)):
        P, chunk = bn.partitions(C, R, target_items=1 << 16)
        assert P * chunk >= R and (P - 1) * chunk < max(R, 1) and P >= 1
        assert P * C <= max(1 << 16, C)


BN_CASES = [
    ((6, 5, 4, 3), (0, 1, 2), True),
    ((4, 3, 5, 6), (0, 2, 3), True),
    ((7, 4), (0,), False),
    ((1, 1, 1, 2), (0, 1, 2), True),
]


@pytest.mark.parametrize("case", BN_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_kernels_forward_match_formula(host_runner, case, dtype):
    shape, axes, affine = case
    x = _r(shape, 1, dtype, -2, 3)
    keep = tuple(1 if k in axes else d for k, d in enumerate(shape))
    gamma = _r(keep, 2, dtype, 0.5, 1.5) if affine else None
    beta = _r(keep, 3, dtype) if affine else None
    y, mean, var = bn.batchnorm_train(np, host_runner, x, gamma, beta, axes, 1e-3, target_items=7)
    want = ref_bn(x.astype(np.float64), None if gamma is None else gamma.astype(np.float64),
                  None if beta is None else beta.astype(np.float64), axes, 1e-3)
    tol = 2e-5 if dtype == np.float32 else 1e-11
    for got, w in zip((y, mean, var), want):
        assert got.dtype == dtype and got.shape == w.shape
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", BN_CASES)
def test_batchnorm_kernels_backward_match_finite_differences(host_runner, case):
    shape, axes, affine = case
    eps = 1e-3
    x = _r(shape, 1, np.float64, -2, 3)
    keep = tuple(1 if k in axes else d for k, d in enumerate(shape))
    gamma = _r(keep, 2, np.float64, 0.5, 1.5) if affine else None
    beta = _r(keep, 3, np.float64) if affine else None
    gy, gm, gv = _r(shape, 4, np.float64), _r(keep, 5, np.float64), _r(keep, 6, np.float64)

    def loss(x_, gamma_, beta_):
        y, m, v = ref_bn(x_, gamma_, beta_, axes, eps)
        return np.sum(y * gy) + np.sum(m * gm) + np.sum(v * gv)

    def fd(arr, f):
        out = np.zeros_like(arr)
        h = 1e-6
        for i in np.ndindex(arr.shape):
            a, b = arr.copy(), arr.copy()
            a[i] += h
            b[i] -= h
            out[i] = (f(a) - f(b)) / (2 * h)
        return out

    _, mean, var = bn.batchnorm_train(np, host_runner, x, gamma, beta, axes, eps)
    dx, dgamma, dbeta = bn.batchnorm_train_backward(np, host_runner, x, gamma, mean, var, gy, gm, gv, axes, eps,
                                                    target_items=5)
    np.testing.assert_allclose(dx, fd(x, lambda a: loss(a, gamma, beta)), rtol=1e-6, atol=1e-6)
    if affine:
        np.testing.assert_allclose(dgamma, fd(gamma, lambda a: loss(x, a, beta)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(dbeta, fd(beta, lambda a: loss(x, gamma, a)), rtol=1e-6, atol=1e-6)
    # no gradients into mean/var and no gamma: still the exact formula
    dx2, _, _ = bn.batchnorm_train_backward(np, host_runner, x, None, mean, var, gy, None, None, axes, eps)
    np.testing.assert_allclose(dx2, fd(x, lambda a: np.sum(ref_bn(a, None, None, axes, eps)[0] * gy)),
                               rtol=1e-6, atol=1e-6)


def test_batchnorm_falls_back_for_layouts_the_kernels_do_not_cover():
    calls = []
    x = _r((4, 3, 5), 1, np.float64)
    y, mean, var = bn.batchnorm_train(np, lambda *a: calls.append(a), x, None, None, (0,), 1e-3)
    assert not calls and mean.shape == (1, 3, 5)
    np.testing.assert_allclose(y, ref_bn(x, None, None, (0,), 1e-3)[0], rtol=1e-10, atol=1e-10)

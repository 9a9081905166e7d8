"""The CUDA backend's logic on the CPU, without CuPy or a GPU.

What runs here: the im2col/col2im index math and every convolution algorithm under NumPy; the
algorithm tuner; the generated CUDA C of fused elementwise chains and the pooling/batch-norm
RawKernels, compiled as C++ for the host (hostsim.py) and compared with independent NumPy
formulas; their device compile with nvcc where nvcc is on the PATH; the whole CudaBackend class
on NumPy (`CudaBackend.emulated()`) through the K surface, including the K conformance tests of
conv, nn, math and gradients; import without CuPy; out-of-memory messages; the TF32 switch; seeded
random numbers. What cannot run here (CuPy launching the kernels on a device) is in gpu_tests/.
"""
from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite.backend import registry
from keraslite.backend.fusion import ElementwiseProgram

from keraslite_cuda import batchnorm as bn
from keraslite_cuda import conv, fused, hostsim, memory, pool, rawkernels, settings
from keraslite_cuda.backend import CudaBackend
from keraslite_cuda.seeded_random import SeededRandom

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_cxx = pytest.mark.skipif(hostsim.compiler() is None, reason="no host C++ compiler (g++/clang++/$CXX)")


# =============================================================================================
# independent references (explicit loops, float64)

def _padded(x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    n, h, w, c = x.shape
    out = np.full((n, h + pt + pb, w + pl + pr, c), value, dtype=np.float64)
    out[:, pt:pt + h, pl:pl + w, :] = x
    return out


def _out(size, k, s, d, pads):
    return (size + pads[0] + pads[1] - (d * (k - 1) + 1)) // s + 1


def ref_conv(x, w, strides, padding, dilation, groups):
    n, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho, wo = _out(h, kh, sh, dh, padding[0]), _out(wd, kw, sw, dw, padding[1])
    xp_ = _padded(x, padding)
    og = cout // groups
    y = np.zeros((n, ho, wo, cout))
    for o in range(cout):
        g0 = (o // og) * cg
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        y[:, oh, ow, o] += xp_[:, oh * sh + i * dh, ow * sw + j * dw, g0:g0 + cg] @ w[i, j, :, o]
    return y


def ref_conv_backprop(x, w, gy, strides, padding, dilation, groups):
    """(dx, dw) of sum(conv(x, w) * gy), by the definition (scatter per output cell)."""
    n, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho, wo = gy.shape[1:3]
    xp_ = _padded(x, padding)
    dxp = np.zeros_like(xp_)
    dwt = np.zeros(w.shape)
    og = cout // groups
    for o in range(cout):
        g0 = (o // og) * cg
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        r, c = oh * sh + i * dh, ow * sw + j * dw
                        dxp[:, r, c, g0:g0 + cg] += gy[:, oh, ow, o:o + 1] * w[i, j, :, o][None, :]
                        dwt[i, j, :, o] += gy[:, oh, ow, o] @ xp_[:, r, c, g0:g0 + cg]
    (pt, _), (pl, _) = padding
    return dxp[:, pt:pt + h, pl:pl + wd, :], dwt


def ref_pool(x, pool_size, strides, padding, mode):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = pool_size, strides, padding
    ho, wo = _out(h, kh, sh, 1, (pt, pb)), _out(w, kw, sw, 1, (pl, pr))
    y = np.zeros((n, ho, wo, c))
    for oh in range(ho):
        for ow in range(wo):
            cells = [(oh * sh + i - pt, ow * sw + j - pl) for i in range(kh) for j in range(kw)]
            cells = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
            vals = np.stack([x[:, r, q, :] for r, q in cells]) if cells else np.full((1, n, c), -np.inf)
            y[:, oh, ow, :] = vals.max(axis=0) if mode == "max" else vals.mean(axis=0)
    return y


def ref_pool_backprop(x, g, pool_size, strides, padding, mode):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), ((pt, _), (pl, _)) = pool_size, strides, padding
    dx = np.zeros(x.shape)
    for oh in range(g.shape[1]):
        for ow in range(g.shape[2]):
            cells = [(oh * sh + i - pt, ow * sw + j - pl) for i in range(kh) for j in range(kw)]
            cells = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
            for b in range(n):
                for ch in range(c):
                    if mode == "avg":
                        for r, q in cells:
                            dx[b, r, q, ch] += g[b, oh, ow, ch] / len(cells)
                    else:
                        vals = [x[b, r, q, ch] for r, q in cells]
                        k = int(np.argmax(vals))  # first maximal cell, row-major
                        r, q = cells[k]
                        dx[b, r, q, ch] += g[b, oh, ow, ch]
    return dx


def ref_bn(x, gamma, beta, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, mean, var


def _r(shape, seed=0, dtype=np.float32, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _distinct(shape, seed=0, dtype=np.float32):
    """Distinct values: max pooling has a unique winner per window."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.01 - n * 0.005).astype(dtype)


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


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH: device compile of the kernels not checked")
def test_kernel_sources_compile_for_the_device_with_nvcc(tmp_path):
    parts = []
    for k, spec in enumerate(pool.KERNELS + bn.KERNELS):
        for dt in ("float32", "float64"):
            parts.append(f"namespace ns{k}_{dt} {{\n{rawkernels.source(spec, dt)}}}\n")
    progs = _fused_programs_for_compile()
    for k, (p, dts) in enumerate(progs):
        src = fused.generate(p, dts)
        params = ", ".join([f"const {fused.C_TYPES[np.dtype(d).name]}* A{i}" for i, d in enumerate(dts)]
                           + [f"{fused.C_TYPES[np.dtype(d).name]}* O{j}" for j, d in enumerate(p.out_dtypes)])
        loads = "".join(f"const {fused.C_TYPES[np.dtype(d).name]} a{i} = A{i}[i];\n" for i, d in enumerate(dts))
        stores = "".join(f"{fused.C_TYPES[np.dtype(d).name]}& o{j} = O{j}[i];\n" for j, d in enumerate(p.out_dtypes))
        parts.append(f'extern "C" __global__ void f{k}(long long n, {params}) {{\n'
                     f"long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;\n"
                     f"{loads}{stores}{src.operation}\n}}\n")
    cu = tmp_path / "k.cu"
    cu.write_text(fused.PREAMBLE + "".join(parts))
    r = subprocess.run(["nvcc", "-arch=sm_80", "--ptx", str(cu), "-o", str(tmp_path / "k.ptx")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


# =============================================================================================
# fused elementwise: CUDA C generation

def _prog(lines, outputs, out_dtypes, n_inputs):
    return ElementwiseProgram(n_inputs, tuple(lines), tuple(outputs), tuple(out_dtypes))


# (lines, n_inputs, input dtypes, independent NumPy formula over the inputs)
FUSED_CASES = [
    ([("t0", "(a0 + a1)"), ("t1", "relu(t0)"), ("t2", "sigmoid(t1)")], 2, ("float32", "float32"),
     lambda a, b: 1 / (1 + np.exp(-np.maximum(a + b, 0)))),
    ([("t0", "(a0 * a1)"), ("t1", "(t0 - a0)"), ("t2", "tanh(t1)")], 2, ("float64", "float32"),
     lambda a, b: np.tanh(a * b - a)),
    ([("t0", "(a0 / a1)")], 2, ("int32", "int32"), lambda a, b: a / b),
    ([("t0", "(a0 // a1)")], 2, ("float32", "float32"), lambda a, b: np.floor_divide(a, b)),
    ([("t0", "(a0 % a1)")], 2, ("float64", "float64"), lambda a, b: np.mod(a, b)),
    ([("t0", "(a0 // a1)")], 2, ("int64", "int64"), lambda a, b: np.floor_divide(a, np.where(b == 0, 1, b)) * (b != 0)),
    ([("t0", "(a0 % a1)")], 2, ("int32", "int32"), lambda a, b: np.mod(a, np.where(b == 0, 1, b)) * (b != 0)),
    ([("t0", "(a0 ** a1)")], 2, ("float32", "float32"), lambda a, b: np.power(a, b)),
    ([("t0", "(a0 ** a1)")], 2, ("int32", "int32"), lambda a, b: np.power(a, np.abs(b))),
    ([("t0", "max(a0, a1)"), ("t1", "min(t0, a1)")], 2, ("float32", "float32"),
     lambda a, b: np.minimum(np.maximum(a, b), b)),
    # sign as keraslite composes it (K.sign: two comparisons and two selections)
    ([("t0", "(a0 > 0.0)"), ("t1", "(0.0 > a0)"), ("t2", "(-1.0 if t1 else a0)"), ("t3", "(1.0 if t0 else t2)"),
      ("t4", "abs(a0)"), ("t5", "(t3 * t4)")], 1, ("float32",), lambda a: np.sign(a) * np.abs(a)),
    ([("t0", "abs(a0)")], 1, ("int8",), lambda a: np.abs(a)),
    ([("t0", "(-a0)")], 1, ("int16",), lambda a: np.negative(a)),
    ([("t0", "(a0 > a1)"), ("t1", "(a0 == a1)"), ("t2", "(t0 or t1)"), ("t3", "(not t2)")], 2,
     ("float32", "float32"), lambda a, b: ~((a > b) | (a == b))),
    ([("t0", "(a0 and a1)")], 2, ("bool", "bool"), lambda a, b: a & b),
    ([("t0", "(a1 if a0 else a2)")], 3, ("bool", "float32", "float64"), lambda c, a, b: np.where(c, a, b)),
    ([("t0", "np.float32(a0)"), ("t1", "np.bool_(t0)"), ("t2", "np.int32(t0)")], 1, ("float64",),
     lambda a: a.astype(np.float32).astype(np.int32)),
    ([("t0", "(1.0 / a0)")], 1, ("float32",), lambda a: np.float32(1.0) / a),
    ([("t0", "sqrt(a0)"), ("t1", "exp(a0)"), ("t2", "log(a0)"), ("t3", "log1p(a0)"), ("t4", "expm1(a0)"),
      ("t5", "(((t0 + t1) + (t2 + t3)) + t4)")], 1, ("float32",),
     lambda a: np.sqrt(a) + np.exp(a) + np.log(a) + np.log1p(a) + np.expm1(a)),
    ([("t0", "sin(a0)"), ("t1", "cos(a0)"), ("t2", "rint(a0)"), ("t3", "floor(a0)"), ("t4", "(-floor((-a0)))"),
      ("t5", "(((t0 + t1) + (t2 + t3)) + t4)")], 1, ("float64",),
     lambda a: np.sin(a) + np.cos(a) + np.rint(a) + np.floor(a) + np.ceil(a)),
    ([("t0", "softplus(a0)")], 1, ("float32",), lambda a: np.logaddexp(0, a)),
    ([("t0", "sqrt(a0)")], 1, ("int32",), lambda a: np.sqrt(a)),
    ([("t0", "(a0 + a1)"), ("t1", "(t0 * a0)")], 2, ("uint8", "uint8"), lambda a, b: (a + b) * a),
    ([("t0", "(a0 * a0)"), ("t1", "(a0 + 1.0)")], 1, ("float32",), lambda a: a * a),  # two outputs below
]


def _special(dtype, shape, seed, finite=False):
    """Inputs with the awkward values of each kind: signed zeros, NaN, inf, negatives, ties
    (finite=True: no NaN or inf, e.g. for float -> int casts, undefined in C)."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = (max(info.min, -7), min(info.max, 7))
        return rng.integers(lo, hi + 1, size=shape).astype(dt)
    v = rng.uniform(-4, 4, size=shape).astype(dt)
    flat = v.reshape(-1)
    specials = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 2.5, -2.5, 3.0], dtype=dt)
    if finite:
        specials = specials[np.isfinite(specials)]
    flat[:len(specials)] = specials[:flat.size]
    return v


def _fused_programs():
    out = []
    for k, (lines, n_in, dts, formula) in enumerate(FUSED_CASES):
        outputs = [lines[-1][0]]
        if k == len(FUSED_CASES) - 1:
            outputs = ["t0", "t1"]
        types = fused.local_dtypes(_prog(lines, [lines[-1][0]], ["float64"], n_in), dts)
        names = [n for n, _ in lines]
        out_dtypes = [types[names.index(o)] for o in outputs]
        out.append((_prog(lines, outputs, out_dtypes, n_in), dts, formula))
    return out


def _fused_programs_for_compile():
    return [(p, dts) for p, dts, _ in _fused_programs()]


@pytest.mark.parametrize("k", range(len(FUSED_CASES)))
def test_fused_local_types_follow_numpy(k):
    program, dts, formula = _fused_programs()[k]
    arrays = [_special(d, (4,), 1) for d in dts]
    with np.errstate(all="ignore"):
        want = np.asarray(formula(*arrays))
    types = fused.local_dtypes(program, dts)
    names = [n for n, _ in program.lines]
    assert types[names.index(program.outputs[0])] == want.dtype.name


def test_fused_source_shape():
    program, dts, _ = _fused_programs()[0]
    src = fused.generate(program, dts)
    assert src.in_params == "float32 a0, float32 a1" and src.out_params == "float32 o0"
    assert src.operation.splitlines() == [
        "const float t0 = (a0 + a1);",
        "const float t1 = kl_max(t0, (float)0);",
        "const float t2 = kl_sigmoid(t1);",
        "o0 = (float)t2;"]
    assert src.name.startswith("kl_fused_") and src.preamble == fused.PREAMBLE
    assert fused.generate(program, dts).name == src.name                    # deterministic
    assert fused.generate(program, ("float64", "float64")).name != src.name  # per dtypes
    # float32 stays float32: no double literals or double functions
    s = fused.generate(_fused_programs()[17][0], ("float32",)).operation
    assert "((float)1.0)" in s and "double" not in s


def test_fused_rejects_unknown_constructs():
    bad = [("t0", "gamma(a0)"), ("t0", "a0[0]"), ("t0", "(a0 < a1 < a0)"), ("t0", "foo"), ("t0", "(a0 +")]
    for line in bad:
        with pytest.raises(fused.UnsupportedExpression):
            fused.generate(_prog([line], ["t0"], ["float32"], 2), ("float32", "float32"))
    with pytest.raises(ValueError):
        fused.generate(_prog([("t0", "a0")], ["t0"], ["float32"], 2), ("float32",))


@needs_cxx
def test_fused_sources_compiled_on_the_host_match_numpy_formulas():
    progs = _fused_programs()
    kernels = hostsim.HostFusedKernels([(p, dts) for p, dts, _ in progs])
    for k, (program, dts, formula) in enumerate(progs):
        # a row broadcast against a full array, as the compiler's bias adds do
        shapes = [(3, 13)] + [(13,)] * (len(dts) - 1)
        arrays = [_special(d, s, 10 + i, finite=(k == 16)) for i, (d, s) in enumerate(zip(dts, shapes))]
        if k == 8:  # integer powers with negative exponents raise in NumPy
            arrays[1] = np.abs(arrays[1])
        outs = kernels.run(k, *arrays)
        with np.errstate(all="ignore"):
            want = np.asarray(formula(*[np.broadcast_to(a, shapes[0]) for a in arrays]))
        got = outs[0]
        assert got.dtype == np.dtype(program.out_dtypes[0]), k
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, want.astype(got.dtype), rtol=2e-6, atol=1e-6, equal_nan=True,
                                       err_msg=f"case {k}: {program.lines}")
        else:
            np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=f"case {k}: {program.lines}")
    # the two-output program writes both
    outs = kernels.run(len(progs) - 1, np.array([1.5, -2.0], np.float32))
    np.testing.assert_array_equal(outs[0], [2.25, 4.0])
    np.testing.assert_array_equal(outs[1], [2.5, -1.0])


def test_fused_array_fallback_matches_numpy_formulas():
    for k, (program, dts, formula) in enumerate(_fused_programs()):
        arrays = [_special(d, (2, 5), 20 + i) for i, d in enumerate(dts)]
        if k in (5, 6, 8):
            continue  # integer division by zero / negative powers: NumPy warns or raises
        got = fused.evaluate_program(np, program, arrays)[0]
        with np.errstate(all="ignore"):
            want = np.asarray(formula(*arrays)).astype(program.out_dtypes[0])
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=2e-6, atol=1e-6,
                                   equal_nan=True, err_msg=str(program.lines))


class _FakeCupy:
    """Stands in for cupy: records the ElementwiseKernels built and runs the array fallback."""

    def __init__(self):
        self.built = []

    def __getattr__(self, name):
        return getattr(np, name)

    def ElementwiseKernel(self, in_params, out_params, operation, name, preamble=""):
        self.built.append((in_params, out_params, name))
        program = self.program
        n_in = len(in_params.split(","))

        def kernel(*args):
            for o, v in zip(args[n_in:], fused.evaluate_program(np, program, args[:n_in])):
                o[...] = v
        return kernel


def test_fused_kernel_selection_one_kernel_per_dtype_signature_and_fallbacks():
    program = _prog([("t0", "(a0 + a1)"), ("t1", "relu(t0)")], ["t1"], ["float32"], 2)
    cp = _FakeCupy()
    cp.program = program
    k = fused.FusedKernel(program, cp)
    a, b = np.ones((2, 3), np.float32), np.full((3,), -2.0, np.float32)
    np.testing.assert_array_equal(k(a, b)[0], np.zeros((2, 3)))
    k(a, b)
    assert len(cp.built) == 1 and cp.built[0][0] == "float32 a0, float32 a1"
    k(a.astype(np.float64), b)
    assert len(cp.built) == 2 and cp.built[1][0] == "float64 a0, float32 a1"
    # float16 and untranslatable programs run as array operations, without a kernel
    out = k(a.astype(np.float16), b.astype(np.float16))
    assert len(cp.built) == 2 and out[0].dtype == np.float32
    odd = fused.FusedKernel(_prog([("t0", "hypot(a0, a1)")], ["t0"], ["float32"], 2), cp)
    np.testing.assert_allclose(odd(a, b)[0], np.hypot(a, b))   # not translatable: array operations
    assert len(cp.built) == 2
    # empty outputs launch nothing
    assert k(np.ones((0, 3), np.float32), b)[0].shape == (0, 3)


def test_generated_sources_are_accepted_by_cupy_where_cupy_imports():
    """CuPy parses ElementwiseKernel parameters and RawKernel names when the objects are made
    (compiling waits for the first launch, which needs a device)."""
    try:
        import cupy
    except Exception as e:
        pytest.skip(f"CuPy does not import here ({type(e).__name__}); nothing to check")
    for program, dts, _ in _fused_programs():
        src = fused.generate(program, dts)
        k = cupy.ElementwiseKernel(src.in_params, src.out_params, src.operation, src.name, preamble=src.preamble)
        assert k.nin == len(dts) and k.nout == len(program.outputs)
    for spec in pool.KERNELS + bn.KERNELS:
        for dt in rawkernels.SUPPORTED_DTYPES:
            cupy.RawKernel(rawkernels.source(spec, dt), spec.symbol(dt))


# =============================================================================================
# the CudaBackend class itself, on NumPy

@pytest.fixture
def hostsim_backend():
    """CudaBackend.emulated() registered as 'cuda_hostsim' for the duration of one test."""
    if hostsim.compiler() is None:
        pytest.skip("no host C++ compiler (g++/clang++/$CXX)")
    b = _emulated("host")
    with _registered("cuda_hostsim", b):
        with keraslite.use_backend("cuda_hostsim"):
            yield b


_EMULATED: dict = {}


def _emulated(fused_mode):
    if fused_mode not in _EMULATED:
        _EMULATED[fused_mode] = CudaBackend.emulated(fused=fused_mode)
    return _EMULATED[fused_mode]


class _registered:
    def __init__(self, name, backend):
        self.name, self.backend = name, backend

    def __enter__(self):
        registry.register_backend(self.name, lambda: self.backend)

    def __exit__(self, *exc):
        registry._factories.pop(self.name, None)
        registry._instances.pop(self.name, None)


def test_emulated_backend_k_conv_pool_bn_fused_chain(hostsim_backend):
    x = _r((2, 9, 8, 3), 1)
    w = _r((3, 3, 3, 4), 2)
    bias = _r((4,), 3)
    xt = K.placeholder(shape=(None, 9, 8, 3))
    wt, bt = K.variable(w), K.variable(bias)
    h = K.relu(K.bias_add(K.conv2d(xt, wt, strides=(2, 1), padding="same"), bt))
    p = K.pool2d(h, (2, 2), strides=(2, 2), pool_mode="max")
    q = K.pool2d(h, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
    gamma, beta = K.variable(np.full((4,), 1.5, np.float32)), K.variable(np.full((4,), 0.25, np.float32))
    nb, mean, var = K.normalize_batch_in_training(q, gamma, beta, [0, 1, 2], epsilon=1e-3)
    loss = K.sum(p) + K.sum(K.square(nb))
    grads = K.gradients(loss, [wt, bt, gamma])
    f = K.function([xt], [p, q, nb, mean, var, loss] + grads)
    out = f([x])
    # the plan used the backend's kernels and fused the bias + relu
    kernels = f.last_plan.kernels()
    assert any(k.startswith("fused[") for k in kernels)
    assert {"conv", "pool", "pool_backprop", "batchnorm_train", "conv_backprop_filter"} <= set(kernels)
    assert (p.op, p.attrs["mode"], q.op, q.attrs["mode"]) == ("pool", "max", "pool", "avg")
    # independent formulas (float64 loops in tests/nn_reference.py)
    import nn_reference as R
    h_ref = np.maximum(R.conv2d(x, w, strides=(2, 1), padding="same") + bias, 0)
    p_ref = R.pool2d(h_ref, (2, 2), strides=(2, 2), pool_mode="max")
    q_ref = R.pool2d(h_ref, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
    nb_ref, m_ref, v_ref = R.normalize_batch_in_training(q_ref, np.full(4, 1.5), np.full(4, 0.25), [0, 1, 2], 1e-3)
    for got, want in ((out[0], p_ref), (out[1], q_ref), (out[2], nb_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[3].reshape(-1), np.asarray(m_ref).reshape(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[4].reshape(-1), np.asarray(v_ref).reshape(-1), rtol=1e-4, atol=1e-5)
    # gradients: central differences through the same numpy references, in float64
    def loss_of(w_):
        hh = np.maximum(R.conv2d(x.astype(np.float64), w_, strides=(2, 1), padding="same") + bias, 0)
        pp = R.pool2d(hh, (2, 2), strides=(2, 2), pool_mode="max")
        qq = R.pool2d(hh, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
        nn_, _, _ = R.normalize_batch_in_training(qq, np.full(4, 1.5), np.full(4, 0.25), [0, 1, 2], 1e-3)
        return np.sum(pp) + np.sum(np.square(nn_))
    w64 = w.astype(np.float64)
    for idx in [(0, 0, 0, 0), (1, 2, 1, 3), (2, 1, 2, 1)]:
        a, b = w64.copy(), w64.copy()
        a[idx] += 1e-5
        b[idx] -= 1e-5
        fd = (loss_of(a) - loss_of(b)) / 2e-5
        np.testing.assert_allclose(out[6][idx], fd, rtol=2e-3, atol=2e-3)


def test_emulated_backend_without_a_host_compiler_uses_array_code(monkeypatch):
    monkeypatch.setattr(hostsim, "compiler", lambda: None)
    b = CudaBackend.emulated()
    assert b._runner is None
    x = _distinct((2, 6, 6, 3), 1)
    np.testing.assert_allclose(b.pool(x, "max", (2, 2), (2, 2), ((0, 0), (0, 0))),
                               ref_pool(x.astype(np.float64), (2, 2), (2, 2), ((0, 0), (0, 0)), "max"), rtol=1e-6)
    y, m, v = b.batchnorm_train(x, None, None, (0, 1, 2), 1e-3)
    np.testing.assert_allclose(y, ref_bn(x.astype(np.float64), None, None, (0, 1, 2), 1e-3)[0], rtol=1e-4, atol=1e-5)


def test_emulated_backend_random_is_seeded(hostsim_backend):
    a = K.function([], [K.random_uniform((1000,), seed=7), K.random_normal((500,), 1.0, 2.0, seed=3),
                        K.truncated_normal((2000,), seed=5), K.random_binomial((1000,), p=0.3, seed=2)])
    b = K.function([], [K.random_uniform((1000,), seed=7), K.random_normal((500,), 1.0, 2.0, seed=3),
                        K.truncated_normal((2000,), seed=5), K.random_binomial((1000,), p=0.3, seed=2)])
    ra, rb = a([]), b([])
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x, y)
    again = a([])
    assert not np.array_equal(again[0], ra[0])        # each evaluation draws anew
    u, nrm, t, bi = ra
    assert u.dtype == np.float32 and 0 <= u.min() and u.max() < 1
    assert abs(nrm.mean() - 1.0) < 0.3 and abs(nrm.std() - 2.0) < 0.3
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.88) < 0.05
    assert set(np.unique(bi)) <= {0.0, 1.0} and abs(bi.mean() - 0.3) < 0.06


def test_seeded_random_generic_api():
    r1, r2 = SeededRandom(np, 11), SeededRandom(np, 11)
    np.testing.assert_array_equal(r1.uniform(-1, 1, (5,), "float64"), r2.uniform(-1, 1, (5,), "float64"))
    assert r1.normal(0, 1, (3, 2), "float32").dtype == np.float32
    assert SeededRandom(np, 2 ** 40 + 3).uniform(0, 1, (2,), "float32").shape == (2,)


def test_emulated_backend_host_arrays_and_guard_are_transparent(hostsim_backend):
    # K.shape gives a host array on the cuda backend; using it in arithmetic must work
    x = K.placeholder(shape=(None, 3))
    n = K.cast(K.shape(x)[0], "float32")
    f = K.function([x], [K.sum(x) / n])
    np.testing.assert_allclose(f([np.ones((4, 3), np.float32)])[0], 3.0)


# ------------------------------------------------------------------- out of memory

class OutOfMemoryError(MemoryError):
    """Same name and fields as cupy.cuda.memory.OutOfMemoryError."""

    def __init__(self, size, total):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes).")
        self._size, self._total = size, total


def test_oom_is_recognised_and_described():
    assert memory.is_out_of_memory(OutOfMemoryError(10, 20))
    assert memory.is_out_of_memory(RuntimeError("CUBLAS_STATUS_ALLOC_FAILED"))
    assert not memory.is_out_of_memory(ValueError("shapes do not match"))
    msg = memory.describe_oom("op 'conv2d'", [np.zeros((64, 32, 32, 3), np.float32)], OutOfMemoryError(3 << 30, 5),
                              {"pool_used": 5 << 30, "pool_total": 6 << 30, "device_free": 1 << 20,
                               "device_total": 80 << 30})
    for part in ("out of GPU memory", "op 'conv2d'", "float32[64,32,32,3]", "3.00 GiB", "5.00 GiB in use",
                 "80.00 GiB", "batch size"):
        assert part in msg, (part, msg)
    assert memory.human(None) == "an unknown amount" and memory.human(512) == "512 B"


def test_oom_in_a_plan_step_names_op_tensor_and_size(hostsim_backend, monkeypatch):
    def exploding_conv(*a, **k):
        raise OutOfMemoryError(12345678, 99)
    monkeypatch.setattr(hostsim_backend, "conv", exploding_conv)
    x = K.placeholder(shape=(None, 5, 5, 2), name="images")
    w = K.variable(_r((3, 3, 2, 4), 1))
    y = K.conv2d(x, w)
    f = K.function([x], [y])
    with pytest.raises(MemoryError) as ei:
        f([np.ones((2, 5, 5, 2), np.float32)])
    e = ei.value
    assert isinstance(e, memory.DeviceMemoryError)
    text = str(e) + " ".join(getattr(e, "__notes__", []))
    parts = ["op 'conv'", "float32[2,5,5,2]", "11.77 MiB"]
    if sys.version_info >= (3, 11):
        parts.append("while computing")  # the compiler's note naming the tensor (add_note: 3.11+)
    for part in parts:
        assert part in text, (part, text)
    # other errors pass through unchanged
    def broken(*a, **k):
        raise ZeroDivisionError("x")
    monkeypatch.setattr(hostsim_backend, "conv", broken)
    with pytest.raises(ZeroDivisionError):
        K.function([x], [K.conv2d(x, w) * 2])([np.ones((2, 5, 5, 2), np.float32)])


def test_guard_moves_host_arrays_only_for_a_device_backend():
    class FakeDevice:
        xp = object()   # not numpy: a device array module
        moved = []

        def from_numpy(self, a):
            self.moved.append(a.shape)
            return ("dev", a)

        def memory_info(self):
            return {}

    def op(a, b):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>")
        return "ok"
    dev = FakeDevice()
    assert memory.guard(op, "op 'add'", dev)(np.ones(2), ("dev", None)) == "ok"
    assert dev.moved == [(2,)]


# ------------------------------------------------------------------------ TF32

def test_tf32_is_opt_in(monkeypatch):
    monkeypatch.delenv("KERASLITE_CUDA_TF32", raising=False)
    settings.set_tf32(None)
    assert settings.tf32_enabled() is False
    monkeypatch.setenv("KERASLITE_CUDA_TF32", "1")
    assert settings.tf32_enabled() is True
    monkeypatch.setenv("KERASLITE_CUDA_TF32", "0")
    assert settings.tf32_enabled() is False
    settings.set_tf32(True)
    try:
        assert settings.tf32_enabled() is True
    finally:
        settings.set_tf32(None)


def test_matmul_sets_the_compute_type_around_float32_products(monkeypatch):
    class FakeLinalg:
        COMPUTE_TYPE_TF32, COMPUTE_TYPE_FP32, COMPUTE_TYPE_DEFAULT = 7, 4, 1

        def __init__(self):
            self.current, self.log = 1, []

        def get_compute_type(self, dt):
            return self.current

        def set_compute_type(self, dt, ct):
            self.log.append(ct)
            self.current = ct

    b = CudaBackend.emulated(runner=lambda *a: None)
    b._linalg = rl = FakeLinalg()
    a = np.ones((2, 3), np.float32)
    monkeypatch.delenv("KERASLITE_CUDA_TF32", raising=False)
    settings.set_tf32(None)
    np.testing.assert_array_equal(b.matmul(a, a.T), np.full((2, 2), 3.0))
    assert rl.log == [4, 1] and rl.current == 1          # FP32 (no TF32) during the call, then restored
    settings.set_tf32(True)
    try:
        b.matmul(a, a.T)
        assert rl.log[-2:] == [7, 1]
    finally:
        settings.set_tf32(None)
    rl.log.clear()
    b.matmul(a.astype(np.float64), a.T.astype(np.float64))
    assert rl.log == []                                   # float64 untouched


# ------------------------------------------------------------------ import and selection

def test_import_without_cupy_never_touches_cuda_and_set_backend_explains():
    code = textwrap.dedent("""
        import sys, importlib.abc
        attempts = []
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("cupy", "cupy_backends", "cupyx"):
                    attempts.append(name)
                    raise ImportError("No module named 'cupy' (blocked by the test)")
                return None
        sys.meta_path.insert(0, Block())
        import keraslite
        import keraslite_cuda
        from keraslite_cuda import backend, conv, fused, pool, batchnorm, rawkernels, memory, settings
        from keraslite_cuda import seeded_random, hostsim, device
        assert attempts == [], attempts
        try:
            keraslite.set_backend("cuda")
        except keraslite.BackendUnavailableError as e:
            print("ERR", e)
        print("AUTO", keraslite.set_backend("auto"))
        print("AVAIL", ",".join(keraslite.available_backends()))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "backends")]))
    env.pop("KERASLITE_BACKEND", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    assert "CuPy" in lines["ERR"] and "pip install" in lines["ERR"] and "cuda12" in lines["ERR"]
    assert lines["AUTO"] == "numba"
    assert "cuda" not in lines["AVAIL"].split(",")


def test_cuda_backend_registered_under_its_names():
    assert "cuda" in registry.known_backends()
    for alias in ("gpu", "cupy"):
        assert registry.resolve_name(alias) == "cuda"


# =============================================================================================
# the K conformance tests of tests/, run on CudaBackend.emulated()

_CONFORMANCE_MODULES = ("test_k_conv", "test_k_nn", "test_k_math", "test_k_gradients")


@pytest.fixture
def kbackend():
    """Overrides the conftest's fixture for the imported conformance tests below."""
    b = _emulated("array")  # RawKernels compiled for the host (where there is a compiler); fused
    # chains as array operations (their generated C is checked above, in one translation unit)
    with _registered("cuda_hostsim", b):
        with keraslite.use_backend("cuda_hostsim"):
            yield "cuda_hostsim"


def _fixture_info(obj):
    """(is a fixture, autouse, the plain function) across pytest versions."""
    marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
    if marker is None:
        return False, False, None
    fn = getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", None) or obj
    return True, bool(getattr(marker, "autouse", False)), fn


def _import_conformance():
    """The test functions of the conformance modules under new names, each run on the emulated
    backend; fixtures come along (a module's autouse fixtures only for that module's tests)."""
    import importlib
    out = {}
    for modname in _CONFORMANCE_MODULES:
        try:
            mod = importlib.import_module(modname)
        except Exception:  # a module being rewritten elsewhere must not break this one
            continue
        short = modname[len("test_k_"):]
        uses = ["kbackend"]
        for name, obj in vars(mod).items():
            is_fixture, autouse, fn = _fixture_info(obj)
            if not is_fixture or name == "kbackend":
                continue
            if autouse:
                alias = f"_hostsim_{short}_{name}"
                out[alias] = pytest.fixture(name=alias)(fn)
                uses.append(alias)
            else:
                out.setdefault(name, obj)
        for name, obj in vars(mod).items():
            if name.startswith("test_") and callable(obj) and not isinstance(obj, type) and \
                    getattr(obj, "__module__", None) == mod.__name__:
                wrapped = functools.wraps(obj)(lambda *a, __f=obj, **k: __f(*a, **k))
                out[f"test_hostsim__{short}__{name[len('test_'):]}"] = pytest.mark.usefixtures(*uses)(wrapped)
    return out


globals().update(_import_conformance())

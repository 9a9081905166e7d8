"""The backend's own kernels on the device: the RawKernels (pooling, batchnorm) against the same
source compiled for the host, generated fused ElementwiseKernels against NumPy formulas, every
convolution algorithm against loop references, and the algorithm tuner."""
import numpy as np
import pytest

import test_cuda_generic as G   # tests/: the CPU-side references and cases

from keraslite_cuda import batchnorm as bn
from keraslite_cuda import conv, fused, hostsim, pool


@pytest.fixture(scope="module")
def host():
    if hostsim.compiler() is None:
        pytest.skip("no host C++ compiler to compare the device kernels with")
    return hostsim.HostRunner(pool.KERNELS + bn.KERNELS)


@pytest.mark.parametrize("case", G.POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool_raw_kernels_on_device_match_host_and_reference(cuda, cp, host, case, dtype):
    ps, st, pad = case
    x = G._distinct((4, 19, 17, 5), 1, dtype)
    for mode in ("max", "avg"):
        fwd = pool.max_pool2d if mode == "max" else pool.avg_pool2d
        y_dev = fwd(cp, cuda._runner, cp.asarray(x), ps, st, pad)
        y_host = fwd(np, host, x, ps, st, pad)
        np.testing.assert_allclose(cp.asnumpy(y_dev), y_host, rtol=1e-6, atol=0, err_msg=mode)
        np.testing.assert_allclose(y_host, G.ref_pool(x.astype(np.float64), ps, st, pad, mode), rtol=1e-5, atol=1e-6)
        g = G._r(y_host.shape, 2, dtype)
        if mode == "max":
            d_dev = pool.max_pool2d_backprop(cp, cuda._runner, cp.asarray(x), y_dev, cp.asarray(g), ps, st, pad)
            d_host = pool.max_pool2d_backprop(np, host, x, y_host, g, ps, st, pad)
        else:
            d_dev = pool.avg_pool2d_backprop(cp, cuda._runner, cp.asarray(g), x.shape, ps, st, pad)
            d_host = pool.avg_pool2d_backprop(np, host, g, x.shape, ps, st, pad)
        np.testing.assert_allclose(cp.asnumpy(d_dev), d_host, rtol=1e-6, atol=1e-7, err_msg=mode)


@pytest.mark.parametrize("case", G.BN_CASES + [((64, 32, 32, 64), (0, 1, 2), True), ((32, 64, 16, 16), (0, 2, 3), True)])
def test_batchnorm_raw_kernels_on_device_match_host(cuda, cp, host, case):
    shape, axes, affine = case
    x = G._r(shape, 1, np.float32, -2, 3)
    keep = tuple(1 if k in axes else d for k, d in enumerate(shape))
    gamma = G._r(keep, 2, np.float32, 0.5, 1.5) if affine else None
    beta = G._r(keep, 3, np.float32) if affine else None
    dev = lambda a: None if a is None else cp.asarray(a)  # noqa: E731
    out_d = bn.batchnorm_train(cp, cuda._runner, dev(x), dev(gamma), dev(beta), axes, 1e-3)
    out_h = bn.batchnorm_train(np, host, x, gamma, beta, axes, 1e-3)
    for a, b in zip(out_d, out_h):
        np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-5, atol=1e-6)
    gy, gm, gv = G._r(shape, 4), G._r(keep, 5), G._r(keep, 6)
    _, mean, var = out_h
    bd = bn.batchnorm_train_backward(cp, cuda._runner, dev(x), dev(gamma), dev(mean), dev(var), dev(gy), dev(gm),
                                     dev(gv), axes, 1e-3)
    bh = bn.batchnorm_train_backward(np, host, x, gamma, mean, var, gy, gm, gv, axes, 1e-3)
    for a, b in zip(bd, bh):
        np.testing.assert_allclose(cp.asnumpy(a), b, rtol=1e-4, atol=1e-5)


def test_fused_elementwise_kernels_on_device_match_numpy_formulas(cp):
    for k, (program, dts, formula) in enumerate(G._fused_programs()):
        shapes = [(3, 13)] + [(13,)] * (len(dts) - 1)
        arrays = [G._special(d, s, 10 + i, finite=(k == 16)) for i, (d, s) in enumerate(zip(dts, shapes))]
        if k == 8:
            arrays[1] = np.abs(arrays[1])
        kern = fused.FusedKernel(program, cp)
        got = kern(*[cp.asarray(a) for a in arrays])
        assert kern._kernels and all(v is not False for v in kern._kernels.values()), f"case {k} did not compile"
        with np.errstate(all="ignore"):
            want = np.asarray(formula(*[np.broadcast_to(a, shapes[0]) for a in arrays]))
        g = cp.asnumpy(got[0])
        assert g.dtype == np.dtype(program.out_dtypes[0])
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, want.astype(g.dtype), rtol=4e-6, atol=1e-6, equal_nan=True,
                                       err_msg=f"case {k}: {program.lines}")
        else:
            np.testing.assert_array_equal(g, want.astype(g.dtype), err_msg=f"case {k}: {program.lines}")


def test_fused_kernel_takes_strided_and_broadcast_inputs(cp):
    program = G._prog([("t0", "(a0 * a1)"), ("t1", "(t0 + a2)")], ["t1"], ["float32"], 3)
    kern = fused.FusedKernel(program, cp)
    a = cp.arange(24, dtype=cp.float32).reshape(4, 6)
    out = kern(a.T, cp.float32(2.0) * cp.ones((1, 4), cp.float32), cp.asarray(np.float32(1.0)))[0]
    np.testing.assert_array_equal(cp.asnumpy(out), cp.asnumpy(a.T) * 2 + 1)


@pytest.mark.parametrize("case", G.CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_algorithms_on_device_match_loop_reference(cuda, cp, case, dtype):
    x, w, gy, g = G._conv_data(case, dtype)
    y_ref = G.ref_conv(x.astype(np.float64), w.astype(np.float64), g.strides, g.padding, g.dilation, g.groups)
    dx_ref, dw_ref = G.ref_conv_backprop(x.astype(np.float64), w.astype(np.float64), gy.astype(np.float64),
                                         g.strides, g.padding, g.dilation, g.groups)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    xd, wd, gd = cp.asarray(x), cp.asarray(w), cp.asarray(gy)
    for algo in conv.candidates("forward", g):
        for got, want, what in ((conv.conv2d(cp, xd, wd, g, algo, cuda._gemm), y_ref, "y"),
                                (conv.conv2d_backprop_input(cp, gd, wd, g, algo, cuda._gemm), dx_ref, "dx"),
                                (conv.conv2d_backprop_filter(cp, xd, gd, g, algo, cuda._gemm), dw_ref, "dw")):
            assert got.dtype == dtype
            np.testing.assert_allclose(cp.asnumpy(got), want, err_msg=f"{algo} {what}", **tol)


def test_conv_tuner_measures_on_the_device(cuda, cp):
    x = cp.asarray(G._r((32, 32, 32, 16), 1))
    w = cp.asarray(G._r((3, 3, 16, 32), 2))
    y = cuda.conv(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    g = conv.geometry(x.shape, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    key = ("forward", g, "float32")
    assert key in cuda._tuner.choices
    if cuda._tuner.timer is not None:
        times = cuda._tuner.timings[key]
        assert set(times) == {"gather", "taps"} and all(t > 0 for t in times.values())
        print("conv forward timings (s):", times, "->", cuda._tuner.choices[key])
    assert y.shape == (32, 32, 32, 32)

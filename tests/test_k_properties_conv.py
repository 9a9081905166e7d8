"""Property-based tests of the convolution, pooling and resizing K functions.

References: tests/k_props_conv.py (one tap loop for every rank). Shapes keep
size-0 and size-1 axes: an empty batch, zero channels, inputs shorter than the kernel.
Float16 is left out: the numba and numpy backends compute it in float32 through NumPy only.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import run, seed, values  # noqa: E402
from k_props_conv import (conv_ref, depthwise_ref, first, fits, geometry, last, pool_ref,  # noqa: E402
                          run_or_refuse, transpose_ref)

pytestmark = pytest.mark.usefixtures("kbackend")

FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
dtype_st = st.sampled_from(["float32", "float64"])
TOL = {"float32": (1e-4, 1e-4), "float64": (1e-10, 1e-10)}


@st.composite
def _conv_case(draw, rank):
    n = draw(st.sampled_from([0, 1, 2]))
    cin, cout = draw(st.sampled_from([0, 1, 3])), draw(st.sampled_from([0, 1, 2]))
    spatial = tuple(draw(st.integers(0, 6)) for _ in range(rank))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    if draw(st.booleans()):
        strides, dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank)), (1,) * rank
    else:
        strides, dilation = (1,) * rank, tuple(draw(st.integers(1, 2)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    return n, cin, cout, spatial, kernel, strides, dilation, padding, data_format


@FEW
@given(case=_conv_case(2), dtype=dtype_st, s=seed)
def test_conv2d(case, dtype, s):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    run_or_refuse(fits(spatial, kernel, strides, dilation, padding),
                   lambda a, b: K.conv2d(a, b, strides, padding, df, dilation),
                   lambda a, b: first(conv_ref(last(a, df), b, strides, padding, dilation), df), [x, w], dtype,
                   tol=TOL[dtype])


@FEW
@given(case=_conv_case(1), dtype=dtype_st, s=seed, causal=st.booleans())
def test_conv1d(case, dtype, s, causal):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    if causal:
        df = "channels_last"  # Keras allows causal padding with channels_last only
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)

    def ref(a, b):
        a = last(a, df)
        if causal:  # left-pad (k - 1) * d, then a valid convolution
            a = np.pad(a, ((0, 0), ((kernel[0] - 1) * dilation[0], 0), (0, 0)))
        return first(conv_ref(a, b, strides, "valid" if causal else padding, dilation), df)
    size = spatial[0] + (kernel[0] - 1) * dilation[0] * causal
    run_or_refuse(fits((size,), kernel, strides, dilation, "valid" if causal else padding),
                   lambda a, b: K.conv1d(a, b, strides[0], "causal" if causal else padding, df, dilation[0]), ref,
                   [x, w], dtype, tol=TOL[dtype])


@FEW
@given(case=_conv_case(3), dtype=dtype_st, s=seed)
def test_conv3d(case, dtype, s):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    spatial = tuple(min(d, 4) for d in spatial)
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    run_or_refuse(fits(spatial, kernel, strides, dilation, padding),
                   lambda a, b: K.conv3d(a, b, strides, padding, df, dilation),
                   lambda a, b: first(conv_ref(last(a, df), b, strides, padding, dilation), df), [x, w], dtype,
                   tol=TOL[dtype])


@FEW
@given(case=_conv_case(2), dtype=dtype_st, s=seed, mult=st.sampled_from([1, 2]), separable=st.booleans())
def test_depthwise_separable_conv2d(case, dtype, s, mult, separable):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    dw = values(rng, kernel + (cin, mult), dtype)
    ok = fits(spatial, kernel, strides, dilation, padding)
    if not separable:
        run_or_refuse(ok, lambda a, b: K.depthwise_conv2d(a, b, strides, padding, df, dilation),
                       lambda a, b: first(depthwise_ref(last(a, df), b, strides, padding, dilation), df),
                       [x, dw], dtype, tol=TOL[dtype])
        return
    pw = values(rng, (1, 1, cin * mult, cout), dtype)
    run_or_refuse(ok, lambda a, b, c: K.separable_conv2d(a, b, c, strides, padding, df, dilation),
        lambda a, b, c: first(conv_ref(depthwise_ref(last(a, df), b, strides, padding, dilation), c,
                                         (1, 1), "valid", (1, 1)), df), [x, dw, pw], dtype, tol=TOL[dtype])


@FEW
@given(case=_conv_case(2), dtype=dtype_st, s=seed)
def test_conv2d_transpose(case, dtype, s):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    geo = [geometry(d_, k, st_, dl, padding) for d_, k, st_, dl in zip(spatial, kernel, strides, dilation)]
    rng = np.random.default_rng(s)
    # x has the shape conv2d gives for an input of `spatial` (cout channels here are the input's)
    x = values(rng, first(np.empty((n,) + tuple(o for o, _, _ in geo) + (cout,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    out_shape = first(np.empty((n,) + spatial + (cin,)), df).shape
    run_or_refuse(fits(spatial, kernel, strides, dilation, padding),
        lambda a, b: K.conv2d_transpose(a, b, out_shape, strides, padding, df, dilation),
        lambda a, b: first(transpose_ref(last(a, df), b, spatial, strides, padding, dilation), df), [x, w],
        dtype, tol=TOL[dtype])


@FEW
@given(n=st.sampled_from([0, 1, 2]), c=st.sampled_from([0, 1, 3]), rank=st.sampled_from([2, 3]), s=seed,
       mode=st.sampled_from(["max", "avg"]), padding=st.sampled_from(["valid", "same"]),
       df=st.sampled_from(["channels_last", "channels_first"]), dtype=dtype_st, data=st.data())
def test_pool(n, c, rank, s, mode, padding, df, dtype, data):
    spatial = tuple(data.draw(st.integers(0, 5)) for _ in range(rank))
    pool = tuple(data.draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(data.draw(st.integers(1, 3)) for _ in range(rank))
    x = values(np.random.default_rng(s), first(np.empty((n,) + spatial + (c,)), df).shape, dtype)
    kfn = K.pool2d if rank == 2 else K.pool3d
    run_or_refuse(fits(spatial, pool, strides, (1,) * rank, padding),
        lambda a: kfn(a, pool, strides, padding, df, mode),
        lambda a: first(pool_ref(last(a, df), pool, strides, padding, mode), df), [x], dtype, tol=TOL[dtype])


@FEW
@given(n=st.sampled_from([0, 1, 2]), c=st.sampled_from([0, 1, 2]), h=st.integers(0, 3), w=st.integers(0, 3),
       fh=st.integers(1, 3), fw=st.integers(1, 3), df=st.sampled_from(["channels_last", "channels_first"]),
       dtype=dtype_st, s=seed)
def test_resize_images_nearest(n, c, h, w, fh, fw, df, dtype, s):
    x = values(np.random.default_rng(s), first(np.empty((n, h, w, c)), df).shape, dtype)

    def ref(a):
        a = last(a, df)
        return first(np.repeat(np.repeat(a, fh, axis=1), fw, axis=2), df)
    run(lambda a: K.resize_images(a, fh, fw, df), ref, [x], dtype)


@pytest.mark.parametrize("size1,k1,size2,k2", [(8, 3, 7, 4), (2, 3, 1, 4)])
def test_same_padding_buffers_do_not_leak_between_shapes(size1, k1, size2, k2):
    """Found by test_conv2d: two 'same' convolutions whose padded inputs have the same shape and
    leading pads but different interiors (8 + (1, 1) and 7 + (1, 2) rows) must not see each
    other's data in the padding."""
    rng = np.random.default_rng(5)
    for size, k in ((size1, k1), (size2, k2)):
        x = rng.uniform(-1, 1, size=(2, size, size, 3))
        w = rng.uniform(-1, 1, size=(k, k, 3, 2))
        got = K.eval(K.conv2d(K.variable(x), K.variable(w), (1, 1), "same", "channels_last"))
        np.testing.assert_allclose(got, conv_ref(x, w, (1, 1), "same", (1, 1)), rtol=1e-5, atol=1e-5)

"""Property-based tests of the remaining window K functions: conv3d_transpose, separable_conv1d,
resize_images (bilinear), resize_volumes, local_conv1d and local_conv2d. References:
tests/k_props_conv.py and the loops below; batch and channel axes of length 0 included."""
import itertools

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import run, seed, values  # noqa: E402
from k_props_conv import conv_ref, depthwise_ref, first, fits, geometry, last, run_or_refuse, transpose_ref  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
dtype_st = st.sampled_from(["float32", "float64"])
df_st = st.sampled_from(["channels_last", "channels_first"])
TOL = {"float32": (1e-4, 1e-4), "float64": (1e-10, 1e-10)}
small = st.sampled_from([0, 1, 2])


@FEW
@given(n=small, cin=small, cout=small, spatial=st.tuples(*[st.integers(1, 4)] * 3),
       kernel=st.tuples(*[st.integers(1, 2)] * 3), strides=st.tuples(*[st.integers(1, 2)] * 3),
       padding=st.sampled_from(["valid", "same"]), df=df_st, dtype=dtype_st, s=seed)
def test_conv3d_transpose(n, cin, cout, spatial, kernel, strides, padding, df, dtype, s):
    dil = (1, 1, 1)
    geo = [geometry(d, k, st_, 1, padding) for d, k, st_ in zip(spatial, kernel, strides)]
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + tuple(o for o, _, _ in geo) + (cout,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    out_shape = first(np.empty((n,) + spatial + (cin,)), df).shape
    run_or_refuse(fits(spatial, kernel, strides, dil, padding),
                  lambda a, b: K.conv3d_transpose(a, b, out_shape, strides, padding, df),
                  lambda a, b: first(transpose_ref(last(a, df), b, spatial, strides, padding, dil), df), [x, w],
                  dtype, tol=TOL[dtype])


@FEW
@given(n=small, cin=small, cout=small, steps=st.integers(1, 6), k=st.integers(1, 3), stride=st.integers(1, 2),
       mult=st.sampled_from([1, 2]), padding=st.sampled_from(["valid", "same"]), df=df_st, dtype=dtype_st, s=seed)
def test_separable_conv1d(n, cin, cout, steps, k, stride, mult, padding, df, dtype, s):
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n, steps, cin)), df).shape, dtype)
    dw, pw = values(rng, (k, cin, mult), dtype), values(rng, (1, cin * mult, cout), dtype)

    def ref(a, b, c):
        y = depthwise_ref(last(a, df)[:, :, None, :], b[:, None], (stride, 1), padding, (1, 1))[:, :, 0]
        return first(conv_ref(y, c, (1,), "valid", (1,)), df)
    run_or_refuse(fits((steps,), (k,), (stride,), (1,), padding),
                  lambda a, b, c: K.separable_conv1d(a, b, c, stride, padding, df), ref, [x, dw, pw], dtype,
                  tol=TOL[dtype])


def _bilinear_axis(a, axis, factor):
    """TF1 resize_bilinear (align_corners=False, no half-pixel centres): output i samples the input
    at i / factor, interpolating between floor and floor + 1 (clamped at the edge)."""
    size = a.shape[axis]
    out = np.moveaxis(np.zeros(a.shape[:axis] + (size * factor,) + a.shape[axis + 1:]), axis, 0)
    src = np.moveaxis(a, axis, 0)
    for i in range(size * factor):
        pos = i / factor
        lo = int(np.floor(pos))
        hi = min(lo + 1, size - 1)
        t = pos - lo
        out[i] = src[lo] * (1 - t) + src[hi] * t
    return np.moveaxis(out, 0, axis)


@FEW
@given(n=small, c=small, h=st.integers(0, 3), w=st.integers(0, 3), fh=st.integers(1, 3), fw=st.integers(1, 3),
       df=df_st, dtype=dtype_st, s=seed)
def test_resize_images_bilinear(n, c, h, w, fh, fw, df, dtype, s):
    x = values(np.random.default_rng(s), first(np.empty((n, h, w, c)), df).shape, dtype)

    def ref(a):
        return first(_bilinear_axis(_bilinear_axis(last(a, df), 1, fh), 2, fw), df)
    run(lambda a: K.resize_images(a, fh, fw, df, interpolation="bilinear"), ref, [x], dtype, tol=TOL[dtype])


@FEW
@given(n=small, c=small, dims=st.tuples(*[st.integers(0, 2)] * 3), factors=st.tuples(*[st.integers(1, 2)] * 3),
       df=df_st, dtype=dtype_st, s=seed)
def test_resize_volumes(n, c, dims, factors, df, dtype, s):
    x = values(np.random.default_rng(s), first(np.empty((n,) + dims + (c,)), df).shape, dtype)

    def ref(a):
        a = last(a, df)
        for axis, f in zip((1, 2, 3), factors):
            a = np.repeat(a, f, axis=axis)
        return first(a, df)
    run(lambda a: K.resize_volumes(a, *factors, df), ref, [x], dtype)


def _local_ref(x, w, kernel, strides, out_shape, df):
    """Each output position p has its own kernel w[p] (patch_features, filters); the patch is
    flattened (taps..., channels) for channels_last and (channels, taps...) for channels_first."""
    xl = last(x, df)
    n, c = xl.shape[0], xl.shape[-1]
    out = np.zeros((n,) + tuple(out_shape) + (w.shape[-1],))
    for p, pos in enumerate(itertools.product(*[range(o) for o in out_shape])):
        window = tuple(slice(q * s, q * s + k) for q, s, k in zip(pos, strides, kernel))
        patch = xl[(slice(None),) + window]  # (N, taps..., C)
        if df == "channels_first":
            patch = np.moveaxis(patch, -1, 1)
        out[(slice(None),) + pos] = patch.reshape(n, -1 if n else int(np.prod(kernel)) * c) @ w[p]
    return first(out, df)


@FEW
@given(n=small, c=small, filters=small, rank=st.sampled_from([1, 2]), df=df_st, dtype=dtype_st, s=seed,
       data=st.data())
def test_local_conv(n, c, filters, rank, df, dtype, s, data):
    spatial = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    kernel = tuple(data.draw(st.integers(1, d)) for d in spatial)
    strides = tuple(data.draw(st.integers(1, 2)) for _ in range(rank))
    out_shape = tuple((d - k) // s_ + 1 for d, k, s_ in zip(spatial, kernel, strides))
    rng = np.random.default_rng(s)
    x = values(rng, first(np.empty((n,) + spatial + (c,)), df).shape, dtype)
    w = values(rng, (int(np.prod(out_shape)), int(np.prod(kernel)) * c, filters), dtype)
    if rank == 1:
        kfn = lambda a, b: K.local_conv1d(a, b, kernel, strides, df)  # noqa: E731
    else:
        kfn = lambda a, b: K.local_conv2d(a, b, kernel, strides, out_shape, df)  # noqa: E731
    run(kfn, lambda a, b: _local_ref(a, b, kernel, strides, out_shape, df), [x, w], dtype, tol=TOL[dtype])

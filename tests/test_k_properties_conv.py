"""Property-based tests of the convolution, pooling and resizing K functions.

The reference is one tap loop for every rank: for each kernel offset, a strided slice of the
zero-padded input is contracted with that offset's kernel slice ('same' pads as TensorFlow: the
total padding max((out - 1) * stride + extent - size, 0), its smaller half first). Shapes keep
size-0 and size-1 axes: an empty batch, zero channels, inputs shorter than the kernel.
Float16 is left out: the numba and numpy backends compute it in float32 through NumPy only.
"""
import itertools

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import count, run, seed, values  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
dtype_st = st.sampled_from(["float32", "float64"])
TOL = {"float32": (1e-4, 1e-4), "float64": (1e-10, 1e-10)}


def _geometry(size, k, s, d, padding):
    """(output length, padding before, padding after) of one spatial axis; a length < 1 means
    the window does not fit (the padded axis is shorter than the kernel's extent)."""
    extent = (k - 1) * d + 1
    if padding == "valid":
        return (size - extent) // s + 1 if size >= extent else 0, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + extent - size, 0)
    return out, total // 2, total - total // 2


def _fits(spatial, ks, strides, dilation, padding):
    return all(_geometry(n, k, s, d, padding)[0] >= 1 for n, k, s, d in zip(spatial, ks, strides, dilation))


def _run_or_refuse(fits, kfn, npfn, arrays, dtype, tol=None):
    """Windows that do not fit (an empty spatial axis included) are a ValueError saying so, raised
    when the graph is built; batch and channel axes of length 0 give empty results."""
    if fits:
        run(kfn, npfn, arrays, dtype, tol=tol)
        return
    count()
    with pytest.raises(ValueError, match="does not fit"):
        kfn(*[K.variable(a, dtype=dtype) for a in arrays])


def _conv_ref(x, w, strides, padding, dilation):
    """Channels-last N-d cross-correlation: x (N, *spatial, Cin), w (*k, Cin, Cout)."""
    spatial, ks = x.shape[1:-1], w.shape[:-2]
    geo = [_geometry(n, k, s, d, padding) for n, k, s, d in zip(spatial, ks, strides, dilation)]
    xp = np.pad(x, [(0, 0)] + [(b, a) for _, b, a in geo] + [(0, 0)])
    out = np.zeros((x.shape[0],) + tuple(o for o, _, _ in geo) + (w.shape[-1],))
    if 0 in out.shape:
        return out
    for taps in itertools.product(*[range(k) for k in ks]):
        key = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, (o, _, _) in zip(taps, dilation, strides, geo))
        out += np.tensordot(xp[(slice(None),) + key], w[taps], axes=([-1], [0]))
    return out


def _first(a, data_format):
    """channels_last array -> the layout of data_format."""
    return a if data_format == "channels_last" else np.moveaxis(a, -1, 1)


def _last(a, data_format):
    return a if data_format == "channels_last" else np.moveaxis(a, 1, -1)


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
    x = values(rng, _first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    _run_or_refuse(_fits(spatial, kernel, strides, dilation, padding),
                   lambda a, b: K.conv2d(a, b, strides, padding, df, dilation),
                   lambda a, b: _first(_conv_ref(_last(a, df), b, strides, padding, dilation), df), [x, w], dtype,
                   tol=TOL[dtype])


@FEW
@given(case=_conv_case(1), dtype=dtype_st, s=seed, causal=st.booleans())
def test_conv1d(case, dtype, s, causal):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    if causal:
        df = "channels_last"  # Keras allows causal padding with channels_last only
    rng = np.random.default_rng(s)
    x = values(rng, _first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)

    def ref(a, b):
        a = _last(a, df)
        if causal:  # left-pad (k - 1) * d, then a valid convolution
            a = np.pad(a, ((0, 0), ((kernel[0] - 1) * dilation[0], 0), (0, 0)))
        return _first(_conv_ref(a, b, strides, "valid" if causal else padding, dilation), df)
    size = spatial[0] + (kernel[0] - 1) * dilation[0] * causal
    _run_or_refuse(_fits((size,), kernel, strides, dilation, "valid" if causal else padding),
                   lambda a, b: K.conv1d(a, b, strides[0], "causal" if causal else padding, df, dilation[0]), ref,
                   [x, w], dtype, tol=TOL[dtype])


@FEW
@given(case=_conv_case(3), dtype=dtype_st, s=seed)
def test_conv3d(case, dtype, s):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    spatial = tuple(min(d, 4) for d in spatial)
    rng = np.random.default_rng(s)
    x = values(rng, _first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    _run_or_refuse(_fits(spatial, kernel, strides, dilation, padding),
                   lambda a, b: K.conv3d(a, b, strides, padding, df, dilation),
                   lambda a, b: _first(_conv_ref(_last(a, df), b, strides, padding, dilation), df), [x, w], dtype,
                   tol=TOL[dtype])


def _depthwise_ref(x, w, strides, padding, dilation):
    """Output channel c * multiplier + m convolves input channel c with w[..., c, m]."""
    outs = [_conv_ref(x[..., c:c + 1], w[..., c:c + 1, :], strides, padding, dilation) for c in range(x.shape[-1])]
    if not outs:
        geo = [_geometry(n, k, s, d, padding) for n, k, s, d in zip(x.shape[1:-1], w.shape[:2], strides, dilation)]
        return np.zeros((x.shape[0],) + tuple(o for o, _, _ in geo) + (0,))
    return np.concatenate(outs, axis=-1)


@FEW
@given(case=_conv_case(2), dtype=dtype_st, s=seed, mult=st.sampled_from([1, 2]), separable=st.booleans())
def test_depthwise_separable_conv2d(case, dtype, s, mult, separable):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    rng = np.random.default_rng(s)
    x = values(rng, _first(np.empty((n,) + spatial + (cin,)), df).shape, dtype)
    dw = values(rng, kernel + (cin, mult), dtype)
    fits = _fits(spatial, kernel, strides, dilation, padding)
    if not separable:
        _run_or_refuse(fits, lambda a, b: K.depthwise_conv2d(a, b, strides, padding, df, dilation),
                       lambda a, b: _first(_depthwise_ref(_last(a, df), b, strides, padding, dilation), df),
                       [x, dw], dtype, tol=TOL[dtype])
        return
    pw = values(rng, (1, 1, cin * mult, cout), dtype)
    _run_or_refuse(fits, lambda a, b, c: K.separable_conv2d(a, b, c, strides, padding, df, dilation),
        lambda a, b, c: _first(_conv_ref(_depthwise_ref(_last(a, df), b, strides, padding, dilation), c,
                                         (1, 1), "valid", (1, 1)), df), [x, dw, pw], dtype, tol=TOL[dtype])


def _transpose_ref(x, w, out_spatial, strides, padding, dilation):
    """The adjoint of _conv_ref for an input of out_spatial: every input cell scatters its
    kernel-weighted values back to the cells that the convolution read."""
    ks = w.shape[:-2]
    geo = [_geometry(n, k, s, d, padding) for n, k, s, d in zip(out_spatial, ks, strides, dilation)]
    padded = [n + b + a for n, (_, b, a) in zip(out_spatial, geo)]
    out = np.zeros((x.shape[0],) + tuple(padded) + (w.shape[-2],))
    for taps in itertools.product(*[range(k) for k in ks]):
        key = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, (o, _, _) in zip(taps, dilation, strides, geo))
        if all(o > 0 for o, _, _ in geo):
            out[(slice(None),) + key] += np.tensordot(x, w[taps], axes=([-1], [1]))
    crop = tuple(slice(b, b + n) for n, (_, b, _) in zip(out_spatial, geo))
    return out[(slice(None),) + crop]


@FEW
@given(case=_conv_case(2), dtype=dtype_st, s=seed)
def test_conv2d_transpose(case, dtype, s):
    n, cin, cout, spatial, kernel, strides, dilation, padding, df = case
    geo = [_geometry(d_, k, st_, dl, padding) for d_, k, st_, dl in zip(spatial, kernel, strides, dilation)]
    rng = np.random.default_rng(s)
    # x has the shape conv2d gives for an input of `spatial` (cout channels here are the input's)
    x = values(rng, _first(np.empty((n,) + tuple(o for o, _, _ in geo) + (cout,)), df).shape, dtype)
    w = values(rng, kernel + (cin, cout), dtype)
    out_shape = _first(np.empty((n,) + spatial + (cin,)), df).shape
    _run_or_refuse(_fits(spatial, kernel, strides, dilation, padding),
        lambda a, b: K.conv2d_transpose(a, b, out_shape, strides, padding, df, dilation),
        lambda a, b: _first(_transpose_ref(_last(a, df), b, spatial, strides, padding, dilation), df), [x, w],
        dtype, tol=TOL[dtype])


def _pool_ref(x, pool, strides, padding, mode):
    """Channels-last pooling; 'same' windows ignore the padded cells (TensorFlow)."""
    geo = [_geometry(n, k, s, 1, padding) for n, k, s in zip(x.shape[1:-1], pool, strides)]
    xp = np.pad(x, [(0, 0)] + [(b, a) for _, b, a in geo] + [(0, 0)], constant_values=np.nan)
    shape = (x.shape[0],) + tuple(o for o, _, _ in geo) + (x.shape[-1],)
    if 0 in shape:
        return np.zeros(shape)
    wins = [xp[(slice(None),) + tuple(slice(t, t + (o - 1) * s + 1, s) for t, s, (o, _, _) in zip(taps, strides, geo))]
            for taps in itertools.product(*[range(k) for k in pool])]
    stack = np.stack(wins)
    return np.nanmax(stack, axis=0) if mode == "max" else np.nanmean(stack, axis=0)


@FEW
@given(n=st.sampled_from([0, 1, 2]), c=st.sampled_from([0, 1, 3]), rank=st.sampled_from([2, 3]), s=seed,
       mode=st.sampled_from(["max", "avg"]), padding=st.sampled_from(["valid", "same"]),
       df=st.sampled_from(["channels_last", "channels_first"]), dtype=dtype_st, data=st.data())
def test_pool(n, c, rank, s, mode, padding, df, dtype, data):
    spatial = tuple(data.draw(st.integers(0, 5)) for _ in range(rank))
    pool = tuple(data.draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(data.draw(st.integers(1, 3)) for _ in range(rank))
    x = values(np.random.default_rng(s), _first(np.empty((n,) + spatial + (c,)), df).shape, dtype)
    kfn = K.pool2d if rank == 2 else K.pool3d
    _run_or_refuse(_fits(spatial, pool, strides, (1,) * rank, padding),
        lambda a: kfn(a, pool, strides, padding, df, mode),
        lambda a: _first(_pool_ref(_last(a, df), pool, strides, padding, mode), df), [x], dtype, tol=TOL[dtype])


@FEW
@given(n=st.sampled_from([0, 1, 2]), c=st.sampled_from([0, 1, 2]), h=st.integers(0, 3), w=st.integers(0, 3),
       fh=st.integers(1, 3), fw=st.integers(1, 3), df=st.sampled_from(["channels_last", "channels_first"]),
       dtype=dtype_st, s=seed)
def test_resize_images_nearest(n, c, h, w, fh, fw, df, dtype, s):
    x = values(np.random.default_rng(s), _first(np.empty((n, h, w, c)), df).shape, dtype)

    def ref(a):
        a = _last(a, df)
        return _first(np.repeat(np.repeat(a, fh, axis=1), fw, axis=2), df)
    run(lambda a: K.resize_images(a, fh, fw, df), ref, [x], dtype)

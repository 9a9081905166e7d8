"""Neural-network primitives written once against an array module `xp` (numpy or cupy).

Every image function works on channels-last arrays (N, H, W, C), or (N, D, H, W, C) for the 3-D
ones and (N, *spatial, C) for the resizes; the K layer above transposes
for channels_first and turns Keras 'same'/'valid' into explicit ((top, bottom), (left, right))
padding. Convolutions are cross-correlations (no kernel flip) with kernels laid out
(kh, kw, Cin // groups, Cout), as in TensorFlow.

Only the part of the NumPy API that CuPy also offers is used. Convolutions go through im2col
(one strided slice per kernel tap) and one batched matmul; pooling loops over the kernel taps
only, never over the batch or the pixels.
"""
from __future__ import annotations

import math

__all__ = [
    "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter",
    "max_pool2d", "max_pool2d_backprop", "avg_pool2d", "avg_pool2d_backprop",
    "conv3d", "conv3d_backprop_input", "conv3d_backprop_filter",
    "max_pool3d", "max_pool3d_backprop", "avg_pool3d", "avg_pool3d_backprop",
    "batchnorm_train_forward", "batchnorm_train_backward",
    "resize_nearest", "resize_nearest_backprop", "resize_bilinear", "resize_bilinear_backprop",
]


# ------------------------------------------------------------------------------------ helpers

_COUNT_WORDS = {1: "one", 2: "two", 3: "three"}


def _positive_ints(value, n, name):
    t = tuple(int(v) for v in value)
    if len(t) != n or any(v < 1 for v in t):
        raise ValueError(f"{name} must be {_COUNT_WORDS[n]} positive ints, got {value!r}")
    return t


def _pad_pairs(padding, n):
    pads = tuple((int(a), int(b)) for a, b in padding)
    if len(pads) != n or any(p < 0 for pair in pads for p in pair):
        raise ValueError(f"padding must be {_COUNT_WORDS[n]} (before, after) pairs of non-negative ints, "
                         f"got {padding!r}")
    return pads


def _pair(value, name):
    return _positive_ints(value, 2, name)


def _padding(padding):
    return _pad_pairs(padding, 2)


def _out_size(size, k, stride, pad, dilation):
    """Number of windows along one axis (floor division, like TF's explicit padding)."""
    span = dilation * (k - 1) + 1
    padded = size + pad[0] + pad[1]
    if padded < span:
        raise ValueError(f"window of extent {span} (kernel {k}, dilation {dilation}) does not fit "
                         f"in an axis of size {size} padded to {padded}")
    return (padded - span) // stride + 1


def _geometry(spatial, kernel, strides, padding, dilation):
    """Validated (kernel, strides, padding, dilation, out) for a 2-D window op."""
    kernel = _pair(kernel, "kernel size")
    strides = _pair(strides, "strides")
    dilation = _pair(dilation, "dilation")
    padding = _padding(padding)
    out = tuple(_out_size(spatial[a], kernel[a], strides[a], padding[a], dilation[a])
                for a in range(2))
    return kernel, strides, padding, dilation, out


def _taps(kernel, strides, dilation, out):
    """Yield (i, j, rows, cols): for kernel tap (i, j), the slices of the padded input that
    hold the cell this tap sees in every window, so `xpad[:, rows, cols]` is (N, Ho, Wo, C)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, strides, dilation, out
    for i in range(kh):
        r0 = i * dh
        rows = slice(r0, r0 + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            c0 = j * dw
            yield i, j, rows, slice(c0, c0 + sw * (wo - 1) + 1, sw)


def _pad(xp, x, padding, value=0):
    if not any(p for pair in padding for p in pair):
        return x
    return xp.pad(x, ((0, 0),) + tuple(padding) + ((0, 0),), mode="constant",
                  constant_values=value)


def _crop(xp, xpad, padding, spatial):
    (pt, _), (pl, _) = padding
    h, w = spatial
    # a view would keep the whole padded buffer alive and be non-contiguous
    return xp.ascontiguousarray(xpad[:, pt:pt + h, pl:pl + w, :])


def _conv_check(x_shape, w_shape, groups):
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"conv2d expects x (N, H, W, Cin) and w (kh, kw, Cin/groups, Cout), got "
                         f"{tuple(x_shape)} and {tuple(w_shape)}")
    groups = int(groups)
    cin, cout = x_shape[3], w_shape[3]
    if groups < 1 or cin % groups or cout % groups or w_shape[2] * groups != cin:
        raise ValueError(f"conv2d with groups={groups}: input channels {cin} and kernel "
                         f"{tuple(w_shape)} do not match (need Cin = kernel[2] * groups and "
                         f"Cout divisible by groups)")
    return groups


def _im2col(xp, xpad, kernel, strides, dilation, out, groups):
    """(G, N*Ho*Wo, kh*kw*Cg) patch matrix of the padded input, one block per group."""
    n, _, _, cin = xpad.shape
    cg = cin // groups
    (kh, kw), (ho, wo) = kernel, out
    if kh == kw == 1 and strides == (1, 1) and groups == 1 and xpad.shape[1:3] == out:
        return xpad.reshape(1, n * ho * wo, cin)  # pointwise conv: the input is the matrix
    cols = xp.empty((groups, n, ho, wo, kh, kw, cg), dtype=xpad.dtype)
    for i, j, rows, cs in _taps(kernel, strides, dilation, out):
        patch = xpad[:, rows, cs, :].reshape(n, ho, wo, groups, cg)
        cols[:, :, :, :, i, j, :] = xp.moveaxis(patch, 3, 0)
    return cols.reshape(groups, n * ho * wo, kh * kw * cg)


def _col2im(xp, cols, padded_shape, kernel, strides, dilation, out, groups):
    """Adjoint of _im2col: sum every patch entry back into a zero padded-input array."""
    n, _, _, cin = padded_shape
    cg = cin // groups
    (kh, kw), (ho, wo) = kernel, out
    cols = cols.reshape(groups, n, ho, wo, kh, kw, cg)
    dxpad = xp.zeros(padded_shape, dtype=cols.dtype)
    for i, j, rows, cs in _taps(kernel, strides, dilation, out):
        # within one tap the strided cells are distinct, so a plain += accumulates correctly
        dxpad[:, rows, cs, :] += xp.moveaxis(cols[:, :, :, :, i, j, :], 0, 3).reshape(
            n, ho, wo, cin)
    return dxpad


def _filter_matrix(w, groups):
    """(kh, kw, Cg, Cout) -> (G, kh*kw*Cg, Cout/G), matching the columns of _im2col."""
    kh, kw, cg, cout = w.shape
    return (w.reshape(kh, kw, cg, groups, cout // groups).transpose(3, 0, 1, 2, 4)
            .reshape(groups, kh * kw * cg, cout // groups))


def _output_matrix(y, groups):
    """(N, Ho, Wo, Cout) -> (G, N*Ho*Wo, Cout/G)."""
    n, ho, wo, cout = y.shape
    # sizes spelled out: with a zero-size axis, -1 would be undetermined
    return y.reshape(n * ho * wo, groups, cout // groups).transpose(1, 0, 2)


# -------------------------------------------------------------------------------- convolution

def conv2d(xp, x, w, strides, padding, dilation, groups=1):
    """2-D cross-correlation of x (N, H, W, Cin) with w (kh, kw, Cin/groups, Cout)."""
    groups = _conv_check(x.shape, w.shape, groups)
    kernel, strides, padding, dilation, out = _geometry(
        x.shape[1:3], w.shape[:2], strides, padding, dilation)
    cols = _im2col(xp, _pad(xp, x, padding), kernel, strides, dilation, out, groups)
    y = xp.matmul(cols, _filter_matrix(w, groups))            # (G, M, Cout/G)
    n, cout = x.shape[0], w.shape[3]
    return y.transpose(1, 0, 2).reshape(n, out[0], out[1], cout).astype(x.dtype, copy=False)


def conv2d_backprop_input(xp, g, w, input_shape, strides, padding, dilation, groups=1):
    """Gradient of conv2d with respect to x, given g = dL/dy; returns dx of `input_shape`."""
    input_shape = tuple(int(d) for d in input_shape)
    groups = _conv_check(input_shape, w.shape, groups)
    kernel, strides, padding, dilation, out = _geometry(
        input_shape[1:3], w.shape[:2], strides, padding, dilation)
    if tuple(g.shape) != (input_shape[0],) + out + (w.shape[3],):
        raise ValueError(f"conv2d_backprop_input: gradient of shape {tuple(g.shape)} does not "
                         f"match the conv output {(input_shape[0],) + out + (w.shape[3],)}")
    dcols = xp.matmul(_output_matrix(g, groups), _filter_matrix(w, groups).transpose(0, 2, 1))
    padded_shape = (input_shape[0],
                    input_shape[1] + sum(padding[0]), input_shape[2] + sum(padding[1]),
                    input_shape[3])
    dxpad = _col2im(xp, dcols, padded_shape, kernel, strides, dilation, out, groups)
    return _crop(xp, dxpad, padding, input_shape[1:3]).astype(g.dtype, copy=False)


def conv2d_backprop_filter(xp, x, g, filter_shape, strides, padding, dilation, groups=1):
    """Gradient of conv2d with respect to w, given g = dL/dy; returns dw of `filter_shape`."""
    filter_shape = tuple(int(d) for d in filter_shape)
    groups = _conv_check(x.shape, filter_shape, groups)
    kernel, strides, padding, dilation, out = _geometry(
        x.shape[1:3], filter_shape[:2], strides, padding, dilation)
    kh, kw, cg, cout = filter_shape
    if tuple(g.shape) != (x.shape[0],) + out + (cout,):
        raise ValueError(f"conv2d_backprop_filter: gradient of shape {tuple(g.shape)} does not "
                         f"match the conv output {(x.shape[0],) + out + (cout,)}")
    cols = _im2col(xp, _pad(xp, x, padding), kernel, strides, dilation, out, groups)
    dw = xp.matmul(cols.transpose(0, 2, 1), _output_matrix(g, groups))   # (G, K, Cout/G)
    dw = dw.reshape(groups, kh, kw, cg, cout // groups).transpose(1, 2, 3, 0, 4)
    return dw.reshape(filter_shape).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------------------ pooling

_NO_DILATION = (1, 1)


def _real_cells(xp, spatial, padding, dtype):
    """(Hp, Wp) array: 1 on the cells of the padded input that hold real data, 0 on padding."""
    return _pad(xp, xp.ones((1,) + tuple(spatial) + (1,), dtype=dtype), padding)[0, :, :, 0]


def max_pool2d(xp, x, pool_size, strides, padding):
    """Max pooling of x (N, H, W, C); padded cells never win."""
    kernel, strides, padding, _, out = _geometry(
        x.shape[1:3], pool_size, strides, padding, _NO_DILATION)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    y = None
    for _, _, rows, cols in _taps(kernel, strides, _NO_DILATION, out):
        tap = xpad[:, rows, cols, :]
        y = tap.copy() if y is None else xp.maximum(y, tap)
    return y


def max_pool2d_backprop(xp, x, y, g, pool_size, strides, padding):
    """Gradient of max_pool2d: each window's g goes to its first maximal real cell (row-major)."""
    kernel, strides, padding, _, out = _geometry(
        x.shape[1:3], pool_size, strides, padding, _NO_DILATION)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    # a real cell equal to -inf can tie with the padding; the mask keeps padding from winning
    real = _real_cells(xp, x.shape[1:3], padding, bool)
    dxpad = xp.zeros(xpad.shape, dtype=g.dtype)
    taken = xp.zeros(y.shape, dtype=bool)                     # window already has its winner
    for _, _, rows, cols in _taps(kernel, strides, _NO_DILATION, out):
        win = (xpad[:, rows, cols, :] == y) & real[rows, cols][None, :, :, None] & ~taken
        dxpad[:, rows, cols, :] += xp.where(win, g, 0).astype(g.dtype, copy=False)
        taken |= win
    return _crop(xp, dxpad, padding, x.shape[1:3])


def _window_counts(xp, spatial, kernel, strides, padding, out, dtype):
    """(1, Ho, Wo, 1) number of real (unpadded) cells in each window."""
    real = _real_cells(xp, spatial, padding, dtype)
    count = xp.zeros(out, dtype=dtype)
    for _, _, rows, cols in _taps(kernel, strides, _NO_DILATION, out):
        count += real[rows, cols]
    return count[None, :, :, None]


def avg_pool2d(xp, x, pool_size, strides, padding):
    """Average pooling of x (N, H, W, C), dividing by the number of real cells per window."""
    kernel, strides, padding, _, out = _geometry(
        x.shape[1:3], pool_size, strides, padding, _NO_DILATION)
    xpad = _pad(xp, x, padding)
    total = xp.zeros((x.shape[0],) + out + (x.shape[3],), dtype=x.dtype)
    for _, _, rows, cols in _taps(kernel, strides, _NO_DILATION, out):
        total += xpad[:, rows, cols, :]
    return total / _window_counts(xp, x.shape[1:3], kernel, strides, padding, out, x.dtype)


def avg_pool2d_backprop(xp, g, input_shape, pool_size, strides, padding):
    """Gradient of avg_pool2d: each window's g, divided by its real-cell count, to its cells."""
    input_shape = tuple(int(d) for d in input_shape)
    kernel, strides, padding, _, out = _geometry(
        input_shape[1:3], pool_size, strides, padding, _NO_DILATION)
    share = g / _window_counts(xp, input_shape[1:3], kernel, strides, padding, out, g.dtype)
    padded_shape = (input_shape[0],
                    input_shape[1] + sum(padding[0]), input_shape[2] + sum(padding[1]),
                    input_shape[3])
    dxpad = xp.zeros(padded_shape, dtype=g.dtype)
    for _, _, rows, cols in _taps(kernel, strides, _NO_DILATION, out):
        dxpad[:, rows, cols, :] += share
    return _crop(xp, dxpad, padding, input_shape[1:3])


# ------------------------------------------------------------------ 3-D convolution and pooling
#
# The same scheme over (N, D, H, W, C) arrays: a loop over the kernel taps only (one strided
# slice of the padded input per tap), one matmul for the convolutions. No groups in 3-D.

_NO_DILATION_3D = (1, 1, 1)


def _triple(value, name):
    return _positive_ints(value, 3, name)


def _padding3(padding):
    return _pad_pairs(padding, 3)


def _geometry3(spatial, kernel, strides, padding, dilation):
    """Validated (kernel, strides, padding, dilation, out) for a 3-D window op."""
    kernel = _triple(kernel, "kernel size")
    strides = _triple(strides, "strides")
    dilation = _triple(dilation, "dilation")
    padding = _padding3(padding)
    out = tuple(_out_size(spatial[a], kernel[a], strides[a], padding[a], dilation[a])
                for a in range(3))
    return kernel, strides, padding, dilation, out


def _taps3(kernel, strides, dilation, out):
    """Yield ((i, j, k), index): for kernel tap (i, j, k), `xpad[index]` is the (N, Do, Ho, Wo, C)
    array of the cells this tap sees in every window."""
    def axis_slices(a):
        for t in range(kernel[a]):
            start = t * dilation[a]
            yield t, slice(start, start + strides[a] * (out[a] - 1) + 1, strides[a])
    for i, sd in axis_slices(0):
        for j, sh in axis_slices(1):
            for k, sw in axis_slices(2):
                yield (i, j, k), (slice(None), sd, sh, sw, slice(None))


def _padded_shape3(input_shape, padding):
    return ((input_shape[0],) + tuple(s + p[0] + p[1] for s, p in zip(input_shape[1:4], padding))
            + (input_shape[4],))


def _crop3(xp, xpad, padding, spatial):
    index = (slice(None),) + tuple(slice(p[0], p[0] + s) for p, s in zip(padding, spatial)) + (slice(None),)
    return xp.ascontiguousarray(xpad[index])


def _conv3d_check(x_shape, w_shape):
    if len(x_shape) != 5 or len(w_shape) != 5:
        raise ValueError(f"conv3d expects x (N, D, H, W, Cin) and w (kd, kh, kw, Cin, Cout), got "
                         f"{tuple(x_shape)} and {tuple(w_shape)}")
    if x_shape[4] != w_shape[3]:
        raise ValueError(f"conv3d: input channels {x_shape[4]} do not match the kernel {tuple(w_shape)}")


def _im2col3(xp, xpad, kernel, strides, dilation, out):
    """(N*Do*Ho*Wo, kd*kh*kw*C) patch matrix of the padded input."""
    n, c = xpad.shape[0], xpad.shape[4]
    if kernel == (1, 1, 1) and strides == (1, 1, 1) and tuple(xpad.shape[1:4]) == out:
        return xpad.reshape(n * out[0] * out[1] * out[2], c)  # pointwise conv: the input is the matrix
    cols = xp.empty((n,) + out + kernel + (c,), dtype=xpad.dtype)
    for (i, j, k), index in _taps3(kernel, strides, dilation, out):
        cols[:, :, :, :, i, j, k, :] = xpad[index]
    return cols.reshape(n * out[0] * out[1] * out[2], kernel[0] * kernel[1] * kernel[2] * c)


def _col2im3(xp, cols, padded_shape, kernel, strides, dilation, out):
    """Adjoint of _im2col3: sum every patch entry back into a zero padded-input array."""
    n, c = padded_shape[0], padded_shape[4]
    cols = cols.reshape((n,) + out + kernel + (c,))
    dxpad = xp.zeros(padded_shape, dtype=cols.dtype)
    for (i, j, k), index in _taps3(kernel, strides, dilation, out):
        # within one tap the strided cells are distinct, so a plain += accumulates correctly
        dxpad[index] += cols[:, :, :, :, i, j, k, :]
    return dxpad


def _matrix(a):
    """a as (product of the leading axes, last axis): sizes spelled out, -1 is undetermined at size 0."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def conv3d(xp, x, w, strides, padding, dilation):
    """3-D cross-correlation of x (N, D, H, W, Cin) with w (kd, kh, kw, Cin, Cout)."""
    _conv3d_check(x.shape, w.shape)
    kernel, strides, padding, dilation, out = _geometry3(
        x.shape[1:4], w.shape[:3], strides, padding, dilation)
    cols = _im2col3(xp, _pad(xp, x, padding), kernel, strides, dilation, out)
    cout = w.shape[4]
    y = xp.matmul(cols, _matrix(w))
    return y.reshape((x.shape[0],) + out + (cout,)).astype(x.dtype, copy=False)


def conv3d_backprop_input(xp, g, w, input_shape, strides, padding, dilation):
    """Gradient of conv3d with respect to x, given g = dL/dy; returns dx of `input_shape`."""
    input_shape = tuple(int(d) for d in input_shape)
    _conv3d_check(input_shape, w.shape)
    kernel, strides, padding, dilation, out = _geometry3(
        input_shape[1:4], w.shape[:3], strides, padding, dilation)
    cout = w.shape[4]
    if tuple(g.shape) != (input_shape[0],) + out + (cout,):
        raise ValueError(f"conv3d_backprop_input: gradient of shape {tuple(g.shape)} does not "
                         f"match the conv output {(input_shape[0],) + out + (cout,)}")
    dcols = xp.matmul(_matrix(g), _matrix(w).T)
    dxpad = _col2im3(xp, dcols, _padded_shape3(input_shape, padding), kernel, strides, dilation, out)
    return _crop3(xp, dxpad, padding, input_shape[1:4]).astype(g.dtype, copy=False)


def conv3d_backprop_filter(xp, x, g, filter_shape, strides, padding, dilation):
    """Gradient of conv3d with respect to w, given g = dL/dy; returns dw of `filter_shape`."""
    filter_shape = tuple(int(d) for d in filter_shape)
    _conv3d_check(x.shape, filter_shape)
    kernel, strides, padding, dilation, out = _geometry3(
        x.shape[1:4], filter_shape[:3], strides, padding, dilation)
    cout = filter_shape[4]
    if tuple(g.shape) != (x.shape[0],) + out + (cout,):
        raise ValueError(f"conv3d_backprop_filter: gradient of shape {tuple(g.shape)} does not "
                         f"match the conv output {(x.shape[0],) + out + (cout,)}")
    cols = _im2col3(xp, _pad(xp, x, padding), kernel, strides, dilation, out)
    dw = xp.matmul(cols.T, _matrix(g))
    return dw.reshape(filter_shape).astype(x.dtype, copy=False)


def _real_cells3(xp, spatial, padding, dtype):
    """(Dp, Hp, Wp) array: 1 on the cells of the padded input that hold real data, 0 on padding."""
    return _pad(xp, xp.ones((1,) + tuple(spatial) + (1,), dtype=dtype), padding)[0, :, :, :, 0]


def max_pool3d(xp, x, pool_size, strides, padding):
    """Max pooling of x (N, D, H, W, C); padded cells never win."""
    kernel, strides, padding, _, out = _geometry3(
        x.shape[1:4], pool_size, strides, padding, _NO_DILATION_3D)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    y = None
    for _, index in _taps3(kernel, strides, _NO_DILATION_3D, out):
        tap = xpad[index]
        y = tap.copy() if y is None else xp.maximum(y, tap)
    return y


def max_pool3d_backprop(xp, x, y, g, pool_size, strides, padding):
    """Gradient of max_pool3d: each window's g goes to its first maximal real cell (tap order
    depth, row, column)."""
    kernel, strides, padding, _, out = _geometry3(
        x.shape[1:4], pool_size, strides, padding, _NO_DILATION_3D)
    xpad = _pad(xp, x, padding, value=-xp.inf)
    real = _real_cells3(xp, x.shape[1:4], padding, bool)
    dxpad = xp.zeros(xpad.shape, dtype=g.dtype)
    taken = xp.zeros(y.shape, dtype=bool)
    for _, index in _taps3(kernel, strides, _NO_DILATION_3D, out):
        win = (xpad[index] == y) & real[index[1:4]][None, :, :, :, None] & ~taken
        dxpad[index] += xp.where(win, g, 0).astype(g.dtype, copy=False)
        taken |= win
    return _crop3(xp, dxpad, padding, x.shape[1:4])


def _window_counts3(xp, spatial, kernel, strides, padding, out, dtype):
    """(1, Do, Ho, Wo, 1) number of real (unpadded) cells in each window."""
    real = _real_cells3(xp, spatial, padding, dtype)
    count = xp.zeros(out, dtype=dtype)
    for _, index in _taps3(kernel, strides, _NO_DILATION_3D, out):
        count += real[index[1:4]]
    return count[None, :, :, :, None]


def avg_pool3d(xp, x, pool_size, strides, padding):
    """Average pooling of x (N, D, H, W, C), dividing by the number of real cells per window."""
    kernel, strides, padding, _, out = _geometry3(
        x.shape[1:4], pool_size, strides, padding, _NO_DILATION_3D)
    xpad = _pad(xp, x, padding)
    total = xp.zeros((x.shape[0],) + out + (x.shape[4],), dtype=x.dtype)
    for _, index in _taps3(kernel, strides, _NO_DILATION_3D, out):
        total += xpad[index]
    return (total / _window_counts3(xp, x.shape[1:4], kernel, strides, padding, out, x.dtype)).astype(
        x.dtype, copy=False)


def avg_pool3d_backprop(xp, g, input_shape, pool_size, strides, padding):
    """Gradient of avg_pool3d: each window's g, divided by its real-cell count, to its cells."""
    input_shape = tuple(int(d) for d in input_shape)
    kernel, strides, padding, _, out = _geometry3(
        input_shape[1:4], pool_size, strides, padding, _NO_DILATION_3D)
    share = g / _window_counts3(xp, input_shape[1:4], kernel, strides, padding, out, g.dtype)
    dxpad = xp.zeros(_padded_shape3(input_shape, padding), dtype=g.dtype)
    for _, index in _taps3(kernel, strides, _NO_DILATION_3D, out):
        dxpad[index] += share
    return _crop3(xp, dxpad, padding, input_shape[1:4])


# ------------------------------------------------------------------------ batch normalization

def _bn_axes(ndim, axes):
    axes = tuple(sorted({int(a) % ndim for a in axes}))
    if not axes:
        raise ValueError("batch normalization needs at least one reduction axis")
    return axes


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def batchnorm_train_forward(xp, x, gamma, beta, axes, epsilon):
    """Normalise x with its own mean and biased variance over `axes`; returns (y, mean, var)
    with mean and var in keepdims shape."""
    axes = _bn_axes(x.ndim, axes)
    mean = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = xp.mean(xp.square(centred), axis=axes, keepdims=True)
    y = centred * (1 / xp.sqrt(var + epsilon)).astype(x.dtype, copy=False)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    dt = x.dtype
    return (y.astype(dt, copy=False), mean.astype(dt, copy=False), var.astype(dt, copy=False))


def batchnorm_train_backward(xp, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon):
    """Exact vector-Jacobian product of batchnorm_train_forward for all three outputs;
    returns (dx, dgamma, dbeta), dgamma and dbeta in keepdims shape."""
    axes = _bn_axes(x.ndim, axes)
    dt = x.dtype
    n = _count(x.shape, axes)
    inv_std = 1 / xp.sqrt(var + epsilon)
    centred = x - mean
    xhat = centred * inv_std
    dbeta = xp.sum(gy, axis=axes, keepdims=True)
    dgamma = xp.sum(gy * xhat, axis=axes, keepdims=True)
    gxhat = gy if gamma is None else gy * gamma
    # y depends on x directly and through mean and var; the last two fold into these two means
    dx = inv_std * (gxhat - xp.mean(gxhat, axis=axes, keepdims=True)
                    - xhat * xp.mean(gxhat * xhat, axis=axes, keepdims=True))
    if gmean is not None:
        dx = dx + gmean / n
    if gvar is not None:
        # d var / dx = 2 (x - mean) / n: the path through mean vanishes since sum(x - mean) = 0
        dx = dx + gvar * (2 / n) * centred
    return (dx.astype(dt, copy=False), dgamma.astype(dt, copy=False),
            dbeta.astype(dt, copy=False))


# ----------------------------------------------------------------------------------- resizing
# (in resize.py; re-exported here, where the other nn kernels are found)
from .resize import (resize_bilinear, resize_bilinear_backprop, resize_nearest,  # noqa: E402,F401
                     resize_nearest_backprop)

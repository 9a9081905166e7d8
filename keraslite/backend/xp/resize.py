"""Upsampling by integer factors of channels-last arrays (N, *spatial, C) of any spatial rank,
written once against an array module `xp` (numpy or cupy): nearest neighbour and TF1 bilinear
(one linear pass per axis), with their gradients."""
from __future__ import annotations


def _factors(factors, ndim):
    f = tuple(int(v) for v in factors)
    if len(f) != ndim - 2 or any(v < 1 for v in f):
        raise ValueError(f"factors must be {ndim - 2} positive ints (one per spatial axis of an array of "
                         f"rank {ndim}), got {factors!r}")
    return f


def resize_nearest(xp, x, factors):
    """Upsample x (N, *spatial, C) by integer factors (one per spatial axis), repeating each cell."""
    f = _factors(factors, x.ndim)
    n, spatial, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    index = (slice(None),) + sum(((slice(None), None) for _ in spatial), ()) + (slice(None),)
    y = xp.broadcast_to(x[index], (n,) + sum(((d, k) for d, k in zip(spatial, f)), ()) + (c,))
    return y.reshape((n,) + tuple(d * k for d, k in zip(spatial, f)) + (c,))


def resize_nearest_backprop(xp, g, factors):
    """Gradient of resize_nearest: the sum over each block of factors cells of g."""
    f = _factors(factors, g.ndim)
    n, spatial, c = g.shape[0], g.shape[1:-1], g.shape[-1]
    if any(d % k for d, k in zip(spatial, f)):
        raise ValueError(f"resize_nearest_backprop: gradient {tuple(g.shape)} is not a multiple "
                         f"of factors {f}")
    blocks = (n,) + sum(((d // k, k) for d, k in zip(spatial, f)), ()) + (c,)
    return g.reshape(blocks).sum(axis=tuple(2 + 2 * a for a in range(len(f)))).astype(g.dtype, copy=False)


def _lerp_weights(xp, factor, dtype):
    """Fractions r / factor, r = 0..factor-1: output index i = s*factor + r samples source s + r/f."""
    return (xp.arange(factor, dtype="float64") / factor).astype(dtype)


def _upsample_axis(xp, x, axis, factor):
    """Linear upsampling of one axis: out[s*f + r] = x[s] + (x[min(s+1, last)] - x[s]) * r/f."""
    size = x.shape[axis]
    nxt = xp.take(x, xp.minimum(xp.arange(size) + 1, size - 1), axis=axis)
    frac = _lerp_weights(xp, factor, x.dtype)
    # a new factor axis right after `axis`, merged with it at the end
    frac = frac.reshape((factor,) + (1,) * (x.ndim - axis - 1))
    a = xp.expand_dims(x, axis + 1)
    y = a + (xp.expand_dims(nxt, axis + 1) - a) * frac
    return y.reshape(x.shape[:axis] + (size * factor,) + x.shape[axis + 1:])


def _upsample_axis_backprop(xp, g, axis, factor):
    """Adjoint of _upsample_axis."""
    size = g.shape[axis] // factor
    blocks = g.reshape(g.shape[:axis] + (size, factor) + g.shape[axis + 1:])
    frac = _lerp_weights(xp, factor, g.dtype).reshape((factor,) + (1,) * (g.ndim - axis - 1))
    to_self = xp.sum(blocks * (1 - frac), axis=axis + 1)
    to_next = xp.sum(blocks * frac, axis=axis + 1)
    # the share that went to s+1 goes back to s+1, except at the last cell, clamped onto itself
    dx = to_self
    idx = [slice(None)] * g.ndim
    idx[axis] = slice(1, None)
    src = [slice(None)] * g.ndim
    src[axis] = slice(0, size - 1)
    dx[tuple(idx)] += to_next[tuple(src)]
    idx[axis] = slice(size - 1, size)
    src[axis] = slice(size - 1, size)
    dx[tuple(idx)] += to_next[tuple(src)]
    return dx


def resize_bilinear(xp, x, factors):
    """TF1 bilinear upsampling (align_corners=False, no half-pixel centres) of x (N, *spatial, C),
    one linear pass per spatial axis: output i samples source i / f, neighbours clamped to the last
    cell (for two axes, TF1's resize_bilinear)."""
    f = _factors(factors, x.ndim)
    y = x
    for axis, k in enumerate(f, start=1):
        y = _upsample_axis(xp, y, axis, k)
    return y.astype(x.dtype, copy=False)


def resize_bilinear_backprop(xp, g, input_shape, factors):
    """Gradient of resize_bilinear; returns dx of `input_shape`."""
    f = _factors(factors, g.ndim)
    input_shape = tuple(int(d) for d in input_shape)
    if tuple(g.shape) != (input_shape[0],) + tuple(d * k for d, k in zip(input_shape[1:-1], f)) + input_shape[-1:]:
        raise ValueError(f"resize_bilinear_backprop: gradient {tuple(g.shape)} does not match "
                         f"input {input_shape} upsampled by {f}")
    dx = g
    for axis, k in reversed(list(enumerate(f, start=1))):
        dx = _upsample_axis_backprop(xp, dx, axis, k)
    return dx.astype(g.dtype, copy=False)

"""NumPy references shared by the convolution property tests (tests/test_k_properties_conv*.py).

One tap loop serves every rank: for each kernel offset, a strided slice of the zero-padded input
is contracted with that offset's kernel slice. 'same' pads as TensorFlow: the total padding
max((out - 1) * stride + extent - size, 0), its smaller half first.
"""
import itertools

import numpy as np
import pytest

from keraslite import backend as K
from k_props import count, run


def geometry(size, k, s, d, padding):
    """(output length, padding before, padding after) of one spatial axis; a length < 1 means
    the window does not fit (the padded axis is shorter than the kernel's extent)."""
    extent = (k - 1) * d + 1
    if padding == "valid":
        return (size - extent) // s + 1 if size >= extent else 0, 0, 0
    out = -(-size // s)
    total = max((out - 1) * s + extent - size, 0)
    return out, total // 2, total - total // 2


def fits(spatial, ks, strides, dilation, padding):
    return all(geometry(n, k, s, d, padding)[0] >= 1 for n, k, s, d in zip(spatial, ks, strides, dilation))


def run_or_refuse(fits, kfn, npfn, arrays, dtype, tol=None):
    """Windows that do not fit (an empty spatial axis included) are a ValueError saying so, raised
    when the graph is built; batch and channel axes of length 0 give empty results."""
    if fits:
        run(kfn, npfn, arrays, dtype, tol=tol)
        return
    count()
    with pytest.raises(ValueError, match="does not fit"):
        kfn(*[K.variable(a, dtype=dtype) for a in arrays])


def conv_ref(x, w, strides, padding, dilation):
    """Channels-last N-d cross-correlation: x (N, *spatial, Cin), w (*k, Cin, Cout)."""
    spatial, ks = x.shape[1:-1], w.shape[:-2]
    geo = [geometry(n, k, s, d, padding) for n, k, s, d in zip(spatial, ks, strides, dilation)]
    xp = np.pad(x, [(0, 0)] + [(b, a) for _, b, a in geo] + [(0, 0)])
    out = np.zeros((x.shape[0],) + tuple(o for o, _, _ in geo) + (w.shape[-1],))
    if 0 in out.shape:
        return out
    for taps in itertools.product(*[range(k) for k in ks]):
        key = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, (o, _, _) in zip(taps, dilation, strides, geo))
        out += np.tensordot(xp[(slice(None),) + key], w[taps], axes=([-1], [0]))
    return out


def first(a, data_format):
    """channels_last array -> the layout of data_format."""
    return a if data_format == "channels_last" else np.moveaxis(a, -1, 1)


def last(a, data_format):
    return a if data_format == "channels_last" else np.moveaxis(a, 1, -1)


def depthwise_ref(x, w, strides, padding, dilation):
    """Output channel c * multiplier + m convolves input channel c with w[..., c, m]."""
    outs = [conv_ref(x[..., c:c + 1], w[..., c:c + 1, :], strides, padding, dilation) for c in range(x.shape[-1])]
    if not outs:
        geo = [geometry(n, k, s, d, padding) for n, k, s, d in zip(x.shape[1:-1], w.shape[:2], strides, dilation)]
        return np.zeros((x.shape[0],) + tuple(o for o, _, _ in geo) + (0,))
    return np.concatenate(outs, axis=-1)


def transpose_ref(x, w, out_spatial, strides, padding, dilation):
    """The adjoint of conv_ref for an input of out_spatial: every input cell scatters its
    kernel-weighted values back to the cells that the convolution read."""
    ks = w.shape[:-2]
    geo = [geometry(n, k, s, d, padding) for n, k, s, d in zip(out_spatial, ks, strides, dilation)]
    padded = [n + b + a for n, (_, b, a) in zip(out_spatial, geo)]
    out = np.zeros((x.shape[0],) + tuple(padded) + (w.shape[-2],))
    for taps in itertools.product(*[range(k) for k in ks]):
        key = tuple(slice(t * d, t * d + (o - 1) * s + 1, s) for t, d, s, (o, _, _) in zip(taps, dilation, strides, geo))
        if all(o > 0 for o, _, _ in geo):
            out[(slice(None),) + key] += np.tensordot(x, w[taps], axes=([-1], [1]))
    crop = tuple(slice(b, b + n) for n, (_, b, _) in zip(out_spatial, geo))
    return out[(slice(None),) + crop]


def pool_ref(x, pool, strides, padding, mode):
    """Channels-last pooling; 'same' windows ignore the padded cells (TensorFlow)."""
    geo = [geometry(n, k, s, 1, padding) for n, k, s in zip(x.shape[1:-1], pool, strides)]
    xp = np.pad(x, [(0, 0)] + [(b, a) for _, b, a in geo] + [(0, 0)], constant_values=np.nan)
    shape = (x.shape[0],) + tuple(o for o, _, _ in geo) + (x.shape[-1],)
    if 0 in shape:
        return np.zeros(shape)
    wins = [xp[(slice(None),) + tuple(slice(t, t + (o - 1) * s + 1, s) for t, s, (o, _, _) in zip(taps, strides, geo))]
            for taps in itertools.product(*[range(k) for k in pool])]
    stack = np.stack(wins)
    return np.nanmax(stack, axis=0) if mode == "max" else np.nanmean(stack, axis=0)

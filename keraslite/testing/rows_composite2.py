"""More composite K rows: clipping math, local and separable 1-D convolutions, slicing, folds
from the right, variable updates and *_like tensors."""
from __future__ import annotations

import numpy as np

from ..backend.graph import Variable
from . import references as R
from .opinfo import OpInfo, Sample, away_from, uniform

LOOSE = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}


def _K():
    from .. import backend as K
    return K


def _local1d_ref(x, kernel, kernel_size, strides):
    k, s = kernel_size[0], strides[0]
    out = [x[:, i * s:i * s + k, :].reshape(x.shape[0], -1) @ kernel[i] for i in range(kernel.shape[0])]
    return np.stack(out, axis=1)


def _local1d_samples(rng, dtype):
    out = []
    for n, steps, cin, k, s, f in [(2, 5, 2, 2, 1, 3), (1, 6, 1, 3, 2, 2)]:
        length = (steps - k) // s + 1
        out.append(Sample((uniform(rng, (n, steps, cin), dtype), uniform(rng, (length, k * cin, f), dtype)),
                          {"kernel_size": (k,), "strides": (s,)}))
    return out


def _local2d_ref(x, kernel, kernel_size, strides, output_shape):
    (kh, kw), (sh, sw), (oh, ow) = kernel_size, strides, output_shape
    y = np.zeros((x.shape[0], oh, ow, kernel.shape[-1]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :].reshape(x.shape[0], -1)
            y[:, i, j, :] = patch @ kernel[i * ow + j]
    return y


def _local2d_samples(rng, dtype):
    out = []
    for n, h, w, cin, (kh, kw), (sh, sw), f in [(1, 4, 3, 2, (2, 2), (1, 1), 2), (2, 5, 5, 1, (3, 2), (2, 3), 1)]:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        out.append(Sample((uniform(rng, (n, h, w, cin), dtype), uniform(rng, (oh * ow, kh * kw * cin, f), dtype)),
                          {"kernel_size": (kh, kw), "strides": (sh, sw), "output_shape": (oh, ow)}))
    return out


def _sep1d_ref(x, dk, pk, **kw):
    kw2 = {"strides": (1, kw["strides"]), "padding": kw["padding"], "dilation_rate": (1, kw.get("dilation_rate", 1))}
    y = R.separable_conv2d(x[:, None], dk[None], pk[None], data_format="channels_last", **kw2)
    return y[:, 0]


def _sep1d_samples(rng, dtype):
    return [Sample((uniform(rng, (2, 6, 2), dtype), uniform(rng, (3, 2, 2), dtype), uniform(rng, (1, 4, 3), dtype)),
                   {"strides": 1, "padding": "valid"}),
            Sample((uniform(rng, (1, 5, 1), dtype), uniform(rng, (2, 1, 3), dtype), uniform(rng, (1, 3, 2), dtype)),
                   {"strides": 2, "padding": "same"})]


def _foldr(x):
    K = _K()
    return K.foldr(lambda acc, e: acc * 0.5 + e, x)


def _foldr_ref(x):
    acc = x[-1]
    for e in x[-2::-1]:
        acc = acc * 0.5 + e
    return acc


def _update(kname):
    def fn(inc):
        var = Variable(np.ones(inc.shape, dtype=inc.dtype))
        return getattr(_K(), kname)(var, inc)
    return fn


def rows() -> list:
    """The rows of this module."""
    K = _K()
    u = uniform
    t = []

    def add(name, fn, ref, samples, **kw):
        kw.setdefault("tol", LOOSE)
        t.append(OpInfo("K." + name, fn, ref, samples, primitive=False, **kw))

    add("sqrt", lambda x: K.sqrt(x), lambda x: np.sqrt(np.maximum(x, 0)),
        lambda rng, d: [Sample((away_from(rng, s, d, (0.0,), 0.2),)) for s in [(3, 4), (0, 2)]], differentiable=True)
    add("local_conv1d", lambda x, k, **kw: K.local_conv1d(x, k, data_format="channels_last", **kw), _local1d_ref,
        _local1d_samples, differentiable=True, batch_args=(0,))
    add("local_conv2d", lambda x, k, **kw: K.local_conv2d(x, k, data_format="channels_last", **kw), _local2d_ref,
        _local2d_samples, differentiable=True, batch_args=(0,))
    add("separable_conv1d", lambda x, dk, pk, **kw: K.separable_conv1d(x, dk, pk, data_format="channels_last", **kw),
        _sep1d_ref, _sep1d_samples, differentiable=True, batch_args=(0,))
    add("slice", lambda x, start, size: K.slice(x, start, size),
        lambda x, start, size: x[tuple(slice(b, None if n == -1 else b + n) for b, n in zip(start, size))],
        lambda rng, d: [Sample((u(rng, (4, 5), d),), {"start": (1, 0), "size": (2, -1)}),
                        Sample((u(rng, (3, 2, 2), d),), {"start": (0, 1, 0), "size": (0, 1, 2)})],
        differentiable=True, dynamic_batch=False)
    add("foldr", _foldr, _foldr_ref, lambda rng, d: [Sample((u(rng, s, d),)) for s in [(4, 3), (1, 2)]],
        differentiable=True, dynamic_batch=False)
    add("update_add", _update("update_add"), lambda inc: 1.0 + inc,
        lambda rng, d: [Sample((u(rng, (2, 3), d),))], dynamic_batch=False)
    add("update_sub", _update("update_sub"), lambda inc: 1.0 - inc,
        lambda rng, d: [Sample((u(rng, (2, 3), d),))], dynamic_batch=False)
    add("ones_like", lambda x: K.ones_like(x) * 1.0, lambda x: np.ones(x.shape, dtype="float32"),
        lambda rng, d: [Sample((u(rng, s, d),)) for s in [(2, 3), (0, 2)]])
    add("zeros_like", lambda x: K.zeros_like(x) + 0.0, lambda x: np.zeros(x.shape, dtype="float32"),
        lambda rng, d: [Sample((u(rng, s, d),)) for s in [(2, 3), (1,)]])
    return t

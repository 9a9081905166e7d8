"""Rows for composite K functions: Keras 2 backend functions built from several primitives
(activations, losses, normalisation, convolution variants, padding, control flow). Keyed 'K.<name>'."""
from __future__ import annotations

import numpy as np

from . import references as R
from .opinfo import TOLERANCES, OpInfo, Sample, away_from, distinct, uniform
from .rows_nn import ctc_nll

CL, CF = "channels_last", "channels_first"
LOOSE = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}


def _K():
    from .. import backend as K
    return K


def _k(name, **fixed):
    def fn(*ts, **kw):
        return getattr(_K(), name)(*ts, **fixed, **kw)
    fn.__name__ = name
    return fn


def _one(shapes, gen=uniform, **kw):
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),), dict(k)) for s, k in shapes]
    return samples


def _probs(rng, shape, dtype):
    p = rng.random(shape) + 0.05
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def _cce_samples(rng, dtype):
    out = []
    for shape, logits in [((3, 4), False), ((2, 2, 3), True), ((1, 1), False)]:
        target = _probs(rng, shape, dtype)
        pred = uniform(rng, shape, dtype, -2, 2) if logits else _probs(rng, shape, dtype)
        out.append(Sample((target, pred), {"from_logits": logits}))
    return out


def _scce_samples(rng, dtype):
    out = []
    for n, c, logits in [(4, 3, False), (2, 5, True)]:
        target = rng.integers(0, c, size=(n,)).astype(dtype)
        pred = uniform(rng, (n, c), dtype, -2, 2) if logits else _probs(rng, (n, c), dtype)
        out.append(Sample((target, pred), {"from_logits": logits}))
    return out


def _bce_samples(rng, dtype):
    return [Sample((uniform(rng, (3, 2), dtype, 0, 1), uniform(rng, (3, 2), dtype, 0.05, 0.95)), {"from_logits": False}),
            Sample((uniform(rng, (4,), dtype, 0, 1), uniform(rng, (4,), dtype, -3, 3)), {"from_logits": True})]


def _in_top_k_samples(rng, dtype):
    return [Sample((distinct(rng, (4, 5), dtype), np.array([0, 3, 4, 1], dtype="int32")), {"k": k}) for k in (1, 3)]


def _bias_samples(rng, dtype):
    return [Sample((uniform(rng, xs, dtype), uniform(rng, bs, dtype)), {"data_format": f}) for xs, bs, f in
            [((2, 3), (3,), CL), ((2, 3, 4), (4,), CL), ((2, 3, 2, 2), (3,), CF), ((1, 2, 2, 3), (2, 2, 3), CL)]]


def _bn_samples(rng, dtype):
    out = []
    for xs, axis in [((4, 3), -1), ((2, 3, 2), 1)]:
        c = xs[axis]
        out.append(Sample((uniform(rng, xs, dtype), uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 1.5),
                           uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 1.5)), {"axis": axis}))
    return out


def _conv_cases(cases):
    def samples(rng, dtype):
        return [Sample(tuple(uniform(rng, s, dtype) for s in shapes), kw) for shapes, kw in cases]
    return samples


_CONV1D = [(((2, 5, 2), (3, 2, 3)), {"strides": 1, "padding": "valid"}),
           (((1, 6, 1), (2, 1, 2)), {"strides": 2, "padding": "same"}),
           (((1, 5, 2), (2, 2, 1)), {"strides": 1, "padding": "causal", "dilation_rate": 2})]
_CONV2D_CF = [(((1, 2, 4, 3), (2, 2, 2, 3)), {"strides": (1, 1), "padding": "same", "data_format": CF})]
_DEPTHWISE = [(((1, 4, 4, 2), (2, 2, 2, 2)), {"strides": (1, 1), "padding": "valid"}),
              (((2, 3, 5, 1), (3, 2, 1, 3)), {"strides": (2, 1), "padding": "same"})]
_SEPARABLE = [(((1, 4, 4, 2), (2, 2, 2, 2), (1, 1, 4, 3)), {"strides": (1, 1), "padding": "valid"}),
              (((1, 3, 3, 1), (2, 2, 1, 2), (1, 1, 2, 2)), {"strides": (2, 2), "padding": "same"})]


def _ctc_cost_samples(rng, dtype):
    out = []
    for n, t, c, lens in [(2, 5, 4, [2, 1]), (1, 4, 3, [2])]:
        probs = _probs(rng, (n, t, c), dtype)
        labels = rng.integers(0, c - 1, size=(n, max(lens))).astype("int32")
        out.append(Sample((labels, probs, np.full((n, 1), t, dtype="int32"), np.array(lens, dtype="int32")[:, None])))
    return out


def _ctc_cost_ref(labels, probs, il, ll):
    z = np.log(np.asarray(probs, np.float64) + 1e-7)
    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return ctc_nll(lp, labels, il[:, 0], ll[:, 0])[:, None]


def _rnn(x, h0):
    K = _K()

    def step(x_t, states):
        h = K.tanh(states[0] * 0.5 + x_t)
        return h, [h]
    last, outputs, states = K.rnn(step, x, [h0])
    return last, outputs, states[0]


def _rnn_ref(x, h0):
    h, outs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(h * 0.5 + x[:, t])
        outs.append(h)
    return h, np.stack(outs, axis=1), h


def _foldl(x):
    K = _K()
    return K.foldl(lambda acc, e: acc * 0.5 + e, x, initializer=K.zeros_like(x[0]))


def _foldl_ref(x):
    acc = np.zeros_like(x[0])
    for e in x:
        acc = acc * 0.5 + e
    return acc


def _dropout_check(outs, sample, dtype):
    x, y = np.asarray(sample.args[0], np.float64), np.asarray(outs[0], np.float64)
    kept = y != 0
    assert y.shape == x.shape, f"shape {y.shape}"
    np.testing.assert_allclose(y[kept], x[kept] / 0.75, rtol=TOLERANCES[np.dtype(dtype).name][0])
    assert abs((~kept).mean() - 0.25) < 0.06, f"dropped fraction {(~kept).mean():.3f}, expected 0.25"


def _logsumexp_ref(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def rows() -> list:
    """The rows of this module."""
    K = _K()
    u = uniform
    t = []

    def add(name, fn, ref, samples, **kw):
        kw.setdefault("tol", LOOSE)
        t.append(OpInfo("K." + name, fn, ref, samples, primitive=False, **kw))

    act_shapes = [((2, 3), {}), ((0, 4), {}), ((1,), {})]
    add("relu", _k("relu"), R.relu, _one([((2, 5), {"alpha": 0.1, "max_value": 1.0}), ((0, 3), {}),
                                          ((4,), {"threshold": 0.5})], lambda r, s, d: away_from(r, s, d, (0.0, 0.5, 1.0))),
        differentiable=True)
    add("elu", _k("elu"), R.elu, _one([((2, 3), {"alpha": 0.7}), ((0, 2), {})], lambda r, s, d: away_from(r, s, d)),
        differentiable=True)
    add("selu", _k("selu"), R.selu, _one(act_shapes, lambda r, s, d: away_from(r, s, d)), differentiable=True)
    add("softsign", _k("softsign"), R.softsign, _one(act_shapes), differentiable=True)
    add("hard_sigmoid", _k("hard_sigmoid"), R.hard_sigmoid,
        _one(act_shapes, lambda r, s, d: away_from(r, s, d, (-2.5, 2.5), 0.1, -4, 4)), differentiable=True)
    add("categorical_crossentropy", _k("categorical_crossentropy"), R.categorical_crossentropy, _cce_samples,
        differentiable=True, grad_args=(1,))
    add("sparse_categorical_crossentropy", _k("sparse_categorical_crossentropy"), R.sparse_categorical_crossentropy,
        _scce_samples, differentiable=True, grad_args=(1,))
    add("binary_crossentropy", _k("binary_crossentropy"), R.binary_crossentropy, _bce_samples,
        differentiable=True, grad_args=(1,))
    add("l2_normalize", _k("l2_normalize"), R.l2_normalize, _one([((3, 4), {"axis": -1}), ((2, 3), {"axis": 0})]),
        differentiable=True)
    add("in_top_k", _k("in_top_k"), R.in_top_k, _in_top_k_samples, dynamic_batch=False)
    add("bias_add", _k("bias_add"), R.bias_add, _bias_samples, differentiable=True, batch_args=(0,))
    add("batch_normalization", lambda x, m, v, b, g, axis: K.batch_normalization(x, m, v, b, g, axis=axis, epsilon=1e-3),
        lambda x, m, v, b, g, axis: R.batch_normalization(x, m, v, b, g, axis=axis, epsilon=1e-3), _bn_samples,
        differentiable=True, batch_args=(0,))
    add("conv1d", _k("conv1d", data_format=CL), lambda x, k, **kw: R.conv1d(x, k, data_format=CL, **kw),
        _conv_cases(_CONV1D), differentiable=True, batch_args=(0,))
    add("conv2d(channels_first)", _k("conv2d"), R.conv2d, _conv_cases(_CONV2D_CF), differentiable=True, batch_args=(0,))
    add("depthwise_conv2d", _k("depthwise_conv2d", data_format=CL),
        lambda x, k, **kw: R.depthwise_conv2d(x, k, data_format=CL, **kw), _conv_cases(_DEPTHWISE),
        differentiable=True, batch_args=(0,))
    add("separable_conv2d", _k("separable_conv2d", data_format=CL),
        lambda x, d, p, **kw: R.separable_conv2d(x, d, p, data_format=CL, **kw), _conv_cases(_SEPARABLE),
        differentiable=True, batch_args=(0,))
    add("pool2d(channels_first, avg)", _k("pool2d", data_format=CF, pool_mode="avg"),
        lambda x, **kw: R.pool2d(x, data_format=CF, pool_mode="avg", **kw),
        _one([((1, 2, 5, 4), {"pool_size": (2, 3), "strides": (2, 2), "padding": "same"})]), differentiable=True)
    add("spatial_2d_padding", _k("spatial_2d_padding"), R.spatial_2d_padding,
        _one([((1, 2, 3, 2), {"padding": ((1, 0), (2, 1))}), ((1, 2, 1, 2), {"padding": ((0, 1), (1, 1)), "data_format": CF})]),
        differentiable=True)
    add("temporal_padding", _k("temporal_padding"), R.temporal_padding, _one([((2, 3, 2), {"padding": (1, 2)})]),
        differentiable=True)
    add("spatial_3d_padding", _k("spatial_3d_padding"), R.spatial_3d_padding,
        _one([((1, 2, 1, 2, 1), {"padding": ((1, 0), (0, 1), (1, 1))})]), differentiable=True)
    add("resize_volumes", _k("resize_volumes", data_format=CL), lambda x, **kw: R.resize_volumes(x, data_format=CL, **kw),
        _one([((1, 2, 1, 2, 2), {"depth_factor": 2, "height_factor": 1, "width_factor": 3})]), differentiable=True)
    add("logsumexp", _k("logsumexp"), _logsumexp_ref,
        _one([((3, 4), {"axis": -1, "keepdims": False}), ((2, 3), {"axis": 0, "keepdims": True})]), differentiable=True)
    add("std", _k("std"), lambda x, axis, keepdims: np.std(x, axis=axis, keepdims=keepdims),
        _one([((3, 4), {"axis": -1, "keepdims": False}), ((2, 3, 2), {"axis": None, "keepdims": True})]),
        differentiable=True)
    add("var", _k("var"), lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims),
        _one([((3, 4), {"axis": 1, "keepdims": True}), ((0, 3), {"axis": 1, "keepdims": False})]), differentiable=True)
    add("clip", _k("clip"), lambda x, min_value, max_value: np.clip(x, min_value, max_value),
        _one([((3, 4), {"min_value": -0.5, "max_value": 0.5}), ((0, 2), {"min_value": 0.0, "max_value": 1.0})],
             lambda r, s, d: away_from(r, s, d, (-0.5, 0.0, 0.5, 1.0), 0.05)), differentiable=True)
    add("batch_flatten", _k("batch_flatten"), lambda x: x.reshape(x.shape[0], int(np.prod(x.shape[1:]))),
        _one([((2, 3, 2), {}), ((1, 1), {}), ((0, 2, 2), {})]), differentiable=True)
    add("flatten", _k("flatten"), lambda x: x.reshape(-1), _one([((2, 3, 2), {}), ((0, 2), {})]), differentiable=True)
    add("dot(N-D)", _k("dot"), np.dot, lambda rng, d: [Sample((u(rng, (2, 3, 4), d), u(rng, (4, 2), d))),
                                                        Sample((u(rng, (3,), d), u(rng, (3, 2), d)))],
        differentiable=True, batch_args=(0,))
    add("batch_dot(axes)", _k("batch_dot"), lambda x, y, axes: np.sum(x * y, axis=axes[0])[:, None],
        lambda rng, d: [Sample((u(rng, (3, 4), d), u(rng, (3, 4), d)), {"axes": (1, 1)})], differentiable=True)
    add("switch", _k("switch"), lambda c, a, b: np.where(c, a, b),
        lambda rng, d: [Sample((rng.random((2, 3)) < 0.5, u(rng, (2, 3), d), u(rng, (2, 3), d)))],
        differentiable=True, grad_args=(1, 2))
    add("stack", lambda a, b, axis: K.stack([a, b], axis=axis), lambda a, b, axis: np.stack([a, b], axis=axis),
        lambda rng, d: [Sample((u(rng, (2, 3), d), u(rng, (2, 3), d)), {"axis": ax}) for ax in (0, -1)],
        differentiable=True)
    add("repeat", _k("repeat"), lambda x, n: np.repeat(x[:, None, :], n, axis=1), _one([((2, 3), {"n": 3})]),
        differentiable=True)
    add("pow", _k("pow"), lambda x, a: np.power(x, a), _one([((2, 3), {"a": 3}), ((4,), {"a": 0.5})],
                                                          lambda r, s, d: u(r, s, d, 0.2, 2.0)), differentiable=True)
    add("ctc_batch_cost", _k("ctc_batch_cost"), _ctc_cost_ref, _ctc_cost_samples, differentiable=True,
        grad_args=(1,), dynamic_batch=False)
    add("rnn", _rnn, _rnn_ref, lambda rng, d: [Sample((u(rng, (2, 4, 3), d), u(rng, (2, 3), d)))],
        differentiable=True, dynamic_batch=False)
    add("foldl", _foldl, _foldl_ref, _one([((4, 3), {}), ((1, 2), {})]), differentiable=True, dynamic_batch=False)
    add("dropout", lambda x: K.dropout(x, 0.25, seed=11), None,
        lambda rng, d: [Sample((u(rng, (40, 50), d, 0.5, 1.5),))], check=_dropout_check, fused=False)
    return t

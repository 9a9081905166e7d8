"""Rows for the neural-network primitives: convolution, pooling, resizing (and their backprops),
softmax, batch norm, CTC and random draws."""
from __future__ import annotations

import itertools

import numpy as np

from ..backend.graph import apply
from . import references as R
from .opinfo import OpInfo, Sample, distinct, uniform

CL = "channels_last"


def _K():
    from .. import backend as K
    return K


def _grad_fn(forward, wrt):
    """fn(*inputs, g, **kw) = d/d inputs[wrt] of sum(forward(*inputs, **kw) * g)."""
    def fn(*ts, **kw):
        K = _K()
        *xs, g = ts
        return K.gradients(K.sum(forward(*xs, **kw) * g), [xs[wrt]])[0]
    return fn


def adjoint(linear, args, wrt, g, **kw):
    """J^T g for a function `linear` (a NumPy reference) linear in args[wrt]: column by column
    on the unit vectors (so the backprop rows need no formula beyond the forward one)."""
    x = np.asarray(args[wrt], dtype=np.float64)
    out = np.zeros(x.shape)
    for i in range(x.size):
        e = np.zeros(x.shape)
        e.flat[i] = 1.0
        a = list(args)
        a[wrt] = e
        out.flat[i] = np.sum(np.asarray(linear(*a, **kw), dtype=np.float64) * g)
    return out


# ------------------------------------------------------------------------------------ conv
# The conv, pool and resize primitives are rank-generic: each row's samples cover 1, 2 and 3
# spatial axes (rank = x.ndim - 2), built through the K function of that rank where Keras has one.

_CONV1D = [((1, 6, 2), (3, 2, 3), {"strides": (1,), "padding": "valid", "dilation_rate": (1,)}),
           ((2, 7, 1), (2, 1, 2), {"strides": (2,), "padding": "same", "dilation_rate": (1,)}),
           ((1, 7, 2), (2, 2, 1), {"strides": (1,), "padding": "valid", "dilation_rate": (2,)}),
           ((0, 3, 1), (2, 1, 2), {"strides": (1,), "padding": "valid", "dilation_rate": (1,)})]
_CONV2D = [((1, 4, 4, 2), (2, 2, 2, 3), {"strides": (1, 1), "padding": "valid", "dilation_rate": (1, 1)}),
           ((2, 5, 4, 1), (3, 3, 1, 2), {"strides": (2, 2), "padding": "same", "dilation_rate": (1, 1)}),
           ((1, 5, 5, 2), (2, 2, 2, 1), {"strides": (1, 1), "padding": "valid", "dilation_rate": (2, 2)}),
           ((1, 1, 3, 2), (1, 1, 2, 2), {"strides": (1, 1), "padding": "same", "dilation_rate": (1, 1)}),
           ((0, 3, 3, 1), (2, 2, 1, 2), {"strides": (1, 1), "padding": "valid", "dilation_rate": (1, 1)})]
_CONV3D = [((1, 3, 3, 3, 2), (2, 2, 2, 2, 2), {"strides": (1, 1, 1), "padding": "valid"}),
           ((1, 3, 4, 2, 1), (2, 3, 1, 1, 2), {"strides": (2, 1, 1), "padding": "same"}),
           ((0, 2, 2, 2, 1), (1, 1, 1, 1, 1), {"strides": (1, 1, 1), "padding": "valid"})]
_CONV_ALL = _CONV1D + _CONV2D + _CONV3D


def _conv_k(x, k, **kw):
    """The K convolution of x's rank (K.conv1d, conv2d or conv3d), channels_last."""
    K = _K()
    from ..backend.ops.conv import conv1d
    return {3: conv1d, 4: K.conv2d, 5: K.conv3d}[x.ndim](x, k, data_format=CL, **kw)


def _conv_r(x, k, **kw):
    """The NumPy reference convolution of x's rank."""
    return {3: R.conv1d, 4: R.conv2d, 5: R.conv3d}[np.ndim(x)](x, k, data_format=CL, **kw)


def _conv_samples(cases, grad=False, small=False):
    def samples(rng, dtype):
        out = []
        for rank in (1, 2, 3):
            of_rank = [c for c in cases if len(c[0]) == rank + 2]
            for xs, ks, kw in of_rank[:3] if small else of_rank:
                x, k = uniform(rng, xs, dtype), uniform(rng, ks, dtype)
                if grad:
                    out.append(Sample((x, k, uniform(rng, _conv_r(x, k, **kw).shape, dtype)), kw))
                else:
                    out.append(Sample((x, k), kw))
        return out
    return samples


def _transpose_samples(rng, dtype):
    out = []
    for xs, ks, kw in _CONV_ALL:
        if kw.get("dilation_rate", (1,))[0] != 1 or kw.get("dilation_rate", (1, 1))[-1] != 1:
            continue
        if len(xs) == 5:  # K.conv3d_transpose has no dilation_rate
            kw = {k: v for k, v in kw.items() if k != "dilation_rate"}
        y = np.zeros(_conv_r(np.zeros(xs), np.zeros(ks), **kw).shape)
        kt = ks  # the transposed kernel (..., out, in) is the forward one (..., in, out)
        out.append(Sample((uniform(rng, y.shape, dtype), uniform(rng, kt, dtype)), dict(kw, output_shape=xs)))
    return out


def _conv_transpose(y, k, output_shape, **kw):
    """K.conv2d_transpose / conv3d_transpose; rank 1 (Keras has no K function) the primitive itself."""
    K = _K()
    if len(output_shape) == 3:
        from ..backend.ops._conv_common import _pads
        strides, dilation = tuple(kw["strides"]), tuple(kw.get("dilation_rate", (1,)))
        pads = _pads(kw["padding"], tuple(output_shape[1:2]), tuple(k.shape[:1]), strides, dilation, "conv1d")
        return apply("conv_backprop_input", y, k, input_shape=tuple(output_shape[1:]), strides=strides,
                     padding=pads, dilation=dilation, groups=1)
    f = K.conv2d_transpose if len(output_shape) == 4 else K.conv3d_transpose
    return f(y, k, output_shape, data_format=CL, **kw)


def _conv_transpose_ref(y, k, output_shape, **kw):
    if len(output_shape) == 3:  # the adjoint of the 1-D convolution in its input
        return adjoint(lambda x_: R.conv1d(x_, k, data_format=CL, **kw), (np.zeros(output_shape),), 0,
                       np.asarray(y, np.float64))
    f = R.conv2d_transpose if len(output_shape) == 4 else R.conv3d_transpose
    return f(y, k, output_shape, data_format=CL, **kw)


def _filter_grad_ref(x, k, g, **kw):
    return adjoint(lambda x_, k_: _conv_r(x_, k_, **kw), (x, k), 1, g)


# ---------------------------------------------------------------------------------- pooling

_POOL1D = [((1, 6, 2), {"pool_size": (2,), "strides": (2,), "padding": "valid"}),
           ((2, 5, 1), {"pool_size": (3,), "strides": (2,), "padding": "same"}),
           ((1, 5, 1), {"pool_size": (2,), "strides": (2,), "padding": "same"})]
_POOL2D = [((1, 4, 4, 2), {"pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}),
           ((2, 5, 3, 1), {"pool_size": (3, 2), "strides": (2, 1), "padding": "same"}),
           ((1, 1, 1, 3), {"pool_size": (1, 1), "strides": (1, 1), "padding": "valid"}),
           ((0, 2, 2, 1), {"pool_size": (2, 2), "strides": (1, 1), "padding": "valid"})]
_POOL3D = [((1, 4, 2, 2, 2), {"pool_size": (2, 2, 2), "strides": (2, 2, 2), "padding": "valid"}),
           ((1, 3, 3, 2, 1), {"pool_size": (2, 2, 1), "strides": (2, 2, 1), "padding": "same"})]
_POOL_ALL = _POOL1D + _POOL2D + _POOL3D


def _pool_r(x, mode, **kw):
    """The NumPy reference pooling of x's rank (rank 1 as rank 2 over a unit axis)."""
    if np.ndim(x) == 3:
        kw = {k: (1,) + tuple(v) if k != "padding" else v for k, v in kw.items()}
        return R.pool2d(np.asarray(x)[:, None], data_format=CL, pool_mode=mode, **kw)[:, 0]
    return (R.pool2d if np.ndim(x) == 4 else R.pool3d)(x, data_format=CL, pool_mode=mode, **kw)


def _pool_samples(cases, grad=False):
    def samples(rng, dtype):
        out = []
        for mode, (xs, kw) in cases:
            x = distinct(rng, xs, dtype)
            if grad:
                out.append(Sample((x, uniform(rng, _pool_r(x, mode, **kw).shape, dtype)), dict(kw, mode=mode)))
            else:
                out.append(Sample((x,), dict(kw, mode=mode)))
        return out
    return samples


def _pool_k(x, mode, **kw):
    """The K pooling of x's rank (pool1d, K.pool2d or K.pool3d), channels_last."""
    K = _K()
    from ..backend.ops.conv import pool1d
    return {3: pool1d, 4: K.pool2d, 5: K.pool3d}[x.ndim](x, data_format=CL, pool_mode=mode, **kw)


def _pool_bp_ref(x, g, mode, **kw):
    if mode == "max":
        return max_pool_backprop_ref(x, g, **kw)
    return adjoint(lambda x_: _pool_r(x_, "avg", **kw), (x,), 0, g)


def _pool_grad(x, g, mode, **kw):
    K = _K()
    return K.gradients(K.sum(_pool_k(x, mode, **kw) * g), [x])[0]


def max_pool_backprop_ref(x, g, pool_size, strides, padding):
    """Each output cell's gradient goes to the (unique) largest real cell of its window."""
    spatial = x.shape[1:-1]
    geo = [R.out_and_pads(n, k, s, 1, padding) for n, k, s in zip(spatial, pool_size, strides)]
    dx = np.zeros(x.shape)
    for out_idx in itertools.product(*[range(o) for o, _, _ in geo]):
        ranges = [range(max(i * s - pb, 0), min(i * s - pb + k, n))
                  for i, s, (_, pb, _), k, n in zip(out_idx, strides, geo, pool_size, spatial)]
        cells = list(itertools.product(*ranges))
        for b in range(x.shape[0]):
            for c in range(x.shape[-1]):
                vals = [x[(b,) + cell + (c,)] for cell in cells]
                best = cells[int(np.argmax(vals))]
                dx[(b,) + best + (c,)] += g[(b,) + out_idx + (c,)]
    return dx


# ----------------------------------------------------------------------------------- resize

_RESIZE = [((1, 3, 2), (2,)), ((2, 2, 1), (3,)),
           ((1, 2, 3, 2), (2, 3)), ((2, 1, 1, 1), (3, 2)), ((1, 3, 2, 1), (1, 2)),
           ((1, 2, 2, 3, 1), (2, 1, 2)), ((1, 1, 2, 2, 2), (3, 2, 1))]


def _resize_samples(grad=False):
    def samples(rng, dtype):
        out = []
        for method in ("nearest", "bilinear"):
            for xs, factors in _RESIZE:
                x = uniform(rng, xs, dtype)
                ys = (xs[0],) + tuple(d * f for d, f in zip(xs[1:-1], factors)) + (xs[-1],)
                args = (x, uniform(rng, ys, dtype)) if grad else (x,)
                out.append(Sample(args, {"method": method, "factors": factors}))
        return out
    return samples


def _resize(x, method, factors):
    """K.resize_images for two spatial axes; the primitive itself for one and three (K's
    resize_volumes is nearest-only and repeats elements)."""
    if x.ndim == 4:
        return _K().resize_images(x, factors[0], factors[1], CL, interpolation=method)
    from ..backend.ops.spatial import resize
    return resize(x, method, factors)


def _resize_ref(x, method, factors):
    """R.resize_images on pairs of axes: rank 1 as (1, L), rank 3 as (D, H) then (H, W)."""
    x = np.asarray(x, np.float64)
    if x.ndim == 3:
        return R.resize_images(x[:, None], 1, factors[0], CL, interpolation=method)[:, 0]
    if x.ndim == 4:
        return R.resize_images(x, factors[0], factors[1], CL, interpolation=method)
    n, d, h, w, c = x.shape
    fd, fh, fw = factors
    y = R.resize_images(x.reshape(n, d, h, w * c), fd, fh, CL, interpolation=method)  # (n, d*fd, h*fh, w*c)
    y = y.reshape(n * d * fd, h * fh, w, c)
    y = R.resize_images(y, 1, fw, CL, interpolation=method)                           # W, with H by 1
    return y.reshape(n, d * fd, h * fh, w * fw, c)


def _resize_bp_ref(x, g, method, factors):
    return adjoint(lambda x_: _resize_ref(x_, method, factors), (x,), 0, g)


def _resize_grad(x, g, method, factors):
    K = _K()
    return K.gradients(K.sum(_resize(x, method, factors) * g), [x])[0]


# ------------------------------------------------------------------------- softmax, batchnorm

def _softmax_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype, -3, 3),), {"axis": a}) for s, a in [((2, 5), -1), ((3, 2, 4), 1), ((1, 1), -1), ((0, 3), -1)]]


def _ce_grad_samples(rng, dtype):
    """Per-sample gradients, targets and probabilities inside the clip range (the gradient check
    must not step across a bound; tests/test_crossentropy_grad.py covers clipped entries)."""
    out = []
    for (shape, axis), softmax in itertools.product([((5, 4), 1), ((2, 3, 5), 2), ((3, 4, 2), 1), ((0, 3), 1),
                                                     ((2, 1), 1)], (False, True)):
        kept = shape[:axis] + shape[axis + 1:]
        out.append(Sample((uniform(rng, kept, dtype, -2, 2), uniform(rng, shape, dtype, 0, 1),
                           uniform(rng, shape, dtype, 0.1, 1)), {"axis": axis, "softmax": softmax}))
    return out


def _ce_grad(g, target, output, axis, softmax):
    return apply("categorical_crossentropy_grad", g, target, output, axis=axis, eps=1e-7, softmax=softmax)


def _bn_samples(rng, dtype):
    out = []
    for xs, axes in [((5, 3), [0]), ((2, 3, 2, 2), [0, 1, 2])]:
        kept = tuple(d for i, d in enumerate(xs) if i not in axes)
        out.append(Sample((uniform(rng, xs, dtype, -2, 2), uniform(rng, kept, dtype, 0.5, 1.5),
                           uniform(rng, kept, dtype)), {"axes": axes}))
    return out


def _bn(x, gamma, beta, axes):
    return _K().normalize_batch_in_training(x, gamma, beta, axes, epsilon=1e-3)


def _bn_ref(x, gamma, beta, axes):
    return R.normalize_batch_in_training(x, gamma, beta, axes, epsilon=1e-3)


def _bn_backward_samples(rng, dtype):
    return [Sample(s.args + (uniform(rng, s.args[0].shape, dtype),), s.kwargs) for s in _bn_samples(rng, dtype)]


def _bn_backward(x, gamma, beta, gy, axes):
    K = _K()
    normed, _, _ = _bn(x, gamma, beta, axes)
    return tuple(K.gradients(K.sum(normed * gy), [x, gamma, beta]))


def _bn_backward_ref(x, gamma, beta, gy, axes):
    """The batch-norm backward formula (population variance, epsilon 1e-3)."""
    x, gy = np.asarray(x, np.float64), np.asarray(gy, np.float64)
    ax = tuple(axes)
    mu = x.mean(axis=ax, keepdims=True)
    inv = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=ax, keepdims=True) + 1e-3)
    xhat = (x - mu) * inv
    g = np.asarray(gamma, np.float64).reshape(mu.shape)
    dx = g * inv * (gy - gy.mean(axis=ax, keepdims=True) - xhat * (gy * xhat).mean(axis=ax, keepdims=True))
    return dx, (gy * xhat).sum(axis=ax).reshape(gamma.shape), gy.sum(axis=ax).reshape(beta.shape)


# ---------------------------------------------------------------------------------------- CTC

def ctc_nll(lp, labels, il, ll):
    """-log p(labels | lp) per sample by the CTC forward recursion (blank = last class)."""
    out = np.zeros(lp.shape[0])
    blank = lp.shape[-1] - 1
    for n in range(lp.shape[0]):
        lab = list(labels[n, :ll[n]])
        ext = [blank]
        for c in lab:
            ext += [int(c), blank]
        S, T = len(ext), int(il[n])
        a = np.full(S, -np.inf)
        a[0] = lp[n, 0, blank]
        if S > 1:
            a[1] = lp[n, 0, ext[1]]
        for t in range(1, T):
            prev = a.copy()
            for s in range(S):
                terms = [prev[s]] + ([prev[s - 1]] if s >= 1 else [])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    terms.append(prev[s - 2])
                a[s] = np.logaddexp.reduce(terms) + lp[n, t, ext[s]]
        out[n] = -np.logaddexp.reduce(a[-2:] if S > 1 else a[-1:])
    return out


def _ctc_samples(rng, dtype):
    out = []
    for n, t, c, lens in [(2, 5, 4, [2, 1]), (1, 4, 3, [2]), (2, 3, 3, [1, 0])]:
        z = rng.standard_normal((n, t, c))
        lp = (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(dtype)
        labels = rng.integers(0, c - 1, size=(n, max(lens) or 1)).astype("int32")
        il = np.array([t] * n, dtype="int32")
        il[-1] = max(t - 1, 1)
        out.append(Sample((lp, labels, il, np.array(lens, dtype="int32"))))
    return out


def _ctc_grad_ref(lp, labels, il, ll):
    """The gradient of sum(ctc_nll) with respect to lp, by central differences of the formula."""
    lp = np.asarray(lp, np.float64)
    g, h = np.zeros(lp.shape), 1e-6
    for i in range(lp.size):
        p, m = lp.copy(), lp.copy()
        p.flat[i] += h
        m.flat[i] -= h
        g.flat[i] = (ctc_nll(p, labels, il, ll).sum() - ctc_nll(m, labels, il, ll).sum()) / (2 * h)
    return g


def _decode_samples(rng, dtype):
    out = []
    for n, t, c in [(2, 6, 4), (1, 3, 3)]:
        p = rng.random((n, t, c)) + 0.05
        p[..., -1] += rng.random((n, t)) * (rng.random((n, t)) < 0.4)  # some steps favour the blank
        out.append(Sample(((p / p.sum(-1, keepdims=True)).astype(dtype), np.array([t, t - 1][:n], dtype="int32"))))
    return out


def _greedy_ref(p, il):
    blank = p.shape[-1] - 1
    paths, scores = [], []
    for n in range(p.shape[0]):
        best = np.argmax(p[n, :il[n]], axis=-1)
        merged = [int(k) for i, k in enumerate(best) if (i == 0 or k != best[i - 1]) and k != blank]
        paths.append(merged)
        scores.append(-np.log(p[n, :il[n]].max(axis=-1) + 1e-7).sum())
    width = max(len(q) for q in paths)
    dense = np.full((p.shape[0], width), -1, dtype="int64")
    for n, q in enumerate(paths):
        dense[n, :len(q)] = q
    return dense, np.array(scores, dtype=p.dtype).reshape(-1, 1)


def _decode(p, il):
    decoded, log_prob = _K().ctc_decode(p, il, greedy=True)
    return decoded[0], log_prob


def _sparse_ref(labels, lengths):
    idx = [(n, j) for n in range(labels.shape[0]) for j in range(lengths[n])]
    indices = np.array(idx, dtype="int64").reshape(-1, 2)
    values = np.array([labels[n, j] for n, j in idx], dtype=labels.dtype)
    return indices, values, np.array(labels.shape, dtype="int64")


# --------------------------------------------------------------------------------- random ops

def _random(kname, **params):
    def fn():
        return getattr(_K(), kname)((40, 50), seed=7, **params)
    return fn


def _random_check(lo, hi, mean, std, values=None):
    def check(outs, sample, dtype):
        x = np.asarray(outs[0], dtype=np.float64)
        assert x.shape == (40, 50), f"shape {x.shape}"
        assert np.all((x >= lo) & (x < hi)), f"values outside [{lo}, {hi})"
        if values is not None:
            assert set(np.unique(x)) <= set(values), f"values {np.unique(x)} outside {values}"
        assert abs(x.mean() - mean) < 0.08 * max(std, 0.5), f"mean {x.mean():.3f}, expected {mean}"
        assert abs(x.std() - std) < 0.08 * max(std, 0.5), f"std {x.std():.3f}, expected {std:.3f}"
    return check


def _no_input(rng, dtype):
    return [Sample(())]


def rows() -> list:
    """The rows of this module."""
    K = _K()
    t = []
    add = t.append
    loose = {"float32": (1e-4, 1e-5)}
    add(OpInfo("conv", _conv_k, _conv_r, _conv_samples(_CONV_ALL), differentiable=True, tol=loose, batch_args=(0,)))
    add(OpInfo("conv_backprop_input", _conv_transpose, _conv_transpose_ref, _transpose_samples,
               differentiable=True, tol=loose, dynamic_batch=False))
    add(OpInfo("conv_backprop_filter", _grad_fn(_conv_k, 1), _filter_grad_ref, _conv_samples(_CONV_ALL, True, True),
               differentiable=True, grad_args=(2,), tol=loose, dynamic_batch=False))
    both = [(m, c) for m in ("max", "avg") for c in _POOL_ALL]
    add(OpInfo("pool", _pool_k, _pool_r, _pool_samples(both), differentiable=True))
    # max pool_backprop differentiates in g for non-overlapping windows only (its VJP raises
    # otherwise); the pool row's gradient check runs it on every geometry
    bp_cases = [(m, (xs, kw)) for m, (xs, kw) in both if m == "avg" or tuple(kw["strides"]) == tuple(kw["pool_size"])]
    add(OpInfo("pool_backprop", _pool_grad, _pool_bp_ref, _pool_samples(bp_cases, True),
               differentiable=True, grad_args=(1,), dynamic_batch=False))
    add(OpInfo("resize", _resize, _resize_ref, _resize_samples(), differentiable=True))
    add(OpInfo("resize_backprop", _resize_grad, _resize_bp_ref, _resize_samples(True), differentiable=True,
               grad_args=(1,), dynamic_batch=False))
    add(OpInfo("softmax", lambda x, axis: K.softmax(x, axis), lambda x, axis: R.softmax(x, axis), _softmax_samples,
               dtypes=("float32", "float64"), differentiable=True))
    add(OpInfo("log_softmax", lambda x, axis: apply("log_softmax", x, axis=axis % x.ndim),
               lambda x, axis: R.log_softmax(x, axis), _softmax_samples, differentiable=True))
    add(OpInfo("categorical_crossentropy_grad", _ce_grad, R.categorical_crossentropy_grad, _ce_grad_samples,
               dtypes=("float32", "float64"), differentiable=True, tol=loose))
    add(OpInfo("batchnorm_train", _bn, _bn_ref, _bn_samples, differentiable=True, tol=loose,
               exercises=("batchnorm_train", "tuple_get")))
    add(OpInfo("batchnorm_train_backward", _bn_backward, _bn_backward_ref, _bn_backward_samples, tol=loose))
    add(OpInfo("ctc_loss", lambda lp, lab, il, ll: apply("ctc_loss", lp, lab, il, ll), ctc_nll, _ctc_samples,
               dtypes=("float32", "float64"), differentiable=True, grad_args=(0,), tol=loose, dynamic_batch=False))
    add(OpInfo("ctc_loss_grad", lambda lp, lab, il, ll: apply("ctc_loss_grad", lp, lab, il, ll), _ctc_grad_ref,
               _ctc_samples, dtypes=("float64",), tol={"float64": (1e-6, 1e-7)}, dynamic_batch=False))
    add(OpInfo("ctc_decode", _decode, _greedy_ref, _decode_samples, exercises=("ctc_decode", "ctc_path"),
               dynamic_batch=False))
    add(OpInfo("ctc_path", lambda p, il: _decode(p, il)[0], lambda p, il: _greedy_ref(p, il)[0], _decode_samples,
               dynamic_batch=False))
    add(OpInfo("ctc_dense_to_sparse", lambda lab, ll: K.ctc_label_dense_to_sparse(lab, ll), _sparse_ref,
               lambda rng, d: [Sample((np.array([[1, 2, 0], [3, 0, 0]], dtype="int32"), np.array([3, 1], dtype="int32"))),
                               Sample((np.zeros((2, 2), dtype="int32"), np.array([0, 0], dtype="int32")))],
               dtypes=("int32",), dynamic_batch=False))
    add(OpInfo("random_uniform", _random("random_uniform", minval=-1.0, maxval=3.0), None, _no_input,
               check=_random_check(-1.0, 3.0, 1.0, 4 / np.sqrt(12)), fused=False))
    add(OpInfo("random_normal", _random("random_normal", mean=1.0, stddev=2.0), None, _no_input,
               check=_random_check(-np.inf, np.inf, 1.0, 2.0), fused=False))
    add(OpInfo("truncated_normal", _random("truncated_normal", mean=0.0, stddev=1.0), None, _no_input,
               check=_random_check(-2.0, 2.0 + 1e-9, 0.0, 0.880), fused=False))
    add(OpInfo("K.random_binomial", _random("random_binomial", p=0.3), None, _no_input, primitive=False,
               check=_random_check(0.0, 1.5, 0.3, np.sqrt(0.21), values=(0.0, 1.0)), fused=False,
               exercises=("random_uniform",)))
    return t

"""Fused forms: op patterns a backend may run as one kernel (the declared patterns of
keraslite/backend/interface.py, `PATTERNS`, and elementwise fusion). Each form is checked on a
backend: the compiled plan (fusion on) against the NumPy formula, the plan with fusion off
against the same formula, every match of a declared pattern that the backend fuses against the
pattern's composite (its primitives one after the other, on the same backend and inputs),
gradients of differentiable forms against central finite differences in float64 (through the
fused plan), and whether the backend actually took the fused kernel (reported, not required: a
backend may leave a pattern unfused)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import references as R
from .checks import assert_close, build, evaluate
from .opinfo import OpInfo, Sample, uniform


@dataclass
class FusedForm:
    """A pattern: `row` builds and defines it; `marker` is a substring of the fused step's name
    in Plan.kernels() (e.g. 'conv+add' for a declared pattern, 'fused[' for an elementwise group)."""

    row: OpInfo
    marker: str
    grad_samples: Callable | None = None  # samples for the finite-difference check (default: the row's)


def _K():
    from .. import backend as K
    return K


def _conv_bias(x, k, b):
    K = _K()
    return K.bias_add(K.conv2d(x, k, padding="valid", data_format="channels_last"), b, data_format="channels_last")


def _conv_bias_ref(x, k, b):
    return R.conv2d(x, k, padding="valid", data_format="channels_last") + b


def _conv_bias_samples(rng, dtype):
    return [Sample((uniform(rng, (2, 5, 5, 3), dtype), uniform(rng, (3, 3, 3, 4), dtype), uniform(rng, (4,), dtype))),
            Sample((uniform(rng, (1, 3, 4, 1), dtype), uniform(rng, (1, 2, 1, 2), dtype), uniform(rng, (2,), dtype)))]


_ACTIVATIONS = {
    "relu": (lambda K, z: K.relu(z), lambda z: np.maximum(z, 0.0)),
    "sigmoid": (lambda K, z: K.sigmoid(z), lambda z: 1.0 / (1.0 + np.exp(-z))),
    "tanh": (lambda K, z: K.tanh(z), np.tanh),
    None: (lambda K, z: z, lambda z: z),
}


def _gemm_form(act):
    k_act, np_act = _ACTIVATIONS[act]

    def build_(x, w, b):
        K = _K()
        return k_act(K, K.bias_add(K.dot(x, w), b))

    def ref(x, w, b):
        return np_act(np.asarray(x, np.float64) @ np.asarray(w, np.float64) + b)
    return build_, ref


def _gemm_samples(rng, dtype):
    # 2-D, a 3-D input (Dense on sequences), and a product large enough to be split over threads
    return [Sample((uniform(rng, (4, 6), dtype), uniform(rng, (6, 3), dtype), uniform(rng, (3,), dtype))),
            Sample((uniform(rng, (2, 3, 5), dtype), uniform(rng, (5, 4), dtype), uniform(rng, (4,), dtype))),
            Sample((uniform(rng, (96, 130), dtype), uniform(rng, (130, 90), dtype), uniform(rng, (90,), dtype)))]


def _gemm_grad_samples(rng, dtype):
    return _gemm_samples(rng, dtype)[:2]


def _softmax_ce(target, logits):
    K = _K()
    return K.categorical_crossentropy(target, K.softmax(logits), from_logits=False)


def _softmax_ce_ref(target, logits):
    return R.categorical_crossentropy(target, R.softmax(logits))


def _softmax_ce_samples(rng, dtype):
    t = rng.random((3, 5)) + 0.1
    # the second sample has a near-certain class: the clip at 1 - epsilon takes effect
    big = uniform(rng, (4, 2, 6), dtype, -2, 2)
    big[0, 0, 1] = 40.0
    t2 = rng.random((4, 2, 6))
    return [Sample(((t / t.sum(-1, keepdims=True)).astype(dtype), uniform(rng, (3, 5), dtype, -2, 2))),
            Sample((t2.astype(dtype), big))]


def _crossentropy(target, probs):
    return _K().categorical_crossentropy(target, probs, from_logits=False)


def _crossentropy_ref(target, probs):
    return R.categorical_crossentropy(target, np.asarray(probs, np.float64))


def _crossentropy_samples(rng, dtype):
    t = rng.random((5, 4))
    p = rng.random((5, 4)) + 0.05
    p[1, 2] = 1e-12  # below the clip's epsilon after renormalising
    return [Sample((t.astype(dtype), p.astype(dtype))), Sample((rng.random((2, 3, 7)).astype(dtype),
                                                              (rng.random((2, 3, 7)) + 0.1).astype(dtype)))]


def _crossentropy_grad_samples(rng, dtype):
    # away from the clip's kinks: finite differences step over a bound they straddle
    return _crossentropy_samples(rng, dtype)[1:]


def _chain(x, y):
    K = _K()
    return K.tanh(x * 0.5 + y) * K.sigmoid(y) - K.exp(-K.abs(x))


def _chain_ref(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.tanh(x * 0.5 + y) * (1.0 / (1.0 + np.exp(-y))) - np.exp(-np.abs(x))


def _chain_samples(rng, dtype):
    return [Sample((uniform(rng, (3, 4), dtype), uniform(rng, (3, 4), dtype))),
            Sample((uniform(rng, (2, 3), dtype), uniform(rng, (3,), dtype)))]


def _pool_relu_grad(x, c, pool_size=(3, 3), strides=(2, 2), padding="valid", mode="max"):
    """The gradient of sum(pool(relu(x)) * c) in x: pool_backprop then relu_grad (the pattern)."""
    K = _K()
    y = K.pool2d(K.relu(x), pool_size, strides=strides, padding=padding, pool_mode=mode)
    return K.gradients(K.sum(y * c), [x])[0]


def _pool_relu_grad_ref(x, c, pool_size=(3, 3), strides=(2, 2), padding="valid", mode="max"):
    from .references import out_and_pads
    x = np.asarray(x, np.float64)
    r = np.maximum(x, 0.0)
    n, h, w, ch = x.shape
    (ph, pw), (sh, sw) = pool_size, strides
    ho, pt, _ = out_and_pads(h, ph, sh, 1, padding)
    wo, pl, _ = out_and_pads(w, pw, sw, 1, padding)
    dx = np.zeros_like(x)
    for oh in range(ho):
        for ow in range(wo):
            cells = [(i, j) for i in range(oh * sh - pt, oh * sh - pt + ph)
                     for j in range(ow * sw - pl, ow * sw - pl + pw) if 0 <= i < h and 0 <= j < w]
            g = np.asarray(c, np.float64)[:, oh, ow, :]
            if mode == "avg":
                for i, j in cells:
                    dx[:, i, j, :] += g / len(cells)
                continue
            vals = np.stack([r[:, i, j, :] for i, j in cells])
            first = np.argmax(vals == vals.max(axis=0), axis=0)  # the first maximal cell, row-major
            for k, (i, j) in enumerate(cells):
                dx[:, i, j, :] += np.where(first == k, g, 0.0)
    return dx * (x > 0)


def _pool_relu_grad_samples(rng, dtype):
    def case(shape, pool_size=(3, 3), strides=(2, 2), padding="valid", mode="max"):
        x = uniform(rng, shape, dtype)
        y = R.pool2d(np.maximum(x, 0), pool_size, strides, padding, pool_mode=mode)
        return Sample((x, uniform(rng, y.shape, dtype)),
                      {"pool_size": pool_size, "strides": strides, "padding": padding, "mode": mode})
    # overlapping windows (the tutorial convnet's 3x3 / 2), 'same' padding, stride above the window
    return [case((2, 7, 9, 3)), case((2, 6, 6, 4), pool_size=(2, 2), strides=(2, 2), padding="same"),
            case((1, 5, 5, 2), strides=(1, 1), padding="same"), case((2, 8, 7, 3), pool_size=(1, 2), strides=(3, 2)),
            case((2, 7, 9, 3), mode="avg"), case((1, 5, 6, 2), pool_size=(2, 3), strides=(1, 2), padding="same",
                                                 mode="avg")]


def _pool_relu_grad_grad_samples(rng, dtype):
    # second order through max pooling needs windows that do not overlap (strides == pool_size)
    return [s for s in _pool_relu_grad_samples(rng, dtype)
            if s.kwargs["mode"] == "avg" or s.kwargs["strides"] == s.kwargs["pool_size"]]


def _bn_relu(x, gamma, beta):
    K = _K()
    return K.relu(K.normalize_batch_in_training(x, gamma, beta, tuple(range(x.ndim - 1)))[0])


def _bn_ref(x, gamma, beta):
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    return (x - mean) / np.sqrt(var + 1e-3) * gamma + beta


def _bn_relu_ref(x, gamma, beta):
    return np.maximum(_bn_ref(x, gamma, beta), 0.0)


def _bn_relu_samples(rng, dtype):
    return [Sample((uniform(rng, (2, 4, 5, 3), dtype, -2, 3), uniform(rng, (3,), dtype, 0.5, 1.5),
                    uniform(rng, (3,), dtype))),
            Sample((uniform(rng, (6, 4), dtype), uniform(rng, (4,), dtype, 0.5, 1.5), uniform(rng, (4,), dtype)))]


def _bn_add_relu(x, r, gamma, beta):
    # the shortcut r feeds the batch norm's input too, so that it is computed before it (as in a
    # residual block, whose input is both the shortcut and the convolutions' input)
    K = _K()
    return K.relu(K.normalize_batch_in_training(x * r, gamma, beta, tuple(range(x.ndim - 1)))[0] + r)


def _bn_add_relu_ref(x, r, gamma, beta):
    return np.maximum(_bn_ref(np.asarray(x, np.float64) * r, gamma, beta) + r, 0.0)


def _bn_add_relu_samples(rng, dtype):
    def case(shape):
        ch = shape[-1]
        return Sample((uniform(rng, shape, dtype, -2, 3), uniform(rng, shape, dtype, 0.5, 1.5),
                       uniform(rng, (ch,), dtype, 0.5, 1.5), uniform(rng, (ch,), dtype)))
    return [case((2, 4, 5, 3)), case((6, 4))]


def _bn_backward_sum(x, b, gamma, c, cm, cv):
    # a bias before the batch norm (as conv -> bias -> BatchNormalization): its gradient is the
    # sum of batch norm's dx, which is read again as the gradient of x (the fused step keeps it)
    K = _K()
    axes = tuple(range(x.ndim - 1))
    y, mean, var = K.normalize_batch_in_training(K.bias_add(x, b), gamma, None, axes)
    loss = K.sum(y * c) + K.sum(mean * cm) + K.sum(var * cv)
    gb, gx = K.gradients(loss, [b, x])
    return K.concatenate([gb, K.reshape(gx, (-1,))], axis=0)


def _bn_backward_sum_ref(x, b, gamma, c, cm, cv):
    x, c = np.asarray(x, np.float64) + b, np.asarray(c, np.float64)
    axes = tuple(range(x.ndim - 1))
    n = x.size // x.shape[-1]
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv = 1 / np.sqrt(var + 1e-3)
    xhat = (x - mean) * inv
    gh = c * gamma
    dx = inv * (gh - gh.mean(axis=axes) - xhat * (gh * xhat).mean(axis=axes)) + cm / n + cv * 2 / n * (x - mean)
    return np.concatenate([dx.sum(axis=axes), dx.reshape(-1)])


def _bn_backward_sum_samples(rng, dtype):
    def case(shape):
        ch = shape[-1]
        return Sample((uniform(rng, shape, dtype, -2, 3), uniform(rng, (ch,), dtype), uniform(rng, (ch,), dtype, 0.5, 1.5),
                       uniform(rng, shape, dtype), uniform(rng, (ch,), dtype), uniform(rng, (ch,), dtype)))
    return [case((2, 4, 5, 3)), case((6, 4)), case((3, 2, 7))]


def _bn_inference(relu):
    def fn(x, mean, var, beta, gamma):
        K = _K()
        y = K.batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3)
        return K.relu(y) if relu else y

    def ref(x, mean, var, beta, gamma):
        y = R.batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3)
        return np.maximum(y, 0.0) if relu else y
    return fn, ref


def _bn_inference_samples(rng, dtype):
    def case(shape):
        c = shape[-1]
        return Sample((uniform(rng, shape, dtype, -2, 2), uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 2),
                       uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 1.5)))
    return [case((2, 3, 4, 5)), case((7, 3)), case((2, 5, 1))]


def _conv_bn(relu):
    def fn(x, k, b, mean, var, beta, gamma):
        K = _K()
        y = K.bias_add(K.conv2d(x, k, padding="valid", data_format="channels_last"), b, data_format="channels_last")
        y = K.batch_normalization(y, mean, var, beta, gamma, axis=-1, epsilon=1e-3)
        return K.relu(y) if relu else y

    def ref(x, k, b, mean, var, beta, gamma):
        y = R.conv2d(x, k, padding="valid", data_format="channels_last") + b
        y = R.batch_normalization(y, mean, var, beta, gamma, axis=-1, epsilon=1e-3)
        return np.maximum(y, 0.0) if relu else y
    return fn, ref


def _conv_bn_samples(rng, dtype):
    def case(x_shape, k_shape):
        c = k_shape[-1]
        return Sample((uniform(rng, x_shape, dtype), uniform(rng, k_shape, dtype), uniform(rng, (c,), dtype),
                       uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 2), uniform(rng, (c,), dtype),
                       uniform(rng, (c,), dtype, 0.5, 1.5)))
    # the second: more output channels than one register tile's columns, a partial last panel
    return [case((2, 5, 5, 3), (3, 3, 3, 4)), case((3, 4, 6, 2), (2, 2, 2, 37))]


def _conv_pool(bn):
    """Conv2D -> [BatchNormalization ->] relu -> MaxPooling2D at prediction ('valid' pooling)."""
    def fn(x, k, b, *stats, pool=((2, 2), (2, 2))):
        K = _K()
        y = K.bias_add(K.conv2d(x, k, padding="valid", data_format="channels_last"), b, data_format="channels_last")
        if bn:
            y = K.batch_normalization(y, *stats, axis=-1, epsilon=1e-3)
        return K.pool2d(K.relu(y), pool[0], pool[1], padding="valid", data_format="channels_last")

    def ref(x, k, b, *stats, pool=((2, 2), (2, 2))):
        y = R.conv2d(x, k, padding="valid", data_format="channels_last") + b
        if bn:
            y = R.batch_normalization(y, *stats, axis=-1, epsilon=1e-3)
        return R.pool2d(np.maximum(y, 0.0), pool[0], pool[1], padding="valid", data_format="channels_last")
    return fn, ref


def _conv_pool_samples(bn):
    def samples(rng, dtype):
        def case(x_shape, k_shape, pool):
            c = k_shape[-1]
            stats = ((uniform(rng, (c,), dtype), uniform(rng, (c,), dtype, 0.5, 2), uniform(rng, (c,), dtype),
                      uniform(rng, (c,), dtype, 0.5, 1.5)) if bn else ())
            return Sample((uniform(rng, x_shape, dtype), uniform(rng, k_shape, dtype), uniform(rng, (c,), dtype),
                           *stats), {"pool": pool})
        # overlapping 3x3 windows at stride 2 (the tutorial convnet's), and more output channels
        # than a register tile's columns with a partial last panel and an odd image
        return [case((2, 9, 9, 3), (3, 3, 3, 4), ((3, 3), (2, 2))), case((3, 7, 8, 2), (2, 2, 2, 37), ((2, 2), (2, 2)))]
    return samples


def forms() -> dict:
    loose = {"float32": (1e-4, 1e-5)}
    gemm = []
    for act in ("relu", "sigmoid", "tanh", None):
        fn, ref = _gemm_form(act)
        name = "gemm+bias" + (f"+{act}" if act else "")
        gemm.append(FusedForm(OpInfo(name, fn, ref, _gemm_samples, primitive=False, tol=loose, differentiable=True,
                                     exercises=("matmul", "add") + ((act,) if act else ())),
                              "matmul+add" + (f"+{act}" if act else ""), grad_samples=_gemm_grad_samples))
    return {f.row.name: f for f in [
        FusedForm(OpInfo("conv2d+bias", _conv_bias, _conv_bias_ref, _conv_bias_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("conv", "add")), "conv+add"),
        *gemm,
        FusedForm(OpInfo("crossentropy", _crossentropy, _crossentropy_ref, _crossentropy_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("div", "log", "sum")),
                  "sum+div+maximum+minimum+log+mul+sum+neg", grad_samples=_crossentropy_grad_samples),
        FusedForm(OpInfo("softmax+crossentropy", _softmax_ce, _softmax_ce_ref, _softmax_ce_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("softmax",)),
                  "sum+div+maximum+minimum+log+mul+sum+neg"),
        FusedForm(OpInfo("pooling+relu gradient", _pool_relu_grad, _pool_relu_grad_ref, _pool_relu_grad_samples,
                         primitive=False, tol=loose, differentiable=True, grad_args=(1,),
                         exercises=("pool_backprop", "relu_grad")),
                  "pool_backprop+relu_grad", grad_samples=_pool_relu_grad_grad_samples),
        FusedForm(OpInfo("batchnorm_train+relu", _bn_relu, _bn_relu_ref, _bn_relu_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("batchnorm_train", "relu")),
                  "batchnorm_train+tuple_get+relu"),
        FusedForm(OpInfo("batchnorm_train+add+relu", _bn_add_relu, _bn_add_relu_ref, _bn_add_relu_samples,
                         primitive=False, tol=loose, differentiable=True, exercises=("batchnorm_train", "add", "relu")),
                  "batchnorm_train+tuple_get+add+relu"),
        FusedForm(OpInfo("batchnorm_train_backward+bias gradient", _bn_backward_sum, _bn_backward_sum_ref,
                         _bn_backward_sum_samples, primitive=False, tol={"float32": (1e-4, 1e-4)},
                         exercises=("batchnorm_train_backward", "sum")),
                  "batchnorm_train_backward+tuple_get+sum"),
        *[FusedForm(OpInfo(f"batchnorm inference{'+relu' if relu else ''}", *_bn_inference(relu), _bn_inference_samples,
                           primitive=False, tol=loose, differentiable=True, exercises=("sub", "mul", "add")),
                    "sub+mul+add" + ("+relu" if relu else "")) for relu in (True, False)],
        *[FusedForm(OpInfo(f"conv2d+bias+batchnorm inference{'+relu' if relu else ''}", *_conv_bn(relu),
                           _conv_bn_samples, primitive=False, tol=loose, differentiable=True,
                           exercises=("conv", "add", "sub", "mul")),
                    "conv+add+sub+mul+add" + ("+relu" if relu else "")) for relu in (True, False)],
        *[FusedForm(OpInfo(f"conv2d+bias{'+batchnorm inference' if bn else ''}+relu+max pool", *_conv_pool(bn),
                           _conv_pool_samples(bn), primitive=False, tol=loose,
                           exercises=("conv", "add", "relu", "pool") + (("sub", "mul") if bn else ())),
                    "conv+add+sub+mul+add+relu+pool" if bn else "conv+add+relu+pool") for bn in (True, False)],
        FusedForm(OpInfo("elementwise chain", _chain, _chain_ref, _chain_samples, primitive=False, tol=loose),
                  "fused["),
    ]}


def check_form(form: FusedForm, backend_name: str) -> str:
    """Fused and unfused plans against the formula; returns whether the fused kernel was taken."""
    from ..backend.registry import get_backend_object
    from .checks import graph_ops, seeded
    backend = get_backend_object(backend_name)
    row = form.row
    taken = False
    for dtype in ("float32", "float64"):
        rtol, atol = row.tolerance(dtype)
        for sample in row.samples(seeded(row, dtype), dtype):
            phs, outs = build(row, sample)
            missing = set(row.required_ops()) - graph_ops(outs)
            assert not missing, f"{row.name}: the built graph does not use {sorted(missing)}"
            want = row.ref(*sample.args, **sample.kwargs)
            for fused in (True, False):
                got, plan = evaluate(backend, phs, outs, sample.args, fused=fused)
                assert_close(got[0], want, rtol, atol, f"{row.name} ({'fused' if fused else 'unfused'}, "
                                                       f"{sample.describe()})")
                if fused:
                    taken = taken or any(form.marker in k for k in plan.kernels())
            check_composites(backend, phs, outs, sample.args, rtol, atol, f"{row.name} ({sample.describe()})")
    if row.differentiable:
        from .checks import check_vjp
        grad_row = replace(row, samples=form.grad_samples) if form.grad_samples is not None else row
        check_vjp(grad_row, backend_name)
    return "fused kernel taken" if taken else "not fused by this backend"


def check_composites(backend, phs, outs, args, rtol, atol, what) -> int:
    """Every declared pattern that `backend` fuses in the plan of `outs`: its fused callable
    against the pattern's composite (interface.FusedPattern.composite) on the same inputs, the
    inputs being the values the unfused plan computes. Returns how many matches were checked."""
    from ..backend.graph import topological_order
    from ..backend.patterns import find
    from .checks import evaluate
    fed = {p.id for p in phs}
    order = topological_order(list(outs), stop=fed)
    matches, _ = find(backend, order, {o.id for o in outs}, fed)
    for m in matches.values():
        ins = m.inputs
        values, _ = evaluate(backend, phs, ins, args, fused=False)
        native = [backend.from_numpy(np.asarray(v)) for v in values]
        got, want = m.fn(*native), m.pattern.composite(backend, m.nodes)(*native)
        if m.pattern.element is None:
            got, want = (got,), (want,)
        assert len(got) == len(want), f"{what}: {m.name} gives {len(got)} results, its composite {len(want)}"
        for k, (a, b) in enumerate(zip(got, want)):
            a, b = backend.to_numpy(a), backend.to_numpy(b)
            assert a.shape == b.shape and a.dtype == b.dtype, \
                f"{what}: {m.name} gives {a.dtype}{a.shape}, its composite {b.dtype}{b.shape} (result {k})"
            assert_close(a, b, rtol, atol, f"{what}: {m.name} against its composite (result {k})")
    return len(matches)

"""Independent NumPy references for the Keras 2 neural-network ops of `keraslite.backend`.

Written from the Keras 2 semantics (docs/spec K_SURFACE.md sections 9-12), never from keraslite's
own code: explicit loops over output cells, slow but obviously right, so the shapes used by the
tests stay small. All references compute in float64 and work on channels_last arrays; the
``*_cf`` wrappers / ``data_format`` arguments transpose in and out.

Conventions (Keras 2 / TF1):
* kernels are always in TF layout: conv1d (k, in, out), conv2d (kh, kw, in, out), depthwise
  (kh, kw, in, dm), conv2d_transpose (kh, kw, out, in); cross-correlation, no kernel flip;
* 'valid': out = ceil((in - (k - 1) * d) / s);
  'same':  out = ceil(in / s), total pad = max((out - 1) * s + (k - 1) * d + 1 - in, 0), with
  floor(total / 2) before and the rest after (the extra cell goes to the bottom / right).
"""
from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-7  # K.epsilon() default
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------------------------
# padding arithmetic


def out_and_pads(size, k, s, d, padding):
    """(output length, pad before, pad after) for one spatial axis."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return max(math.ceil((size - eff + 1) / s), 0), 0, 0
    if padding == "same":
        out = math.ceil(size / s)
        total = max((out - 1) * s + eff - size, 0)
        return out, total // 2, total - total // 2
    raise ValueError(padding)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def to_cl(x):
    """channels_first -> channels_last (any rank >= 3)."""
    return np.moveaxis(x, 1, -1)


def to_cf(x):
    """channels_last -> channels_first (any rank >= 3)."""
    return np.moveaxis(x, -1, 1)


def _in_format(x, data_format):
    x = np.asarray(x, dtype=np.float64)
    return to_cl(x) if data_format == "channels_first" else x


def _out_format(y, data_format):
    return to_cf(y) if data_format == "channels_first" else y


# ---------------------------------------------------------------------------------------------
# convolutions


def conv2d(x, kernel, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1)):
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, h, w, cin = x.shape
    kh, kw, kin, cout = kernel.shape
    assert kin == cin
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    ho, pt, _ = out_and_pads(h, kh, sh, dh, padding)
    wo, pl, _ = out_and_pads(w, kw, sw, dw, padding)
    y = np.zeros((n, ho, wo, cout))
    for oh in range(ho):
        for ow in range(wo):
            for a in range(kh):
                for b in range(kw):
                    r, c = oh * sh - pt + a * dh, ow * sw - pl + b * dw
                    if 0 <= r < h and 0 <= c < w:
                        y[:, oh, ow, :] += x[:, r, c, :] @ kernel[a, b]
    return _out_format(y, data_format)


def conv1d(x, kernel, strides=1, padding="valid", data_format="channels_last", dilation_rate=1):
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    s = strides[0] if isinstance(strides, (tuple, list)) else strides
    d = dilation_rate[0] if isinstance(dilation_rate, (tuple, list)) else dilation_rate
    k, kin, cout = kernel.shape
    if padding == "causal":
        x = np.pad(x, ((0, 0), (d * (k - 1), 0), (0, 0)))
        padding = "valid"
    n, steps, cin = x.shape
    assert kin == cin
    lo, pb, _ = out_and_pads(steps, k, s, d, padding)
    y = np.zeros((n, lo, cout))
    for o in range(lo):
        for a in range(k):
            t = o * s - pb + a * d
            if 0 <= t < steps:
                y[:, o, :] += x[:, t, :] @ kernel[a]
    return _out_format(y, data_format)


def depthwise_conv2d(x, kernel, strides=(1, 1), padding="valid", data_format="channels_last",
                     dilation_rate=(1, 1)):
    """Output channel c * dm + m = input channel c convolved with kernel[:, :, c, m]."""
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, h, w, cin = x.shape
    kh, kw, kin, dm = kernel.shape
    assert kin == cin
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    ho, pt, _ = out_and_pads(h, kh, sh, dh, padding)
    wo, pl, _ = out_and_pads(w, kw, sw, dw, padding)
    y = np.zeros((n, ho, wo, cin * dm))
    for oh in range(ho):
        for ow in range(wo):
            for a in range(kh):
                for b in range(kw):
                    r, c = oh * sh - pt + a * dh, ow * sw - pl + b * dw
                    if not (0 <= r < h and 0 <= c < w):
                        continue
                    for ch in range(cin):
                        for m in range(dm):
                            y[:, oh, ow, ch * dm + m] += x[:, r, c, ch] * kernel[a, b, ch, m]
    return _out_format(y, data_format)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides=(1, 1), padding="valid",
                     data_format="channels_last", dilation_rate=(1, 1)):
    dwo = depthwise_conv2d(x, depthwise_kernel, strides, padding, data_format, dilation_rate)
    dwo = _in_format(dwo, data_format)
    pk = np.asarray(pointwise_kernel, dtype=np.float64)
    assert pk.shape[:2] == (1, 1)
    y = np.einsum("nhwc,co->nhwo", dwo, pk[0, 0])
    return _out_format(y, data_format)


def conv2d_transpose_valid_shape(x_shape, kernel_shape, output_shape, strides, padding,
                                 data_format="channels_last", dilation_rate=(1, 1)):
    """True iff conv2d over `output_shape` with this kernel gives x's spatial shape."""
    if data_format == "channels_first":
        xs, os_ = x_shape[2:], output_shape[2:]
        xc, oc = x_shape[1], output_shape[1]
    else:
        xs, os_ = x_shape[1:3], output_shape[1:3]
        xc, oc = x_shape[3], output_shape[3]
    kh, kw, kout, kin = kernel_shape
    if kout != oc or kin != xc:
        return False
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    return (out_and_pads(os_[0], kh, sh, dh, padding)[0] == xs[0]
            and out_and_pads(os_[1], kw, sw, dw, padding)[0] == xs[1])


def conv2d_transpose(x, kernel, output_shape, strides=(1, 1), padding="valid",
                     data_format="channels_last", dilation_rate=(1, 1)):
    """Scatter form of the transposed convolution: every input cell (i, j) spreads
    x[i, j, ci] * kernel[a, b, co, ci] onto output cell (i*s - pad_before + a*d, ...)."""
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, h, w, cin = x.shape
    kh, kw, cout, kin = kernel.shape
    assert kin == cin
    output_shape = tuple(output_shape)
    if data_format == "channels_first":
        oc, ho, wo = output_shape[1:]
    else:
        ho, wo, oc = output_shape[1:]
    assert oc == cout
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    h_chk, pt, _ = out_and_pads(ho, kh, sh, dh, padding)
    w_chk, pl, _ = out_and_pads(wo, kw, sw, dw, padding)
    if (h_chk, w_chk) != (h, w):
        raise ValueError("impossible output_shape")
    y = np.zeros((n, ho, wo, cout))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * sh - pt + a * dh, j * sw - pl + b * dw
                    if 0 <= r < ho and 0 <= c < wo:
                        y[:, r, c, :] += x[:, i, j, :] @ kernel[a, b].T
    return _out_format(y, data_format)


# ---------------------------------------------------------------------------------------------
# pooling


def pool2d(x, pool_size, strides=(1, 1), padding="valid", data_format="channels_last",
           pool_mode="max"):
    """Max / average over the real (non-padded) cells of each window."""
    x = _in_format(x, data_format)
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = _pair(pool_size), _pair(strides)
    ho, pt, _ = out_and_pads(h, ph, sh, 1, padding)
    wo, pl, _ = out_and_pads(w, pw, sw, 1, padding)
    y = np.zeros((n, ho, wo, c))
    for oh in range(ho):
        for ow in range(wo):
            cells = [x[:, r, s, :]
                     for r in range(oh * sh - pt, oh * sh - pt + ph)
                     for s in range(ow * sw - pl, ow * sw - pl + pw)
                     if 0 <= r < h and 0 <= s < w]
            stack = np.stack(cells, axis=0)
            if pool_mode == "max":
                y[:, oh, ow, :] = stack.max(axis=0)
            else:
                y[:, oh, ow, :] = stack.sum(axis=0) / len(cells)
    return _out_format(y, data_format)


# ---------------------------------------------------------------------------------------------
# bias, batch norm


def bias_add(x, bias, data_format="channels_last"):
    """Keras 2 TF-backend bias_add.

    1-D bias (C,): added along the channel axis (last for channels_last; axis 1 for
    channels_first when x has rank >= 3; rank-2 x always takes the bias along its last axis).
    Bias of rank ndim(x) - 1: channels_last adds it per position; channels_first reshapes it
    row-major to (bias.shape[-1],) + bias.shape[:-1] (no transpose) and adds it per position."""
    x = np.asarray(x, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    if b.ndim not in (1, x.ndim - 1):
        raise ValueError("bias rank")
    if b.ndim == 1:
        if data_format == "channels_first" and x.ndim >= 3:
            return x + b.reshape((1, b.shape[0]) + (1,) * (x.ndim - 2))
        return x + b
    if data_format == "channels_first":
        return x + b.reshape((1, b.shape[-1]) + b.shape[:-1])
    return x + b[None]


def batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta. 1-D parameters lie along `axis`;
    scalars and full-rank (1, .., C, .., 1) parameters broadcast as they are."""
    x = np.asarray(x, dtype=np.float64)
    axis = axis % x.ndim

    def prep(p, default):
        if p is None:
            return default
        p = np.asarray(p, dtype=np.float64)
        if p.ndim == 1 and x.ndim > 1:
            shape = [1] * x.ndim
            shape[axis] = p.shape[0]
            p = p.reshape(shape)
        return p

    mean, var = prep(mean, 0.0), prep(var, 1.0)
    beta, gamma = prep(beta, 0.0), prep(gamma, 1.0)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3):
    """Returns (normed, mean, var); mean / var have the shape of the kept axes; the variance is
    the biased (population) one; gamma / beta have the shape of the kept axes (or None)."""
    x = np.asarray(x, dtype=np.float64)
    if isinstance(reduction_axes, int):
        reduction_axes = [reduction_axes]
    axes = sorted(a % x.ndim for a in reduction_axes)
    kept = [d for i, d in enumerate(x.shape) if i not in axes]
    bshape = [1 if i in axes else d for i, d in enumerate(x.shape)]
    mean = x.mean(axis=tuple(axes))
    var = ((x - mean.reshape(bshape)) ** 2).mean(axis=tuple(axes))
    g = 1.0 if gamma is None else np.asarray(gamma, dtype=np.float64).reshape(bshape)
    b = 0.0 if beta is None else np.asarray(beta, dtype=np.float64).reshape(bshape)
    normed = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + epsilon) * g + b
    return normed, mean.reshape(kept), var.reshape(kept)


# ---------------------------------------------------------------------------------------------
# resizing and padding


def resize_images(x, height_factor, width_factor, data_format="channels_last",
                  interpolation="nearest"):
    """nearest: every pixel repeated; bilinear: TF1 resize_bilinear, align_corners=False and no
    half-pixel centres: output (i, j) samples source (i / fh, j / fw), neighbours clamped."""
    x = _in_format(x, data_format)
    n, h, w, c = x.shape
    ho, wo = h * height_factor, w * width_factor
    y = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            if interpolation == "nearest":
                y[:, i, j, :] = x[:, i // height_factor, j // width_factor, :]
                continue
            sy, sx = i / height_factor, j / width_factor
            y0, x0 = int(math.floor(sy)), int(math.floor(sx))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = sy - y0, sx - x0
            top = x[:, y0, x0, :] * (1 - dx) + x[:, y0, x1, :] * dx
            bot = x[:, y1, x0, :] * (1 - dx) + x[:, y1, x1, :] * dx
            y[:, i, j, :] = top * (1 - dy) + bot * dy
    return _out_format(y, data_format)


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format="channels_last"):
    x = np.asarray(x, dtype=np.float64)
    (t, b), (l, r) = padding
    if data_format == "channels_first":
        pads = ((0, 0), (0, 0), (t, b), (l, r))
    else:
        pads = ((0, 0), (t, b), (l, r), (0, 0))
    out = np.zeros(tuple(d + p0 + p1 for d, (p0, p1) in zip(x.shape, pads)))
    idx = tuple(slice(p0, p0 + d) for d, (p0, _) in zip(x.shape, pads))
    out[idx] = x
    return out


def temporal_padding(x, padding=(1, 1)):
    x = np.asarray(x, dtype=np.float64)
    left, right = padding
    n, t, c = x.shape
    out = np.zeros((n, t + left + right, c))
    out[:, left:left + t, :] = x
    return out


# ---------------------------------------------------------------------------------------------
# activations


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    x = np.asarray(x, dtype=np.float64)
    hi = np.inf if max_value is None else max_value
    out = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        v = x[idx]
        out[idx] = min(max(v, 0.0), hi) if v >= threshold else alpha * (v - threshold)
    return out


def elu(x, alpha=1.0):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def softplus(x):
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softsign(x):
    x = np.asarray(x, dtype=np.float64)
    return x / (np.abs(x) + 1)


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def hard_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


# ---------------------------------------------------------------------------------------------
# losses and friends


def clip_probs(p, eps=EPSILON, dtype=np.float64):
    """Clip to [eps, 1 - eps] with the bounds rounded to `dtype` (what K.clip does on a float32
    tensor), then widen to float64 for the formula."""
    p = np.asarray(p, dtype=dtype)
    lo, hi = np.asarray(eps, dtype=dtype), np.asarray(1 - eps, dtype=dtype)
    return np.clip(p, lo, hi).astype(np.float64)


def categorical_crossentropy(target, output, from_logits=False, axis=-1, dtype=np.float64):
    t = np.asarray(target, dtype=np.float64)
    if from_logits:
        return -(t * log_softmax(output, axis=axis)).sum(axis=axis)
    o = np.asarray(output, dtype=dtype)
    o = (o / o.sum(axis=axis, keepdims=True)).astype(dtype)
    return -(t * np.log(clip_probs(o, dtype=dtype))).sum(axis=axis)


def categorical_crossentropy_grad(g, target, output, axis=-1, eps=1e-7, softmax=False):
    """d/d output of sum(g * categorical_crossentropy(target, output)) for probabilities, by the
    chain rule on -sum_j t_j log(c_j), c = clip(q, eps, 1 - eps), q = output / s, s = sum(output):
    u_j = -g t_j / q_j where eps <= q_j <= 1 - eps (else 0), d/d output_k = u_k / s - sum_j u_j q_j / s.
    In float64 from the given values; the bounds are rounded to the output's dtype as the op
    compares in it. `softmax`: output = softmax(z), and the gradient with respect to z,
    sum_j d_j dy_j/dz_k = y_k (d_k - sum_j d_j y_j)."""
    dt = np.asarray(output).dtype
    lo, hi = float(dt.type(eps)), float(dt.type(1.0 - eps))
    o = np.moveaxis(np.asarray(output, np.float64), axis, -1)
    t = np.moveaxis(np.asarray(target, np.float64), axis, -1)
    s = o.sum(axis=-1, keepdims=True)
    q = o / s
    inside = (q >= lo) & (q <= hi)
    with np.errstate(divide="ignore", invalid="ignore"):  # a row summing to 0 (or NaN) is NaN
        u = np.where(inside, -np.asarray(g, np.float64)[..., None] * t / np.where(inside, q, 1.0), 0.0)
        res = u / s - (u * q).sum(axis=-1, keepdims=True) / s
    if softmax:
        res = o * (res - (res * o).sum(axis=-1, keepdims=True))
    return np.moveaxis(res, -1, axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, dtype=np.float64):
    """target: class indices, any shape with prod(output.shape[:-1]) elements (e.g. (N,) or
    (N, 1) for 2-D outputs). Probabilities are clipped, logged and fed to a softmax CE, i.e.
    implicitly renormalised."""
    out = np.asarray(output)
    lead = out.shape[:-1]
    idx = np.asarray(target).reshape(-1).astype(np.int64)
    if from_logits:
        logp = log_softmax(out, axis=-1)
    else:
        logp = log_softmax(np.log(clip_probs(out, dtype=dtype)), axis=-1)
    flat = logp.reshape(-1, out.shape[-1])
    res = -flat[np.arange(flat.shape[0]), idx]
    return res.reshape(lead)


def binary_crossentropy(target, output, from_logits=False, dtype=np.float64):
    t = np.asarray(target, dtype=np.float64)
    if from_logits:
        z = np.asarray(output, dtype=np.float64)
        return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    p = clip_probs(output, dtype=dtype)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def l2_normalize(x, axis=None):
    x = np.asarray(x, dtype=np.float64)
    ss = (x ** 2).sum(axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(ss, 1e-12))


def in_top_k(predictions, targets, k):
    """TF rule: True iff the target score is finite and fewer than k classes score strictly
    higher (ties at the boundary count as inside)."""
    p = np.asarray(predictions, dtype=np.float64)
    out = np.zeros(p.shape[0], dtype=bool)
    for i, t in enumerate(np.asarray(targets).reshape(-1)):
        s = p[i, int(t)]
        out[i] = bool(np.isfinite(s)) and int((p[i] > s).sum()) < k
    return out


def one_hot(indices, num_classes):
    idx = np.asarray(indices)
    out = np.zeros(idx.shape + (num_classes,))
    for pos in np.ndindex(idx.shape):
        out[pos + (int(idx[pos]),)] = 1.0
    return out


# ---------------------------------------------------------------------------------------------
# 3-D: conv3d (kd, kh, kw, in, out), conv3d_transpose (kd, kh, kw, out, in), pool3d,
# resize_volumes, spatial_3d_padding; same padding rules per axis as in 2-D


def _triple(v):
    return (v, v, v) if isinstance(v, int) else tuple(v)


def conv3d(x, kernel, strides=(1, 1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1, 1)):
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, d, h, w, cin = x.shape
    kd, kh, kw, kin, cout = kernel.shape
    assert kin == cin
    (sd, sh, sw), (dd, dh, dw) = _triple(strides), _triple(dilation_rate)
    do, pf, _ = out_and_pads(d, kd, sd, dd, padding)
    ho, pt, _ = out_and_pads(h, kh, sh, dh, padding)
    wo, pl, _ = out_and_pads(w, kw, sw, dw, padding)
    y = np.zeros((n, do, ho, wo, cout))
    for od in range(do):
        for oh in range(ho):
            for ow in range(wo):
                for a in range(kd):
                    for b in range(kh):
                        for c in range(kw):
                            p, r, q = od * sd - pf + a * dd, oh * sh - pt + b * dh, ow * sw - pl + c * dw
                            if 0 <= p < d and 0 <= r < h and 0 <= q < w:
                                y[:, od, oh, ow, :] += x[:, p, r, q, :] @ kernel[a, b, c]
    return _out_format(y, data_format)


def conv3d_transpose(x, kernel, output_shape, strides=(1, 1, 1), padding="valid",
                     data_format="channels_last"):
    """Scatter form: input cell (i, j, k) spreads x[i, j, k, ci] * kernel[a, b, c, co, ci] onto
    output cell (i*s - pad_before + a, ...)."""
    x = _in_format(x, data_format)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, d, h, w, cin = x.shape
    kd, kh, kw, cout, kin = kernel.shape
    assert kin == cin
    output_shape = tuple(output_shape)
    if data_format == "channels_first":
        oc, do, ho, wo = output_shape[1:]
    else:
        do, ho, wo, oc = output_shape[1:]
    assert oc == cout
    sd, sh, sw = _triple(strides)
    d_chk, pf, _ = out_and_pads(do, kd, sd, 1, padding)
    h_chk, pt, _ = out_and_pads(ho, kh, sh, 1, padding)
    w_chk, pl, _ = out_and_pads(wo, kw, sw, 1, padding)
    if (d_chk, h_chk, w_chk) != (d, h, w):
        raise ValueError("impossible output_shape")
    y = np.zeros((n, do, ho, wo, cout))
    for i in range(d):
        for j in range(h):
            for k in range(w):
                for a in range(kd):
                    for b in range(kh):
                        for c in range(kw):
                            p, r, q = i * sd - pf + a, j * sh - pt + b, k * sw - pl + c
                            if 0 <= p < do and 0 <= r < ho and 0 <= q < wo:
                                y[:, p, r, q, :] += x[:, i, j, k, :] @ kernel[a, b, c].T
    return _out_format(y, data_format)


def pool3d(x, pool_size, strides=(1, 1, 1), padding="valid", data_format="channels_last",
           pool_mode="max"):
    """Max / average over the real (non-padded) cells of each 3-D window."""
    x = _in_format(x, data_format)
    n, d, h, w, c = x.shape
    (pd, ph, pw), (sd, sh, sw) = _triple(pool_size), _triple(strides)
    do, pf, _ = out_and_pads(d, pd, sd, 1, padding)
    ho, pt, _ = out_and_pads(h, ph, sh, 1, padding)
    wo, pl, _ = out_and_pads(w, pw, sw, 1, padding)
    y = np.zeros((n, do, ho, wo, c))
    for od in range(do):
        for oh in range(ho):
            for ow in range(wo):
                cells = [x[:, p, r, q, :]
                         for p in range(od * sd - pf, od * sd - pf + pd)
                         for r in range(oh * sh - pt, oh * sh - pt + ph)
                         for q in range(ow * sw - pl, ow * sw - pl + pw)
                         if 0 <= p < d and 0 <= r < h and 0 <= q < w]
                stack = np.stack(cells, axis=0)
                if pool_mode == "max":
                    y[:, od, oh, ow, :] = stack.max(axis=0)
                else:
                    y[:, od, oh, ow, :] = stack.sum(axis=0) / len(cells)
    return _out_format(y, data_format)


def resize_volumes(x, depth_factor, height_factor, width_factor, data_format="channels_last"):
    """Nearest neighbour: output cell (p, r, q) copies input cell (p // fd, r // fh, q // fw)."""
    x = _in_format(x, data_format)
    n, d, h, w, c = x.shape
    y = np.zeros((n, d * depth_factor, h * height_factor, w * width_factor, c))
    for p in range(y.shape[1]):
        for r in range(y.shape[2]):
            for q in range(y.shape[3]):
                y[:, p, r, q, :] = x[:, p // depth_factor, r // height_factor, q // width_factor, :]
    return _out_format(y, data_format)


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format="channels_last"):
    x = _in_format(x, data_format)
    n, d, h, w, c = x.shape
    (f0, f1), (t0, t1), (l0, l1) = padding
    y = np.zeros((n, d + f0 + f1, h + t0 + t1, w + l0 + l1, c))
    y[:, f0:f0 + d, t0:t0 + h, l0:l0 + w, :] = x
    return _out_format(y, data_format)

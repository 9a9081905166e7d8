"""Activations, softmax, cross-entropies, dropout, bias_add, batch normalization."""
from __future__ import annotations

import numpy as np

from .. import config
from ..config import normalize_data_format
from ..graph import (Constant, Tensor, apply, as_tensor, custom_gradient, defop, normalize_axes, normalize_axis,
                     shape_str)
from .math import (_float, add, cast, clip, div, exp, expm1, greater, greater_equal, less_equal, log_, log1p,
                   maximum_, minimum_, mul, neg, relu_basic, sigmoid, sqrt, sub, where)
from .reduce import sum as reduce_sum
from .shape import expand_axes, reshape, reshape_like, sum_to

# ---------------------------------------------------------------------------------------------
# softmax / log_softmax primitives


def _softmax_vjp(g, y, x, axis):
    return [mul(y, sub(g, reduce_sum(mul(g, y), axis=axis, keepdims=True)))]


def _log_softmax_vjp(g, y, x, axis):
    return [sub(g, mul(exp(y), reduce_sum(g, axis=axis, keepdims=True)))]


defop("softmax", lambda x, axis: (x.shape, x.dtype), _softmax_vjp)
# a primitive: composed (z - log(sum(exp(z)))) its gradient measured 2x slower on Numba
defop("log_softmax", lambda x, axis: (x.shape, x.dtype), _log_softmax_vjp)


def softmax(x, axis=-1):
    """softmax(x, axis=-1): exp(x - max) / sum(exp(x - max)) along `axis`."""
    x = _float(x, "softmax")
    if x.ndim == 0:
        raise ValueError("softmax: expects a tensor of rank >= 1, got a scalar")
    return apply("softmax", x, axis=normalize_axis(axis, x.ndim, "softmax"))


def log_softmax(x, axis=-1):
    """log_softmax(x, axis=-1): log(softmax(x)) computed stably."""
    x = _float(x, "log_softmax")
    return apply("log_softmax", x, axis=normalize_axis(axis, x.ndim, "log_softmax"))


# ---------------------------------------------------------------------------------------------
# activations


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """relu(x, alpha=0.0, max_value=None, threshold=0.0): max(x, 0) by default; x < threshold gives
    alpha * (x - threshold); values are capped at max_value."""
    x = _float(x, "relu")
    if alpha == 0 and max_value is None and threshold == 0:
        return relu_basic(x)
    if isinstance(alpha, Tensor) or alpha != 0:
        above = clip(x, 0.0, max_value)
        return where(greater_equal(x, threshold), above, mul(sub(x, threshold), alpha))
    out = relu_basic(x) if threshold == 0 else where(greater_equal(x, threshold), maximum_(x, 0.0), 0.0)
    if max_value is not None:
        out = minimum_(out, max_value)
    return out


def elu(x, alpha=1.0):
    """elu(x, alpha=1.0): x for x > 0, alpha * (exp(x) - 1) otherwise."""
    x = _float(x, "elu")
    # exp only of the non-positive part: the unused branch must not overflow (its gradient is 0 * inf)
    negative = mul(expm1(minimum_(x, 0.0)), alpha)
    return where(greater(x, 0.0), x, negative)


def selu(x):
    """selu(x): scale * elu(x, alpha) with the self-normalising constants."""
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return mul(elu(x, alpha), scale)


def exponential(x):
    return exp(x)


# ---------------------------------------------------------------------------------------------
# cross-entropies


def _eps(dtype):
    return float(config.epsilon())


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """categorical_crossentropy(target, output, from_logits=False, axis=-1): per-sample
    cross-entropy over `axis`. Probabilities are renormalised and clipped to [eps, 1 - eps]."""
    output = _float(output, "categorical_crossentropy")
    target = cast(as_tensor(target), output.dtype)
    if output.ndim == 0:
        raise ValueError("categorical_crossentropy: output must have rank >= 1")
    axis = normalize_axis(axis, output.ndim, "categorical_crossentropy")
    _check_same_shape(target, output, "categorical_crossentropy")
    if from_logits:
        return neg(reduce_sum(mul(target, log_softmax(output, axis)), axis=axis))
    p = div(output, reduce_sum(output, axis=axis, keepdims=True))
    eps = _eps(output.dtype)
    logp = log_(clip(p, eps, 1.0 - eps))
    loss = neg(reduce_sum(mul(target, logp), axis=axis))
    # probabilities made by a softmax along the same axis (Dense(..., activation='softmax')): the
    # gradient goes to the softmax's input in the same step (the softmax's own VJP, three more
    # steps, then carries only what other readers of its output send back)
    softmax_in = output.op == "softmax" and output.attrs.get("axis") == axis
    wrt = output.inputs[0] if softmax_in else output

    def vjp(g, target, wrt, output, logp, wanted):
        # what autodiff derives from the chain above, the probabilities' (or logits') part as one
        # op; logp is read, not differentiated (declared so that substitute maps it). The
        # probabilities themselves asked for: their gradient, and the softmax's VJP after it
        fold = softmax_in and output.id not in wanted
        grad = apply("categorical_crossentropy_grad", g, target, output, axis=axis, eps=eps, softmax=fold)
        return [mul(neg(expand_axes(g, (axis,))), logp), grad if fold else None, None if fold else grad, None]
    return custom_gradient(loss, (target, wrt, output, logp), vjp)


def crossentropy_grad_composite(g, target, output, axis, eps, softmax=False):
    """The gradient of K.categorical_crossentropy(target, output) (probabilities) with respect to
    `output` for the per-sample output gradient g, as autodiff composes it from the VJPs of its
    chain (renormalise, clip, log, times target, sum, negate), and with `softmax`, with respect to
    the input of the softmax whose result `output` is (softmax's VJP after it): the definition of
    the categorical_crossentropy_grad primitive."""
    s = reduce_sum(output, axis=axis, keepdims=True)
    q = div(output, s)
    a = maximum_(q, eps)
    c = minimum_(a, 1.0 - eps)
    gc = div(mul(neg(expand_axes(g, (axis,))), target), c)
    gq = where(greater_equal(q, eps), where(less_equal(a, 1.0 - eps), gc, 0.0), 0.0)
    grad = add(div(gq, s), reduce_sum(neg(div(mul(gq, q), s)), axis=axis, keepdims=True))
    return _softmax_vjp(grad, output, None, axis)[0] if softmax else grad


def _crossentropy_grad_infer(g, target, output, axis, eps, softmax=False):
    kept = output.shape[:axis] + output.shape[axis + 1:]
    if g.ndim != len(kept) or any(a is not None and b is not None and a != b for a, b in zip(g.shape, kept)) \
            or target.ndim != output.ndim:
        raise ValueError(f"categorical_crossentropy_grad: g {shape_str(g.shape)}, target {shape_str(target.shape)} "
                         f"and output {shape_str(output.shape)} do not match along axis {axis}")
    return output.shape, output.dtype


def _crossentropy_grad_vjp(gg, out, g, target, output, axis, eps, softmax=False):
    from ..autodiff import gradients
    return gradients(reduce_sum(mul(gg, crossentropy_grad_composite(g, target, output, axis, eps, softmax))),
                     [g, target, output])


# the gradient of categorical_crossentropy of probabilities with respect to them: one primitive
# instead of about twenty small steps on (batch, classes) arrays (docs/architecture.md, Fused patterns)
defop("categorical_crossentropy_grad", _crossentropy_grad_infer, _crossentropy_grad_vjp)


def _check_same_shape(target, output, who):
    if target.ndim != output.ndim or any(a is not None and b is not None and a != b
                                          for a, b in zip(target.shape, output.shape)):
        raise ValueError(f"{who}: target {shape_str(target.shape)} and output {shape_str(output.shape)} "
                         "must have the same shape")


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1): cross-entropy
    with integer class targets (any shape that flattens to output's non-class entries)."""
    from .shape import flatten, one_hot, permute_dimensions
    output = _float(output, "sparse_categorical_crossentropy")
    axis = normalize_axis(axis, output.ndim, "sparse_categorical_crossentropy")
    if axis != output.ndim - 1:
        perm = [i for i in range(output.ndim) if i != axis] + [axis]
        output = permute_dimensions(output, perm)
    classes = output.shape[-1]
    if classes is None:
        raise ValueError(f"sparse_categorical_crossentropy: the class axis of {shape_str(output.shape)} must be known")
    if from_logits:
        logp = log_softmax(output, -1)
    else:
        eps = _eps(output.dtype)
        logp = log_softmax(log_(clip(output, eps, 1.0 - eps)), -1)
    target = as_tensor(target)
    if np.dtype(target.dtype).kind == "f":
        target = cast(target, "int64")
    flat_t = flatten(target)
    flat_logp = reshape(logp, (-1, classes))
    # one_hot is floatx: cast it, or float16 outputs would come back as float32
    per_sample = neg(reduce_sum(mul(cast(one_hot(flat_t, classes), logp.dtype), flat_logp), axis=-1))
    if output.ndim == 1:
        return reshape(per_sample, ())
    return reshape_like(per_sample, output[..., 0])


def binary_crossentropy(target, output, from_logits=False):
    """binary_crossentropy(target, output, from_logits=False): elementwise binary cross-entropy;
    probabilities are clipped to [eps, 1 - eps]; the logits form is computed stably."""
    output = _float(output, "binary_crossentropy")
    target = cast(as_tensor(target), output.dtype)
    if from_logits:
        from .math import abs as abs_
        z = output
        return add(sub(maximum_(z, 0.0), mul(z, target)), log1p(exp(neg(abs_(z)))))
    eps = _eps(output.dtype)
    p = clip(output, eps, 1.0 - eps)
    return neg(add(mul(target, log_(p)), mul(sub(1.0, target), log_(sub(1.0, p)))))


def l2_normalize(x, axis=None):
    """l2_normalize(x, axis=None): x / sqrt(max(sum(x ** 2, axis), 1e-12))."""
    from .math import square_
    x = _float(x, "l2_normalize")
    ss = reduce_sum(square_(x), axis=axis, keepdims=True)
    # float16 rounds 1e-12 to 0 (a zero vector would give 0/0): floor at its smallest normal number
    return div(x, sqrt(maximum_(ss, max(1e-12, float(np.finfo(x.dtype).tiny)))))


def in_top_k(predictions, targets, k):
    """in_top_k(predictions, targets, k): bool (batch,): whether predictions[i, targets[i]] is
    among the top k of row i (ties count as inside; a non-finite target score gives False)."""
    from .shape import flatten, one_hot
    predictions = as_tensor(predictions)
    if predictions.ndim != 2:
        raise ValueError(f"in_top_k: predictions must be 2-D (batch, classes), got {shape_str(predictions.shape)}")
    classes = predictions.shape[1]
    t = as_tensor(targets)
    if np.dtype(t.dtype).kind == "f":
        t = cast(t, "int64")
    mask = cast(one_hot(flatten(t), classes), "bool")
    score = reduce_sum(where(mask, predictions, 0.0), axis=1, keepdims=True)
    larger = reduce_sum(cast(greater(predictions, score), "int32"), axis=1)
    from .math import equal_, less, logical_and
    finite = equal_(sub(score, score), 0.0)
    from .shape import squeeze_axes
    return logical_and(less(larger, int(k)), squeeze_axes(finite, (1,)))


# ---------------------------------------------------------------------------------------------
# dropout, bias


def dropout(x, level, noise_shape=None, seed=None):
    """dropout(x, level, noise_shape=None, seed=None): zero each entry with probability `level`
    and scale the rest by 1 / (1 - level); `noise_shape` shares the mask along its size-1 axes."""
    from .random import random_uniform
    from .shape import shape as shape_
    x = _float(x, "dropout")
    if isinstance(level, Tensor) or not 0.0 <= float(level) < 1.0:
        raise ValueError(f"dropout: level must be a number in [0, 1), got {level!r}")
    level = float(level)
    if noise_shape is None:
        shape = x.shape if None not in x.shape else shape_(x)
    else:
        noise_shape = tuple(noise_shape)
        if len(noise_shape) != x.ndim:
            raise ValueError(f"dropout: noise_shape {noise_shape} must have the rank of x {shape_str(x.shape)}")
        if any(d is None for d in noise_shape) and any(x.shape[i] is None for i, d in enumerate(noise_shape) if d is None):
            s = shape_(x)
            shape = [s[i] if d is None else int(d) for i, d in enumerate(noise_shape)]
        else:
            shape = tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    keep = greater_equal(random_uniform(shape, 0.0, 1.0, dtype=x.dtype, seed=seed), level)
    return mul(x, mul(cast(keep, x.dtype), 1.0 / (1.0 - level)))


def bias_add(x, bias, data_format=None):
    """bias_add(x, bias, data_format=None): add a bias along the channel axis; bias is (C,) or of
    rank ndim(x) - 1 (a full per-position bias)."""
    data_format = normalize_data_format(data_format)
    x, bias = as_tensor(x), as_tensor(bias)
    if bias.ndim != 1 and bias.ndim != x.ndim - 1:
        raise ValueError(f"bias_add: unexpected bias dimensions {bias.ndim}; expected 1 or {x.ndim - 1} "
                         f"for x of shape {shape_str(x.shape)}")
    if bias.dtype != x.dtype:
        bias = cast(bias, x.dtype)
    channels = x.shape[1] if data_format == "channels_first" and x.ndim > 2 else x.shape[-1]
    if bias.ndim == 1:
        if channels is not None and bias.shape[0] is not None and bias.shape[0] != channels:
            raise ValueError(f"bias_add: bias {shape_str(bias.shape)} does not match the {channels} channels "
                             f"of x {shape_str(x.shape)} ({data_format})")
        if data_format == "channels_first" and x.ndim > 2:
            bias = reshape(bias, (1, bias.shape[0]) + (1,) * (x.ndim - 2))
        return add(x, bias)
    if data_format == "channels_first" and x.ndim > 2:
        # Keras reshapes (not transposes) the bias to put its last axis in channel position
        b = bias.shape
        bias = reshape(bias, (b[-1],) + tuple(b[:-1]))
    return add(x, expand_axes(bias, (0,)))


# ---------------------------------------------------------------------------------------------
# batch normalization


def _bn_infer(x, gamma, beta, axes, epsilon):
    keep = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    return [(x.shape, x.dtype), (keep, x.dtype), (keep, x.dtype)]


def _bn_vjp(grads, node, x, gamma, beta, axes, epsilon):
    from .tensors import zeros_like
    gy, gmean, gvar = grads
    outs = [apply("tuple_get", node, index=i) for i in (1, 2)]
    mean, var = outs  # re-reading the forward's statistics (same node, no recomputation)
    gy = gy if gy is not None else zeros_like(x, dtype=x.dtype)
    gmean = gmean if gmean is not None else zeros_like(mean, dtype=x.dtype)
    gvar = gvar if gvar is not None else zeros_like(var, dtype=x.dtype)
    dx, dgamma, dbeta = apply("batchnorm_train_backward", x, gamma, mean, var, gy, gmean, gvar,
                              axes=axes, epsilon=epsilon)
    return [dx, sum_to(dgamma, gamma), sum_to(dbeta, beta)]


def _bn_backward_infer(x, gamma, mean, var, gy, gmean, gvar, axes, epsilon):
    return [(x.shape, x.dtype), (mean.shape, x.dtype), (mean.shape, x.dtype)]


defop("batchnorm_train", _bn_infer, _bn_vjp, num_outputs=3)
defop("batchnorm_train_backward", _bn_backward_infer, num_outputs=3)


def normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3):
    """normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3) ->
    (normed, mean, variance): batch statistics over `reduction_axes` (biased variance); mean and
    variance have the shape of the axes that are kept."""
    x = _float(x, "normalize_batch_in_training")
    axes = normalize_axes(reduction_axes, x.ndim, "normalize_batch_in_training")
    keep = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    g = _param_keep(gamma, x, axes, 1.0, "gamma")
    b = _param_keep(beta, x, axes, 0.0, "beta")
    y, mean, var = apply("batchnorm_train", x, g, b, axes=axes, epsilon=float(epsilon))
    from .shape import squeeze_axes
    return y, squeeze_axes(mean, axes), squeeze_axes(var, axes)


def _param_keep(p, x, axes, default, name):
    """A gamma/beta given in the shape of the kept axes (or already broadcastable) in keepdims form."""
    if p is None:
        return Constant(np.full((1,) * x.ndim, default, dtype=x.dtype))
    given = cast(as_tensor(p), x.dtype)
    kept = [i for i in range(x.ndim) if i not in axes]
    p = None
    if given.ndim == x.ndim:
        p = given
    elif given.ndim == len(kept):
        p = expand_axes(given, axes)
    elif given.ndim == 0:
        p = reshape(given, (1,) * x.ndim)
    elif given.ndim == 1 and len(kept) >= 1:
        shape = [1] * x.ndim
        shape[kept[-1]] = given.shape[0] if given.shape[0] is not None else -1
        p = reshape(given, tuple(shape))
    if p is None or not _fits(p.shape, x.shape, axes):
        raise ValueError(f"normalize_batch_in_training: {name} of shape {shape_str(given.shape)} does not fit x "
                         f"{shape_str(x.shape)} reduced over axes {list(axes)} (expected the shape of the kept "
                         f"axes, {shape_str(tuple(x.shape[i] for i in kept))})")
    return p


def _fits(pshape, xshape, axes=()):
    """A keepdims-form parameter broadcasts onto x without changing x's shape (1 on reduced axes)."""
    if len(pshape) != len(xshape):
        return False
    for i, (a, b) in enumerate(zip(pshape, xshape)):
        if a is None or a == 1:
            continue
        if i in axes or (b is not None and a != b):
            return False
    return True


def batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    """batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    (x - mean) / sqrt(var + epsilon) * gamma + beta. 1-D statistics are aligned with `axis`."""
    x = _float(x, "batch_normalization")
    axis = normalize_axis(axis, x.ndim, "batch_normalization") if x.ndim else 0

    def align(t):
        if t is None:
            return None
        t = cast(as_tensor(t), x.dtype)
        if t.ndim == 1 and x.ndim > 1 and axis != x.ndim - 1:
            shape = [1] * x.ndim
            shape[axis] = t.shape[0] if t.shape[0] is not None else -1
            return reshape(t, tuple(shape))
        return t

    mean, var, beta, gamma = align(mean), align(var), align(beta), align(gamma)
    for pname, t in (("mean", mean), ("var", var), ("beta", beta), ("gamma", gamma)):
        if t is not None and (t.ndim > x.ndim or not _fits((1,) * (x.ndim - t.ndim) + tuple(t.shape), x.shape)):
            raise ValueError(f"batch_normalization: {pname} of shape {shape_str(t.shape)} does not broadcast onto x "
                             f"{shape_str(x.shape)} (axis {axis}): expected ({x.shape[axis]},), a scalar, or a "
                             "full-rank shape with 1 on the other axes")
    inv = div(1.0, sqrt(add(var, float(epsilon))))
    if gamma is not None:
        inv = mul(inv, gamma)
    out = mul(sub(x, mean), inv)
    if beta is not None:
        out = add(out, beta)
    return out

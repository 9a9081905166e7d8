"""The Numba backend's callables for the declared fused patterns (interface.PATTERNS) other than
conv + bias (which is the conv kernel's `bias=`): a GEMM with its epilogue, categorical
cross-entropy of probabilities in one pass per row, a pooling's backprop masked by relu's
gradient (kernels/pool.py's `mask=`), training-mode batch norm writing relu of its result
(kernels/batchnorm.py's `relu=`), batch norm's backward pass summing the dx it writes
(`dsum=`), batch norm at inference (+ relu) through the same kernel, and a convolution + bias
followed by batch norm at inference (+ relu) in the convolution kernel's epilogue (kernels/conv.py's
`affine=`), and the same (with relu) followed by max pooling in one pass (kernels/conv_pool.py).
Each falls back to the pattern's composite
(the chain's primitives one after the other) for inputs its kernel does not cover."""
from __future__ import annotations

import numpy as np

from . import gemm
from .crossentropy import crossentropy_rows, small

_FLOATS = ("float32", "float64")


def _floats(*nodes) -> bool:
    return all(n.dtype in _FLOATS for n in nodes) and len({n.dtype for n in nodes}) == 1


def _fast(*arrays) -> bool:
    """float32 or float64 arrays of one dtype (what the kernels take; as NumbaBackend's _fast)."""
    dt = arrays[0].dtype
    return dt in (np.float32, np.float64) and all(a.dtype == dt for a in arrays)


def _w(a):
    """A writeable array (a read-only one would compile a second copy of the kernel)."""
    return a if a.flags.writeable else a.copy()


def _into(out, y):
    """A fallback's result y as the fused form returns it: y itself, or (`out` given: the plan's
    buffer) copied into `out`; of a tuple result, its first element."""
    if out is None:
        return y
    if isinstance(y, tuple):
        np.copyto(out, y[0])
        return (out,) + tuple(y[1:])
    np.copyto(out, y)
    return out


def _conv2d_chain(nodes):
    """The first node's attributes when the chain is a 2-D float convolution with explicit
    padding and every value of one float dtype, else None."""
    attrs = dict(nodes[0].attrs)
    if len(attrs["strides"]) != 2 or isinstance(attrs.get("padding"), str) or not _floats(
            *(i for n in nodes for i in n.inputs), *nodes):
        return None
    return attrs


def gemm_epilogue(backend, pattern, nodes):
    """act(a @ b + bias) for a 2-D (or N-D, 2-D b) float matmul, or None."""
    mm = nodes[0]
    a, b = mm.inputs
    if b.ndim != 2 or a.ndim < 2 or not _floats(a, b, *nodes) or not gemm.available():
        return None
    act = nodes[2].op if len(nodes) == 3 else None
    if act not in gemm.ACTIVATIONS:
        return None
    composite = pattern.composite(backend, nodes)
    matmul = gemm.matmul

    def gemm_bias_act(x, w, bias, out=None):
        if x.dtype != w.dtype or bias.dtype != w.dtype or bias.shape != (w.shape[-1],) or w.ndim != 2:
            return _into(out, composite(x, w, bias))
        return matmul(x, w, out=out, bias=bias, act=act)
    return gemm_bias_act


def conv_batchnorm(backend, pattern, nodes):
    """relu?(((conv(x, w) + b) - mean) * scale + offset) for a 2-D float convolution with
    explicit padding (the inference graph of Conv2D -> BatchNormalization), or None."""
    attrs = _conv2d_chain(nodes)
    if attrs is None:
        return None
    from . import conv
    composite = pattern.composite(backend, nodes)
    relu = len(nodes) == 6

    def conv_bias_batchnorm(x, w, b, mean, scale, offset, out=None):
        vectors = (b, mean, scale, offset)
        if x.ndim != 4 or not _fast(x, w, *vectors) or any(v.shape != (w.shape[-1],) for v in vectors):
            return _into(out, composite(x, w, *vectors))
        return conv.conv2d(_w(x), _w(w), out=out, bias=b, affine=(mean, scale, offset), relu=relu, **attrs)
    return conv_bias_batchnorm


def conv_maxpool(backend, pattern, nodes):
    """maxpool(relu(((conv(x, w) + b) - mean) * scale + offset)), or without the batch norm
    (conv+bias+relu+maxpool), in one pass (kernels/conv_pool.py) for a 2-D float convolution
    whose static shapes it takes (conv_pool.fits: no padding, not a Winograd convolution);
    None otherwise (the chain is then left to the shorter patterns)."""
    conv_node, pool_node = nodes[0], nodes[-1]
    attrs = _conv2d_chain(nodes)
    if attrs is None:
        return None
    from . import conv_pool
    x, w = conv_node.inputs
    geo = dict(pool_size=tuple(pool_node.attrs["pool_size"]), pool_strides=tuple(pool_node.attrs["strides"]))
    if not conv_pool.fits(conv_node.dtype, tuple(x.shape), tuple(w.shape), attrs["strides"], attrs["padding"],
                          attrs["dilation"], attrs["groups"], geo["pool_size"], geo["pool_strides"],
                          pool_node.attrs["padding"]):
        return None
    composite = pattern.composite(backend, nodes)
    fused = conv_pool.conv2d_maxpool
    strides, dilation = tuple(attrs["strides"]), tuple(attrs["dilation"])

    def conv_relu_maxpool(x, w, b, *affine, out=None):
        vectors = (b, *affine)
        if x.ndim != 4 or not _fast(x, w, *vectors) or any(v.shape != (w.shape[-1],) for v in vectors):
            return _into(out, composite(x, w, *vectors))
        return fused(_w(x), _w(w), strides, dilation, out=out, bias=b, affine=affine or None, relu=True, **geo)
    return conv_relu_maxpool


def crossentropy(backend, pattern, nodes):
    """The categorical cross-entropy chain (sum, div, maximum, minimum, log, mul, sum, neg) of
    float probabilities, or None."""
    probs = nodes[0].inputs[0]
    lo_node, hi_node = nodes[2].inputs[1], nodes[3].inputs[1]
    if not _floats(probs, *nodes) or lo_node.dtype != probs.dtype or hi_node.dtype != probs.dtype:
        return None
    composite = pattern.composite(backend, nodes)

    def crossentropy_pass(p, p_again, lo, hi, t, out=None):
        if (p is not p_again or t.shape != p.shape or t.dtype != p.dtype or p.dtype.name not in _FLOATS
                or p.ndim == 0 or p.shape[-1] == 0 or np.ndim(lo) or np.ndim(hi) or small(p)):
            y = composite(p, p_again, lo, hi, t)
        else:
            c = p.shape[-1]
            p2 = np.ascontiguousarray(p).reshape(-1, c)
            t2 = np.ascontiguousarray(t).reshape(-1, c)
            y = out if out is not None and out.flags.c_contiguous else np.empty(p.shape[:-1], p.dtype)
            dt = p.dtype.type
            crossentropy_rows(p2, t2, dt(lo), dt(hi), y.reshape(-1))
        if out is None or y is out:
            return y
        np.copyto(out, y)
        return out
    return crossentropy_pass


def pool_relu_grad(backend, pattern, nodes):
    """relu_grad(pool_backprop(...), m) for a 2-D max or average pooling of floats, or None."""
    pb = nodes[0]
    attrs = dict(pb.attrs)
    mode = attrs.get("mode")
    m_node = nodes[1].inputs[1]
    if (mode not in ("max", "avg") or len(attrs["strides"]) != 2 or isinstance(attrs.get("padding"), str)
            or (mode == "avg" and len(pb.inputs) != 1) or not _floats(*pb.inputs, m_node, *nodes)):
        return None
    from . import pool
    composite = pattern.composite(backend, nodes)
    geometry = (attrs["pool_size"], attrs["strides"], attrs["padding"])

    def pool_backprop_relu_grad(*arrays, out=None):
        *ins, m = arrays
        if not _fast(*arrays) or m.shape != (ins[0].shape if mode == "max" else
                                             (ins[0].shape[0],) + tuple(attrs["input_shape"])):
            return _into(out, composite(*arrays))
        if mode == "max":
            x, y, g = ins
            return pool.max_pool2d_backprop(_w(x), _w(y), _w(g), *geometry, out=out, mask=_w(m))
        (g,) = ins
        return pool.avg_pool2d_backprop(_w(g), m.shape, *geometry, out=out, mask=_w(m))
    return pool_backprop_relu_grad


def batchnorm_relu(backend, pattern, nodes):
    """(relu(y), mean, var) of batchnorm_train's (y, mean, var) for float inputs, or None."""
    bn = nodes[0]
    if not _floats(*bn.inputs, nodes[-1]):
        return None
    from . import batchnorm
    composite = pattern.composite(backend, nodes)
    axes, epsilon = bn.attrs["axes"], bn.attrs["epsilon"]

    def batchnorm_train_relu(x, gamma, beta, out=None):
        if not _fast(x, gamma, beta) or x.size == 0:  # as NumbaBackend.batchnorm_train
            return _into(out, composite(x, gamma, beta))
        return batchnorm.batchnorm_train_forward(_w(x), _w(gamma), _w(beta), axes, epsilon, out=out, relu=True)
    return batchnorm_train_relu


def batchnorm_add_relu(backend, pattern, nodes):
    """(relu?(y + r), mean, var) of batchnorm_train's (y, mean, var) and a shortcut r of y's
    shape, float inputs, or None."""
    bn = nodes[0]
    if not _floats(*bn.inputs, *nodes[2].inputs, nodes[-1]):
        return None
    from . import batchnorm
    composite = pattern.composite(backend, nodes)
    axes, epsilon = bn.attrs["axes"], bn.attrs["epsilon"]
    relu = len(nodes) == 4

    def batchnorm_train_add_relu(x, gamma, beta, r, out=None):
        if not _fast(x, gamma, beta, r) or x.size == 0 or r.shape != x.shape:  # broadcast: the ops
            return _into(out, composite(x, gamma, beta, r))
        return batchnorm.batchnorm_train_forward(_w(x), _w(gamma), _w(beta), axes, epsilon, out=out, relu=relu,
                                                 residual=_w(r))
    return batchnorm_train_add_relu


def batchnorm_backward_sum(backend, pattern, nodes):
    """(dx, dgamma, dbeta, sum of dx over the batch norm's axes) of batchnorm_train_backward's
    (dx, dgamma, dbeta) for float inputs, the sum taken while dx is written, or None."""
    bn, s = nodes[0], nodes[-1]
    if not _floats(*bn.inputs, s):
        return None
    from . import batchnorm
    composite = pattern.composite(backend, nodes)
    axes, epsilon = bn.attrs["axes"], bn.attrs["epsilon"]
    keepdims = bool(s.attrs.get("keepdims"))

    def batchnorm_train_backward_sum(x, gamma, mean, var, gy, gmean, gvar, out=None):
        if not _fast(x, gamma, mean, var, gy, gmean, gvar) or x.size == 0:  # as NumbaBackend's
            return _into(out, tuple(composite(x, gamma, mean, var, gy, gmean, gvar)))
        dx, dgamma, dbeta, total = batchnorm.batchnorm_train_backward(
            *(_w(a) for a in (x, gamma, mean, var, gy, gmean, gvar)), axes, epsilon, out=out, dsum=True)
        if not keepdims:
            total = total.reshape(tuple(d for k, d in enumerate(x.shape) if k not in batchnorm.axes_of(x.ndim, axes)))
        return dx, dgamma, dbeta, total
    return batchnorm_train_backward_sum


def batchnorm_inference(backend, pattern, nodes):
    """relu?((x - mean) * scale + offset) with (C,) vectors, floats of one dtype, or None."""
    if not _floats(*nodes[0].inputs, *(i for n in nodes for i in n.inputs), *nodes):
        return None
    from . import batchnorm
    composite = pattern.composite(backend, nodes)
    relu = len(nodes) == 4

    def channel_affine(x, mean, scale, offset, out=None):
        C = x.shape[-1] if x.ndim else -1
        if (x.ndim < 2 or x.dtype.name not in _FLOATS or any(v.shape != (C,) or v.dtype != x.dtype
                                                              for v in (mean, scale, offset))):
            return _into(out, composite(x, mean, scale, offset))
        return batchnorm.channel_affine(_w(x), _w(mean), _w(scale), _w(offset), relu=relu, out=out)
    return channel_affine

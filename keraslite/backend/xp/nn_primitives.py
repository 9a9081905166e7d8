"""Backend methods for the nn primitives, delegating to the array-generic kernels in xp/nn.py.

The graph passes spatial input shapes without the batch dimension (it may be unknown when the
graph is built); the batch size is taken from the arrays at run time.

The conv and pool primitives are rank-generic (their spatial rank is the length of `strides`);
each method dispatches on it: rank 2 and rank 3 run their kernels, rank 1 runs the rank-2 kernel
on a unit first spatial axis (`lift` below, shared with the backends that override rank 2), so a
1-D convolution computes exactly what a 2-D one over (N, 1, L, C) computes.
"""
from __future__ import annotations

from . import nn

_POOL = {(2, "max"): (nn.max_pool2d, nn.max_pool2d_backprop), (2, "avg"): (nn.avg_pool2d, nn.avg_pool2d_backprop),
         (3, "max"): (nn.max_pool3d, nn.max_pool3d_backprop), (3, "avg"): (nn.avg_pool3d, nn.avg_pool3d_backprop)}


def _into(out, y):
    """The result written into a caller-given `out` (Backend.out_mode), else returned as is."""
    if out is None:
        return y
    out[...] = y
    return out


def _rank(geometry, who):
    r = len(geometry)
    if r not in (1, 2, 3):
        raise ValueError(f"{who}: {r} spatial axes; 1, 2 or 3 are supported")
    return r


def lift(a):
    """A rank-1 operand seen as rank 2: (N, L, C) -> (N, 1, L, C); None stays None."""
    return None if a is None else a.reshape(a.shape[:1] + (1,) + a.shape[1:])


def lift_kernel(w):
    """A rank-1 kernel (k, Cin, Cout) -> (1, k, Cin, Cout)."""
    return w.reshape((1,) + tuple(w.shape))


def lift_geometry(**geo):
    """Rank-1 attributes as rank 2 (a unit first spatial axis with no padding)."""
    out = dict(geo)
    for key in ("strides", "dilation", "pool_size", "factors"):
        if key in out:
            out[key] = (1,) + tuple(out[key])
    if "padding" in out:
        out["padding"] = ((0, 0),) + tuple(tuple(p) for p in out["padding"])
    if out.get("input_shape") is not None:
        out["input_shape"] = (1,) + tuple(out["input_shape"])
    if "filter_shape" in out:
        out["filter_shape"] = (1,) + tuple(out["filter_shape"])
    return out


def drop(y, out=None):
    """The rank-2 result of a lifted call as rank 1 ((N, 1, L, C) -> (N, L, C)): `out` itself when
    the caller gave one (the kernel wrote into a view of it)."""
    if out is not None:
        return out
    return y.reshape(y.shape[:1] + y.shape[2:])


def _ungrouped(groups):
    if int(groups) != 1:
        raise ValueError(f"conv: grouped convolution (groups={groups}) is supported for 1 and 2 spatial axes only")


def _pool_fn(rank, mode):
    fns = _POOL.get((rank, mode))
    if fns is None:
        raise ValueError(f"pool: mode must be 'max' or 'avg', got {mode!r}")
    return fns


def _resize_fns(method):
    if method == "nearest":
        return nn.resize_nearest, nn.resize_nearest_backprop
    if method == "bilinear":
        return nn.resize_bilinear, nn.resize_bilinear_backprop
    raise ValueError(f"resize: method must be 'nearest' or 'bilinear', got {method!r}")


class NNPrimitives:
    # ------------------------------------------------------------ rank-generic conv and pooling
    def conv(self, x, w, strides, padding, dilation, groups, out=None):
        r = _rank(strides, "conv")
        if r == 1:
            y = self.conv(lift(x), lift_kernel(w), **lift_geometry(strides=strides, padding=padding,
                                                                dilation=dilation), groups=groups, out=lift(out))
            return drop(y, out)
        if r == 2:
            return _into(out, nn.conv2d(self.xp, x, w, strides, padding, dilation, groups))
        _ungrouped(groups)
        return _into(out, nn.conv3d(self.xp, x, w, strides, padding, dilation))

    def conv_backprop_input(self, g, w, input_shape, strides, padding, dilation, groups, out=None):
        r = _rank(strides, "conv_backprop_input")
        if r == 1:
            y = self.conv_backprop_input(lift(g), lift_kernel(w), groups=groups, out=lift(out), **lift_geometry(
                input_shape=input_shape, strides=strides, padding=padding, dilation=dilation))
            return drop(y, out)
        shape = (g.shape[0],) + tuple(input_shape)
        if r == 2:
            return _into(out, nn.conv2d_backprop_input(self.xp, g, w, shape, strides, padding, dilation, groups))
        _ungrouped(groups)
        return _into(out, nn.conv3d_backprop_input(self.xp, g, w, shape, strides, padding, dilation))

    def conv_backprop_filter(self, x, g, filter_shape, strides, padding, dilation, groups, out=None):
        r = _rank(strides, "conv_backprop_filter")
        if r == 1:
            dw = self.conv_backprop_filter(lift(x), lift(g), groups=groups, out=lift_kernel(out) if out is not None
                                           else None, **lift_geometry(filter_shape=filter_shape, strides=strides,
                                                                      padding=padding, dilation=dilation))
            return out if out is not None else dw.reshape(dw.shape[1:])
        if r == 2:
            return _into(out, nn.conv2d_backprop_filter(self.xp, x, g, tuple(filter_shape), strides, padding,
                                                        dilation, groups))
        _ungrouped(groups)
        return _into(out, nn.conv3d_backprop_filter(self.xp, x, g, tuple(filter_shape), strides, padding, dilation))

    def pool(self, x, mode, pool_size, strides, padding, out=None):
        r = _rank(strides, "pool")
        if r == 1:
            y = self.pool(lift(x), mode, out=lift(out), **lift_geometry(pool_size=pool_size, strides=strides,
                                                                       padding=padding))
            return drop(y, out)
        return _into(out, _pool_fn(r, mode)[0](self.xp, x, pool_size, strides, padding))

    def pool_backprop(self, *arrays, mode, pool_size, strides, padding, input_shape=None, out=None):
        """max: arrays (x, y, g); avg: (g,) with the input's spatial shape `input_shape`."""
        r = _rank(strides, "pool_backprop")
        if r == 1:
            y = self.pool_backprop(*(lift(a) for a in arrays), mode=mode, out=lift(out), **lift_geometry(
                pool_size=pool_size, strides=strides, padding=padding, input_shape=input_shape))
            return drop(y, out)
        backprop = _pool_fn(r, mode)[1]
        if mode == "max":
            x, y, g = arrays
            return _into(out, backprop(self.xp, x, y, g, pool_size, strides, padding))
        (g,) = arrays
        return _into(out, backprop(self.xp, g, (g.shape[0],) + tuple(input_shape), pool_size, strides, padding))

    def batchnorm_train(self, x, gamma, beta, axes, epsilon, out=None):
        """(y, mean, var); `out` (optional, y's shape and dtype) receives y (the memory plan)."""
        return _first_into(nn.batchnorm_train_forward(self.xp, x, gamma, beta, axes, epsilon), out)

    def batchnorm_train_backward(self, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=None):
        """(dx, dgamma, dbeta); `out` (optional) receives dx."""
        return _first_into(nn.batchnorm_train_backward(self.xp, x, gamma, mean, var, gy, gmean, gvar, axes,
                                                       epsilon), out)

    def resize(self, x, method, factors):
        return _resize_fns(method)[0](self.xp, x, factors)

    def resize_backprop(self, g, method, factors):
        if method == "bilinear":
            shape = (g.shape[0],) + tuple(d // int(f) for d, f in zip(g.shape[1:-1], factors)) + (g.shape[-1],)
            return nn.resize_bilinear_backprop(self.xp, g, shape, factors)
        return _resize_fns(method)[1](self.xp, g, factors)

    def softmax(self, x, axis, out=None):
        xp = self.xp
        if x.size == 0:  # nothing to normalise (the max over an empty axis has no value)
            return xp.empty_like(x) if out is None else out
        if out is None:
            e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
            return e / xp.sum(e, axis=axis, keepdims=True)
        # the same three passes written into `out` (which may be x: the max is taken first)
        xp.subtract(x, xp.max(x, axis=axis, keepdims=True), out=out)
        xp.exp(out, out=out)
        return xp.divide(out, xp.sum(out, axis=axis, keepdims=True), out=out)

    def log_softmax(self, x, axis):
        xp = self.xp
        if x.size == 0:
            return xp.empty_like(x)
        z = x - xp.max(x, axis=axis, keepdims=True)
        return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))

    def categorical_crossentropy_grad(self, g, target, output, axis, eps, softmax=False, out=None):
        """d/d output of -sum(target * log(clip(output / sum(output), eps, 1 - eps))) along
        `axis`, times the per-sample gradient g (ops/nn.py's crossentropy_grad_composite, whose
        clip passes gradient where eps <= q <= 1 - eps: there min(max(q, eps), 1 - eps) is q);
        `softmax`: then through the softmax whose result `output` is, y * (d - sum(d * y))."""
        xp = self.xp
        dt = output.dtype
        lo, hi = xp.asarray(eps, dt), xp.asarray(1.0 - eps, dt)
        if out is None:
            out = xp.empty(output.shape, dt)
        # one temporary of the result's shape (gq) and a mask: the memory plan counts on few
        s = xp.sum(output, axis=axis, keepdims=True)
        q = xp.divide(output, s, out=out)
        outside = ~((q >= lo) & (q <= hi))
        gq = xp.multiply(-xp.expand_dims(g, axis), target, dtype=dt)
        xp.divide(gq, q, out=gq)
        xp.copyto(gq, xp.asarray(0, dt), where=outside)
        xp.multiply(gq, q, out=out)
        xp.divide(out, s, out=out)
        xp.negative(out, out=out)
        renormalise = xp.sum(out, axis=axis, keepdims=True)
        xp.divide(gq, s, out=out)
        xp.add(out, renormalise, out=out)
        if softmax:
            along = xp.sum(xp.multiply(out, output, out=gq), axis=axis, keepdims=True)
            xp.multiply(output, xp.subtract(out, along, out=out), out=out)
        return out


def _first_into(results, out):
    """A tuple of results with its first copied into `out` (when given)."""
    if out is None:
        return results
    out[...] = results[0]
    return (out,) + tuple(results[1:])

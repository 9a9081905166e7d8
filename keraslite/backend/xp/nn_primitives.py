"""Backend methods for the nn primitives, delegating to the array-generic kernels in xp/nn.py.

The graph passes spatial input shapes without the batch dimension (it may be unknown when the
graph is built); the batch size is taken from the arrays at run time.
"""
from __future__ import annotations

from . import nn


def _into(out, y):
    """The result written into a caller-given `out` (Backend.out_mode), else returned as is."""
    if out is None:
        return y
    out[...] = y
    return out


class NNPrimitives:
    def conv2d(self, x, w, strides, padding, dilation, groups, out=None):
        return _into(out, nn.conv2d(self.xp, x, w, strides, padding, dilation, groups))

    def conv2d_backprop_input(self, g, w, input_shape, strides, padding, dilation, groups, out=None):
        return _into(out, nn.conv2d_backprop_input(self.xp, g, w, (g.shape[0],) + tuple(input_shape), strides,
                                                   padding, dilation, groups))

    def conv2d_backprop_filter(self, x, g, filter_shape, strides, padding, dilation, groups, out=None):
        return _into(out, nn.conv2d_backprop_filter(self.xp, x, g, tuple(filter_shape), strides, padding, dilation,
                                                    groups))

    def max_pool2d(self, x, pool_size, strides, padding, out=None):
        return _into(out, nn.max_pool2d(self.xp, x, pool_size, strides, padding))

    def max_pool2d_backprop(self, x, y, g, pool_size, strides, padding, out=None):
        return _into(out, nn.max_pool2d_backprop(self.xp, x, y, g, pool_size, strides, padding))

    def avg_pool2d(self, x, pool_size, strides, padding, out=None):
        return _into(out, nn.avg_pool2d(self.xp, x, pool_size, strides, padding))

    def avg_pool2d_backprop(self, g, input_shape, pool_size, strides, padding, out=None):
        return _into(out, nn.avg_pool2d_backprop(self.xp, g, (g.shape[0],) + tuple(input_shape), pool_size, strides,
                                                 padding))

    def conv3d(self, x, w, strides, padding, dilation):
        return nn.conv3d(self.xp, x, w, strides, padding, dilation)

    def conv3d_backprop_input(self, g, w, input_shape, strides, padding, dilation):
        return nn.conv3d_backprop_input(self.xp, g, w, (g.shape[0],) + tuple(input_shape), strides, padding,
                                        dilation)

    def conv3d_backprop_filter(self, x, g, filter_shape, strides, padding, dilation):
        return nn.conv3d_backprop_filter(self.xp, x, g, tuple(filter_shape), strides, padding, dilation)

    def max_pool3d(self, x, pool_size, strides, padding):
        return nn.max_pool3d(self.xp, x, pool_size, strides, padding)

    def max_pool3d_backprop(self, x, y, g, pool_size, strides, padding):
        return nn.max_pool3d_backprop(self.xp, x, y, g, pool_size, strides, padding)

    def avg_pool3d(self, x, pool_size, strides, padding):
        return nn.avg_pool3d(self.xp, x, pool_size, strides, padding)

    def avg_pool3d_backprop(self, g, input_shape, pool_size, strides, padding):
        return nn.avg_pool3d_backprop(self.xp, g, (g.shape[0],) + tuple(input_shape), pool_size, strides, padding)

    def batchnorm_train(self, x, gamma, beta, axes, epsilon):
        return nn.batchnorm_train_forward(self.xp, x, gamma, beta, axes, epsilon)

    def batchnorm_train_backward(self, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon):
        return nn.batchnorm_train_backward(self.xp, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon)

    def resize_nearest(self, x, factors):
        return nn.resize_nearest(self.xp, x, factors)

    def resize_nearest_backprop(self, g, factors):
        return nn.resize_nearest_backprop(self.xp, g, factors)

    def resize_bilinear(self, x, factors):
        return nn.resize_bilinear(self.xp, x, factors)

    def resize_bilinear_backprop(self, g, input_shape, factors):
        return nn.resize_bilinear_backprop(self.xp, g, (g.shape[0],) + tuple(input_shape), factors)

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

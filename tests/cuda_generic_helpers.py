"""Shared helpers of the tests/test_cuda_generic*.py modules: seeded test data, the host compiler
mark, and CudaBackend.emulated() instances registered under a temporary name.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from keraslite.backend import registry

from keraslite_cuda import hostsim
from keraslite_cuda.backend import CudaBackend


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_cxx = pytest.mark.skipif(hostsim.compiler() is None, reason="no host C++ compiler (g++/clang++/$CXX)")


# =============================================================================================
# independent references (explicit loops, float64)

def _padded(x, padding, value=0.0):
    (pt, pb), (pl, pr) = padding
    n, h, w, c = x.shape
    out = np.full((n, h + pt + pb, w + pl + pr, c), value, dtype=np.float64)
    out[:, pt:pt + h, pl:pl + w, :] = x
    return out


def _out(size, k, s, d, pads):
    return (size + pads[0] + pads[1] - (d * (k - 1) + 1)) // s + 1


def ref_conv(x, w, strides, padding, dilation, groups):
    n, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho, wo = _out(h, kh, sh, dh, padding[0]), _out(wd, kw, sw, dw, padding[1])
    xp_ = _padded(x, padding)
    og = cout // groups
    y = np.zeros((n, ho, wo, cout))
    for o in range(cout):
        g0 = (o // og) * cg
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        y[:, oh, ow, o] += xp_[:, oh * sh + i * dh, ow * sw + j * dw, g0:g0 + cg] @ w[i, j, :, o]
    return y


def ref_conv_backprop(x, w, gy, strides, padding, dilation, groups):
    """(dx, dw) of sum(conv(x, w) * gy), by the definition (scatter per output cell)."""
    n, h, wd, cin = x.shape
    kh, kw, cg, cout = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho, wo = gy.shape[1:3]
    xp_ = _padded(x, padding)
    dxp = np.zeros_like(xp_)
    dwt = np.zeros(w.shape)
    og = cout // groups
    for o in range(cout):
        g0 = (o // og) * cg
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        r, c = oh * sh + i * dh, ow * sw + j * dw
                        dxp[:, r, c, g0:g0 + cg] += gy[:, oh, ow, o:o + 1] * w[i, j, :, o][None, :]
                        dwt[i, j, :, o] += gy[:, oh, ow, o] @ xp_[:, r, c, g0:g0 + cg]
    (pt, _), (pl, _) = padding
    return dxp[:, pt:pt + h, pl:pl + wd, :], dwt


def ref_pool(x, pool_size, strides, padding, mode):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)) = pool_size, strides, padding
    ho, wo = _out(h, kh, sh, 1, (pt, pb)), _out(w, kw, sw, 1, (pl, pr))
    y = np.zeros((n, ho, wo, c))
    for oh in range(ho):
        for ow in range(wo):
            cells = [(oh * sh + i - pt, ow * sw + j - pl) for i in range(kh) for j in range(kw)]
            cells = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
            vals = np.stack([x[:, r, q, :] for r, q in cells]) if cells else np.full((1, n, c), -np.inf)
            y[:, oh, ow, :] = vals.max(axis=0) if mode == "max" else vals.mean(axis=0)
    return y


def ref_pool_backprop(x, g, pool_size, strides, padding, mode):
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), ((pt, _), (pl, _)) = pool_size, strides, padding
    dx = np.zeros(x.shape)
    for oh in range(g.shape[1]):
        for ow in range(g.shape[2]):
            cells = [(oh * sh + i - pt, ow * sw + j - pl) for i in range(kh) for j in range(kw)]
            cells = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
            for b in range(n):
                for ch in range(c):
                    if mode == "avg":
                        for r, q in cells:
                            dx[b, r, q, ch] += g[b, oh, ow, ch] / len(cells)
                    else:
                        vals = [x[b, r, q, ch] for r, q in cells]
                        k = int(np.argmax(vals))  # first maximal cell, row-major
                        r, q = cells[k]
                        dx[b, r, q, ch] += g[b, oh, ow, ch]
    return dx


def ref_bn(x, gamma, beta, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return y, mean, var


def _r(shape, seed=0, dtype=np.float32, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _distinct(shape, seed=0, dtype=np.float32):
    """Distinct values: max pooling has a unique winner per window."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.01 - n * 0.005).astype(dtype)


_EMULATED: dict = {}


def _emulated(fused_mode):
    if fused_mode not in _EMULATED:
        _EMULATED[fused_mode] = CudaBackend.emulated(fused=fused_mode)
    return _EMULATED[fused_mode]


class _registered:
    def __init__(self, name, backend):
        self.name, self.backend = name, backend

    def __enter__(self):
        registry.register_backend(self.name, lambda: self.backend)

    def __exit__(self, *exc):
        registry._factories.pop(self.name, None)
        registry._instances.pop(self.name, None)

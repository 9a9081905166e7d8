"""Validated 2-D convolution geometry (shapes, strides, padding, dilation, groups) for the
Numba conv kernels: plain Python, kept apart from the kernels so it compiles nothing."""
from __future__ import annotations


def _pair(v, name):
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must have 2 entries, got {v}")
    return v


def _norm_padding(padding):
    p = tuple((int(a), int(b)) for a, b in padding)
    if len(p) != 2 or min(min(a) for a in p) < 0:
        raise ValueError(f"padding must be 2 non-negative (before, after) pairs, got {padding}")
    return p


def _geometry(in_shape, k_shape, strides, padding, dilation, groups):
    N, H, W, Cin = (int(s) for s in in_shape)
    kh, kw, Cig, Co = (int(s) for s in k_shape)
    sh, sw = _pair(strides, "strides")
    dh, dw = _pair(dilation, "dilation")
    (pt, pb), (pl, pr) = _norm_padding(padding)
    G = int(groups)
    if min(sh, sw, dh, dw, G) < 1:
        raise ValueError("strides, dilation and groups must be >= 1")
    if Cin % G or Co % G or Cin // G != Cig:
        raise ValueError(f"conv2d: input channels {Cin}, filter {k_shape} and groups={G} "
                         "do not match (need Cin % groups == 0, Cout % groups == 0, "
                         "filter in-channels == Cin // groups)")
    Hp, Wp = H + pt + pb, W + pl + pr
    Ho = (Hp - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wp - dw * (kw - 1) - 1) // sw + 1
    return N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, max(Ho, 0), max(Wo, 0), G

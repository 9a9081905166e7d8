"""The rank-generic spatial primitives: `conv`, `conv_backprop_input`, `conv_backprop_filter`,
`pool`, `pool_backprop`, `resize` and `resize_backprop`.

Each works on channels-last arrays (N, *spatial, C) of any spatial rank r (1, 2 or 3 in practice);
r is not an attribute of its own but the length of the geometry tuples (`strides`, `pool_size`,
`factors`), and the operands must have r + 2 axes. Padding is explicit ((before, after) per
spatial axis) or 'same' left open when sizes are known only at run time (_conv_common's
_runtime_geometry). `pool` and `pool_backprop` carry mode='max'|'avg', `resize` and
`resize_backprop` method='nearest'|'bilinear'. The K functions in conv.py and volumetric.py build
them."""
from __future__ import annotations

from ..graph import apply, defop, shape_str
from ._conv_common import _GEOMETRY, _avgpool_bp_infer, _axis_pad, _out_len, _runtime_geometry, _static_entries


def _rank(geometry, who):
    r = len(geometry)
    if r < 1:
        raise ValueError(f"{who}: needs at least one spatial axis")
    return r


def _no_dilation(r):
    return (1,) * r


# What each op's 'same' padding is measured on, from its run-time arrays and attributes
# (spatial size, kernel size, dilation); the spatial rank is the length of the strides.
_GEOMETRY.update({
    "conv": lambda arrays, a: (arrays[0].shape[1:-1], arrays[1].shape[:len(a["strides"])], a["dilation"]),
    "conv_backprop_input": lambda arrays, a: (a["input_shape"][:-1], arrays[1].shape[:len(a["strides"])],
                                              a["dilation"]),
    "conv_backprop_filter": lambda arrays, a: (arrays[0].shape[1:-1], a["filter_shape"][:len(a["strides"])],
                                               a["dilation"]),
    "pool": lambda arrays, a: (arrays[0].shape[1:-1], a["pool_size"], _no_dilation(len(a["strides"]))),
    # max: (x, y, g); avg: (g,) with the input's spatial shape as an attribute
    "pool_backprop": lambda arrays, a: ((arrays[0].shape[1:-1] if a["mode"] == "max" else a["input_shape"][:-1]),
                                        a["pool_size"], _no_dilation(len(a["strides"]))),
})

# ---------------------------------------------------------------------------------------------
# convolution


def conv_infer(x, w, strides, padding, dilation, groups):
    """Shape and dtype of conv(x (N, *spatial, Cin), w (*kernel, Cin/groups, Cout))."""
    r = _rank(strides, "conv")
    who = f"conv{r}d"
    if x.ndim != r + 2 or w.ndim != r + 2:
        raise ValueError(f"{who}: expects a {r + 2}-D input and kernel, got {shape_str(x.shape)} and "
                         f"{shape_str(w.shape)}")
    if r > 2 and groups != 1:
        raise ValueError(f"{who}: grouped convolution (groups={groups}) is supported for 1 and 2 spatial axes only")
    cin = x.shape[-1]
    if cin is not None and cin != w.shape[r] * groups:
        raise ValueError(f"{who}: the input has {cin} channels but the kernel {shape_str(w.shape)} expects "
                         f"{w.shape[r] * groups}")
    out = tuple(_out_len(x.shape[1 + a], w.shape[a], strides[a], _axis_pad(padding, a), dilation[a])
                for a in range(r))
    if any(o is not None and o < 1 for o in out):
        raise ValueError(f"{who}: the kernel {shape_str(w.shape[:r])} (dilation {tuple(dilation)}) does not fit the "
                         f"input {shape_str(x.shape)} with padding {padding}")
    return (x.shape[0],) + out + (w.shape[-1],), x.dtype


def bp_input(g, w, x, geo):
    """dL/dx of a conv: x's spatial shape is an attribute when known, else x itself is the
    shape source (see _runtime_geometry)."""
    if None in x.shape[1:]:
        return apply("conv_backprop_input", g, w, x, input_shape=None, **geo)
    return apply("conv_backprop_input", g, w, input_shape=x.shape[1:], **geo)


def _conv_vjp(g, y, x, w, **geo):
    return [bp_input(g, w, x, geo), apply("conv_backprop_filter", x, g, filter_shape=w.shape, **geo)]


def _bp_input_infer(g, w, *ref, input_shape, strides, padding, dilation, groups):
    if input_shape is not None:
        spatial = tuple(input_shape)
    elif ref[0].ndim == 1:  # a shape vector (conv2d_transpose with run-time sizes)
        entries = _static_entries(ref[0], f"conv{len(strides)}d_transpose")
        spatial = tuple(None if e is None or e < 0 else e for e in entries[1:])
    else:
        spatial = ref[0].shape[1:]
    return (g.shape[0],) + spatial, g.dtype


def _bp_input_vjp(gg, y, g, w, *ref, input_shape, **geo):
    # dx = conv_transpose(g, w) is linear in g and in w
    return [apply("conv", gg, w, **geo),
            apply("conv_backprop_filter", gg, g, filter_shape=w.shape, **geo)] + [None] * len(ref)


def _bp_filter_infer(x, g, filter_shape, strides, padding, dilation, groups):
    return tuple(filter_shape), x.dtype


def _bp_filter_vjp(gw, y, x, g, filter_shape, **geo):
    return [bp_input(g, gw, x, geo), apply("conv", x, gw, **geo)]


defop("conv", conv_infer, _conv_vjp, build=_runtime_geometry)
defop("conv_backprop_input", _bp_input_infer, _bp_input_vjp, build=_runtime_geometry)
defop("conv_backprop_filter", _bp_filter_infer, _bp_filter_vjp, build=_runtime_geometry)


def conv(x, kernel, strides, padding, dilation, groups=1):
    """The conv primitive on channels-last x with explicit (or deferred 'same') padding."""
    return apply("conv", x, kernel, strides=tuple(strides), padding=padding, dilation=tuple(dilation),
                 groups=int(groups))


# ---------------------------------------------------------------------------------------------
# pooling

_MODES = ("max", "avg")


def _pool_infer(x, mode, pool_size, strides, padding):
    r = _rank(pool_size, "pool")
    if mode not in _MODES:
        raise ValueError(f"pool{r}d: pool_mode must be 'max' or 'avg', got {mode!r}")
    if x.ndim != r + 2:
        raise ValueError(f"pool{r}d: expects a {r + 2}-D input, got {shape_str(x.shape)}")
    out = tuple(_out_len(x.shape[1 + a], pool_size[a], strides[a], _axis_pad(padding, a), 1) for a in range(r))
    if any(o is not None and o < 1 for o in out):
        raise ValueError(f"pool{r}d: pool_size {tuple(pool_size)} does not fit the input {shape_str(x.shape)}")
    return (x.shape[0],) + out + (x.shape[-1],), x.dtype


def _pool_vjp(g, y, x, mode, **geo):
    if mode == "max":
        return [apply("pool_backprop", x, y, g, mode="max", **geo)]
    if None in x.shape[1:]:
        return [apply("pool_backprop", g, x, mode="avg", input_shape=None, **geo)]
    return [apply("pool_backprop", g, mode="avg", input_shape=x.shape[1:], **geo)]


def _pool_bp_infer(*inputs, mode, pool_size, strides, padding, input_shape=None):
    if mode == "max":  # (x, y, g)
        return inputs[0].shape, inputs[0].dtype
    return _avgpool_bp_infer(*inputs, input_shape=input_shape)


def _max_bp_vjp(gg, x, y, g, **geo):
    """Second-order rule: max pool_backprop routes each window's g to its winning cell, so its
    VJP in g reads the upstream gradient at each window's winner (zero in x and y almost
    everywhere). With windows that do not overlap (strides == pool_size, Keras's default) a cell
    wins at most one window: mark the winners (the backprop of ones) and max-pool the upstream
    gradient over them alone."""
    from .math import greater, where
    from .tensors import _like  # conv is imported before tensors: bind on use
    if tuple(geo["strides"]) != tuple(geo["pool_size"]):
        raise NotImplementedError("gradients: second-order gradients through max pooling need strides equal to "
                                  f"pool_size (non-overlapping windows); got pool_size {tuple(geo['pool_size'])}, "
                                  f"strides {tuple(geo['strides'])}")
    winners = apply("pool_backprop", x, y, _like(g, 1, g.dtype), mode="max", **geo)
    picked = where(greater(winners, 0.0), gg, _like(gg, float("-inf"), gg.dtype))
    return [None, None, apply("pool", picked, mode="max", **geo)]


def _pool_bp_vjp(gg, dx, *inputs, mode, input_shape=None, **geo):
    if mode == "max":
        return _max_bp_vjp(gg, *inputs, **geo)
    return [apply("pool", gg, mode="avg", **geo)] + [None] * (len(inputs) - 1)


defop("pool", _pool_infer, _pool_vjp, build=_runtime_geometry)
defop("pool_backprop", _pool_bp_infer, _pool_bp_vjp, build=_runtime_geometry)


def pool(x, mode, pool_size, strides, padding):
    """The pool primitive on channels-last x with explicit (or deferred 'same') padding."""
    return apply("pool", x, mode=mode, pool_size=tuple(pool_size), strides=tuple(strides), padding=padding)


# ---------------------------------------------------------------------------------------------
# resizing

_METHODS = ("nearest", "bilinear")


def _resize_infer(x, method, factors):
    r = _rank(factors, "resize")
    if method not in _METHODS:
        raise ValueError(f"resize: interpolation must be 'nearest' or 'bilinear', got {method!r}")
    if x.ndim != r + 2:
        raise ValueError(f"resize: {r} factors need a {r + 2}-D input, got {shape_str(x.shape)}")
    spatial = tuple(None if d is None else d * f for d, f in zip(x.shape[1:-1], factors))
    return (x.shape[0],) + spatial + (x.shape[-1],), x.dtype


def _resize_bp_infer(g, method, factors):
    r = _rank(factors, "resize_backprop")
    if g.ndim != r + 2:
        raise ValueError(f"resize_backprop: {r} factors need a {r + 2}-D gradient, got {shape_str(g.shape)}")
    spatial = tuple(None if d is None else d // f for d, f in zip(g.shape[1:-1], factors))
    return (g.shape[0],) + spatial + (g.shape[-1],), g.dtype


# both resizes are linear maps: the VJP of the backprop (the adjoint) is the forward resize
defop("resize", _resize_infer,
      lambda g, y, x, method, factors: [apply("resize_backprop", g, method=method, factors=factors)])
defop("resize_backprop", _resize_bp_infer,
      lambda gg, y, g, method, factors: [apply("resize", gg, method=method, factors=factors)])


def resize(x, method, factors):
    """The resize primitive: channels-last x upsampled by integer `factors`, one per spatial axis."""
    return apply("resize", x, method=method, factors=tuple(int(f) for f in factors))

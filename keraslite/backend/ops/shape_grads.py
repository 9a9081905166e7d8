"""The gradients of the layout ops concatenate, strided_slice and repeat, as compositions
of primitives (slices, reshapes, sums, pads; gathers and scatters where lengths are known only at
run time). Attached to the ops of shape.py with `defvjp` (autodiff imports this module)."""
from __future__ import annotations

import builtins

import numpy as np

from ..graph import Constant, apply, defvjp
from .shape import (expand_axes, pad, pad_axis, permute_dimensions, reshape, reshape_like, reshape_spec, reverse,
                    size, slice_axis)


def _concat_vjp(g, y, *xs, axis):
    """Each input's part of g: a slice where the lengths along `axis` are known, else a gather of
    the run-time range (offsets from K.shape)."""
    sizes = [x.shape[axis] for x in xs]
    if None not in sizes:
        out, start = [], 0
        for n in sizes:
            key = (builtins.slice(None),) * axis + (builtins.slice(start, start + n),) + \
                (builtins.slice(None),) * (g.ndim - axis - 1)
            out.append(apply("strided_slice", g, key=key))
            start += n
        return out
    from .math import add
    perm = [axis] + [a for a in range(g.ndim) if a != axis]
    inverse = tuple(np.argsort(perm).tolist())
    front = permute_dimensions(g, perm)
    out, offset = [], Constant(np.array(0, dtype=np.int32))
    for x, n in zip(xs, sizes):
        n = Constant(np.array(n, dtype=np.int32)) if n is not None else \
            apply("strided_slice", apply("shape", x), key=(axis,))
        stop = add(offset, n)
        idx = apply("arange", offset, stop, Constant(np.array(1, dtype=np.int32)), dtype="int32")
        out.append(permute_dimensions(apply("gather", front, idx), inverse))
        offset = stop
    return out


def _slice_grad(g, x, key):
    """The gradient of x[key]: g placed at the selected entries of zeros shaped like x.

    A reversal is its own adjoint; where every length the key touches is known, g is reshaped to
    one axis per axis of x, strided axes are spread out (a new axis padded to the step, merged)
    and one pad puts it in place; otherwise (lengths known only at run time) the entries' flat
    positions are computed by slicing an arange shaped like x, and g is scattered to them."""
    if len(key) == x.ndim and all(isinstance(k, builtins.slice) and k.start is None and k.stop is None
                                  and k.step in (None, 1, -1) for k in key):
        return apply("strided_slice", g, key=key)
    ranges, spec, gaxis = [], [], 0
    for k in key:  # per axis of x: range(...) of the selected entries, or None for all of them
        if k is None:
            gaxis += 1
            continue
        d = x.shape[len(ranges)]
        if isinstance(k, builtins.slice):
            spec.append(("dim", gaxis))
            gaxis += 1
            if k.start is None and k.stop is None and k.step in (None, 1):
                ranges.append(None)
                continue
            if d is None:
                return _slice_grad_scatter(g, x, key)
            ranges.append(range(*k.indices(d)))
        else:
            if d is None:
                return _slice_grad_scatter(g, x, key)
            spec.append(1)
            ranges.append(range(k % d, k % d + 1))
    g = reshape_spec(g, spec, g)
    pads = []
    for axis, r in enumerate(ranges):
        if r is None:
            pads.append((0, 0))
            continue
        d, n = x.shape[axis], len(r)
        if n == 0:
            pads.append((0, d))
            continue
        if r.step < 0:
            g = reverse(g, axis)
            r = r[::-1]
        if r.step > 1:
            g = _spread(g, axis, r.step, n)
        span = n * r.step if r.step > 1 else n
        after = d - r.start - span
        if after < 0:  # the spread's last gaps run past the end
            g = slice_axis(g, axis, 0, span + after)
            after = 0
        pads.append((r.start, after))
    return pad(g, pads)


def _spread(g, axis, step, n):
    """g with step - 1 zeros after each entry along `axis` (length n * step)."""
    g = expand_axes(g, (axis + 1,))
    g = pad_axis(g, axis + 1, (0, step - 1))
    spec = [("dim", i) for i in range(axis)] + [n * step] + [("dim", i) for i in range(axis + 2, g.ndim)]
    return reshape_spec(g, spec, g)


def _slice_grad_scatter(g, x, key):
    flat_index = reshape_like(apply("arange", Constant(np.array(0, dtype=np.int32)), size(x),
                                    Constant(np.array(1, dtype=np.int32)), dtype="int32"), x)
    picked = reshape(apply("strided_slice", flat_index, key=key), (-1,))
    out = apply("gather_grad", reshape(g, (-1,)), picked, reshape(x, (-1,)))
    return reshape_like(out, x)




def _repeat_vjp(g, y, x, repeats, axis):
    # g viewed as (..., dim, repeats, ...): the sum over the repeats
    spec = [("dim", i) for i in range(axis + 1)] + [repeats] + [("dim", i) for i in range(axis + 1, x.ndim)]
    return [apply("sum", reshape_spec(g, spec, x), axes=(axis + 1,), keepdims=False)]


defvjp("concatenate")(_concat_vjp)
defvjp("strided_slice")(lambda g, y, x, key: [_slice_grad(g, x, key)])
defvjp("repeat")(_repeat_vjp)

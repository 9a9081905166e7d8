"""Targets of reshape and broadcast_to given per axis: a known length, or the run-time length of
an axis of a reference tensor (times a factor). Static where the lengths are known (or one unknown
length is determined by -1), else a shape vector computed from K.shape(ref) at run time: the one
place that decides between the static and the run-time form of the two layout primitives."""
from __future__ import annotations

import numpy as np

from ..graph import Constant, apply, as_tensor
from .math import mul


def _shape_vector(spec, ref):
    """The run-time int32 vector of `spec` (entries: ints, ("dim", i) for ref's axis i, or
    ("dim", i, k) for k times it)."""
    s = apply("shape", ref)
    literals = [d for d in spec if isinstance(d, int)]
    index, factors, k = [], [], 0
    for d in spec:
        if isinstance(d, int):
            index.append(ref.ndim + k)
            factors.append(1)
            k += 1
        else:
            index.append(d[1])
            factors.append(d[2] if len(d) > 2 else 1)
    if index != list(range(ref.ndim)):
        if literals:
            s = apply("concatenate", s, Constant(np.array(literals, dtype=np.int32)), axis=0)
        s = apply("gather", s, Constant(np.array(index, dtype=np.int32)))
    if any(f != 1 for f in factors):
        s = mul(s, Constant(np.array(factors, dtype=np.int32)))
    return s


def _resolve(spec, ref):
    """spec with every entry whose length is known statically as an int; (static tuple with None
    where unknown, positions of the unknown entries)."""
    out = []
    for d in spec:
        if isinstance(d, (int, np.integer)):
            out.append(int(d))
        elif ref.shape[d[1]] is not None:
            out.append(ref.shape[d[1]] * (d[2] if len(d) > 2 else 1))
        else:
            out.append(d)
    unknown = [i for i, d in enumerate(out) if not isinstance(d, int)]
    return tuple(out), unknown


def reshape_spec(x, spec, ref):
    """x reshaped to `spec`: ints, or ("dim", i) for the length of ref's axis i (("dim", i, k):
    k times it). Static when every entry is known, or when one is unknown and -1 determines it (no
    zero-length axis beside it); otherwise the target is computed from K.shape(ref) at run time."""
    x = as_tensor(x)
    spec, unknown = _resolve(spec, ref)
    if not unknown:
        return x if x.shape == spec else apply("reshape", x, shape=spec)
    if len(unknown) == 1 and all(d for d in spec if isinstance(d, int)):
        return apply("reshape", x, shape=tuple(-1 if i in unknown else d for i, d in enumerate(spec)))
    static = tuple(None if i in unknown else d for i, d in enumerate(spec))
    return apply("reshape", x, _shape_vector(spec, ref), shape=static)


def broadcast_spec(x, spec, ref):
    """x broadcast to `spec` (entries as for reshape_spec): static when every entry is known."""
    x = as_tensor(x)
    spec, unknown = _resolve(spec, ref)
    if not unknown:
        return x if x.shape == spec else apply("broadcast_to", x, shape=spec)
    static = tuple(None if i in unknown else d for i, d in enumerate(spec))
    return apply("broadcast_to", x, _shape_vector(spec, ref), shape=static)

"""Default implementations of the core primitives, written once against `self.xp`.

Plain and obviously correct: with xp = numpy this is the reference backend, the oracle the fast
backends are tested against; with xp = cupy it runs on the GPU unchanged.
"""
from __future__ import annotations

import numpy as np


def _scatter_add(xp, target, index, values):
    if xp is np:
        np.add.at(target, index, values)
    else:  # cupy
        import cupyx
        cupyx.scatter_add(target, index, values)


def _acc(x):
    """Accumulate in the input's dtype (TensorFlow semantics); bools count in int64."""
    return np.int64 if x.dtype == np.bool_ else x.dtype


def _reduced(shape, axes, keepdims) -> tuple:
    axes = range(len(shape)) if axes is None else [a % len(shape) for a in np.atleast_1d(axes)]
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _bound(dtype, lowest: bool):
    """The identity of max (lowest=True) or min over no elements: -inf/+inf, or the integer bounds."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf if lowest else np.inf
    if dtype.kind == "b":
        return not lowest
    info = np.iinfo(dtype)
    return info.min if lowest else info.max


def _host_shape(shape_array) -> tuple:
    return tuple(int(d) for d in np.asarray(shape_array.get() if hasattr(shape_array, "get") else shape_array))


def _fill(xp, out, value):
    """Write `value` into the caller's `out` (for the cases computed elsewhere first)."""
    xp.copyto(out, value)
    return out


def catalogue_takes_out(op: str) -> bool:
    """Whether the catalogue's array formula of the elementwise primitive `op` accepts `out=`."""
    from ..elementwise import lookup
    entry = lookup(op)
    return entry is not None and getattr(entry.array, "takes_out", False)


# primitives that accept `out=` (Backend.out_mode; elementwise ones through their catalogue
# formula, see catalogue_takes_out): elementwise ones also work in place
OUT_MODES = {op: "inplace" for op in (
    "neg abs sign sqrt square exp log log1p expm1 sin cos tanh round floor ceil logical_not reciprocal "
    "relu add sub mul pow maximum minimum equal not_equal greater greater_equal less less_equal "
    "logical_and logical_or floordiv mod div").split()}
OUT_MODES.update(sum="out", mean="out", sum_to_like="out", matmul="out", where="out", cast="inplace",
                 softmax="inplace")  # softmax: nn_primitives.py


class ArrayPrimitives:
    xp = np

    # ---------------------------------------------------------------- elementwise
    def __getattr__(self, name):
        """The elementwise primitives: the catalogue entry's array formula on `self.xp`
        (backend/elementwise); a backend overrides one by defining the method."""
        from ..elementwise import lookup
        entry = lookup(name)
        if entry is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        xp, formula = self.xp, entry.array
        # `out=` (the memory plan) reaches formulas that take it (catalogue_takes_out)
        return lambda *arrays, **attrs: formula(xp, *arrays, **attrs)

    # ---------------------------------------------------------------- reductions
    def sum(self, x, axes, keepdims, out=None):
        return self.xp.sum(x, axis=axes, keepdims=keepdims, dtype=_acc(x), out=out)

    def max(self, x, axes, keepdims):
        if x.size == 0:  # NumPy refuses; TensorFlow gives the identity of max: the lowest value
            return self.xp.full(_reduced(x.shape, axes, keepdims), _bound(x.dtype, lowest=True), dtype=x.dtype)
        return self.xp.max(x, axis=axes, keepdims=keepdims)

    def min(self, x, axes, keepdims):
        if x.size == 0:
            return self.xp.full(_reduced(x.shape, axes, keepdims), _bound(x.dtype, lowest=False), dtype=x.dtype)
        return self.xp.min(x, axis=axes, keepdims=keepdims)

    def any(self, x, axes, keepdims): return self.xp.any(x, axis=axes, keepdims=keepdims)
    def all(self, x, axes, keepdims): return self.xp.all(x, axis=axes, keepdims=keepdims)
    def prod(self, x, axis, keepdims): return self.xp.prod(x, axis=axis, keepdims=keepdims, dtype=_acc(x))
    def argmax(self, x, axis): return self.xp.argmax(x, axis=axis)
    def argmin(self, x, axis): return self.xp.argmin(x, axis=axis)
    def cumsum(self, x, axis): return self.xp.cumsum(x, axis=axis, dtype=_acc(x))
    def cumprod(self, x, axis): return self.xp.cumprod(x, axis=axis, dtype=_acc(x))

    def mean(self, x, axes, keepdims, out=None):
        if x.size == 0:  # nan where nothing is averaged, without NumPy's "mean of empty slice" warning
            s = self.xp.sum(x, axis=axes, keepdims=keepdims)
            y = self.xp.full(s.shape, self.xp.nan if x.dtype.kind == "f" else 0, dtype=x.dtype)
            return y if out is None else _fill(self.xp, out, y)
        if out is not None and out.dtype == x.dtype and x.dtype.kind == "f":
            return self.xp.mean(x, axis=axes, keepdims=keepdims, out=out)
        y = self.xp.mean(x, axis=axes, keepdims=keepdims).astype(x.dtype, copy=False)
        return y if out is None else _fill(self.xp, out, y)

    # ---------------------------------------------------------------- layout
    def reshape(self, x, shape): return self.xp.reshape(x, shape)
    def reshape_like(self, x, ref): return self.xp.reshape(x, ref.shape)
    def reshape_dynamic(self, x, shape, static=None): return self.xp.reshape(x, _host_shape(shape))
    def transpose(self, x, perm): return self.xp.transpose(x, perm)
    def expand_dims(self, x, axes): return self.xp.expand_dims(x, axes)
    def squeeze(self, x, axes): return self.xp.squeeze(x, axis=axes)
    def broadcast_to(self, x, shape): return self.xp.broadcast_to(x, shape)
    def broadcast_like(self, x, ref): return self.xp.broadcast_to(x, ref.shape)

    def sum_to_like(self, x, ref, out=None):
        """Sum `x` down to ref's shape, undoing NumPy broadcasting."""
        shape = ref.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and x.shape[i + lead] != 1)
        if out is not None:
            if not axes:
                return _fill(self.xp, out, self.xp.reshape(x, shape))
            # the keepdims result has the same elements in the same order: sum into a view of out
            self.xp.sum(x, axis=axes, keepdims=True, dtype=x.dtype,
                        out=out.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape))))
            return out
        if axes:  # in x's dtype, as inferred (NumPy would widen int32 to int64)
            x = self.xp.sum(x, axis=axes, keepdims=True, dtype=x.dtype)
        return self.xp.reshape(x, shape)

    def concatenate(self, *xs, axis): return self.xp.concatenate(xs, axis=axis)

    def concat_grad(self, g, *refs, axis, index):
        start = sum(r.shape[axis] for r in refs[:index])
        key = (slice(None),) * axis + (slice(start, start + refs[index].shape[axis]),)
        return g[key]
    def strided_slice(self, x, key): return x[key]

    def strided_slice_grad(self, g, ref, key):
        out = self.xp.zeros(ref.shape, dtype=g.dtype)
        out[key] = g
        return out

    def pad(self, x, pads, value=0):
        return self.xp.pad(x, pads, mode="constant", constant_values=value)

    def tile(self, x, reps): return self.xp.tile(x, reps)

    def tile_grad(self, g, ref, reps):
        # g has shape reps[i] * ref.shape[i]; view each axis as (rep, dim) and sum the reps
        split = []
        for r, d in zip(reps, ref.shape):
            split += [r, d]
        return self.xp.sum(g.reshape(split), axis=tuple(range(0, 2 * len(reps), 2)))

    def repeat(self, x, repeats, axis): return self.xp.repeat(x, repeats, axis=axis)

    def repeat_grad(self, g, ref, repeats, axis):
        shape = list(ref.shape)
        split = shape[:axis] + [shape[axis], repeats] + shape[axis + 1:]
        return self.xp.sum(g.reshape(split), axis=axis + 1)

    def gather(self, ref, indices): return self.xp.take(ref, indices.astype(np.int64, copy=False), axis=0)

    def gather_grad(self, g, indices, ref):
        out = self.xp.zeros(ref.shape, dtype=g.dtype)
        _scatter_add(self.xp, out, indices.astype(np.int64, copy=False), g)
        return out

    def one_hot(self, indices, depth, dtype):
        idx = indices.astype(np.int64, copy=False)
        return (idx[..., None] == self.xp.arange(depth)).astype(dtype)

    def shape(self, x): return np.asarray(x.shape, dtype=np.int32)
    def size(self, x): return np.asarray(x.size, dtype=np.int32)
    def identity(self, x): return x
    def stop_gradient(self, x): return x

    def print_tensor(self, x, message):
        print(message, self.to_numpy(x))
        return x

    def reverse(self, x, axes): return self.xp.flip(x, axis=axes)

    def fill(self, shape, value, dtype, static=None):
        return self.xp.full(_host_shape(shape), value, dtype=dtype)

    def arange(self, start, stop, step, dtype):
        return self.xp.arange(start.item(), stop.item(), step.item()).astype(dtype)

    def eye(self, n, m, dtype): return self.xp.eye(n, m, dtype=dtype)

    # ---------------------------------------------------------------- linear algebra
    def matmul(self, a, b, out=None): return self.xp.matmul(a, b, out=out)

    # ---------------------------------------------------------------- random
    # Draws come from a NumPy generator on the host: the same seed gives the same numbers on
    # every backend. Fast backends may override with on-device generators.
    def _shape_of(self, dyn, shape):
        return _host_shape(dyn[0]) if dyn else tuple(shape)

    def random_uniform(self, *dyn, shape, minval, maxval, dtype, rng):
        return self.from_numpy(rng.uniform(minval, maxval, self._shape_of(dyn, shape)).astype(dtype))

    def random_normal(self, *dyn, shape, mean, stddev, dtype, rng):
        return self.from_numpy(rng.normal(mean, stddev, self._shape_of(dyn, shape)).astype(dtype))

    def truncated_normal(self, *dyn, shape, mean, stddev, dtype, rng):
        shape = self._shape_of(dyn, shape)
        out = rng.standard_normal(shape)
        bad = np.abs(out) > 2
        while bad.any():
            out[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(out) > 2
        return self.from_numpy((mean + stddev * out).astype(dtype))

    def random_binomial(self, *dyn, shape, p, dtype, rng):
        return self.from_numpy((rng.uniform(0.0, 1.0, self._shape_of(dyn, shape)) <= p).astype(dtype))

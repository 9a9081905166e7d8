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
    if type(shape_array) is np.ndarray:  # a plan's shape vector: tolist is ~4x faster than int() each
        return tuple(map(int, shape_array.tolist()))
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
    "neg abs sqrt exp log log1p expm1 sin cos tanh round floor "
    "relu relu_grad add sub mul pow maximum minimum equal greater greater_equal floordiv mod div").split()}
OUT_MODES.update(sum="out", sum_to_like="out", matmul="out", where="out", cast="inplace",
                 softmax="inplace", categorical_crossentropy_grad="out")  # these two: nn_primitives.py


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

    def prod(self, x, axis, keepdims): return self.xp.prod(x, axis=axis, keepdims=keepdims, dtype=_acc(x))
    def argmax(self, x, axis): return self.xp.argmax(x, axis=axis)
    def argmin(self, x, axis): return self.xp.argmin(x, axis=axis)
    def cumsum(self, x, axis): return self.xp.cumsum(x, axis=axis, dtype=_acc(x))
    def cumprod(self, x, axis): return self.xp.cumprod(x, axis=axis, dtype=_acc(x))

    # ---------------------------------------------------------------- layout
    # an array's own reshape/transpose: xp.reshape's dispatch layers cost ~0.8 us a call, more
    # than the view itself (ResNet50's training plan has ~380 reshapes)
    def reshape(self, x, *target, shape):
        """x reshaped to the static `shape`, or to the run-time shape vector target[0] if given."""
        shape = _host_shape(target[0]) if target else shape
        return x.reshape(shape) if type(x) is self.xp.ndarray else self.xp.reshape(x, shape)

    def transpose(self, x, perm):
        return x.transpose(perm) if type(x) is self.xp.ndarray else self.xp.transpose(x, perm)

    def broadcast_to(self, x, *target, shape):
        """x broadcast to the static `shape`, or to the run-time shape vector target[0] if given."""
        return self.xp.broadcast_to(x, _host_shape(target[0]) if target else shape)

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

    def strided_slice(self, x, key): return x[key]

    def pad(self, x, pads, value=0):
        # the padded array filled with `value`, x copied into its middle (np.pad does the same in
        # several passes with more Python work)
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, pads))
        out = self.xp.zeros(shape, dtype=x.dtype) if value == 0 else self.xp.full(shape, value, dtype=x.dtype)
        out[tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, pads))] = x
        return out

    def repeat(self, x, repeats, axis): return self.xp.repeat(x, repeats, axis=axis)

    def gather(self, ref, indices): return self.xp.take(ref, indices.astype(np.int64, copy=False), axis=0)

    def gather_grad(self, g, indices, ref):
        out = self.xp.zeros(ref.shape, dtype=g.dtype)
        _scatter_add(self.xp, out, indices.astype(np.int64, copy=False), g)
        return out

    def one_hot(self, indices, depth, dtype):
        idx = indices.astype(np.int64, copy=False)
        return (idx[..., None] == self.xp.arange(depth)).astype(dtype)

    def shape(self, x): return np.asarray(x.shape, dtype=np.int32)
    def stop_gradient(self, x): return x

    def print_tensor(self, x, message):
        print(message, self.to_numpy(x))
        return x

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

"""Shape manipulation, indexing and gathering."""
from __future__ import annotations

import builtins

import numpy as np

from ..graph import (Constant, Tensor, apply, as_tensor, defop, normalize_axes, set_stack,
                     normalize_axis, num_elements, shape_str)
from .math import cast, sum_to  # noqa: F401  (sum_to: gradients of broadcasting ops)
from .shape_spec import broadcast_spec, reshape_spec  # noqa: F401  (used by shape_grads too)

# ---------------------------------------------------------------------------------------------
# reshape family: one primitive. Its target is the static `shape` attribute (one entry may be -1),
# or, when a second input is given, that 1-D int vector at run time (`shape` then holds the static
# entries, None where unknown). reshape_like, expand_dims and squeeze are reshapes.


def _reshape_infer(x, *dyn, shape):
    if dyn:
        s = dyn[0]
        if s.ndim != 1 or s.shape[0] != len(shape) or np.dtype(s.dtype).kind not in "iu":
            raise ValueError(f"reshape: the shape tensor must be a 1-D int vector of length {len(shape)}, got {s!r}")
        size, target = num_elements(x.shape), num_elements(shape)
        if size is not None and target is not None and size != target:
            raise ValueError(f"reshape: cannot reshape {shape_str(x.shape)} ({size} elements) to {shape_str(shape)}")
        return tuple(shape), x.dtype
    size = num_elements(x.shape)
    if -1 in shape:
        rest = num_elements(tuple(d for d in shape if d != -1))
        if size is not None and rest:
            if size % rest:
                raise ValueError(f"reshape: cannot reshape {shape_str(x.shape)} ({size} elements) to {shape}")
            shape = tuple(size // rest if d == -1 else d for d in shape)
        else:
            shape = tuple(None if d == -1 else d for d in shape)
    elif size is not None and num_elements(shape) != size:
        raise ValueError(f"reshape: cannot reshape {shape_str(x.shape)} ({size} elements) to "
                         f"{shape_str(shape)} ({num_elements(shape)} elements)")
    return shape, x.dtype


def _reshape_vjp(g, y, x, *dyn, shape):
    return [reshape_like(g, x)] + [None] * len(dyn)


defop("reshape", _reshape_infer, _reshape_vjp)


def _dims(ref):
    return tuple(("dim", i) for i in range(ref.ndim))


def reshape_like(x, ref):
    """x reshaped to the (run-time) shape of ref."""
    x = as_tensor(x)
    if x.shape == ref.shape and None not in ref.shape:
        return x
    return reshape_spec(x, _dims(ref), ref)


def reshape(x, shape):
    """reshape(x, shape): one entry may be -1; entries may be scalar tensors (e.g. K.shape(x)[0])."""
    x = as_tensor(x)
    if isinstance(shape, Tensor):
        return apply("reshape", x, cast(shape, "int32"), shape=(None,) * _static_len(shape))
    shape = tuple(shape)
    if any(isinstance(d, Tensor) for d in shape):
        static = tuple(None if isinstance(d, Tensor) or d == -1 else int(d) for d in shape)
        parts = [cast(reshape(d, (1,)), "int32") if isinstance(d, Tensor) else Constant(np.array([d], np.int32))
                 for d in shape]
        return apply("reshape", x, concatenate(parts, axis=0), shape=static)
    shape = tuple(int(d) for d in shape)
    if sum(d == -1 for d in shape) > 1:
        raise ValueError(f"reshape: only one -1 is allowed in the target shape, got {shape}")
    if any(d < -1 for d in shape):
        raise ValueError(f"reshape: negative dimension in the target shape {shape}")
    if shape == x.shape:
        return x
    return apply("reshape", x, shape=shape)


def _static_len(t: Tensor) -> int:
    if t.ndim != 1 or t.shape[0] is None:
        raise ValueError(f"reshape: a shape tensor must be 1-D with a known length, got {t!r}")
    return t.shape[0]


def expand_axes(x, axes):
    """Insert length-1 axes at the (sorted, non-negative) positions of the result (a reshape)."""
    x = as_tensor(x)
    if not axes:
        return x
    spec, it = [], iter(range(x.ndim))
    for i in range(x.ndim + len(axes)):
        spec.append(1 if i in axes else ("dim", next(it)))
    return reshape_spec(x, spec, x)


def squeeze_axes(x, axes):
    """Remove the length-1 axes `axes` (a reshape); ValueError if one has another known length."""
    x = as_tensor(x)
    if not axes:
        return x
    for a in axes:
        if x.shape[a] not in (1, None):
            raise ValueError(f"squeeze: axis {a} of {shape_str(x.shape)} has length {x.shape[a]}, not 1")
    return reshape_spec(x, [("dim", i) for i in range(x.ndim) if i not in axes], x)


def expand_dims(x, axis=-1):
    """expand_dims(x, axis=-1): insert a length-1 axis at `axis`."""
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim + 1, "expand_dims")
    return expand_axes(x, (axis,))


def squeeze(x, axis):
    """squeeze(x, axis): remove the length-1 axis `axis`."""
    x = as_tensor(x)
    return squeeze_axes(x, (normalize_axis(axis, x.ndim, "squeeze"),))


def flatten(x):
    """flatten(x): reshape to 1-D."""
    return reshape(x, (-1,))


defop("shape", lambda x: ((x.ndim,), "int32"))


def shape(x):
    """shape(x): the symbolic (run-time) shape, a 1-D int32 tensor."""
    return apply("shape", as_tensor(x))


def size(x, name=None):
    """size(x, name=None): the number of elements as a scalar int32 tensor (the product of K.shape(x))."""
    x = as_tensor(x)
    n = num_elements(x.shape)
    if n is not None:
        return Constant(np.array(n, dtype=np.int32))
    return apply("prod", apply("shape", x), axis=0, keepdims=False)


def batch_flatten(x):
    """batch_flatten(x): reshape to (batch, prod(other dims))."""
    x = as_tensor(x)
    rest = num_elements(x.shape[1:])
    if x.shape[0] is not None and rest is not None:
        return reshape(x, (x.shape[0], rest))
    if rest:  # with rest == 0, -1 would be undetermined
        return reshape(x, (-1, rest))
    return reshape(x, (shape(x)[0], -1 if rest is None else rest))


# ---------------------------------------------------------------------------------------------
# broadcasting helpers (used by gradients)


def _broadcast_to_infer(x, *dyn, shape):
    from ..graph import broadcast_shapes
    if dyn:  # the target is dyn[0] at run time; `shape` holds its static entries (None: unknown)
        s = dyn[0]
        if s.ndim != 1 or s.shape[0] != len(shape) or np.dtype(s.dtype).kind not in "iu":
            raise ValueError(f"broadcast_to: the shape tensor must be a 1-D int vector of length {len(shape)}")
        return broadcast_shapes("broadcast_to", x.shape, tuple(shape)), x.dtype
    out = broadcast_shapes("broadcast_to", x.shape, shape)
    if out != tuple(shape):
        raise ValueError(f"broadcast_to: cannot broadcast {shape_str(x.shape)} to {shape_str(shape)}")
    return out, x.dtype


defop("broadcast_to", _broadcast_to_infer, lambda g, y, x, *dyn, shape: [sum_to(g, x)] + [None] * len(dyn))
defop("sum_to_like", lambda x, ref: (ref.shape, x.dtype), lambda g, y, x, ref: [broadcast_like(g, x), None])


def broadcast_like(x, ref):
    """x broadcast to the (run-time) shape of ref."""
    x = as_tensor(x)
    if x.shape == ref.shape and None not in x.shape:
        return x
    if None not in ref.shape:
        return apply("broadcast_to", x, shape=ref.shape)
    return apply("broadcast_to", x, apply("shape", ref), shape=ref.shape)


# ---------------------------------------------------------------------------------------------
# transpose


def _transpose_infer(x, perm):
    return tuple(x.shape[p] for p in perm), x.dtype


defop("transpose", _transpose_infer, lambda g, y, x, perm: [apply("transpose", g, perm=tuple(np.argsort(perm).tolist()))])


def permute_dimensions(x, pattern):
    """permute_dimensions(x, pattern): transpose with an explicit axis permutation."""
    x = as_tensor(x)
    perm = tuple(int(p) for p in pattern)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"permute_dimensions: pattern {tuple(pattern)} is not a permutation of the "
                         f"{x.ndim} axes of {shape_str(x.shape)}")
    if perm == tuple(range(x.ndim)):
        return x
    return apply("transpose", x, perm=perm)


def transpose(x):
    """transpose(x): reverse all axes."""
    x = as_tensor(x)
    return permute_dimensions(x, tuple(reversed(range(x.ndim))))


# ---------------------------------------------------------------------------------------------
# concatenate / stack


def _concat_infer(*xs, axis):
    first = xs[0]
    for x in xs[1:]:
        if x.ndim != first.ndim:
            raise ValueError("concatenate: all inputs must have the same rank, got shapes "
                             + ", ".join(shape_str(t.shape) for t in xs))
        for i, (a, b) in enumerate(zip(first.shape, x.shape)):
            if i != axis and a is not None and b is not None and a != b:
                raise ValueError(f"concatenate: shapes must agree except on axis {axis}, got "
                                 + ", ".join(shape_str(t.shape) for t in xs))
    out = []
    for i in range(first.ndim):
        dims = [x.shape[i] for x in xs]
        if i == axis:
            out.append(None if None in dims else int(np.sum(dims)))
        else:
            known = [d for d in dims if d is not None]
            out.append(known[0] if known else None)
    from ..graph import promote
    return tuple(out), promote(*[x.dtype for x in xs])


defop("concatenate", _concat_infer)  # VJP: shape_grads.py


def concatenate(tensors, axis=-1):
    """concatenate(tensors, axis=-1): join tensors along an existing axis."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if any(t.sparse for t in tensors):
        from ..sparse import concatenate as sparse_concatenate
        return sparse_concatenate(tensors, axis, dense_concatenate=concatenate)
    axis = normalize_axis(axis, tensors[0].ndim, "concatenate")
    if len(tensors) == 1:
        return tensors[0]
    from ..graph import promote
    dtype = promote(*[t.dtype for t in tensors])
    tensors = [cast(t, dtype) for t in tensors]
    return apply("concatenate", *tensors, axis=axis)


def stack(x, axis=0):
    """stack(x, axis=0): stack rank-R tensors into one rank-R+1 tensor along a new axis."""
    tensors = [as_tensor(t) for t in x]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    axis = normalize_axis(axis, tensors[0].ndim + 1, "stack")
    return concatenate([expand_axes(t, (axis,)) for t in tensors], axis=axis)


set_stack(stack)


# ---------------------------------------------------------------------------------------------
# slicing and indexing


def _normalize_key(key, ndim: int, who: str = "indexing"):
    """A NumPy basic-indexing key as a tuple of int / slice / None with the Ellipsis expanded."""
    if not isinstance(key, tuple):
        key = (key,)
    for k in key:
        if isinstance(k, Tensor):
            # a symbolic integer (e.g. the item of K.map_fn(fn, K.arange(n))) picks one entry
            if k.ndim != 0 or np.dtype(k.dtype).kind not in "iu":
                raise TypeError(f"{who}: a tensor index must be a scalar integer tensor, got {k!r}; "
                                "use K.gather to index with an array of indices")
            continue
        if isinstance(k, builtins.slice) and any(isinstance(v, Tensor) for v in (k.start, k.stop, k.step)):
            raise TypeError(f"{who}: slice bounds must be Python ints, got {k!r}; index with a scalar integer "
                            "tensor or use K.gather(x, K.arange(start, stop)) for a run-time range")
        if not (k is None or k is Ellipsis or isinstance(k, (builtins.slice, int, np.integer))):
            raise TypeError(f"{who}: unsupported index {k!r} (ints, slices, None and ... are allowed)")
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > ndim:
        raise IndexError(f"{who}: too many indices ({n_real}) for a tensor of rank {ndim}")
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError(f"{who}: only one Ellipsis is allowed")
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([builtins.slice(None)] * (ndim - n_real))
        elif isinstance(k, builtins.slice):
            out.append(builtins.slice(*(None if v is None else int(v) for v in (k.start, k.stop, k.step))))
        elif isinstance(k, Tensor):
            out.append(k)
        else:
            out.append(None if k is None else int(k))
    if Ellipsis not in key:
        out.extend([builtins.slice(None)] * (ndim - n_real))
    return tuple(out)


def _slice_infer(x, key):
    shape, axis = [], 0
    for k in key:
        if k is None:
            shape.append(1)
            continue
        d = x.shape[axis]
        if isinstance(k, builtins.slice):
            if k.step == 0:
                raise ValueError("indexing: slice step cannot be zero")
            shape.append(None if d is None else len(range(*k.indices(d))))
        elif d is not None and not -d <= k < d:
            raise IndexError(f"indexing: index {k} is out of bounds for axis {axis} with size {d} "
                             f"(tensor shape {shape_str(x.shape)})")
        axis += 1
    return tuple(shape), x.dtype


defop("strided_slice", _slice_infer)  # VJP: shape_grads.py


def _take_scalar(x, index, axis):
    """x with `axis` replaced by its entry at the scalar int tensor `index` (negative counts from
    the end, as in TensorFlow's strided slice)."""
    from .math import less
    dim = x.shape[axis] if x.shape[axis] is not None else shape(x)[axis]
    index = index + cast(less(index, 0), index.dtype) * cast(dim, index.dtype)
    if axis:
        x = permute_dimensions(x, [axis] + [a for a in range(x.ndim) if a != axis])
    return apply("gather", x, index)


def getitem(x, key):
    """x[key] with ints, slices, None and Ellipsis (NumPy basic indexing), and scalar integer
    tensors, each picking one entry of its axis at run time."""
    x = as_tensor(x)
    key = _normalize_key(key, x.ndim)
    if any(isinstance(k, Tensor) for k in key):
        taken, out_axis = [], 0
        for k in key:
            if isinstance(k, Tensor):
                taken.append((out_axis, k))
            if k is None or isinstance(k, (builtins.slice, Tensor)):
                out_axis += 1
        y = getitem(x, tuple(builtins.slice(None) if isinstance(k, Tensor) else k for k in key))
        for axis, index in reversed(taken):
            y = _take_scalar(y, index, axis)
        return y
    if all(isinstance(k, builtins.slice) and k == builtins.slice(None) for k in key) and len(key) == x.ndim:
        return x
    return apply("strided_slice", x, key=key)


def slice_axis(x, axis, start, stop):
    key = [builtins.slice(None)] * x.ndim
    key[axis] = builtins.slice(start, stop)
    return getitem(x, tuple(key))


def slice(x, start, size):
    """slice(x, start, size): x[start[0]:start[0]+size[0], ...] (size -1 means to the end)."""
    x = as_tensor(x)
    start, size = list(start), list(size)
    if len(start) != x.ndim or len(size) != x.ndim:
        raise ValueError(f"slice: start {start} and size {size} must both have length {x.ndim} "
                         f"(the rank of {shape_str(x.shape)})")
    key = tuple(builtins.slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(start, size))
    return getitem(x, key)


def reverse(x, axes):
    """reverse(x, axes): reverse along one axis (int) or several (list): x[..., ::-1, ...]."""
    x = as_tensor(x)
    axes = normalize_axes(axes, x.ndim, "reverse")
    if not axes:
        return x
    key = tuple(builtins.slice(None, None, -1) if a in axes else builtins.slice(None) for a in range(x.ndim))
    return apply("strided_slice", x, key=key)


def _pad_infer(x, pads, value):
    if len(pads) != x.ndim:
        raise ValueError(f"pad: {len(pads)} (before, after) pairs given for a tensor of rank {x.ndim}")
    return tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, pads)), x.dtype


def _pad_vjp(g, y, x, pads, value):
    key = tuple(builtins.slice(a, -b if b else None) for a, b in pads)
    return [apply("strided_slice", g, key=key)]


defop("pad", _pad_infer, _pad_vjp)


def pad(x, pads, value=0.0):
    """Pad every axis by (before, after) constant cells."""
    x = as_tensor(x)
    pads = tuple((int(a), int(b)) for a, b in pads)
    if any(a < 0 or b < 0 for a, b in pads):
        raise ValueError(f"pad: padding must be non-negative, got {pads}")
    if all(a == 0 and b == 0 for a, b in pads):
        return x
    return apply("pad", x, pads=pads, value=value)


def pad_axis(x, axis, pair, value=0.0):
    pads = [(0, 0)] * x.ndim
    pads[axis] = pair
    return pad(x, pads, value)


# ---------------------------------------------------------------------------------------------
# tile / repeat


def tile(x, n):
    """tile(x, n): like np.tile; an int or a tuple shorter than the rank is left-padded with 1s."""
    x = as_tensor(x)
    reps = [int(n)] if isinstance(n, (int, np.integer)) else [int(r) for r in n]
    if len(reps) > x.ndim:
        raise NotImplementedError(f"tile: {len(reps)} repetitions given for a tensor of rank {x.ndim}")
    reps = tuple([1] * (x.ndim - len(reps)) + reps)
    if all(r == 1 for r in reps):
        return x
    # a length-1 axis before each repeated axis, broadcast to the reps, merged with the axis: one copy
    inserted, spread, merged = [], [], []
    for i, r in enumerate(reps):
        if r != 1:
            inserted.append(1)
            spread.append(r)
        inserted.append(("dim", i))
        spread.append(("dim", i))
        merged.append(("dim", i, r))
    return reshape_spec(broadcast_spec(reshape_spec(x, inserted, x), spread, x), merged, x)


def _repeat_infer(x, repeats, axis):
    shape = list(x.shape)
    shape[axis] = None if shape[axis] is None else shape[axis] * repeats
    return tuple(shape), x.dtype


# a primitive: as reshape(broadcast_to(...)) NumPy's copy of the broadcast view measured 2.5x
# slower than np.repeat
defop("repeat", _repeat_infer)  # VJP: shape_grads.py


def repeat_elements(x, rep, axis):
    """repeat_elements(x, rep, axis): like np.repeat(x, rep, axis)."""
    x = as_tensor(x)
    return apply("repeat", x, repeats=int(rep), axis=normalize_axis(axis, x.ndim, "repeat_elements"))


def repeat(x, n):
    """repeat(x, n): (samples, dim) -> (samples, n, dim)."""
    x = as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"repeat: expects a 2-D tensor (samples, dim), got shape {shape_str(x.shape)}")
    return apply("repeat", expand_axes(x, (1,)), repeats=int(n), axis=1)


# ---------------------------------------------------------------------------------------------
# gather / one_hot


def _gather_infer(ref, indices):
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got dtype {indices.dtype}")
    if ref.ndim == 0:
        raise ValueError("gather: the reference tensor must have at least one axis")
    return indices.shape + ref.shape[1:], ref.dtype


defop("gather", _gather_infer, lambda g, y, ref, idx: [apply("gather_grad", g, idx, ref), None])
defop("gather_grad", lambda g, idx, ref: (ref.shape, g.dtype),
      lambda gg, y, g, idx, ref: [apply("gather", gg, idx), None, None])


def gather(reference, indices):
    """gather(reference, indices): reference[indices] along axis 0."""
    reference = as_tensor(reference)
    if not isinstance(indices, Tensor):
        indices = Constant(np.asarray(indices, dtype=np.int64 if np.asarray(indices).dtype.kind in "iu" else None))
    return apply("gather", reference, indices)


def _one_hot_infer(indices, depth, dtype):
    return indices.shape + (depth,), dtype


# a primitive: as equal(indices[..., None], arange(depth)) the fused kernel would materialise the
# broadcast indices (3.5x slower on Numba, measured)
defop("one_hot", _one_hot_infer)


def one_hot(indices, num_classes):
    """one_hot(indices, num_classes): integer tensor of shape S -> float tensor S + (num_classes,)."""
    from .. import config
    indices = as_tensor(indices)
    if np.dtype(indices.dtype).kind == "f":
        indices = cast(indices, "int64")
    return apply("one_hot", indices, depth=int(num_classes), dtype=config.floatx())


def _arange_infer(start, stop, step, dtype):
    vals = [t.value for t in (start, stop, step) if isinstance(t, Constant)]
    if len(vals) == 3:
        return (len(np.arange(*[v.item() for v in vals])),), dtype
    return (None,), dtype


defop("arange", _arange_infer)


def arange(start, stop=None, step=1, dtype="int32"):
    """arange(start, stop=None, step=1, dtype='int32'): 1-D sequence like np.arange."""
    from ..graph import canonical_dtype
    if stop is None:
        start, stop = 0, start
        if not isinstance(stop, Tensor) and stop < 0:
            stop = 0
    dtype = canonical_dtype(dtype, "arange")
    if not any(isinstance(v, Tensor) for v in (start, stop, step)):
        return Constant(np.arange(start, stop, step).astype(dtype))
    args = [as_tensor(v) if isinstance(v, Tensor) else Constant(np.asarray(v)) for v in (start, stop, step)]
    return apply("arange", *args, dtype=dtype)

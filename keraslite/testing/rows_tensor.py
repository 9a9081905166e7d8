"""Rows for reductions, shape manipulation, tensor utilities and matmul."""
from __future__ import annotations

import numpy as np

from ..backend.graph import Variable, apply
from .opinfo import OpInfo, Sample, distinct, uniform


def _K():
    from .. import backend as K
    return K


def _grad_of(forward, wrt=0):
    """fn(x..., g, **kw): the gradient of sum(forward(x..., **kw) * g) with respect to input `wrt`
    (builds the op's VJP node, e.g. tile_grad for tile)."""
    def fn(*ts, **kw):
        K = _K()
        *xs, g = ts
        y = forward(*xs, **kw)
        return K.gradients(K.sum(y * g), [xs[wrt]])[0]
    return fn


# --------------------------------------------------------------------------------- reductions

_RED_CASES = [((2, 3, 4), 1, False), ((2, 3, 4), None, False), ((2, 3, 4), (0, 2), True), ((0, 3), 1, False),
              ((1, 5), -1, True), ((4,), 0, False), ((0, 3), 0, False), ((2, 0), None, True)]


def _red_samples(gen, allow_empty=True):
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),), {"axis": a, "keepdims": k}) for s, a, k in _RED_CASES
                if allow_empty or 0 not in s or (a is not None and s[a if isinstance(a, int) else 0] != 0)]
    return samples

def _red_ref(fn):
    def ref(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims)
    return ref


def _reduce(kname):
    def fn(x, axis, keepdims):
        return getattr(_K(), kname)(x, axis=axis, keepdims=keepdims)
    return fn


def _bool_gen(rng, shape, dtype):
    return rng.random(shape) < 0.6


def _nz(rng, shape, dtype):
    x = uniform(rng, shape, dtype, 0.5, 1.5)
    return np.where(rng.random(shape) < 0.5, -x, x).astype(dtype)


def _arg_samples(rng, dtype):
    return [Sample((distinct(rng, s, dtype),), {"axis": a}) for s, a in [((2, 5), -1), ((3, 4, 2), 1), ((1, 3), 0)]]


def _min_samples(rng, dtype):
    """Integers at their bounds (where -x would overflow), bools, NaN and signed zeros."""
    d = np.dtype(dtype)
    if d.kind == "b":
        vals = [np.array([[True, False], [True, True]]), np.zeros((0, 2), bool)]
    elif d.kind in "iu":
        info = np.iinfo(d)
        vals = [np.array([[info.min, 3, info.max], [info.max, info.max, 0]], d), np.zeros((2, 0), d)]
    else:
        vals = [np.array([[1.0, np.nan, -2.0], [0.0, -0.0, 5.0], [np.inf, -np.inf, 0.0]], d), np.zeros((0, 2), d)]
    return [Sample((v,), {"axis": a, "keepdims": k}) for v in vals for a, k in ((1, False), (None, True))]


def _min_ref(x, axis, keepdims):
    """np.min; an empty reduction gives the dtype's largest value (TensorFlow's identity of min)."""
    d = x.dtype
    top = True if d.kind == "b" else (np.inf if d.kind == "f" else np.iinfo(d).max)
    return np.min(x, axis=axis, keepdims=keepdims, initial=top)


def _argmin_samples(rng, dtype):
    d = np.dtype(dtype)
    if d.kind == "b":
        return [Sample((np.array([[True, False, False], [True, True, True]]),), {"axis": -1})]
    if d.kind in "iu":
        info = np.iinfo(d)
        return [Sample((np.array([[3, info.min, info.min], [info.max, 0, info.max]], d),), {"axis": -1})] + \
            ([] if d.kind == "u" else _arg_samples(rng, dtype))
    ties = np.array([[2.0, 1.0, 1.0], [np.nan, 0.0, np.nan]], d)
    return _arg_samples(rng, dtype) + [Sample((ties,), {"axis": -1})]


def _reshape_like(x, r):
    from ..backend.ops.shape import reshape_like
    return reshape_like(x, r)


def _broadcast_like(x, r):
    from ..backend.ops.shape import broadcast_like
    return broadcast_like(x, r)


def _expand_two_unknown(x):
    """expand_dims and squeeze of a tensor whose every length is unknown statically (reshaped to
    its own run-time shape): the target shapes are computed at run time."""
    K = _K()
    y = K.reshape(x, K.shape(x))
    return K.squeeze(K.expand_dims(K.expand_dims(y, 2), 0), 0)


def _cum_samples(gen):
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),), {"axis": a}) for s, a in [((2, 4), 1), ((3, 2, 2), 0), ((0, 3), 1)]]
    return samples


# ------------------------------------------------------------------------------- shape ops

def _reshape_samples(rng, dtype):
    cases = [((2, 3), (3, 2)), ((2, 3), (-1,)), ((0, 3), (3, 0)), ((1, 4), (4, 1, 1)), ((2, 2, 3), (4, -1))]
    return [Sample((uniform(rng, a, dtype),), {"shape": b}) for a, b in cases]


def _reshape_dynamic_samples(rng, dtype):
    cases = [((2, 3), (3, 2)), ((2, 3), (6,)), ((1, 4), (2, 1, 2))]
    return [Sample((uniform(rng, a, dtype), np.array(b, dtype="int32"))) for a, b in cases]


def _like_samples(pairs):
    def samples(rng, dtype):
        return [Sample((uniform(rng, a, dtype), uniform(rng, b, dtype))) for a, b in pairs]
    return samples


def _sum_to_ref(x, ref):
    lead = x.ndim - ref.ndim
    s = x.sum(axis=tuple(range(lead))) if lead else x
    axes = tuple(i for i, d in enumerate(ref.shape) if d == 1 and s.shape[i] != 1)
    return s.sum(axis=axes, keepdims=True) if axes else s


def _axis_samples(cases):
    def samples(rng, dtype):
        return [Sample((uniform(rng, s, dtype),), {"axis": a}) for s, a in cases]
    return samples


def _concat_samples(rng, dtype):
    cases = [((2, 3), (2, 1), 1), ((0, 2), (3, 2), 0), ((1, 2, 2), (1, 2, 3), -1)]
    return [Sample((uniform(rng, a, dtype), uniform(rng, b, dtype)), {"axis": ax}) for a, b, ax in cases]


def _concat_grad_samples(rng, dtype):
    out = []
    for a, b, ax in [((2, 3), (2, 1), 1), ((1, 2), (3, 2), 0)]:
        full = list(a)
        full[ax] += b[ax]
        out.append(Sample((uniform(rng, a, dtype), uniform(rng, b, dtype), uniform(rng, tuple(full), dtype)),
                          {"axis": ax}))
    return out


def _concat_grad_ref(a, b, g, axis):
    return np.split(g, [a.shape[axis]], axis=axis)[0]


_KEYS = [((3, 4), (slice(1, None), slice(None, None, 2))), ((2, 3, 2), (1, slice(0, 2))),
         ((4,), (slice(None, None, -1),)), ((3, 2), (slice(3, None),)), ((2, 3), (Ellipsis, None, 2))]


def _slice_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype),), {"key": k}) for s, k in _KEYS]


def _slice_grad_samples(rng, dtype):
    out = []
    for s, k in _KEYS[:4]:
        x = uniform(rng, s, dtype)
        out.append(Sample((x, uniform(rng, x[k].shape, dtype)), {"key": k}))
    return out


def _slice_grad_ref(x, g, key):
    z = np.zeros_like(x)
    z[key] += g
    return z


def _tile_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype),), {"n": n}) for s, n in [((2, 3), (2, 1)), ((1, 2), (3, 2)), ((0, 2), (2, 2))]]


def _tile_grad_samples(rng, dtype):
    out = []
    for s, n in [((2, 3), (2, 1)), ((1, 2), (3, 2))]:
        out.append(Sample((uniform(rng, s, dtype), uniform(rng, tuple(a * b for a, b in zip(s, n)), dtype)), {"n": n}))
    return out


def _tile_grad_ref(x, g, n):
    split = g.reshape(tuple(v for a, b in zip(n, x.shape) for v in (a, b)))
    return split.sum(axis=tuple(range(0, 2 * x.ndim, 2)))


def _repeat_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype),), {"rep": r, "axis": a}) for s, r, a in [((2, 3), 2, 1), ((3, 1), 3, 0), ((0, 2), 2, 1)]]


def _repeat_grad_samples(rng, dtype):
    out = []
    for s, r, a in [((2, 3), 2, 1), ((3, 1), 3, 0)]:
        shape = list(s)
        shape[a] *= r
        out.append(Sample((uniform(rng, s, dtype), uniform(rng, tuple(shape), dtype)), {"rep": r, "axis": a}))
    return out


def _repeat_grad_ref(x, g, rep, axis):
    shape = list(x.shape)
    shape.insert(axis + 1, rep)
    return g.reshape(shape).sum(axis=axis + 1)


def _gather_samples(rng, dtype):
    return [Sample((uniform(rng, (5, 3), dtype), np.array([4, 0, 4, 2], dtype="int32"))),
            Sample((uniform(rng, (4,), dtype), np.array([[1, 3], [0, 0]], dtype="int32"))),
            Sample((uniform(rng, (3, 2), dtype), np.zeros((0,), dtype="int32")))]


def _gather_grad_samples(rng, dtype):
    return [Sample((uniform(rng, (5, 3), dtype), np.array([4, 0, 4, 2], dtype="int32"), uniform(rng, (4, 3), dtype))),
            Sample((uniform(rng, (4,), dtype), np.array([[1, 3], [0, 0]], dtype="int32"), uniform(rng, (2, 2), dtype)))]


def _gather_grad_fn(ref, idx, g):
    K = _K()
    return K.gradients(K.sum(K.gather(ref, idx) * g), [ref])[0]


def _gather_grad_ref(ref, idx, g):
    z = np.zeros_like(ref)
    np.add.at(z, idx.reshape(-1), g.reshape((-1,) + ref.shape[1:]))
    return z


def _pad_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype),), {"pads": p, "value": v}) for s, p, v in
            [((2, 3), ((1, 0), (0, 2)), 0.0), ((1, 2, 2), ((0, 0), (1, 1), (2, 0)), 1.5), ((0, 2), ((1, 1), (0, 0)), 0.0)]]


def _one_hot_samples(rng, dtype):
    return [Sample((np.array([0, 3, 1], dtype="int32"),), {"n": 4}),
            Sample((np.array([[2], [0]], dtype="int32"),), {"n": 3}),
            Sample((np.zeros((0,), dtype="int32"),), {"n": 2})]


def _one_hot_ref(i, n):
    return (i[..., None] == np.arange(n)).astype("float32")


def _matmul_samples(rng, dtype):
    cases = [((2, 3), (3, 4)), ((1, 3), (3, 1)), ((0, 3), (3, 2)), ((2, 2, 3), (2, 3, 2)), ((3, 0), (0, 2))]
    return [Sample((uniform(rng, a, dtype), uniform(rng, b, dtype))) for a, b in cases]


def _update_fn(x):
    var = Variable(np.zeros(x.shape, dtype=x.dtype))
    return _K().update(var, x * 2.0)


def _scalar_samples(rng, dtype):
    return [Sample((uniform(rng, s, dtype),)) for s in [(2, 3), (0, 4), (), (1, 1, 2)]]


def _map_fn(x):
    K = _K()
    return K.map_fn(lambda row: K.sum(row * row) + 1.0, x)


def _tuple_get_fn(x):
    ones = np.ones(x.shape[1:], dtype=x.dtype)
    return apply("batchnorm_train", x, ones, ones * 0, axes=(0,), epsilon=1e-3)[1]


def rows() -> list:
    """The rows of this module."""
    K = _K()
    u = uniform
    t = []
    add = t.append
    for name, ref, gen, diff, dts in [
            ("sum", np.sum, u, True, ("float32", "int32")), ("mean", np.mean, u, True, ("float32",)),
            ("max", np.max, distinct, True, ("float32", "int32")), ("min", np.min, distinct, True, ("float32",)),
            ("prod", np.prod, _nz, True, ("float32",)),
            ("any", np.any, _bool_gen, False, ("bool",)), ("all", np.all, _bool_gen, False, ("bool",))]:
        # mean, any and all are compositions of sum, max, min and elementwise ops: composite rows
        prim = name in ("sum", "max", "min", "prod")
        add(OpInfo(name if prim else "K." + name, _reduce(name), _red_ref(ref),
                   _red_samples(gen, name not in ("max", "min")), dtypes=dts, differentiable=diff, primitive=prim,
                   tol={"float32": (1e-5, 1e-5)}))
    add(OpInfo("K.min[int, uint8, bool, nan]", _reduce("min"), _min_ref, _min_samples,
               dtypes=("int32", "uint8", "bool", "float64"), primitive=False))
    add(OpInfo("argmax", lambda x, axis: K.argmax(x, axis), lambda x, axis: np.argmax(x, axis), _arg_samples))
    add(OpInfo("argmin", lambda x, axis: K.argmin(x, axis), lambda x, axis: np.argmin(x, axis), _argmin_samples,
               dtypes=("float32", "int32", "uint8", "bool")))
    add(OpInfo("cumsum", lambda x, axis: K.cumsum(x, axis), lambda x, axis: np.cumsum(x, axis),
               _cum_samples(u), differentiable=True))
    add(OpInfo("cumprod", lambda x, axis: K.cumprod(x, axis), lambda x, axis: np.cumprod(x, axis),
               _cum_samples(_nz), differentiable=True))
    add(OpInfo("reshape", lambda x, shape: K.reshape(x, shape), lambda x, shape: x.reshape(shape),
               _reshape_samples, differentiable=True, dynamic_batch=False))
    # the shape-tensor form of reshape, reshape_like, expand_dims and squeeze are reshapes
    add(OpInfo("K.reshape[shape tensor]", lambda x, s: K.reshape(x, s), lambda x, s: x.reshape(tuple(s)),
               _reshape_dynamic_samples, differentiable=True, grad_args=(0,), dynamic_batch=False, primitive=False,
               exercises=("reshape",)))
    for unknown in (False, True):
        add(OpInfo("reshape_like" + ("[unknown batch]" if unknown else ""), _reshape_like, lambda x, r: x.reshape(r.shape),
                   _like_samples([((2, 3), (3, 2)), ((4,), (1, 2, 2)), ((0, 2), (2, 0)), ((3, 2, 2), (3, 4))]),
                   differentiable=True, grad_args=(0,), dynamic_batch=False, primitive=False, unknown_batch=unknown))
    add(OpInfo("K.expand_dims", lambda x, axis: K.expand_dims(x, axis), lambda x, axis: np.expand_dims(x, axis),
               _axis_samples([((2, 3), -1), ((2, 3), 0), ((0,), 1), ((), 0)]), differentiable=True, primitive=False))
    add(OpInfo("K.expand_dims[unknown axes]", _expand_two_unknown, lambda x: x[:, :, None, :],
               lambda rng, d: [Sample((u(rng, s, d),)) for s in [(2, 3, 4), (1, 0, 2)]], differentiable=True,
               primitive=False, unknown_batch=True, exercises=("reshape", "shape")))
    add(OpInfo("K.squeeze", lambda x, axis: K.squeeze(x, axis), lambda x, axis: np.squeeze(x, axis),
               _axis_samples([((2, 1), -1), ((1, 3), 0), ((0, 1, 2), 1)]), differentiable=True, dynamic_batch=False,
               primitive=False))
    add(OpInfo("broadcast_to", lambda x, shape: apply("broadcast_to", x, shape=shape),
               lambda x, shape: np.broadcast_to(x, shape),
               lambda rng, d: [Sample((u(rng, a, d),), {"shape": b}) for a, b in
                               [((3,), (2, 3)), ((2, 1), (2, 4)), ((1,), (0, 1)), ((), (2, 2))]],
               differentiable=True, dynamic_batch=False))
    add(OpInfo("broadcast_like[unknown batch]", _broadcast_like, lambda x, r: np.broadcast_to(x, r.shape),
               _like_samples([((3,), (2, 3)), ((1, 4), (2, 4)), ((1,), (0, 1))]), differentiable=True,
               grad_args=(0,), dynamic_batch=False, primitive=False, unknown_batch=True, batch_args=(1,)))
    add(OpInfo("sum_to_like", lambda x, r: apply("sum_to_like", x, r), _sum_to_ref,
               _like_samples([((2, 3), (3,)), ((2, 4), (2, 1)), ((0, 2), (2,)), ((3, 2, 2), (1, 2))]),
               dtypes=("float32", "int32"), differentiable=True, grad_args=(0,), dynamic_batch=False))
    add(OpInfo("transpose", lambda x, perm: K.permute_dimensions(x, perm), lambda x, perm: np.transpose(x, perm),
               lambda rng, d: [Sample((u(rng, s, d),), {"perm": p}) for s, p in
                               [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((0, 2, 1), (1, 2, 0))]],
               differentiable=True))
    add(OpInfo("concatenate", lambda a, b, axis: K.concatenate([a, b], axis),
               lambda a, b, axis: np.concatenate([a, b], axis), _concat_samples, differentiable=True,
               dynamic_batch=False))
    for unknown in (False, True):  # unknown: the concatenated axis 0 has run-time lengths
        add(OpInfo("grad:concatenate" + ("[unknown batch]" if unknown else ""),
                   _grad_of(lambda a, b, axis: K.concatenate([a, b], axis)), _concat_grad_ref,
                   _concat_grad_samples, differentiable=False, grad_args=(2,), dynamic_batch=False, primitive=False,
                   unknown_batch=unknown))
    add(OpInfo("strided_slice", lambda x, key: x[key], lambda x, key: x[key], _slice_samples,
               differentiable=True, dynamic_batch=False))
    for unknown in (False, True):  # unknown: lengths known at run time only (the scatter form)
        add(OpInfo("grad:strided_slice" + ("[unknown batch]" if unknown else ""), _grad_of(lambda x, key: x[key]),
                   _slice_grad_ref, _slice_grad_samples, differentiable=True, grad_args=(1,), dynamic_batch=False,
                   primitive=False, unknown_batch=unknown))
    add(OpInfo("K.reverse", lambda x, axes: K.reverse(x, axes), lambda x, axes: np.flip(x, axes),
               lambda rng, d: [Sample((u(rng, s, d),), {"axes": a}) for s, a in
                               [((2, 3), 1), ((2, 3, 2), (0, 2)), ((0, 2), 0)]], differentiable=True, primitive=False))
    add(OpInfo("pad", lambda x, pads, value: apply("pad", x, pads=pads, value=value),
               lambda x, pads, value: np.pad(x, pads, constant_values=value), _pad_samples, differentiable=True,
               dynamic_batch=False))
    # tile is reshape + broadcast_to + reshape (one copy)
    for unknown in (False, True):
        add(OpInfo("K.tile" + ("[unknown batch]" if unknown else ""), lambda x, n: K.tile(x, n),
                   lambda x, n: np.tile(x, n), _tile_samples, differentiable=True, primitive=False,
                   unknown_batch=unknown))
    for unknown in (False, True):
        add(OpInfo("grad:tile" + ("[unknown batch]" if unknown else ""), _grad_of(lambda x, n: K.tile(x, n)),
                   _tile_grad_ref, _tile_grad_samples, differentiable=True, grad_args=(1,), dynamic_batch=False,
                   primitive=False, unknown_batch=unknown))
    add(OpInfo("repeat", lambda x, rep, axis: K.repeat_elements(x, rep, axis),
               lambda x, rep, axis: np.repeat(x, rep, axis), _repeat_samples, differentiable=True))
    add(OpInfo("K.tile[unknown axes]", lambda x, n: K.tile(K.reshape(x, K.shape(x)), n), lambda x, n: np.tile(x, n),
               lambda rng, d: [Sample((u(rng, s, d),), {"n": n}) for s, n in [((2, 3), (2, 3)), ((1, 0), (3, 2))]],
               differentiable=True, primitive=False, exercises=("broadcast_to", "shape")))
    for unknown in (False, True):
        add(OpInfo("grad:repeat" + ("[unknown batch]" if unknown else ""),
                   _grad_of(lambda x, rep, axis: K.repeat_elements(x, rep, axis)), _repeat_grad_ref,
                   _repeat_grad_samples, differentiable=True, grad_args=(1,), dynamic_batch=False, primitive=False,
                   unknown_batch=unknown))
    add(OpInfo("gather", lambda r, i: K.gather(r, i), lambda r, i: r[i], _gather_samples, differentiable=True,
               grad_args=(0,), dynamic_batch=False))
    add(OpInfo("gather_grad", _gather_grad_fn, _gather_grad_ref, _gather_grad_samples, differentiable=True,
               grad_args=(2,), dynamic_batch=False))
    add(OpInfo("one_hot", lambda i, n: K.one_hot(i, n), _one_hot_ref, _one_hot_samples, dtypes=("int32",)))
    add(OpInfo("arange", lambda stop, step: K.arange(0, stop, step),
               lambda stop, step: np.arange(0, int(stop), step).astype("int32"),
               lambda rng, d: [Sample((np.array(n, dtype="int32"),), {"step": s}) for n, s in [(7, 2), (0, 1), (1, 1)]],
               dtypes=("int32",)))
    add(OpInfo("fill", lambda x: apply_fill(x), lambda x: np.full(x.shape, 2.5, dtype="float32"), _scalar_samples,
               primitive=False, exercises=("broadcast_to", "shape")))
    add(OpInfo("K.identity", lambda x: K.identity(x), lambda x: x.copy(), _scalar_samples, differentiable=True,
               primitive=False))
    add(OpInfo("stop_gradient", lambda x: K.stop_gradient(x), lambda x: x.copy(), _scalar_samples))
    add(OpInfo("print_tensor", lambda x: K.print_tensor(x, message="keraslite.testing: "), lambda x: x.copy(),
               lambda rng, d: [Sample((u(rng, (2,), d),))], differentiable=True))
    add(OpInfo("shape", lambda x: K.shape(x), lambda x: np.array(x.shape, dtype="int32"), _scalar_samples))
    add(OpInfo("K.size", lambda x: K.size(x), lambda x: np.array(x.size, dtype="int32"), _scalar_samples,
               primitive=False))
    add(OpInfo("K.size[unknown batch]", lambda x: K.size(x), lambda x: np.array(x.size, dtype="int32"),
               lambda rng, d: [Sample((u(rng, s, d),)) for s in [(2, 3), (0, 4), (1, 1, 2)]], primitive=False,
               unknown_batch=True, exercises=("prod", "shape")))
    add(OpInfo("update", _update_fn, lambda x: 2.0 * x, _scalar_samples, dynamic_batch=False))
    add(OpInfo("tuple_get", _tuple_get_fn, lambda x: x.mean(axis=0, keepdims=True),
               lambda rng, d: [Sample((u(rng, s, d),)) for s in [(4, 3), (1, 2)]], exercises=("tuple_get", "batchnorm_train")))
    add(OpInfo("map_fn", _map_fn, lambda x: (x * x).reshape(len(x), int(np.prod(x.shape[1:]))).sum(axis=1) + 1.0,
               lambda rng, d: [Sample((u(rng, s, d),)) for s in [(3, 2), (1, 2, 2), (0, 3)]], unknown_batch=True))
    add(OpInfo("K.map_fn", _map_fn, lambda x: (x * x).reshape(len(x), int(np.prod(x.shape[1:]))).sum(axis=1) + 1.0,
               lambda rng, d: [Sample((u(rng, s, d),)) for s in [(3, 2), (1, 2, 2), (0, 3)]], primitive=False,
               differentiable=True))
    add(OpInfo("matmul", lambda a, b: K.dot(a, b) if a.ndim == 2 else K.batch_dot(a, b),
               lambda a, b: np.matmul(a, b), _matmul_samples, dtypes=("float32", "float64"), differentiable=True,
               tol={"float32": (1e-5, 1e-5)}))
    return t


def apply_fill(x):
    from ..backend.ops.tensors import fill, shape
    return fill(shape(x), 2.5, "float32")

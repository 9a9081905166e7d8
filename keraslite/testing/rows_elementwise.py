"""Rows for the elementwise primitives: unary and binary math, comparisons, logic, where, cast."""
from __future__ import annotations

import numpy as np

from ..backend.graph import apply
from .opinfo import OpInfo, Sample, away_from, uniform

UNARY_SHAPES = [(2, 3), (1, 4), (0, 3), (), (3, 1, 2)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 1), (1, 3)), ((3,), (2, 3)), ((0, 3), (1, 3)), ((), (2,))]


def _prim(name):
    def fn(*ts, **kw):
        return apply(name, *ts, **kw)
    fn.__name__ = name
    return fn


#: ops that are compositions of other primitives (no `defop` of their own): their rows are
#: composite rows ('K.<name>') through the K function or Tensor operator
_COMPOSED = {"logical_not", "square", "sign", "less", "less_equal", "not_equal", "logical_and", "logical_or",
             "softplus"}


def _k_fn(name):
    from .. import backend as K
    from ..backend.ops import math as m
    return {"logical_not": lambda x: ~x, "square": K.square, "sign": K.sign, "less": K.less, "less_equal": K.less_equal,
            "not_equal": K.not_equal, "logical_and": m.logical_and, "logical_or": m.logical_or,
            "softplus": K.softplus}[name]


def _unary_samples(gen):
    def samples(rng, dtype):
        return [Sample((gen(rng, s, dtype),)) for s in UNARY_SHAPES]
    return samples


def _binary_samples(gen_a, gen_b=None):
    gen_b = gen_b or gen_a

    def samples(rng, dtype):
        return [Sample((gen_a(rng, sa, dtype), gen_b(rng, sb, dtype))) for sa, sb in BINARY_SHAPES]
    return samples


def _std(rng, shape, dtype):
    return uniform(rng, shape, dtype, -2, 2) if np.dtype(dtype).kind == "f" else uniform(rng, shape, dtype, -5, 6)


def _positive(rng, shape, dtype):
    return uniform(rng, shape, dtype, 0.3, 2.5)


def _nonzero(rng, shape, dtype):
    if np.dtype(dtype).kind in "iu":
        x = uniform(rng, shape, dtype, 1, 6)
        return np.where(rng.random(shape) < 0.5, -x, x).astype(dtype)
    return away_from(rng, shape, dtype, (0.0,), 0.3)


def _bools(rng, shape, dtype):
    return rng.random(shape) < 0.5


def _np_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.asarray(x).dtype)


def _cast_to(x, out):
    return np.asarray(out).astype(np.asarray(x).dtype)


# name: (formula, input generator, dtypes, differentiable)
_UNARY = {
    "neg": (lambda x: -x, _std, ("float32", "int32"), True),
    "abs": (np.abs, lambda r, s, d: _nonzero(r, s, d), ("float32", "int32"), True),
    "sign": (np.sign, _nonzero, ("float32", "int32"), False),
    "sqrt": (np.sqrt, _positive, ("float32",), True),
    "square": (lambda x: x * x, _std, ("float32", "int32"), True),
    "exp": (np.exp, _std, ("float32", "float16"), True),
    "log": (np.log, _positive, ("float32",), True),
    "log1p": (np.log1p, lambda r, s, d: uniform(r, s, d, -0.7, 2.0), ("float32",), True),
    "expm1": (np.expm1, _std, ("float32",), True),
    "sin": (np.sin, _std, ("float32",), True),
    "cos": (np.cos, _std, ("float32",), True),
    "tanh": (np.tanh, _std, ("float32", "float16"), True),
    "round": (np.rint, lambda r, s, d: _std(r, s, d) if np.dtype(d).kind == "i" else
              away_from(r, s, d, np.arange(-3.5, 4.0), 0.05, -3, 3), ("float32", "int32"), False),
    "floor": (np.floor, lambda r, s, d: away_from(r, s, d, np.arange(-3.0, 4.0), 0.05, -3, 3), ("float32",), False),
    "logical_not": (np.logical_not, _bools, ("bool",), False),
    "sigmoid": (_np_sigmoid, lambda r, s, d: uniform(r, s, d, -6, 6), ("float32",), True),
    "softplus": (lambda x: _cast_to(x, np.logaddexp(0.0, np.asarray(x, np.float64))),
                 lambda r, s, d: uniform(r, s, d, -6, 6), ("float32",), True),
    "relu": (lambda x: np.where(x > 0, x, np.zeros_like(x)), _nonzero, ("float32",), True),
}


def _pow_ref(a, b):
    return np.power(a, b)


def _safe_mod_b(rng, shape, dtype):
    return _nonzero(rng, shape, dtype)


def _with_ties(rng, shape, dtype):
    """Small integers as floats: comparisons see equal, greater and less pairs."""
    return uniform(rng, shape, "int32", -2, 3).astype(dtype)


_BINARY = {
    "add": (np.add, _std, _std, ("float32", "int32", "float16"), True),
    "sub": (np.subtract, _std, _std, ("float32", "int32"), True),
    "mul": (np.multiply, _std, _std, ("float32", "int32"), True),
    "div": (np.true_divide, _std, _nonzero, ("float32",), True),
    "pow": (_pow_ref, lambda r, s, d: uniform(r, s, d, -3, 4) if np.dtype(d).kind == "i" else _positive(r, s, d),
            lambda r, s, d: uniform(r, s, d, 0 if np.dtype(d).kind == "i" else -2, 3), ("float32", "int32"), True),
    "maximum": (np.maximum, _std, _std, ("float32", "int32"), True),
    "minimum": (np.minimum, _std, _std, ("float32", "int32"), True),
    "equal": (np.equal, _with_ties, _with_ties, ("float32", "int32"), False),
    "not_equal": (np.not_equal, _with_ties, _with_ties, ("float32", "int32"), False),
    "greater": (np.greater, _with_ties, _with_ties, ("float32", "int32"), False),
    "greater_equal": (np.greater_equal, _with_ties, _with_ties, ("float32", "int32"), False),
    "less": (np.less, _with_ties, _with_ties, ("float32", "int32"), False),
    "less_equal": (np.less_equal, _with_ties, _with_ties, ("float32", "int32"), False),
    "logical_and": (np.logical_and, _bools, _bools, ("bool",), False),
    "logical_or": (np.logical_or, _bools, _bools, ("bool",), False),
    "floordiv": (np.floor_divide, lambda r, s, d: _std(r, s, d) * 3, _safe_mod_b, ("float32", "int32"), False),
    "mod": (np.mod, lambda r, s, d: _std(r, s, d) * 3, _safe_mod_b, ("float32", "int32"), False),
}


def _where_samples(rng, dtype):
    out = []
    for sa, sb in BINARY_SHAPES:
        shape = np.broadcast_shapes(sa, sb)
        out.append(Sample((rng.random(shape) < 0.5, _std(rng, sa, dtype), _std(rng, sb, dtype))))
    return out


def _cast_samples(rng, dtype):
    if dtype == "float64":  # the gradient check (in float64 throughout, so that finite differences
        return [Sample((uniform(rng, (2, 3), dtype),), {"dtype": "float64"})]  # are exact enough)
    x = away_from(rng, (2, 3), dtype, np.arange(-3.0, 4.0), 0.05, -3, 3)
    return [Sample((x,), {"dtype": t}) for t in ("int32", "float64", "bool", "float16")] + \
        [Sample((uniform(rng, (0, 2), dtype),), {"dtype": "int32"}),
         Sample((uniform(rng, (3,), "int32", -4, 5),), {"dtype": "float32"})]


def rows() -> list:
    """The rows of this module."""
    table = []
    # ops that are compositions of other primitives (no `defop` of their own) keep their rows as
    # composite rows, through their K function
    for name, (ref, gen, dtypes, diff) in _UNARY.items():
        prim = name not in _COMPOSED
        table.append(OpInfo(name if prim else "K." + name, _prim(name) if prim else _k_fn(name), ref,
                            _unary_samples(gen), dtypes=dtypes, differentiable=diff, primitive=prim,
                            tol={"float32": (2e-6, 1e-6)} if name != "softplus" else {}))
    for name, (ref, gen_a, gen_b, dtypes, diff) in _BINARY.items():
        prim = name not in _COMPOSED
        table.append(OpInfo(name if prim else "K." + name, _prim(name) if prim else _k_fn(name), ref,
                            _binary_samples(gen_a, gen_b), dtypes=dtypes, differentiable=diff, primitive=prim))
    # relu's gradient g * (y > 0): y with ties at 0 (the mask is strict); differentiable in g only
    table.append(OpInfo("relu_grad", _prim("relu_grad"), lambda g, y: g * (np.asarray(y) > 0).astype(np.asarray(g).dtype),
                        _binary_samples(_std, _with_ties), dtypes=("float32", "int32"), differentiable=True,
                        grad_args=(0,)))
    table.append(OpInfo("where", _prim("where"), lambda c, a, b: np.where(c, a, b), _where_samples,
                        dtypes=("float32", "int32"), differentiable=True, grad_args=(1, 2)))
    table.append(OpInfo("cast", lambda x, dtype: apply("cast", x, dtype=dtype),
                        lambda x, dtype: x.astype(dtype), _cast_samples, dtypes=("float32",),
                        differentiable=True))
    return table

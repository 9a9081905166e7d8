"""Random tensors: a random tensor draws anew at every evaluation; a seed fixes the sequence."""
from __future__ import annotations

import numpy as np

from ..graph import Tensor, apply, canonical_dtype, defop
from .math import cast


def _random_infer(*dyn, shape, dtype, **params):
    return shape, dtype


for _name in ("random_uniform", "random_normal", "truncated_normal"):
    defop(_name, _random_infer, stateful=True)


def _draw(op, shape, dtype, seed, **params):
    dtype = canonical_dtype(dtype, op)
    if seed is not None:
        seed = int(seed)
    if isinstance(shape, Tensor):  # a symbolic shape: known only at run time
        from .shape import _static_len
        static = (None,) * _static_len(shape)
        return apply(op, cast(shape, "int32"), shape=static, dtype=dtype, seed=seed, **params)
    if any(isinstance(d, Tensor) for d in shape):
        from .shape import stack
        return _draw(op, stack([cast(d, "int32") if isinstance(d, Tensor) else d for d in shape]), dtype, seed, **params)
    shape = tuple(int(d) for d in shape)
    return apply(op, shape=shape, dtype=dtype, seed=seed, **params)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None): U[minval, maxval)."""
    return _draw("random_uniform", shape, dtype, seed, minval=float(minval), maxval=float(maxval))


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None): N(mean, stddev**2)."""
    return _draw("random_normal", shape, dtype, seed, mean=float(mean), stddev=float(stddev))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None): normal samples
    redrawn when more than two standard deviations from the mean."""
    return _draw("truncated_normal", shape, dtype, seed, mean=float(mean), stddev=float(stddev))


def random_binomial(shape, p=0.0, dtype=None, seed=None):
    """random_binomial(shape, p=0.0, dtype=None, seed=None): 1 with probability p, else 0: a
    uniform draw u in [0, 1) (float64, as the reference backend draws it) compared as u <= p."""
    from .math import greater_equal
    u = _draw("random_uniform", shape, "float64", seed, minval=0.0, maxval=1.0)
    return cast(greater_equal(float(p), u), canonical_dtype(dtype, "random_binomial"))


def host_rng(seed):
    """A NumPy generator for values made at graph-build time (random variables, initializers);
    seed=None draws a seed from np.random so np.random.seed makes runs repeat."""
    if seed is None:
        seed = np.random.randint(0, 2 ** 31 - 1)
    return np.random.default_rng(int(seed))

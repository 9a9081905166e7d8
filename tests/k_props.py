"""Shared strategies and checks for the property-based K tests (tests/test_k_properties_*.py).

Inputs are drawn from small sets on purpose: ranks 0-4, axis lengths from {0, 1, 2, 3, 4} (so
size-0 and size-1 axes are common), dtypes float16/32/64. Values come from a seeded NumPy
generator (fast to build, still reproducible and shrinkable through the seed), optionally on a
coarse grid so that ties (argmax, maximum, equal, round at .5) actually happen.

Every expected value is a NumPy formula written in the test, computed in float64 from the same
(rounded) inputs. On the numba backend, some examples lower the size under which fused
elementwise programs run as NumPy expressions to 0, so the generated Numba kernels are checked on
the same tiny and empty shapes (kernels are compiled per program and dtype, not per shape or
rank, which keeps cold-cache compilation bounded).
"""
from __future__ import annotations

import contextlib

import numpy as np
from hypothesis import strategies as st

import keraslite
from keraslite import backend as K

FLOATS = ("float16", "float32", "float64")
SIDES = (0, 1, 1, 2, 3, 4)

# tolerances per dtype for results computed from the same inputs
TOL = {"float16": (1e-2, 1e-2), "float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}

#: examples run by the property tests in this process (read by the conftest summary)
COUNTER = {"examples": 0}


def count():
    COUNTER["examples"] += 1


# ---------------------------------------------------------------------------------------------
# strategies

side = st.sampled_from(SIDES)
float_dtype = st.sampled_from(FLOATS)
seed = st.integers(0, 2 ** 31 - 1)


@st.composite
def shapes(draw, min_rank=0, max_rank=4):
    rank = draw(st.integers(min_rank, max_rank))
    return tuple(draw(side) for _ in range(rank))


@st.composite
def broadcast_pair(draw, min_rank=0, max_rank=4):
    """Two shapes that broadcast together: the second drops leading axes and sets some to 1."""
    full = draw(shapes(min_rank, max_rank))
    a = list(full)
    b = list(full)
    for i in range(len(full)):
        which = draw(st.sampled_from(("both", "both", "a1", "b1")))
        if which == "a1":
            a[i] = 1
        elif which == "b1":
            b[i] = 1
    drop = draw(st.integers(0, len(b)))
    b = b[drop:]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


@st.composite
def axes_for(draw, rank):
    """None, an int or a list of distinct ints, each possibly negative."""
    if rank == 0:
        return draw(st.sampled_from([None, [], ()]))
    kind = draw(st.sampled_from(("none", "int", "list")))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-rank, rank - 1))
    picked = draw(st.lists(st.integers(0, rank - 1), unique=True, max_size=rank))
    return [a - rank if draw(st.booleans()) else a for a in picked]


def values(rng, shape, dtype, low=-3.0, high=3.0, grid=False, specials=()):
    """A float array of `dtype`; `grid`: multiples of 0.5 (ties); `specials`: some entries replaced."""
    if grid:
        x = rng.integers(int(2 * low), int(2 * high) + 1, size=shape) / 2.0
    else:
        x = rng.uniform(low, high, size=shape)
    if specials and x.size:
        mask = rng.random(shape) < 0.2
        x = np.where(mask, rng.choice(np.asarray(specials, dtype=np.float64), size=shape), x)
    return np.asarray(x).astype(dtype)


# ---------------------------------------------------------------------------------------------
# running and comparing


@contextlib.contextmanager
def kernel_path(on: bool):
    """On the numba backend with on=True: fused elementwise programs run as Numba kernels even
    for tiny outputs (normally they run as NumPy expressions below 1024 elements)."""
    if not on or K.backend() != "numba":
        yield
        return
    from keraslite_numba import fused
    saved = fused.SMALL_THRESHOLD
    fused.SMALL_THRESHOLD = 0
    try:
        yield
    finally:
        fused.SMALL_THRESHOLD = saved


def evaluate(kfn, *arrays):
    """kfn applied to K.variables holding the arrays (keeping their dtypes), evaluated."""
    ts = [K.variable(a, dtype=np.asarray(a).dtype.name) for a in arrays]
    out = kfn(*ts)
    static = K.int_shape(out)
    val = K.eval(out)
    return np.asarray(val), static


def to64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def check(got, want, dtype, static=None, tol=None, msg=""):
    """Exact shape and dtype; values to the dtype's tolerance, NaN and inf positions equal."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{msg} shape: got {got.shape}, want {want.shape}"
    if static is not None:
        assert tuple(static) == want.shape, f"{msg} int_shape {static} != {want.shape}"
    assert got.dtype == np.dtype(dtype), f"{msg} dtype: got {got.dtype}, want {np.dtype(dtype)}"
    if want.dtype == bool or want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want, err_msg=msg)
        return
    rtol, atol = tol if tol is not None else TOL.get(np.dtype(dtype).name, TOL["float64"])
    g, w = got.astype(np.float64), want.astype(np.float64)
    same = (g == w) | (np.isnan(g) & np.isnan(w))  # equal infinities and NaN positions
    with np.errstate(invalid="ignore"):
        close = np.abs(g - w) <= np.asarray(atol) + rtol * np.abs(w)
    bad = ~(same | close)
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{msg}: {int(bad.sum())} of {g.size} values differ (rtol={rtol:g}); first at {i}: "
                             f"got {g[i]!r}, want {w[i]!r}, allowed {np.broadcast_to(atol, w.shape)[i]!r} + "
                             f"rtol*|want|\ngot:\n{g}\nwant:\n{w}")


def run(kfn, npfn, arrays, dtype, tol=None, kernels=False, msg=""):
    """The whole check for one example: evaluate, compute the NumPy formula in float64, compare."""
    count()
    with kernel_path(kernels):
        got, static = evaluate(kfn, *arrays)
    with np.errstate(all="ignore"):
        want = np.asarray(npfn(*[to64(a) for a in arrays]))
    check(got, want, dtype, static=static, tol=tol, msg=msg)
    return got


def backends():
    return keraslite.available_backends()

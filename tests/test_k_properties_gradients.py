"""Property-based float64 gradient checks (K.gradients against central finite differences).

tests/test_k_gradients.py and tests/test_k_nn.py check every differentiable K function on fixed
shapes; this module draws the shapes instead: size-0 and size-1 axes, broadcasting pairs,
negative and multiple axes, keepdims, random permutations, strides and repetitions, and adds
log_softmax, which has no fixed-shape gradient test. Inputs stay away from kinks (ties of
max/min, zeros of prod/cumprod/div) so that finite differences are exact enough.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_helpers import check_grad  # noqa: E402
from k_props import axes_for, broadcast_pair, count, seed, shapes  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

# finite differences cost two evaluations per input element: fewer examples than the value tests
FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
small_shapes = shapes(max_rank=3)


@pytest.fixture(autouse=True)
def _float64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


def _distinct(rng, shape, low=-2.0, high=2.0):
    """Values without ties (a random permutation of a spread grid) so max/min have one winner."""
    n = int(np.prod(shape))
    grid = np.linspace(low, high, max(n, 1))[:n]
    return rng.permutation(grid).reshape(shape) + rng.uniform(-0.01, 0.01, size=shape)


def _nonzero(rng, shape, low=0.5, high=1.5):
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": K.maximum,
    "minimum": K.minimum,
    "pow": lambda a, b: K.pow(K.abs(a) + 0.5, b),
}


@FEW
@given(name=st.sampled_from(sorted(BINARY)), pair=broadcast_pair(max_rank=3), s=seed)
def test_binary_broadcast_gradient(name, pair, s):
    """The gradient of a broadcast operand is summed back to its own shape."""
    count()
    rng = np.random.default_rng(s)
    a = _distinct(rng, pair[0])
    b = _nonzero(rng, pair[1]) if name == "div" else _distinct(rng, pair[1], -1.9, 2.1)
    check_grad(BINARY[name], [a, b])


REDUCTIONS = {
    "sum": K.sum, "mean": K.mean, "max": K.max, "min": K.min, "prod": K.prod,
    "var": K.var, "std": K.std, "logsumexp": K.logsumexp,
}


@FEW
@given(name=st.sampled_from(sorted(REDUCTIONS)), shape=small_shapes, s=seed, keepdims=st.booleans(),
       data=st.data())
def test_reduction_gradient(name, shape, s, keepdims, data):
    axis = data.draw(axes_for(len(shape)), label="axis")
    count()
    rng = np.random.default_rng(s)
    x = _nonzero(rng, shape) if name == "prod" else _distinct(rng, shape)
    if name == "std":  # sqrt has an infinite slope at a zero variance: only reduce non-trivial slices
        axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
        if int(np.prod([shape[a] for a in axes])) < 2:
            return
    if name in ("max", "min"):
        # the empty reduction is -inf/+inf, whose gradient does not exist: reduce non-empty slices
        axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
        if any(shape[a] == 0 for a in axes):
            return
    check_grad(lambda t: REDUCTIONS[name](t, axis=axis, keepdims=keepdims), [x])


@FEW
@given(name=st.sampled_from(["cumsum", "cumprod", "softmax", "log_softmax"]), shape=shapes(min_rank=1, max_rank=3),
       s=seed, data=st.data())
def test_axis_op_gradient(name, shape, s, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    count()
    rng = np.random.default_rng(s)
    x = _nonzero(rng, shape) if name == "cumprod" else rng.uniform(-2, 2, size=shape)
    check_grad(lambda t: getattr(K, name)(t, axis=axis), [x])


@FEW
@given(shape=small_shapes, s=seed, data=st.data())
def test_getitem_gradient(shape, s, data):
    key = []
    for d in shape:
        lo = data.draw(st.one_of(st.none(), st.integers(-d - 1, d)), label="lo")
        step = data.draw(st.sampled_from([None, 2, -1, -2]), label="step")
        if d and data.draw(st.booleans()):
            key.append(data.draw(st.integers(-d, d - 1), label="index"))
        else:
            key.append(slice(lo, None, step))
    count()
    x = np.random.default_rng(s).uniform(-2, 2, size=shape)
    check_grad(lambda t: t[tuple(key)], [x])


@FEW
@given(shape=shapes(min_rank=1, max_rank=3), s=seed, data=st.data())
def test_layout_gradients(shape, s, data):
    """tile, repeat_elements, permute_dimensions, reverse, gather (repeated indices add up)."""
    r = len(shape)
    reps = data.draw(st.lists(st.integers(0, 2), min_size=r, max_size=r), label="reps")
    rep = data.draw(st.integers(0, 3), label="rep")
    axis = data.draw(st.integers(-r, r - 1), label="axis")
    perm = data.draw(st.permutations(range(r)), label="perm")
    idx = np.random.default_rng(s).integers(0, max(shape[0], 1), size=(shape[0] and 5,))
    count()
    x = np.random.default_rng(s).uniform(-2, 2, size=shape)
    check_grad(lambda t: K.tile(t, reps), [x])
    check_grad(lambda t: K.repeat_elements(t, rep, axis), [x])
    check_grad(lambda t: K.reverse(K.permute_dimensions(t, perm), axis), [x])
    check_grad(lambda t: K.gather(t, idx), [x])


@FEW
@given(s=seed, data=st.data())
def test_batch_dot_gradient(s, data):
    rx, ry = data.draw(st.integers(2, 3), label="rx"), data.draw(st.integers(2, 3), label="ry")
    side = st.sampled_from([0, 1, 2, 3])
    b = data.draw(side, label="batch")
    xs = [b] + [data.draw(side) for _ in range(rx - 1)]
    ys = [b] + [data.draw(side) for _ in range(ry - 1)]
    ax, ay = data.draw(st.integers(1, rx - 1), label="ax"), data.draw(st.integers(1, ry - 1), label="ay")
    ys[ay] = xs[ax]
    count()
    rng = np.random.default_rng(s)
    check_grad(lambda p, q: K.batch_dot(p, q, axes=(ax - rx, ay)), [rng.uniform(-1, 1, size=xs),
                                                                      rng.uniform(-1, 1, size=ys)])

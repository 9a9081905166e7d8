"""K.* cases from Keras 2.3's backend expectations that need run-time values: indexing with a
symbolic integer (inside K.map_fn over K.arange), K.batch_dot whose non-batch dimensions are
unknown until run time, and K.in_top_k's tie rule and out-of-range k; on every backend, against
NumPy formulas."""
import numpy as np
import pytest

from keraslite import backend as K

pytestmark = pytest.mark.usefixtures("kbackend")


def test_map_fn_over_arange_indexes_with_the_symbolic_item():
    x = np.arange(24, dtype="float32").reshape(4, 3, 2)
    xv = K.variable(x)
    # known length: the map is unrolled and each item is a scalar int tensor
    out = K.eval(K.map_fn(lambda i: xv[i] * 2.0, K.arange(4)))
    np.testing.assert_array_equal(out, x * 2)
    out = K.eval(K.map_fn(lambda i: K.sum(xv[i, :, 1]) + xv[3 - i, 0, 0], K.arange(4)))
    np.testing.assert_allclose(out, [x[i, :, 1].sum() + x[3 - i, 0, 0] for i in range(4)])
    # run-time length: the item is a placeholder inside the loop body
    n = K.placeholder(shape=(), dtype="int32")
    f = K.function([n], [K.map_fn(lambda i: xv[i, 1] - xv[0, 0], K.arange(n))])
    np.testing.assert_array_equal(f([3])[0], x[:3, 1] - x[0, 0])
    np.testing.assert_array_equal(f([1])[0], x[:1, 1] - x[0, 0])


@pytest.mark.parametrize("key", [
    lambda i: (i,), lambda i: (slice(None), i), lambda i: (Ellipsis, i), lambda i: (i, slice(1, 3), None),
    lambda i: (None, i, 0), lambda i: (-1 - i,), lambda i: (i, i)])
def test_symbolic_integer_index_matches_numpy(key):
    x = np.random.default_rng(0).standard_normal((3, 4, 3))
    i = K.placeholder(shape=(), dtype="int32")
    xp = K.placeholder(shape=(None, 4, 3), dtype="float64")
    y = xp[key(i)]
    f = K.function([xp, i], [y])
    for value in range(3):
        want = x[key(value)]
        got = f([x, np.int32(value)])[0]
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert len(K.int_shape(y)) == want.ndim


def test_symbolic_index_gradient():
    x = np.random.default_rng(1).standard_normal((4, 3))
    xv = K.variable(x, dtype="float64")
    i = K.placeholder(shape=(), dtype="int32")
    loss = K.sum(K.square(xv[i]))
    g = K.function([i], K.gradients(loss, [xv]))([np.int32(2)])[0]
    want = np.zeros_like(x)
    want[2] = 2 * x[2]
    np.testing.assert_allclose(g, want)


def test_index_errors():
    x = K.variable(np.zeros((3, 2)))
    with pytest.raises(TypeError, match="scalar integer tensor"):
        x[K.placeholder(shape=(2,), dtype="int32")]
    with pytest.raises(TypeError, match="scalar integer tensor"):
        x[K.placeholder(shape=(), dtype="float32")]
    with pytest.raises(TypeError, match="slice bounds must be Python ints"):
        x[K.placeholder(shape=(), dtype="int32"):]


@pytest.mark.parametrize("x_shape, y_shape, axes", [
    ((2, 3, 4), (2, 4, 5), (2, 1)),
    ((2, 3, 4), (2, 5, 4), (2, 2)),
    ((2, 4), (2, 4), 1),
    ((2, 4), (2, 4, 3), (1, 1)),
    ((2, 3, 4, 5), (2, 5, 2), (3, 1)),
    ((2, 4, 3), (2, 4), (1, 1)),
])
def test_batch_dot_with_run_time_dimensions(x_shape, y_shape, axes):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    ax, ay = (axes, axes) if isinstance(axes, int) else axes
    want = np.stack([np.tensordot(x[b], y[b], axes=(ax - 1, ay - 1)) for b in range(x.shape[0])])
    if want.ndim == 1:
        want = want[:, None]
    xp = K.placeholder(shape=(None,) * len(x_shape), dtype="float64")
    yp = K.placeholder(shape=(None,) * len(y_shape), dtype="float64")
    z = K.batch_dot(xp, yp, axes=axes)
    assert len(K.int_shape(z)) == want.ndim
    got = K.function([xp, yp], [z])([x, y])[0]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the same with the static shapes known agrees
    static = K.eval(K.batch_dot(K.variable(x, dtype="float64"), K.variable(y, dtype="float64"), axes=axes))
    np.testing.assert_allclose(static, want, rtol=1e-12)
    # a partly known shape, and a gradient through the run-time reshape
    xq = K.placeholder(shape=(None, x_shape[1]) + (None,) * (len(x_shape) - 2), dtype="float64")
    loss = K.sum(K.batch_dot(xq, yp, axes=axes) ** 2)
    g = K.function([xq, yp], K.gradients(loss, [xq]))([x, y])[0]
    eps = 1e-6
    idx = (1,) + (0,) * (len(x_shape) - 1)
    fl = K.function([xq, yp], [loss])
    xp_, xm_ = x.copy(), x.copy()
    xp_[idx] += eps
    xm_[idx] -= eps
    assert g[idx] == pytest.approx((fl([xp_, y])[0] - fl([xm_, y])[0]) / (2 * eps), rel=1e-5)


def _np_in_top_k(pred, targets, k):
    """Keras 2's rule: target t of row i is in the top k when fewer than k scores exceed its own
    (so a target tied with the k-th largest counts); a non-finite target score never does."""
    score = pred[np.arange(len(targets)), targets]
    larger = (pred > score[:, None]).sum(axis=1)
    return (larger < k) & np.isfinite(score)


def test_in_top_k_ties_and_k_range():
    pred = np.array([[0.1, 0.3, 0.3, 0.2],
                     [0.5, 0.5, 0.5, 0.5],
                     [0.9, 0.0, 0.05, 0.05],
                     [0.2, 0.2, 0.1, 0.7],
                     [0.0, np.nan, 0.3, 0.1]], dtype="float32")
    targets = np.array([2, 3, 3, 1, 1])
    for k in range(0, 7):
        got = K.eval(K.in_top_k(K.variable(pred), K.variable(targets, dtype="int32"), k))
        np.testing.assert_array_equal(got, _np_in_top_k(pred, targets, k), err_msg=f"k={k}")
    # the tie cases spelled out: row 0 target 2 ties class 1 at the top, row 3 target 1 ties class 0
    k1 = K.eval(K.in_top_k(K.variable(pred), K.variable(targets, dtype="int32"), 1))
    k2 = K.eval(K.in_top_k(K.variable(pred), K.variable(targets, dtype="int32"), 2))
    assert list(k1) == [True, True, False, False, False]
    assert list(k2) == [True, True, True, True, False]
    assert not K.eval(K.in_top_k(K.variable(pred), K.variable(targets, dtype="int32"), 0)).any()


def test_in_top_k_random_against_numpy():
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 4, (50, 6)).astype("float32")  # many ties
    targets = rng.integers(0, 6, 50)
    p = K.placeholder(shape=(None, 6))
    t = K.placeholder(shape=(None,), dtype="int32")
    for k in (0, 1, 3, 6, 9):
        got = K.function([p, t], [K.in_top_k(p, t, k)])([pred, targets])[0]
        np.testing.assert_array_equal(got, _np_in_top_k(pred, targets, k))

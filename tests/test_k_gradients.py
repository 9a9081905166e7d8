"""K.gradients against central finite differences in float64, plus the gradient API semantics
(placeholders, intermediate tensors, unconnected variables, stop_gradient, second order)."""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close, check_grad

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture(autouse=True)
def _float64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


def _r(shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def _away_from(x, points, margin=0.15):
    """Move entries of x that are within `margin` of any kink point away from it."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + margin * np.where(x[close] >= p, 1.5, -1.5)
    return x


def _signed(shape, seed, low=0.5, high=2.0):
    mag = _r(shape, seed, low, high)
    sgn = np.where(np.random.default_rng(seed + 50).random(shape) < 0.5, -1.0, 1.0)
    return mag * sgn


# ---------------------------------------------------------------------------------------------
# elementwise


UNARY = {
    "square": (K.square, lambda s: _r(s, 1)),
    "abs": (K.abs, lambda s: _away_from(_r(s, 2), [0.0])),
    "sqrt": (K.sqrt, lambda s: _r(s, 3, 0.2, 3.0)),
    "exp": (K.exp, lambda s: _r(s, 4)),
    "log": (K.log, lambda s: _r(s, 5, 0.2, 3.0)),
    "sin": (K.sin, lambda s: _r(s, 6)),
    "cos": (K.cos, lambda s: _r(s, 7)),
    "neg": (lambda t: -t, lambda s: _r(s, 8)),
    "abs_op": (lambda t: abs(t), lambda s: _away_from(_r(s, 9), [0.0])),
    "round_times_x": (lambda t: K.round(t) * t, lambda s: _away_from(_r(s, 10), [-1.5, -0.5, 0.5, 1.5])),
    "sign_times_x": (lambda t: K.sign(t) * K.square(t), lambda s: _away_from(_r(s, 11), [0.0])),
}


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradient(name, shape):
    kfn, make = UNARY[name]
    check_grad(kfn, [make(shape)])


def test_unary_gradient_with_none_batch_placeholder():
    check_grad(lambda t: K.exp(t) * K.sin(t), [_r((3, 2), 1)], none_axes=(0,))


def test_unary_gradient_through_variables():
    check_grad(lambda t: K.log(K.square(t) + 1.0), [_r((2, 3), 2)], use_variables=True)


@pytest.mark.parametrize("a", [2, 3, 0.5, -1.5, 1, 0])
def test_pow_scalar_exponent_gradient(a):
    x = _r((2, 3), 12, 0.3, 2.0) if not float(a).is_integer() or a < 0 else _signed((2, 3), 12)
    check_grad(lambda t: K.pow(t, a), [x])


def test_pow_tensor_exponent_gradient():
    x = _r((2, 3), 13, 0.3, 2.0)
    e = _r((2, 3), 14, -1.5, 2.5)
    check_grad(K.pow, [x, e])
    check_grad(K.pow, [x, _r((3,), 15, -1.0, 2.0)])  # broadcast exponent


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.7), (None, 0.3), (-0.2, None)])
def test_clip_gradient(lo, hi):
    x = _away_from(_r((3, 4), 16), [p for p in (lo, hi) if p is not None], margin=0.05)
    check_grad(lambda t: K.clip(t, lo, hi), [x])


def test_clip_gradient_tensor_bounds():
    x = _r((3, 4), 17)
    lo = np.full((4,), -0.5)
    hi = np.full((3, 4), 0.8)
    x = _away_from(x, [-0.5, 0.8], margin=0.05)
    check_grad(K.clip, [x, lo, hi], wrt=[0])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_gradient(name):
    kfn = getattr(K, name)
    x = _r((3, 4), 18)
    y = x + _signed((3, 4), 19, 0.1, 1.0)  # no ties
    check_grad(kfn, [x, y])
    y3 = _signed((4,), 20, 0.1, 1.0)  # broadcast along rows; x kept away from every y3 value
    check_grad(kfn, [_away_from(x, list(y3), margin=0.02), y3])
    check_grad(lambda t: kfn(t, 0.3), [_away_from(x, [0.3], margin=0.05)])


def test_switch_gradient():
    x = _away_from(_r((3, 4), 21), [0.0])
    y = _r((3, 4), 22)
    check_grad(lambda a, b: K.switch(K.greater(a, 0), a * b, K.square(b)), [x, y])


def test_switch_lower_rank_condition_gradient():
    cond = np.array([True, False, True])
    check_grad(lambda a, b: K.switch(K.constant(cond, dtype="bool"), a, b * 2),
               [_r((3, 2, 2), 23), _r((3, 2, 2), 24)])


def test_switch_scalar_condition_gradient():
    c = K.variable(1.0)
    check_grad(lambda a, b: K.switch(K.greater(c, 0.0), lambda: a * 3, lambda: b), [_r((2, 3), 25), _r((2, 3), 26)])


# ---------------------------------------------------------------------------------------------
# operators and broadcasting


OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((4, 3), (3,)), ((4, 3), (1, 3)), ((2, 1, 3), (4, 1)),
                                    ((3,), ())], ids=str)
@pytest.mark.parametrize("op", sorted(OPS))
def test_binary_operator_gradient(op, shapes):
    f = OPS[op]
    if op == "pow":
        x, y = _r(shapes[0], 27, 0.3, 2.0), _r(shapes[1], 28, -1.5, 2.0)
    else:
        x, y = _signed(shapes[0], 27), _signed(shapes[1], 28)
    g = check_grad(f, [x, y])
    assert g[0].shape == shapes[0] and g[1].shape == shapes[1]


@pytest.mark.parametrize("op", sorted(OPS))
def test_operator_with_scalars_and_arrays_gradient(op):
    f = OPS[op]
    x = _r((3, 4), 29, 0.3, 2.0)
    arr = _r((4,), 30, 0.5, 1.5)
    check_grad(lambda t: f(t, 1.7), [x])
    check_grad(lambda t: f(1.7, t), [x])
    check_grad(lambda t: f(t, arr), [x])
    check_grad(lambda t: f(arr, t), [x])


def test_broadcast_add_gradient_has_operand_shape():
    x = K.placeholder(shape=(4, 3), dtype="float64")
    b1 = K.variable(np.zeros((1, 3)), dtype="float64")
    b2 = K.variable(np.zeros((3,)), dtype="float64")
    loss = K.sum((x + b1) * 2.0 + b2)
    g1, g2 = K.gradients(loss, [b1, b2])
    assert K.int_shape(g1) == (1, 3)
    assert K.int_shape(g2) == (3,)
    v1, v2 = K.function([x], [g1, g2])([np.ones((4, 3))])
    assert_close(v1, np.full((1, 3), 8.0))
    assert_close(v2, np.full((3,), 4.0))


def test_broadcast_gradient_with_none_batch():
    b = K.variable(np.zeros((3,)), dtype="float64")
    x = K.placeholder(shape=(None, 3), dtype="float64")
    g = K.gradients(K.sum(K.square(x + b)), [b])[0]
    f = K.function([x], [g])
    a = _r((5, 3), 31)
    assert_close(f([a])[0], 2 * a.sum(axis=0))
    assert_close(f([a[:2]])[0], 2 * a[:2].sum(axis=0))


def test_fan_out_accumulates():
    check_grad(lambda t: t * t + K.exp(t) * t - t, [_r((2, 3), 32)])


# ---------------------------------------------------------------------------------------------
# reductions


RED = {
    "sum": K.sum, "mean": K.mean, "var": K.var, "std": K.std, "logsumexp": K.logsumexp,
    "max": K.max, "min": K.min, "prod": K.prod,
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, [0, 2]], ids=str)
@pytest.mark.parametrize("name", sorted(RED))
def test_reduction_gradient(name, axis, keepdims):
    kfn = RED[name]
    x = _signed((2, 3, 4), 33, 0.5, 1.5) if name == "prod" else _r((2, 3, 4), 33)  # distinct values: no ties
    check_grad(lambda t: kfn(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_tie_gradient_sums_to_one(name):
    x = np.array([1.0, 3.0, 3.0, 2.0]) if name == "max" else np.array([2.0, 0.5, 4.0, 0.5])
    t = K.placeholder(shape=(4,), dtype="float64")
    g = K.gradients(getattr(K, name)(t), [t])[0]
    val = K.function([t], [g])([x])[0]
    tied = [1, 2] if name == "max" else [1, 3]
    other = [i for i in range(4) if i not in tied]
    assert val.shape == (4,)
    assert val.sum() == pytest.approx(1.0)
    assert np.all(val[tied] >= 0)
    np.testing.assert_array_equal(val[other], 0.0)


def test_max_tie_gradient_per_row():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    t = K.placeholder(shape=(2, 3), dtype="float64")
    g = K.function([t], K.gradients(K.sum(K.max(t, axis=1)), [t]))([x])[0]
    np.testing.assert_allclose(g.sum(axis=1), [1.0, 1.0])
    assert g[0, 0] == 0


def test_prod_gradient_with_a_zero_entry():
    x = np.array([[1.5, 0.0, -2.0], [0.7, 1.2, 3.0]])
    for axis in (None, 1, 0):
        check_grad(lambda t: K.prod(t, axis=axis), [x])


def test_prod_gradient_with_two_zeros():
    check_grad(lambda t: K.prod(t, axis=1), [np.array([[0.0, 0.0, 2.0], [1.0, 2.0, 3.0]])])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_gradient(name, axis):
    x = _signed((3, 4), 34, 0.5, 1.5)
    check_grad(lambda t: getattr(K, name)(t, axis=axis), [x])


def test_logsumexp_gradient_large_values():
    x = np.array([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    check_grad(lambda t: K.logsumexp(t, axis=1), [x])


# ---------------------------------------------------------------------------------------------
# shape ops


SHAPE_OPS = {
    "reshape": (lambda t: K.reshape(t, (4, 6)), (2, 3, 4)),
    "reshape_-1": (lambda t: K.reshape(t, (-1, 2)), (2, 3, 4)),
    "transpose": (K.transpose, (2, 3, 4)),
    "permute": (lambda t: K.permute_dimensions(t, (1, 2, 0)), (2, 3, 4)),
    "expand_dims": (lambda t: K.expand_dims(t, 1), (2, 3)),
    "squeeze": (lambda t: K.squeeze(t, 1), (2, 1, 3)),
    "flatten": (K.flatten, (2, 3, 2)),
    "batch_flatten": (K.batch_flatten, (2, 3, 2)),
    "tile": (lambda t: K.tile(t, (2, 3)), (2, 3)),
    "tile_short": (lambda t: K.tile(t, 2), (2, 3)),
    "repeat": (lambda t: K.repeat(t, 3), (2, 3)),
    "repeat_elements_0": (lambda t: K.repeat_elements(t, 2, 0), (2, 3)),
    "repeat_elements_1": (lambda t: K.repeat_elements(t, 3, 1), (2, 3)),
    "reverse": (lambda t: K.reverse(t, [0, 2]), (2, 3, 2)),
    "slice": (lambda t: K.slice(t, (0, 1), (2, 2)), (3, 4)),
    "gather_repeated": (lambda t: K.gather(t, [0, 2, 0, 0]), (3, 2)),
    "gather_2d": (lambda t: K.gather(t, np.array([[1, 1], [0, 2]], np.int32)), (3, 2)),
    "gather_scalar": (lambda t: K.gather(t, 1), (3, 2)),
    "index_0": (lambda t: t[0], (3, 4)),
    "index_slice": (lambda t: t[:, 1:3], (3, 4)),
    "index_ellipsis": (lambda t: t[..., -1], (2, 3, 4)),
    "index_reverse": (lambda t: t[::-1], (3, 4)),
    "index_step": (lambda t: t[1:, ::2], (3, 5)),
    "index_newaxis": (lambda t: t[None, :, 0], (3, 4)),
    "concat_self": (lambda t: K.concatenate([t, t * 2, t[:, :1]], axis=-1), (2, 3)),
    "stack_self": (lambda t: K.stack([t, K.square(t)], axis=1), (2, 3)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_op_gradient(name):
    kfn, shape = SHAPE_OPS[name]
    check_grad(kfn, [_r(shape, 35)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_gradient(axis):
    shapes = [[2, 3], [2, 3]]
    shapes[1][axis] = 1
    check_grad(lambda a, b: K.concatenate([a, b], axis=axis), [_r(tuple(shapes[0]), 36), _r(tuple(shapes[1]), 37)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_gradient(axis):
    check_grad(lambda a, b, c: K.stack([a, b, c], axis=axis), [_r((2, 3), 38), _r((2, 3), 39), _r((2, 3), 40)])


def test_gather_index_placeholder_gradient():
    ref = K.placeholder(shape=(4, 2), dtype="float64")
    idx = K.placeholder(shape=(None,), dtype="int32")
    g = K.gradients(K.sum(K.gather(ref, idx) * 3.0), [ref])[0]
    out = K.function([ref, idx], [g])([np.zeros((4, 2)), np.array([3, 0, 3, 3], np.int32)])[0]
    assert_close(out, np.array([[3.0, 3.0], [0, 0], [0, 0], [9.0, 9.0]]))


@pytest.mark.parametrize("xs,ys", [((3, 4), (4, 2)), ((2, 3), (4, 3, 2)), ((2, 2, 3), (3, 2)), ((3,), (3, 2))],
                         ids=str)
def test_dot_gradient(xs, ys):
    check_grad(K.dot, [_r(xs, 41), _r(ys, 42)])


@pytest.mark.parametrize("xs,ys,axes", [((3, 4), (3, 4), None), ((2, 3, 4), (2, 4, 2), None),
                                        ((2, 3, 2), (2, 3, 4), 1), ((2, 4, 3), (2, 3), None),
                                        ((2, 3, 2), (2, 4, 3), (1, 2))], ids=str)
def test_batch_dot_gradient(xs, ys, axes):
    check_grad(lambda a, b: K.batch_dot(a, b, axes=axes), [_r(xs, 43), _r(ys, 44)])


def test_composite_mlp_gradient_variables():
    x = K.constant(_r((5, 3), 45), dtype="float64")
    check_grad(lambda w, b: K.mean(K.square(K.tanh(K.dot(x, w) + b) - 0.5), axis=-1),
               [_r((3, 2), 46), _r((2,), 47)], use_variables=True)


# ---------------------------------------------------------------------------------------------
# the gradients API


def test_gradients_wrt_placeholder_single_tensor_form():
    p = K.placeholder(shape=(None, 3), dtype="float64")
    loss = K.sum(K.square(p))
    grads = K.gradients(loss=loss, variables=p)
    assert isinstance(grads, list) and len(grads) == 1
    a = _r((2, 3), 48)
    assert_close(K.function([p], grads)([a])[0], 2 * a)


def test_gradients_returns_list_in_order():
    a = K.variable(np.array([1.0, 2.0]), dtype="float64")
    b = K.variable(np.array([3.0]), dtype="float64")
    ga, gb = K.gradients(K.sum(a * 2.0) + K.sum(b * 5.0), [a, b])
    assert_close(K.eval(ga), np.array([2.0, 2.0]), dtype="float64")
    assert_close(K.eval(gb), np.array([5.0]), dtype="float64")
    g1 = K.gradients(K.sum(a * 2.0) + K.sum(b * 5.0), (b,))
    assert isinstance(g1, list) and len(g1) == 1


def test_gradient_dtype_and_shape_follow_variable():
    v = K.variable(np.ones((2, 3)), dtype="float64")
    g = K.gradients(K.sum(v * v), [v])[0]
    assert K.int_shape(g) == (2, 3)
    assert K.dtype(g) == "float64"


def test_gradients_wrt_intermediate_tensor():
    x = K.placeholder(shape=(2, 3), dtype="float64")
    h = x * 2.0
    loss = K.sum(K.square(h) + h)
    gh, gx = K.gradients(loss, [h, x])
    a = _r((2, 3), 49)
    vh, vx = K.function([x], [gh, gx])([a])
    assert_close(vh, 2 * (2 * a) + 1)
    assert_close(vx, 2 * (2 * (2 * a) + 1))


def test_unconnected_variable_gets_zeros():
    v = K.variable(np.ones((2, 3)), dtype="float64")
    w = K.variable(np.ones((4,)), dtype="float64")
    g = K.gradients(K.sum(v * 3.0), [v, w])
    assert g[1] is not None
    assert_close(K.eval(g[1]), np.zeros((4,)))
    assert_close(K.eval(g[0]), np.full((2, 3), 3.0))


def test_non_scalar_loss_is_summed():
    x = K.placeholder(shape=(2, 3), dtype="float64")
    g = K.gradients(x * 3.0 + K.square(x), [x])[0]
    a = _r((2, 3), 50)
    assert_close(K.function([x], [g])([a])[0], 3.0 + 2 * a)


def test_stop_gradient_single():
    x = K.placeholder(shape=(3,), dtype="float64")
    loss = K.sum(x * K.stop_gradient(x))
    g = K.gradients(loss, [x])[0]
    a = _r((3,), 51)
    out = K.function([x], [loss, g])([a])
    assert_close(out[0], np.sum(a * a))  # forward pass unchanged
    assert_close(out[1], a)  # not 2a


def test_stop_gradient_list_form():
    a = K.variable(np.array([1.0, 2.0]), dtype="float64")
    b = K.variable(np.array([3.0, 4.0]), dtype="float64")
    res = K.stop_gradient([a, b])
    assert isinstance(res, (list, tuple)) and len(res) == 2
    c, d = res
    assert_close(K.eval(c), np.array([1.0, 2.0]))
    loss = K.sum(a * d) + K.sum(c * b)
    ga, gb = K.gradients(loss, [a, b])
    assert_close(K.eval(ga), np.array([3.0, 4.0]))
    assert_close(K.eval(gb), np.array([1.0, 2.0]))


def test_stop_gradient_blocks_everything_upstream():
    v = K.variable(np.array([1.0, 2.0]), dtype="float64")
    g = K.gradients(K.sum(K.stop_gradient(v * 2.0) * 3.0), [v])[0]
    assert_close(K.eval(g), np.zeros(2))


def test_gradients_through_integer_ops_do_not_crash():
    x = K.placeholder(shape=(2, 3), dtype="float64")
    mask = K.cast(K.greater(x, 0.0), "float64")
    am = K.cast(K.argmax(x, axis=-1), "float64")
    idx = K.cast(K.round(x), "int32")
    loss = K.sum(x * mask) + K.sum(am) + K.sum(K.cast(idx, "float64"))
    g = K.gradients(loss, [x])[0]
    assert g is not None
    a = np.array([[1.2, -0.7, 0.4], [-1.1, 2.3, -0.2]])
    out = K.function([x], [g])([a])[0]
    assert_close(out, (a > 0).astype(np.float64))


def test_gradient_of_int_only_path_is_zero():
    x = K.placeholder(shape=(3,), dtype="float64")
    loss = K.sum(K.cast(K.argmax(K.expand_dims(x, 0), axis=-1), "float64"))
    g = K.gradients(loss, [x])[0]
    assert g is not None
    assert_close(K.function([x], [g])([np.array([1.0, 3.0, 2.0])])[0], np.zeros(3))


def test_gradients_of_update_free_function_leave_variables():
    v = K.variable(np.array([1.0, 2.0]), dtype="float64")
    g = K.gradients(K.sum(K.square(v)), [v])[0]
    K.eval(g)
    assert_close(K.get_value(v), np.array([1.0, 2.0]))


def test_second_order_works_or_raises_clearly():
    x = K.placeholder(shape=(4,), dtype="float64")
    a = _r((4,), 52, 0.5, 1.5)
    try:
        g = K.gradients(K.sum(x ** 3 + K.sin(x)), [x])[0]
        g2 = K.gradients(K.sum(g * g), [x])
    except (NotImplementedError, ValueError, TypeError) as e:
        assert len(str(e)) > 10, "the error must say what is unsupported"
        return
    # d/dx sum((3x^2 + cos x)^2) = 2 (3x^2 + cos x)(6x - sin x)
    out = K.function([x], g2)([a])[0]
    want = 2 * (3 * a ** 2 + np.cos(a)) * (6 * a - np.sin(a))
    assert_close(out, want, rtol=1e-8, atol=1e-10)
    check_grad(lambda t: K.gradients(K.sum(t ** 3 + K.sin(t)), [t])[0], [a])


# ---------------------------------------------------------------------------------------------
# larger shapes against analytic formulas (finite differences would be too slow here)


@pytest.mark.parametrize("n,d", [(3, 5), (513, 67)])
def test_dense_layer_gradients_analytic(n, d):
    rng = np.random.default_rng(60)
    xv = rng.standard_normal((n, d))
    wv = rng.standard_normal((d, 7)) * 0.3
    bv = rng.standard_normal((7,))
    gv = rng.standard_normal((n, 7))
    x = K.placeholder(shape=(None, d), dtype="float64")
    w = K.variable(wv, dtype="float64")
    b = K.variable(bv, dtype="float64")
    g = K.constant(gv, dtype="float64")
    y = K.tanh(K.dot(x, w) + b)
    loss = K.sum(y * g)
    gx, gw, gb = K.gradients(loss, [x, w, b])
    out = K.function([x], [gx, gw, gb])([xv])
    dz = gv * (1 - np.tanh(xv @ wv + bv) ** 2)
    assert_close(out[0], dz @ wv.T, rtol=1e-9, atol=1e-9)
    assert_close(out[1], xv.T @ dz, rtol=1e-9, atol=1e-9)
    assert_close(out[2], dz.sum(axis=0), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(4, 3), (300, 129)], ids=str)
def test_elementwise_chain_gradient_analytic(shape):
    rng = np.random.default_rng(61)
    xv = rng.uniform(0.5, 2.0, shape)
    sv = rng.uniform(-1, 1, shape[1:])
    x = K.placeholder(shape=(None,) + shape[1:], dtype="float64")
    s = K.variable(sv, dtype="float64")
    loss = K.sum(K.exp(x * s) * K.log(x) + K.square(x - s) / x)
    gx, gs = K.gradients(loss, [x, s])
    out = K.function([x], [gx, gs])([xv])
    e = np.exp(xv * sv)
    want_x = e * sv * np.log(xv) + e / xv + (2 * (xv - sv) * xv - (xv - sv) ** 2) / xv ** 2
    want_s = (e * xv * np.log(xv) - 2 * (xv - sv) / xv).sum(axis=0)
    assert_close(out[0], want_x, rtol=1e-9, atol=1e-9)
    assert_close(out[1], want_s, rtol=1e-9, atol=1e-9)


def test_softmax_style_gradient_analytic():
    rng = np.random.default_rng(62)
    zv = rng.standard_normal((200, 11))
    tv = np.eye(11)[rng.integers(0, 11, 200)]
    z = K.placeholder(shape=(None, 11), dtype="float64")
    t = K.constant(tv, dtype="float64")
    logp = z - K.logsumexp(z, axis=-1, keepdims=True)
    loss = -K.mean(K.sum(t * logp, axis=-1))
    g = K.function([z], K.gradients(loss, [z]))([zv])[0]
    p = np.exp(zv - zv.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert_close(g, (p - tv) / 200, rtol=1e-9, atol=1e-12)

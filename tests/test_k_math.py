"""K surface, groups 7, 8 and 14 (switch, in_train_phase): elementwise math, comparisons,
Python operators, control flow. Reductions, cumulative ops, argmax/argmin and elementwise chains:
tests/test_k_math_reductions.py.
"""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close, check_op

from k_math_helpers import SHAPES, _data

pytestmark = pytest.mark.usefixtures("kbackend")


# ---------------------------------------------------------------------------------------------
# elementwise unary


UNARY = {
    "square": (K.square, np.square),
    "abs": (K.abs, np.abs),
    "exp": (K.exp, np.exp),
    "sin": (K.sin, np.sin),
    "cos": (K.cos, np.cos),
    "sign": (K.sign, np.sign),
    "sqrt": (K.sqrt, lambda x: np.sqrt(np.clip(x, 0, None))),
    "log": (K.log, np.log),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, shape):
    kfn, npfn = UNARY[name]
    x = _data(shape, seed=len(shape))
    x.flat[0] = 0.0  # sign(0) = 0, sqrt(0) = 0, log(0) = -inf
    check_op(kfn, npfn, x, dtype="float32")


def test_sqrt_clips_negatives_to_zero():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, size=(4, 5)).astype(np.float32)
    res = check_op(K.sqrt, lambda a: np.sqrt(np.clip(a, 0, None)), x)
    for val, _ in res.values():
        assert not np.any(np.isnan(val))
        assert np.all(val[x < 0] == 0)


def test_log_nan_positions_and_minus_inf():
    x = np.array([[-0.5, -0.1, 0.0, 0.1, 0.5, 2.0]], dtype=np.float32)
    res = check_op(K.log, np.log, x)
    for val, _ in res.values():
        np.testing.assert_array_equal(np.isnan(val), x < 0)
        assert val[0, 2] == -np.inf


def test_round_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, 0.6, -0.6, 3.49, -3.51, 4.5], np.float32)
    check_op(K.round, np.round, x, dtype="float32")
    check_op(K.round, np.round, x.reshape(3, 4), dtype="float32")


def test_sign_values():
    x = np.array([-3.0, -0.0, 0.0, 1e-3, 7.0], np.float32)
    check_op(K.sign, np.sign, x)


# ---------------------------------------------------------------------------------------------
# pow


@pytest.mark.parametrize("a", [2, 3, 0, -1, 2.0, -2])
def test_pow_integer_exponent(a):
    x = _data((2, 3), seed=4)
    x[np.abs(x) < 0.3] = 0.7  # keep away from 0 for negative exponents
    check_op(lambda t: K.pow(t, a), lambda v: np.power(v, float(a)), x, rtol=1e-5, dtype="float32")


@pytest.mark.parametrize("a", [0.5, 1.5, -0.5, 2.5])
def test_pow_fractional_exponent(a):
    x = _data((3, 4), seed=5, low=0.1, high=3.0)
    check_op(lambda t: K.pow(t, a), lambda v: np.power(v, a), x, rtol=2e-5, dtype="float32")


def test_pow_fractional_exponent_of_negative_is_nan():
    x = np.array([-2.0, 4.0], np.float32)
    res = check_op(lambda t: K.pow(t, 0.5), lambda v: np.power(v, 0.5), x)
    for val, _ in res.values():
        assert np.isnan(val[0])


def test_pow_tensor_exponent_broadcast():
    x = _data((2, 3), seed=6, low=0.2, high=2.0)
    e = np.array([0.5, 2.0, -1.0], np.float32)
    check_op(K.pow, np.power, x, e, rtol=2e-5, dtype="float32")


# ---------------------------------------------------------------------------------------------
# clip


@pytest.mark.parametrize("lo,hi", [(0.1, 0.5), (-1.0, 1.0), (None, 0.3), (-0.2, None), (0.5, 0.1), (0, 1)])
def test_clip_number_bounds(lo, hi):
    x = _data((3, 4), seed=7)
    lo_ = -np.inf if lo is None else lo
    hi_ = np.inf if hi is None else hi
    if hi is not None and lo is not None and hi < lo:
        hi_ = lo  # Keras: max_value < min_value -> max_value = min_value
    check_op(lambda t: K.clip(t, lo, hi), lambda v: np.clip(v, lo_, hi_), x, dtype="float32")


def test_clip_tensor_bounds():
    x = _data((4, 3), seed=8)
    lo = np.array([-1.0, 0.0, 0.5], np.float32)
    hi = np.random.default_rng(9).uniform(0.5, 1.5, size=(4, 3)).astype(np.float32)
    check_op(K.clip, np.clip, x, lo, hi, dtype="float32",
             none_axes=[(0,), (), (0,)])
    # NumPy arrays as bounds
    check_op(lambda t: K.clip(t, lo, hi), lambda v: np.clip(v, lo, hi), x, dtype="float32")


# ---------------------------------------------------------------------------------------------
# comparisons, maximum, minimum


COMPARISONS = {
    "equal": (K.equal, np.equal),
    "not_equal": (K.not_equal, np.not_equal),
    "greater": (K.greater, np.greater),
    "greater_equal": (K.greater_equal, np.greater_equal),
    "less": (K.less, np.less),
    "less_equal": (K.less_equal, np.less_equal),
}

BROADCAST_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((4, 1, 3), (2, 1)), ((3,), ())]


def _ints(shape, seed):
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(np.float32)


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons(name, shapes):
    kfn, npfn = COMPARISONS[name]
    x, y = _ints(shapes[0], 1), _ints(shapes[1], 2)  # small integers: plenty of ties
    check_op(kfn, npfn, x, y, dtype="bool")


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons_with_python_number(name):
    kfn, npfn = COMPARISONS[name]
    x = _ints((3, 4), 3)
    check_op(lambda t: kfn(t, 1.0), lambda v: npfn(v, 1.0), x, dtype="bool")


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(name, shapes):
    kfn, npfn = getattr(K, name), getattr(np, name)
    x, y = _data(shapes[0], 1), _data(shapes[1], 2)
    check_op(kfn, npfn, x, y, dtype="float32")
    check_op(lambda t: kfn(t, 0.5), lambda v: npfn(v, 0.5), x, dtype="float32")


# ---------------------------------------------------------------------------------------------
# Python operators


BINOPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}
_CMP = ("lt", "le", "gt", "ge")


def _operand(shape, seed, op):
    if op == "pow":
        return _data(shape, seed, 0.5, 2.0)  # positive base, moderate exponents
    if op in _CMP:
        return _ints(shape, seed)
    x = _data(shape, seed, 0.5, 2.0)
    return x * np.where(np.random.default_rng(seed + 100).random(shape) < 0.5, -1, 1).astype(np.float32)


def _want_dtype(op):
    return "bool" if op in _CMP else "float32"


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((4, 3), (3,)), ((4, 3), (1, 3)), ((2, 1, 3), (4, 1))])
@pytest.mark.parametrize("op", sorted(BINOPS))
def test_operator_tensor_tensor(op, shapes):
    f = BINOPS[op]
    x, y = _operand(shapes[0], 1, op), _operand(shapes[1], 2, op)
    check_op(f, f, x, y, dtype=_want_dtype(op), rtol=2e-5)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("op", sorted(BINOPS))
def test_operator_with_python_scalar(op, side):
    f = BINOPS[op]
    x = _operand((3, 4), 3, op)
    s = 1.0 if op in _CMP else (1.5 if op == "pow" else -1.75)
    if side == "right":
        check_op(lambda t: f(t, s), lambda v: f(v, s), x, dtype=_want_dtype(op), rtol=2e-5)
    else:
        check_op(lambda t: f(s, t), lambda v: f(s, v), x, dtype=_want_dtype(op), rtol=2e-5)


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("op", sorted(BINOPS))
def test_operator_with_numpy_array(op, side):
    f = BINOPS[op]
    x = _operand((3, 4), 4, op)
    arr = _operand((4,), 5, op)  # broadcasts along the last axis
    if side == "right":
        res = check_op(lambda t: f(t, arr), lambda v: f(v, arr), x, dtype=_want_dtype(op), rtol=2e-5)
    else:
        res = check_op(lambda t: f(arr, t), lambda v: f(arr, v), x, dtype=_want_dtype(op), rtol=2e-5)
    assert all(val.shape == (3, 4) for val, _ in res.values())


def test_operator_integer_scalar_keeps_float_dtype():
    x = _data((2, 2), 1)
    check_op(lambda t: t * 2 + 1, lambda v: v * 2 + 1, x, dtype="float32")
    check_op(lambda t: 2 / t, lambda v: 2 / v, x + 3, dtype="float32")


def test_unary_operators():
    x = _data((3, 4), 6)
    check_op(lambda t: -t, np.negative, x, dtype="float32")
    check_op(lambda t: abs(t), np.abs, x, dtype="float32")
    check_op(lambda t: -(t * 2) + abs(t - 1), lambda v: -(v * 2) + np.abs(v - 1), x, dtype="float32")


def test_operators_on_int_tensors():
    a = np.array([[1, 2], [3, 4]], np.int32)
    check_op(lambda t: t + 1, lambda v: v + 1, a, dtype="int32")
    check_op(lambda t: t * t, lambda v: v * v, a, dtype="int32")
    check_op(lambda t: t > 2, lambda v: v > 2, a, dtype="bool")


# ---------------------------------------------------------------------------------------------
# switch


def test_switch_scalar_condition_tensors_and_callables():
    c = K.placeholder(shape=(), dtype="bool")
    x = K.placeholder(shape=(None, 3))
    a = _data((2, 3), 1)
    for then, other in [(x * 2, x * 3), (lambda: x * 2, lambda: x * 3)]:
        out = K.switch(c, then, other)
        f = K.function([c, x], [out])
        assert_close(f([True, a])[0], a * 2)
        assert_close(f([False, a])[0], a * 3)


def test_switch_scalar_variable_condition():
    c = K.variable(1.0)
    x = K.variable(np.array([1.0, 2.0]))
    out = K.switch(K.greater(c, 0.5), x + 1, x - 1)
    assert_close(K.eval(out), np.array([2.0, 3.0], np.float32), dtype="float32")
    K.set_value(c, 0.0)
    assert_close(K.eval(out), np.array([0.0, 1.0], np.float32))


def test_switch_elementwise_same_shape():
    x = _data((3, 4), 2)
    check_op(lambda t: K.switch(K.greater(t, 0), t, -t * 2), lambda v: np.where(v > 0, v, -v * 2), x,
             dtype="float32")
    y = _data((3, 4), 3)
    cond = x > y
    check_op(K.switch, np.where, cond, x, y, dtype="float32")


@pytest.mark.parametrize("cshape", [(4,), (4, 3)])
def test_switch_lower_rank_condition_padded_with_trailing_axes(cshape):
    then = _data((4, 3, 2), 4)
    other = _data((4, 3, 2), 5)
    cond = np.random.default_rng(6).random(cshape) < 0.5
    cond.flat[0], cond.flat[1] = True, False
    pad = cond.reshape(cshape + (1,) * (3 - len(cshape)))
    check_op(K.switch, lambda c, a, b: np.where(pad, a, b), cond, then, other, dtype="float32")


def test_switch_non_bool_condition_cast():
    c = np.array([1.0, 0.0, 2.0, -0.5], np.float32)
    a = _data((4,), 7)
    b = _data((4,), 8)
    check_op(K.switch, lambda cc, x, y: np.where(cc != 0, x, y), c, a, b, dtype="float32")


def test_switch_condition_rank_too_high_raises():
    with pytest.raises(ValueError):
        K.switch(K.variable(np.ones((2, 3, 4)) > 0), K.variable(np.ones((2, 3))), K.variable(np.zeros((2, 3))))


# ---------------------------------------------------------------------------------------------
# in_train_phase / in_test_phase


@pytest.mark.parametrize("training", [True, 1])
def test_in_train_phase_static_true(training):
    x = K.variable(np.ones((2, 3)))
    alt = K.variable(np.zeros((4,)))  # different shape is fine when the choice is static
    out = K.in_train_phase(x, alt, training=training)
    assert_close(K.eval(out), np.ones((2, 3), np.float32))
    out = K.in_train_phase(lambda: x * 2, lambda: alt, training=training)
    assert_close(K.eval(out), np.full((2, 3), 2.0, np.float32))
    out = K.in_test_phase(x, alt, training=training)
    assert_close(K.eval(out), np.zeros((4,), np.float32))


@pytest.mark.parametrize("training", [False, 0])
def test_in_train_phase_static_false(training):
    x = K.variable(np.ones((2, 3)))
    alt = K.variable(np.zeros((4,)))
    assert_close(K.eval(K.in_train_phase(x, alt, training=training)), np.zeros((4,), np.float32))
    assert_close(K.eval(K.in_train_phase(lambda: x, lambda: alt * 2 + 1, training=training)),
                 np.ones((4,), np.float32))
    assert_close(K.eval(K.in_test_phase(x, alt, training=training)), np.ones((2, 3), np.float32))


@pytest.mark.parametrize("use_callables", [False, True])
def test_in_train_phase_dynamic_learning_phase(use_callables):
    x = K.placeholder(shape=(None, 3))
    if use_callables:
        out = K.in_train_phase(lambda: x * 2, lambda: x * 3)
        out_t = K.in_test_phase(lambda: x * 2, lambda: x * 3)
    else:
        out = K.in_train_phase(x * 2, x * 3)
        out_t = K.in_test_phase(x * 2, x * 3)
    assert getattr(out, "_uses_learning_phase", False) is True
    f = K.function([x, K.learning_phase()], [out, out_t])
    a = _data((2, 3), 9)
    for phase, want, want_t in [(1, a * 2, a * 3), (0, a * 3, a * 2), (True, a * 2, a * 3),
                                (False, a * 3, a * 2)]:
        r = f([a, phase])
        assert_close(r[0], want, msg=f"phase {phase}")
        assert_close(r[1], want_t, msg=f"phase {phase}")


def test_in_train_phase_with_fixed_learning_phase():
    x = K.variable(np.ones(3))
    K.set_learning_phase(1)
    assert_close(K.eval(K.in_train_phase(x * 2, x * 3)), np.full(3, 2.0, np.float32))
    K.set_learning_phase(0)
    assert_close(K.eval(K.in_train_phase(x * 2, x * 3)), np.full(3, 3.0, np.float32))


def test_in_train_phase_tensor_training_argument():
    flag = K.placeholder(shape=(), dtype="bool")
    x = K.variable(np.ones(3))
    f = K.function([flag], [K.in_train_phase(x * 2, x * 3, training=flag)])
    assert_close(f([True])[0], np.full(3, 2.0, np.float32))
    assert_close(f([False])[0], np.full(3, 3.0, np.float32))

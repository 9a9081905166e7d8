"""K surface, groups 3, 4 and 13: variables, placeholders, constants, creation, introspection,
value access, random tensors, cast and the is_* predicates."""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close

pytestmark = pytest.mark.usefixtures("kbackend")


# ---------------------------------------------------------------------------------------------
# variable


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_variable_roundtrip(shape, rng):
    a = rng.standard_normal(shape).astype(np.float32)
    v = K.variable(a)
    assert K.is_variable(v)
    assert K.int_shape(v) == shape
    assert v._keras_shape == shape
    assert K.ndim(v) == len(shape)
    assert K.dtype(v) == "float32"
    assert_close(K.eval(v), a, dtype="float32")
    assert_close(K.get_value(v), a, dtype="float32")


def test_variable_from_list_and_scalar():
    assert_close(K.eval(K.variable([[1, 2], [3, 4]])), np.array([[1, 2], [3, 4]], np.float32),
                 dtype="float32")
    s = K.variable(3.5)
    assert K.int_shape(s) == ()
    assert_close(K.eval(s), np.float32(3.5), dtype="float32")


def test_variable_dtype_none_is_floatx_for_any_input():
    assert K.dtype(K.variable(np.arange(3, dtype=np.int64))) == "float32"
    assert K.dtype(K.variable(np.ones(3, dtype=np.float64))) == "float32"
    assert K.eval(K.variable(np.ones(3, dtype=np.float64))).dtype == np.float32


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int16", "int32", "int64",
                                   "uint8", "bool"])
def test_variable_dtypes(dtype):
    v = K.variable(np.array([1, 0, 1]), dtype=dtype)
    assert K.dtype(v) == dtype
    val = K.eval(v)
    assert val.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(val, np.array([1, 0, 1]).astype(dtype))


def test_variable_scalar_float16():
    v = K.variable(1, dtype="float16")
    assert K.dtype(v) == "float16"
    assert K.eval(v).dtype == np.float16


def test_variable_accepts_numpy_dtype_objects():
    assert K.dtype(K.variable(np.zeros(2), dtype=np.float64)) == "float64"
    assert K.dtype(K.variable(np.zeros(2), dtype=np.dtype("int32"))) == "int32"


@pytest.mark.parametrize("value", ["", 1.0])
def test_variable_unknown_dtype_raises_typeerror(value):
    with pytest.raises(TypeError):
        K.variable(value, dtype="unsupported")


def test_variable_name_and_constraint():
    c = lambda w: w  # noqa: E731
    v = K.variable(value=np.zeros((2, 2)), dtype="float32", name="example_var", constraint=c)
    assert "example_var" in v.name
    assert v.constraint is c
    assert K.variable(np.zeros(2)).constraint is None


def test_variable_does_not_alias_input_array():
    a = np.ones(3, dtype=np.float32)
    v = K.variable(a)
    a[:] = 7
    np.testing.assert_array_equal(K.eval(v), np.ones(3))


# ---------------------------------------------------------------------------------------------
# constant


def test_constant_tutorial_call():
    c = K.constant(value=np.zeros((2, 2)), dtype="int32", shape=(2, 2), name="ex_constant")
    assert K.dtype(c) == "int32"
    assert K.int_shape(c) == (2, 2)
    assert_close(K.eval(c), np.zeros((2, 2), np.int32), dtype="int32")


def test_constant_default_dtype_is_floatx():
    assert K.dtype(K.constant(1)) == "float32"
    assert K.dtype(K.constant([1, 2, 3])) == "float32"
    assert K.dtype(K.constant(np.ones(2, np.float64))) == "float32"
    K.set_floatx("float64")
    assert K.dtype(K.constant(1.0)) == "float64"


def test_constant_scalar_broadcast_to_shape():
    c = K.constant(3.0, shape=(2, 3))
    assert K.int_shape(c) == (2, 3)
    assert_close(K.eval(c), np.full((2, 3), 3.0, np.float32), dtype="float32")


def test_constant_is_not_variable_or_placeholder():
    c = K.constant([1.0, 2.0])
    assert K.is_tensor(c)
    assert not K.is_variable(c)
    assert not K.is_placeholder(c)


# ---------------------------------------------------------------------------------------------
# placeholder


def test_placeholder_shape():
    p = K.placeholder(shape=(None, 3))
    assert K.int_shape(p) == (None, 3)
    assert p._keras_shape == (None, 3)
    assert K.ndim(p) == 2
    assert K.dtype(p) == "float32"
    assert K.is_placeholder(p)


def test_placeholder_ndim_only():
    p = K.placeholder(ndim=3)
    assert K.int_shape(p) == (None, None, None)
    assert K.ndim(p) == 3


def test_placeholder_shape_wins_over_ndim():
    p = K.placeholder(shape=(None, None, 3), ndim=3, dtype="float32")
    assert K.int_shape(p) == (None, None, 3)
    q = K.placeholder(shape=(2,), ndim=4)
    assert K.int_shape(q) == (2,)


def test_placeholder_dtype_and_scalar():
    p = K.placeholder(ndim=2, dtype="int32")
    assert K.dtype(p) == "int32"
    s = K.placeholder(shape=())
    assert K.int_shape(s) == ()
    assert K.ndim(s) == 0


def test_placeholder_fed_directly_as_output():
    p = K.placeholder(shape=(None, 3))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = K.function([p], [p])([a])[0]
    assert_close(out, a, dtype="float32")


# ---------------------------------------------------------------------------------------------
# introspection


@pytest.mark.parametrize("shape,n", [((4, 2), 8), ((4, 4, 4), 64), ((5,), 5), ((), 1)])
def test_count_params(shape, n):
    v = K.variable(np.zeros(shape))
    assert K.count_params(v) == n


def test_int_shape_of_expression_and_dtype_strings():
    v = K.variable(np.zeros((2, 3)))
    e = v * 2
    assert K.int_shape(e) == (2, 3)
    assert e._keras_shape == K.int_shape(e)
    assert K.dtype(e) == "float32"
    assert K.dtype(K.cast(e, "float64")) == "float64"
    assert not K.dtype(v).endswith("_ref")


# ---------------------------------------------------------------------------------------------
# value access


def test_get_value_returns_a_copy():
    v = K.variable(np.ones((2, 2)))
    a = K.get_value(v)
    assert isinstance(a, np.ndarray)
    a[...] = 99
    np.testing.assert_array_equal(K.get_value(v), np.ones((2, 2)))


def test_get_value_of_non_variable_tensor():
    r = K.random_normal(shape=(3, 3), mean=0.0, stddev=1.0, dtype="float32", seed=None)
    val = K.get_value(r)
    assert val.shape == (3, 3)
    assert val.dtype == np.float32


def test_eval_expression():
    v = K.variable(np.array([1.0, 2.0]))
    assert_close(K.eval(v * 3 + 1), np.array([4.0, 7.0], np.float32), dtype="float32")


def test_set_value_casts_and_copies():
    v = K.variable(np.zeros((2, 2)))
    a = np.arange(4, dtype=np.float64).reshape(2, 2)
    K.set_value(v, a)
    a[...] = -1
    val = K.get_value(v)
    assert val.dtype == np.float32
    assert K.dtype(v) == "float32"
    np.testing.assert_array_equal(val, np.arange(4).reshape(2, 2))
    K.set_value(v, [[5, 6], [7, 8]])
    np.testing.assert_array_equal(K.get_value(v), [[5, 6], [7, 8]])


def test_set_value_int_variable():
    v = K.variable(np.array([1, 2, 3]), dtype="int32")
    K.set_value(v, np.array([4.0, 5.0, 6.0]))
    val = K.get_value(v)
    assert val.dtype == np.int32
    np.testing.assert_array_equal(val, [4, 5, 6])


def test_set_value_seen_by_existing_expressions():
    v = K.variable(np.ones(3))
    e = v * 2
    f = K.function([], [e])
    np.testing.assert_allclose(f([])[0], [2, 2, 2])
    K.set_value(v, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(f([])[0], [2, 4, 6])
    np.testing.assert_allclose(K.eval(e), [2, 4, 6])


@pytest.mark.parametrize("bad_shape", [(3, 2), (2,), (2, 3, 1), ()])
def test_set_value_wrong_shape_raises_and_keeps(bad_shape):
    v = K.variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    with pytest.raises(ValueError):
        K.set_value(v, np.zeros(bad_shape))
    np.testing.assert_array_equal(K.get_value(v), np.arange(6).reshape(2, 3))


def test_batch_get_and_set_value():
    assert K.batch_get_value([]) == []
    K.batch_set_value([])
    v1 = K.variable(np.zeros(2))
    v2 = K.variable(np.zeros((2, 2)), dtype="float64")
    K.batch_set_value([(v1, np.array([1.0, 2.0])), (v2, np.eye(2))])
    vals = K.batch_get_value([v1, v2])
    assert isinstance(vals, list) and len(vals) == 2
    assert_close(vals[0], np.array([1.0, 2.0], np.float32), dtype="float32")
    assert_close(vals[1], np.eye(2), dtype="float64")


# ---------------------------------------------------------------------------------------------
# zeros / ones / eye / *_like / identity


@pytest.mark.parametrize("fn,npfn", [(K.zeros, np.zeros), (K.ones, np.ones)])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 4), (5,)])
def test_zeros_ones(fn, npfn, shape):
    v = fn(shape=shape)
    assert K.is_variable(v)
    assert K.int_shape(v) == shape
    assert_close(K.eval(v), npfn(shape, np.float32), dtype="float32")
    w = fn(shape, dtype="int32")
    assert_close(K.eval(w), npfn(shape, np.int32), dtype="int32")


def test_zeros_is_assignable():
    v = K.zeros((2,))
    K.set_value(v, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(K.get_value(v), [1.0, 2.0])


@pytest.mark.parametrize("size,want", [(3, np.eye(3)), ((3, 2), np.eye(3, 2)), ((3, 4), np.eye(3, 4)),
                                       ((2, 2), np.eye(2))])
def test_eye(size, want):
    e = K.eye(size)
    assert_close(K.eval(e), want.astype(np.float32), dtype="float32")
    e2 = K.eye(size=size, dtype="float64")
    assert_close(K.eval(e2), want, dtype="float64")


@pytest.mark.parametrize("fn,npfn", [(K.zeros_like, np.zeros_like), (K.ones_like, np.ones_like)])
def test_zeros_ones_like_variable(fn, npfn):
    v = K.variable(np.random.default_rng(0).standard_normal((2, 3)))
    out = fn(v)
    assert K.int_shape(out) == (2, 3)
    assert_close(K.eval(out), npfn(np.zeros((2, 3), np.float32)), dtype="float32")


@pytest.mark.parametrize("fn,val", [(K.zeros_like, 0), (K.ones_like, 1)])
def test_zeros_ones_like_numpy_input(fn, val):
    arr = np.random.default_rng(0).standard_normal((3, 4))
    out = fn(arr, dtype="int32")
    assert K.dtype(out) == "int32"
    assert_close(K.eval(out), np.full((3, 4), val, np.int32), dtype="int32")
    out = fn(arr, dtype="float32")
    assert_close(K.eval(out), np.full((3, 4), val, np.float32), dtype="float32")


def test_zeros_like_dtype_none():
    out = K.zeros_like(K.variable(np.zeros(3)))
    assert K.dtype(out) == "float32"
    # Keras 2.2 keeps x's dtype, 2.3 uses floatx: either is accepted for integer input
    out = K.ones_like(K.variable(np.zeros(3), dtype="int32"))
    assert K.dtype(out) in ("int32", "float32")
    np.testing.assert_array_equal(K.eval(out), [1, 1, 1])


def test_zeros_like_of_placeholder_takes_fed_shape():
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [K.ones_like(p), K.zeros_like(p)])
    o1, o0 = f([np.zeros((5, 3), np.float32)])
    assert_close(o1, np.ones((5, 3), np.float32), dtype="float32")
    assert_close(o0, np.zeros((5, 3), np.float32), dtype="float32")


def test_identity():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = K.identity(arr, name="identity")
    assert_close(K.eval(out), arr, dtype="float32")
    v = K.variable(arr)
    i = K.identity(v)
    assert_close(K.eval(i), arr)
    K.set_value(v, arr + 1)
    assert_close(K.eval(i), arr + 1)  # a tensor, not a snapshot


# ---------------------------------------------------------------------------------------------
# random variables


def test_random_uniform_variable_tutorial():
    v = K.random_uniform_variable(shape=(64, 64, 3), low=0, high=1)
    assert K.is_variable(v)
    val = K.eval(v)
    assert val.shape == (64, 64, 3)
    assert val.dtype == np.float32
    assert val.min() >= 0 and val.max() < 1
    assert abs(val.mean() - 0.5) < 0.02
    assert abs(val.std() - 1 / np.sqrt(12)) < 0.02
    np.testing.assert_array_equal(K.eval(v), val)  # a variable keeps its value


def test_random_uniform_variable_range_and_seed():
    v1 = K.random_uniform_variable((100, 50), low=-2, high=3, seed=7)
    v2 = K.random_uniform_variable((100, 50), low=-2, high=3, seed=7)
    a = K.eval(v1)
    np.testing.assert_array_equal(a, K.eval(v2))
    assert a.min() >= -2 and a.max() < 3
    assert abs(a.mean() - 0.5) < 0.1
    v3 = K.random_uniform_variable((100, 50), low=-2, high=3, seed=8)
    assert not np.array_equal(a, K.eval(v3))


def test_random_normal_variable():
    v = K.random_normal_variable(shape=(200, 200), mean=1.0, scale=2.0, name="x", dtype="float32", seed=3)
    a = K.eval(v)
    assert a.dtype == np.float32 and a.shape == (200, 200)
    assert abs(a.mean() - 1.0) < 0.04
    assert abs(a.std() - 2.0) < 0.04
    b = K.eval(K.random_normal_variable((200, 200), 1.0, 2.0, seed=3))
    np.testing.assert_array_equal(a, b)
    c = K.eval(K.random_normal_variable((200, 200), 1.0, 2.0, dtype="float64"))
    assert c.dtype == np.float64


def test_random_variable_seed_none_follows_numpy_seed():
    np.random.seed(11)
    a = K.eval(K.random_normal_variable((10,), 0.0, 1.0))
    np.random.seed(11)
    b = K.eval(K.random_normal_variable((10,), 0.0, 1.0))
    np.testing.assert_array_equal(a, b)
    np.random.seed(11)
    c = K.eval(K.random_uniform_variable((10,), 0.0, 1.0))
    np.random.seed(11)
    d = K.eval(K.random_uniform_variable((10,), 0.0, 1.0))
    np.testing.assert_array_equal(c, d)


# ---------------------------------------------------------------------------------------------
# random tensors


def _draw_twice(t):
    return K.eval(t), K.eval(t)


@pytest.mark.parametrize("seed", [None, 1337])
def test_random_normal_tensor(seed):
    t = K.random_normal((200, 200), mean=0.5, stddev=2.0, seed=seed)
    assert not K.is_variable(t)
    assert K.int_shape(t) == (200, 200)
    a, b = _draw_twice(t)
    assert a.dtype == np.float32 and a.shape == (200, 200)
    assert not np.array_equal(a, b), "a random tensor must draw anew at each evaluation"
    for s in (a, b):
        assert abs(s.mean() - 0.5) < 0.04
        assert abs(s.std() - 2.0) < 0.04


def test_random_tensor_draws_anew_through_function():
    t = K.random_uniform((50,), seed=5)
    f = K.function([], [t])
    a = f([])[0]
    b = f([])[0]
    assert not np.array_equal(a, b)


def test_random_tensor_seed_is_repeatable():
    for make in (lambda: K.random_normal((50,), seed=42), lambda: K.random_uniform((50,), seed=42),
                 lambda: K.truncated_normal((50,), seed=42), lambda: K.random_binomial((50,), p=0.5, seed=42)):
        t1, t2 = make(), make()
        a1 = K.eval(t1)
        a2 = K.eval(t2)
        np.testing.assert_array_equal(a1, a2)


def test_random_tensor_seed_none_follows_numpy_seed():
    np.random.seed(5)
    a = K.eval(K.random_normal((20,)))
    np.random.seed(5)
    b = K.eval(K.random_normal((20,)))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [None, 3])
def test_random_uniform_tensor(seed):
    t = K.random_uniform((200, 200), minval=-1.0, maxval=3.0, seed=seed)
    a, b = _draw_twice(t)
    assert not np.array_equal(a, b)
    assert a.dtype == np.float32
    for s in (a, b):
        assert s.min() >= -1.0 and s.max() < 3.0
        assert abs(s.mean() - 1.0) < 0.04
        assert abs(s.std() - 4.0 / np.sqrt(12)) < 0.04


def test_random_uniform_default_range():
    a = K.eval(K.random_uniform((1000,), seed=1))
    assert a.min() >= 0.0 and a.max() < 1.0


@pytest.mark.parametrize("mean,stddev", [(0.0, 1.0), (1.0, 2.0)])
def test_truncated_normal(mean, stddev):
    t = K.truncated_normal((300, 200), mean=mean, stddev=stddev, seed=1)
    a, b = _draw_twice(t)
    assert not np.array_equal(a, b)
    for s in (a, b):
        assert s.dtype == np.float32
        assert np.all(np.abs(s - mean) <= 2 * stddev + 1e-6)
        assert abs(s.mean() - mean) < 0.02 * stddev
        assert abs(s.std() - 0.87962 * stddev) < 0.015 * stddev


def test_random_binomial():
    t = K.random_binomial((200, 200), p=0.3, seed=2)
    a, b = _draw_twice(t)
    assert not np.array_equal(a, b)
    assert a.dtype == np.float32
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert abs(a.mean() - 0.3) < 0.02


@pytest.mark.parametrize("make", [
    lambda: K.random_normal((3, 4), dtype="float64", seed=1),
    lambda: K.random_uniform((3, 4), dtype="float64", seed=1),
    lambda: K.truncated_normal((3, 4), dtype="float64", seed=1),
])
def test_random_tensor_dtype(make):
    t = make()
    assert K.dtype(t) == "float64"
    assert K.eval(t).dtype == np.float64


def test_random_tensor_default_dtype_is_floatx():
    K.set_floatx("float64")
    assert K.eval(K.random_normal((3,), seed=1)).dtype == np.float64
    assert K.eval(K.random_uniform((3,), seed=1)).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# cast


def test_cast_float_to_float64():
    v = K.variable(np.array([1.5, -2.25]))
    c = K.cast(v, dtype="float64")
    assert K.dtype(c) == "float64"
    assert not K.is_variable(c)
    assert_close(K.eval(c), np.array([1.5, -2.25]), dtype="float64")


def test_cast_truncates_to_int_and_bool():
    a = np.array([-1.7, -0.5, 0.0, 0.5, 1.7, 2.5], np.float32)
    v = K.variable(a)
    assert_close(K.eval(K.cast(v, "int32")), a.astype(np.int32), dtype="int32")
    assert_close(K.eval(K.cast(v, "bool")), a.astype(bool), dtype="bool")
    b = K.variable(np.array([True, False]), dtype="bool")
    assert_close(K.eval(K.cast(b, "float32")), np.array([1.0, 0.0], np.float32), dtype="float32")


def test_cast_placeholder():
    p = K.placeholder(shape=(None,), dtype="int32")
    out = K.function([p], [K.cast(p, "float32") / 2])([np.array([1, 2, 3], np.int32)])[0]
    assert_close(out, np.array([0.5, 1.0, 1.5], np.float32), dtype="float32")


# ---------------------------------------------------------------------------------------------
# predicates


def test_is_placeholder_tensor_variable():
    p = K.placeholder(shape=(2,))
    v = K.variable(np.zeros(2))
    e = v + 1
    arr = np.zeros(2)
    assert K.is_placeholder(p) and not K.is_placeholder(v) and not K.is_placeholder(e)
    assert not K.is_placeholder(arr)
    assert K.is_tensor(p) and K.is_tensor(v) and K.is_tensor(e)
    assert not K.is_tensor(arr) and not K.is_tensor(1.0)
    assert K.is_variable(v) and not K.is_variable(p) and not K.is_variable(e)
    assert not K.is_variable(arr)


def test_is_keras_tensor():
    p = K.placeholder(shape=(None, 3))
    assert K.is_keras_tensor(p) is False
    assert K.is_keras_tensor(K.variable(np.zeros(2))) is False
    assert K.is_keras_tensor(p * 2) is False
    with pytest.raises(ValueError):
        K.is_keras_tensor(np.zeros(2))
    with pytest.raises(ValueError):
        K.is_keras_tensor(1.0)


# ---------------------------------------------------------------------------------------------
# print_tensor (+)


def test_print_tensor_prints_on_evaluation(capfd):
    v = K.variable(np.array([1.0, 2.0]))
    out = K.print_tensor(v * 2, message="hello-print")
    assert "hello-print" not in capfd.readouterr().out
    assert_close(K.eval(out), np.array([2.0, 4.0], np.float32))
    assert "hello-print" in capfd.readouterr().out


# ---------------------------------------------------------------------------------------------
# size, get_variable_shape, is_sparse / to_dense (non-core)


def test_size():
    v = K.variable(np.zeros((2, 3)))
    assert int(K.eval(K.size(v))) == 6
    p = K.placeholder(shape=(None, 4))
    assert int(K.function([p], [K.size(p)])([np.zeros((5, 4), np.float32)])[0]) == 20


def test_get_variable_shape():
    assert K.get_variable_shape(K.variable(np.zeros((4, 2)))) == (4, 2)


def test_dense_tensors_are_not_sparse():
    v = K.variable(np.eye(2))
    assert K.is_sparse(v) is False
    assert_close(K.eval(K.to_dense(v)), np.eye(2, dtype=np.float32))

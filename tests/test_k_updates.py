"""K surface, groups 5 and 15 (function): deferred variable updates and K.function semantics."""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close

pytestmark = pytest.mark.usefixtures("kbackend")


def _var(values, dtype=None):
    return K.variable(np.asarray(values, dtype=np.float64), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# update ops: deferred, applied once per evaluation


def test_update_is_deferred_and_applied_on_eval():
    v = _var([1.0, 2.0])
    op = K.update(v, np.array([5.0, 6.0]))
    np.testing.assert_array_equal(K.get_value(v), [1.0, 2.0])
    K.eval(op)
    np.testing.assert_array_equal(K.get_value(v), [5.0, 6.0])
    assert K.get_value(v).dtype == np.float32


def test_update_with_variable_value_tutorial():
    old = _var([[1.0, 2.0], [3.0, 4.0]])
    new = _var([[5.0, 6.0], [7.0, 8.0]])
    K.eval(K.update(old, new))
    np.testing.assert_array_equal(K.get_value(old), [[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(K.get_value(new), [[5.0, 6.0], [7.0, 8.0]])


def test_update_with_expression_uses_current_value():
    v = _var([1.0, 2.0])
    op = K.update(v, v * 2)
    K.eval(op)
    np.testing.assert_array_equal(K.get_value(v), [2.0, 4.0])
    K.eval(op)
    np.testing.assert_array_equal(K.get_value(v), [4.0, 8.0])


def test_update_add_once_per_evaluation():
    v = _var([1.0, 2.0, 3.0])
    inc = np.array([0.5, 1.0, 1.5])
    op = K.update_add(v, inc)
    np.testing.assert_array_equal(K.get_value(v), [1.0, 2.0, 3.0])
    K.eval(op)
    assert_close(K.get_value(v), np.array([1.5, 3.0, 4.5]))
    K.eval(op)
    assert_close(K.get_value(v), np.array([2.0, 4.0, 6.0]))


def test_update_sub_once_per_evaluation():
    v = _var([[1.0, 2.0]])
    op = K.update_sub(v, _var([[0.25, 0.5]]))
    np.testing.assert_array_equal(K.get_value(v), [[1.0, 2.0]])
    K.eval(op)
    assert_close(K.get_value(v), np.array([[0.75, 1.5]]))
    K.eval(op)
    assert_close(K.get_value(v), np.array([[0.5, 1.0]]))


def test_moving_average_update():
    x = _var([2.0, -1.0])
    value = np.array([10.0, 1.0])
    m = 0.9
    op = K.moving_average_update(x, value, m)
    np.testing.assert_array_equal(K.get_value(x), [2.0, -1.0])
    K.eval(op)
    want = np.array([2.0, -1.0]) * m + value * (1 - m)
    assert_close(K.get_value(x), want, rtol=1e-6)
    K.eval(op)
    want = want * m + value * (1 - m)
    assert_close(K.get_value(x), want, rtol=1e-6)


def test_update_wrong_shape_raises_at_build_time():
    v = _var(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        K.update(v, np.zeros((3, 2)))
    with pytest.raises(ValueError):
        K.update_add(v, np.zeros((4,)))
    np.testing.assert_array_equal(K.get_value(v), np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# K.function with updates


def test_function_updates_as_ops_outputs_see_pre_update_values():
    v = _var([1.0, 2.0])
    p = K.placeholder(shape=(2,))
    f = K.function([p], [v * 1.0, v + p], updates=[K.update_add(v, p)])
    a = np.array([10.0, 20.0], np.float32)
    out = f([a])
    assert isinstance(out, list) and len(out) == 2
    assert_close(out[0], np.array([1.0, 2.0], np.float32), dtype="float32")
    assert_close(out[1], np.array([11.0, 22.0], np.float32))
    assert_close(K.get_value(v), np.array([11.0, 22.0]))
    out = f([a])
    assert_close(out[0], np.array([11.0, 22.0]))
    assert_close(K.get_value(v), np.array([21.0, 42.0]))


def test_function_updates_as_pairs():
    v = _var([1.0, 2.0])
    p = K.placeholder(shape=(None, 2))
    f = K.function([p], [K.sum(p, axis=0)], updates=[(v, v + K.sum(p, axis=0))])
    a = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(f([a])[0], [3.0, 3.0])
    assert_close(K.get_value(v), np.array([4.0, 5.0]))
    f([a[:1]])
    assert_close(K.get_value(v), np.array([5.0, 6.0]))


def test_function_updates_use_pre_update_values_pairs():
    a = _var([1.0])
    b = _var([2.0])
    f = K.function([], [a, b], updates=[(a, b), (b, a)])
    out = f([])
    assert_close(out[0], np.array([1.0]))
    assert_close(out[1], np.array([2.0]))
    assert_close(K.get_value(a), np.array([2.0]))
    assert_close(K.get_value(b), np.array([1.0]))
    f([])
    assert_close(K.get_value(a), np.array([1.0]))
    assert_close(K.get_value(b), np.array([2.0]))


def test_function_updates_use_pre_update_values_chain():
    a = _var([1.0, 1.0])
    b = _var([0.0, 0.0])
    f = K.function([], [], updates=[(a, a + 1), (b, a * 10)])
    assert f([]) == []
    assert_close(K.get_value(a), np.array([2.0, 2.0]))
    assert_close(K.get_value(b), np.array([10.0, 10.0]))


def test_function_updates_as_ops_use_pre_update_values():
    a = _var([1.0])
    b = _var([2.0])
    f = K.function([], [], updates=[K.update(a, b), K.update(b, a)])
    f([])
    assert_close(K.get_value(a), np.array([2.0]))
    assert_close(K.get_value(b), np.array([1.0]))


def test_function_moving_average_update_op():
    x = _var([0.0])
    p = K.placeholder(shape=(1,))
    f = K.function([p], [], updates=[K.moving_average_update(x, p, 0.5)])
    f([np.array([4.0])])
    assert_close(K.get_value(x), np.array([2.0]))
    f([np.array([4.0])])
    assert_close(K.get_value(x), np.array([3.0]))


# ---------------------------------------------------------------------------------------------
# errors during a call leave every variable unchanged


def test_wrong_feed_shape_raises_valueerror_and_changes_nothing():
    v = _var([1.0, 2.0, 3.0])
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [p * 2], updates=[(v, v + K.sum(p, axis=0))])
    with pytest.raises(ValueError):
        f([np.ones((2, 4), np.float32)])
    with pytest.raises(ValueError):
        f([np.ones((3,), np.float32)])
    np.testing.assert_array_equal(K.get_value(v), [1.0, 2.0, 3.0])
    f([np.ones((2, 3), np.float32)])  # still usable afterwards
    assert_close(K.get_value(v), np.array([3.0, 4.0, 5.0]))


@pytest.mark.parametrize("failing_first", [False, True])
def test_later_op_failing_changes_nothing(failing_first):
    v1 = _var([1.0, 2.0, 3.0])
    v2 = _var([0.0])
    p1 = K.placeholder(shape=(None, 3))
    p2 = K.placeholder(shape=(None, 3))
    good = (v1, v1 + 1.0)
    bad = (v2, v2 + K.sum(p1 + p2))  # p1 + p2 fails at run time when the batch sizes differ
    updates = [bad, good] if failing_first else [good, bad]
    f = K.function([p1, p2], [K.sum(p1)], updates=updates)
    with pytest.raises(Exception):
        f([np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)])
    np.testing.assert_array_equal(K.get_value(v1), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(K.get_value(v2), [0.0])
    f([np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)])
    assert_close(K.get_value(v1), np.array([2.0, 3.0, 4.0]))
    assert_close(K.get_value(v2), np.array([12.0]))


def test_failing_reshape_at_runtime_changes_nothing():
    v = _var([0.0])
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [], updates=[K.update_add(v, 1.0),
                                     (v, v + K.sum(K.reshape(p, (-1, 4))))])
    with pytest.raises(Exception):
        f([np.ones((3, 3), np.float32)])  # 9 elements cannot be viewed as (-1, 4)
    np.testing.assert_array_equal(K.get_value(v), [0.0])


def test_missing_feed_raises_and_changes_nothing():
    v = _var([1.0])
    p = K.placeholder(shape=(1,))
    q = K.placeholder(shape=(1,))
    f = K.function([p, q], [p + q], updates=[(v, v + p + q)])
    with pytest.raises(Exception):
        f([np.ones(1, np.float32)])
    np.testing.assert_array_equal(K.get_value(v), [1.0])


# ---------------------------------------------------------------------------------------------
# argument checking


def test_function_inputs_must_be_list():
    p = K.placeholder(shape=(2,))
    with pytest.raises(TypeError):
        K.function(p, [p * 2])
    with pytest.raises(TypeError):
        K.function([p], p * 2)
    with pytest.raises(TypeError):
        K.function([p], [p * 2], updates=K.update_add(K.variable(np.zeros(2)), p))


def test_function_call_needs_list():
    p = K.placeholder(shape=(2,))
    f = K.function([p], [p * 2])
    with pytest.raises(TypeError):
        f(np.ones(2, np.float32))
    out = f((np.ones(2, np.float32),))  # a tuple is fine
    assert_close(out[0], np.full(2, 2.0, np.float32))


def test_function_tuple_arguments():
    p = K.placeholder(shape=(2,))
    f = K.function((p,), (p * 2, p + 1))
    out = f([np.ones(2, np.float32)])
    assert len(out) == 2


def test_function_unknown_kwarg_raises_valueerror():
    p = K.placeholder(shape=(2,))
    with pytest.raises(ValueError):
        K.function([p], [p * 2], foo=1)
    with pytest.raises(ValueError):
        K.function([p], [p * 2], updates=None, not_an_option=True)


def test_function_accepts_name_kwarg():
    p = K.placeholder(shape=(2,))
    f = K.function([p], [p * 2], name="my_function")
    assert_close(f([np.ones(2, np.float32)])[0], np.full(2, 2.0, np.float32))


# ---------------------------------------------------------------------------------------------
# feeds and outputs


def test_feed_converted_to_placeholder_dtype():
    p = K.placeholder(shape=(None, 2), dtype="float32")
    f = K.function([p], [p * 2])
    out = f([np.array([[1.0, 2.0]], dtype=np.float64)])[0]
    assert_close(out, np.array([[2.0, 4.0]], np.float32), dtype="float32")
    out = f([[[1, 2], [3, 4]]])[0]  # nested Python lists of ints
    assert_close(out, np.array([[2.0, 4.0], [6.0, 8.0]], np.float32), dtype="float32")


def test_feed_converted_to_int_placeholder():
    p = K.placeholder(shape=(None,), dtype="int32")
    f = K.function([p], [p + 1])
    out = f([np.array([1.7, 2.2, -0.5])])[0]
    assert_close(out, np.asarray(np.array([1.7, 2.2, -0.5]), dtype=np.int32) + 1, dtype="int32")


def test_feed_converted_to_bool_placeholder():
    p = K.placeholder(shape=(3,), dtype="bool")
    out = K.function([p], [K.cast(p, "float32")])([[0, 1, 2]])[0]
    assert_close(out, np.array([0.0, 1.0, 1.0], np.float32), dtype="float32")


def test_feed_scalar_placeholder():
    s = K.placeholder(shape=())
    v = K.variable(np.array([1.0, 2.0]))
    f = K.function([s], [v * s])
    assert_close(f([3])[0], np.array([3.0, 6.0], np.float32), dtype="float32")
    assert_close(f([np.float64(0.5)])[0], np.array([0.5, 1.0], np.float32))


def test_none_feed_leaves_learning_phase_at_default():
    x = K.placeholder(shape=(None, 2))
    f = K.function([x, K.learning_phase()], [K.in_train_phase(x * 2, x * 3)])
    a = np.ones((1, 2), np.float32)
    assert_close(f([a, None])[0], a * 3)
    assert_close(f([a, 1])[0], a * 2)


def test_same_function_called_twice_and_different_batch_sizes():
    w = K.variable(np.arange(6, dtype=np.float32).reshape(3, 2))
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [K.dot(p, w) + 1.0, K.sum(p)])
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    wn = np.arange(6, dtype=np.float64).reshape(3, 2)
    r1 = f([a])
    r2 = f([a])
    assert_close(r1[0], r2[0])
    assert_close(r1[0], a.astype(np.float64) @ wn + 1.0, rtol=1e-5, atol=1e-5)
    r3 = f([b])
    assert r3[0].shape == (7, 2)
    assert_close(r3[0], b.astype(np.float64) @ wn + 1.0, rtol=1e-5, atol=1e-5)
    assert_close(r3[1], np.float32(b.astype(np.float64).sum()), rtol=1e-5, atol=1e-5)
    r4 = f([a[:1]])
    assert r4[0].shape == (1, 2)
    assert_close(f([a])[0], r1[0])


def test_outputs_are_fresh_numpy_arrays():
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [p * 2.0])
    a = np.ones((2, 3), np.float32)
    first = f([a])[0]
    assert isinstance(first, np.ndarray)
    f([a * 5])
    np.testing.assert_array_equal(first, np.full((2, 3), 2.0))  # not overwritten by a later call


def test_output_variable_is_a_copy():
    v = K.variable(np.ones(3))
    f = K.function([], [v])
    out = f([])[0]
    out[...] = 42
    np.testing.assert_array_equal(K.get_value(v), np.ones(3))
    ev = K.eval(v)
    ev[...] = 42
    np.testing.assert_array_equal(K.get_value(v), np.ones(3))


def test_function_reflects_set_value_between_calls():
    v = K.variable(np.zeros(2))
    p = K.placeholder(shape=(2,))
    f = K.function([p], [p + v])
    one = np.ones(2, np.float32)
    assert_close(f([one])[0], one)
    K.set_value(v, np.array([1.0, 2.0]))
    assert_close(f([one])[0], np.array([2.0, 3.0], np.float32))


def test_function_training_loop_style():
    """A hand-written SGD step: gradients + updates in one compiled function."""
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((16, 3)).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5]], np.float32)
    ys = xs @ true_w
    w = K.variable(np.zeros((3, 1)))
    x = K.placeholder(shape=(None, 3))
    y = K.placeholder(shape=(None, 1))
    loss = K.mean(K.square(K.dot(x, w) - y))
    g = K.gradients(loss, [w])[0]
    step = K.function([x, y], [loss], updates=[K.update_sub(w, 0.1 * g)])
    first = step([xs, ys])[0]
    for _ in range(200):
        last = step([xs, ys])[0]
    assert last < first * 1e-3
    assert_close(K.get_value(w), true_w, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("case", range(6))
def test_function_outputs_sharing_subexpressions(case):
    """Several outputs that share intermediate nodes (a forward value and its gradient, two
    chains reading one exp, ...) must all be computed correctly, whatever the fusion does."""
    p = K.placeholder(shape=(3,))
    c = K.constant(np.array([1.0, 2.0, 3.0]))
    a = np.array([1.0, -2.0, 3.0], np.float32)
    ca = np.array([1.0, 2.0, 3.0])
    e = K.exp(p)
    y = K.abs(p) * c
    cases = [
        ([e * c, c * e], [np.exp(a) * ca, ca * np.exp(a)]),
        ([K.sum(y), K.gradients(K.sum(y), [p])[0]], [np.sum(np.abs(a) * ca), np.sign(a) * ca]),
        ([y, K.gradients(K.sum(y), [p])[0]], [np.abs(a) * ca, np.sign(a) * ca]),
        ([K.square(p) * c, K.gradients(K.sum(K.square(p) * c), [p])[0]], [a ** 2 * ca, 2 * a * ca]),
        ([e + 1.0, e * 2.0, K.sum(e)], [np.exp(a) + 1, np.exp(a) * 2, np.exp(a).sum()]),
        ([e, e * e, K.sqrt(e)], [np.exp(a), np.exp(a) ** 2, np.exp(a / 2)]),
    ]
    outs, wants = cases[case]
    got = K.function([p], outs)([a])
    assert len(got) == len(wants)
    for g, w in zip(got, wants):
        assert_close(g, np.asarray(w, np.float32), rtol=1e-5, atol=1e-5)


_FRESH_SCRIPT = r"""
import numpy as np
from keraslite import backend as K
p = K.placeholder(shape=(3,))
c = K.constant(np.array([1.0, 2.0, 3.0]))
a = np.array([1.0, -2.0, 3.0], np.float32)
y = K.abs(p) * c
loss = K.sum(y)
g = K.gradients(loss, [p])[0]
out = K.function([p], [loss, g, y])([a])
np.testing.assert_allclose(out[0], 14.0, rtol=1e-6)
np.testing.assert_allclose(out[1], [1.0, -2.0, 3.0], rtol=1e-6)
np.testing.assert_allclose(out[2], [1.0, 4.0, 9.0], rtol=1e-6)
e = K.exp(p)
out = K.function([p], [e * c, c * e])([a])
np.testing.assert_allclose(out[0], np.exp(a) * [1, 2, 3], rtol=1e-5)
np.testing.assert_allclose(out[1], np.exp(a) * [1, 2, 3], rtol=1e-5)
print("OK")
"""


def test_first_graphs_of_a_fresh_process(kbackend):
    """The first graphs built in a new process (small node ids) must work like any other: run the
    shared-subexpression cases in a subprocess with this backend as the default."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, KERASLITE_BACKEND=kbackend)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", _FRESH_SCRIPT], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_returned_variable_value_not_changed_by_its_update():
    v = K.variable(np.array([1.0, 2.0]))
    f = K.function([], [v, v * 1.0], updates=[K.update_add(v, np.array([10.0, 10.0]))])
    out = f([])
    assert_close(out[0], np.array([1.0, 2.0], np.float32))
    assert_close(out[1], np.array([1.0, 2.0], np.float32))
    out2 = f([])
    assert_close(out[0], np.array([1.0, 2.0], np.float32))  # still the value it had when returned
    assert_close(out2[0], np.array([11.0, 12.0], np.float32))
    assert_close(K.get_value(v), np.array([21.0, 22.0]))


def test_eval_result_not_changed_by_later_updates():
    v = K.variable(np.array([1.0, 2.0]))
    before = K.eval(v)
    got = K.get_value(v)
    K.eval(K.update_add(v, 5.0 * np.ones(2)))
    K.set_value(v, np.array([7.0, 7.0]))
    np.testing.assert_array_equal(before, [1.0, 2.0])
    np.testing.assert_array_equal(got, [1.0, 2.0])


def test_set_value_then_update_in_function():
    v = K.variable(np.zeros(3))
    f = K.function([], [], updates=[(v, v + 1.0)])
    f([])
    K.set_value(v, np.array([5.0, 5.0, 5.0]))
    f([])
    assert_close(K.get_value(v), np.full(3, 6.0))


def test_update_value_reads_feed_and_fused_intermediates():
    v = K.variable(np.zeros((2, 3)))
    m = K.variable(np.ones((2, 3)))
    p = K.placeholder(shape=(2, 3))
    h = K.exp(p * 0.5) + 1.0
    f = K.function([p], [h * 2.0], updates=[(v, v * 0.9 + h * 0.1), (m, m * h)])
    a = _var(np.zeros((2, 3)))  # noqa: F841 (unrelated variable in the graph namespace)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    hx = np.exp(x.astype(np.float64) * 0.5) + 1.0
    out = f([x])[0]
    assert_close(out, hx * 2, rtol=1e-5, atol=1e-5)
    assert_close(K.get_value(v), hx * 0.1, rtol=1e-5, atol=1e-6)
    assert_close(K.get_value(m), hx, rtol=1e-5, atol=1e-6)
    f([x])
    assert_close(K.get_value(v), hx * 0.1 * 0.9 + hx * 0.1, rtol=1e-5, atol=1e-6)
    assert_close(K.get_value(m), hx * hx, rtol=1e-5, atol=1e-5)

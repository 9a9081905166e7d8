"""Property-based tests of the K control-flow and update functions: map_fn, foldl/foldr, rnn (with
masks, constants, go_backwards), in_train_phase/in_test_phase, update/update_add/update_sub/
moving_average_update and set_value/get_value, against NumPy loops written here."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import check, count, float_dtype, run, seed, shapes, side, values  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
TOL = {"float16": (1e-2, 1e-2), "float32": (1e-5, 1e-5), "float64": (1e-12, 1e-12)}


@FEW
@given(shape=shapes(min_rank=1, max_rank=3), dtype=float_dtype, s=seed)
def test_map_fn(shape, dtype, s):
    """fn on each slice along axis 0, stacked (an empty axis 0 gives an empty result)."""
    x = values(np.random.default_rng(s), shape, dtype)
    run(lambda t: K.map_fn(lambda r: K.square(r) * 2.0 - r, t),
        lambda a: np.stack([r * r * 2.0 - r for r in a]) if len(a) else np.zeros(a.shape), [x], dtype,
        tol=TOL[dtype])


@FEW
@given(shape=shapes(min_rank=1, max_rank=3), dtype=float_dtype, s=seed, init=st.booleans(),
       which=st.sampled_from(["foldl", "foldr"]))
def test_folds(shape, dtype, s, init, which):
    """acc = fn(acc, x) over axis 0 (foldr from the end); without an initializer the first
    element visited starts the fold, so an empty axis 0 is an error."""
    rng = np.random.default_rng(s)
    x = values(rng, shape, dtype)
    start = values(rng, shape[1:], dtype) if init else None

    def fn(acc, e):
        return acc * 0.5 + e

    def ref(a, *i):
        items = list(a) if which == "foldl" else list(a)[::-1]
        acc = i[0] if i else items.pop(0)
        for e in items:
            acc = fn(acc, e)
        return acc
    kfold = getattr(K, which)
    if not init and shape[0] == 0:
        count()
        with pytest.raises((ValueError, IndexError)):
            kfold(fn, K.variable(x, dtype=dtype))
        return
    arrays = [x] + ([start] if init else [])
    run(lambda t, *i: kfold(fn, t, initializer=i[0] if i else None), ref, arrays, dtype, tol=TOL[dtype])


@FEW
@given(n=side, steps=st.integers(1, 4), features=side, units=st.sampled_from([1, 2, 3]), dtype=float_dtype,
       s=seed, backwards=st.booleans(), masked=st.booleans(), const=st.booleans())
def test_rnn(n, steps, features, units, dtype, s, backwards, masked, const):
    """h_t = tanh(x_t W + h_{t-1} U [+ c]); a masked step repeats the previous output (zeros
    before the first step) and keeps the state."""
    rng = np.random.default_rng(s)
    x = values(rng, (n, steps, features), dtype, -1, 1)
    h0 = values(rng, (n, units), dtype, -1, 1)
    w = values(rng, (features, units), dtype, -1, 1)
    u = values(rng, (units, units), dtype, -1, 1)
    c = values(rng, (n, units), dtype, -1, 1)
    mask = rng.random((n, steps)) < 0.7

    def kfn(xt, h0t, wt, ut, ct, mt):
        def step(inp, states):
            h = K.tanh(K.dot(inp, wt) + K.dot(states[0], ut) + (states[1] if const else 0.0))
            return h, [h]
        last, outs, st_ = K.rnn(step, xt, [h0t], go_backwards=backwards, mask=mt if masked else None,
                                constants=[ct] if const else None)
        return K.concatenate([K.expand_dims(last, 1), outs, K.expand_dims(st_[0], 1)], axis=1)

    def ref(xa, h0a, wa, ua, ca, ma):
        h, prev, outs = h0a, np.zeros((n, units)), []
        for t in (range(steps - 1, -1, -1) if backwards else range(steps)):
            new = np.tanh(xa[:, t] @ wa + h @ ua + (ca if const else 0.0))
            if masked:
                m = ma[:, t][:, None]
                out, h = np.where(m, new, prev), np.where(m, new, h)
            else:
                out, h = new, new
            outs.append(out)
            prev = out
        return np.concatenate([outs[-1][:, None], np.stack(outs, axis=1), h[:, None]], axis=1)
    run(kfn, ref, [x, h0, w, u, c, mask], dtype, tol=(TOL[dtype][0] * 10, TOL[dtype][1] * 10))


@pytest.mark.parametrize("n", [0, 2])
def test_rnn_without_steps_is_a_clear_error(n):
    step = lambda inp, states: (inp, states)  # noqa: E731
    with pytest.raises(ValueError, match="time axis .* is empty"):
        K.rnn(step, K.variable(np.zeros((n, 0, 3))), [K.variable(np.zeros((n, 3)))])


@given(shape=shapes(), dtype=float_dtype, s=seed, training=st.sampled_from([0, 1, None, "tensor"]))
def test_in_train_phase(shape, dtype, s, training):
    rng = np.random.default_rng(s)
    a, b = values(rng, shape, dtype), values(rng, shape, dtype)
    count()
    ta, tb = K.variable(a, dtype=dtype), K.variable(b, dtype=dtype)
    if training == "tensor":
        flag = K.placeholder(shape=(), dtype="bool")
        for value in (True, False):
            f = K.function([flag], [K.in_train_phase(ta, tb, training=flag), K.in_test_phase(ta, tb, training=flag)])
            got = f([np.array(value)])
            check(got[0], a if value else b, dtype)
            check(got[1], b if value else a, dtype)
        return
    if training is None:
        phase = K.learning_phase()
        f = K.function([phase], [K.in_train_phase(ta, tb), K.in_test_phase(ta, tb)])
        for value in (0, 1):
            got = f([value])
            check(got[0], a if value else b, dtype)
            check(got[1], b if value else a, dtype)
        return
    check(K.eval(K.in_train_phase(ta, tb, training=training)), a if training else b, dtype)
    check(K.eval(K.in_test_phase(ta, tb, training=training)), b if training else a, dtype)


@given(shape=shapes(), dtype=float_dtype, s=seed, which=st.sampled_from(["update", "update_add", "update_sub",
                                                                         "moving_average_update"]),
       times=st.integers(1, 3))
def test_updates(shape, dtype, s, which, times):
    """Building an update changes nothing; each evaluation applies it once."""
    rng = np.random.default_rng(s)
    x0, v = values(rng, shape, dtype), values(rng, shape, dtype)
    count()
    var = K.variable(x0, dtype=dtype)
    if which == "moving_average_update":
        op = K.moving_average_update(var, K.constant(v, dtype=dtype), 0.9)
    else:
        op = getattr(K, which)(var, K.constant(v, dtype=dtype))
    check(K.get_value(var), x0, dtype)
    want = x0.astype(np.float64)
    for _ in range(times):
        K.eval(op)
        want = {"update": lambda w: v.astype(np.float64), "update_add": lambda w: w + v,
                "update_sub": lambda w: w - v, "moving_average_update": lambda w: w * 0.9 + v * 0.1}[which](want)
        # each step rounds to the variable's dtype
        want = want.astype(dtype).astype(np.float64)
    check(K.get_value(var), want, dtype, tol=TOL[dtype])


@given(shape=shapes(), dtype=float_dtype, s=seed, src=st.sampled_from(["float64", "float32", "int32"]))
def test_set_value_get_value(shape, dtype, s, src):
    """set_value casts to the variable's dtype; batch_set_value/batch_get_value likewise."""
    rng = np.random.default_rng(s)
    count()
    var = K.variable(np.zeros(shape, dtype=dtype), dtype=dtype)
    new = (rng.integers(-5, 5, size=shape) / 2).astype(src)
    K.set_value(var, new)
    check(K.get_value(var), new.astype(dtype), dtype)
    other = K.variable(np.ones(shape, dtype=dtype), dtype=dtype)
    K.batch_set_value([(var, new * 2), (other, new - 1)])
    got = K.batch_get_value([var, other])
    check(got[0], (new * 2).astype(dtype), dtype)
    check(got[1], (new - 1).astype(dtype), dtype)

"""The declared gradient of categorical cross-entropy of probabilities (graph.custom_gradient +
the categorical_crossentropy_grad primitive) and of softplus: against a NumPy formula and against
what autodiff derives from the composition, on every backend, with clipped entries, NaN, other
axes and unknown lengths; the declaration survives graph.substitute; a training plan runs the
loss as the fused one-pass form and its gradient as one step."""
import numpy as np
import pytest

import keraslite
from finite_differences import central_difference
from keraslite import backend as K
from keraslite.backend import graph
from keraslite.backend.ops.nn import _eps
from keraslite.testing import references as R


def _composite_loss(t, o, axis):
    """K.categorical_crossentropy's chain without the declared gradient: autodiff differentiates it op by op."""
    p = o / K.sum(o, axis=axis, keepdims=True)
    eps = _eps(o.dtype)
    return -K.sum(t * K.log(K.clip(p, eps, 1 - eps)), axis=axis)


def _probs(rng, shape, dtype, nan=False):
    """Probabilities with clipped entries: the first row renormalises to about (1, 0, ...), above
    1 - eps and below eps; every other row's first entry is below eps."""
    o = rng.uniform(0.05, 1.0, shape).astype(dtype)
    rows = np.moveaxis(o, -1, 0).reshape(shape[-1], -1) if o.size else None
    if rows is not None:
        rows[0, 1:] = 1e-12
        rows[1:, 0] = 1e-12
        rows[0, 0] = 1.0
        o = np.moveaxis(rows.reshape((shape[-1],) + shape[:-1]), 0, -1).astype(dtype)
    if nan and o.size > 2:
        o.reshape(-1)[2] = np.nan
    return o


# below 1024 elements numba runs NumPy code (no kernel to compile on a first run); above, the kernels
CASES = [((7, 5), -1), ((3, 4, 6), -1), ((4, 3, 5), 1), ((6, 1), -1), ((0, 4), -1), ((3, 0), -1),
         ((300, 7), -1), ((40, 3, 11), -1), ((1100, 1), -1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", CASES)
def test_gradient_matches_formula_and_composite(kbackend, dtype, shape, axis):
    rng = np.random.default_rng(3)
    ax = axis % len(shape)
    kept = shape[:ax] + shape[ax + 1:]
    t = K.placeholder(shape=shape, dtype=dtype)
    o = K.placeholder(shape=shape, dtype=dtype)
    w = K.placeholder(shape=kept, dtype=dtype)
    loss = K.categorical_crossentropy(t, o, axis=axis)
    assert loss.custom_vjp is not None
    declared = K.gradients(K.sum(loss * w), [o, t])
    composite = K.gradients(K.sum(_composite_loss(t, o, ax) * w), [o, t])
    f = K.function([t, o, w], declared + composite + [loss])
    tv = rng.uniform(0, 1, shape).astype(dtype)
    ov = _probs(rng, shape, dtype, nan=True)
    wv = rng.uniform(-2, 2, kept).astype(dtype)
    go, gt, go_comp, gt_comp, lv = (np.asarray(v) for v in f([tv, ov, wv]))
    # the renormalisation's sum cancels most of some entries: errors relative to the row's scale
    rtol, unit = (2e-5, 1e-6) if dtype == "float32" else (1e-12, 1e-14)
    scale = float(np.nanmax(np.abs(go_comp), initial=1.0))
    np.testing.assert_allclose(go, go_comp, rtol=rtol, atol=unit * scale, equal_nan=True)
    np.testing.assert_allclose(gt, gt_comp, rtol=rtol, atol=unit, equal_nan=True)
    ref = R.categorical_crossentropy_grad(wv, tv, ov, axis=ax, eps=_eps(dtype))
    np.testing.assert_allclose(go, ref, rtol=10 * rtol, atol=10 * unit * scale, equal_nan=True)
    assert go.dtype == np.dtype(dtype) and go.shape == shape
    if ov.size > 2:  # a NaN probability: its row's loss and gradient are NaN, other rows are not
        row = np.unravel_index(2, ov.shape)
        assert np.isnan(np.moveaxis(go, ax, -1)[tuple(i for k, i in enumerate(row) if k != ax)]).all()
        assert np.isfinite(np.moveaxis(go, ax, -1).reshape(-1, shape[ax])[-1]).all()


def test_clipped_entries_pass_no_gradient(kbackend):
    """A probability renormalised to below eps or above 1 - eps gets the renormalisation's part
    only (the clip passes nothing), as autodiff of the chain gives."""
    t = K.placeholder(shape=(None, 3))
    o = K.placeholder(shape=(None, 3))
    g = K.gradients(K.sum(K.categorical_crossentropy(t, o)), [o])[0]
    f = K.function([t, o], [g])
    ov = np.array([[1.0, 1e-12, 1e-12], [0.2, 0.3, 0.5]], dtype="float32")
    tv = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype="float32")
    got = np.asarray(f([tv, ov])[0])
    # row 0: the target's entry is clipped (no gradient) and the others have t = 0: all zero
    np.testing.assert_array_equal(got[0], np.zeros(3, "float32"))
    # row 1: -t/q / s + sum(t) / s with s = 1: -1/0.5 + 1 on the target, +1 elsewhere
    np.testing.assert_allclose(got[1], [1.0, 1.0, -1.0], rtol=1e-6)


def test_unknown_lengths_and_plain_numpy_targets(kbackend):
    """A model's target placeholder is (None, None); the loss of a Keras model trains with the
    declared gradient and gives the composite's gradients."""
    rng = np.random.default_rng(0)
    t = K.placeholder(shape=(None, None))
    o = K.placeholder(shape=(None, 4))
    loss = K.mean(K.categorical_crossentropy(t, o))
    f = K.function([t, o], K.gradients(loss, [o]) + K.gradients(K.mean(_composite_loss(t, o, 1)), [o]))
    tv = np.eye(4, dtype="float32")[rng.integers(0, 4, 9)]
    ov = rng.uniform(0.1, 1, (9, 4)).astype("float32")
    a, b = f([tv, ov])
    np.testing.assert_allclose(a, b, rtol=2e-5)


def test_gradient_with_respect_to_target(kbackend):
    t = K.placeholder(shape=(4, 3), dtype="float64")
    o = K.placeholder(shape=(4, 3), dtype="float64")
    gt = K.gradients(K.sum(K.categorical_crossentropy(t, o)), [t])[0]
    ov = np.random.default_rng(1).uniform(0.1, 1, (4, 3))
    got = np.asarray(K.function([t, o], [gt])([np.ones((4, 3)), ov])[0])
    q = np.clip(ov / ov.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(got, -np.log(q), rtol=1e-12)


def test_second_order_through_the_gradient_primitive():
    """d/d output of sum(v * d loss / d output): the primitive's VJP (the composite's autodiff)
    against central differences in float64."""
    rng = np.random.default_rng(5)
    t = K.placeholder(shape=(3, 4), dtype="float64")
    o = K.placeholder(shape=(3, 4), dtype="float64")
    v = rng.normal(size=(3, 4))
    g = K.gradients(K.sum(K.categorical_crossentropy(t, o)), [o])[0]
    hv = K.gradients(K.sum(g * v), [o])[0]
    fg = K.function([t, o], [g])
    fh = K.function([t, o], [hv])
    tv = rng.uniform(0, 1, (3, 4))
    ov = rng.uniform(0.2, 1, (3, 4))
    got = np.asarray(fh([tv, ov])[0])
    num = central_difference(lambda o_: float((np.asarray(fg([tv, o_])[0]) * v).sum()), ov)
    np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-8)


def test_substitute_maps_the_declared_inputs():
    """A graph copied with a replaced input keeps the declared gradient, now with respect to the copy."""
    t = K.placeholder(shape=(2, 3))
    o = K.placeholder(shape=(2, 3))
    o2 = K.placeholder(shape=(2, 3))
    loss = K.categorical_crossentropy(t, o)
    (copied,) = graph.substitute([loss], {o: o2})
    assert copied is not loss and copied.custom_vjp is not None
    declared = copied.custom_vjp[0]
    assert declared[1] is o2 and declared[0] is loss.custom_vjp[0][0]
    go, gt = K.gradients(K.sum(copied), [o2, t])
    ov = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], "float32")
    tv = np.eye(3, dtype="float32")[[0, 2]]
    got, got_t = K.function([t, o2], [go, gt])([tv, ov])
    np.testing.assert_allclose(got, R.categorical_crossentropy_grad(np.ones(2), tv, ov), rtol=1e-5)
    np.testing.assert_allclose(got_t, -np.log(ov / ov.sum(1, keepdims=True)), rtol=1e-6)


def test_softplus_gradient_is_sigmoid(kbackend):
    """softplus is a composition with a declared gradient: sigmoid(x) exactly, 1/2 at 0 (the
    composition's own tie rules would give 1 there); integer inputs become floatx."""
    x = K.placeholder(shape=(5,))
    g = K.gradients(K.sum(K.softplus(x)), [x])[0]
    xv = np.array([0.0, -0.0, 3.0, -30.0, 40.0], "float32")
    y, gv = K.function([x], [K.softplus(x), g])([xv])
    np.testing.assert_allclose(y, np.logaddexp(0, xv.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(gv, 1 / (1 + np.exp(-xv.astype(np.float64))), rtol=1e-6)
    assert gv[0] == 0.5 and gv[1] == 0.5
    xi = K.placeholder(shape=(3,), dtype="int32")
    assert K.softplus(xi).dtype == K.floatx()


def test_training_plan_runs_the_fused_loss_and_one_gradient_step():
    """On numba the MLP's training plan has the cross-entropy as one fused step (the target
    placeholder's unknown lengths checked at run time) and its gradient as one step."""
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    with keraslite.use_backend("numba"):
        model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dense(3, activation="softmax")])
        model.compile("sgd", "categorical_crossentropy")
        rng = np.random.default_rng(0)
        x, y = rng.random((6, 5), dtype=np.float32), np.eye(3, dtype="float32")[rng.integers(0, 3, 6)]
        before = model.get_weights()
        model.train_on_batch(x, y)
        ops = [step.op for step in model.train_function.last_plan.steps]
        assert "sum+div+maximum+minimum+log+mul+sum+neg" in ops
        assert ops.count("categorical_crossentropy_grad") == 1
        assert not any(op in ("log", "maximum", "minimum") for op in ops)
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("n", [6, 400])
def test_fused_loss_in_training_matches_the_formula(kbackend, n):
    """The loss a training step reports (the fused one-pass form on numba, NumPy below 1024
    elements) against the reference, with clipped entries."""
    from keraslite.layers import Activation
    from keraslite.models import Sequential
    model = Sequential([Activation("linear", input_shape=(5,))])
    model.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(2)
    x = _probs(rng, (n, 5), "float32")
    y = np.eye(5, dtype="float32")[rng.integers(0, 5, n)]
    loss = model.train_on_batch(x, y)
    expect = R.categorical_crossentropy(y, x, dtype=np.float32).mean()
    np.testing.assert_allclose(loss, expect, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7, 5), (300, 7), (4, 3, 6)])
def test_loss_of_a_softmax_sends_its_gradient_to_the_logits(kbackend, dtype, shape):
    """categorical_crossentropy(t, softmax(z)) declares its gradient with respect to z (the
    primitive with softmax=True), equal to the softmax VJP after the probabilities' gradient;
    another reader of the softmax's output still sends its part through the softmax's VJP."""
    rng = np.random.default_rng(4)
    t = K.placeholder(shape=shape, dtype=dtype)
    z = K.placeholder(shape=shape, dtype=dtype)
    w = K.placeholder(shape=shape, dtype=dtype)
    y = K.softmax(z)
    loss = K.categorical_crossentropy(t, y)
    assert loss.custom_vjp[0][1] is z
    extra = K.sum(y * w)  # a second reader of the softmax's output
    declared = K.gradients(K.sum(loss) + extra, [z])[0]
    composite = K.gradients(K.sum(_composite_loss(t, y, len(shape) - 1)) + extra, [z])[0]
    only = K.gradients(K.sum(loss), [z])[0]
    f = K.function([t, z, w], [declared, composite, only, y])
    tv = rng.uniform(0, 1, shape).astype(dtype)
    zv = rng.normal(0, 3, shape).astype(dtype)
    zv.reshape(-1, shape[-1])[0, 0] = 40.0  # a probability clipped at 1 - eps, the others at eps
    wv = rng.uniform(-1, 1, shape).astype(dtype)
    a, b, c, yv = (np.asarray(v) for v in f([tv, zv, wv]))
    rtol, unit = (2e-5, 1e-6) if dtype == "float32" else (1e-12, 1e-14)
    scale = float(np.abs(b).max())
    np.testing.assert_allclose(a, b, rtol=rtol, atol=unit * scale)
    ref = R.categorical_crossentropy_grad(np.ones(shape[:-1]), tv, yv, softmax=True)
    np.testing.assert_allclose(c, ref, rtol=10 * rtol, atol=10 * unit * float(np.abs(ref).max()))


def test_training_plan_has_no_softmax_gradient_steps():
    """Dense(..., activation='softmax') + categorical cross-entropy: after the loss's gradient
    step comes the bias gradient, no softmax VJP (mul, sum, sub)."""
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    with keraslite.use_backend("numba"):
        model = Sequential([Dense(4, activation="softmax", input_shape=(5,))])
        model.compile("sgd", "categorical_crossentropy")
        rng = np.random.default_rng(0)
        model.train_on_batch(rng.random((300, 5), dtype=np.float32), np.eye(4, dtype="float32")[rng.integers(0, 4, 300)])
        steps = model.train_function.last_plan.steps
        k = [s.op for s in steps].index("categorical_crossentropy_grad")
        readers = [s for s in steps if steps[k].out_slot in s.in_slots]
        assert readers and all(s.op in ("sum", "matmul", "transpose", "sum_to_like") for s in readers), \
            [s.op for s in readers]


def test_gradient_with_respect_to_the_softmax_output_itself(kbackend):
    """Asked for d loss / d probabilities (the softmax's output), autodiff gets the probabilities'
    gradient, not zeros: the rule folds the softmax's VJP in only when the probabilities are not
    asked for; asked for both, each is right."""
    rng = np.random.default_rng(6)
    t = K.placeholder(shape=(6, 4))
    z = K.placeholder(shape=(6, 4))
    y = K.softmax(z)
    loss = K.sum(K.categorical_crossentropy(t, y))
    comp = K.sum(_composite_loss(t, y, 1))
    f = K.function([t, z], K.gradients(loss, [y]) + K.gradients(loss, [y, z]) + K.gradients(comp, [y, z]))
    tv = np.eye(4, dtype="float32")[rng.integers(0, 4, 6)]
    zv = rng.normal(size=(6, 4)).astype("float32")
    gy, gy2, gz2, cy, cz = (np.asarray(v) for v in f([tv, zv]))
    assert np.abs(cy).max() > 0.1
    np.testing.assert_allclose(gy, cy, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(gy2, cy, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(gz2, cz, rtol=2e-5, atol=1e-6)

"""keraslite.regularizers and keraslite.constraints against NumPy formulas, on every backend."""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import constraints as C
from keraslite import regularizers as R
from keraslite.utils.generic_utils import CustomObjectScope

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = 1e-7  # K.epsilon()


def _w(shape=(5, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# ---------------------------------------------------------------------------------------------
# regularizers


@pytest.mark.parametrize("l1, l2", [(0.01, 0.0), (0.0, 0.02), (0.3, 0.5), (0.0, 0.0)])
def test_l1l2_value(l1, l2):
    w = _w()
    penalty = R.L1L2(l1=l1, l2=l2)(K.variable(w))
    assert K.is_tensor(penalty) and K.ndim(penalty) == 0
    want = l1 * np.abs(w.astype(np.float64)).sum() + l2 * np.square(w.astype(np.float64)).sum()
    np.testing.assert_allclose(K.eval(penalty), want, rtol=1e-5, atol=1e-7)


def test_shortcut_functions():
    w = _w(seed=1)
    w64 = w.astype(np.float64)
    cases = [(R.l1(), 0.01, 0.0), (R.l2(), 0.0, 0.01), (R.l1_l2(), 0.01, 0.01), (R.l1(0.5), 0.5, 0.0),
             (R.l2(l=0.25), 0.0, 0.25), (R.l1_l2(l1=0.1, l2=0.2), 0.1, 0.2)]
    for reg, l1, l2 in cases:
        assert isinstance(reg, R.L1L2) and (reg.l1, reg.l2) == pytest.approx((l1, l2))
        want = l1 * np.abs(w64).sum() + l2 * (w64 ** 2).sum()
        np.testing.assert_allclose(K.eval(reg(K.variable(w))), want, rtol=1e-5, atol=1e-7)


def test_regularizer_gradient():
    w = _w(seed=2)
    v = K.variable(w)
    g = K.eval(K.gradients(R.l1_l2(l1=0.1, l2=0.3)(v), [v])[0])
    np.testing.assert_allclose(g, 0.1 * np.sign(w) + 0.6 * w, rtol=1e-5, atol=1e-6)


def test_regularizer_config_and_get():
    reg = R.L1L2(l1=0.1, l2=0.2)
    assert reg.get_config() == pytest.approx({"l1": 0.1, "l2": 0.2})
    config = R.serialize(reg)
    assert config["class_name"] == "L1L2"
    clone = R.deserialize(config)
    assert isinstance(clone, R.L1L2) and clone.get_config() == reg.get_config()
    got = R.get("l2")
    assert isinstance(got, R.L1L2) and got.get_config() == pytest.approx({"l1": 0.0, "l2": 0.01})
    assert R.get("l1_l2").get_config() == pytest.approx({"l1": 0.01, "l2": 0.01})
    assert isinstance(R.get({"class_name": "L1L2", "config": {"l1": 1.0}}), R.L1L2)
    assert R.get(None) is None
    fn = lambda x: K.sum(x)  # noqa: E731
    assert R.get(fn) is fn
    for bad in ("no_such_regularizer", 3.0):
        with pytest.raises(ValueError):
            R.get(bad)


def test_regularizer_float64_weight():
    w = _w(seed=3).astype("float64")
    penalty = R.l2(0.5)(K.variable(w, dtype="float64"))
    assert K.dtype(penalty) == "float64"
    np.testing.assert_allclose(K.eval(penalty), 0.5 * (w ** 2).sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# constraints


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w.astype(np.float64)), axis=axis, keepdims=True))


@pytest.mark.parametrize("max_value, axis", [(2, 0), (1.0, 0), (0.5, 1), (1.5, [0, 1, 2])])
def test_max_norm(max_value, axis):
    shape = (3, 3, 2, 4) if isinstance(axis, list) else (6, 5)
    w = _w(shape, seed=4) * 2
    got = K.eval(C.MaxNorm(max_value=max_value, axis=axis)(K.variable(w)))
    ax = tuple(axis) if isinstance(axis, list) else axis
    norms = _norms(w, ax)
    want = w * (np.clip(norms, 0, max_value) / (EPS + norms))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(_norms(got, ax) <= max_value + 1e-5)


def test_max_norm_leaves_small_weights():
    w = _w((6, 5), seed=5) * 0.01
    np.testing.assert_allclose(K.eval(C.max_norm(2.0)(K.variable(w))), w, rtol=1e-5, atol=1e-8)


def test_non_neg():
    w = _w(seed=6)
    got = K.eval(C.NonNeg()(K.variable(w)))
    np.testing.assert_array_equal(got, np.where(w >= 0, w, 0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unit_norm(axis):
    w = _w((6, 5), seed=7)
    got = K.eval(C.UnitNorm(axis=axis)(K.variable(w)))
    np.testing.assert_allclose(got, w / (EPS + _norms(w, axis)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_norms(got, axis), 1.0, rtol=1e-5)


@pytest.mark.parametrize("min_value, max_value, rate", [(0.0, 1.0, 1.0), (0.5, 1.5, 1.0), (1.0, 2.0, 0.3)])
def test_min_max_norm(min_value, max_value, rate):
    w = _w((7, 6), seed=8) * np.linspace(0.05, 2, 6, dtype="float32")
    got = K.eval(C.MinMaxNorm(min_value, max_value, rate, axis=0)(K.variable(w)))
    norms = _norms(w, 0)
    desired = rate * np.clip(norms, min_value, max_value) + (1 - rate) * norms
    np.testing.assert_allclose(got, w * desired / (EPS + norms), rtol=1e-5, atol=1e-6)


def test_zero_weights_stay_zero():
    z = np.zeros((3, 4), "float32")
    for c in (C.MaxNorm(), C.UnitNorm(), C.MinMaxNorm(1.0, 2.0)):
        np.testing.assert_array_equal(K.eval(c(K.variable(z))), z)


def test_constraint_aliases_config_and_get():
    assert C.max_norm is C.MaxNorm and C.non_neg is C.NonNeg and C.unit_norm is C.UnitNorm
    assert C.min_max_norm is C.MinMaxNorm
    assert C.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert C.UnitNorm().get_config() == {"axis": 0}
    assert C.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    for c in (C.MaxNorm(3, axis=1), C.NonNeg(), C.UnitNorm(axis=[0, 1]), C.MinMaxNorm(0.2, 0.8, 0.5, 1)):
        clone = C.deserialize(C.serialize(c))
        assert type(clone) is type(c) and clone.get_config() == c.get_config()
    for name, cls in (("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg),
                      ("unit_norm", C.UnitNorm), ("min_max_norm", C.MinMaxNorm)):
        assert type(C.get(name)) is cls
    assert C.get(None) is None
    fn = lambda w: w  # noqa: E731
    assert C.get(fn) is fn
    with pytest.raises(ValueError):
        C.get("no_such_constraint")
    with pytest.raises(ValueError):
        C.get(1)


def test_custom_constraint_by_name():
    class Clip01(C.Constraint):
        def __call__(self, w):
            return K.clip(w, 0.0, 1.0)

    with CustomObjectScope({"Clip01": Clip01}):
        c = C.get("Clip01")
    assert isinstance(c, Clip01)
    w = _w(seed=9)
    np.testing.assert_allclose(K.eval(c(K.variable(w))), np.clip(w, 0, 1))
    np.testing.assert_array_equal(K.eval(C.Constraint()(K.variable(w))), w)

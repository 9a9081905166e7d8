"""keraslite.activations against NumPy formulas, on every backend."""
import numpy as np
import pytest

from keraslite import activations
from keraslite import backend as K
from keraslite.utils.generic_utils import CustomObjectScope

pytestmark = pytest.mark.usefixtures("kbackend")

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _x(shape=(4, 7), seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype("float32")


def _run(fn, x, **kwargs):
    return K.eval(fn(K.variable(x), **kwargs))


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


FORMULAS = {
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "softplus": lambda x: np.log1p(np.exp(x.astype(np.float64))),
    "softsign": lambda x: x / (np.abs(x) + 1),
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0, 1),
    "exponential": lambda x: np.exp(x.astype(np.float64)),
    "linear": lambda x: x,
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_activation_formula(name):
    x = _x()
    x[0, :4] = [0.0, -0.0, 2.5, -2.5]  # kinks of relu / hard_sigmoid / elu
    fn = getattr(activations, name)
    got = _run(fn, x)
    np.testing.assert_allclose(got, FORMULAS[name](x), rtol=1e-5, atol=1e-6)
    assert got.shape == x.shape and got.dtype == np.float32


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_get_by_name_is_the_function(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.serialize(fn) == name
    assert activations.deserialize(name) is fn


@pytest.mark.parametrize("shape, axis", [((5, 6), -1), ((5, 6), 0), ((3, 4, 5), -1), ((3, 4, 5), 1),
                                         ((2, 3, 4, 5), -1)])
def test_softmax(shape, axis):
    x = _x(shape, seed=1, scale=10.0)
    got = _run(activations.softmax, x, axis=axis)
    np.testing.assert_allclose(got, _np_softmax(x.astype(np.float64), axis), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-5)


def test_softmax_large_values_stable():
    x = np.array([[1000.0, 1001.0, 999.0]], dtype="float32")
    got = _run(activations.softmax, x)
    np.testing.assert_allclose(got, _np_softmax(x.astype(np.float64)), rtol=1e-5)


def test_softmax_rank1_raises():
    with pytest.raises(ValueError):
        activations.softmax(K.variable(np.zeros(3, "float32")))


@pytest.mark.parametrize("kwargs, formula", [
    (dict(alpha=0.1), lambda x: np.where(x >= 0, x, 0.1 * x)),
    (dict(max_value=1.5), lambda x: np.clip(x, 0, 1.5)),
    (dict(threshold=1.0), lambda x: np.where(x >= 1.0, x, 0.0)),
    (dict(alpha=0.2, max_value=3.0, threshold=0.5), lambda x: np.where(x >= 0.5, np.minimum(x, 3.0), 0.2 * (x - 0.5))),
])
def test_relu_arguments(kwargs, formula):
    x = _x(seed=2)
    np.testing.assert_allclose(_run(activations.relu, x, **kwargs), formula(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_elu_alpha(alpha):
    x = _x(seed=3)
    np.testing.assert_allclose(_run(activations.elu, x, alpha=alpha), np.where(x > 0, x, alpha * np.expm1(x)),
                               rtol=1e-5, atol=1e-6)


def test_numpy_input_accepted():
    x = _x(seed=4)
    np.testing.assert_allclose(K.eval(activations.tanh(x)), np.tanh(x), rtol=1e-5, atol=1e-6)


def test_get_none_callable_errors():
    assert activations.get(None) is activations.linear
    fn = lambda x: x * 2  # noqa: E731
    assert activations.get(fn) is fn
    with pytest.raises(ValueError):
        activations.get("no_such_activation")
    with pytest.raises(ValueError):
        activations.get("K")  # module internals are not activations
    with pytest.raises(ValueError):
        activations.get(3)


def test_custom_activation_by_name():
    def swish(x):
        return x * K.sigmoid(x)

    with pytest.raises(ValueError):
        activations.get("swish")
    with CustomObjectScope({"swish": swish}):
        assert activations.get("swish") is swish
    assert activations.deserialize("swish", custom_objects={"swish": swish}) is swish
    x = _x(seed=5)
    np.testing.assert_allclose(_run(swish, x), x * _sigmoid(x), rtol=1e-5, atol=1e-6)


def test_gradient_of_activation():
    x = _x((3, 4), seed=6, scale=1.0)
    v = K.variable(x)
    g = K.eval(K.gradients(K.sum(activations.sigmoid(v)), [v])[0])
    s = _sigmoid(x)
    np.testing.assert_allclose(g, s * (1 - s), rtol=1e-4, atol=1e-6)

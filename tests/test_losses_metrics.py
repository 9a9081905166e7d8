"""keraslite.losses and keraslite.metrics against NumPy formulas written here, on every backend.

Values are computed in float64 (except where a test says otherwise), with y fed through
placeholders whose batch axis is unknown, as compile/fit do.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import losses as L
from keraslite import metrics as M

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = 1e-7
RTOL, ATOL = 1e-10, 1e-12


def run(fn, y_true, y_pred, dtype_true=None, **kwargs):
    """fn(y_true, y_pred) evaluated with both inputs fed through placeholders (batch axis None)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    yt = K.placeholder(shape=(None,) + y_true.shape[1:], dtype=dtype_true or K.floatx())
    yp = K.placeholder(shape=(None,) + y_pred.shape[1:])
    out = fn(yt, yp, **kwargs)
    return K.function([yt, yp], [out])([y_true, y_pred])[0]


def close(got, want, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol)


@pytest.fixture
def f64():
    K.set_floatx("float64")


def _data(shape=(6, 4), seed=0):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(shape)
    p = rng.standard_normal(shape)
    return y, p


def _probs(shape=(6, 4), seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 1.0, shape)
    p /= p.sum(-1, keepdims=True)
    labels = rng.integers(0, shape[-1], shape[:-1])
    onehot = np.eye(shape[-1])[labels]
    return onehot, p, labels


# ---------------------------------------------------------------------------------------------
# NumPy formulas


def np_mse(y, p): return np.mean((p - y) ** 2, -1)
def np_mae(y, p): return np.mean(np.abs(p - y), -1)
def np_mape(y, p): return 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), -1)
def np_msle(y, p): return np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, -1)


def _pm1(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def np_hinge(y, p): return np.mean(np.maximum(1 - _pm1(y) * p, 0), -1)
def np_squared_hinge(y, p): return np.mean(np.maximum(1 - _pm1(y) * p, 0) ** 2, -1)


def np_categorical_hinge(y, p):
    return np.maximum(0, np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1)


def np_logcosh(y, p):
    x = p - y
    # log(cosh(x)) = |x| + log1p(exp(-2|x|)) - log 2, finite for any x
    return np.mean(np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2), -1)


def np_huber(y, p, delta=1.0):
    e = np.abs(p - y)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2, delta * e - 0.5 * delta ** 2), -1)


def np_cce(y, p, eps=EPS):
    q = np.clip(p / p.sum(-1, keepdims=True), eps, 1 - eps)
    return -np.sum(y * np.log(q), -1)


def np_sparse_cce(labels, p, eps=EPS):
    q = np.clip(p, eps, 1 - eps)
    q = q / q.sum(-1, keepdims=True)
    flat = q.reshape(-1, q.shape[-1])
    return -np.log(flat[np.arange(flat.shape[0]), labels.reshape(-1).astype(int)]).reshape(q.shape[:-1])


def np_bce(y, p, eps=EPS):
    q = np.clip(p, eps, 1 - eps)
    return np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)), -1)


def np_kld(y, p):
    y = np.clip(y, EPS, 1)
    p = np.clip(p, EPS, 1)
    return np.sum(y * np.log(y / p), -1)


def np_poisson(y, p): return np.mean(p - y * np.log(p + EPS), -1)


def np_cosine(y, p):
    yn = y / np.sqrt(np.maximum(np.sum(y ** 2, -1, keepdims=True), 1e-12))
    pn = p / np.sqrt(np.maximum(np.sum(p ** 2, -1, keepdims=True), 1e-12))
    return -np.sum(yn * pn, -1)


# ---------------------------------------------------------------------------------------------
# losses on ordinary data


def _regression(shape=(6, 4)):
    return _data(shape)


def _positive(shape=(6, 4)):
    rng = np.random.default_rng(1)
    return rng.uniform(0.1, 3.0, shape), rng.uniform(0.1, 3.0, shape)


def _binary(shape=(6, 4)):
    rng = np.random.default_rng(2)
    return rng.integers(0, 2, shape).astype(float), rng.uniform(0.01, 0.99, shape)


def _pm1_labels(shape=(6, 4)):
    rng = np.random.default_rng(3)
    return rng.choice([-1.0, 1.0], shape), rng.standard_normal(shape)


def _onehot(shape=(6, 4)):
    y, p, _ = _probs(shape)
    return y, p


def _distributions(shape=(6, 4)):
    rng = np.random.default_rng(4)
    y = rng.uniform(0.01, 1, shape)
    p = rng.uniform(0.01, 1, shape)
    return y / y.sum(-1, keepdims=True), p / p.sum(-1, keepdims=True)


LOSS_CASES = [
    (L.mean_squared_error, np_mse, _regression),
    (L.mean_absolute_error, np_mae, _regression),
    (L.mean_absolute_percentage_error, np_mape, _regression),
    (L.mean_squared_logarithmic_error, np_msle, _positive),
    (L.mean_squared_logarithmic_error, np_msle, _regression),  # negatives are clipped
    (L.hinge, np_hinge, _pm1_labels),
    (L.hinge, np_hinge, _binary),  # 0/1 labels are converted to -1/1
    (L.squared_hinge, np_squared_hinge, _pm1_labels),
    (L.squared_hinge, np_squared_hinge, _binary),
    (L.hinge, np_hinge, _regression),  # arbitrary values: no conversion
    (L.categorical_hinge, np_categorical_hinge, _onehot),
    (L.logcosh, np_logcosh, _regression),
    (L.huber_loss, np_huber, _regression),
    (L.categorical_crossentropy, np_cce, _onehot),
    (L.categorical_crossentropy, np_cce, _distributions),
    (L.binary_crossentropy, np_bce, _binary),
    (L.kullback_leibler_divergence, np_kld, _distributions),
    (L.poisson, np_poisson, _positive),
    (L.cosine_proximity, np_cosine, _regression),
]


@pytest.mark.parametrize("fn,ref,data", LOSS_CASES,
                         ids=[f"{c[0].__name__}-{c[2].__name__.strip('_')}" for c in LOSS_CASES])
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 5)], ids=["2d", "3d"])
def test_loss_matches_numpy(f64, fn, ref, data, shape):
    y, p = data(shape)
    got = run(fn, y, p)
    assert got.shape == shape[:-1]  # one value per sample (per timestep): the last axis is reduced
    close(got, ref(y, p))


def test_hinge_conversion_is_per_batch(f64):
    # one label outside {0, 1}: the batch is left alone, so 0 stays 0
    y = np.array([[0.0, 1.0], [1.0, -1.0]])
    p = np.array([[0.3, -0.2], [0.8, 0.1]])
    close(run(L.hinge, y, p), np.mean(np.maximum(1 - y * p, 0), -1))
    y01 = np.array([[0.0, 1.0], [1.0, 0.0]])
    close(run(L.hinge, y01, p), np.mean(np.maximum(1 - (2 * y01 - 1) * p, 0), -1))


def test_huber_delta(f64):
    y, p = _regression()
    p = p * 3
    close(run(L.huber_loss, y, p, delta=0.5), np_huber(y, p, 0.5))
    close(run(L.huber_loss, y, p, delta=2.0), np_huber(y, p, 2.0))


def test_crossentropy_options(f64):
    y, p = _onehot()
    s = 0.2
    close(run(L.categorical_crossentropy, y, p, label_smoothing=s), np_cce(y * (1 - s) + s / y.shape[-1], p))
    logits = np.log(p) + 1.5
    close(run(L.categorical_crossentropy, y, logits, from_logits=True), np_cce(y, p))
    yb, pb = _binary()
    close(run(L.binary_crossentropy, yb, pb, label_smoothing=s), np_bce(yb * (1 - s) + 0.5 * s, pb))
    z = np.log(pb / (1 - pb))
    close(run(L.binary_crossentropy, yb, z, from_logits=True), np_bce(yb, pb, eps=0.0), rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# sparse labels


@pytest.mark.parametrize("label_shape", ["flat", "column"])
@pytest.mark.parametrize("label_dtype", ["float64", "int32", "int64"])
def test_sparse_categorical_crossentropy(f64, label_shape, label_dtype):
    _, p, labels = _probs((7, 5))
    y = labels if label_shape == "flat" else labels[:, None]
    got = run(L.sparse_categorical_crossentropy, y.astype(label_dtype), p, dtype_true=label_dtype)
    assert got.shape == (7,)
    close(got, np_sparse_cce(labels, p))


def test_sparse_categorical_crossentropy_sequences(f64):
    _, p, labels = _probs((3, 4, 5))
    close(run(L.sparse_categorical_crossentropy, labels.astype(float), p), np_sparse_cce(labels, p))


@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_sparse_categorical_accuracy(f64, label_shape):
    _, p, labels = _probs((8, 5), seed=5)
    labels[:4] = np.argmax(p[:4], -1)  # make sure some are right
    y = labels if label_shape == "flat" else labels[:, None]
    got = run(M.sparse_categorical_accuracy, y.astype(float), p)
    close(got, (np.argmax(p, -1) == labels).astype(float))
    assert 0 < got.mean() < 1
    got_int = run(M.sparse_categorical_accuracy, y.astype("int32"), p, dtype_true="int32")
    close(got_int, (np.argmax(p, -1) == labels).astype(float))


def _np_in_top_k(p, labels, k):
    target = p[np.arange(p.shape[0]), labels]
    return (np.sum(p > target[:, None], -1) < k).astype(float)


@pytest.mark.parametrize("k", [1, 2, 3, None])
def test_top_k_accuracies(f64, k):
    rng = np.random.default_rng(6)
    p = rng.uniform(size=(10, 7))
    labels = rng.integers(0, 7, 10)
    y = np.eye(7)[labels]
    kw = {} if k is None else {"k": k}
    want = _np_in_top_k(p, labels, 5 if k is None else k)
    close(run(M.top_k_categorical_accuracy, y, p, **kw), want)
    close(run(M.sparse_top_k_categorical_accuracy, labels.astype(float), p, **kw), want)
    close(run(M.sparse_top_k_categorical_accuracy, labels[:, None].astype(float), p, **kw), want)
    if k in (1, 2):
        assert 0 < want.mean() < 1  # the data can tell right from wrong


# ---------------------------------------------------------------------------------------------
# saturated inputs: finite, and equal to the clipped formulas


def test_saturated_crossentropies_are_finite():
    for dtype in ("float32", "float64"):
        K.set_floatx(dtype)
        eps32 = float(np.float32(EPS)) if dtype == "float32" else EPS
        y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        p = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else {}
        cce = run(L.categorical_crossentropy, y, p)
        assert np.all(np.isfinite(cce))
        close(cce, np_cce(y, p, eps32), **tol)
        yb = np.array([[1.0, 0.0], [0.0, 1.0]])
        pb = np.array([[0.0, 1.0], [0.0, 1.0]])
        bce = run(L.binary_crossentropy, yb, pb)
        assert np.all(np.isfinite(bce))
        if dtype == "float64":
            close(bce, np_bce(yb, pb))
        else:
            # 1 - eps rounds in float32; -log(eps) is about 16.1
            assert bce[0] == pytest.approx(-np.log(EPS), rel=1e-2) and bce[1] == pytest.approx(0.0, abs=1e-5)
        labels = np.array([0, 1, 2])
        scce = run(L.sparse_categorical_crossentropy, labels.astype(float), p)
        assert np.all(np.isfinite(scce))
        close(scce, np_sparse_cce(labels, p, eps32), **tol)
        kld = run(L.kullback_leibler_divergence, y, p)
        assert np.all(np.isfinite(kld))
        close(kld, np_kld(y, p), rtol=1e-5 if dtype == "float32" else RTOL)


def test_saturated_other_losses_are_finite(f64):
    y = np.array([[0.0, 0.0, 2.0], [0.0, -1.0, 0.0]])
    p = np.array([[0.0, 1e3, -1e3], [0.0, 0.0, 0.0]])
    for fn, ref in [(L.mape, np_mape), (L.logcosh, np_logcosh), (L.msle, np_msle), (L.cosine_proximity, np_cosine)]:
        got = run(fn, y, p)
        assert np.all(np.isfinite(got)), fn.__name__
        close(got, ref(y, p))
    got = run(L.poisson, np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    assert np.all(np.isfinite(got))
    close(got, np_poisson(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])))
    # logcosh at a huge error in float32 (cosh would overflow)
    K.set_floatx("float32")
    big = run(L.logcosh, np.zeros((1, 2)), np.array([[100.0, -200.0]]))
    assert np.all(np.isfinite(big))
    close(big, np.array([np.mean([100 - np.log(2), 200 - np.log(2)])]), rtol=1e-6)


def test_saturated_gradients_are_finite(f64):
    """The gradient of a clipped loss at p = 0 or 1 is finite (zero where clipped)."""
    p = K.variable(np.array([[0.0, 1.0, 0.0]]))
    y = K.constant(np.array([[1.0, 0.0, 0.0]]))
    for fn in (L.categorical_crossentropy, L.binary_crossentropy, L.kullback_leibler_divergence):
        g = K.eval(K.gradients(K.sum(fn(y, p)), [p])[0])
        assert np.all(np.isfinite(g)), fn.__name__


# ---------------------------------------------------------------------------------------------
# metrics


def test_binary_accuracy(f64):
    y = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    p = np.array([[0.9, 0.5, 0.5, 0.2], [0.51, 0.49, 0.7, 0.0]])
    # by hand: rounding sends 0.5 to 0 (ties to even), so row 0 predicts [1, 0, 0, 0] and row 1
    # [1, 0, 1, 0]
    close(run(M.binary_accuracy, y, p), np.array([3 / 4, 2 / 4]))
    close(run(M.binary_accuracy, y, p, threshold=0.6), np.mean(y == (p > 0.6), -1))
    close(run(M.binary_accuracy, y[:, :1], p[:, :1]), np.array([1.0, 1.0]))


def test_categorical_accuracy(f64):
    y, p, labels = _probs((9, 4), seed=7)
    p[:3] = y[:3] + 0.1  # the first three right for sure
    got = run(M.categorical_accuracy, y, p)
    want = (np.argmax(p, -1) == labels).astype(float)
    close(got, want)
    assert 0 < want.mean() < 1


def test_losses_usable_as_metrics(f64):
    y, p = _regression()
    for name, ref in [("mse", np_mse), ("mae", np_mae), ("mape", np_mape), ("cosine", np_cosine),
                      ("logcosh", np_logcosh)]:
        close(run(M.get(name), y, p), ref(y, p))
    assert M.mse is L.mean_squared_error and M.mae is L.mean_absolute_error
    assert M.cosine is L.cosine_proximity and M.binary_crossentropy is L.binary_crossentropy


# ---------------------------------------------------------------------------------------------
# names, get, serialize


LOSS_NAMES = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
              "mean_squared_logarithmic_error", "squared_hinge", "hinge", "categorical_hinge", "logcosh",
              "huber_loss", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy",
              "kullback_leibler_divergence", "poisson", "cosine_proximity"]

ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
           "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
           "MAPE": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
           "MSLE": "mean_squared_logarithmic_error", "kld": "kullback_leibler_divergence",
           "KLD": "kullback_leibler_divergence", "cosine": "cosine_proximity", "cosine_similarity": "cosine_proximity"}


def test_loss_names_and_aliases():
    for name in LOSS_NAMES:
        fn = getattr(L, name)
        assert fn.__name__ == name
        assert L.get(name) is fn
        assert L.serialize(fn) == name
        assert L.deserialize(name) is fn
    for alias, full in ALIASES.items():
        assert getattr(L, alias) is getattr(L, full)
        assert L.get(alias).__name__ == full
        assert M.get(alias).__name__ == full


def test_loss_get_errors_and_passthrough():
    def my_loss(y_true, y_pred):
        return K.mean(y_pred - y_true, axis=-1)

    assert L.get(my_loss) is my_loss
    assert L.get(None) is None
    with pytest.raises(ValueError):
        L.get("no_such_loss")
    with pytest.raises(ValueError):
        L.get(42)
    with pytest.raises(ValueError):
        L.deserialize("K")  # module internals are not loss names
    assert L.deserialize("my_loss", custom_objects={"my_loss": my_loss}) is my_loss


def test_metric_get_serialize():
    for name in ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                 "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]:
        fn = getattr(M, name)
        assert fn.__name__ == name
        assert M.get(name) is fn and M.serialize(fn) == name and M.deserialize(name) is fn
    assert M.get("binary_crossentropy") is L.binary_crossentropy
    with pytest.raises(ValueError):
        M.get("no_such_metric")
    with pytest.raises(ValueError):
        M.get(3.5)

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    assert M.get(mean_pred) is mean_pred


# ---------------------------------------------------------------------------------------------
# resolve_metric: what compile(metrics=[...]) uses


@pytest.mark.parametrize("name", ["accuracy", "acc"])
def test_resolve_accuracy(name):
    assert M.resolve_metric(name, (None, 1), L.mean_squared_error) == (name, M.binary_accuracy)
    assert M.resolve_metric(name, (None, 1), "mse") == (name, M.binary_accuracy)
    assert M.resolve_metric(name, (None, 10), "binary_crossentropy") == (name, M.binary_accuracy)
    assert M.resolve_metric(name, (None, 10), L.binary_crossentropy) == (name, M.binary_accuracy)
    assert M.resolve_metric(name, (None, 10), "sparse_categorical_crossentropy") == \
        (name, M.sparse_categorical_accuracy)
    assert M.resolve_metric(name, (None, 10), L.sparse_categorical_crossentropy) == \
        (name, M.sparse_categorical_accuracy)
    assert M.resolve_metric(name, (None, 10), "categorical_crossentropy") == (name, M.categorical_accuracy)
    assert M.resolve_metric(name, (None, 10), "mse") == (name, M.categorical_accuracy)
    assert M.resolve_metric(name, (None, 5, 10), None) == (name, M.categorical_accuracy)
    # one unit wins over a sparse loss (the rule checks the shape first)
    assert M.resolve_metric(name, (None, 1), "sparse_categorical_crossentropy") == (name, M.binary_accuracy)


def test_resolve_accuracy_with_wrapped_loss():
    def binary_crossentropy(y_true, y_pred):  # e.g. a weighting wrapper keeping the name
        return L.binary_crossentropy(y_true, y_pred)

    assert M.resolve_metric("acc", (None, 3), binary_crossentropy)[1] is M.binary_accuracy


@pytest.mark.parametrize("name", ["crossentropy", "ce"])
def test_resolve_crossentropy(name):
    assert M.resolve_metric(name, (None, 1), "mse") == (name, L.binary_crossentropy)
    assert M.resolve_metric(name, (None, 4), "binary_crossentropy") == (name, L.binary_crossentropy)
    assert M.resolve_metric(name, (None, 4), "sparse_categorical_crossentropy") == \
        (name, L.sparse_categorical_crossentropy)
    assert M.resolve_metric(name, (None, 4), "mse") == (name, L.categorical_crossentropy)


def test_resolve_other_names():
    assert M.resolve_metric("mae", (None, 3), "mse") == ("mae", L.mean_absolute_error)
    assert M.resolve_metric("mean_absolute_error", (None, 3), "mse") == ("mean_absolute_error", L.mean_absolute_error)
    assert M.resolve_metric("top_k_categorical_accuracy", (None, 9), None) == \
        ("top_k_categorical_accuracy", M.top_k_categorical_accuracy)
    with pytest.raises(ValueError):
        M.resolve_metric("no_such_metric", (None, 3), None)
    with pytest.raises(ValueError):
        M.resolve_metric(7, (None, 3), None)


def test_resolve_callables():
    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    assert M.resolve_metric(mean_pred, (None, 1), "mse") == ("mean_pred", mean_pred)
    assert M.resolve_metric(M.binary_accuracy, (None, 1), "mse") == ("binary_accuracy", M.binary_accuracy)

    class Named:
        name = "my_metric"

        def __call__(self, y_true, y_pred):
            return K.mean(y_pred)

    obj = Named()
    assert M.resolve_metric(obj, (None, 2), None) == ("my_metric", obj)


# ---------------------------------------------------------------------------------------------
# Keras 2.3's loss objects

def test_loss_objects_reduce_like_their_functions():
    from keraslite import losses
    rng = np.random.default_rng(3)
    y = rng.random((6, 4))
    p = rng.random((6, 4)) * 0.9 + 0.05
    w = rng.random(6)
    per = np.mean((p - y) ** 2, axis=-1)
    mse = losses.MeanSquaredError()
    assert mse.name == "mean_squared_error"
    assert K.eval(mse(K.constant(y), K.constant(p))) == pytest.approx(per.mean(), rel=1e-5)
    assert K.eval(mse(K.constant(y), K.constant(p), sample_weight=K.constant(w))) == \
        pytest.approx(np.mean(per * w), rel=1e-5)
    total = losses.MeanSquaredError(reduction="sum")
    assert K.eval(total(K.constant(y), K.constant(p))) == pytest.approx(per.sum(), rel=1e-5)
    none = losses.MeanSquaredError(reduction="none")
    np.testing.assert_allclose(K.eval(none(K.constant(y), K.constant(p))), per, rtol=1e-5)
    bce = losses.BinaryCrossentropy(label_smoothing=0.1)
    ys = y * 0.9 + 0.05
    want = -np.mean(ys * np.log(p) + (1 - ys) * np.log(1 - p), axis=-1).mean()
    assert K.eval(bce(K.constant(y), K.constant(p))) == pytest.approx(want, rel=1e-4)
    with pytest.raises(ValueError, match="reduction"):
        losses.Huber(reduction="mean")
    with pytest.raises(TypeError, match="unexpected keyword"):
        losses.Hinge(delta=2.0)


def test_loss_objects_config_get_and_compile():
    from keraslite import losses
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    h = losses.Huber(delta=0.5, name="h")
    again = losses.deserialize(losses.serialize(h))
    assert isinstance(again, losses.Huber) and again.get_config() == h.get_config()
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    labels = rng.integers(3, size=20)
    model = Sequential([Dense(3, activation="softmax", input_shape=(3,))])
    model.compile("sgd", losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    loss, acc = model.evaluate(x, labels, verbose=0)
    p = np.clip(model.predict(x).astype(np.float64), 1e-7, 1 - 1e-7)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(20), labels])), rel=1e-4)
    assert acc == pytest.approx(np.mean(p.argmax(-1) == labels))
    model.compile("sgd", losses.MeanSquaredError(reduction="sum"))
    y = rng.random((20, 3)).astype("float32")
    assert model.evaluate(x, y, batch_size=20, verbose=0) == \
        pytest.approx(np.mean((model.predict(x) - y) ** 2, axis=-1).sum(), rel=1e-4)

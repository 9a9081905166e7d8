"""keraslite.wrappers.scikit_learn against scikit-learn's own machinery (Keras 2.3 semantics)."""
import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import keraslite  # noqa: E402
from keraslite.layers import Dense  # noqa: E402
from keraslite.models import Sequential  # noqa: E402
from keraslite.optimizers import Adam  # noqa: E402
from keraslite.wrappers.scikit_learn import KerasClassifier, KerasRegressor  # noqa: E402


@pytest.fixture(autouse=True)
def _numpy_backend():
    # the wrappers only feed arrays to fit/predict: the backend does not matter, numpy compiles nothing
    with keraslite.use_backend("numpy"):
        yield


def _blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    labels = np.arange(n) % 3
    x = centers[labels] + 0.3 * rng.standard_normal((n, 2))
    return x.astype("float32"), labels


def build_classifier(hidden=8, n_classes=3, loss="categorical_crossentropy"):
    model = Sequential([Dense(hidden, activation="relu", input_shape=(2,)), Dense(n_classes, activation="softmax")])
    model.compile(Adam(0.05), loss, metrics=["accuracy"])
    return model


def build_regressor(hidden=4):
    model = Sequential([Dense(hidden, activation="tanh", input_shape=(2,)), Dense(1)])
    model.compile(Adam(0.05), "mse")
    return model


def test_classifier_string_labels_predict_and_score():
    x, labels = _blobs()
    names = np.array(["cat", "dog", "eel"])[labels]
    clf = KerasClassifier(build_classifier, hidden=8, epochs=20, batch_size=10, verbose=0)
    clf.fit(x, names)
    assert list(clf.classes_) == ["cat", "dog", "eel"] and clf.n_classes_ == 3
    pred = clf.predict(x)
    assert pred.dtype.kind == "U" and set(pred) <= {"cat", "dog", "eel"}
    proba = clf.predict_proba(x)
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # predict is the argmax of predict_proba, mapped through classes_
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    acc = clf.score(x, names)
    assert acc == pytest.approx(np.mean(pred == names), abs=1e-6)
    assert acc > 0.9


def test_classifier_one_hot_targets_and_sparse_loss():
    x, labels = _blobs()
    onehot = np.eye(3, dtype="float32")[labels]
    clf = KerasClassifier(build_classifier, epochs=30, batch_size=10, verbose=0)
    clf.fit(x, onehot)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.score(x, onehot) > 0.8
    # integer targets with a sparse loss stay integer (no one-hot conversion)
    clf2 = KerasClassifier(build_classifier, loss="sparse_categorical_crossentropy", epochs=30, batch_size=10,
                           verbose=0)
    clf2.fit(x, labels + 10)
    np.testing.assert_array_equal(clf2.classes_, [10, 11, 12])
    assert set(clf2.predict(x)) <= {10, 11, 12}


def test_binary_predict_proba_has_two_columns():
    x, labels = _blobs()
    y = (labels == 0).astype(int)

    def build():
        model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
        model.compile("adam", "binary_crossentropy", metrics=["acc"])
        return model

    clf = KerasClassifier(build, epochs=5, verbose=0)
    clf.fit(x, y)
    proba = clf.predict_proba(x)
    p = clf.model.predict(x)[:, 0]
    np.testing.assert_allclose(proba, np.stack([1 - p, p], axis=1), rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(x), (p > 0.5).astype(int))


def test_params_filtering_and_errors():
    seen = {}

    def build(hidden=3):
        seen["hidden"] = hidden
        return build_classifier(hidden)

    clf = KerasClassifier(build, hidden=5, epochs=1, batch_size=7, verbose=0)
    params = clf.get_params()
    assert params == {"build_fn": build, "hidden": 5, "epochs": 1, "batch_size": 7, "verbose": 0}
    assert clf.filter_sk_params(build) == {"hidden": 5}
    assert clf.filter_sk_params(Sequential.fit, {"epochs": 3}) == {"epochs": 3, "batch_size": 7, "verbose": 0}
    with pytest.raises(ValueError, match="not_an_arg is not a legal parameter"):
        KerasClassifier(build, not_an_arg=1)
    with pytest.raises(ValueError, match="typo is not a legal parameter"):
        clf.set_params(typo=2)
    assert clf.get_params()["hidden"] == 5  # the failed set_params changed nothing
    clf.set_params(hidden=2)
    x, labels = _blobs(12)
    history = clf.fit(x, labels)
    assert seen["hidden"] == 2 and len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="Invalid shape for y"):
        clf.fit(x, np.zeros((12, 1, 1)))
    with pytest.raises(ValueError, match="call fit before predict"):
        KerasRegressor(build_regressor).predict(x)


def test_classifier_score_needs_accuracy():
    def build():
        model = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
        model.compile("sgd", "categorical_crossentropy")
        return model

    x, labels = _blobs(12)
    est = KerasClassifier(build, epochs=1, verbose=0)
    est.fit(x, labels)
    with pytest.raises(ValueError, match="not configured to compute accuracy"):
        est.score(x, labels)


def test_build_fn_none_uses_subclass_call_and_class_instances():
    class MyRegressor(KerasRegressor):
        def __call__(self, hidden=2):
            return build_regressor(hidden)

    class Builder:
        def __call__(self, hidden=2):
            return build_regressor(hidden)

    x = np.random.default_rng(1).standard_normal((20, 2)).astype("float32")
    y = x[:, 0] - 2 * x[:, 1]
    for est in (MyRegressor(hidden=3, epochs=2, verbose=0), KerasRegressor(Builder(), hidden=3, epochs=2, verbose=0)):
        est.fit(x, y)
        assert est.model.layers[0].units == 3
        assert est.predict(x).shape == (20,)
    with pytest.raises(ValueError, match="nope is not a legal parameter"):
        MyRegressor(nope=1)


def test_regressor_learns_and_score_is_minus_loss():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((80, 2)).astype("float32")
    y = (0.5 * x[:, 0] - 0.25 * x[:, 1]).astype("float32")
    reg = KerasRegressor(build_regressor, hidden=4, epochs=60, batch_size=16, verbose=0)
    reg.fit(x, y)
    pred = reg.predict(x)
    assert pred.shape == (80,)
    mse = float(np.mean((pred - y) ** 2))
    assert reg.score(x, y) == pytest.approx(-mse, rel=1e-4, abs=1e-6)
    assert mse < 0.1 * float(np.var(y))


def test_clone_and_sklearn_identity():
    clf = KerasClassifier(build_classifier, hidden=4, epochs=2, verbose=0, callbacks=[])
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    assert is_classifier(clf) and not is_regressor(clf)
    assert is_regressor(KerasRegressor(build_regressor))


def test_cross_val_score_and_grid_search_and_pipeline():
    x, labels = _blobs(60)
    clf = KerasClassifier(build_classifier, hidden=6, epochs=25, batch_size=10, verbose=0)
    scores = cross_val_score(clf, x, labels, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.7)

    grid = GridSearchCV(KerasClassifier(build_classifier, epochs=20, batch_size=10, verbose=0),
                        {"hidden": [2, 6], "epochs": [1, 20]}, cv=KFold(2, shuffle=True, random_state=0))
    grid.fit(x, labels)
    assert set(grid.best_params_) == {"hidden", "epochs"}
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert grid.best_estimator_.model.layers[0].units == grid.best_params_["hidden"]

    rng = np.random.default_rng(3)
    xr = rng.standard_normal((40, 2)).astype("float32") * np.array([100.0, 0.01], dtype="float32")
    yr = xr[:, 0] / 100.0 + 100.0 * xr[:, 1]
    pipe = Pipeline([("scale", StandardScaler()),
                     ("net", KerasRegressor(build_regressor, epochs=2, batch_size=8, verbose=0))])
    pipe.fit(xr, yr)
    assert pipe.predict(xr).shape == (40,)
    scaled = StandardScaler().fit(xr).transform(xr)
    np.testing.assert_allclose(pipe.predict(xr), pipe.named_steps["net"].model.predict(scaled)[:, 0], rtol=1e-5)

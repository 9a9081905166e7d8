"""scikit-learn estimators around keraslite models (Keras 2.3 `keras.wrappers.scikit_learn`).

`KerasClassifier(build_fn=None, **sk_params)` and `KerasRegressor(build_fn=None, **sk_params)`:
`build_fn` is a function, or an object with `__call__`, that returns a compiled model; when it is
None the subclass's own `__call__` builds the model. `sk_params` mix the arguments of `build_fn`
with those of `fit`, `predict`, `predict_classes` and `evaluate`; each call gets the ones its
signature names (`filter_sk_params`). `get_params`/`set_params` expose them, so scikit-learn's
`clone`, `cross_val_score`, `GridSearchCV` and `Pipeline` work. scikit-learn itself is not needed
to use these classes; its tag machinery is consulted only when scikit-learn calls it.
"""
from __future__ import annotations

import copy
import types
from typing import Any, Callable

import numpy as np

from ..engine.sequential import Sequential
from ..losses import loss_name
from ..utils.generic_utils import has_arg, to_list
from ..utils.np_utils import to_categorical

__all__ = ["BaseWrapper", "KerasClassifier", "KerasRegressor"]


def _uses_categorical_crossentropy(loss) -> bool:
    # a string, the function or a CategoricalCrossentropy() object all name the same loss
    if isinstance(loss, str):
        return loss == "categorical_crossentropy"
    return loss_name(loss) == "categorical_crossentropy"


class BaseWrapper:
    """BaseWrapper(build_fn=None, **sk_params): the shared part of the two wrappers; use
    `KerasClassifier` or `KerasRegressor`."""

    _estimator_type: str | None = None

    def __init__(self, build_fn: Callable | None = None, **sk_params: Any):
        self.build_fn = build_fn
        self.sk_params = sk_params
        self.check_params(sk_params)

    # -- parameters ---------------------------------------------------------------------------
    def _build_callable(self) -> Callable:
        if self.build_fn is None:
            return self.__call__
        if not isinstance(self.build_fn, (types.FunctionType, types.MethodType)):
            return self.build_fn.__call__
        return self.build_fn

    def check_params(self, params: dict) -> None:
        """check_params(params): ValueError for a name that neither `build_fn` nor `fit`,
        `predict`, `predict_classes` or `evaluate` takes (`nb_epoch` is let through, as Keras does)."""
        if self.build_fn is None and not any("__call__" in vars(c) for c in type(self).__mro__[:-1]):
            raise ValueError(f"{type(self).__name__}: build_fn is None and the class defines no __call__ to "
                             "build the model")
        if self.build_fn is not None and not callable(self.build_fn):
            raise ValueError(f"{type(self).__name__}: build_fn must be callable, got {self.build_fn!r}")
        legal = [Sequential.fit, Sequential.predict, Sequential.predict_classes, Sequential.evaluate,
                 self._build_callable()]
        for name in params:
            if name == "nb_epoch":
                continue
            if not any(has_arg(fn, name) for fn in legal):
                raise ValueError(f"{name} is not a legal parameter")

    def get_params(self, deep: bool = True, **params) -> dict:
        """get_params(**params): `sk_params` with `build_fn`, as a new dict."""
        # the values themselves, not copies: sklearn's clone checks identity
        res = dict(self.sk_params)
        res["build_fn"] = self.build_fn
        return res

    def set_params(self, **params):
        """set_params(**params): check and merge into `sk_params`; returns self."""
        if "build_fn" in params:
            self.build_fn = params.pop("build_fn")
        self.check_params(params)
        self.sk_params.update(params)
        return self

    def filter_sk_params(self, fn: Callable, override: dict | None = None) -> dict:
        """filter_sk_params(fn, override=None): the `sk_params` that `fn` takes, updated by `override`."""
        res = {name: value for name, value in self.sk_params.items() if has_arg(fn, name)}
        res.update(override or {})
        return res

    # -- training -----------------------------------------------------------------------------
    def fit(self, x, y, **kwargs):
        """fit(x, y, **kwargs): build a new model with `build_fn` and fit it to (x, y); returns
        the History. A model compiled with categorical_crossentropy gets one-hot targets from
        integer ones. `kwargs` override the `fit` arguments in `sk_params`."""
        build = self._build_callable()
        self.model = build(**self.filter_sk_params(build))
        if not hasattr(self.model, "fit"):
            raise ValueError(f"{type(self).__name__}: build_fn must return a compiled keraslite model, "
                             f"got {type(self.model).__name__}")
        y = np.asarray(y)
        if _uses_categorical_crossentropy(getattr(self.model, "loss", None)) and y.ndim != 2:
            y = to_categorical(y)
        fit_args = copy.deepcopy(self.filter_sk_params(Sequential.fit))
        fit_args.update(kwargs)
        return self.model.fit(x, y, **fit_args)

    def _check_fitted(self, what: str) -> None:
        if getattr(self, "model", None) is None:
            raise ValueError(f"{type(self).__name__}.{what}: call fit before {what}")

    # -- scikit-learn's tag protocol (scikit-learn >= 1.6) -------------------------------------
    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags
        tags = Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=True))
        if self._estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags()
        elif self._estimator_type == "regressor":
            tags.regressor_tags = RegressorTags()
        tags.non_deterministic = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "model", None) is not None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class KerasClassifier(BaseWrapper):
    """KerasClassifier(build_fn=None, **sk_params): the scikit-learn classifier API for a
    keraslite model. Targets may be labels of any sortable kind (`classes_` keeps them, sorted)
    or one-hot rows; `predict` returns labels from `classes_`, `predict_proba` one column per
    class (two for a single sigmoid output), `score` the model's accuracy."""

    _estimator_type = "classifier"

    def fit(self, x, y, sample_weight=None, **kwargs):
        """fit(x, y, sample_weight=None, **kwargs): labels become indices into `classes_`
        (one-hot targets give `classes_ = arange(n)`); then `BaseWrapper.fit`."""
        y = np.array(y)
        if y.ndim == 2 and y.shape[1] > 1:
            self.classes_ = np.arange(y.shape[1])
        elif (y.ndim == 2 and y.shape[1] == 1) or y.ndim == 1:
            self.classes_ = np.unique(y)
            y = np.searchsorted(self.classes_, y)
        else:
            raise ValueError("Invalid shape for y: " + str(y.shape))
        self.n_classes_ = len(self.classes_)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return super().fit(x, y, **kwargs)

    def predict(self, x, **kwargs) -> np.ndarray:
        """predict(x, **kwargs): class labels (from `classes_`) for the samples in x."""
        self._check_fitted("predict")
        kwargs = self.filter_sk_params(Sequential.predict_classes, kwargs)
        if hasattr(self.model, "predict_classes"):
            classes = self.model.predict_classes(x, **kwargs)
        else:
            # a functional Model has no predict_classes: the same rule on its predictions
            proba = self.model.predict(x, **kwargs)
            classes = proba.argmax(axis=-1) if proba.shape[-1] > 1 else (proba > 0.5).astype("int32")
        classes = np.asarray(classes)
        if classes.ndim == 2 and classes.shape[1] == 1:
            classes = classes[:, 0]
        return self.classes_[classes]

    def predict_proba(self, x, **kwargs) -> np.ndarray:
        """predict_proba(x, **kwargs): class probabilities, shape (n_samples, n_classes); a
        single sigmoid output p gives the columns [1 - p, p]."""
        self._check_fitted("predict_proba")
        kwargs = self.filter_sk_params(Sequential.predict_proba, kwargs)
        probs = np.asarray(self.model.predict(x, **kwargs))
        if probs.ndim == 2 and probs.shape[1] == 1:
            probs = np.hstack([1 - probs, probs])
        return probs

    def score(self, x, y, **kwargs) -> float:
        """score(x, y, **kwargs): the mean accuracy on (x, y); ValueError when the model was not
        compiled with an accuracy metric."""
        self._check_fitted("score")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            labels = y
        else:
            labels = np.searchsorted(self.classes_, y)
        kwargs = self.filter_sk_params(Sequential.evaluate, kwargs)
        if _uses_categorical_crossentropy(getattr(self.model, "loss", None)) and labels.ndim != 2:
            labels = to_categorical(labels, num_classes=self.n_classes_)
        outputs = to_list(self.model.evaluate(x, labels, **kwargs))
        for name, output in zip(self.model.metrics_names, outputs):
            if name in ("accuracy", "acc"):
                return float(output)
        raise ValueError("The model is not configured to compute accuracy. You should pass "
                         "`metrics=[\"accuracy\"]` to the `model.compile()` method.")


class KerasRegressor(BaseWrapper):
    """KerasRegressor(build_fn=None, **sk_params): the scikit-learn regressor API for a
    keraslite model; `score` is minus the model's loss (greater is better, as scikit-learn wants)."""

    _estimator_type = "regressor"

    def predict(self, x, **kwargs) -> np.ndarray:
        """predict(x, **kwargs): the predictions; a last axis of size 1 is squeezed away."""
        self._check_fitted("predict")
        kwargs = self.filter_sk_params(Sequential.predict, kwargs)
        preds = np.asarray(self.model.predict(x, **kwargs))
        if preds.shape[-1] == 1:
            return np.squeeze(preds, axis=-1)
        return preds

    def score(self, x, y, **kwargs) -> float:
        """score(x, y, **kwargs): minus the loss on (x, y)."""
        self._check_fitted("score")
        kwargs = self.filter_sk_params(Sequential.evaluate, kwargs)
        loss = self.model.evaluate(x, y, **kwargs)
        if isinstance(loss, list):
            return -float(loss[0])
        return -float(loss)

"""Confusion-matrix metric objects of keraslite.metrics (TruePositives ... FalseNegatives,
Precision, Recall, AUC, MeanIoU); public through keraslite.metrics."""
from __future__ import annotations

import numpy as np

from . import backend as K
from ._metrics_base import _NEG_INF, Metric, _as_tensor, _broadcast_weights, _div_no_nan, _match_ranks, to_list_ops


# ---------------------------------------------------------------------------------------------
# confusion-matrix metrics

def _parse_thresholds(thresholds, default):
    if thresholds is None:
        return [float(default)]
    if isinstance(thresholds, (list, tuple)) and any(t is None for t in thresholds):
        raise ValueError(f"Threshold values must be in [0, 1]. Invalid values: {list(thresholds)}")
    values = [float(t) for t in to_list_ops(list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray))
                                            else thresholds)]
    for t in values:
        if default != _NEG_INF and not 0.0 <= t <= 1.0:
            raise ValueError(f"Threshold values must be in [0, 1]. Invalid values: {values}")
    return values


def _filter_top_k(x, k: int):
    """x with every entry outside the k largest of its last axis set to -1e10 (ties broken by the
    lower index, as tf.nn.top_k)."""
    n = K.int_shape(x)[-1]
    a = K.expand_dims(x, -2)   # [..., 1, j]
    b = K.expand_dims(x, -1)   # [..., i, 1]
    ahead = K.cast(K.greater(a, b), K.floatx())
    if n is not None:
        earlier = K.constant(np.tril(np.ones((n, n)), -1))   # [i, j] = j < i
        ahead = ahead + K.cast(K.equal(a, b), K.floatx()) * earlier
    rank = K.sum(ahead, axis=-1)
    keep = K.cast(K.less(rank, float(k)), K.dtype(x))
    return x * keep + _NEG_INF * (1.0 - keep)


def _confusion_counts(y_true, y_pred, thresholds, sample_weight, dtype, top_k=None, class_id=None):
    """(tp, fp, tn, fn) tensors of shape (len(thresholds),): the weighted counts of entries with
    y_pred > threshold against y_true."""
    y_pred = K.cast(_as_tensor(y_pred), dtype)
    y_true = K.cast(_match_ranks(_as_tensor(y_true), y_pred), dtype)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        y_true = y_true[..., class_id]
        y_pred = y_pred[..., class_id]
    w = _broadcast_weights(sample_weight, y_pred, dtype)
    preds = K.expand_dims(K.flatten(y_pred), -1)                        # (M, 1)
    labels = K.expand_dims(K.flatten(y_true), -1)
    thr = K.constant(np.asarray(thresholds, dtype=dtype).reshape(1, -1), dtype=dtype)
    pos = K.cast(K.greater(preds, thr), dtype)                          # (M, T)
    neg = 1.0 - pos
    is_true = K.cast(K.greater(labels, 0.5), dtype)
    is_false = 1.0 - is_true
    if w is not None:
        wf = K.expand_dims(K.flatten(w), -1)
        is_true = is_true * wf
        is_false = is_false * wf
    return {"tp": K.sum(is_true * pos, axis=0), "fp": K.sum(is_false * pos, axis=0),
            "tn": K.sum(is_false * neg, axis=0), "fn": K.sum(is_true * neg, axis=0)}


class _ConfusionMatrixConditionCount(Metric):
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self.accumulator = self.add_weight("accumulator", shape=(len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype)
        return [K.update_add(self.accumulator, counts[self._condition])]

    def result(self):
        return self.accumulator[0] if len(self.thresholds) == 1 else K.identity(self.accumulator)

    def get_config(self):
        config = {"thresholds": self.init_thresholds}
        config.update(super().get_config())
        return config


class TruePositives(_ConfusionMatrixConditionCount):
    """TruePositives(thresholds=None, name=None, dtype=None): the weighted count of positives
    predicted above each threshold (default 0.5; a scalar for one threshold)."""
    _condition = "tp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """TrueNegatives(thresholds=None, name=None, dtype=None)."""
    _condition = "tn"


class FalsePositives(_ConfusionMatrixConditionCount):
    """FalsePositives(thresholds=None, name=None, dtype=None)."""
    _condition = "fp"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """FalseNegatives(thresholds=None, name=None, dtype=None)."""
    _condition = "fn"


class _PrecisionRecall(Metric):
    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else _NEG_INF)
        n = len(self.thresholds)
        self.true_positives = self.add_weight("true_positives", shape=(n,))
        other = "false_positives" if self._other == "fp" else "false_negatives"
        setattr(self, other, self.add_weight(other, shape=(n,)))
        self._other_var = getattr(self, other)

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype, top_k=self.top_k,
                                   class_id=self.class_id)
        return [K.update_add(self.true_positives, counts["tp"]), K.update_add(self._other_var, counts[self._other])]

    def result(self):
        r = _div_no_nan(self.true_positives, self.true_positives + self._other_var)
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self):
        config = {"thresholds": self.init_thresholds, "top_k": self.top_k, "class_id": self.class_id}
        config.update(super().get_config())
        return config


class _SensitivitySpecificityBase(Metric):
    """The four confusion counts at num_thresholds evenly spaced thresholds in [0, 1] (0.5 alone
    for one); result() reads one rate where the other is closest to `value`."""
    _given = None  # the rate matched to `value`: 'specificity' or 'sensitivity'

    def __init__(self, value, num_thresholds=200, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"`{self._given}` must be in the range [0, 1], got {value}")
        if isinstance(num_thresholds, bool) or int(num_thresholds) != num_thresholds or num_thresholds <= 0:
            raise ValueError(f"`num_thresholds` must be an integer > 0, got {num_thresholds!r}")
        self.value = value
        self.num_thresholds = n = int(num_thresholds)
        self.thresholds = [0.5] if n == 1 else [0.0] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1.0]
        for v in ("true_positives", "true_negatives", "false_positives", "false_negatives"):
            setattr(self, v, self.add_weight(v, shape=(n,)))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype)
        return [K.update_add(self.true_positives, counts["tp"]), K.update_add(self.true_negatives, counts["tn"]),
                K.update_add(self.false_positives, counts["fp"]), K.update_add(self.false_negatives, counts["fn"])]

    def _rate_at_value(self, given_num, given_other, num, other):
        # the first threshold whose given rate is closest to value, then the other rate there
        index = K.argmin(K.abs(_div_no_nan(given_num, given_num + given_other) - self.value), axis=0)
        at_num, at_other = K.gather(num, index), K.gather(other, index)
        return _div_no_nan(at_num, at_num + at_other)

    def get_config(self):
        config = {"num_thresholds": self.num_thresholds, self._given: self.value}
        config.update(super().get_config())
        return config


class SensitivityAtSpecificity(_SensitivitySpecificityBase):
    """SensitivityAtSpecificity(specificity, num_thresholds=200, name=None, dtype=None): the
    sensitivity tp / (tp + fn) at the threshold whose specificity tn / (tn + fp) is closest to
    `specificity` (Keras 2.3)."""
    _given = "specificity"

    def __init__(self, specificity, num_thresholds=200, name=None, dtype=None):
        super().__init__(specificity, num_thresholds=num_thresholds, name=name, dtype=dtype)
        self.specificity = self.value

    def result(self):
        return self._rate_at_value(self.true_negatives, self.false_positives, self.true_positives,
                                   self.false_negatives)


class SpecificityAtSensitivity(_SensitivitySpecificityBase):
    """SpecificityAtSensitivity(sensitivity, num_thresholds=200, name=None, dtype=None): the
    specificity tn / (tn + fp) at the threshold whose sensitivity tp / (tp + fn) is closest to
    `sensitivity` (Keras 2.3)."""
    _given = "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds=num_thresholds, name=name, dtype=dtype)
        self.sensitivity = self.value

    def result(self):
        return self._rate_at_value(self.true_positives, self.false_negatives, self.true_negatives,
                                   self.false_positives)


class Precision(_PrecisionRecall):
    """Precision(thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
    tp / (tp + fp) at each threshold (default 0.5; with top_k, only the k largest predictions of
    each sample count as positive; class_id restricts to that class)."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """Recall(thresholds=None, top_k=None, class_id=None, name=None, dtype=None): tp / (tp + fn)."""
    _other = "fn"


class AUC(Metric):
    """AUC(num_thresholds=200, curve='ROC', summation_method='interpolation', name=None,
    dtype=None, thresholds=None): the area under the ROC or PR curve from confusion counts at
    num_thresholds thresholds (i/(n-1) for the inner ones, -eps and 1+eps at the ends).
    summation_method: 'interpolation' (trapezoids for ROC, Davis & Goadrich for PR),
    'minoring' or 'majoring' (Riemann sums of the lower or upper heights)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None):
        super().__init__(name=name, dtype=dtype)
        curve = str(curve).upper()
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid curve: "{curve}". Valid options are: "ROC", "PR"')
        summation_method = str(summation_method).lower()
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f'Invalid summation method: "{summation_method}". Valid options are '
                             '"interpolation", "minoring", "majoring"')
        self.curve = curve
        self.summation_method = summation_method
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("`num_thresholds` must be > 1.")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds = int(num_thresholds)
        self._inner_thresholds = inner if thresholds is not None else None
        eps = K.epsilon()
        self.thresholds = [0.0 - eps] + inner + [1.0 + eps]
        shape = (self.num_thresholds,)
        self.true_positives = self.add_weight("true_positives", shape=shape)
        self.true_negatives = self.add_weight("true_negatives", shape=shape)
        self.false_positives = self.add_weight("false_positives", shape=shape)
        self.false_negatives = self.add_weight("false_negatives", shape=shape)

    def update_state(self, y_true, y_pred, sample_weight=None):
        c = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.dtype)
        return [K.update_add(self.true_positives, c["tp"]), K.update_add(self.true_negatives, c["tn"]),
                K.update_add(self.false_positives, c["fp"]), K.update_add(self.false_negatives, c["fn"])]

    def _interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        slope = _div_no_nan(dtp, K.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        both = K.cast(K.greater(p[:n - 1], 0.0), self.dtype) * K.cast(K.greater(p[1:], 0.0), self.dtype)
        ratio = _div_no_nan(p[:n - 1], K.maximum(p[1:], 0.0))
        # log of the ratio where both are positive, log(1) = 0 elsewhere
        log_ratio = K.log(both * ratio + (1.0 - both))
        return K.sum(_div_no_nan(slope * (dtp + intercept * log_ratio), K.maximum(tp[1:] + fn[1:], 0.0)))

    def result(self):
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _div_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _div_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = K.minimum(y[:n - 1], y[1:])
        else:
            heights = K.maximum(y[:n - 1], y[1:])
        return K.sum((x[:n - 1] - x[1:]) * heights)

    def get_config(self):
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method}
        if self._inner_thresholds is not None:
            config["thresholds"] = list(self._inner_thresholds)
        config.update(super().get_config())
        return config


class MeanIoU(Metric):
    """MeanIoU(num_classes, name=None, dtype=None): the mean over classes of
    tp / (tp + fp + fn) from a running confusion matrix; y_true and y_pred hold class indices
    (cast to int); classes absent from both are left out of the mean."""

    def __init__(self, num_classes, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        self.total_cm = self.add_weight("total_confusion_matrix", shape=(self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _as_tensor(y_pred)
        y_true = _as_tensor(y_true)
        w = None
        if sample_weight is not None:
            w = K.flatten(K.cast(_as_tensor(sample_weight), self.dtype))
        t = K.one_hot(K.cast(K.flatten(y_true), "int32"), self.num_classes)
        p = K.one_hot(K.cast(K.flatten(y_pred), "int32"), self.num_classes)
        t = K.cast(t, self.dtype)
        p = K.cast(p, self.dtype)
        if w is not None:
            t = t * K.expand_dims(w, -1)
        cm = K.dot(K.transpose(t), p)      # [true class, predicted class]
        return [K.update_add(self.total_cm, cm)]

    def result(self):
        cm = self.total_cm
        pred_counts = K.sum(cm, axis=0)
        true_counts = K.sum(cm, axis=1)
        tp = K.sum(cm * K.constant(np.eye(self.num_classes), dtype=self.dtype), axis=1)
        denominator = pred_counts + true_counts - tp
        valid = K.sum(K.cast(K.not_equal(denominator, 0.0), self.dtype))
        return _div_no_nan(K.sum(_div_no_nan(tp, denominator)), valid)

    def get_config(self):
        config = {"num_classes": self.num_classes}
        config.update(super().get_config())
        return config

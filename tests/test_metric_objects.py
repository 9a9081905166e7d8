"""Stateful metric objects (Keras 2.3 keras.metrics.Metric): update_state/result/reset_states over
several batches against NumPy, sample weights, configs, and their use in Model.fit/evaluate."""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import metrics
from keraslite.callbacks import Callback
from keraslite.layers import Dense
from keraslite.models import Sequential
from keraslite.optimizers import SGD
from keraslite.utils import Sequence

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = 1e-7


def run(metric, y_true, y_pred, sample_weight=None):
    """Apply one update and return the result as NumPy."""
    K.batch_get_value(metric.update_state(y_true, y_pred, sample_weight=sample_weight))
    return K.eval(metric.result())


def batches(n, size):
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


def wmean(values, w=None):
    values = np.asarray(values, dtype="float64")
    if w is None:
        return values.mean()
    w = np.broadcast_to(np.asarray(w, dtype="float64").reshape(w.shape + (1,) * (values.ndim - w.ndim)),
                        values.shape)
    return (values * w).sum() / w.sum()


# ------------------------------------------------------------------ NumPy references
def _np_xent(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def _np_cce(t, p):
    p = p / p.sum(-1, keepdims=True)
    return -(t * np.log(np.clip(p, EPS, 1 - EPS))).sum(-1)


def _np_topk(t_idx, p, k):
    return np.array([(p[i] > p[i, t_idx[i]]).sum() < k for i in range(len(p))], dtype="float64")


def _data(kind, rng, n=23):
    if kind == "binary":
        return (rng.random((n, 3)) > 0.5).astype("float32"), rng.random((n, 3)).astype("float32")
    if kind == "onehot":
        p = rng.random((n, 5)).astype("float32") + 0.05
        return np.eye(5, dtype="float32")[rng.integers(5, size=n)], p / p.sum(-1, keepdims=True)
    if kind == "sparse":
        p = rng.random((n, 5)).astype("float32") + 0.05
        return rng.integers(5, size=(n, 1)).astype("float32"), p / p.sum(-1, keepdims=True)
    if kind == "positive":
        return (rng.random((n, 4)) + 0.5).astype("float32"), (rng.random((n, 4)) + 0.5).astype("float32")
    if kind == "pm1":
        return np.sign(rng.random((n, 4)) - 0.5).astype("float32"), rng.normal(size=(n, 4)).astype("float32")
    if kind == "exact":
        t = rng.integers(3, size=(n, 4)).astype("float32")
        p = t.copy()
        p[rng.random((n, 4)) < 0.4] = 7.0
        return t, p
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 4)).astype("float32")


WRAPPERS = [
    ("Accuracy", {}, "exact", "accuracy", lambda t, p: (t == p).astype("float64")),
    ("BinaryAccuracy", {}, "binary", "binary_accuracy", lambda t, p: (t == (p > 0.5)).mean(-1)),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary", "binary_accuracy", lambda t, p: (t == (p > 0.7)).mean(-1)),
    ("CategoricalAccuracy", {}, "onehot", "categorical_accuracy",
     lambda t, p: (t.argmax(-1) == p.argmax(-1)).astype("float64")),
    ("SparseCategoricalAccuracy", {}, "sparse", "sparse_categorical_accuracy",
     lambda t, p: (t[:, 0] == p.argmax(-1)).astype("float64")),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot", "top_k_categorical_accuracy",
     lambda t, p: _np_topk(t.argmax(-1), p, 2)),
    ("SparseTopKCategoricalAccuracy", {"k": 3}, "sparse", "sparse_top_k_categorical_accuracy",
     lambda t, p: _np_topk(t[:, 0].astype(int), p, 3)),
    ("MeanSquaredError", {}, "real", "mean_squared_error", lambda t, p: ((t - p) ** 2).mean(-1)),
    ("MeanAbsoluteError", {}, "real", "mean_absolute_error", lambda t, p: np.abs(t - p).mean(-1)),
    ("MeanAbsolutePercentageError", {}, "positive", "mean_absolute_percentage_error",
     lambda t, p: 100 * (np.abs(t - p) / np.abs(t)).mean(-1)),
    ("MeanSquaredLogarithmicError", {}, "positive", "mean_squared_logarithmic_error",
     lambda t, p: ((np.log1p(t) - np.log1p(p)) ** 2).mean(-1)),
    ("Hinge", {}, "pm1", "hinge", lambda t, p: np.maximum(1 - t * p, 0).mean(-1)),
    ("SquaredHinge", {}, "pm1", "squared_hinge", lambda t, p: (np.maximum(1 - t * p, 0) ** 2).mean(-1)),
    ("CategoricalHinge", {}, "onehot", "categorical_hinge",
     lambda t, p: np.maximum(0, ((1 - t) * p).max(-1) - (t * p).sum(-1) + 1)),
    ("LogCoshError", {}, "real", "logcosh", lambda t, p: np.log(np.cosh(p - t)).mean(-1)),
    ("Poisson", {}, "positive", "poisson", lambda t, p: (p - t * np.log(p + EPS)).mean(-1)),
    ("KLDivergence", {}, "onehot", "kullback_leibler_divergence",
     lambda t, p: (np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / np.clip(p, EPS, 1))).sum(-1)),
    ("CosineSimilarity", {}, "real", "cosine_similarity",
     lambda t, p: (t * p).sum(-1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)),
    ("BinaryCrossentropy", {}, "binary", "binary_crossentropy", _np_xent),
    ("CategoricalCrossentropy", {}, "onehot", "categorical_crossentropy", _np_cce),
    ("SparseCategoricalCrossentropy", {}, "sparse", "sparse_categorical_crossentropy",
     lambda t, p: _np_cce(np.eye(5)[t[:, 0].astype(int)], p)),
]


@pytest.mark.parametrize("cls_name,kwargs,kind,name,ref", WRAPPERS, ids=[w[0] + str(w[1]) for w in WRAPPERS])
def test_mean_wrappers_accumulate_weight_and_reset(cls_name, kwargs, kind, name, ref, rng):
    t, p = _data(kind, rng)
    m = getattr(metrics, cls_name)(**kwargs)
    assert m.name == name
    per = ref(t.astype("float64"), p.astype("float64"))
    for s in batches(len(t), 8):  # running value after each batch: the mean over all samples so far
        got = run(m, t[s], p[s])
        np.testing.assert_allclose(got, wmean(per[:s.stop]), rtol=2e-4, atol=2e-5)
    m.reset_states()
    assert float(K.eval(m.result())) == 0.0
    w = rng.random(len(t)).astype("float32")
    for s in batches(len(t), 10):
        got = run(m, t[s], p[s], sample_weight=w[s])
    np.testing.assert_allclose(got, wmean(per, w), rtol=2e-4, atol=2e-5)
    clone = type(m).from_config(m.get_config())
    assert clone.get_config() == m.get_config() and clone.name == name
    assert float(K.eval(clone.result())) == 0.0  # a fresh state


def test_mean_and_sum_weights(rng):
    v = rng.normal(size=(12, 3)).astype("float32")
    w = rng.random(12).astype("float32")
    mean, total = metrics.Mean(), metrics.Sum()
    for s in batches(12, 5):
        K.batch_get_value(mean.update_state(v[s], sample_weight=w[s]) + total.update_state(v[s], sample_weight=w[s]))
    np.testing.assert_allclose(K.eval(mean.result()), wmean(v, w), rtol=1e-5)
    np.testing.assert_allclose(K.eval(total.result()), (v * w[:, None]).sum(), rtol=1e-5)
    assert len(mean.weights) == 2 and len(total.weights) == 1
    mean.reset_states()
    np.testing.assert_allclose(K.eval(mean(np.array([1.0, 2.0, 6.0]))), 3.0)  # calling applies the update
    np.testing.assert_allclose(K.eval(mean(np.array([[0.0], [4.0]]), np.array([[3.0], [1.0]]))), 13 / 7)
    assert (mean.name, total.name) == ("mean", "sum")


def test_mean_metric_wrapper_custom_fn_and_config(rng):
    def my_abs(y_true, y_pred, scale=1.0):
        return K.mean(K.abs(y_true - y_pred), axis=-1) * scale

    m = metrics.MeanMetricWrapper(my_abs, name="scaled", scale=3.0)
    t, p = rng.normal(size=(9, 2)).astype("float32"), rng.normal(size=(9, 2)).astype("float32")
    np.testing.assert_allclose(run(m, t, p), 3 * np.abs(t - p).mean(), rtol=1e-5)
    assert m.get_config()["scale"] == 3.0 and m.get_config()["name"] == "scaled"
    cfg = metrics.MeanMetricWrapper(metrics.mean_squared_error, name="mse2").get_config()
    back = metrics.MeanMetricWrapper.from_config(cfg)
    np.testing.assert_allclose(run(back, t, p), ((t - p) ** 2).mean(), rtol=1e-5)


# ------------------------------------------------------------------ confusion-matrix metrics
def np_counts(t, p, thresholds, w=None):
    t = t.reshape(len(t), -1).astype(bool)
    p = p.reshape(len(p), -1)
    w = np.ones(t.shape) if w is None else np.broadcast_to(w.reshape(len(w), -1), t.shape)
    out = {k: [] for k in ("tp", "fp", "tn", "fn")}
    for thr in thresholds:
        pos = p > thr
        out["tp"].append((w * (t & pos)).sum())
        out["fp"].append((w * (~t & pos)).sum())
        out["tn"].append((w * (~t & ~pos)).sum())
        out["fn"].append((w * (t & ~pos)).sum())
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("cls_name,key", [("TruePositives", "tp"), ("FalsePositives", "fp"),
                                          ("TrueNegatives", "tn"), ("FalseNegatives", "fn")])
def test_confusion_counts(cls_name, key, rng):
    t = (rng.random((30, 2)) > 0.4).astype("float32")
    p = rng.random((30, 2)).astype("float32")
    w = rng.random(30).astype("float32")
    single = getattr(metrics, cls_name)()
    multi = getattr(metrics, cls_name)(thresholds=[0.2, 0.5, 0.9])
    for s in batches(30, 7):
        got1 = run(single, t[s], p[s], w[s])
        got3 = run(multi, t[s], p[s], w[s])
    assert np.ndim(got1) == 0 and np.shape(got3) == (3,)
    np.testing.assert_allclose(got1, np_counts(t, p, [0.5], w)[key][0], rtol=1e-5)
    np.testing.assert_allclose(got3, np_counts(t, p, [0.2, 0.5, 0.9], w)[key], rtol=1e-5)
    multi.reset_states()
    np.testing.assert_array_equal(K.eval(multi.result()), np.zeros(3))
    assert multi.get_config()["thresholds"] == [0.2, 0.5, 0.9]


def test_precision_recall_thresholds_weights(rng):
    t = (rng.random((40, 1)) > 0.5).astype("float32")
    p = rng.random((40, 1)).astype("float32")
    w = rng.random((40, 1)).astype("float32")
    prec, rec = metrics.Precision(), metrics.Recall(thresholds=[0.3, 0.7])
    assert (prec.name, rec.name) == ("precision", "recall")
    for s in batches(40, 9):
        gp = run(prec, t[s], p[s], w[s])
        gr = run(rec, t[s], p[s], w[s])
    c = np_counts(t, p, [0.5], w[:, 0])
    np.testing.assert_allclose(gp, c["tp"][0] / (c["tp"][0] + c["fp"][0]), rtol=1e-5)
    c = np_counts(t, p, [0.3, 0.7], w[:, 0])
    np.testing.assert_allclose(gr, c["tp"] / (c["tp"] + c["fn"]), rtol=1e-5)
    # nothing predicted positive: 0, not NaN
    empty = metrics.Precision()
    assert float(run(empty, np.ones((3, 1)), np.zeros((3, 1)))) == 0.0


def test_precision_recall_top_k_and_class_id(rng):
    t = (rng.random((25, 6)) > 0.6).astype("float32")
    p = rng.random((25, 6)).astype("float32")
    top = np.zeros_like(p, dtype=bool)
    top[np.arange(25)[:, None], np.argsort(-p, axis=1)[:, :2]] = True
    tb = t.astype(bool)
    m = metrics.Precision(top_k=2)
    r = metrics.Recall(top_k=2)
    for s in batches(25, 10):
        gp, gr = run(m, t[s], p[s]), run(r, t[s], p[s])
    np.testing.assert_allclose(gp, (tb & top).sum() / top.sum(), rtol=1e-5)
    np.testing.assert_allclose(gr, (tb & top).sum() / tb.sum(), rtol=1e-5)
    c = metrics.Precision(class_id=3)
    cr = metrics.Recall(class_id=3, thresholds=0.4)
    for s in batches(25, 10):
        gc, gcr = run(c, t[s], p[s]), run(cr, t[s], p[s])
    pos = p[:, 3] > 0.5
    np.testing.assert_allclose(gc, (tb[:, 3] & pos).sum() / pos.sum(), rtol=1e-5)
    np.testing.assert_allclose(gcr, (tb[:, 3] & (p[:, 3] > 0.4)).sum() / tb[:, 3].sum(), rtol=1e-5)
    cfg = metrics.Precision(top_k=2, class_id=1, thresholds=[0.5, 0.6]).get_config()
    assert (cfg["top_k"], cfg["class_id"], cfg["thresholds"]) == (2, 1, [0.5, 0.6])
    assert metrics.Precision.from_config(cfg).get_config() == cfg


def np_auc(t, p, num_thresholds, curve, method, w=None):
    thr = [0 - EPS] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + EPS]
    c = np_counts(t, p, thr, w)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]

    def div(a, b):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1, b))

    if curve == "PR" and method == "interpolation":  # Davis & Goadrich: precision interpolated in tp
        dtp = tp[:-1] - tp[1:]
        pp = tp + fp
        dp = pp[:-1] - pp[1:]
        slope = div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * pp[1:]
        ok = (pp[:-1] > 0) & (pp[1:] > 0)
        ratio = np.where(ok, div(pp[:-1], np.maximum(pp[1:], 0)), 1.0)
        return div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)).sum()
    rec = div(tp, tp + fn)
    x, y = (div(fp, fp + tn), rec) if curve == "ROC" else (rec, div(tp, tp + fp))
    heights = {"interpolation": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
               "majoring": np.maximum(y[:-1], y[1:])}[method]
    return ((x[:-1] - x[1:]) * heights).sum()


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("method", ["interpolation", "minoring", "majoring"])
def test_auc_against_numpy(curve, method, rng):
    t = (rng.random((60, 1)) > 0.5).astype("float32")
    p = np.clip(0.6 * t + 0.7 * rng.random((60, 1)) - 0.15, 0, 1).astype("float32")
    w = rng.random(60).astype("float32")
    m = metrics.AUC(num_thresholds=50, curve=curve, summation_method=method)
    for s in batches(60, 16):
        got = run(m, t[s], p[s])
        np.testing.assert_allclose(got, np_auc(t[:s.stop], p[:s.stop], 50, curve, method), rtol=1e-4, atol=1e-6)
    m.reset_states()
    assert float(K.eval(m.result())) == 0.0
    for s in batches(60, 25):
        got = run(m, t[s], p[s], w[s])
    np.testing.assert_allclose(got, np_auc(t, p, 50, curve, method, w), rtol=1e-4, atol=1e-6)
    cfg = m.get_config()
    assert (cfg["num_thresholds"], cfg["curve"], cfg["summation_method"]) == (50, curve, method)
    assert metrics.AUC.from_config(cfg).get_config() == cfg


def test_auc_default_approximates_rank_auc(rng):
    t = (rng.random(200) > 0.5).astype("float32")
    p = np.clip(0.3 * t + 0.7 * rng.random(200), 0, 1).astype("float32")
    m = metrics.AUC()
    assert m.name == "auc" and m.num_thresholds == 200
    got = run(m, t, p)
    pos, neg = p[t == 1], p[t == 0]
    exact = ((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    assert abs(got - exact) < 0.01
    with pytest.raises(ValueError):
        metrics.AUC(curve="XY")


def test_mean_iou(rng):
    t = rng.integers(4, size=(30,)).astype("float32")
    p = np.where(rng.random(30) < 0.6, t, rng.integers(4, size=30)).astype("float32")
    p[p == 3] = 2  # class 3 never predicted
    w = rng.random(30).astype("float32")
    m = metrics.MeanIoU(num_classes=5)  # class 4 absent: left out of the mean
    for s in batches(30, 8):
        got = run(m, t[s], p[s], w[s])
    cm = np.zeros((5, 5))
    np.add.at(cm, (t.astype(int), p.astype(int)), w)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    np.testing.assert_allclose(got, (inter[union > 0] / union[union > 0]).mean(), rtol=1e-5)
    assert m.get_config()["num_classes"] == 5 and m.name == "mean_io_u"


def test_serialize_deserialize_and_function_metrics_unchanged():
    for m in [metrics.AUC(curve="PR", name="pr"), metrics.BinaryAccuracy(threshold=0.3), metrics.Recall(),
              metrics.MeanIoU(3), metrics.MeanSquaredError()]:
        back = metrics.deserialize(metrics.serialize(m))
        assert type(back) is type(m) and back.get_config() == m.get_config()
    assert metrics.get("binary_accuracy") is metrics.binary_accuracy
    assert metrics.get("mse") is metrics.mse
    assert metrics.resolve_metric("acc", (None, 1))[1] is metrics.binary_accuracy


# ------------------------------------------------------------------ through the engine
def frozen_model(seed=0):
    np.random.seed(seed)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    return model


def binary_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = ((x @ np.array([1.0, -1.0, 0.5]) + 0.7 * rng.normal(size=n)) > 0).astype("float32")[:, None]
    return x, y


def np_prec_rec(y, p):
    pos = p > 0.5
    tb = y.astype(bool)
    return (tb & pos).sum() / pos.sum(), (tb & pos).sum() / tb.sum()


class BatchRecorder(Callback):
    def on_train_begin(self, logs=None):
        self.batches = []

    def on_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))


def test_fit_history_and_evaluate_match_numpy():
    x, y = binary_data(50, 1)
    vx, vy = binary_data(21, 2)
    model = frozen_model()
    model.compile(SGD(lr=0.0), "binary_crossentropy",
                  metrics=[metrics.AUC(num_thresholds=40), metrics.Precision(), "accuracy", metrics.Recall(name="rec")])
    assert model.metrics_names == ["loss", "auc", "precision", "accuracy", "rec"]
    rec = BatchRecorder()
    hist = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(vx, vy),
                     callbacks=[rec])
    assert set(hist.history) == {"loss", "auc", "precision", "accuracy", "rec", "val_loss", "val_auc",
                                 "val_precision", "val_accuracy", "val_rec"}
    p, vp = model.predict(x), model.predict(vx)
    prec, recall = np_prec_rec(y, p)
    vprec, vrecall = np_prec_rec(vy, vp)
    for e in range(2):  # states reset every epoch: each epoch reports the same whole-epoch value
        np.testing.assert_allclose(hist.history["auc"][e], np_auc(y, p, 40, "ROC", "interpolation"), rtol=1e-4)
        np.testing.assert_allclose(hist.history["precision"][e], prec, rtol=1e-5)
        np.testing.assert_allclose(hist.history["rec"][e], recall, rtol=1e-5)
        np.testing.assert_allclose(hist.history["accuracy"][e], ((p > 0.5) == y).mean(), rtol=1e-5)
        np.testing.assert_allclose(hist.history["val_auc"][e], np_auc(vy, vp, 40, "ROC", "interpolation"),
                                   rtol=1e-4)
        np.testing.assert_allclose(hist.history["val_precision"][e], vprec, rtol=1e-5)
        np.testing.assert_allclose(hist.history["val_rec"][e], vrecall, rtol=1e-5)
    # the value after each batch is the running value over the epoch so far
    np.testing.assert_allclose(rec.batches[1]["precision"], np_prec_rec(y[:32], p[:32])[0], rtol=1e-5)
    np.testing.assert_allclose(rec.batches[4]["precision"], np_prec_rec(y[:16], p[:16])[0], rtol=1e-5)
    # evaluate: reset first, final value over all samples (batch size 8 leaves a last batch of 5)
    out = model.evaluate(vx, vy, batch_size=8, verbose=0)
    np.testing.assert_allclose(out[1], np_auc(vy, vp, 40, "ROC", "interpolation"), rtol=1e-4)
    np.testing.assert_allclose(out[2], vprec, rtol=1e-5)
    np.testing.assert_allclose(out[4], vrecall, rtol=1e-5)
    out2 = model.evaluate(vx, vy, batch_size=5, verbose=0)  # a second evaluate starts from zero
    np.testing.assert_allclose(out2[1:], out[1:], rtol=1e-5)


def test_mean_metric_objects_in_fit_and_weighted_metrics():
    x, y = binary_data(37, 3)
    w = np.random.default_rng(4).random(37).astype("float32")
    model = frozen_model(1)
    model.compile(SGD(lr=0.0), "binary_crossentropy", metrics=[metrics.BinaryAccuracy(), metrics.MeanSquaredError()],
                  weighted_metrics=[metrics.MeanSquaredError(name="wmse")])
    assert model.metrics_names == ["loss", "binary_accuracy", "mean_squared_error", "weighted_wmse"]
    hist = model.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=2, sample_weight=w)
    p = model.predict(x)
    np.testing.assert_allclose(hist.history["binary_accuracy"][0], ((p > 0.5) == y).mean(), rtol=1e-5)
    np.testing.assert_allclose(hist.history["mean_squared_error"][0], ((p - y) ** 2).mean(), rtol=1e-4)
    np.testing.assert_allclose(hist.history["weighted_wmse"][0], wmean(((p - y) ** 2)[:, 0], w), rtol=1e-4)
    out = model.evaluate(x, y, batch_size=16, verbose=0, sample_weight=w)
    np.testing.assert_allclose(out[3], wmean(((p - y) ** 2)[:, 0], w), rtol=1e-4)
    np.testing.assert_allclose(out[2], ((p - y) ** 2).mean(), rtol=1e-4)


class Batches(Sequence):
    def __init__(self, x, y, size):
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return (len(self.x) + self.size - 1) // self.size

    def __getitem__(self, i):
        s = slice(i * self.size, (i + 1) * self.size)
        return self.x[s], self.y[s]


def test_generators_and_on_batch():
    x, y = binary_data(30, 5)
    model = frozen_model(2)
    model.compile(SGD(lr=0.0), "binary_crossentropy", metrics=[metrics.Precision(), metrics.AUC(num_thresholds=30)])
    p = model.predict(x)
    hist = model.fit_generator(Batches(x, y, 8), epochs=2, verbose=0, validation_data=Batches(x, y, 7))
    for key in ("precision", "val_precision"):
        np.testing.assert_allclose(hist.history[key], [np_prec_rec(y, p)[0]] * 2, rtol=1e-5)
    np.testing.assert_allclose(hist.history["auc"][1], np_auc(y, p, 30, "ROC", "interpolation"), rtol=1e-4)
    out = model.evaluate_generator(Batches(x, y, 9))
    np.testing.assert_allclose(out[1], np_prec_rec(y, p)[0], rtol=1e-5)
    # *_on_batch: the states so far plus the batch, reset afterwards (as Keras 2.3), or
    # accumulating with reset_metrics=False. evaluate_generator leaves its final states.
    model.reset_metrics()
    one = model.test_on_batch(x[:10], y[:10])
    np.testing.assert_allclose(one[1], np_prec_rec(y[:10], p[:10])[0], rtol=1e-5)
    two = model.test_on_batch(x[:10], y[:10])
    np.testing.assert_allclose(two[1:], one[1:], rtol=1e-6)
    model.train_on_batch(x[:10], y[:10], reset_metrics=False)
    acc = model.train_on_batch(x[10:], y[10:], reset_metrics=False)
    np.testing.assert_allclose(acc[1], np_prec_rec(y, p)[0], rtol=1e-5)
    model.reset_metrics()
    assert float(K.eval(model.stateful_metric_functions[0].result())) == 0.0


def test_save_and_load_with_metric_objects(tmp_path):
    pytest.importorskip("h5py")
    from keraslite.models import load_model
    x, y = binary_data(20, 6)
    model = frozen_model(3)
    model.compile(SGD(lr=0.0), "binary_crossentropy", metrics=[metrics.AUC(num_thresholds=25, name="roc"), "acc"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=1)
    path = str(tmp_path / "m.h5")
    model.save(path)
    loaded = load_model(path)
    assert loaded.metrics_names == ["loss", "roc", "acc"]
    np.testing.assert_allclose(loaded.evaluate(x, y, batch_size=6, verbose=0), model.evaluate(x, y, verbose=0),
                               rtol=1e-5)

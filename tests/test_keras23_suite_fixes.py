"""Behaviours found by running Keras 2.3.1's own test-suite against keraslite, each checked here
against Keras 2.3's documented behaviour or a NumPy formula written in the test."""
import numpy as np

from keraslite import metrics
from keraslite.layers import Dense, Input
from keraslite.models import Model


def _two_output_model():
    a, b = Input(shape=(1,), name="in_a"), Input(shape=(1,), name="in_b")
    shared = Dense(3, kernel_initializer="ones", trainable=False)
    out_1 = Dense(1, kernel_initializer="ones", name="out_1", trainable=False)(shared(a))
    out_2 = Dense(1, kernel_initializer="ones", name="out_2", trainable=False)(shared(b))
    return Model([a, b], [out_1, out_2])


def test_multi_output_metric_order_is_output_by_output():
    # Keras 2 lists, for each output in turn, its metrics and then its weighted metrics
    model = _two_output_model()
    model.compile("sgd", "mse", metrics=["mae", metrics.MeanSquaredError(name="m")],
                  weighted_metrics=["mse"])
    assert model.metrics_names == [
        "loss", "out_1_loss", "out_2_loss",
        "out_1_mae", "out_1_m", "out_1_weighted_mse",
        "out_2_mae", "out_2_m", "out_2_weighted_mse"]

    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    y1, y2 = 2 * x, x
    w1, w2 = np.array([2.0, 3.0, 4.0, 5.0]), np.array([3.5, 2.5, 1.5, 0.5])
    out = model.evaluate([x, x], [y1, y2], batch_size=2, verbose=0, sample_weight=[w1, w2])
    pred = 3 * x  # Dense(3, ones) then Dense(1, ones): 3 x
    e1, e2 = ((pred - y1) ** 2)[:, 0], ((pred - y2) ** 2)[:, 0]
    # losses: per batch sum(w * e) / batch size, averaged over the two batches; weighted metrics:
    # sum(w * e) / sum(w) over all samples (Keras 2.3)
    loss_1, loss_2 = np.mean(e1 * w1), np.mean(e2 * w2)
    want = [loss_1 + loss_2, loss_1, loss_2,
            np.abs(pred - y1).mean(), e1.mean(), np.sum(e1 * w1) / np.sum(w1),
            np.abs(pred - y2).mean(), e2.mean(), np.sum(e2 * w2) / np.sum(w2)]
    np.testing.assert_allclose(out, want, rtol=1e-5)


def test_per_output_metric_dict_order_follows_outputs():
    model = _two_output_model()
    model.compile("sgd", ["mse", "mae"], metrics={"out_2": ["mse"], "out_1": ["mae"]},
                  weighted_metrics={"out_2": ["mae"]})
    assert model.metrics_names == ["loss", "out_1_loss", "out_2_loss", "out_1_mae",
                                   "out_2_mse", "out_2_weighted_mae"]

"""compile/fit/evaluate/predict: values against NumPy, History names, weights, errors, generators."""
import numpy as np
import pytest

import keraslite as keras
from keraslite import backend as K
from keraslite.callbacks import Callback
from keraslite.layers import BatchNormalization, Dense, Dropout, Input
from keraslite.models import Model, Sequential
from keraslite.optimizers import SGD
from keraslite.utils import Sequence, to_categorical

pytestmark = pytest.mark.usefixtures("kbackend")


def blobs(n=300, classes=3, dim=4, seed=0, spread=0.6):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(classes, dim))
    labels = rng.integers(classes, size=n)
    x = centers[labels] + rng.normal(scale=spread, size=(n, dim))
    return x.astype("float32"), labels


def test_fit_converges_and_history_names():
    np.random.seed(0)  # initial weights and shuffling
    x, labels = blobs()
    y = to_categorical(labels, 3)
    model = Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=30, batch_size=32, verbose=0, validation_split=0.2)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert hist.epoch == list(range(30))
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.93  # the blobs overlap a little: 0.97-1.0 over seeds
    assert model.metrics_names == ["loss", "accuracy"]
    assert model.history is hist
    assert hist.params["samples"] == 240 and hist.params["epochs"] == 30


def test_acc_name_and_custom_metric():
    x, labels = blobs(n=64, classes=2)
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(4,))])

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc", mean_pred])
    hist = model.fit(x, labels.astype("float32"), epochs=2, verbose=0)
    assert set(hist.history) == {"loss", "acc", "mean_pred"}
    loss, acc, mp = model.evaluate(x, labels, verbose=0)
    p = model.predict(x)[:, 0].astype(np.float64)
    assert mp == pytest.approx(p.mean(), rel=1e-4)
    assert acc == pytest.approx(np.mean((p > 0.5) == labels), abs=1e-6)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    want = -np.mean(labels * np.log(pc) + (1 - labels) * np.log(1 - pc))
    assert loss == pytest.approx(want, rel=1e-4)


def test_mse_with_accuracy_on_one_unit_is_binary_accuracy():
    x = np.array([[0.0], [1.0], [2.0], [3.0]], "float32")
    y = np.array([[0.0], [1.0], [1.0], [0.0]], "float32")
    model = Sequential([Dense(1, input_shape=(1,), kernel_initializer="ones", bias_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=0)
    p = x  # kernel 1, bias 0
    assert loss == pytest.approx(np.mean((p - y) ** 2))
    assert acc == pytest.approx(np.mean(np.round(p) == y))


def test_train_on_batch_is_one_sgd_step():
    K.set_floatx("float64")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=(8, 2))
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile(optimizer=SGD(lr=0.1), loss="mse")
    w, b = model.get_weights()
    loss = model.train_on_batch(x, y)
    p = x @ w + b
    assert loss == pytest.approx(np.mean((p - y) ** 2))
    g = 2 * (p - y) / p.size
    w2, b2 = model.get_weights()
    np.testing.assert_allclose(w2, w - 0.1 * x.T @ g, rtol=1e-10)
    np.testing.assert_allclose(b2, b - 0.1 * g.sum(0), rtol=1e-10)
    assert model.test_on_batch(x, y) == pytest.approx(np.mean((x @ w2 + b2 - y) ** 2))
    np.testing.assert_allclose(model.predict_on_batch(x), x @ w2 + b2, rtol=1e-10)


def test_sample_and_class_weights_scale_losses():
    K.set_floatx("float64")
    x = np.arange(6, dtype="float64").reshape(6, 1)
    y = np.zeros((6, 1))
    model = Sequential([Dense(1, input_shape=(1,), kernel_initializer="ones")])
    model.compile(optimizer="sgd", loss="mae")
    sw = np.array([1, 0, 2, 0, 1, 1], "float64")
    got = model.evaluate(x, y, sample_weight=sw, batch_size=6, verbose=0)
    assert got == pytest.approx(np.mean(sw * np.abs(x[:, 0])))
    # class weights: the class of each sample is its label
    labels = np.array([[0], [1], [1], [0], [1], [0]], "float64")
    model.compile(optimizer=SGD(lr=0.0), loss="mae")
    hist = model.fit(x, labels, class_weight={0: 2.0, 1: 0.5}, batch_size=6, epochs=1, verbose=0, shuffle=False)
    cw = np.where(labels[:, 0] == 0, 2.0, 0.5)
    assert hist.history["loss"][0] == pytest.approx(np.mean(cw * np.abs(x[:, 0] - labels[:, 0])))
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(x, labels, class_weight={0: 1.0}, verbose=0)


def test_validation_split_uses_the_last_samples():
    K.set_floatx("float64")
    x = np.arange(10, dtype="float64").reshape(10, 1)
    y = np.zeros((10, 1))
    model = Sequential([Dense(1, input_shape=(1,), kernel_initializer="ones")])
    model.compile(optimizer=SGD(lr=0.0), loss="mae")
    hist = model.fit(x, y, validation_split=0.3, epochs=1, verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(np.mean([7, 8, 9]))
    assert hist.history["loss"][0] == pytest.approx(np.mean(np.arange(7)))
    hist = model.fit(x, y, validation_data=(x[:2], y[:2]), epochs=1, verbose=0)
    assert hist.history["val_loss"][0] == pytest.approx(0.5)


def test_epochs_and_initial_epoch():
    x, labels = blobs(n=20)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, labels, epochs=5, initial_epoch=2, verbose=0)
    assert hist.epoch == [2, 3, 4]
    assert len(hist.history["loss"]) == 3


def test_multi_io_with_dicts_and_metric_names():
    a, b = Input((3,), name="a"), Input((2,), name="b")
    h = Dense(4, activation="relu")(keras.layers.concatenate([a, b]))
    out1 = Dense(1, activation="sigmoid", name="out1")(h)
    out2 = Dense(2, name="out2")(h)
    model = Model([a, b], [out1, out2])
    model.compile("adam", loss={"out1": "binary_crossentropy", "out2": "mse"}, loss_weights={"out1": 1.0, "out2": 0.5},
                  metrics={"out1": ["accuracy"]})
    assert model.metrics_names == ["loss", "out1_loss", "out2_loss", "out1_accuracy"]
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    y1, y2 = (rng.random((16, 1)) > 0.5).astype("float32"), rng.normal(size=(16, 2))
    hist = model.fit({"a": xa, "b": xb}, {"out1": y1, "out2": y2}, epochs=1, verbose=0)
    assert set(hist.history) == {"loss", "out1_loss", "out2_loss", "out1_accuracy"}
    loss, l1, l2, acc = model.evaluate([xa, xb], [y1, y2], verbose=0, batch_size=16)
    assert loss == pytest.approx(l1 + 0.5 * l2, rel=1e-5)
    p1, p2 = model.predict({"a": xa, "b": xb})
    assert l2 == pytest.approx(np.mean((p2 - y2) ** 2), rel=1e-4)
    with pytest.raises(ValueError, match="Unknown entry in loss dictionary"):
        model.compile("adam", loss={"nope": "mse"})


def test_batchnorm_moving_stats_follow_fit_not_predict():
    x = np.random.default_rng(0).normal(loc=5.0, scale=2.0, size=(64, 3)).astype("float32")
    inp = Input((3,))
    bn = BatchNormalization(momentum=0.5)
    model = Model(inp, Dense(1)(bn(inp)))
    model.compile("sgd", "mse")
    before = bn.get_weights()
    model.predict(x)
    for w, v in zip(bn.get_weights(), before):
        np.testing.assert_array_equal(w, v)
    model.fit(x, np.zeros((64, 1)), batch_size=64, epochs=1, verbose=0, shuffle=False)
    mean, var = bn.get_weights()[2:]
    np.testing.assert_allclose(mean, 0.5 * 0 + 0.5 * x.mean(0), rtol=1e-4)
    n = x.shape[0]
    np.testing.assert_allclose(var, 0.5 * 1 + 0.5 * x.var(0) * n / (n - 1 - 1e-3), rtol=1e-3)


def test_dropout_only_in_training():
    inp = Input((50,))
    model = Model(inp, Dropout(0.5)(inp))
    x = np.ones((4, 50), "float32")
    np.testing.assert_array_equal(model.predict(x), x)
    model.compile("sgd", "mse")
    model.fit(x, x, epochs=1, verbose=0)


def test_bad_input_errors_before_training_and_weights_unchanged():
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("sgd", "categorical_crossentropy")
    before = model.get_weights()
    x = np.ones((10, 4), "float32")
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, np.ones((9, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"expected dense_\d+_input to have shape \(4,\)"):
        model.fit(np.ones((10, 5)), np.ones((10, 3)), verbose=0)
    with pytest.raises(ValueError, match="to_categorical"):
        model.fit(x, np.ones((10, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"expected dense_\d+ to have shape \(3,\)"):
        model.fit(x, np.ones((10, 4)), verbose=0)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, np.ones((10, 3)), verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        model.fit(x, np.ones((10, 3)), verbose=0, bogus=1)
    with pytest.raises(RuntimeError, match="compile"):
        Sequential([Dense(1, input_shape=(2,))]).fit(np.ones((2, 2)), np.ones((2, 1)))


def test_exception_in_fit_keeps_last_completed_step():
    K.set_floatx("float64")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))

    def make():
        m = Sequential([Dense(1, input_shape=(3,), kernel_initializer="ones")])
        m.compile(SGD(lr=0.05), "mse")
        return m

    class Boom(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                raise KeyboardInterrupt

    model = make()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=10, shuffle=False, callbacks=[Boom()], verbose=0)
    ref = make()
    ref.train_on_batch(x[:10], y[:10])
    ref.train_on_batch(x[10:20], y[10:20])
    for w, r in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(w, r, rtol=1e-12)


def test_generators_and_sequence():
    x, labels = blobs(n=60)
    y = to_categorical(labels, 3)

    class Batches(Sequence):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit_generator(Batches(), epochs=2, verbose=0, validation_data=Batches())
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}

    def gen():
        while True:
            for i in range(6):
                yield x[i * 10:(i + 1) * 10], y[i * 10:(i + 1) * 10]

    loss, acc = model.evaluate_generator(gen(), steps=6)
    want_loss, want_acc = model.evaluate(x, y, batch_size=10, verbose=0)
    assert loss == pytest.approx(want_loss, rel=1e-5) and acc == pytest.approx(want_acc)
    np.testing.assert_allclose(model.predict_generator(Batches()), model.predict(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        model.fit_generator(gen(), epochs=1, verbose=0)


def test_lazy_sequential_compiles_before_build():
    model = Sequential()
    model.add(Dense(2, activation="softmax"))
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    x, labels = blobs(n=20, classes=2)
    hist = model.fit(x, to_categorical(labels, 2), epochs=1, verbose=0)
    assert "accuracy" in hist.history and model.input_shape == (None, 4)


def test_progress_bar_output(capsys):
    x, labels = blobs(n=40)
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=2, batch_size=10, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "40/40 [==============================]" in out and "loss:" in out and "accuracy:" in out
    model.fit(x, labels, epochs=1, batch_size=10, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and " - loss:" in out and "[====" not in out


def test_output_masks_weight_losses_and_metrics():
    from keraslite.layers import LSTM, Embedding
    np.random.seed(0)
    inp = Input((6,))
    h = LSTM(5, return_sequences=True)(Embedding(20, 4, mask_zero=True)(inp))
    model = Model(inp, Dense(3, activation="softmax")(h))
    model.compile("adam", "categorical_crossentropy", metrics=["acc"])
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(8, 6))
    x[:, 4:] = 0
    x[0, 2:] = 0
    y = np.eye(3, dtype="float32")[rng.integers(3, size=(8, 6))]
    loss, acc = model.evaluate(x, y, verbose=0)
    p = model.predict(x).astype(np.float64)
    mask = x != 0
    ce = -(y * np.log(np.clip(p, 1e-7, 1 - 1e-7))).sum(-1)
    assert loss == pytest.approx((ce * mask).mean(), rel=1e-4)  # Keras 2.3: the mask is a sample weight
    hits = (p.argmax(-1) == y.argmax(-1)) * mask
    assert acc == pytest.approx(hits.sum() / mask.sum(), rel=1e-6)  # metrics: a masked mean

"""The public surface of SPEC.md, sections 3, 8 and 9: optimizer update rules against NumPy,
callbacks, activations, initializers and utilities (the rest: tests/test_spec_surface*.py).
"""
import contextlib
import io
import os
import warnings

import h5py
import numpy as np
import pytest

import keraslite as keras
from keraslite import backend as K
from keraslite import callbacks as C
from keraslite import layers as L
from keraslite import models as M
from keraslite import optimizers as O
from keraslite import utils

from spec_surface_helpers import EPS, defaults
from spec_surface_helpers import _fresh_session  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.usefixtures("kbackend")


# =============================================================================================
# section 3: optimizer update rules against NumPy

W0 = np.array([1.0, -2.0, 3.0], "float32")
G = np.array([0.5, -1.0, 2.0], "float32")


def steps(opt, n):
    v = K.variable(W0.copy())
    loss = K.sum(v * K.constant(G))  # gradient G
    f = K.function([], [loss], updates=opt.get_updates(loss=loss, params=[v]))
    for _ in range(n):
        f([])
    return K.get_value(v)


def ref_sgd(lr, m, nesterov, decay, n):
    p, v = W0.astype("float64"), np.zeros(3)
    for it in range(n):
        lrt = lr / (1 + decay * it)
        v = m * v - lrt * G
        p = p + (m * v - lrt * G if nesterov else v)
    return p


def ref_adam(n, lr=0.1, b1=0.9, b2=0.999, amsgrad=False, decay=0.0):
    p, m, v, vh = W0.astype("float64"), np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, n + 1):
        lrt = lr / (1 + decay * (t - 1)) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = b1 * m + (1 - b1) * G
        v = b2 * v + (1 - b2) * G * G
        vh = np.maximum(vh, v)
        p = p - lrt * m / (np.sqrt(vh if amsgrad else v) + EPS)
    return p


def ref_rmsprop(n, lr=0.01, rho=0.9):
    p, a = W0.astype("float64"), np.zeros(3)
    for _ in range(n):
        a = rho * a + (1 - rho) * G * G
        p = p - lr * G / (np.sqrt(a) + EPS)
    return p


def ref_adagrad(n, lr=0.01):
    p, a = W0.astype("float64"), np.zeros(3)
    for _ in range(n):
        a = a + G * G
        p = p - lr * G / (np.sqrt(a) + EPS)
    return p


def ref_adadelta(n, lr=1.0, rho=0.95):
    p, a, d = W0.astype("float64"), np.zeros(3), np.zeros(3)
    for _ in range(n):
        a = rho * a + (1 - rho) * G * G
        u = G * np.sqrt(d + EPS) / np.sqrt(a + EPS)
        p = p - lr * u
        d = rho * d + (1 - rho) * u * u
    return p


def ref_adamax(n, lr=0.002, b1=0.9, b2=0.999):
    p, m, u = W0.astype("float64"), np.zeros(3), np.zeros(3)
    for t in range(1, n + 1):
        m = b1 * m + (1 - b1) * G
        u = np.maximum(b2 * u, np.abs(G))
        p = p - lr / (1 - b1 ** t) * m / (u + EPS)
    return p


def ref_nadam(n, lr=0.002, b1=0.9, b2=0.999, sd=0.004):
    p, m, v, sched = W0.astype("float64"), np.zeros(3), np.zeros(3), 1.0
    for t in range(1, n + 1):
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * sd))
        mu_t1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * sd))
        sched = sched * mu_t
        sched_next = sched * mu_t1
        g_hat = G / (1 - sched)
        m = b1 * m + (1 - b1) * G
        m_hat = m / (1 - sched_next)
        v = b2 * v + (1 - b2) * G * G
        v_hat = v / (1 - b2 ** t)
        p = p - lr * ((1 - mu_t) * g_hat + mu_t1 * m_hat) / (np.sqrt(v_hat) + EPS)
    return p


@pytest.mark.parametrize("make,ref", [
    (lambda: O.SGD(lr=0.1), lambda: ref_sgd(0.1, 0.0, False, 0.0, 3)),
    (lambda: O.SGD(lr=0.1, momentum=0.9), lambda: ref_sgd(0.1, 0.9, False, 0.0, 3)),
    (lambda: O.SGD(lr=0.1, momentum=0.9, nesterov=True, decay=0.1), lambda: ref_sgd(0.1, 0.9, True, 0.1, 3)),
    (lambda: O.RMSprop(lr=0.01), lambda: ref_rmsprop(3)),
    (lambda: O.Adagrad(), lambda: ref_adagrad(3)),
    (lambda: O.Adadelta(), lambda: ref_adadelta(3)),
    (lambda: O.Adam(lr=0.1), lambda: ref_adam(3)),
    (lambda: O.Adam(lr=0.1, decay=0.5), lambda: ref_adam(3, decay=0.5)),
    (lambda: O.Adam(lr=0.1, amsgrad=True), lambda: ref_adam(3, amsgrad=True)),
    (lambda: O.Adamax(), lambda: ref_adamax(3)),
    (lambda: O.Nadam(), lambda: ref_nadam(3)),
], ids=["sgd", "momentum", "nesterov_decay", "rmsprop", "adagrad", "adadelta", "adam", "adam_decay", "amsgrad",
        "adamax", "nadam"])
def test_optimizer_update_rules(make, ref):
    np.testing.assert_allclose(steps(make(), 3), ref(), rtol=1e-5, atol=1e-6)


def test_clipnorm_clipvalue_and_optimizer_weights():
    norm = np.sqrt((G ** 2).sum())
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipnorm=1.0), 1), W0 - 0.1 * G / norm, rtol=1e-6)
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipnorm=10.0), 1), W0 - 0.1 * G, rtol=1e-6)
    np.testing.assert_allclose(steps(O.SGD(lr=0.1, clipvalue=0.6), 1), W0 - 0.1 * np.clip(G, -0.6, 0.6), rtol=1e-6)
    opt = O.Adam()
    steps(opt, 2)
    weights = opt.get_weights()
    assert float(weights[0]) == 2.0  # iterations first
    with pytest.raises(ValueError):
        opt.set_weights([np.zeros(2)])


# =============================================================================================
# section 9: callbacks

def mk(lr=0.01):
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(O.SGD(lr=lr), "mse", metrics=["mae"])
    return model


XC = np.random.default_rng(5).random((20, 3)).astype("float32")
YC = np.random.default_rng(6).random((20, 1)).astype("float32")


def test_early_stopping():
    es = C.EarlyStopping(monitor="loss", patience=2)
    # lr 0 and no shuffling: the epoch loss is exactly flat (shuffling would reorder the float sums)
    hist = mk(0.0).fit(XC, YC, epochs=10, verbose=0, callbacks=[es], shuffle=False)
    assert hist.epoch == [0, 1, 2] and es.stopped_epoch == 2
    hist = mk(0.0).fit(XC, YC, epochs=5, verbose=0, callbacks=[C.EarlyStopping(monitor="loss", baseline=0.0)])
    assert hist.epoch == [0]
    assert C.EarlyStopping(monitor="val_acc").monitor_op is np.greater
    assert C.EarlyStopping(monitor="val_loss").monitor_op is np.less
    # restore_best_weights: weights made worse after every epoch come back to the best epoch's
    model = mk(0.0)

    class Worsen(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            w = self.model.get_weights()
            self.model.set_weights([w[0], w[1] + 10.0])

    start = model.get_weights()
    es = C.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    hist = model.fit(XC, YC, epochs=6, verbose=0, callbacks=[Worsen(), es], shuffle=False)
    assert hist.epoch == [0, 1]
    # epoch 0 was best; ES (after Worsen) remembered the weights as they were at its epoch end
    np.testing.assert_allclose(model.get_weights()[1], start[1] + 10.0, atol=1e-5)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk(0.0).fit(XC, YC, epochs=5, verbose=0, callbacks=[C.EarlyStopping(monitor="loss", verbose=1)],
                    shuffle=False)
    assert "Epoch 00002: early stopping" in buf.getvalue()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.EarlyStopping(monitor="nope")])
    assert caught


def test_model_checkpoint(tmp_path):
    pattern = str(tmp_path / "w.{epoch:02d}-{loss:.2f}.h5")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk().fit(XC, YC, epochs=2, verbose=0,
                 callbacks=[C.ModelCheckpoint(pattern, monitor="loss", save_best_only=True, verbose=1)])
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and files[0].startswith("w.01-") and files[1].startswith("w.02-")
    assert "Epoch 00001: loss improved from inf to " in buf.getvalue()
    only_weights = str(tmp_path / "weights.h5")
    mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.ModelCheckpoint(only_weights, save_weights_only=True,
                                                                        monitor="loss")])
    with h5py.File(only_weights, "r") as f:
        assert "layer_names" in f.attrs and "model_config" not in f.attrs
    assert M.load_model(str(tmp_path / files[1])).predict(XC).shape == (20, 1)
    periodic = tmp_path / "periodic"
    periodic.mkdir()
    mk().fit(XC, YC, epochs=4, verbose=0,
             callbacks=[C.ModelCheckpoint(str(periodic / "e{epoch}.h5"), monitor="loss", period=2)])
    assert sorted(os.listdir(periodic)) == ["e2.h5", "e4.h5"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mk(0.0).fit(XC, YC, epochs=2, verbose=0, shuffle=False, callbacks=[
            C.ModelCheckpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True, verbose=1)])
    assert "Epoch 00002: loss did not improve from " in buf.getvalue()


def test_reduce_lr_on_plateau_and_scheduler():
    model = mk(1e-9)  # loss stays (nearly) flat
    rl = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e-3, min_lr=1e-10)
    hist = model.fit(XC, YC, epochs=4, verbose=0, callbacks=[rl], shuffle=False)
    # logs['lr'] is read before the epoch's reduction; wait restarts at 0 after each reduction
    np.testing.assert_allclose(hist.history["lr"], [1e-9, 1e-9, 5e-10, 2.5e-10], rtol=1e-5)
    model = mk(1e-9)
    rl = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e-3, cooldown=2, min_lr=4e-10)
    hist = model.fit(XC, YC, epochs=6, verbose=0, callbacks=[rl], shuffle=False)
    np.testing.assert_allclose(hist.history["lr"], [1e-9, 1e-9, 5e-10, 5e-10, 4e-10, 4e-10], rtol=1e-5)
    with pytest.raises(ValueError):
        C.ReduceLROnPlateau(factor=1.0)
    hist = mk().fit(XC, YC, epochs=3, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: 0.1 / (e + 1))])
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    hist = mk().fit(XC, YC, epochs=2, verbose=0, callbacks=[C.LearningRateScheduler(lambda e, lr: lr * 0.5)])
    np.testing.assert_allclose(hist.history["lr"], [0.005, 0.0025], rtol=1e-6)
    with pytest.raises(ValueError):
        mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: "x")])


def test_csv_logger(tmp_path):
    fn = str(tmp_path / "log.csv")
    mk().fit(XC, YC, epochs=2, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(fn)])
    rows = open(fn).read().splitlines()
    assert rows[0] == "epoch,loss,mae,val_loss,val_mae" and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    mk().fit(XC, YC, epochs=1, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(fn, append=True)])
    rows = open(fn).read().splitlines()
    assert len(rows) == 4 and rows[0].startswith("epoch") and not rows[3].startswith("epoch")
    mk().fit(XC, YC, epochs=1, verbose=0, callbacks=[C.CSVLogger(fn, separator=";")])
    assert open(fn).read().splitlines()[0] == "epoch;loss;mae"


def test_terminate_on_nan_lambda_and_progbar_logger():
    with contextlib.redirect_stdout(io.StringIO()):
        hist = mk(1e30).fit(XC, YC * 1e20, epochs=3, verbose=0, batch_size=2, callbacks=[C.TerminateOnNaN()])
    assert len(hist.epoch) == 1
    seen = []
    cb = C.LambdaCallback(on_train_begin=lambda logs: seen.append("b"), on_epoch_end=lambda e, logs: seen.append(e),
                          on_batch_end=lambda b, logs: None, on_train_end=lambda logs: seen.append("e"))
    mk().fit(XC, YC, epochs=2, verbose=0, callbacks=[cb])
    assert seen == ["b", 0, 1, "e"]
    with pytest.raises(ValueError):
        C.ProgbarLogger(count_mode="nope")
    base = C.Callback()
    for hook in ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end"):
        getattr(base, hook)(0, {})
    base.on_train_begin({})
    base.on_train_end({})


# =============================================================================================
# section 8: activations, initializers, utilities

def test_activations_against_numpy():
    A = keras.activations
    x = (np.random.rand(3, 4).astype("float32") - 0.5) * 6
    t = K.constant(x)
    np.testing.assert_allclose(K.eval(A.selu(t)), 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                                                                 (np.exp(x) - 1)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.hard_sigmoid(t)), np.clip(0.2 * x + 0.5, 0, 1), atol=1e-6)
    np.testing.assert_allclose(K.eval(A.exponential(t)), np.exp(x), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.softsign(t)), x / (1 + np.abs(x)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.softplus(t)), np.log1p(np.exp(x)), rtol=1e-5)
    np.testing.assert_allclose(K.eval(A.relu(t, alpha=0.1, max_value=2.0)),
                               np.where(x > 0, np.minimum(x, 2.0), 0.1 * x), rtol=1e-5, atol=1e-7)
    x3 = np.random.rand(2, 3, 4).astype("float32")
    e = np.exp(x3 - x3.max(1, keepdims=True))
    np.testing.assert_allclose(K.eval(A.softmax(K.constant(x3), axis=1)), e / e.sum(1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError):
        A.softmax(K.constant(np.ones(3, "float32")))
    assert A.linear(t) is t or np.allclose(K.eval(A.linear(t)), x)


def test_initializers_and_utils():
    I = keras.initializers

    def val(v):
        return np.asarray(K.eval(v) if isinstance(v, K.Tensor) else v)

    g = val(I.glorot_uniform(seed=1)((200, 300)))
    assert np.abs(g).max() <= np.sqrt(6 / 500) and np.abs(g).max() > 0.95 * np.sqrt(6 / 500)
    np.testing.assert_array_equal(val(I.he_normal(seed=3)((4, 5))), val(I.he_normal(seed=3)((4, 5))))
    np.testing.assert_array_equal(val(I.Identity(2.0)((3, 3))), 2 * np.eye(3))
    np.testing.assert_array_equal(val(I.Constant(3)((2,))), [3, 3])
    q = val(I.Orthogonal(seed=1)((6, 4)))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    assert type(I.get("normal")) is I.RandomNormal and type(I.get("uniform")) is I.RandomUniform
    assert defaults(I.RandomNormal) == dict(mean=0.0, stddev=0.05, seed=None)
    assert defaults(I.RandomUniform) == dict(minval=-0.05, maxval=0.05, seed=None)
    assert defaults(I.VarianceScaling) == dict(scale=1.0, mode="fan_in", distribution="normal", seed=None)
    np.testing.assert_array_equal(utils.to_categorical(np.array([[1], [0], [2]])), np.eye(3)[[1, 0, 2]])
    assert utils.to_categorical([1, 0, 2]).dtype == np.float32
    assert utils.to_categorical(np.zeros((2, 3)), 4).shape == (2, 3, 4)
    np.testing.assert_allclose(utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0, 0]])


def test_to_yaml_needs_pyyaml_or_round_trips():
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            model.to_yaml()
        with pytest.raises(ImportError):
            M.model_from_yaml("a: 1")
        return
    clone = M.model_from_yaml(model.to_yaml())
    assert clone.output_shape == (None, 2) and clone.count_params() == model.count_params()


def test_generators_and_sequence():
    x = np.random.rand(12, 3).astype("float32")
    y = np.random.rand(12, 2).astype("float32")
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])

    class Batches(utils.Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 4:(i + 1) * 4], y[i * 4:(i + 1) * 4]

    hist = model.fit_generator(Batches(), epochs=2, verbose=0, validation_data=Batches())
    assert set(hist.history) == {"loss", "mae", "val_loss", "val_mae"} and hist.params["steps"] == 3
    np.testing.assert_allclose(model.evaluate_generator(Batches()), model.evaluate(x, y, batch_size=4, verbose=0),
                               rtol=1e-5)
    np.testing.assert_allclose(model.predict_generator(Batches()), model.predict(x), rtol=1e-6)

    def gen():
        while True:
            yield x[:4], y[:4]

    assert model.fit_generator(gen(), steps_per_epoch=2, epochs=1, verbose=0).epoch == [0]
    with pytest.raises(ValueError):
        model.fit_generator(gen(), epochs=1, verbose=0)  # steps needed for a plain generator


def test_metric_resolution_names_and_dicts():
    x = np.random.rand(12, 3).astype("float32")
    model = M.Sequential([L.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["crossentropy"], weighted_metrics=["mae"])
    assert model.metrics_names == ["loss", "crossentropy", "weighted_mae"]
    i = L.Input((3,))
    two = M.Model(i, [L.Dense(1, name="a")(i), L.Dense(2, name="b")(i)])
    two.compile("sgd", "mse", metrics={"a": ["mae"], "b": "acc"}, loss_weights={"a": 2.0, "b": 0.0})
    assert two.metrics_names == ["loss", "a_loss", "b_loss", "a_mae", "b_acc"]
    ya, yb = np.random.rand(12, 1).astype("float32"), np.random.rand(12, 2).astype("float32")
    out = two.evaluate(x, [ya, yb], verbose=0)
    pa, _ = two.predict(x)
    assert out[0] == pytest.approx(2 * np.mean((pa - ya) ** 2), rel=1e-5)
    temporal = M.Sequential([L.Dense(1, input_shape=(4, 3))])
    temporal.compile(O.SGD(lr=0.0), "mse", sample_weight_mode="temporal")
    xt, yt = np.random.rand(5, 4, 3).astype("float32"), np.random.rand(5, 4, 1).astype("float32")
    sw = np.random.rand(5, 4).astype("float32")
    pt = temporal.predict(xt)
    assert temporal.test_on_batch(xt, yt, sample_weight=sw) == pytest.approx(np.mean(((pt - yt) ** 2)[..., 0] * sw),
                                                                             rel=1e-4)


def test_load_model_custom_objects(tmp_path):
    class Double(L.Layer):
        def call(self, inputs):
            return inputs * 2

    def my_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred), axis=-1)

    i = L.Input((3,))
    model = M.Model(i, Double()(i))
    model.compile("sgd", my_loss)
    path = str(tmp_path / "c.h5")
    model.save(path)
    with pytest.raises(ValueError):
        M.load_model(path)
    loaded = M.load_model(path, custom_objects={"Double": Double, "my_loss": my_loss})
    x = np.random.rand(4, 3).astype("float32")
    np.testing.assert_allclose(loaded.predict(x), 2 * x, rtol=1e-6)
    seq_cfg = {"class_name": "Sequential", "config": M.Sequential([L.Dense(2, input_shape=(3,))]).get_config()}
    assert M.model_from_config(seq_cfg).output_shape == (None, 2)

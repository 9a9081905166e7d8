"""CSVLogger and LambdaCallback (keraslite.callbacks) driven by a stand-in for `fit` over a fake
model, then a few callback runs through the real Model.fit (skipped when the engine is missing).
"""
import csv
import os
import warnings

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import callbacks as cbks

from callbacks_helpers import FakeModel, run_fit, val_losses


# ---------------------------------------------------------------------------------------------
# CSVLogger

def read_csv_rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def test_csv_logger_header_and_rows(tmp_path):
    path = str(tmp_path / "log.csv")
    run_fit(FakeModel(), [cbks.CSVLogger(path)], val_losses(0.5, 0.25))
    rows = read_csv_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert float(rows[1][1]) == pytest.approx(0.08) and float(rows[2][2]) == 0.25
    assert len(rows) == 3


def test_csv_logger_separator_and_overwrite(tmp_path):
    path = str(tmp_path / "log.tsv")
    run_fit(FakeModel(), [cbks.CSVLogger(path, separator="\t")], val_losses(0.5, 0.25, 0.2))
    run_fit(FakeModel(), [cbks.CSVLogger(path, separator="\t")], val_losses(0.5))
    rows = read_csv_rows(path, "\t")
    assert rows[0] == ["epoch", "loss", "val_loss"] and len(rows) == 2


def test_csv_logger_append(tmp_path):
    path = tmp_path / "log.csv"
    run_fit(FakeModel(), [cbks.CSVLogger(str(path), append=True)], val_losses(0.5, 0.25))
    run_fit(FakeModel(), [cbks.CSVLogger(str(path), append=True)], val_losses(0.125))
    rows = read_csv_rows(str(path))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows] == ["epoch", "0", "1", "0"]  # one header only
    # appending to an empty file writes the header
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    run_fit(FakeModel(), [cbks.CSVLogger(str(empty), append=True)], val_losses(0.5))
    assert read_csv_rows(str(empty))[0] == ["epoch", "loss", "val_loss"]


def test_csv_logger_na_when_stopped_and_iterables(tmp_path):
    path = str(tmp_path / "log.csv")
    model = FakeModel()
    logger = cbks.CSVLogger(path)
    logger.set_model(model)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0, "vec": [1, 2]})
    model.stop_training = True
    logger.on_epoch_end(1, {"loss": 0.5})
    logger.on_train_end()
    rows = read_csv_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss", "vec"]
    assert rows[1] == ["0", "1.0", "2.0", '"[1, 2]"']
    assert rows[2] == ["1", "0.5", "NA", "NA"]
    assert logger.csv_file.closed


def test_csv_logger_flushes_every_epoch(tmp_path):
    path = str(tmp_path / "log.csv")
    logger = cbks.CSVLogger(path)
    logger.set_model(FakeModel())
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 1.0})
    assert len(read_csv_rows(path)) == 2  # readable before training ends
    logger.on_train_end()


# ---------------------------------------------------------------------------------------------
# LambdaCallback

def test_lambda_callback_calls_functions():
    events = []
    cb = cbks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: events.append(("eb", epoch)),
        on_epoch_end=lambda epoch, logs: events.append(("ee", epoch, "val_loss" in logs)),
        on_batch_begin=lambda batch, logs: events.append(("bb", batch)),
        on_batch_end=lambda b, l: events.append(("be", b, l["size"])),  # any argument names
        on_train_begin=lambda logs: events.append(("tb",)),
        on_train_end=lambda logs: events.append(("te",)))
    run_fit(FakeModel(), [cb], val_losses(0.5), batch_sizes=(3, 1))
    assert events == [("tb",), ("eb", 0), ("bb", 0), ("be", 0, 3), ("bb", 1), ("be", 1, 1), ("ee", 0, True),
                      ("te",)]


def test_lambda_callback_defaults_and_extra_hooks():
    got = []
    cb = cbks.LambdaCallback(on_test_begin=lambda logs: got.append("test"))
    cl = cbks.CallbackList([cb])
    cl.on_train_begin()
    cl.on_epoch_begin(0)
    cl.on_batch_begin(0, {})
    cl.on_batch_end(0, {})
    cl.on_epoch_end(0, {})
    cl.on_train_end()
    cl.on_test_begin()
    assert got == ["test"]


# ---------------------------------------------------------------------------------------------
# with the real Model.fit

def _engine():
    """The engine's classes (imported here: the module's other tests need none of them)."""
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    return Sequential, Dense


@pytest.fixture
def engine(kbackend):
    return _engine()


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")
    return x, y


def small_model(engine, lr=0.05):
    Sequential, Dense = engine
    from keraslite.optimizers import SGD
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer=SGD(lr=lr), loss="mse")
    return model


def test_fit_calls_hooks_in_keras_order(engine):
    model = small_model(engine)
    x, y = regression_data(20)
    events = []

    class Recorder(cbks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", sorted(self.params)))

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_batch_begin(self, batch, logs=None):
            events.append(("batch_begin", batch, logs["size"]))

        def on_batch_end(self, batch, logs=None):
            events.append(("batch_end", batch, logs["size"], "loss" in logs))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append(("train_end",))

    rec = Recorder()
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[rec], validation_data=(x, y),
                     shuffle=False)
    assert rec.model is model
    assert events[0] == ("train_begin", ["batch_size", "do_validation", "epochs", "metrics", "samples", "steps",
                                         "verbose"])
    assert events[1:6] == [("epoch_begin", 0), ("batch_begin", 0, 8), ("batch_end", 0, 8, True),
                           ("batch_begin", 1, 8), ("batch_end", 1, 8, True)]
    assert events[6:8] == [("batch_begin", 2, 4), ("batch_end", 2, 4, True)]
    assert events[8] == ("epoch_end", 0, ["loss", "val_loss"])
    assert events[-1] == ("train_end",)
    assert rec.params["metrics"] == ["loss", "val_loss"] and rec.params["samples"] == 20
    assert hist.epoch == [0, 1]


def test_fit_history_loss_is_batch_weighted_average(engine):
    model = small_model(engine)
    x, y = regression_data(20)
    batch_losses = []
    rec = cbks.LambdaCallback(on_batch_end=lambda b, logs: batch_losses.append((logs["size"], logs["loss"])))
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[rec], shuffle=False)
    want = sum(n * l for n, l in batch_losses) / 20
    assert hist.history["loss"][0] == pytest.approx(want, rel=1e-6)


def test_fit_early_stopping_and_restore_best_weights(engine):
    model = small_model(engine, lr=0.05)
    x, y = regression_data()
    scores = [3.0, 1.0, 2.0, 5.0, 6.0, 0.0, 0.0]
    snapshots = []

    def on_epoch_end(epoch, logs):
        logs["score"] = scores[epoch]  # a monitored value that is known in advance
        snapshots.append(model.get_weights())

    es = cbks.EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    hist = model.fit(x, y, epochs=len(scores), batch_size=16, verbose=0,
                     callbacks=[cbks.LambdaCallback(on_epoch_end=on_epoch_end), es])
    assert hist.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3
    assert hist.history["score"] == scores[:4]
    assert not all(np.array_equal(a, b) for a, b in zip(snapshots[1], snapshots[3]))
    for a, b in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_fit_stop_training_from_callback_and_terminate_on_nan(engine):
    model = small_model(engine)
    x, y = regression_data(40)
    count = []

    def stop_after_two(batch, logs):
        count.append(batch)
        if len(count) == 2:
            model.stop_training = True

    hist = model.fit(x, y, batch_size=8, epochs=5, verbose=0,
                     callbacks=[cbks.LambdaCallback(on_batch_end=stop_after_two)])
    assert count == [0, 1] and hist.epoch == [0]
    # an exploding learning rate: the loss overflows and TerminateOnNaN stops training
    model = small_model(engine, lr=1e6)
    y_big = y * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hist = model.fit(x, y_big, batch_size=4, epochs=50, verbose=0, callbacks=[cbks.TerminateOnNaN()])
    assert model.stop_training is True
    assert len(hist.epoch) < 50


def test_fit_lr_scheduler_and_reduce_lr_change_optimizer(engine):
    model = small_model(engine, lr=0.1)
    x, y = regression_data(16)
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[cbks.LearningRateScheduler(lambda e: 0.1 / (e + 1))])
    assert float(K.get_value(model.optimizer.lr)) == pytest.approx(0.1 / 3)
    assert [float(v) for v in hist.history["lr"]] == pytest.approx([0.1, 0.05, 0.1 / 3])
    cb = cbks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=1e9)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    # epoch 0 improves on inf; epoch 1 cannot improve by 1e9: one reduction
    assert float(K.get_value(model.optimizer.lr)) == pytest.approx(0.1 / 6)


def test_fit_progbar_and_csv_logger(engine, tmp_path, capsys):
    model = small_model(engine)
    x, y = regression_data(20)
    path = str(tmp_path / "train.csv")
    model.fit(x, y, batch_size=8, epochs=2, verbose=1, validation_split=0.25, callbacks=[cbks.CSVLogger(path)])
    out = capsys.readouterr().out
    assert "Train on 15 samples, validate on 5 samples" in out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "15/15 [==============================]" in out and "val_loss:" in out
    rows = read_csv_rows(path)
    assert rows[0] == ["epoch", "loss", "val_loss"] and len(rows) == 3
    model.fit(x, y, batch_size=8, epochs=2, verbose=2)
    lines = [l for l in capsys.readouterr().out.split("\n") if l]
    assert lines[0] == "Epoch 1/2" and lines[1].startswith(" - ") and "loss:" in lines[1] and len(lines) == 4


def test_fit_model_checkpoint_writes_loadable_files(engine, tmp_path):
    pytest.importorskip("h5py")
    from keraslite.saving import load_model
    model = small_model(engine)
    x, y = regression_data(32)
    pattern = str(tmp_path / "ck.{epoch:02d}-{val_loss:.3f}.h5")
    cb = cbks.ModelCheckpoint(pattern, monitor="val_loss", save_best_only=True)
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_data=(x, y), callbacks=[cb])
    files = sorted(os.listdir(tmp_path))
    assert files and all(f.startswith("ck.") for f in files)
    best_epoch = int(np.argmin(hist.history["val_loss"]))
    last = "ck.%02d-%.3f.h5" % (best_epoch + 1, hist.history["val_loss"][best_epoch])
    assert last in files
    restored = load_model(str(tmp_path / last))
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0), hist.history["val_loss"][best_epoch],
                               rtol=1e-5)
    wcb = cbks.ModelCheckpoint(str(tmp_path / "weights.h5"), save_weights_only=True)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[wcb])
    other = small_model(engine)
    other.load_weights(str(tmp_path / "weights.h5"))
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)

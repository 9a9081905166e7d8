"""Callbacks (keraslite.callbacks): each callback's effect, driven by a small stand-in for `fit`
over a fake model (no engine needed), then a few runs through the real Model.fit (skipped when
the engine is missing)."""
import csv
import os
import warnings

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import callbacks as cbks


# ---------------------------------------------------------------------------------------------
# a fake model and a stand-in for Keras 2's fit loop

class FakeOptimizer:
    def __init__(self, lr=0.01):
        self.lr = K.variable(lr, name="lr")


class FakeModel:
    """Offers what callbacks use: stop_training, optimizer.lr, get/set_weights, save, save_weights."""

    def __init__(self, lr=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self._weights = [np.zeros((2, 2), "float32"), np.zeros(2, "float32")]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w) for w in weights]

    def save(self, filepath, overwrite=True):
        self.saved.append(("model", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("model")

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("weights")


def run_fit(model, callbacks, epoch_logs, batch_logs=None, batch_sizes=(4, 4, 2), verbose=0,
            count_mode="samples", on_epoch=None, keys=("loss",)):
    """Drive callbacks as Keras 2's fit_loop does. epoch_logs[e]: the val_* dict of epoch e;
    batch_logs(e, i): the batch metrics (default: loss = e + i/10). on_epoch(model, e) runs
    before each epoch (e.g. to change the fake weights)."""
    if batch_logs is None:
        def batch_logs(e, i):
            return {"loss": e + i / 10.0}
    history = cbks.History()
    model.history = history
    base = [cbks.BaseLogger()]
    if verbose:
        base.append(cbks.ProgbarLogger(count_mode=count_mode))
    cl = cbks.CallbackList(base + list(callbacks) + [history])
    cl.set_model(model)
    keys = list(keys)
    val_keys = sorted(set(epoch_logs[0])) if epoch_logs else []
    cl.set_params({"batch_size": max(batch_sizes), "epochs": len(epoch_logs), "steps": len(batch_sizes),
                   "samples": int(sum(batch_sizes)), "verbose": verbose, "do_validation": bool(val_keys),
                   "metrics": keys + val_keys})
    model.stop_training = False
    cl.on_train_begin()
    for epoch in range(len(epoch_logs)):
        if on_epoch is not None:
            on_epoch(model, epoch)
        cl.on_epoch_begin(epoch)
        for i, n in enumerate(batch_sizes):
            logs = {"batch": i, "size": n}
            cl.on_batch_begin(i, logs)
            logs.update(batch_logs(epoch, i))
            cl.on_batch_end(i, logs)
            if model.stop_training:
                break
        logs = dict(epoch_logs[epoch])
        cl.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cl.on_train_end()
    return history


def val_losses(*values):
    return [{"val_loss": v} for v in values]


# ---------------------------------------------------------------------------------------------
# Callback, CallbackList

def test_callback_defaults_and_train_batch_aliases():
    cb = cbks.Callback()
    assert cb.model is None and cb.validation_data is None and cb.params == {}
    for hook in ("on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end", "on_train_batch_begin",
                 "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                 "on_predict_batch_end"):
        assert getattr(cb, hook)(0, {}) is None
    for hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
                 "on_predict_end"):
        assert getattr(cb, hook)({}) is None

    seen = []

    class Old(cbks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch))

    old = Old()
    old.on_train_batch_begin(3, {})
    old.on_train_batch_end(3, {})
    assert seen == [("begin", 3), ("end", 3)]


def test_callback_list_order_params_model_and_all_hooks():
    calls = []

    class Recorder(cbks.Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def __getattribute__(self, name):
            attr = object.__getattribute__(self, name)
            if name.startswith("on_"):
                def wrapped(*args):
                    calls.append((object.__getattribute__(self, "tag"), name) + args[:1])
                    return attr(*args)
                return wrapped
            return attr

    a, b = Recorder("a"), Recorder("b")
    cl = cbks.CallbackList([a])
    cl.append(b)
    assert list(cl) == [a, b] and len(cl) == 2
    model = FakeModel()
    cl.set_model(model)
    cl.set_params({"epochs": 3})
    assert a.model is model and b.params == {"epochs": 3} and cl.model is model
    cl.on_train_begin()
    cl.on_epoch_begin(0)
    cl.on_batch_begin(0, {"batch": 0, "size": 1})
    cl.on_batch_end(0, {"batch": 0, "size": 1})
    cl.on_test_begin()
    cl.on_test_batch_begin(0)
    cl.on_test_batch_end(0)
    cl.on_test_end()
    cl.on_predict_begin()
    cl.on_predict_batch_begin(0)
    cl.on_predict_batch_end(0)
    cl.on_predict_end()
    cl.on_epoch_end(0)
    cl.on_train_end()
    names = [c[1] for c in calls if c[0] == "a"]
    assert names == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_batch_begin",
                     "on_train_batch_end", "on_batch_end", "on_test_begin", "on_test_batch_begin",
                     "on_test_batch_end", "on_test_end", "on_predict_begin", "on_predict_batch_begin",
                     "on_predict_batch_end", "on_predict_end", "on_epoch_end", "on_train_end"]
    # a before b for every hook
    assert [c[0] for c in calls if c[1] == "on_epoch_end"] == ["a", "b"]
    # empty lists and logs=None are fine
    empty = cbks.CallbackList()
    empty.on_batch_begin(0)
    empty.on_epoch_end(0)


def test_callback_list_passes_one_logs_dict_to_all():
    class Writer(cbks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.5

    class Reader(cbks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.got = dict(logs)

    r = Reader()
    cl = cbks.CallbackList([Writer(), r])
    cl.on_epoch_end(0, {"loss": 1.0})
    assert r.got == {"loss": 1.0, "extra": 1.5}


# ---------------------------------------------------------------------------------------------
# BaseLogger, History

def test_base_logger_weights_batches_by_size():
    logger = cbks.BaseLogger()
    logger.set_params({"metrics": ["loss", "acc"]})
    logger.on_epoch_begin(0)
    logger.on_batch_end(0, {"batch": 0, "size": 3, "loss": 1.0, "acc": 0.0})
    logger.on_batch_end(1, {"batch": 1, "size": 1, "loss": 5.0, "acc": 1.0})
    logs = {}
    logger.on_epoch_end(0, logs)
    assert logs["loss"] == pytest.approx((3 * 1.0 + 5.0) / 4)
    assert logs["acc"] == pytest.approx(0.25)
    assert set(logs) == {"loss", "acc"}
    # a new epoch starts from zero
    logger.on_epoch_begin(1)
    logger.on_batch_end(0, {"batch": 0, "size": 2, "loss": 2.0, "acc": 1.0})
    logs = {}
    logger.on_epoch_end(1, logs)
    assert logs == {"loss": 2.0, "acc": 1.0}


def test_base_logger_stateful_metrics_keep_last_value():
    logger = cbks.BaseLogger(stateful_metrics=["tp"])
    logger.set_params({"metrics": ["loss", "tp"]})
    logger.on_epoch_begin(0)
    logger.on_batch_end(0, {"size": 2, "loss": 1.0, "tp": 3})
    logger.on_batch_end(1, {"size": 2, "loss": 3.0, "tp": 7})
    logs = {}
    logger.on_epoch_end(0, logs)
    assert logs == {"loss": 2.0, "tp": 7}


def test_history_records_epoch_averages_and_val():
    model = FakeModel()
    hist = run_fit(model, [], val_losses(0.5, 0.25), batch_sizes=(4, 4, 2))
    assert hist.epoch == [0, 1]
    # epoch 0 losses 0, .1, .2 with sizes 4, 4, 2 -> (0 + .4 + .4) / 10
    assert hist.history["loss"] == pytest.approx([0.08, 1.08])
    assert hist.history["val_loss"] == [0.5, 0.25]
    assert hist.params["samples"] == 10
    assert model.history is hist
    # reused: a second fit starts a fresh record
    hist.on_train_begin()
    assert hist.epoch == [] and hist.history == {}


# ---------------------------------------------------------------------------------------------
# ProgbarLogger

def test_progbar_logger_count_mode():
    assert cbks.ProgbarLogger().use_steps is False
    assert cbks.ProgbarLogger(count_mode="steps").use_steps is True
    with pytest.raises(ValueError, match="count_mode"):
        cbks.ProgbarLogger(count_mode="batches")


def test_progbar_logger_verbose1_prints_epochs_and_bar(capsys):
    run_fit(FakeModel(), [], val_losses(0.5, 0.25), verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    lines = [l for l in out.replace("\r", "\n").split("\n") if "[" in l]
    final = [l for l in lines if l.lstrip().startswith("10/10")]
    assert len(final) == 2
    assert "[==============================]" in final[0]
    # the final line shows the epoch average (not the last batch counted twice) and val_loss
    assert "loss: 0.0800" in final[0] and "val_loss: 0.5000" in final[0]
    assert "loss: 1.0800" in final[1] and "val_loss: 0.2500" in final[1]
    assert out.index("Epoch 1/2") < out.index("Epoch 2/2")


def test_progbar_logger_steps_mode(capsys):
    run_fit(FakeModel(), [], val_losses(0.5), verbose=1, count_mode="steps")
    out = capsys.readouterr().out
    assert "3/3 [" in out


def test_progbar_logger_verbose2_one_line_per_epoch(capsys):
    run_fit(FakeModel(), [], val_losses(0.5, 0.25, 0.1), verbose=2)
    out = capsys.readouterr().out
    lines = [l for l in out.split("\n") if l]
    assert lines[0] == "Epoch 1/3" and lines[2] == "Epoch 2/3" and lines[4] == "Epoch 3/3"
    assert len(lines) == 6
    assert lines[1].startswith(" - ") and "s - loss: 0.0800 - val_loss: 0.5000" in lines[1]
    assert "[" not in out


def test_progbar_logger_silent_when_params_verbose_0(capsys):
    # fit installs it only when verbose, but a user-installed one follows params['verbose']
    run_fit(FakeModel(), [cbks.ProgbarLogger()], val_losses(0.5), verbose=0)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------
# TerminateOnNaN

@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_terminate_on_nan(capsys, bad):
    model = FakeModel()
    seen = []

    def batch_logs(e, i):
        seen.append((e, i))
        return {"loss": bad if i == 1 else 1.0}

    hist = run_fit(model, [cbks.TerminateOnNaN()], val_losses(0.5, 0.4, 0.3), batch_logs=batch_logs)
    assert model.stop_training is True
    assert seen == [(0, 0), (0, 1)]
    assert hist.epoch == [0]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_ignores_finite_and_missing_loss():
    model = FakeModel()
    cb = cbks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_batch_end(0, {"loss": 3.0})
    cb.on_batch_end(1, {"acc": float("nan")})
    cb.on_batch_end(2, None)
    assert model.stop_training is False


# ---------------------------------------------------------------------------------------------
# EarlyStopping

def test_early_stopping_patience():
    model = FakeModel()
    es = cbks.EarlyStopping(monitor="val_loss", patience=2)
    hist = run_fit(model, [es], val_losses(1.0, 0.5, 0.6, 0.7, 0.1, 0.05))
    # best at epoch 1; epochs 2 and 3 do not improve -> stop at epoch 3
    assert hist.epoch == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and model.stop_training
    assert es.best == 0.5 and es.wait == 2


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    es = cbks.EarlyStopping()
    hist = run_fit(FakeModel(), [es], val_losses(1.0, 0.9, 0.9, 0.1))
    assert hist.epoch == [0, 1, 2]   # an equal value is no improvement


def test_early_stopping_min_delta():
    es = cbks.EarlyStopping(min_delta=0.1, patience=1)
    hist = run_fit(FakeModel(), [es], val_losses(1.0, 0.95, 0.5, 0.45, 0.44))
    # 0.95 is not better than 1.0 by 0.1 -> stop at epoch 1
    assert hist.epoch == [0, 1] and es.best == 1.0
    # a negative min_delta means the same as its absolute value
    es = cbks.EarlyStopping(min_delta=-0.1, patience=1)
    assert run_fit(FakeModel(), [es], val_losses(1.0, 0.95, 0.5)).epoch == [0, 1]


def test_early_stopping_mode_auto_max_for_acc_and_explicit_modes():
    es = cbks.EarlyStopping(monitor="val_acc", patience=1)
    assert es.monitor_op is np.greater
    logs = [{"val_acc": v} for v in (0.5, 0.6, 0.55, 0.7)]
    assert run_fit(FakeModel(), [es], logs).epoch == [0, 1, 2]
    assert cbks.EarlyStopping(monitor="val_loss", mode="max").monitor_op is np.greater
    assert cbks.EarlyStopping(monitor="val_acc", mode="min").monitor_op is np.less
    with pytest.warns(RuntimeWarning, match="unknown"):
        es = cbks.EarlyStopping(monitor="val_loss", mode="sideways")
    assert es.monitor_op is np.less


def test_early_stopping_baseline():
    es = cbks.EarlyStopping(baseline=0.5, patience=2)
    hist = run_fit(FakeModel(), [es], val_losses(0.9, 0.8, 0.4, 0.3))
    assert hist.epoch == [0, 1]  # never better than the baseline
    es = cbks.EarlyStopping(baseline=0.95, patience=1)
    assert run_fit(FakeModel(), [es], val_losses(0.9, 0.8, 0.85, 0.1)).epoch == [0, 1, 2]


def test_early_stopping_restore_best_weights(capsys):
    def set_weights_to_epoch(model, epoch):
        model._weights = [np.full((2, 2), epoch, "float32"), np.full(2, -epoch, "float32")]

    model = FakeModel()
    es = cbks.EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    hist = run_fit(model, [es], val_losses(1.0, 0.2, 0.5, 0.6, 0.0), on_epoch=set_weights_to_epoch)
    assert hist.epoch == [0, 1, 2, 3]
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 2), 1))
    np.testing.assert_array_equal(model.get_weights()[1], np.full(2, -1))
    out = capsys.readouterr().out
    assert "Restoring model weights from the end of the best epoch" in out
    assert "Epoch 00004: early stopping" in out


def test_early_stopping_does_not_restore_when_training_ends_normally():
    def set_weights_to_epoch(model, epoch):
        model._weights = [np.full((2, 2), epoch, "float32")]

    model = FakeModel()
    es = cbks.EarlyStopping(patience=5, restore_best_weights=True)
    run_fit(model, [es], val_losses(0.1, 0.5, 0.6), on_epoch=set_weights_to_epoch)
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 2), 2))


def test_early_stopping_missing_monitor_warns_and_continues():
    es = cbks.EarlyStopping(monitor="val_acc")
    with pytest.warns(RuntimeWarning, match="val_acc.*not available"):
        hist = run_fit(FakeModel(), [es], val_losses(1.0, 2.0, 3.0))
    assert hist.epoch == [0, 1, 2]


def test_early_stopping_reusable():
    es = cbks.EarlyStopping(patience=1)
    run_fit(FakeModel(), [es], val_losses(0.1, 0.2, 0.3))
    assert es.stopped_epoch == 1
    hist = run_fit(FakeModel(), [es], val_losses(5.0, 4.0, 3.0))
    assert hist.epoch == [0, 1, 2] and es.stopped_epoch == 0 and es.best == 3.0


# ---------------------------------------------------------------------------------------------
# ModelCheckpoint

def test_model_checkpoint_every_epoch_with_formatted_path(tmp_path, capsys):
    model = FakeModel()
    pattern = str(tmp_path / "w.{epoch:02d}-{val_loss:.2f}.h5")
    run_fit(model, [cbks.ModelCheckpoint(pattern, verbose=1)], val_losses(0.5, 0.25))
    assert [s[:2] for s in model.saved] == [("model", str(tmp_path / "w.01-0.50.h5")),
                                            ("model", str(tmp_path / "w.02-0.25.h5"))]
    assert all(s[2] is True for s in model.saved)
    assert sorted(os.listdir(tmp_path)) == ["w.01-0.50.h5", "w.02-0.25.h5"]
    assert "Epoch 00001: saving model to " + str(tmp_path / "w.01-0.50.h5") in capsys.readouterr().out


def test_model_checkpoint_weights_only_and_period(tmp_path):
    model = FakeModel()
    pattern = str(tmp_path / "w{epoch}.h5")
    run_fit(model, [cbks.ModelCheckpoint(pattern, save_weights_only=True, period=2)],
            val_losses(0.5, 0.4, 0.3, 0.2, 0.1))
    assert [s[:2] for s in model.saved] == [("weights", str(tmp_path / "w2.h5")),
                                            ("weights", str(tmp_path / "w4.h5"))]


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    path = str(tmp_path / "best{epoch}.h5")
    cb = cbks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True, verbose=1)
    run_fit(model, [cb], val_losses(0.5, 0.6, 0.4, 0.4, 0.1))
    assert [os.path.basename(s[1]) for s in model.saved] == ["best1.h5", "best3.h5", "best5.h5"]
    assert cb.best == 0.1
    out = capsys.readouterr().out
    assert "Epoch 00001: val_loss improved from inf to 0.50000, saving model to " + str(tmp_path / "best1.h5") in out
    assert "Epoch 00002: val_loss did not improve from 0.50000" in out
    assert "Epoch 00004: val_loss did not improve from 0.40000" in out  # equal is no improvement


def test_model_checkpoint_modes():
    assert cbks.ModelCheckpoint("x", monitor="val_acc").monitor_op is np.greater
    assert cbks.ModelCheckpoint("x", monitor="fmeasure_val").monitor_op is np.greater
    assert cbks.ModelCheckpoint("x", monitor="val_loss").monitor_op is np.less
    assert cbks.ModelCheckpoint("x", monitor="val_loss", mode="max").best == -np.inf
    with pytest.warns(RuntimeWarning, match="unknown"):
        cb = cbks.ModelCheckpoint("x", mode="bogus")
    assert cb.monitor_op is np.less
    model = FakeModel()
    cb = cbks.ModelCheckpoint("acc{epoch}", monitor="val_acc", save_best_only=True)
    cb.set_model(model)
    for epoch, acc in enumerate([0.5, 0.4, 0.9]):
        cb.on_epoch_end(epoch, {"val_acc": acc})
    model_files = [s[1] for s in model.saved]
    for f in model_files:
        os.remove(f)
    assert model_files == ["acc1", "acc3"]


def test_model_checkpoint_missing_monitor_warns_and_skips(tmp_path):
    model = FakeModel()
    cb = cbks.ModelCheckpoint(str(tmp_path / "m.h5"), monitor="val_acc", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="val_acc available"):
        run_fit(model, [cb], val_losses(0.5))
    assert model.saved == []


def test_model_checkpoint_unknown_format_key(tmp_path):
    cb = cbks.ModelCheckpoint(str(tmp_path / "m{val_acc}.h5"))
    cb.set_model(FakeModel())
    with pytest.raises(KeyError, match="val_acc"):
        cb.on_epoch_end(0, {"val_loss": 1.0})


# ---------------------------------------------------------------------------------------------
# ReduceLROnPlateau

def lr_of(model):
    return float(K.get_value(model.optimizer.lr))


def test_reduce_lr_on_plateau_reduces_after_patience(capsys):
    model = FakeModel(lr=1.0)
    cb = cbks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, verbose=1)
    lrs = []
    rec = cbks.LambdaCallback(on_epoch_end=lambda e, logs: lrs.append((logs["lr"], lr_of(model))))
    hist = run_fit(model, [cb, rec], val_losses(1.0, 1.0, 1.0, 0.5, 0.5, 0.5))
    # epochs 1, 2 no improvement -> reduce at epoch 2; epoch 3 improves; 4, 5 -> reduce at epoch 5
    assert [after for _, after in lrs] == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.5, 0.25])
    # logs['lr'] is the rate the epoch trained with (read before the reduction)
    assert [float(v) for v in hist.history["lr"]] == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])
    assert "Epoch 00003: ReduceLROnPlateau reducing learning rate to 0.5." in capsys.readouterr().out


def test_reduce_lr_min_delta_cooldown_and_min_lr():
    model = FakeModel(lr=1.0)
    cb = cbks.ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.005, min_delta=0.1)
    after = []
    rec = cbks.LambdaCallback(on_epoch_end=lambda e, logs: after.append(lr_of(model)))
    # improvements smaller than min_delta do not count
    run_fit(model, [cb, rec], val_losses(1.0, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95))
    # Keras counts the cooldown down at the start of each epoch end, so cooldown=2 holds one epoch:
    # reduce at 1; hold at 2; reduce at 3 (to 0.01); hold at 4; reduce at 5 to min_lr; then lr is
    # no longer above min_lr and stays
    assert after == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01, 0.005, 0.005, 0.005])


def test_reduce_lr_mode_max_for_acc():
    model = FakeModel(lr=1.0)
    cb = cbks.ReduceLROnPlateau(monitor="val_acc", factor=0.5, patience=1, min_delta=0)
    run_fit(model, [cb], [{"val_acc": v} for v in (0.5, 0.6, 0.7)])
    assert lr_of(model) == 1.0
    run_fit(model, [cb], [{"val_acc": v} for v in (0.5, 0.4)])
    assert lr_of(model) == 0.5


def test_reduce_lr_arguments():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        cbks.ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="epsilon"):
        cb = cbks.ReduceLROnPlateau(epsilon=0.3)
    assert cb.min_delta == 0.3
    with pytest.raises(TypeError, match="pateince"):
        cbks.ReduceLROnPlateau(pateince=3)
    with pytest.warns(RuntimeWarning, match="unknown"):
        cbks.ReduceLROnPlateau(mode="up")


def test_reduce_lr_missing_monitor_warns_but_logs_lr():
    model = FakeModel(lr=0.3)
    cb = cbks.ReduceLROnPlateau(monitor="val_acc", patience=0)
    with pytest.warns(RuntimeWarning, match="val_acc"):
        hist = run_fit(model, [cb], val_losses(1.0, 2.0))
    assert [float(v) for v in hist.history["lr"]] == pytest.approx([0.3, 0.3])
    assert lr_of(model) == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------------
# LearningRateScheduler

def test_lr_scheduler_two_argument_schedule(capsys):
    model = FakeModel(lr=1.0)
    got = []

    def schedule(epoch, lr):
        got.append((epoch, lr))
        return lr * 0.5

    during = []
    rec = cbks.LambdaCallback(on_epoch_begin=lambda e, logs: during.append(lr_of(model)))
    hist = run_fit(model, [cbks.LearningRateScheduler(schedule, verbose=1), rec], val_losses(1, 1, 1))
    assert got == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert during == pytest.approx([0.5, 0.25, 0.125])
    assert [float(v) for v in hist.history["lr"]] == pytest.approx([0.5, 0.25, 0.125])
    assert "Epoch 00002: LearningRateScheduler setting learning rate to 0.25." in capsys.readouterr().out


def test_lr_scheduler_one_argument_schedule():
    model = FakeModel(lr=1.0)
    run_fit(model, [cbks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], val_losses(1, 1, 1, 1))
    assert lr_of(model) == pytest.approx(0.025)
    # NumPy floats are floats
    run_fit(model, [cbks.LearningRateScheduler(lambda epoch: np.float32(0.5))], val_losses(1))
    assert lr_of(model) == 0.5


def test_lr_scheduler_errors():
    model = FakeModel()
    cb = cbks.LearningRateScheduler(lambda epoch, lr: 1)
    cb.set_model(model)
    with pytest.raises(ValueError, match="should be float"):
        cb.on_epoch_begin(0)
    cb = cbks.LearningRateScheduler(lambda epoch: "0.1")
    cb.set_model(model)
    with pytest.raises(ValueError, match="should be float"):
        cb.on_epoch_begin(0)

    class NoLR:
        pass

    model.optimizer = NoLR()
    cb = cbks.LearningRateScheduler(lambda epoch: 0.1)
    cb.set_model(model)
    with pytest.raises(ValueError, match='"lr" attribute'):
        cb.on_epoch_begin(0)

    # an error raised inside a two-argument schedule is not hidden by the fallback
    def broken(epoch, lr):
        raise TypeError("bug in schedule")

    model = FakeModel()
    cb = cbks.LearningRateScheduler(broken)
    cb.set_model(model)
    with pytest.raises(TypeError, match="bug in schedule"):
        cb.on_epoch_begin(0)


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
    try:
        from keraslite.engine import training
    except Exception as e:  # noqa: BLE001 - any import failure means the engine is not there yet
        pytest.skip(f"keraslite.engine.training cannot be imported yet ({type(e).__name__}: {e})")
    if not hasattr(training.Model, "fit"):
        pytest.skip("keraslite.engine.training.Model has no fit yet")
    try:
        from keraslite.layers import Dense
        from keraslite.models import Sequential
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"keraslite.layers / keraslite.models cannot be imported yet ({type(e).__name__}: {e})")
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

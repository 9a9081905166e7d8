"""Callbacks that watch a monitored quantity (keraslite.callbacks): EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau and LearningRateScheduler, driven by a stand-in for `fit` over a fake model.
"""
import os

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import callbacks as cbks

from callbacks_helpers import FakeModel, run_fit, val_losses


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

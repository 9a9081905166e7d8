"""Callbacks (keraslite.callbacks): Callback and CallbackList, BaseLogger, History, ProgbarLogger and
TerminateOnNaN, driven by a small stand-in for `fit` over a fake model (no engine needed).
EarlyStopping, ModelCheckpoint and the learning-rate callbacks: tests/test_callbacks_monitors.py;
CSVLogger, LambdaCallback and runs through the real Model.fit: tests/test_callbacks_loggers.py.
"""

import pytest

from keraslite import callbacks as cbks

from callbacks_helpers import FakeModel, run_fit, val_losses


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

"""The callbacks that steer training: ModelCheckpoint, EarlyStopping, ReduceLROnPlateau,
LearningRateScheduler, TerminateOnNaN and LambdaCallback. Public through keraslite.callbacks."""
from __future__ import annotations

import inspect
import os
import warnings

import numpy as np

from . import backend as K
from ._callbacks_base import Callback


class TerminateOnNaN(Callback):
    """TerminateOnNaN(): stops training when a batch loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None:
            loss = np.asarray(loss)
            if np.any(np.isnan(loss)) or np.any(np.isinf(loss)):
                print("Batch %d: Invalid loss, terminating training" % batch)
                self.model.stop_training = True


def _monitor_op(mode: str, monitor: str, who: str, fmeasure: bool = False):
    """np.greater or np.less from mode ('auto' maximises metrics whose name contains 'acc')."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who} mode {mode} is unknown, fallback to auto mode.", RuntimeWarning)
        mode = "auto"
    if mode == "min":
        return np.less
    if mode == "max":
        return np.greater
    if "acc" in monitor or (fmeasure and monitor.startswith("fmeasure")):
        return np.greater
    return np.less


def _format_filepath(filepath, epoch: int, logs: dict) -> str:
    filepath = os.fspath(filepath)
    values = {k: v for k, v in logs.items() if k != "epoch"}
    try:
        return filepath.format(epoch=epoch + 1, **values)
    except KeyError as e:
        raise KeyError(f"ModelCheckpoint: the file path {filepath!r} uses {{{e.args[0]}}}, which is not in the "
                       f"epoch logs (available: {', '.join(['epoch'] + sorted(values))})") from None


class ModelCheckpoint(Callback):
    """ModelCheckpoint(filepath, monitor='val_loss', verbose=0, save_best_only=False,
    save_weights_only=False, mode='auto', period=1): saves the model (or its weights) every
    `period` epochs to `filepath.format(epoch=epoch + 1, **logs)`; with save_best_only only when
    the monitored value improved (strictly)."""

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", period: int = 1):
        super().__init__()
        self.monitor = monitor
        self.verbose = verbose
        self.filepath = filepath
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.period = period
        self.epochs_since_last_save = 0
        self.monitor_op = _monitor_op(mode, monitor, "ModelCheckpoint", fmeasure=True)
        self.best = np.inf if self.monitor_op is np.less else -np.inf

    def _save(self, filepath: str) -> None:
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epochs_since_last_save += 1
        if self.epochs_since_last_save < self.period:
            return
        self.epochs_since_last_save = 0
        filepath = _format_filepath(self.filepath, epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn("Can save best model only with %s available, skipping." % self.monitor,
                              RuntimeWarning)
            elif self.monitor_op(current, self.best):
                if self.verbose > 0:
                    print("\nEpoch %05d: %s improved from %0.5f to %0.5f, saving model to %s"
                          % (epoch + 1, self.monitor, self.best, current, filepath))
                self.best = current
                self._save(filepath)
            elif self.verbose > 0:
                print("\nEpoch %05d: %s did not improve from %0.5f" % (epoch + 1, self.monitor, self.best))
        else:
            if self.verbose > 0:
                print("\nEpoch %05d: saving model to %s" % (epoch + 1, filepath))
            self._save(filepath)


class EarlyStopping(Callback):
    """EarlyStopping(monitor='val_loss', min_delta=0, patience=0, verbose=0, mode='auto',
    baseline=None, restore_best_weights=False): stops training when the monitored value has not
    improved by more than min_delta for `patience` epochs; with restore_best_weights the weights
    of the best epoch are restored when it stops."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline=None, restore_best_weights: bool = False):
        super().__init__()
        self.monitor = monitor
        self.baseline = baseline
        self.patience = patience
        self.verbose = verbose
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.monitor_op = _monitor_op(mode, monitor, "EarlyStopping")
        # improvement: current - min_delta > best (max) / current + min_delta < best (min)
        self.min_delta = abs(min_delta) if self.monitor_op is np.greater else -abs(min_delta)
        self.best = self._initial_best()

    def _initial_best(self):
        if self.baseline is not None:
            return self.baseline
        return np.inf if self.monitor_op is np.less else -np.inf

    def on_train_begin(self, logs=None):
        # instances may be reused for several fits
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._initial_best()
        self.best_weights = None

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn("Early stopping conditioned on metric `%s` which is not available. Available metrics "
                          "are: %s" % (self.monitor, ",".join(list(logs.keys()))), RuntimeWarning)
        return value

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None:
            return
        if self.monitor_op(current - self.min_delta, self.best):
            self.best = current
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                if self.restore_best_weights and self.best_weights is not None:
                    if self.verbose > 0:
                        print("Restoring model weights from the end of the best epoch")
                    self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print("Epoch %05d: early stopping" % (self.stopped_epoch + 1))


def _optimizer_lr(model, who: str):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "lr"):
        raise ValueError(f'{who}: the optimizer must have a "lr" attribute (got {optimizer!r}).')
    return optimizer.lr


def _lr_value(lr):
    """The learning rate as a NumPy scalar (what Keras puts in logs['lr'])."""
    return np.asarray(K.get_value(lr))[()]


class ReduceLROnPlateau(Callback):
    """ReduceLROnPlateau(monitor='val_loss', factor=0.1, patience=10, verbose=0, mode='auto',
    min_delta=1e-4, cooldown=0, min_lr=0): multiplies the learning rate by `factor` (not below
    min_lr) when the monitored value has not improved for `patience` epochs, then waits `cooldown`
    epochs. Writes `logs['lr']` every epoch. The legacy keyword `epsilon` means min_delta."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0, **kwargs):
        super().__init__()
        self.monitor = monitor
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0 (got factor={factor}).")
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn("`epsilon` argument is deprecated and will be removed, use `min_delta` instead.")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected keyword argument {sorted(kwargs)[0]!r}")
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0
        self.best = 0
        self.mode = mode
        self.monitor_op = None
        self._reset()

    def _reset(self) -> None:
        if self.mode not in ("auto", "min", "max"):
            warnings.warn("Learning Rate Plateau Reducing mode %s is unknown, fallback to auto mode." % self.mode,
                          RuntimeWarning)
            self.mode = "auto"
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda a, b: np.less(a, b - self.min_delta)
            self.best = np.inf
        else:
            self.monitor_op = lambda a, b: np.greater(a, b + self.min_delta)
            self.best = -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        lr_var = _optimizer_lr(self.model, "ReduceLROnPlateau")
        logs["lr"] = _lr_value(lr_var)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn("Reduce LR on plateau conditioned on metric `%s` which is not available. Available "
                          "metrics are: %s" % (self.monitor, ",".join(list(logs.keys()))), RuntimeWarning)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(K.get_value(lr_var))
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    K.set_value(lr_var, new_lr)
                    if self.verbose > 0:
                        print("\nEpoch %05d: ReduceLROnPlateau reducing learning rate to %s." % (epoch + 1, new_lr))
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


def _takes_two_args(fn) -> bool | None:
    """True if fn(epoch, lr) binds, False if only fn(epoch) can, None if unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind(0, 0.0)
        return True
    except TypeError:
        return False


class LearningRateScheduler(Callback):
    """LearningRateScheduler(schedule, verbose=0): at each epoch begin sets the learning rate to
    `schedule(epoch, lr)` (or `schedule(epoch)` for a one-argument function); the result must be
    a float. Writes `logs['lr']` at each epoch end."""

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr_var = _optimizer_lr(self.model, "LearningRateScheduler")
        lr = float(K.get_value(lr_var))
        two = _takes_two_args(self.schedule)
        if two is None:
            try:  # new API
                lr = self.schedule(epoch, lr)
            except TypeError:  # old API
                lr = self.schedule(epoch)
        elif two:
            lr = self.schedule(epoch, lr)
        else:
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError('The output of the "schedule" function should be float '
                             f"(got {type(lr).__name__} {lr!r} at epoch {epoch}).")
        K.set_value(lr_var, lr)
        if self.verbose > 0:
            print("\nEpoch %05d: LearningRateScheduler setting learning rate to %s." % (epoch + 1, lr))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["lr"] = _lr_value(_optimizer_lr(self.model, "LearningRateScheduler"))


class LambdaCallback(Callback):
    """LambdaCallback(on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None,
    on_batch_end=None, on_train_begin=None, on_train_end=None, **kwargs): a callback from plain
    functions: the epoch and batch ones take (index, logs), the train ones take (logs). Other
    keywords (e.g. on_test_begin) become attributes."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        self.on_epoch_begin = on_epoch_begin if on_epoch_begin is not None else (lambda epoch, logs: None)
        self.on_epoch_end = on_epoch_end if on_epoch_end is not None else (lambda epoch, logs: None)
        self.on_batch_begin = on_batch_begin if on_batch_begin is not None else (lambda batch, logs: None)
        self.on_batch_end = on_batch_end if on_batch_end is not None else (lambda batch, logs: None)
        self.on_train_begin = on_train_begin if on_train_begin is not None else (lambda logs: None)
        self.on_train_end = on_train_end if on_train_end is not None else (lambda logs: None)

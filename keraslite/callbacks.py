"""Callbacks: objects whose hooks `fit` calls at the start and end of training, of each epoch and
of each batch (Keras 2.2 `keras.callbacks`, with the 2.3 hook names).

`fit` builds a `CallbackList([BaseLogger(), ProgbarLogger() if verbose] + callbacks + [History()])`
and calls, in order: `set_model`, `set_params`, `on_train_begin`, then per epoch
`on_epoch_begin(epoch)`, per batch `on_batch_begin(i, {'batch': i, 'size': n})` and
`on_batch_end(i, logs)` (logs hold the batch's loss and metrics), `on_epoch_end(epoch, logs)`
(logs hold the epoch averages, written by BaseLogger, and the `val_*` values), and finally
`on_train_end`. Epoch numbers given to hooks are 0-based; printed messages use epoch + 1.
See spec/LAYERS_OPTIMIZERS.md, section 9.
"""
from __future__ import annotations

import csv
import inspect
import io
import os
import time
import warnings
from collections import OrderedDict, defaultdict, deque
from collections.abc import Iterable

import numpy as np

from . import backend as K
from .utils.generic_utils import Progbar

__all__ = ["Callback", "CallbackList", "BaseLogger", "TerminateOnNaN", "ProgbarLogger", "History",
           "ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
           "LambdaCallback"]

_TRAIN = "train"
_TEST = "test"
_PREDICT = "predict"


class Callback:
    """Callback(): the base class. Attributes set by `fit`: `params` (dict with batch_size,
    epochs, steps, samples, verbose, do_validation, metrics), `model`; `validation_data` is kept
    for Keras 2 code that reads it. Every hook takes `logs=None` and does nothing here;
    `on_train_batch_begin/end` (Keras 2.3) call `on_batch_begin/end`."""

    def __init__(self):
        self.validation_data = None
        self.model = None
        self.params: dict = {}

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self.model = model

    # -- Keras 2 hooks ----------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    # -- Keras 2.3 hooks --------------------------------------------------------------------
    def on_train_batch_begin(self, batch, logs=None):
        # Positional: a LambdaCallback's plain function may name its second argument anything.
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


class CallbackList:
    """CallbackList(callbacks=None, queue_length=10): calls each hook on every callback, in
    order. A RuntimeWarning is given when batch hooks take longer than the batches themselves."""

    def __init__(self, callbacks=None, queue_length: int = 10):
        self.callbacks = list(callbacks or [])
        self.queue_length = queue_length
        self.params: dict = {}
        self.model = None
        self._reset_batch_timing()

    def _reset_batch_timing(self) -> None:
        self._delta_t_batch = 0.0
        self._delta_ts = defaultdict(lambda: deque([], maxlen=self.queue_length))

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def set_params(self, params: dict) -> None:
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def set_model(self, model) -> None:
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)

    def _call_batch_hook(self, mode: str, hook: str, batch, logs=None) -> None:
        if not self.callbacks:
            return
        hook_name = f"on_{mode}_batch_{hook}"
        if hook == "end":
            if not hasattr(self, "_t_enter_batch"):
                self._t_enter_batch = time.time()
            self._delta_t_batch = time.time() - self._t_enter_batch
        logs = logs if logs is not None else {}
        t_before = time.time()
        for callback in self.callbacks:
            getattr(callback, hook_name)(batch, logs)
        deltas = self._delta_ts[hook_name]
        deltas.append(time.time() - t_before)
        # the median only matters past 0.1 s, and a median costs more than a whole small batch
        if self._delta_t_batch > 0.0 and max(deltas) > 0.1:
            delta_t_median = float(np.median(deltas))
            if delta_t_median > 0.95 * self._delta_t_batch and delta_t_median > 0.1:
                warnings.warn(f"Method ({hook_name}) is slow compared to the batch update ({delta_t_median:f}). "
                              "Check your callbacks.", RuntimeWarning)
        if hook == "begin":
            self._t_enter_batch = time.time()

    def _call_all(self, hook_name: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook_name)(*args)

    # -- epochs and training ------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._call_all("on_epoch_begin", epoch, logs)
        self._reset_batch_timing()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._call_all("on_epoch_end", epoch, logs)

    def on_train_begin(self, logs=None):
        self._call_all("on_train_begin", logs if logs is not None else {})

    def on_train_end(self, logs=None):
        self._call_all("on_train_end", logs if logs is not None else {})

    def on_test_begin(self, logs=None):
        self._call_all("on_test_begin", logs if logs is not None else {})

    def on_test_end(self, logs=None):
        self._call_all("on_test_end", logs if logs is not None else {})

    def on_predict_begin(self, logs=None):
        self._call_all("on_predict_begin", logs if logs is not None else {})

    def on_predict_end(self, logs=None):
        self._call_all("on_predict_end", logs if logs is not None else {})

    # -- batches --------------------------------------------------------------------------------
    def on_batch_begin(self, batch, logs=None):
        self._call_batch_hook(_TRAIN, "begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call_batch_hook(_TRAIN, "end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch_hook(_TRAIN, "begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch_hook(_TRAIN, "end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch_hook(_TEST, "begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch_hook(_TEST, "end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch_hook(_PREDICT, "begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch_hook(_PREDICT, "end", batch, logs)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)


def _metric_names(params: dict, logs: dict) -> list:
    """The metric names `fit` announced in params['metrics'], else those found in the logs."""
    names = params.get("metrics") if params else None
    if names is None:
        names = [k for k in logs if k not in ("batch", "size")]
    return list(names)


class BaseLogger(Callback):
    """BaseLogger(stateful_metrics=None): accumulates `value * batch size` of every batch metric
    over an epoch and writes the epoch averages into the epoch logs (stateful metrics keep their
    last value). Always the first callback of `fit`."""

    def __init__(self, stateful_metrics=None):
        super().__init__()
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self.seen = 0
        self.totals: dict = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.seen = 0
        self.totals = {}

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        batch_size = logs.get("size", 0)
        self.seen += batch_size
        for k, v in logs.items():
            if k in self.stateful_metrics:
                self.totals[k] = v
            elif k in self.totals:
                self.totals[k] += v * batch_size
            else:
                self.totals[k] = v * batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for k in _metric_names(self.params, self.totals):
            if k in self.totals:
                if k in self.stateful_metrics:
                    logs[k] = self.totals[k]
                elif self.seen:
                    logs[k] = self.totals[k] / self.seen


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


class ProgbarLogger(Callback):
    """ProgbarLogger(count_mode='samples', stateful_metrics=None): prints `Epoch k/n` and drives
    the progress bar (samples seen, or batches with count_mode='steps'); verbose=2 prints one line
    per epoch. Installed by `fit` when verbose > 0."""

    def __init__(self, count_mode: str = "samples", stateful_metrics=None):
        super().__init__()
        if count_mode == "samples":
            self.use_steps = False
        elif count_mode == "steps":
            self.use_steps = True
        else:
            raise ValueError("Unknown `count_mode`: " + str(count_mode) + " (expected 'samples' or 'steps')")
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.progbar = None
        self.seen = 0
        self.log_values: list = []

    def on_train_begin(self, logs=None):
        self.verbose = self.params.get("verbose", 1)
        self.epochs = self.params.get("epochs", 1)

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print("Epoch %d/%d" % (epoch + 1, self.epochs))
            self.target = self.params.get("steps") if self.use_steps else self.params.get("samples")
            self.progbar = Progbar(target=self.target, verbose=self.verbose, stateful_metrics=self.stateful_metrics)
        self.seen = 0
        self.log_values = []

    def on_batch_begin(self, batch, logs=None):
        if self.target is None or self.seen < self.target:
            self.log_values = []

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        batch_size = logs.get("size", 0)
        self.seen += 1 if self.use_steps else batch_size
        for k in _metric_names(self.params, logs):
            if k in logs:
                self.log_values.append((k, logs[k]))
        # the last batch is drawn by on_epoch_end, together with the validation values
        if self.verbose and self.progbar is not None and (self.target is None or self.seen < self.target):
            self.progbar.update(self.seen, self.log_values)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # The last batch's values complete the running means; the epoch logs add what the batches
        # did not have (val_*). (Keras 2.2 appended the epoch averages too, counting the last
        # batch twice in the final line.)
        present = {k for k, _ in self.log_values}
        for k in _metric_names(self.params, logs):
            if k in logs and k not in present:
                self.log_values.append((k, logs[k]))
        if self.verbose and self.progbar is not None:
            self.progbar.update(self.seen, self.log_values)


class History(Callback):
    """History(): records the epoch logs. `epoch` is the list of epoch indices and `history` the
    dict name -> list of per-epoch values. Always the last callback of `fit`, which returns it."""

    def __init__(self):
        super().__init__()
        self.epoch: list = []
        self.history: dict = {}

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)


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


class CSVLogger(Callback):
    """CSVLogger(filename, separator=',', append=False): one CSV row per epoch (the 0-based epoch
    and the epoch logs, keys sorted); the header is written first unless appending to a non-empty
    file; 'NA' for values missing (e.g. the last epoch when training stops early)."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        self.keys = None
        self.writer = None
        self.append_header = True
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        self.csv_file = io.open(self.filename, mode, newline="\n")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim_ndarray = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            if isinstance(k, Iterable) and not is_zero_dim_ndarray:
                return '"[%s]"' % (", ".join(map(str, k)))
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
        logs = {k: (logs[k] if k in logs else "NA") for k in self.keys}
        if self.writer is None:
            sep = self.sep

            class CustomDialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()
        row = OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs[key])) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.writer = None


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


# TensorBoard and RemoteMonitor live in their own modules (which import this one): loaded on first use
_ELSEWHERE = {"TensorBoard": "callbacks_tensorboard", "RemoteMonitor": "callbacks_remote"}
__all__ += list(_ELSEWHERE)


def __getattr__(name):
    if name in _ELSEWHERE:
        import importlib
        return getattr(importlib.import_module(f"{__package__}.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

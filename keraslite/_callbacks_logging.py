"""The callbacks that record and report: BaseLogger (epoch averages), ProgbarLogger (the
progress bar), History (what `fit` returns) and CSVLogger. Public through keraslite.callbacks."""
from __future__ import annotations

import csv
import io
import os
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from ._callbacks_base import Callback
from .utils.generic_utils import Progbar


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

"""The base of keraslite.callbacks: `Callback` (every hook a no-op) and `CallbackList`, which
calls the hooks of several callbacks in order and times the batch hooks. Public through
keraslite.callbacks."""
from __future__ import annotations

import time
import warnings
from collections import defaultdict, deque

import numpy as np

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

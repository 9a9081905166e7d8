"""Callbacks: objects whose hooks `fit` calls at the start and end of training, of each epoch and
of each batch (Keras 2.2 `keras.callbacks`, with the 2.3 hook names).

`fit` builds a `CallbackList([BaseLogger(), ProgbarLogger() if verbose] + callbacks + [History()])`
and calls, in order: `set_model`, `set_params`, `on_train_begin`, then per epoch
`on_epoch_begin(epoch)`, per batch `on_batch_begin(i, {'batch': i, 'size': n})` and
`on_batch_end(i, logs)` (logs hold the batch's loss and metrics), `on_epoch_end(epoch, logs)`
(logs hold the epoch averages, written by BaseLogger, and the `val_*` values), and finally
`on_train_end`. Epoch numbers given to hooks are 0-based; printed messages use epoch + 1.
See spec/LAYERS_OPTIMIZERS.md, section 9.

The classes live in small private modules, one job each, and are public here: `_callbacks_base`
(Callback, CallbackList), `_callbacks_logging` (BaseLogger, ProgbarLogger, History, CSVLogger),
`_callbacks_control` (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, LearningRateScheduler,
TerminateOnNaN, LambdaCallback); TensorBoard and RemoteMonitor in `callbacks_tensorboard` and
`callbacks_remote`.
"""
from __future__ import annotations

from ._callbacks_base import Callback, CallbackList
from ._callbacks_control import (EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                                 ReduceLROnPlateau, TerminateOnNaN)
from ._callbacks_logging import BaseLogger, CSVLogger, History, ProgbarLogger

__all__ = ["Callback", "CallbackList", "BaseLogger", "TerminateOnNaN", "ProgbarLogger", "History",
           "ModelCheckpoint", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
           "LambdaCallback"]

# TensorBoard and RemoteMonitor live in their own modules (which import this one): loaded on first use
_ELSEWHERE = {"TensorBoard": "callbacks_tensorboard", "RemoteMonitor": "callbacks_remote"}
__all__ += list(_ELSEWHERE)


def __getattr__(name):
    if name in _ELSEWHERE:
        import importlib
        return getattr(importlib.import_module(f"{__package__}.{_ELSEWHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

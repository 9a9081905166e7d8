"""Horovod's Keras callbacks on keraslite: start all ranks from rank root's state, average the
epoch logs, and warm the learning rate up from lr / size() to lr.

The collective ones (BroadcastGlobalVariablesCallback, MetricAverageCallback) must be given to
fit on every rank; the loops check that all ranks have the same number of them.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from .. import backend as K
from ..callbacks import Callback
from . import _state
from .collectives import check_root, check_same, dtype_code, dtype_groups


def _digest(items) -> int:
    """The same number on every rank for the same items (str hashes differ between processes)."""
    return zlib.crc32(repr(list(items)).encode())


def broadcast_arrays(arrays: list, root: int, who: str) -> list:
    """Rank root's values of `arrays` (host arrays of the same layout on every rank): one Bcast
    per dtype of the packed values. The same ValueError on every rank when the layouts differ."""
    w = _state.world(who)
    if w.size == 1:
        return [np.array(a, copy=True) for a in arrays]
    sig = [len(arrays)] + [v for a in arrays for v in (dtype_code(a.dtype, who), a.ndim, *a.shape)]
    check_same(w, np.array([len(sig), _digest(sig)], dtype=np.int64), who,
                "weights (are all ranks training the same model with the same optimizer?)")
    out: list = [None] * len(arrays)
    for name, idx in dtype_groups(arrays).items():
        buf = np.concatenate([np.ascontiguousarray(arrays[i]).reshape(-1) for i in idx]).astype(name, copy=False)
        w.comm.Bcast(buf.view(np.uint8), root=root)
        pos = 0
        for i in idx:
            n = int(np.prod(arrays[i].shape, dtype=np.int64))
            out[i] = buf[pos:pos + n].reshape(arrays[i].shape).copy()
            pos += n
    return out


class BroadcastGlobalVariablesCallback(Callback):
    """BroadcastGlobalVariablesCallback(root_rank=0, device=''): at the start of training, every
    rank takes rank root_rank's model weights and optimizer state (slot variables and
    `iterations`), so all replicas start identical whatever their initialisation or checkpoint."""

    _collective = True

    def __init__(self, root_rank: int = 0, device: str = ""):
        super().__init__()
        self.root_rank = root_rank
        self.broadcast_done = False

    def on_train_begin(self, logs=None):
        w = _state.world("BroadcastGlobalVariablesCallback")
        check_root(w, self.root_rank, "BroadcastGlobalVariablesCallback")
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        weights = [np.asarray(v) for v in model.get_weights()]
        opt_weights = [np.asarray(v) for v in optimizer.get_weights()] if optimizer is not None else []
        values = broadcast_arrays(weights + opt_weights, int(self.root_rank), "BroadcastGlobalVariablesCallback")
        model.set_weights(values[:len(weights)])
        if optimizer is not None:
            optimizer.set_weights(values[len(weights):])
        self.broadcast_done = True


class MetricAverageCallback(Callback):
    """MetricAverageCallback(device=''): replaces every number in the epoch logs by its mean over
    the ranks. Put it before callbacks that read the logs (checkpoints, early stopping, CSV)."""

    _collective = True

    def __init__(self, device: str = ""):
        super().__init__()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        w = _state.world("MetricAverageCallback")
        keys = sorted(k for k, v in logs.items() if np.ndim(v) == 0 and isinstance(v, (int, float, np.number)))
        if w.size == 1 or not keys:
            return
        check_same(w, np.array([len(keys), _digest(keys)], dtype=np.int64), "MetricAverageCallback",
                    "log entries")
        values = np.array([float(logs[k]) for k in keys], dtype=np.float64)
        w.comm.Allreduce(w.mpi.IN_PLACE, values, op=w.mpi.SUM)
        for k, v in zip(keys, values / w.size):
            logs[k] = float(v)


class LearningRateScheduleCallback(Callback):
    """LearningRateScheduleCallback(initial_lr, multiplier, start_epoch=0, end_epoch=None,
    staircase=True, momentum_correction=True, steps_per_epoch=None): lr = initial_lr *
    multiplier(epoch) for epochs in [start_epoch, end_epoch); at the first batch of each epoch
    (staircase) or at every batch with a fractional epoch = epoch + batch / steps_per_epoch.
    With momentum_correction, an optimizer's momentum is scaled by new_lr / old_lr for the batch
    in which the learning rate changed. `multiplier` is a number or a function of the epoch.
    initial_lr=None reads the optimizer's learning rate when training starts."""

    def __init__(self, initial_lr=None, multiplier=1.0, start_epoch: int = 0, end_epoch=None, staircase: bool = True,
                 momentum_correction: bool = True, steps_per_epoch=None):
        super().__init__()
        if initial_lr is not None and not (isinstance(initial_lr, (int, float)) and initial_lr > 0):
            raise ValueError(f"{type(self).__name__}: initial_lr must be a positive number, got {initial_lr!r}")
        if steps_per_epoch is not None and int(steps_per_epoch) < 1:
            raise ValueError(f"{type(self).__name__}: steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
        self.initial_lr = initial_lr
        self.multiplier = multiplier if callable(multiplier) else (lambda epoch, m=float(multiplier): m)
        self.start_epoch, self.end_epoch = start_epoch, end_epoch
        self.staircase = staircase
        self.momentum_correction = momentum_correction
        self.steps_per_epoch = steps_per_epoch
        self.current_epoch = 0
        self._restore_momentum = None

    def _detect_steps(self) -> int:
        params = self.params or {}
        if params.get("steps"):
            return int(params["steps"])
        if params.get("samples") and params.get("batch_size"):
            return int(math.ceil(params["samples"] / params["batch_size"]))
        raise ValueError(f"{type(self).__name__}: could not tell the number of steps per epoch from fit's "
                         "parameters; pass steps_per_epoch")

    def on_train_begin(self, logs=None):
        if self.initial_lr is None:
            self.initial_lr = float(K.get_value(self.model.optimizer.lr))
        if self.steps_per_epoch is None:
            self.steps_per_epoch = self._detect_steps()

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def _in_scope(self) -> bool:
        return self.current_epoch >= self.start_epoch and (self.end_epoch is None
                                                           or self.current_epoch < self.end_epoch)

    def on_batch_begin(self, batch, logs=None):
        if not self._in_scope():
            return
        if self.staircase:
            if batch == 0:
                self._adjust(self.current_epoch)
        else:
            self._adjust(self.current_epoch + float(batch) / self.steps_per_epoch)

    def _adjust(self, epoch: float) -> None:
        opt = self.model.optimizer
        old_lr = float(K.get_value(opt.lr))
        new_lr = self.initial_lr * self.multiplier(epoch)
        K.set_value(opt.lr, new_lr)
        momentum = getattr(opt, "momentum", None)
        if self.momentum_correction and isinstance(momentum, K.Variable) and old_lr > 0:
            self._restore_momentum = float(K.get_value(momentum))
            K.set_value(momentum, self._restore_momentum * new_lr / old_lr)

    def on_batch_end(self, batch, logs=None):
        if self._restore_momentum is not None:
            K.set_value(self.model.optimizer.momentum, self._restore_momentum)
            self._restore_momentum = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(K.get_value(self.model.optimizer.lr))


class LearningRateWarmupCallback(LearningRateScheduleCallback):
    """LearningRateWarmupCallback(initial_lr=None, warmup_epochs=5, momentum_correction=True,
    steps_per_epoch=None, verbose=0): Horovod's gradual warmup from initial_lr / size() to
    initial_lr over warmup_epochs, adjusted at every batch:
    lr(e) = initial_lr / size * (e * (size - 1) / warmup_epochs + 1) with the fractional epoch
    e = epoch + (batch + 1) / steps_per_epoch, so the last warmup batch runs at initial_lr."""

    def __init__(self, initial_lr=None, warmup_epochs: int = 5, momentum_correction: bool = True,
                 steps_per_epoch=None, verbose: int = 0):
        if not isinstance(warmup_epochs, (int, np.integer)) or warmup_epochs < 1:
            raise ValueError(f"LearningRateWarmupCallback: warmup_epochs must be a positive int, got {warmup_epochs!r}")
        self.warmup_epochs = int(warmup_epochs)
        self.verbose = verbose

        def multiplier(epoch):
            n = _state.world("LearningRateWarmupCallback").size
            epoch += 1.0 / self.steps_per_epoch
            return 1.0 / n * (epoch * (n - 1) / self.warmup_epochs + 1)
        super().__init__(initial_lr, multiplier, start_epoch=0, end_epoch=self.warmup_epochs, staircase=False,
                         momentum_correction=momentum_correction, steps_per_epoch=steps_per_epoch)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if epoch == self.end_epoch - 1 and self.verbose > 0 and _state.logs_here():
            print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to "
                  f"{float(K.get_value(self.model.optimizer.lr)):g}.")

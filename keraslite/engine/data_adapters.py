"""Generators and Sequences as data (tf.keras's data adapters for Keras 2 models).

`fit`, `evaluate` and `predict` hand a Python generator, an iterator or a
`keraslite.utils.Sequence` to the generator loops (loops.py), which read it through
batch_stream.BatchStream (re-exported here with the other batch-reading helpers).
"""
from __future__ import annotations

import numpy as np

from ..utils.data_utils import Sequence


from .batch_stream import (BatchStream, OutOfData, _check_int, _sequence_forever, is_generator_like,  # noqa: F401
                           is_sequence, steps_for, warn_out_of_data)


# ---------------------------------------------------------------------------------------------
# fit / evaluate / predict on generators

def _refuse(who: str, **given) -> None:
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"{who}: `{name}` is not supported when x is a generator or a Sequence (the generator "
                             "yields (x, y) or (x, y, sample_weight) batches)")


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
        class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, kwargs):
    """Model.fit(generator or Sequence, ...): fit_generator with tf.keras's argument checks."""
    _refuse("fit", y=y, batch_size=batch_size, sample_weight=sample_weight)
    if validation_split:
        raise ValueError("fit: `validation_split` is not supported when x is a generator or a Sequence; pass "
                         "validation_data")
    from . import loops
    for kw in kwargs:
        if kw not in ("workers", "use_multiprocessing", "max_queue_size", "validation_freq"):
            raise TypeError(f"Unrecognized keyword arguments: {kw!r}")
    # steps_per_epoch=None: a Sequence gives len(); a generator's epoch ends where it ends (tf.keras)
    return loops.fit_generator(model, x, steps_per_epoch, epochs, verbose, callbacks, validation_data,
                               validation_steps, class_weight, shuffle, initial_epoch,
                               validation_freq=kwargs.get("validation_freq", 1), until_exhausted=True,
                               **_worker_kwargs(kwargs))


class ArrayBatches(Sequence):
    """The batches fit makes of arrays (standardized inputs, targets and sample weights), as a
    Sequence, so that array training can validate on a generator: the same shuffles as
    loops.fit_loop (one per epoch; shuffle='batch' shuffles whole batches)."""

    def __init__(self, ins, targets, weights, batch_size: int, shuffle):
        self.ins, self.targets, self.weights = ins, targets, weights
        self.batch_size, self.shuffle = batch_size, shuffle
        self.n = int(ins[0].shape[0])
        self.index = np.arange(self.n)
        self._reshuffle()

    def _reshuffle(self) -> None:
        from .loops import _batch_shuffle
        if self.shuffle == "batch":
            self.index = _batch_shuffle(self.index, self.batch_size)
        elif self.shuffle:
            np.random.shuffle(self.index)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, i):
        ids = self.index[i * self.batch_size:(i + 1) * self.batch_size]
        take = (lambda a: a[ids]) if self.shuffle else (lambda a: a[i * self.batch_size:(i + 1) * self.batch_size])
        return [take(a) for a in self.ins], [take(a) for a in self.targets], [take(a) for a in self.weights]

    def on_epoch_end(self) -> None:
        self._reshuffle()


def fit_arrays(model, x, y, batch_size, epochs, verbose, callbacks, validation_data, shuffle, class_weight,
               sample_weight, initial_epoch, validation_steps, kwargs):
    """Model.fit(arrays, validation_data=generator or Sequence): the array batches of fit, with
    validation read from the generator (validation_steps batches per validation)."""
    from . import data as data_utils
    from . import loops
    batch_size = 32 if batch_size is None else _check_int(batch_size, "batch_size", 1)
    model._build_if_needed(x)
    ins, targets, weights = data_utils.standardize(model, x, y, sample_weight, class_weight, "fit",
                                                   check_nan=True)
    batches = ArrayBatches(ins, targets, weights, batch_size, shuffle)
    return loops.fit_generator(model, batches, len(batches), epochs, verbose, callbacks,
                               validation_data, validation_steps, None, False, initial_epoch, workers=0,
                               use_multiprocessing=kwargs.get("use_multiprocessing", False),
                               max_queue_size=kwargs.get("max_queue_size", 10),
                               validation_freq=kwargs.get("validation_freq", 1),
                               validation_workers=kwargs.get("workers", 1))


def _worker_kwargs(kwargs) -> dict:
    return {k: kwargs[k] for k in ("workers", "use_multiprocessing", "max_queue_size") if k in kwargs}


def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, kwargs):
    """Model.evaluate(generator or Sequence, steps=None, ...): steps=None reads a Sequence once
    and a generator until it ends (tf.keras)."""
    from . import loops
    _refuse("evaluate", y=y, batch_size=batch_size, sample_weight=sample_weight)
    return loops.evaluate_generator(model, x, steps, verbose, until_exhausted=True, callbacks=kwargs.get("callbacks"),
                                    **_worker_kwargs(kwargs))


def predict(model, x, batch_size, verbose, steps, kwargs):
    """Model.predict(generator or Sequence, steps=None, ...): as evaluate."""
    from . import loops
    _refuse("predict", batch_size=batch_size)
    return loops.predict_generator(model, x, steps, verbose, until_exhausted=True, callbacks=kwargs.get("callbacks"),
                                   **_worker_kwargs(kwargs))

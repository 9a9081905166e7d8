"""Generators and Sequences as data (tf.keras's data adapters for Keras 2 models).

`fit`, `evaluate` and `predict` hand a Python generator, an iterator or a
`keraslite.utils.Sequence` to the generator loops (loops.py); `BatchStream` is how those loops
read batches: in the calling thread (workers=0) or from an enqueuer (threads, or processes with
use_multiprocessing=True), and always closed by the loop's `with`, so no worker outlives the call
however it ends.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..utils.data_utils import Sequence
from ..utils.enqueuers import GeneratorEnqueuer, OrderedEnqueuer


def is_sequence(data) -> bool:
    return isinstance(data, Sequence)


def is_generator_like(data) -> bool:
    """True for a keraslite Sequence, a generator or any other iterator (not for arrays, lists,
    tuples or dicts of arrays)."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    return is_sequence(data) or hasattr(data, "__next__")


class OutOfData(Exception):
    """The generator returned before the requested number of batches."""


class BatchStream:
    """BatchStream(data, workers=1, use_multiprocessing=False, max_queue_size=10, shuffle=False):
    `next()` gives the next item of a generator/Sequence (Sequences repeat, epoch after epoch,
    calling `on_epoch_end` after each pass). Use as a context manager: leaving it stops the
    workers."""

    def __init__(self, data, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10,
                 shuffle: bool = False):
        workers = _check_int(workers, "workers", 0)
        max_queue_size = _check_int(max_queue_size, "max_queue_size", None)
        self._enqueuer = None
        if workers > 0:
            if is_sequence(data):
                self._enqueuer = OrderedEnqueuer(data, use_multiprocessing=use_multiprocessing, shuffle=shuffle)
            else:
                self._enqueuer = GeneratorEnqueuer(data, use_multiprocessing=use_multiprocessing)
            self._enqueuer.start(workers=workers, max_queue_size=max_queue_size)
            self._it = self._enqueuer.get()
        elif is_sequence(data):
            self._it = _sequence_forever(data, shuffle)
        else:
            self._it = iter(data)

    def next(self):
        try:
            return next(self._it)
        except StopIteration:
            raise OutOfData() from None

    def close(self) -> None:
        if self._enqueuer is not None:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()
            self._enqueuer.stop()
            self._enqueuer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _check_int(value, name: str, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def _sequence_forever(sequence, shuffle: bool):
    while True:
        order = np.arange(len(sequence))
        if len(order) == 0:
            raise ValueError("The Sequence has no batches (len(sequence) == 0)")
        if shuffle:
            np.random.shuffle(order)
        for i in order:
            yield sequence[int(i)]
        sequence.on_epoch_end()


def warn_out_of_data(steps_total, who: str) -> None:
    need = "batches for every epoch" if steps_total is None else \
        f"at least `steps_per_epoch * epochs` batches (in this case, {steps_total} batches)"
    warnings.warn(f"{who}: your input ran out of data; interrupting. Make sure that your generator can "
                  f"generate {need}.", stacklevel=3)


def steps_for(data, steps, who: str, arg: str = "steps"):
    """The number of batches to take: `steps`, else len() of a Sequence, else Keras 2's error."""
    if steps is None:
        if is_sequence(data):
            return len(data)
        raise ValueError(f"{who}: `{arg}=None` is only valid for a generator based on the "
                         f"`keras.utils.Sequence` class. Please specify `{arg}` or use the "
                         "`keras.utils.Sequence` class.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{who}: `{arg}` must be a positive int, got {steps!r}")
    return int(steps)


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
    return loops.evaluate_generator(model, x, steps, verbose, until_exhausted=True, **_worker_kwargs(kwargs))


def predict(model, x, batch_size, verbose, steps, kwargs):
    """Model.predict(generator or Sequence, steps=None, ...): as evaluate."""
    from . import loops
    _refuse("predict", batch_size=batch_size)
    return loops.predict_generator(model, x, steps, verbose, until_exhausted=True, **_worker_kwargs(kwargs))

"""Reading batches from generators and Sequences: what the generator loops (loops.py) use.

`BatchStream` reads batches in the calling thread (workers=0) or from an enqueuer (threads, or
processes with use_multiprocessing=True), and is always closed by the loop's `with`, so no worker
outlives the call however it ends. Kept apart from data_adapters.py (which dispatches
fit/evaluate/predict to the loops) so that the loops do not import their caller.
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

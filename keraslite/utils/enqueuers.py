"""Background batch producers for fit/evaluate/predict on generators and Sequences (Keras 2's
`OrderedEnqueuer` and `GeneratorEnqueuer`).

Design rules, because a training loop can end in many ways (last step, an exception in the
generator or in a callback, KeyboardInterrupt):
- every producer puts its results in order into one bounded queue, and an error raised by the
  user's generator or `__getitem__` travels through that queue as the exception object itself, so
  the consumer re-raises it with its own type and traceback (from a worker process, where frames
  cannot travel, the remote traceback text becomes the `__cause__`);
- `stop()` is idempotent and always leaves no thread or process of ours behind; `get()` is a
  generator whose `finally` calls it, and the loops also stop explicitly in their own `finally`.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np

_POLL = 0.05  # seconds between checks of the stop flag while blocked on a queue


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a worker process."""

    def __str__(self):
        return "\n" + self.args[0]


class _Failure:
    """An exception raised by the user's data code, carried through the queue."""

    def __init__(self, exc: BaseException, remote_tb: str | None = None):
        self.exc = exc
        self.remote_tb = remote_tb

    def reraise(self):
        if self.remote_tb is not None:
            raise self.exc from RemoteTraceback(self.remote_tb)
        raise self.exc.with_traceback(self.exc.__traceback__)


class _Exhausted:
    """The generator returned: no more batches."""


_DONE = _Exhausted()


def _is_sequence(data) -> bool:
    return getattr(data, "use_sequence_api", False) or (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "__next__"))


class SequenceEnqueuer:
    """SequenceEnqueuer(sequence, use_multiprocessing=False): the base of the enqueuers.

    `start(workers=1, max_queue_size=10)`, then iterate `get()`; `stop(timeout=None)` ends the
    workers and is safe to call any number of times."""

    def __init__(self, sequence, use_multiprocessing: bool = False):
        self.sequence = sequence
        self.use_multiprocessing = bool(use_multiprocessing)
        self.workers = 0
        self.queue: queue.Queue | None = None
        self._stop_event: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def is_running(self) -> bool:
        """is_running(): True between start() and stop()."""
        return self._stop_event is not None and not self._stop_event.is_set()

    def start(self, workers: int = 1, max_queue_size: int = 10) -> None:
        """start(workers=1, max_queue_size=10): begin producing batches in the background."""
        if int(workers) < 1:
            raise ValueError(f"{type(self).__name__}.start: workers must be >= 1, got {workers}")
        if int(max_queue_size) < 1:
            max_queue_size = 1  # Keras treats 0 (or less) as "unbounded"; one slot keeps memory bounded
        self.workers = int(workers)
        self.max_queue_size = int(max_queue_size)
        self.queue = queue.Queue(self.max_queue_size)
        self._stop_event = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"keraslite-{type(self).__name__}",
                                        daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        """Put `item` unless stopped; False once stop() was called."""
        while not self._stop_event.is_set():
            try:
                self.queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer, which re-raises it
            self._put(_Failure(exc))

    def _run(self) -> None:
        raise NotImplementedError

    def get(self) -> Iterator[Any]:
        """get(): yield the batches in order; re-raise the data code's own error; end when a
        generator returns. Stops the workers when the consumer stops iterating."""
        if self.queue is None:
            raise RuntimeError(f"{type(self).__name__}.get(): call start() first")
        try:
            while True:
                try:
                    item = self.queue.get(timeout=_POLL)
                except queue.Empty:
                    if self._thread is not None and not self._thread.is_alive() and self.queue.empty():
                        return
                    continue
                if isinstance(item, _Failure):
                    item.reraise()
                if item is _DONE:
                    return
                yield item
        finally:
            self.stop()

    def stop(self, timeout: float | None = None) -> None:
        """stop(timeout=None): end the workers and wait for them (`timeout` seconds each at most)."""
        if self._stop_event is None:
            return
        self._stop_event.set()
        self._shutdown_workers()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _shutdown_workers(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Sequences: any worker can build any batch, so batches are built in parallel and kept in order

_SHARED: dict = {}  # sequences visible to forked worker processes, by enqueuer id
_uid_lock = threading.Lock()
_uid = [0]


def _next_uid() -> int:
    with _uid_lock:
        _uid[0] += 1
        return _uid[0]


def _share(uid: int, sequence) -> None:
    """Worker process initializer: make the Sequence reachable by its uid."""
    _SHARED[uid] = sequence


def _get_item(uid: int, index: int):
    """Run in a worker process: one batch, or the error with its formatted traceback."""
    try:
        return True, _SHARED[uid][index]
    except BaseException as exc:  # noqa: BLE001 - sent back to the parent, re-raised there
        text = traceback.format_exc()
        try:
            import pickle
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel becomes a RuntimeError
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return False, (exc, text)


def _mp_context():
    # fork shares the Sequence with the workers without pickling it (as Keras 2 does on POSIX)
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class OrderedEnqueuer(SequenceEnqueuer):
    """OrderedEnqueuer(sequence, use_multiprocessing=False, shuffle=False): builds the batches
    of a `keraslite.utils.Sequence` with `workers` threads (or processes) and yields them in
    order, epoch after epoch, calling `on_epoch_end()` once every batch of an epoch was built."""

    def __init__(self, sequence, use_multiprocessing: bool = False, shuffle: bool = False):
        super().__init__(sequence, use_multiprocessing)
        self.shuffle = bool(shuffle)
        self._pool = None
        self._pool_lock = threading.Lock()
        self.end_of_epoch_signal = threading.Event()  # set after each on_epoch_end()

    def join_end_of_epoch(self, timeout: float = 30) -> None:
        """join_end_of_epoch(): wait (30 s at most) until the Sequence's on_epoch_end() of the
        current epoch has run, then re-arm the signal (Keras 2.3)."""
        self.end_of_epoch_signal.wait(timeout=timeout)
        self.end_of_epoch_signal.clear()

    def _run(self) -> None:
        while not self._stop_event.is_set():
            order = list(range(len(self.sequence)))
            if not order:
                raise ValueError("The Sequence has no batches (len(sequence) == 0)")
            if self.shuffle:
                np.random.shuffle(order)
            if self.use_multiprocessing:
                self._epoch_in_processes(order)
            else:
                self._epoch_in_threads(order)
            if self._stop_event.is_set():
                return
            self.sequence.on_epoch_end()
            self.end_of_epoch_signal.set()

    def _epoch_in_threads(self, order) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="keraslite-sequence") as pool:
            with self._pool_lock:
                self._pool = pool
            try:
                self._drain(order, lambda i: pool.submit(self.sequence.__getitem__, i), lambda f: f.result())
            finally:
                with self._pool_lock:
                    self._pool = None
                pool.shutdown(wait=True, cancel_futures=True)

    def _epoch_in_processes(self, order) -> None:
        # a fresh pool per epoch: forked workers then see the Sequence as on_epoch_end left it
        uid = _next_uid()
        _SHARED[uid] = self.sequence
        # initargs travel by fork (no pickling) or, where only spawn exists, pickled once per worker
        pool = _mp_context().Pool(self.workers, initializer=_share, initargs=(uid, self.sequence))
        with self._pool_lock:
            self._pool = pool
        try:
            def fetch(result):
                while True:
                    try:
                        ok, value = result.get(_POLL)
                        break
                    except multiprocessing.TimeoutError:
                        if self._stop_event.is_set():
                            raise _Stopped() from None
                if ok:
                    return value
                exc, text = value
                raise _RemoteError(exc, text)
            self._drain(order, lambda i: pool.apply_async(_get_item, (uid, i)), fetch)
        finally:
            with self._pool_lock:
                self._pool = None
            pool.terminate()
            pool.join()
            _SHARED.pop(uid, None)

    def _drain(self, order, submit, fetch) -> None:
        """Keep up to max_queue_size batches in flight; queue them in order as they finish."""
        pending = []
        index = 0
        while (index < len(order) or pending) and not self._stop_event.is_set():
            while index < len(order) and len(pending) < self.max_queue_size:
                pending.append(submit(order[index]))
                index += 1
            try:
                value = fetch(pending.pop(0))
            except _RemoteError as remote:
                self._put(_Failure(remote.exc, remote.text))
                self._stop_event.set()
                return
            except _Stopped:
                return
            if not self._put(value):
                return

    def _shutdown_workers(self) -> None:
        with self._pool_lock:
            pool = self._pool
        if pool is not None and hasattr(pool, "terminate"):
            pool.terminate()


class _Stopped(Exception):
    """stop() was called while a worker process was still building a batch."""


class _RemoteError(Exception):
    def __init__(self, exc, text):
        super().__init__(text)
        self.exc, self.text = exc, text


# ---------------------------------------------------------------------------------------------
# generators: inherently serial, so one producer runs the generator and keeps its order

def _generator_process(generator, out_queue, stop_event) -> None:
    """Run in a worker process: send each item, then the end marker or the error."""
    try:
        for item in generator:
            while not stop_event.is_set():
                try:
                    out_queue.put((0, item), timeout=_POLL)
                    break
                except queue.Full:
                    continue
            if stop_event.is_set():
                return
        out_queue.put((1, None))
    except BaseException as exc:  # noqa: BLE001 - sent back to the parent, re-raised there
        text = traceback.format_exc()
        try:
            import pickle
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        out_queue.put((2, (exc, text)))
    finally:
        if stop_event.is_set():
            out_queue.cancel_join_thread()  # nobody reads any more: do not wait to flush
        out_queue.close()


class GeneratorEnqueuer(SequenceEnqueuer):
    """GeneratorEnqueuer(generator, use_multiprocessing=False, random_seed=None): runs a Python
    generator ahead of the training loop, in a thread or (use_multiprocessing=True) in one forked
    process, keeping its order. A generator is serial, so extra `workers` cannot make it faster
    and are not started (Keras 2 starts them and may duplicate or reorder batches)."""

    def __init__(self, generator, use_multiprocessing: bool = False, random_seed=None, wait_time=None):
        super().__init__(generator, use_multiprocessing)
        self.random_seed = random_seed
        self._process = None
        self._mp_queue = None
        self._mp_stop = None

    def _run(self) -> None:
        if self.use_multiprocessing:
            self._run_process()
            return
        for item in self.sequence:
            if not self._put(item):
                return
        self._put(_DONE)

    def _run_process(self) -> None:
        ctx = _mp_context()
        self._mp_queue = ctx.Queue(self.max_queue_size)
        self._mp_stop = ctx.Event()
        seed = self.random_seed
        self._process = ctx.Process(target=_seeded_generator_process,
                                    args=(self.sequence, self._mp_queue, self._mp_stop, seed),
                                    name="keraslite-generator", daemon=True)
        self._process.start()
        while not self._stop_event.is_set():
            try:
                kind, value = self._mp_queue.get(timeout=_POLL)
            except queue.Empty:
                if not self._process.is_alive() and self._mp_queue.empty():
                    raise RuntimeError(f"The generator process ended unexpectedly (exit code "
                                       f"{self._process.exitcode})") from None
                continue
            if kind == 0:
                if not self._put(value):
                    return
            elif kind == 1:
                self._put(_DONE)
                return
            else:
                exc, text = value
                self._put(_Failure(exc, text))
                return

    def _shutdown_workers(self) -> None:
        if self._mp_stop is not None:
            self._mp_stop.set()

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        process, q = self._process, self._mp_queue
        self._process = self._mp_queue = self._mp_stop = None
        if process is not None:
            process.join(1.0 if timeout is None else timeout)
            if process.is_alive():
                process.terminate()
                process.join()
            process.close()
        if q is not None:
            q.close()
            q.cancel_join_thread()  # items nobody will read must not keep a feeder thread alive


def _seeded_generator_process(generator, out_queue, stop_event, seed) -> None:
    if seed is not None:
        np.random.seed(seed)
    _generator_process(generator, out_queue, stop_event)

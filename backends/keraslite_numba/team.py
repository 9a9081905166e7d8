"""A team of threads that runs one serial Numba kernel on every chunk of its work.

The CPU kernels are compiled serial (``nogil=True``) with two leading arguments ``(chunk,
nchunks)``: each call does the share ``[chunk * n // nchunks, (chunk + 1) * n // nchunks)`` of its
outer loop. ``run(kernel, nchunks, *args)`` calls chunk 0 on the calling thread and the others on
worker threads, and returns when all are done.

Why not Numba's ``parallel=True``: a prange kernel costs 2-3x the cold compile time of the same
loop compiled serial (its body is typed and compiled a second time as a gufunc; measured 2.0 s
against 0.6 s CPU for the batchnorm kernel), and the tutorial convnet's first step compiled six
of them. Chunks are fixed by ``nchunks`` alone, never by which thread runs them, so results do not
depend on timing, on the number of live threads or on whether the team was busy.

The workers block on a queue between calls (no spinning), so BLAS may use the same cores between
kernels (threads.py). A call made while another thread is using the team, or from inside a
worker, runs every chunk on the calling thread: same results, no deadlock.
"""
from __future__ import annotations

import os
import queue
import threading

_lock = threading.Lock()
_workers: list = []
_pid = None
_inside = threading.local()


def num_threads() -> int:
    """The thread count the CPU backend is configured for (keraslite.config.set_num_threads)."""
    import numba
    return numba.get_num_threads()


def _worker(inbox: queue.SimpleQueue, outbox: queue.SimpleQueue):
    _inside.flag = True
    while True:
        job = inbox.get()
        if job is None:
            return
        kernel, chunk, nchunks, args = job
        try:
            kernel(chunk, nchunks, *args)
            outbox.put(None)
        except BaseException as e:  # handed to the caller, which re-raises it
            outbox.put(e)


def _team(n: int) -> list:
    """At least n-1 workers (created on first need; again after a fork, which keeps no threads)."""
    global _pid
    if _pid != os.getpid():
        _workers.clear()
        _pid = os.getpid()
    while len(_workers) < n - 1:
        inbox, outbox = queue.SimpleQueue(), queue.SimpleQueue()
        t = threading.Thread(target=_worker, args=(inbox, outbox), daemon=True,
                             name=f"keraslite-numba-{len(_workers) + 1}")
        t.start()
        _workers.append((inbox, outbox))
    return _workers


def run(kernel, nchunks: int, *args) -> None:
    """kernel(chunk, nchunks, *args) for chunk in range(nchunks), spread over the team."""
    if nchunks <= 1:
        kernel(0, 1, *args)
        return
    if getattr(_inside, "flag", False) or not _lock.acquire(blocking=False):
        for c in range(nchunks):
            kernel(c, nchunks, *args)
        return
    try:
        workers = _team(min(nchunks, num_threads()))
        nw = min(len(workers), nchunks - 1)
        # chunk c runs on worker (c - 1) % nw, chunk 0 and every (nw+1)-th on the caller: with
        # nchunks == threads each thread does one chunk
        jobs = [[] for _ in range(nw)]
        mine = []
        for c in range(nchunks):
            r = c % (nw + 1)
            (mine if r == 0 else jobs[r - 1]).append(c)
        for w, cs in enumerate(jobs):
            for c in cs:
                workers[w][0].put((kernel, c, nchunks, args))
        error = None
        try:
            for c in mine:
                kernel(c, nchunks, *args)
        except BaseException as e:
            error = e
        for w, cs in enumerate(jobs):
            for _ in cs:
                e = workers[w][1].get()
                if e is not None and error is None:
                    error = e
        if error is not None:
            raise error
    finally:
        _lock.release()


def chunks(n_items: int, min_per_chunk: int = 1) -> int:
    """How many chunks to cut n_items into: one per thread, at least min_per_chunk items each."""
    return max(1, min(num_threads(), n_items // max(1, min_per_chunk)))

"""Compile workers forked from this process (coldstart.py starts them).

A worker started as a fresh interpreter spends ~0.6 s of CPU importing Numba and setting it up
(LLVM, the runtime, the typing registries) before its first compile. Forked from this process
once `prime()` has done that set-up here, it compiles from the first moment, and the set-up is
paid once for both (on a cold cache the first worker's start primes, at the model's first
convolution node or the first plan's build: its ~0.5 s moves from the first step to there). A
fork is only safe without other threads and without an OpenMP pool (`forkable`); otherwise
coldstart spawns the worker as before. The child runs
compile_worker.main on its task pipe and leaves by os._exit: no exit handler of the user's
program runs in it.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import threading
import time

from . import coldstart


def forkable() -> bool:
    """Whether a worker can be forked from this process (it then starts with Numba imported and
    initialised: ~0.6 s of CPU less than a fresh interpreter): POSIX fork, no other Python
    thread (a fork copies only this one; a lock another thread holds would stay held in the
    child), Numba's thread pool not started (an OpenMP runtime does not survive a fork), no
    kernel lock held (the child would hold a copy). KERASLITE_COMPILE_FORK=0 turns it off."""
    if not hasattr(os, "fork") or os.environ.get("KERASLITE_COMPILE_FORK") == "0" or coldstart._held[0]:
        return False
    if threading.active_count() > 1:
        return False
    par = sys.modules.get("numba.np.ufunc.parallel")
    return not getattr(par, "_is_initialized", False)


def prime() -> None:
    """Import Numba and compile one trivial function (uncached): its one-time set-up (LLVM, the
    runtime, the typing registries, ~0.6 s of CPU) is then done once for this process and the
    workers forked from it."""
    from numba import njit

    def one(x):
        return x + 1
    njit(cache=False)(one)(1)


class Forked:
    """A worker forked from this process (fork()), with the part of subprocess.Popen's interface
    that coldstart uses: stdin (its task pipe), poll, wait, terminate, kill."""

    def __init__(self, pid: int, stdin):
        self.pid, self.stdin, self.returncode = pid, stdin, None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"compile worker {self.pid}", timeout)
            time.sleep(0.01)
        return self.returncode

    def _signal(self, sig):
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self):
        self._signal(signal.SIGTERM)

    def kill(self):
        self._signal(signal.SIGKILL)


def fork(keys, quiet: bool = True, feed: bool = True) -> Forked:
    """As coldstart.spawn(quiet=True, feed=True), by forking this process after prime(): the worker starts
    compiling at once, with Numba set up, instead of ~0.6 s later. The child runs
    compile_worker.main on its task pipe and leaves by os._exit (none of this process's exit
    handlers runs in it)."""
    prime()
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker
        rc = 1
        try:
            # this process's objects are never collected here: a file object of the parent's,
            # finalized in the child, would close a descriptor the child has reused
            gc.freeze()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            if r != 0:  # the task pipe as stdin
                os.dup2(r, 0)
                os.close(r)
            # the write ends of this pipe and of other workers': each worker must see EOF when
            # the parent closes its end (their objects stay referenced until os._exit)
            inherited = list(coldstart._workers)
            os.close(w)
            for p in inherited:
                with contextlib.suppress(AttributeError, OSError, ValueError):
                    os.close(p.stdin.fileno())
            if quiet:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 1)
                os.dup2(null, 2)
                os.close(null)
            for state in (coldstart._workers, coldstart._pending, coldstart._wanted, coldstart._owner):
                state.clear()
            os.environ["KERASLITE_COMPILE_WORKERS"] = "0"  # a worker starts no workers of its own
            from numba.core import config
            from numba.np.ufunc import parallel
            config.NUMBA_NUM_THREADS = parallel.NUM_THREADS = 1  # as spawn's: the code is the same
            from . import compile_worker
            rc = compile_worker.main([f"--idle={coldstart.WORKER_IDLE}", *keys], feed_fd=0)
        finally:
            os._exit(rc)
    os.close(r)
    return Forked(pid, os.fdopen(w, "wb"))


coldstart.FORK[:] = [forkable, fork]

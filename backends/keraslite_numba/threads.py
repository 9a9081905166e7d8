"""One pool of busy threads at a time: Numba's OpenMP workers and BLAS's workers never contend.

Both thread pools spin after their work (OpenMP for GOMP_SPINCOUNT iterations, OpenBLAS for
about 2^28 cycles, OPENBLAS_THREAD_TIMEOUT). A plan alternates Numba kernels and BLAS calls, so
with both pools at 2 threads on 2 cores each pool's spinning workers steal the cores the other
needs: measured on 2 cores, a tiny Numba kernel plus a small matmul cost 6-9 ms per pair instead
of 0.03 ms, and the tutorial convnet's step went from 23 ms to 80-170 ms.

So while a plan runs, BLAS is limited to one thread (the calling thread: no BLAS worker wakes, so
none spins), and parallelism comes from Numba's pool alone. The BLAS setting is restored when the
plan returns, so the user's own NumPy code keeps its threads. Switching costs ~1 us (a direct call
into the BLAS library found by threadpoolctl, located once).

``GOMP_SPINCOUNT`` (read when Numba starts its OpenMP pool, at the first parallel kernel) gets a
default of 30000 unless the user set it or OMP_WAIT_POLICY: back-to-back kernels still find the
workers awake, and a worker stops spinning within ~30 us of the last kernel instead of ~1 ms, so
it leaves the core to whatever runs next (BLAS in another thread, the user's code).
"""
from __future__ import annotations

import os

_controllers = None
_entered: list = []  # the restore lists of the SerialBlas contexts now open, outermost first


def set_openmp_defaults() -> None:
    if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "30000"


def _blas():
    """The BLAS libraries loaded in the process (threadpoolctl controllers), found once."""
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController
            _controllers = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]
        except Exception:  # threadpoolctl missing or unable to inspect: nothing to limit
            _controllers = []
    return _controllers


def rescan() -> None:
    """Find the BLAS libraries again after one was loaded (SciPy's, by the GEMM kernels); inside a
    SerialBlas context a new library goes serial at once and is restored when the context exits."""
    global _controllers
    known = {c.filepath for c in (_controllers or ())}
    _controllers = None
    for c in _blas():
        if c.filepath not in known and _entered:
            n = c.get_num_threads()
            if n is not None and n != 1:
                c.set_num_threads(1)
                _entered[0].append((c, n))


def serial_blas() -> bool:
    """Whether a SerialBlas context is open (BLAS on the calling thread only): a kernel may then
    call BLAS from several Numba threads at once."""
    return bool(_entered)


class SerialBlas:
    """Context manager (one per use; nests): BLAS runs on the calling thread only inside it."""

    __slots__ = ("_saved",)

    def __enter__(self):
        saved = []
        for c in _blas():
            n = c.get_num_threads()
            if n is not None and n != 1:
                c.set_num_threads(1)
                saved.append((c, n))
        self._saved = saved
        _entered.append(saved)
        return self

    def __exit__(self, *exc):
        for i in range(len(_entered) - 1, -1, -1):  # by identity: contexts of two threads may close out of order
            if _entered[i] is self._saved:
                del _entered[i]
                break
        for c, n in self._saved:
            c.set_num_threads(n)
        return False

"""Process-wide runtime settings that are not part of the Keras backend API.

Threads: the CPU backend's Numba kernels use `numba.get_num_threads()` threads (the
NUMBA_NUM_THREADS environment variable sets the default); `set_num_threads(n)` changes it and
limits the BLAS library to the same count, so that a plan alternating between Numba kernels and
BLAS calls never runs more threads than asked for. While a plan runs, the Numba backend further
keeps BLAS on the calling thread, so that only one pool of threads is ever busy (two spinning
pools on the same cores cost milliseconds per switch; keraslite_numba/threads.py).
"""
from __future__ import annotations


def set_num_threads(n: int) -> None:
    """set_num_threads(n): threads used by the CPU backend (Numba kernels and BLAS)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n}")
    import numba
    if n > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"set_num_threads: at most {numba.config.NUMBA_NUM_THREADS} threads are available "
                         "(raise NUMBA_NUM_THREADS before starting Python to allow more)")
    numba.set_num_threads(n)
    _limit_blas(n)


def get_num_threads() -> int:
    """get_num_threads(): threads used by the CPU backend."""
    import numba
    return numba.get_num_threads()


def _limit_blas(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl BLAS keeps its own setting (OPENBLAS_NUM_THREADS)
        return
    threadpool_limits(limits=n, user_api="blas")


def enable_unsafe_deserialization() -> None:
    """enable_unsafe_deserialization(): Keras 3's process-wide switch to safe_mode=False: model
    files and configs may then name functions of any imported module in Lambda layers. Only for
    files you trust; Python bytecode is never run. (keraslite.serialization holds the policy.)"""
    from .serialization import enable_unsafe_deserialization as enable
    enable()


def in_safe_mode() -> bool:
    """in_safe_mode(): whether configs may name only offered objects and keraslite's own."""
    from .serialization import in_safe_mode as current
    return current()

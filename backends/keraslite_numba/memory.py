"""Keep freed memory in the process for reuse.

A training step allocates the same large activations every step. glibc hands large blocks back
to the kernel when they are freed, so each step pays a page fault per newly touched 4 KiB page
(thousands per step). Raising the mmap and trim thresholds keeps those pages mapped and the next
step's allocations reuse them. Linux/glibc only; elsewhere this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Ask glibc to serve allocations below `limit_bytes` from the heap and not to trim it."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_THRESHOLD, min(limit_bytes, 1 << 30)) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, 2 * min(limit_bytes, 1 << 30)) == 1 and ok
    _done = ok
    return ok


def release_freed_memory() -> bool:
    """Hand the whole pages of freed heap memory back to the kernel (glibc's malloc_trim).

    keep_freed_memory keeps them mapped for reuse by the next step's allocations; once a plan's
    memory is laid out (the compiler's arena) the first run's freed activations would otherwise
    stay resident beside the arena. Linux/glibc only; elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))

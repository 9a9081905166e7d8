"""Seconds this process has spent compiling kernels (backends add to it; progress bars leave it
out of their time estimates, since compilation happens once, on the first steps)."""
from __future__ import annotations

import threading

_lock = threading.Lock()
_seconds = 0.0


def add(seconds: float) -> None:
    """Count `seconds` of kernel compilation (or of waiting for another process's)."""
    global _seconds
    with _lock:
        _seconds += float(seconds)


def total() -> float:
    """Seconds spent compiling kernels so far in this process."""
    return _seconds

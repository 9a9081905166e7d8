"""Shared helpers for the benchmark scripts: timing medians and table printing."""
from __future__ import annotations

import os
import platform
import statistics
import time


def median_time(fn, repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of fn() in seconds over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_or_none(threads: int):
    """PyTorch with `threads` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def machine_line() -> str:
    try:
        import numba
        threads = numba.get_num_threads()
    except Exception:
        threads = "?"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {threads} Numba threads, Python {platform.python_version()}"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")

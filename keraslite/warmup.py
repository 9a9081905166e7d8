"""python -m keraslite.warmup [--float64] [--workers N]: compile the CPU backend's kernels for this
CPU into the disk cache now, so that the first training step of every later process starts at
once. Fused elementwise kernels, generated per model, still compile on their first use."""
from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    """Compile every kernel family of the numba backend, parallel kernels and their serial twins
    (float32, and float64 if asked)."""
    ap = argparse.ArgumentParser(prog="python -m keraslite.warmup", description=__doc__)
    ap.add_argument("--float64", action="store_true", help="also compile the float64 kernels")
    ap.add_argument("--workers", type=int, default=None, help="processes to compile in (default: one per CPU)")
    args = ap.parse_args(argv)
    # this process compiles (and waits for its own workers): no import-time background worker,
    # which the exit would stop halfway through a family this process skipped for it
    os.environ["KERASLITE_COMPILE_WORKERS"] = "0"
    try:
        from keraslite_numba import coldstart, compile_worker, warmup
    except ImportError as e:
        print(f"keraslite.warmup: the numba backend is not importable ({e})", file=sys.stderr)
        return 1
    # the serial twins too: a process whose workers are still compiling a parallel kernel runs its twin
    keys = warmup.all_keys(("f", "d") if args.float64 else ("f",), serial=True)
    todo = [k for k in keys if not coldstart.is_done(k)]
    if not todo:
        print(f"keraslite.warmup: all {len(keys)} kernel families are already compiled for this CPU")
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    n = max(1, min(len(todo), args.workers if args.workers is not None else cpus))
    if n > 1 and coldstart.fcntl is None:
        n = 1
    print(f"{coldstart.NOTICE}: {len(todo)} kernel families in {n} process(es)", flush=True)
    t = time.perf_counter()
    procs = [coldstart.spawn(todo[w::n]) for w in range(1, n)]
    rc = compile_worker.main(todo[0::n])
    for p in procs + list(coldstart._workers):  # and any started before main() was called
        rc = p.wait() or rc
    print(f"keraslite.warmup: done in {time.perf_counter() - t:.1f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

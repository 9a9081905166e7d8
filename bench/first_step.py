"""First training steps of the tutorial convnet: the cold-cache cost (a fresh Numba and keraslite
kernel cache) and the warm-cache cost, each in a fresh process, with the slowest plan steps'
first-call times (where compile time goes).

Run: python bench/first_step.py [--warm] [-v]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", action="store_true", help="use the existing caches instead of empty ones")
    ap.add_argument("-v", action="store_true", help="print the slowest first calls of plan steps")
    args = ap.parse_args()
    if not args.warm:  # before Numba is imported: it reads NUMBA_CACHE_DIR once
        d = tempfile.mkdtemp(prefix="keraslite-cold-")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(d, "numba")
        os.environ["KERASLITE_CACHE_DIR"] = os.path.join(d, "keraslite")
    t_start = time.perf_counter()
    import numpy as np

    import keraslite
    from keraslite.backend import compiler
    t_import = time.perf_counter() - t_start
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from tutorial import convmodel

    records = []
    plain_run = compiler.Plan._run

    def timed_run(self, feeds):  # the first run of each plan times every step once
        if getattr(self, "_timed", False):
            return plain_run(self, feeds)
        self._timed = True
        originals = [s.fn for s in self.steps]
        for step in self.steps:
            def wrapped(*arrays, _fn=step.fn, _op=step.op):
                t = time.perf_counter()
                out = _fn(*arrays)
                records.append((time.perf_counter() - t, _op, tuple(getattr(a, "shape", ()) for a in arrays)))
                return out
            step.fn = wrapped
        try:
            return plain_run(self, feeds)
        finally:
            for step, fn in zip(self.steps, originals):
                step.fn = fn

    compiler.Plan._run = timed_run
    x = np.random.normal(20, 3, size=(50, 32, 32, 3)).astype("float32")
    y = keraslite.utils.to_categorical(np.random.randint(10, size=(50, 1)), num_classes=10)
    model = convmodel()
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    t1 = time.perf_counter()
    model.train_on_batch(x, y)
    t2 = time.perf_counter()
    kind = "warm" if args.warm else "cold"
    print(f"# bench/first_step.py ({kind} cache): import {t_import:.2f} s, first step {t1 - t0:.2f} s, "
          f"second step {t2 - t1:.3f} s")
    if args.v:
        for t, op, shapes in sorted(records, key=lambda r: -r[0])[:30]:
            print(f"{t:7.3f} s  {op[:60]:60s} {shapes}")


if __name__ == "__main__":
    main()

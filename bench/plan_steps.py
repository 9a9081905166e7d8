"""Where a steady-state training step goes: the time of each plan step, in one process.

Builds the MLP of bench/mlp.py (784-512-512-10, relu, relu, softmax, Adam, batch 128), the
tutorial convnet or bench/resnet50.py's ResNet50, trains a few warm-up batches, then runs the
training function `--steps` more times with every plan step timed (perf_counter around each
backend call) and prints, per step of the plan, the median milliseconds, the share of the step,
and the op, after the totals per kind of op. The sum of step medians
is printed with the median wall time of whole calls (the difference is the plan's own overhead:
Python loop, commit, conversions). Less sensitive to a loaded machine than samples/s: a spike
moves one sample of one step, not the median.

Run: PYTHONPATH=.:backends python bench/plan_steps.py [--model mlp|convnet|resnet50] [--steps 200] [--backend numba]
     [--predict]   (the prediction function's plan: predict_on_batch)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _model(name):
    if name == "mlp":
        from keraslite.layers import Dense
        from keraslite.models import Sequential
        model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                            Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        return model, rng.random((128, 784), dtype=np.float32), np.eye(10, dtype="float32")[rng.integers(10, size=128)]
    import _frameworks as fw
    if name == "resnet50":  # bench/resnet50.py's model: the tutorial's ResNet50, 64x64x3, batch 32, Adam
        model = fw.examples_module("resnet50").ResNet50(input_shape=(64, 64, 3), classes=6)
        model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        return model, rng.random((32, 64, 64, 3), dtype=np.float32), np.eye(6, dtype="float32")[rng.integers(6, size=32)]
    model = fw.examples_module("tutorial").convmodel()
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(20, 3, size=(50, 32, 32, 3)).astype("float32")
    return model, x, np.eye(10, dtype="float32")[rng.integers(10, size=50)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp", choices=("mlp", "convnet", "resnet50"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--predict", action="store_true", help="the prediction function's plan instead of training's")
    args = ap.parse_args()
    import keraslite
    keraslite.set_backend(args.backend)
    model, x, y = _model(args.model)
    call = (lambda: model.predict_on_batch(x)) if args.predict else (lambda: model.train_on_batch(x, y))
    for _ in range(5):
        call()
    plan = (model.predict_function if args.predict else model.train_function).last_plan
    times = [[] for _ in plan.steps]
    for k, step in enumerate(plan.steps):
        def timed(*a, _fn=step.fn, _t=times[k], **kw):
            t = time.perf_counter()
            out = _fn(*a, **kw)
            _t.append(time.perf_counter() - t)
            return out
        step.fn = timed
    walls = []
    for _ in range(args.steps):
        t = time.perf_counter()
        call()
        walls.append(time.perf_counter() - t)
    rows = [(statistics.median(t) * 1e3 if t else 0.0, min(t) * 1e3 if t else 0.0, k, s)
            for k, (t, s) in enumerate(zip(times, plan.steps))]
    total = sum(r[0] for r in rows)
    total_min = sum(r[1] for r in rows)
    print(f"# {args.model}{' predict' if args.predict else ''} on {args.backend}: {len(plan.steps)} plan steps, {args.steps} timed calls")
    print(f"# call: median {statistics.median(walls) * 1e3:.3f} ms, min {min(walls) * 1e3:.3f} ms; "
          f"sum of step medians {total:.3f} ms, of step minima {total_min:.3f} ms")
    by_op: dict = {}
    for ms, _, _, s in rows:  # per op kind: total median ms and step count
        kind = s.op.split("[")[0]
        t, n = by_op.get(kind, (0.0, 0))
        by_op[kind] = (t + ms, n + 1)
    print("# per op: " + "; ".join(f"{k} {t:.2f} ms ({n})" for k, (t, n) in
                                  sorted(by_op.items(), key=lambda kv: -kv[1][0])[:12]))
    print("  median      min  share  step op (result shape)")
    for ms, lo, k, s in sorted(rows, reverse=True)[:args.top]:
        node = s.node[0] if isinstance(s.node, list) else s.node
        print(f"{ms:8.3f} {lo:8.3f} {100 * ms / total:5.1f}%  #{k:<3d} {s.op[:60]} {tuple(getattr(node, 'shape', ()))}")


if __name__ == "__main__":
    main()

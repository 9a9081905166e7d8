"""Where a training step of the MLP 784-512-512-10 (Adam, batch 128) spends its time in the
optimizer update: the plan's elementwise steps that only feed variable updates (the learning-rate
scalars, the per-variable update kernels, or their batched form) and the update steps, timed one
by one inside real training steps.

Each step's callable is wrapped with a timer; the first `--warmup` steps (compilation, memory
layout) are left out; the figures are medians over `--steps` training steps, per round, and the
median of the rounds. Works on any tree that has `compiler.Plan` (to compare branches).

Run: python bench/optimizer_update.py [--optimizer adam] [--rounds 5] [--steps 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def update_part(plan) -> list[int]:
    """Indices of the steps that only feed variable updates: elementwise kernels (fused, batched)
    and the update steps, found backwards from the update values."""
    readers: dict[int, list[int]] = {}
    for k, step in enumerate(plan.steps):
        for s in step.in_slots:
            readers.setdefault(s, []).append(k)
    update_values = {s for _, s in plan.updates}
    part: set[int] = set()
    for k in reversed(range(len(plan.steps))):
        step = plan.steps[k]
        outs = step.out_slot if type(step.out_slot) is tuple else (step.out_slot,)
        elementwise = step.op.startswith(("fused", "batch")) or step.op == "update"
        if not elementwise:
            continue
        if step.op == "update" or all(s in update_values or (readers.get(s) and all(r in part for r in readers[s]))
                                      for s in outs):
            part.add(k)
    return sorted(part)


class _Timed:
    def __init__(self, fn, acc, k):
        self.fn, self.acc, self.k = fn, acc, k

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        out = self.fn(*args, **kwargs)
        self.acc[self.k] += time.perf_counter() - t0
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    from keraslite.layers import Dense
    from keraslite.models import Sequential

    rng = np.random.default_rng(0)
    model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer=args.optimizer, loss="categorical_crossentropy")
    x = rng.random((128, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(10, size=128)]
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    plan = model.train_function.last_plan
    part = update_part(plan)
    acc = [0.0] * len(plan.steps)
    for k, step in enumerate(plan.steps):
        step.fn = _Timed(step.fn, acc, k)
    kernels = [plan.steps[k].op for k in part if plan.steps[k].op != "update"]
    print(f"optimizer {args.optimizer}: {len(plan.steps)} plan steps, {len(part)} in the update part, "
          f"{len(kernels)} of them kernels:")
    for name in kernels:
        print(f"  {name[:110]}")
    upd, whole, kern = [], [], []
    for _ in range(args.rounds):
        per_update, per_step, per_kernel = [], [], []
        for _ in range(args.steps):
            acc[:] = [0.0] * len(acc)
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            per_step.append(time.perf_counter() - t0)
            per_update.append(sum(acc[k] for k in part))
            per_kernel.append(sum(acc[k] for k in part if plan.steps[k].op != "update"))
        upd.append(statistics.median(per_update))
        kern.append(statistics.median(per_kernel))
        whole.append(statistics.median(per_step))
    med = statistics.median
    print(f"update part per step:   {med(upd) * 1e6:8.1f} us median of {args.rounds} rounds "
          f"(min {min(upd) * 1e6:.1f}, max {max(upd) * 1e6:.1f})")
    print(f"  of which kernels:     {med(kern) * 1e6:8.1f} us")
    print(f"whole train_on_batch:   {med(whole) * 1e6:8.1f} us (min {min(whole) * 1e6:.1f}, "
          f"max {max(whole) * 1e6:.1f})")


if __name__ == "__main__":
    main()

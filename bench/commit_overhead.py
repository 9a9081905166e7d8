"""What the interrupt-safe commit (keraslite/backend/commit.py) costs per training step.

Two numbers: the fixed cost of holding SIGINT back (swap_in against a plain assignment loop, on
one pair and on the ~100 pairs of a small model), and whole training steps of a small MLP with
the safe commit against the same steps with the plain loop patched in, interleaved in rounds so
that load on the machine hits both alike.

Run: python bench/commit_overhead.py [--backend numpy|numba] [--rounds 7]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _plain(pending, assign):
    for target, value in pending:
        assign(target, value)


def _per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="numba")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    import keraslite
    from keraslite.backend import commit, compiler
    from keraslite.layers import Dense, Input
    from keraslite.models import Model
    keraslite.set_backend(args.backend)

    inp = Input((32,))
    h = inp
    for _ in range(12):
        h = Dense(32, activation="relu")(h)
    model = Model(inp, Dense(1)(h))
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(64, 32)).astype("float32")
    y = x[:, :1].copy()
    f = model._make_train_function()
    feeds = [x, y, np.ones((64,), np.float32)]
    for _ in range(20):
        f(feeds)
    plan = f.last_plan
    pairs = [(v, v.native(plan.backend)) for v, _ in plan.updates]

    fixed, many, safe_steps, plain_steps = [], [], [], []
    for _ in range(args.rounds):
        fixed.append(_per_call(lambda: commit.swap_in(pairs[:1], plan._assign), 20000)
                     - _per_call(lambda: _plain(pairs[:1], plan._assign), 20000))
        many.append(_per_call(lambda: commit.swap_in(pairs, plan._assign), 2000)
                    - _per_call(lambda: _plain(pairs, plan._assign), 2000))
        compiler.swap_in = _plain
        plain_steps.append(_per_call(lambda: f(feeds), 200))
        compiler.swap_in = commit.swap_in
        safe_steps.append(_per_call(lambda: f(feeds), 200))
    med = statistics.median
    print(f"backend {args.backend}: {len(pairs)} variables committed per step")
    print(f"hold-back cost, 1 pair:        {med(fixed) * 1e6:6.2f} us median, {min(fixed) * 1e6:6.2f} us best "
          f"of {args.rounds}")
    print(f"hold-back cost, {len(pairs)} pairs:    {med(many) * 1e6:6.2f} us median, {min(many) * 1e6:6.2f} us best")
    print(f"training step, plain loop:     {med(plain_steps) * 1e6:8.1f} us")
    print(f"training step, safe commit:    {med(safe_steps) * 1e6:8.1f} us "
          f"(difference {(med(safe_steps) - med(plain_steps)) * 1e6:+.1f} us, within the noise of the step)")


if __name__ == "__main__":
    main()

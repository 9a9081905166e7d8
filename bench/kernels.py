"""Kernel benchmarks at the tutorial convnet's shapes: conv2d forward+backward, max pooling,
batch norm (training) and a fused elementwise chain, through K.function on every usable backend,
beside the same work in PyTorch (same thread count) when it is installed.

Run: python bench/kernels.py [--repeats 7]
"""
from __future__ import annotations

import argparse
import statistics
import time
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line, print_table, torch_or_none  # noqa: E402

import keraslite  # noqa: E402
from keraslite import backend as K  # noqa: E402

# (name, x shape NHWC, kernel (kh, kw, cin, cout))
CONVS = [("conv1 50x38x38x3 -> 32", (50, 38, 38, 3), (3, 3, 3, 32)),
         ("conv2 50x17x17x32 -> 64", (50, 17, 17, 32), (3, 3, 32, 64))]


def k_cases():
    """(name, K function, feeds, torch closure factory) for each benchmarked op."""
    rng = np.random.default_rng(0)
    cases = []
    for name, xs, ks in CONVS:
        xv = rng.normal(size=xs).astype("float32")
        kv = (rng.normal(size=ks) * 0.1).astype("float32")
        x = K.placeholder(shape=(None,) + xs[1:])
        k = K.variable(kv)
        y = K.conv2d(x, k)
        gx, gk = K.gradients(K.sum(y * y), [x, k])
        cases.append((f"{name} fwd", K.function([x], [y]), [xv], ("conv_fwd", xv, kv)))
        cases.append((f"{name} fwd+bwd", K.function([x], [y, gx, gk]), [xv], ("conv_fwdbwd", xv, kv)))
    xv = rng.normal(size=(50, 36, 36, 32)).astype("float32")
    x = K.placeholder(shape=(None, 36, 36, 32))
    p = K.pool2d(x, (3, 3), strides=(2, 2))
    gp, = K.gradients(K.sum(p * p), [x])
    cases.append(("maxpool 3x3/2 50x36x36x32 fwd+bwd", K.function([x], [p, gp]), [xv], ("pool", xv, None)))
    gamma, beta = K.variable(np.ones(32, "float32")), K.variable(np.zeros(32, "float32"))
    n, m, v = K.normalize_batch_in_training(x, gamma, beta, [0, 1, 2])
    gn = K.gradients(K.sum(n * n), [x, gamma, beta])
    cases.append(("batchnorm 50x36x36x32 fwd+bwd", K.function([x], [n] + gn), [xv], ("bn", xv, None)))
    b = K.variable(np.zeros(32, "float32"))
    chain = K.relu(x * 1.5 + b) * 0.5 - K.sigmoid(x)
    cases.append(("fused bias+relu+sigmoid chain", K.function([x], [chain]), [xv], ("chain", xv, None)))
    return cases


def torch_fn(torch, spec):
    kind, xv, kv = spec
    F = torch.nn.functional
    x = torch.from_numpy(np.ascontiguousarray(xv.transpose(0, 3, 1, 2))).contiguous()
    if kind in ("conv_fwd", "conv_fwdbwd"):
        w = torch.from_numpy(np.ascontiguousarray(kv.transpose(3, 2, 0, 1))).contiguous()
        if kind == "conv_fwd":
            return lambda: F.conv2d(x, w)
        xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()

        def step():
            xr.grad = wr.grad = None
            y = F.conv2d(xr, wr)
            (y * y).sum().backward()
        return step
    xr = x.clone().requires_grad_()
    if kind == "pool":
        def step():
            xr.grad = None
            y = F.max_pool2d(xr, 3, 2)
            (y * y).sum().backward()
        return step
    if kind == "bn":
        g = torch.ones(32, requires_grad=True)
        b = torch.zeros(32, requires_grad=True)

        def step():
            xr.grad = g.grad = b.grad = None
            y = F.batch_norm(xr, None, None, g, b, training=True, eps=1e-3)
            (y * y).sum().backward()
        return step
    bias = torch.zeros(1, 32, 1, 1)
    return lambda: torch.relu(x * 1.5 + bias) * 0.5 - torch.sigmoid(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--only", default="", help="run only the cases whose name contains this text")
    args = ap.parse_args()
    import numba
    threads = numba.get_num_threads()
    torch = torch_or_none(threads)
    print(f"# bench/kernels.py — {machine_line()}; torch {'absent' if torch is None else torch.__version__}")
    backends = keraslite.available_backends()
    # every case of every backend and of torch, timed round-robin (one call of each per round,
    # after one untimed call that follows the switch) so that machine noise hits all alike
    runners = {}
    names = None
    for be in backends:
        with keraslite.use_backend(be):
            cases = [c for c in k_cases() if args.only in c[0]]
            names = [c[0] for c in cases]
            for name, f, feeds, spec in cases:
                runners[(be, name)] = (be, (lambda f=f, feeds=feeds: f(feeds)))
                if torch is not None and ("torch", name) not in runners:
                    runners[("torch", name)] = (None, torch_fn(torch, spec))
    times = {k: [] for k in runners}
    for key, (be, fn) in runners.items():  # compile / warm up
        with keraslite.use_backend(be or backends[0]):
            fn()
            fn()
    for _ in range(args.repeats):
        for key, (be, fn) in runners.items():
            with keraslite.use_backend(be or backends[0]):
                fn()
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
    results = {k: statistics.median(v) for k, v in times.items()}
    header = ["op"] + [f"{b} ms" for b in backends] + (["torch ms", "numba/torch"] if torch else [])
    rows = []
    for name in names:
        row = [name] + [f"{results[(b, name)] * 1e3:.2f}" for b in backends]
        if torch is not None:
            t = results[("torch", name)]
            row += [f"{t * 1e3:.2f}", f"{results[('numba', name)] / t:.2f}x" if "numba" in backends else "-"]
        rows.append(row)
    print_table(f"medians of {args.repeats} interleaved rounds (ratio > 1: keraslite slower)", header, rows)


if __name__ == "__main__":
    main()

"""Raw Numba kernels (backends/keraslite_numba/kernels) against PyTorch CPU eager, op by op.

Shapes are those of the tutorial convnet: input (50, 32, 32, 3) -> ZeroPadding 3 -> conv1 3x3x32
-> BN -> ReLU -> maxpool 3x3/2 -> conv2 3x3x64 -> BN -> ReLU -> maxpool 3x3/2 -> Dense.

Each figure is the median of --repeats timed runs after warm-up, keraslite and torch runs
interleaved so that both see the same machine load. torch gets the same number of threads as
Numba and NCHW tensors made contiguous beforehand (its default layout); backward ops call the
aten backward kernels directly, so the forward is not timed. keraslite kernels write into
preallocated outputs (out=), as a compiled plan does. The "torch NHWC" column is torch with
channels_last tensors, for reference; the ratio is against the NCHW column.

Run: python bench/kernels_numba_raw.py [--repeats 15] [--threads N]
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np

_KDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "backends",
                     "keraslite_numba", "kernels")
# the kernels import keraslite_numba.llvmattrs: the in-tree package must win over an installed one
sys.path.insert(0, os.path.normpath(os.path.join(_KDIR, os.pardir, os.pardir)))


def _load(name):
    full = f"keraslite_numba.kernels.{name}"
    if full in sys.modules:
        return sys.modules[full]
    spec = importlib.util.spec_from_file_location(full, os.path.join(_KDIR, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[full] = mod
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    import numba
    if args.threads:
        numba.set_num_threads(args.threads)
    import torch
    import torch.nn.functional as F
    nthreads = numba.get_num_threads()
    torch.set_num_threads(nthreads)

    conv = _load("conv")
    pool = _load("pool")
    bn = _load("batchnorm")
    rng = np.random.default_rng(0)
    f32 = np.float32

    def nchw(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    def nhwc(a):
        return nchw(a).contiguous(memory_format=torch.channels_last)

    rows = []

    def bench(name, ours, theirs, theirs_cl=None):
        fns = [ours, theirs] + ([theirs_cl] if theirs_cl else [])
        for f in fns:  # warm-up (and compile)
            for _ in range(3):
                f()
        times = [[] for _ in fns]
        for _ in range(args.repeats):
            for i, f in enumerate(fns):
                t0 = time.perf_counter()
                f()
                times[i].append(time.perf_counter() - t0)
        med = [float(np.median(t)) * 1e3 for t in times]
        rows.append((name, med[0], med[1], med[2] if theirs_cl else float("nan")))
        print(f"  {name}: done", file=sys.stderr)

    V = ((0, 0), (0, 0))
    for tag, xs, co in (("conv1", (50, 38, 38, 3), 32), ("conv2", (50, 17, 17, 32), 64)):
        x = rng.standard_normal(xs).astype(f32)
        w = (rng.standard_normal((3, 3, xs[3], co)) * 0.1).astype(f32)
        y = conv.conv2d(x, w, (1, 1), V, (1, 1))
        g = rng.standard_normal(y.shape).astype(f32)
        yo, dxo, dwo = np.empty_like(y), np.empty_like(x), np.empty_like(w)
        xt, gt = nchw(x), nchw(g)
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        xc, gc = nhwc(x), nhwc(g)
        wc = wt.contiguous(memory_format=torch.channels_last)
        cb = torch.ops.aten.convolution_backward
        bench(f"{tag} fwd {xs}->{y.shape}",
              lambda: conv.conv2d(x, w, (1, 1), V, (1, 1), out=yo),
              lambda: F.conv2d(xt, wt), lambda: F.conv2d(xc, wc))
        bench(f"{tag} backprop input",
              lambda: conv.conv2d_backprop_input(g, w, x.shape, (1, 1), V, (1, 1), out=dxo),
              lambda: cb(gt, xt, wt, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                         [True, False, False]),
              lambda: cb(gc, xc, wc, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                         [True, False, False]))
        bench(f"{tag} backprop filter",
              lambda: conv.conv2d_backprop_filter(x, g, w.shape, (1, 1), V, (1, 1), out=dwo),
              lambda: cb(gt, xt, wt, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                         [False, True, False]),
              lambda: cb(gc, xc, wc, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
                         [False, True, False]))

    for tag, xs in (("pool1", (50, 36, 36, 32)), ("pool2", (50, 15, 15, 64))):
        x = rng.standard_normal(xs).astype(f32)
        y = pool.max_pool2d(x, (3, 3), (2, 2), V)
        g = rng.standard_normal(y.shape).astype(f32)
        yo, dxo = np.empty_like(y), np.empty_like(x)
        xt, gt, xc, gc = nchw(x), nchw(g), nhwc(x), nhwc(g)
        _, idx = F.max_pool2d(xt, 3, 2, return_indices=True)
        _, idxc = F.max_pool2d(xc, 3, 2, return_indices=True)
        mb = torch.ops.aten.max_pool2d_with_indices_backward
        bench(f"{tag} max 3x3/2 fwd {xs}->{y.shape}",
              lambda: pool.max_pool2d(x, (3, 3), (2, 2), V, out=yo),
              lambda: F.max_pool2d(xt, 3, 2), lambda: F.max_pool2d(xc, 3, 2))
        bench(f"{tag} max 3x3/2 backprop",
              lambda: pool.max_pool2d_backprop(x, y, g, (3, 3), (2, 2), V, out=dxo),
              lambda: mb(gt, xt, [3, 3], [2, 2], [0, 0], [1, 1], False, idx),
              lambda: mb(gc, xc, [3, 3], [2, 2], [0, 0], [1, 1], False, idxc))

    for tag, xs in (("bn1", (50, 36, 36, 32)), ("bn2", (50, 15, 15, 64))):
        C = xs[-1]
        x = rng.standard_normal(xs).astype(f32)
        gy = rng.standard_normal(xs).astype(f32)
        gamma = rng.standard_normal((1, 1, 1, C)).astype(f32)
        beta = rng.standard_normal((1, 1, 1, C)).astype(f32)
        _, mean, var = bn.batchnorm_train_forward(x, gamma, beta, (0, 1, 2), 1e-3)
        yo, dxo = np.empty_like(x), np.empty_like(x)
        xt, gyt, xc, gyc = nchw(x), nchw(gy), nhwc(x), nhwc(gy)
        gm, bt = torch.from_numpy(gamma.ravel().copy()), torch.from_numpy(beta.ravel().copy())
        nb, nbb = torch.ops.aten.native_batch_norm, torch.ops.aten.native_batch_norm_backward
        _, sm, si = nb(xt, gm, bt, None, None, True, 0.1, 1e-3)
        bench(f"{tag} batchnorm fwd {xs}",
              lambda: bn.batchnorm_train_forward(x, gamma, beta, (0, 1, 2), 1e-3, out=yo),
              lambda: nb(xt, gm, bt, None, None, True, 0.1, 1e-3),
              lambda: nb(xc, gm, bt, None, None, True, 0.1, 1e-3))
        bench(f"{tag} batchnorm backward",
              lambda: bn.batchnorm_train_backward(x, gamma, mean, var, gy, None, None,
                                                  (0, 1, 2), 1e-3, out=dxo),
              lambda: nbb(gyt, xt, gm, None, None, sm, si, True, 1e-3, [True, True, True]),
              lambda: nbb(gyc, xc, gm, None, None, sm, si, True, 1e-3, [True, True, True]))

    print(f"\nkeraslite Numba kernels vs torch {torch.__version__} CPU, {nthreads} threads, "
          f"float32, median of {args.repeats} (ms); ratio = keraslite / torch NCHW "
          f"(> 1: keraslite slower)\n")
    w0 = max(len(r[0]) for r in rows)
    print(f"{'op':<{w0}}  {'keraslite':>9}  {'torch':>9}  {'ratio':>6}  {'torch NHWC':>10}")
    for name, ours, theirs, cl in rows:
        print(f"{name:<{w0}}  {ours:9.3f}  {theirs:9.3f}  {ours / theirs:6.2f}  {cl:10.3f}")
    tot = [sum(r[i] for r in rows) for i in (1, 2)]
    print(f"{'total':<{w0}}  {tot[0]:9.3f}  {tot[1]:9.3f}  {tot[0] / tot[1]:6.2f}")


if __name__ == "__main__":
    main()

"""Raw Numba kernels (backends/keraslite_numba/kernels) against PyTorch CPU eager, op by op.

Shapes are those of the tutorial convnet: input (50, 32, 32, 3) -> ZeroPadding 3 -> conv1 3x3x32
-> BN -> ReLU -> maxpool 3x3/2 -> conv2 3x3x64 -> BN -> ReLU -> maxpool 3x3/2 -> Dense.

Each contender runs in its own fresh process, alternating: "keraslite-numba" calls the kernels
with preallocated outputs (out=), as a compiled plan does; "torch-nchw" and "torch-cl" call the
aten kernels (backward ones directly, so no forward is timed) on NCHW or channels_last tensors
made beforehand. Inside a process each case is timed `repeats` times round-robin after three
untimed calls; the median is that process's figure.

Run: python bench/kernels_numba_raw.py [--rounds 3] [--quick] [--threads N]
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, main_for  # noqa: E402

_KDIR = Path(__file__).resolve().parent.parent / "backends" / "keraslite_numba" / "kernels"
V = ((0, 0), (0, 0))
CONVS = (("conv1", (50, 38, 38, 3), 32), ("conv2", (50, 17, 17, 32), 64))
POOLS = (("pool1", (50, 36, 36, 32)), ("pool2", (50, 15, 15, 64)))
BNS = (("bn1", (50, 36, 36, 32)), ("bn2", (50, 15, 15, 64)))
CASES = ([f"{t} {k}" for t, _, _ in CONVS for k in ("fwd", "backprop input", "backprop filter")]
         + [f"{t} max 3x3/2 {k}" for t, _ in POOLS for k in ("fwd", "backprop")]
         + [f"{t} batchnorm {k}" for t, _ in BNS for k in ("fwd", "backward")])


def config(quick: bool) -> dict:
    return {"repeats": 2 if quick else 15}


def _load(name: str):
    """A kernel module by file (the in-tree one), without importing the keraslite package."""
    full = f"keraslite_numba.kernels.{name}"
    if full not in sys.modules:
        # the kernels import keraslite_numba.llvmattrs: the in-tree package must win
        sys.path.insert(0, str(_KDIR.parent.parent))
        spec = importlib.util.spec_from_file_location(full, os.path.join(_KDIR, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
    return sys.modules[full]


def _data():
    """The same seeded inputs for every contender: {tag: arrays}."""
    rng = np.random.default_rng(0)
    f32 = np.float32
    out = {}
    for tag, xs, co in CONVS:
        x = rng.standard_normal(xs).astype(f32)
        w = (rng.standard_normal((3, 3, xs[3], co)) * 0.1).astype(f32)
        yshape = (xs[0], xs[1] - 2, xs[2] - 2, co)
        out[tag] = (x, w, rng.standard_normal(yshape).astype(f32))
    for tag, xs in POOLS:
        x = rng.standard_normal(xs).astype(f32)
        yshape = (xs[0], (xs[1] - 3) // 2 + 1, (xs[2] - 3) // 2 + 1, xs[3])
        out[tag] = (x, rng.standard_normal(yshape).astype(f32))
    for tag, xs in BNS:
        c = xs[-1]
        out[tag] = (rng.standard_normal(xs).astype(f32), rng.standard_normal(xs).astype(f32),
                    rng.standard_normal((1, 1, 1, c)).astype(f32), rng.standard_normal((1, 1, 1, c)).astype(f32))
    return out


def numba_cases(d: dict) -> dict:
    conv, pool, bn = _load("conv"), _load("pool"), _load("batchnorm")
    fns = {}
    for tag, _, _ in CONVS:
        x, w, g = d[tag]
        yo, dxo, dwo = np.empty_like(g), np.empty_like(x), np.empty_like(w)
        fns[f"{tag} fwd"] = lambda x=x, w=w, yo=yo: conv.conv2d(x, w, (1, 1), V, (1, 1), out=yo)
        fns[f"{tag} backprop input"] = lambda x=x, w=w, g=g, o=dxo: conv.conv2d_backprop_input(
            g, w, x.shape, (1, 1), V, (1, 1), out=o)
        fns[f"{tag} backprop filter"] = lambda x=x, w=w, g=g, o=dwo: conv.conv2d_backprop_filter(
            x, g, w.shape, (1, 1), V, (1, 1), out=o)
    for tag, _ in POOLS:
        x, g = d[tag]
        y = pool.max_pool2d(x, (3, 3), (2, 2), V)
        yo, dxo = np.empty_like(y), np.empty_like(x)
        fns[f"{tag} max 3x3/2 fwd"] = lambda x=x, o=yo: pool.max_pool2d(x, (3, 3), (2, 2), V, out=o)
        fns[f"{tag} max 3x3/2 backprop"] = lambda x=x, y=y, g=g, o=dxo: pool.max_pool2d_backprop(
            x, y, g, (3, 3), (2, 2), V, out=o)
    for tag, _ in BNS:
        x, gy, gamma, beta = d[tag]
        _, mean, var = bn.batchnorm_train_forward(x, gamma, beta, (0, 1, 2), 1e-3)
        yo, dxo = np.empty_like(x), np.empty_like(x)
        fns[f"{tag} batchnorm fwd"] = lambda x=x, ga=gamma, be=beta, o=yo: bn.batchnorm_train_forward(
            x, ga, be, (0, 1, 2), 1e-3, out=o)
        fns[f"{tag} batchnorm backward"] = lambda x=x, ga=gamma, m=mean, v=var, gy=gy, o=dxo: (
            bn.batchnorm_train_backward(x, ga, m, v, gy, None, None, (0, 1, 2), 1e-3, out=o))
    return fns


def torch_cases(torch, d: dict, channels_last: bool) -> dict:
    F, aten = torch.nn.functional, torch.ops.aten
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).contiguous(memory_format=fmt)
    fns = {}
    for tag, _, _ in CONVS:
        x, w, g = d[tag]
        xt, gt = t(x), t(g)
        wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).contiguous(memory_format=fmt)
        fns[f"{tag} fwd"] = lambda xt=xt, wt=wt: F.conv2d(xt, wt)
        for name, mask in (("backprop input", [True, False, False]), ("backprop filter", [False, True, False])):
            fns[f"{tag} {name}"] = lambda xt=xt, wt=wt, gt=gt, mask=mask: aten.convolution_backward(
                gt, xt, wt, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)
    for tag, _ in POOLS:
        x, g = d[tag]
        xt, gt = t(x), t(g)
        _, idx = F.max_pool2d(xt, 3, 2, return_indices=True)
        fns[f"{tag} max 3x3/2 fwd"] = lambda xt=xt: F.max_pool2d(xt, 3, 2)
        fns[f"{tag} max 3x3/2 backprop"] = lambda xt=xt, gt=gt, idx=idx: aten.max_pool2d_with_indices_backward(
            gt, xt, [3, 3], [2, 2], [0, 0], [1, 1], False, idx)
    for tag, _ in BNS:
        x, gy, gamma, beta = d[tag]
        xt, gyt = t(x), t(gy)
        gm, bt = torch.from_numpy(gamma.ravel().copy()), torch.from_numpy(beta.ravel().copy())
        _, sm, si = aten.native_batch_norm(xt, gm, bt, None, None, True, 0.1, 1e-3)
        fns[f"{tag} batchnorm fwd"] = lambda xt=xt, gm=gm, bt=bt: aten.native_batch_norm(
            xt, gm, bt, None, None, True, 0.1, 1e-3)
        fns[f"{tag} batchnorm backward"] = lambda xt=xt, gyt=gyt, gm=gm, sm=sm, si=si: (
            aten.native_batch_norm_backward(gyt, xt, gm, None, None, sm, si, True, 1e-3, [True, True, True]))
    return fns


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: the median ms of every case on one contender."""
    import _frameworks as fw
    family, variant = fw.parse(contender)
    d = _data()
    if contender == "keraslite-numba":
        import numba
        fns = numba_cases(d)
        probe.note(f"Numba threads {numba.get_num_threads()}")
    elif family == "torch":
        fns = torch_cases(fw.import_torch(cfg["threads"]), d, variant == "cl")
    else:
        raise ValueError(f"bench/kernels_numba_raw.py has no contender {contender!r}")
    probe.mark("before_model")
    return fw.median_ms(fns, cfg["repeats"], warmup=3)


WORKLOAD = Workload(
    name="kernels_numba_raw", module="kernels_numba_raw",
    title=lambda c: f"raw Numba kernels against aten, ms, median of {c['repeats']} calls per process",
    metrics=[Metric(name, f"{name} ms", higher_is_better=False, digits=3) for name in CASES],
    config=config, peers=("torch-nchw", "torch-cl"), keraslite_backends=("numba",), by_metric=True)


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

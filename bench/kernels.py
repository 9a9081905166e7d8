"""Kernel benchmarks at the tutorial convnet's shapes: conv2d forward and forward+backward, max
pooling, batch norm (training) and a fused elementwise chain, through K.function on each usable
keraslite backend, beside the same work in PyTorch eager (NCHW and channels_last). Each contender
runs in its own fresh process, alternating; inside it every case is timed `repeats` times,
round-robin, after two untimed calls, and the median is that process's figure.

Run: python bench/kernels.py [--rounds 3] [--quick] [--threads N]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, main_for  # noqa: E402

# (name, x shape NHWC, kernel (kh, kw, cin, cout))
CONVS = [("conv1 50x38x38x3 -> 32", (50, 38, 38, 3), (3, 3, 3, 32)),
         ("conv2 50x17x17x32 -> 64", (50, 17, 17, 32), (3, 3, 32, 64))]
MAPS = (50, 36, 36, 32)  # the first block's activations


def specs() -> dict[str, tuple]:
    """name -> (kind, x NHWC, kernel or None): the same seeded data for every contender."""
    rng = np.random.default_rng(0)
    out = {}
    for name, xs, ks in CONVS:
        xv = rng.normal(size=xs).astype("float32")
        kv = (rng.normal(size=ks) * 0.1).astype("float32")
        out[f"{name} fwd"] = ("conv_fwd", xv, kv)
        out[f"{name} fwd+bwd"] = ("conv_fwdbwd", xv, kv)
    xv = rng.normal(size=MAPS).astype("float32")
    out["maxpool 3x3/2 50x36x36x32 fwd+bwd"] = ("pool", xv, None)
    out["batchnorm 50x36x36x32 fwd+bwd"] = ("bn", xv, None)
    out["fused bias+relu+sigmoid chain"] = ("chain", xv, None)
    return out


CASES = [f"{name} {kind}" for name, _, _ in CONVS for kind in ("fwd", "fwd+bwd")] + [
    "maxpool 3x3/2 50x36x36x32 fwd+bwd", "batchnorm 50x36x36x32 fwd+bwd", "fused bias+relu+sigmoid chain"]


def config(quick: bool) -> dict:
    return {"repeats": 2 if quick else 11}


def keraslite_fn(K, spec):
    """The case as a K.function call; the backward passes differentiate sum(y*y)."""
    kind, xv, kv = spec
    x = K.placeholder(shape=(None,) + xv.shape[1:])
    if kind.startswith("conv"):
        k = K.variable(kv)
        y = K.conv2d(x, k)
        outs = [y] if kind == "conv_fwd" else [y, *K.gradients(K.sum(y * y), [x, k])]
    elif kind == "pool":
        p = K.pool2d(x, (3, 3), strides=(2, 2))
        outs = [p, *K.gradients(K.sum(p * p), [x])]
    elif kind == "bn":
        c = xv.shape[-1]
        gamma, beta = K.variable(np.ones(c, "float32")), K.variable(np.zeros(c, "float32"))
        n, _, _ = K.normalize_batch_in_training(x, gamma, beta, [0, 1, 2])
        outs = [n, *K.gradients(K.sum(n * n), [x, gamma, beta])]
    else:
        b = K.variable(np.zeros(xv.shape[-1], "float32"))
        outs = [K.relu(x * 1.5 + b) * 0.5 - K.sigmoid(x)]
    f = K.function([x], outs)
    return lambda: f([xv])


def torch_fn(torch, spec, channels_last: bool):
    """The same work in PyTorch eager, on NCHW tensors or channels_last memory."""
    kind, xv, kv = spec
    F = torch.nn.functional
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.from_numpy(np.ascontiguousarray(xv.transpose(0, 3, 1, 2))).contiguous(memory_format=fmt)
    if kind.startswith("conv"):
        w = torch.from_numpy(np.ascontiguousarray(kv.transpose(3, 2, 0, 1))).contiguous(memory_format=fmt)
        if kind == "conv_fwd":
            return lambda: F.conv2d(x, w)
        xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()

        def conv_step():
            xr.grad = wr.grad = None
            y = F.conv2d(xr, wr)
            (y * y).sum().backward()
        return conv_step
    xr = x.clone().requires_grad_()
    if kind == "pool":
        def pool_step():
            xr.grad = None
            y = F.max_pool2d(xr, 3, 2)
            (y * y).sum().backward()
        return pool_step
    c = xv.shape[-1]
    if kind == "bn":
        g, b = torch.ones(c, requires_grad=True), torch.zeros(c, requires_grad=True)

        def bn_step():
            xr.grad = g.grad = b.grad = None
            y = F.batch_norm(xr, None, None, g, b, training=True, eps=1e-3)
            (y * y).sum().backward()
        return bn_step
    bias = torch.zeros(1, c, 1, 1)
    return lambda: torch.relu(x * 1.5 + bias) * 0.5 - torch.sigmoid(x)


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: the median ms of every case on one contender."""
    import _frameworks as fw
    family, variant = fw.parse(contender)
    if family == "keraslite":
        fw.import_keraslite(variant)
        from keraslite import backend as K
        fns = {name: keraslite_fn(K, spec) for name, spec in specs().items()}
    elif family == "torch":
        torch = fw.import_torch(cfg["threads"])
        fns = {name: torch_fn(torch, spec, variant == "cl") for name, spec in specs().items()}
    else:
        raise ValueError(f"bench/kernels.py has no contender {contender!r}")
    probe.mark("before_model")
    return fw.median_ms(fns, cfg["repeats"], warmup=2)


WORKLOAD = Workload(
    name="kernels", module="kernels",
    title=lambda c: f"ops at the tutorial convnet's shapes, ms, median of {c['repeats']} calls per process",
    metrics=[Metric(name, f"{name} ms", higher_is_better=False, digits=2) for name in CASES],
    config=config, peers=("torch-nchw", "torch-cl"), by_metric=True)


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

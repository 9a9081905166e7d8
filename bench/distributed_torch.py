"""The PyTorch peer of bench/distributed.py: DistributedDataParallel on gloo (CPU), the same two
models, the same per-rank batches and samples, one intra-op thread per rank. Each rank trains on
its contiguous share of every epoch's shuffled global batches, as keraslite.distributed does.

Run each rank count in its own run (needs `pip install torch`; it is not a keraslite dependency):
    torchrun --standalone --nproc_per_node 1 bench/distributed_torch.py --model mlp
    torchrun --standalone --nproc_per_node 2 bench/distributed_torch.py --model mlp
    torchrun --standalone --nproc_per_node 1 bench/distributed_torch.py --model convnet
    torchrun --standalone --nproc_per_node 2 bench/distributed_torch.py --model convnet
Rank 0 prints a RESULT line (JSON: samples/s of the median epoch after the first, the time spent in
DDP's backward-with-allreduce is part of the step and not separated).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

MODELS = {"mlp": {"n": 20000, "batch": 128}, "convnet": {"n": 4000, "batch": 50}}  # as bench/distributed.py


def data(model: str, n: int):
    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
    else:
        x = rng.normal(loc=20, scale=3, size=(n, 32, 32, 3)).astype("float32").transpose(0, 3, 1, 2).copy()
    return x, rng.integers(10, size=n)


def build(torch, model: str):
    """The network (bench/mlp.py's or bench/convmodel.py's PyTorch one) and its optimizer factory."""
    if model == "mlp":
        from mlp import torch_mlp
        return torch_mlp(torch), lambda params: torch.optim.Adam(params, lr=0.001, eps=1e-7)
    from convmodel import torch_convnet
    return torch_convnet(torch), lambda params: torch.optim.SGD(params, lr=0.01)


def main() -> None:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="mlp")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--samples", type=int, default=None, help="samples per epoch")
    args = p.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    spec = MODELS[args.model]
    n = args.samples or spec["n"]
    per_rank = n // size if size > 1 else n
    batch = spec["batch"]
    x, y = data(args.model, per_rank * size)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(0)
    net, make_opt = build(torch, args.model)
    model = DDP(net)  # broadcasts rank 0's parameters at construction
    opt = make_opt(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(123)  # the same permutation on every rank
    times = []
    total = len(x)
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(total, generator=g)
        for start in range(0, total, batch * size):
            r = min(batch * size, total - start)
            if r < size:  # as keraslite: a last global batch smaller than the rank count is skipped everywhere
                break
            base, extra = divmod(r, size)  # and a short one is split evenly (every rank gets >= 1 sample)
            lo = start + rank * base + min(rank, extra)
            idx = perm[lo:lo + base + (1 if rank < extra else 0)]
            opt.zero_grad()
            out = model(xt[idx])
            loss = loss_fn(out, yt[idx])
            loss.backward()  # DDP averages the gradients over the ranks (gloo allreduce, bucketed)
            opt.step()
            loss.item()
        times.append(time.perf_counter() - t0)
    timed = times[1:] if len(times) > 1 else times
    if rank == 0:
        print("RESULT " + json.dumps({"model": args.model, "ranks": size, "sps": total / statistics.median(timed),
                                      "first_epoch_s": times[0], "framework": f"torch {torch.__version__} DDP gloo"}),
              flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

"""Data-parallel scaling of keraslite.distributed: training samples/s with 1 and 2 ranks (one CPU
thread each, so 2 ranks use both cores of a 2-core machine), the allreduce time per step and the
scaling efficiency sps(2) / (2 * sps(1)), for the MLP of bench/mlp.py (784-512-512-10, Adam,
batch 128 per rank) and the tutorial convnet of bench/convmodel.py (SGD, batch 50 per rank).
`batch_size` is per rank (Horovod's weak scaling): 2 ranks train twice the samples per step.

Run: python bench/distributed.py [--quick] [--models mlp,convnet] [--backend numba] [--epochs 4]
(the driver starts `mpiexec -n 1` and `mpiexec -n 2` of this file itself). --quick is a smoke run
with a few steps, not a measurement. Where PyTorch is installed, the same table gets the
DistributedDataParallel (gloo) peer, bench/distributed_torch.py under torchrun, each in its own run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_line, print_table  # noqa: E402

MODELS = {"mlp": {"n": 10000, "batch": 128}, "convnet": {"n": 1000, "batch": 50}}


def _data(model: str, n: int):
    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
    else:
        x = rng.normal(loc=20, scale=3, size=(n, 32, 32, 3)).astype("float32")
    return x, np.eye(10, dtype="float32")[rng.integers(10, size=n)]


def _build(model: str):
    import keraslite.distributed as hvd
    from keraslite import optimizers
    if model == "mlp":
        from keraslite.layers import Dense
        from keraslite.models import Sequential
        net = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                          Dense(10, activation="softmax")])
        opt = optimizers.Adam()
    else:
        sys.path.insert(0, str(HERE.parent / "examples"))
        from tutorial import convmodel
        net = convmodel()
        opt = optimizers.SGD()
    net.compile(optimizer=hvd.DistributedOptimizer(opt), loss="categorical_crossentropy", metrics=["accuracy"])
    return net


def worker(model: str, backend: str, epochs: int, n_override: int | None) -> None:
    """One rank: train, time the epochs after the first, time the allreduce calls."""
    import keraslite
    import keraslite.distributed as hvd
    from keraslite.distributed import collectives
    hvd.init()
    keraslite.set_backend(backend)
    spec = MODELS[model]
    n = n_override or spec["n"]
    per_rank = n // hvd.size() if hvd.size() > 1 else n   # the same samples per rank and epoch
    x, y = _data(model, per_rank * hvd.size())
    net = _build(model)
    spent = {"s": 0.0, "calls": 0}
    original = collectives.HostEngine.reduce_mean

    def timed(self, arrays, weight=1.0):
        t0 = time.perf_counter()
        out = original(self, arrays, weight)
        spent["s"] += time.perf_counter() - t0
        spent["calls"] += 1
        return out
    timed.__wrapped__ = original
    collectives.HostEngine.reduce_mean = timed
    times = []
    cb = [hvd.BroadcastGlobalVariablesCallback(0)]
    for epoch in range(epochs):
        if epoch == 1:
            spent["s"], spent["calls"] = 0.0, 0
        t0 = time.perf_counter()
        net.fit(x, y, batch_size=spec["batch"], epochs=1, verbose=0, callbacks=cb if epoch == 0 else [])
        times.append(time.perf_counter() - t0)
    timed_epochs = times[1:] if len(times) > 1 else times
    sps = len(x) * len(timed_epochs) / sum(timed_epochs)
    steps = spent["calls"]
    alone = _allreduce_alone(net) if hvd.size() > 1 else 0.0
    if hvd.rank() == 0:
        print("RESULT " + json.dumps({"model": model, "ranks": hvd.size(), "sps": sps,
                                      "allreduce_ms": 1000 * spent["s"] / steps if steps else 0.0,
                                      "allreduce_alone_ms": 1000 * alone,
                                      "steps": steps, "first_epoch_s": times[0]}), flush=True)


def _allreduce_alone(net, repeats: int = 20) -> float:
    """Median time of the packed allreduce of this model's gradients with the ranks started
    together (a barrier first): the collective itself, without waiting for a slower rank."""
    import statistics
    from keraslite.distributed import _state, collectives
    w = _state.world()
    grads = [np.ones(tuple(p.shape), dtype=p.dtype) for p in net.trainable_weights]
    engine = collectives.HostEngine(w)
    times = []
    for _ in range(repeats):
        w.comm.Barrier()
        t0 = time.perf_counter()
        collectives.HostEngine.reduce_mean.__wrapped__(engine, grads)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("bench/distributed.py: mpiexec not found (pip install mpi4py mpich)")
    return found


def launch(ranks: int, model: str, args) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    root = HERE.parent
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "backends"), env.get("PYTHONPATH", "")])
    cmd = [_mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", str(Path(__file__).resolve()), "--worker",
           model, "--backend", args.backend, "--epochs", str(args.epochs)]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{ranks}-rank run of {model} failed:\n{proc.stdout}\n{proc.stderr}")


def launch_torch(ranks: int, model: str, args) -> dict | None:
    """bench/distributed_torch.py under torchrun (its own run), or None without PyTorch."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return None
    local = Path(sys.executable).parent / "torchrun"
    torchrun = str(local) if local.exists() else shutil.which("torchrun")
    if torchrun is None:
        return None
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [torchrun, "--standalone", "--nproc_per_node", str(ranks), str(HERE / "distributed_torch.py"),
           "--model", model, "--epochs", str(args.epochs)] + (["--samples", str(args.samples)] if args.samples else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"torchrun with {ranks} rank(s) for {model} failed:\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="mlp,convnet")
    p.add_argument("--backend", default="numba")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (both rank counts)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 2 epochs of a few steps")
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch DDP runs (bench/distributed_torch.py)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.backend, args.epochs, args.samples)
        return
    if args.quick:
        args.epochs, args.samples = 2, args.samples or 400
    rows = []
    for model in args.models.split(","):
        one, two = launch(1, model, args), launch(2, model, args)
        eff = two["sps"] / (2 * one["sps"])
        rows.append([model, "keraslite (MPICH)", f"{one['sps']:.0f}", f"{two['sps']:.0f}",
                     f"{two['allreduce_ms']:.2f} ({two['allreduce_alone_ms']:.2f})", f"{100 * eff:.0f}%"])
        if not args.no_torch:
            t1 = launch_torch(1, model, args)
            t2 = launch_torch(2, model, args) if t1 else None
            if t1 and t2:
                rows.append([model, "PyTorch DDP (gloo)", f"{t1['sps']:.0f}", f"{t2['sps']:.0f}", "in backward",
                             f"{100 * t2['sps'] / (2 * t1['sps']):.0f}%"])
    print(machine_line().split(",")[0] + f", backend {args.backend}, 1 thread per rank, "
          f"{'QUICK SMOKE RUN (not a measurement)' if args.quick else f'{args.epochs} epochs, first excluded'}")
    print_table("Data-parallel training, 2 ranks vs 1. Allreduce ms/step: inside the step, which includes "
                "waiting for the other rank (in brackets: the packed allreduce alone, after a barrier)",
                ["model", "framework", "1 rank samples/s", "2 ranks samples/s", "allreduce ms/step (2 ranks)",
                 "efficiency"], rows)


if __name__ == "__main__":
    main()

"""Data-parallel scaling of keraslite.distributed: training samples/s with 1 and 2 ranks (one CPU
thread each, so 2 ranks use both cores of a 2-core machine), the allreduce time per step and the
scaling efficiency sps(2) / (2 * sps(1)), for the MLP of bench/mlp.py (784-512-512-10, Adam,
batch 128 per rank) and the tutorial convnet of bench/convmodel.py (SGD, batch 50 per rank).
`batch_size` is per rank (Horovod's weak scaling): 2 ranks train twice the samples per step.

Run: python bench/distributed.py [--quick] [--models mlp,convnet] [--backend numba] [--epochs 5] [--rounds 3]
(the driver starts `mpiexec -n 1` and `mpiexec -n 2` of this file itself). --quick is a smoke run
with a few steps, not a measurement. Where PyTorch is installed, the same table gets the
DistributedDataParallel (gloo) peer, bench/distributed_torch.py under torchrun, each in its own run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import machine_line, print_table  # noqa: E402

# Samples per epoch (global, the same for both rank counts): enough steps per epoch that an epoch
# lasts seconds, so that one stall of the shared machine does not decide a figure.
MODELS = {"mlp": {"n": 20000, "batch": 128}, "convnet": {"n": 4000, "batch": 50}}


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
    from keraslite.callbacks import Callback

    class EpochClock(Callback):
        # One fit() for every epoch, timed per epoch, as bench/run_all.py times keraslite's fit.
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                spent["s"], spent["calls"] = 0.0, 0
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    net.fit(x, y, batch_size=spec["batch"], epochs=epochs, verbose=0,
            callbacks=[hvd.BroadcastGlobalVariablesCallback(0), EpochClock()])
    timed_epochs = times[1:] if len(times) > 1 else times
    sps = len(x) / statistics.median(timed_epochs)   # the median epoch after the first
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


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


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
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians and min-max are reported")
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
        args.epochs, args.samples, args.rounds = 2, args.samples or 400, 1
    rows = []
    for model in args.models.split(","):
        runs = {("keraslite", 1): [], ("keraslite", 2): [], ("torch", 1): [], ("torch", 2): []}
        order = [k for k in runs if k[0] == "keraslite" or not args.no_torch]
        for r in range(args.rounds):
            # Rounds outermost, the order rotated by one each round: a noisy minute of the shared
            # machine then falls on every contender in turn rather than on one.
            for framework, ranks in order[r % len(order):] + order[:r % len(order)]:
                result = launch(ranks, model, args) if framework == "keraslite" else launch_torch(ranks, model, args)
                if result is not None:
                    runs[(framework, ranks)].append(result)
        for framework, label in (("keraslite", "keraslite (MPICH)"), ("torch", "PyTorch DDP (gloo)")):
            one, two = runs[(framework, 1)], runs[(framework, 2)]
            if not one or not two:
                continue
            s1, s2 = [o["sps"] for o in one], [t["sps"] for t in two]
            per_round = [b / (2 * a) for a, b in zip(s1, s2)]
            eff = statistics.median(s2) / (2 * statistics.median(s1))
            ar = (f"{statistics.median(t['allreduce_ms'] for t in two):.2f} "
                  f"({statistics.median(t['allreduce_alone_ms'] for t in two):.2f})") if framework == "keraslite" \
                else "in backward"
            rows.append([model, label, _spread(s1), _spread(s2), ar,
                         f"{100 * eff:.0f}% ({100 * min(per_round):.0f}-{100 * max(per_round):.0f})"])
    print(machine_line().split(",")[0] + f", backend {args.backend}, 1 thread per rank, "
          f"{'QUICK SMOKE RUN (not a measurement)' if args.quick else f'{args.epochs} epochs (median epoch after the first), {args.rounds} alternating rounds'}")
    print_table("Data-parallel training, 2 ranks vs 1: medians over rounds (min-max). Efficiency: of the medians "
                "(in brackets: the range of the per-round ratios). Allreduce ms/step: inside the step, which includes "
                "waiting for the other rank (in brackets: the packed allreduce alone, after a barrier)",
                ["model", "framework", "1 rank samples/s", "2 ranks samples/s", "allreduce ms/step (2 ranks)",
                 "efficiency"], rows)


if __name__ == "__main__":
    main()

"""Cold start: the first training step of the tutorial convnet (batch 50) in a fresh process.

Contenders, each in its own fresh process, alternating:
- keraslite-<backend>-cold: NUMBA_CACHE_DIR and KERASLITE_CACHE_DIR point at new empty
  directories (made before Numba is imported, removed afterwards): every kernel compiles, in
  this process and in the compile workers it starts (as for a user's first run);
- keraslite-<backend>-warm: caches filled by one untimed run before the rounds: the second process;
- torch-nchw / torch-cl: PyTorch eager's first step; keras3-jax: Keras 3's first train_on_batch
  (jax traces and compiles with XLA; its persistent compilation cache is off by default).

Figures: import s (the framework's import), first step s (build excluded: the first
train_on_batch, or PyTorch's first forward/backward/update), first step CPU s (the CPU time of
the benchmarked process during it, all its threads; keraslite's compile workers, separate
processes, are not in it: on a loaded machine wall time is noise, this is not), second step s, and start to first
step s (from the parent's spawn of the process to the end of the first step: interpreter start,
imports, data, model build and the first step - what a user waits for).

Run: python bench/first_step.py [--rounds 3] [--quick] [--profile]   (--profile: the slowest
first calls of keraslite's plan steps, where compile time goes)
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, add_common_args, run_workloads  # noqa: E402

BATCH = 50
_WARM_DIR: dict[str, str] = {}  # parent side: backend -> the cache directory the warm runs share


def config(quick: bool) -> dict:
    return {"batch": BATCH, "profile": False}


def _cache_env(root: str) -> dict:
    return {"NUMBA_CACHE_DIR": os.path.join(root, "numba"), "KERASLITE_CACHE_DIR": os.path.join(root, "keraslite")}


def extra_env(contender: str, cfg: dict) -> dict:
    if contender.endswith("-warm"):
        return _cache_env(_WARM_DIR[contender.split("-")[1]])
    return {}


def prepare(contenders: list[str], cfg: dict, runner):
    """Fill a private cache directory per backend with one untimed run, for the -warm contenders."""
    for c in contenders:
        if c.endswith("-warm"):
            backend = c.split("-")[1]
            _WARM_DIR[backend] = tempfile.mkdtemp(prefix="keraslite-warm-")
            res = runner(c, _cache_env(_WARM_DIR[backend]))
            print(f"# warmed the {backend} cache: {res.get('error') or 'ok'}", file=sys.stderr)

    def cleanup():
        for d in _WARM_DIR.values():
            shutil.rmtree(d, ignore_errors=True)
        _WARM_DIR.clear()
    return cleanup


def _profile_plans(compiler, records: list):
    """Time every step of each plan's first run (best effort: follows compiler.Plan's internals)."""
    plain_run = compiler.Plan._run

    def timed_run(self, feeds):
        if getattr(self, "_bench_timed", False):
            return plain_run(self, feeds)
        self._bench_timed = True
        originals = [s.fn for s in self.steps]
        for step in self.steps:
            def wrapped(*arrays, _fn=step.fn, _op=step.op):
                t = time.perf_counter()
                out = _fn(*arrays)
                records.append((time.perf_counter() - t, _op, tuple(getattr(a, "shape", ()) for a in arrays)))
                return out
            step.fn = wrapped
        try:
            return plain_run(self, feeds)
        finally:
            for step, fn in zip(self.steps, originals):
                step.fn = fn
    compiler.Plan._run = timed_run


def _keraslite_first_steps(variant: str, cfg: dict, probe, x, y):
    backend, _, cache = variant.partition("-")
    cold_dir = None
    if cache == "cold":  # before Numba is imported: it reads NUMBA_CACHE_DIR once
        cold_dir = tempfile.mkdtemp(prefix="keraslite-cold-")
        os.environ.update(_cache_env(cold_dir))
    try:
        import _frameworks as fw
        t0 = time.perf_counter()
        fw.import_keraslite(backend)
        import_s = time.perf_counter() - t0
        records: list = []
        if cfg.get("profile"):
            try:
                from keraslite.backend import compiler
                _profile_plans(compiler, records)
            except (ImportError, AttributeError) as e:
                probe.note(f"profile unavailable: {e}")
        probe.mark("before_model")
        model = fw.examples_module("tutorial").convmodel()
        model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
        c1, t1 = time.process_time(), time.perf_counter()
        model.train_on_batch(x, y)
        t2, c2 = time.perf_counter(), time.process_time()
        done = time.time()
        model.train_on_batch(x, y)
        t3 = time.perf_counter()
        for t, op, shapes in sorted(records, key=lambda r: -r[0])[:25]:
            probe.note(f"{t:7.3f} s  {op[:60]} {shapes}")
        return import_s, t2 - t1, t3 - t2, done, c2 - c1
    finally:
        if cold_dir:
            shutil.rmtree(cold_dir, ignore_errors=True)


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: import, build, then time the first and second training steps."""
    import _frameworks as fw
    family, variant = fw.parse(contender)
    rng = np.random.default_rng(0)
    x = rng.normal(20, 3, size=(BATCH, 32, 32, 3)).astype("float32")
    labels = rng.integers(10, size=BATCH)
    y = np.eye(10, dtype="float32")[labels]
    if family == "keraslite":
        import_s, first, second, done, first_cpu = _keraslite_first_steps(variant, cfg, probe, x, y)
    elif family == "torch":
        t0 = time.perf_counter()
        torch = fw.import_torch(cfg["threads"])
        import_s = time.perf_counter() - t0
        from convmodel import torch_convnet
        probe.mark("before_model")
        net, xt = fw.torch_prepare(torch, torch_convnet(torch), x, variant, "cpu")
        yt = torch.from_numpy(labels)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            out = net(xt)
            loss = loss_fn(out, yt)
            loss.backward()
            opt.step()
            loss.item()
            (out.argmax(1) == yt).float().mean().item()
        c1, t1 = time.process_time(), time.perf_counter()
        step()
        t2, first_cpu = time.perf_counter(), time.process_time() - c1
        done = time.time()
        step()
        first, second = t2 - t1, time.perf_counter() - t2
    else:
        t0 = time.perf_counter()
        keras = fw.import_keras3()
        import_s = time.perf_counter() - t0
        from convmodel import keras3_convnet
        probe.mark("before_model")
        model = keras3_convnet(keras)
        model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
        c1, t1 = time.process_time(), time.perf_counter()
        model.train_on_batch(x, y)
        t2, first_cpu = time.perf_counter(), time.process_time() - c1
        done = time.time()
        model.train_on_batch(x, y)
        first, second = t2 - t1, time.perf_counter() - t2
    return {"first_step_s": first, "first_step_cpu_s": first_cpu, "to_first_step_s": done - cfg["spawn_time"],
            "import_s": import_s, "second_step_s": second}


WORKLOAD = Workload(
    name="first_step", module="first_step",
    title=lambda c: f"cold start: first training step of the tutorial convnet, batch {c['batch']}, fresh process",
    metrics=[Metric("first_step_s", "first step s", False, 2), Metric("first_step_cpu_s", "first step CPU s", False, 2),
             Metric("to_first_step_s", "start to first step s", False, 2),
             Metric("import_s", "import s", False, 2), Metric("second_step_s", "second step s", False, 3)],
    config=config, peers=("torch-nchw", "torch-cl", "keras3-jax"), keraslite_variants=("-cold", "-warm"),
    keraslite_backends=("numba", "numpy"),
    extra_env=extra_env, prepare=prepare)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--profile", action="store_true", help="list the slowest first calls of keraslite plan steps")
    args = ap.parse_args()
    if args.profile:
        WORKLOAD.config = lambda quick: {"batch": BATCH, "profile": True}
    run_workloads([WORKLOAD], args)


if __name__ == "__main__":
    main()

"""The benchmark harness: every contender in its own fresh process, alternating, for several rounds.

The parent process imports no framework (no keraslite, Numba, PyTorch or jax): a framework's
thread pool started in the parent would be inherited by nothing, but one started in a shared
process slows every other framework measured after it (PyTorch measured after Numba's OpenMP pool
had started ran about 4x slower), which made the old in-process tables wrong.

Each round runs every contender once, in an order rotated by one per round, and each contender's
figure is the median over rounds with its min-max; ratios are taken between medians of the same
run. Every child gets the same data (seeded), batch size and thread count.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_child.py"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Metric:
    """One figure a workload reports: its key in run()'s dict, a column label, and its direction."""
    key: str
    label: str
    higher_is_better: bool = True
    digits: int = 0


@dataclass
class Workload:
    """A benchmark: `module` (in bench/) defines run(contender, config, probe) -> {metric key: value}.

    peers: the non-keraslite contenders it supports; config(quick) -> the shared settings dict;
    extra_env(contender, config) -> per-child environment additions; prepare(contenders, config,
    runner) runs once before the rounds (e.g. to warm a cache) and returns a cleanup callable.
    """
    name: str
    module: str
    title: Callable[[dict], str]
    metrics: list[Metric]
    config: Callable[[bool], dict]
    peers: tuple[str, ...] = ("torch-nchw", "torch-cl", "keras3-jax")
    keraslite_variants: tuple[str, ...] = ("",)
    extra_env: Callable[[str, dict], dict] = field(default=lambda contender, cfg: {})
    prepare: Callable | None = None
    keraslite_backends: tuple[str, ...] | None = None  # the backends it supports (None: every one)
    by_metric: bool = False  # tables with a row per metric (for many metrics: the kernel benchmarks)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def isa_env(isa: str) -> dict:
    """Environment that holds every contender to the instruction set `isa` ("host": no change;
    "avx2": no AVX-512, as on the machines of this kind that lack it). Each library is told in
    its own terms: Numba compiles for Haswell with the host's features less AVX-512 (the
    microkernels then take their AVX2 tile), PyTorch's kernels, oneDNN and MKL dispatch AVX2,
    OpenBLAS and NumPy run their Haswell / AVX2 kernels, XLA emits AVX2."""
    if isa == "host":
        return {}
    if isa != "avx2":
        raise SystemExit(f"--isa: unknown instruction set {isa!r} (host or avx2)")
    from llvmlite import binding as ll
    wide = ("avx512", "avx10", "amx", "vpclmulqdq", "vaes", "gfni")
    feats = ",".join(("+" if on and not k.startswith(wide) else "-") + k
                     for k, on in sorted(ll.get_host_cpu_features().items()))
    return {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": feats,
            "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "OPENBLAS_CORETYPE": "Haswell",
            "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR",
            "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}


def child_env(threads: int, keep_coretype: bool, extra: dict | None = None, isa: str = "host") -> dict:
    """The environment of a benchmark child: `threads` everywhere a library reads a thread count;
    held to instruction set `isa` (isa_env)."""
    env = dict(os.environ)
    held = isa_env(isa)
    env.update({k: v for k, v in held.items() if k != "XLA_FLAGS"})
    if "XLA_FLAGS" in held:
        env["XLA_FLAGS"] = " ".join([env.get("XLA_FLAGS", ""), held["XLA_FLAGS"]]).strip()
    for var in THREAD_VARS:
        env[var] = str(threads)
    # XLA reads no thread count: its pool follows the affinity mask (set by the child); this flag
    # only switches Eigen's multi-threading on or off
    xla = [f for f in env.get("XLA_FLAGS", "").split() if "xla_cpu_multi_thread_eigen" not in f]
    env["XLA_FLAGS"] = " ".join(xla + [f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["KERAS_BACKEND"] = "jax"  # read by Keras 3 only
    if not keep_coretype and "OPENBLAS_CORETYPE" not in held:  # benchmark children only: never in tests or CI
        env.pop("OPENBLAS_CORETYPE", None)
    env.update(extra or {})
    return env


def run_child(module: str, contender: str, cfg: dict, env: dict, timeout: float, verbose: bool = False) -> dict:
    """Run one contender in a fresh interpreter and return its result dict (with "error" on failure)."""
    fd, path = tempfile.mkstemp(prefix="keraslite-bench-", suffix=".json")
    os.close(fd)
    cfg = dict(cfg, spawn_time=time.time())
    cmd = [sys.executable, str(CHILD), module, contender, json.dumps(cfg), path]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t0
        if verbose and (proc.stdout.strip() or proc.stderr.strip()):
            print(proc.stdout + proc.stderr, file=sys.stderr)
        if proc.returncode != 0:
            return {"error": f"exit {proc.returncode}: " + _tail(proc.stderr or proc.stdout), "wall_s": wall}
        result = json.loads(Path(path).read_text())
        result["wall_s"] = wall
        return result
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
    finally:
        Path(path).unlink(missing_ok=True)


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:])


def probe(env: dict, timeout: float = 300) -> dict:
    """What this machine can run, asked of a fresh child so that the parent stays framework-free."""
    fd, path = tempfile.mkstemp(prefix="keraslite-probe-", suffix=".json")
    os.close(fd)
    try:
        proc = subprocess.run([sys.executable, str(CHILD), "--probe", path], env=env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError("bench probe failed: " + _tail(proc.stderr))
        return json.loads(Path(path).read_text())
    finally:
        Path(path).unlink(missing_ok=True)


def contenders_for(workload: Workload, avail: dict, backends: list[str] | None, peers: set[str]) -> list[str]:
    """keraslite on each requested usable backend, then the peers this machine has."""
    usable = avail.get("keraslite_backends", [])
    if backends is None:  # numpy is the slow reference: only when asked
        backends = [b for b in usable if b != "numpy"]
    missing = [b for b in backends if b not in usable]
    if missing:
        raise SystemExit(f"keraslite backend(s) {missing} not usable here (usable: {usable})")
    if workload.keraslite_backends is not None:
        backends = [b for b in backends if b in workload.keraslite_backends]
    out = [f"keraslite-{b}{v}" for b in backends for v in workload.keraslite_variants]
    for peer in workload.peers:
        if peer not in peers and peer.split("-")[0] not in peers:
            continue
        if peer.startswith("torch") and not avail.get("torch"):
            continue
        if peer == "torch-cuda" and not avail.get("torch_cuda"):
            continue
        if peer == "keras3-jax" and not avail.get("keras3_jax"):
            continue
        out.append(peer)
    return out


def summarize(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize_runs(workload: Workload, runs: dict[str, list[dict]]) -> dict:
    """Per contender: median/min/max over rounds of every metric and of peak RSS."""
    out = {}
    for contender, results in runs.items():
        ok = [r for r in results if "error" not in r]
        entry = {"errors": [r["error"] for r in results if "error" in r]}
        if ok:
            for m in workload.metrics:
                vals = [r["metrics"][m.key] for r in ok if r["metrics"].get(m.key) is not None]
                if vals:
                    entry[m.key] = summarize(vals)
            entry["rss_peak_mb"] = summarize([r["rss_peak_mb"] for r in ok])
            base = [r["rss_marks_mb"].get("before_model") for r in ok]
            if all(b is not None for b in base):
                entry["rss_before_model_mb"] = summarize(base)
        out[contender] = entry
    return out


def add_common_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--rounds", type=int, default=None, help="rounds of every contender (default 3; --quick: 1)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few steps: checks that every contender runs")
    ap.add_argument("--threads", type=int, default=None, help="threads for every contender (default: all CPUs)")
    ap.add_argument("--backends", default=None,
                    help="comma-separated keraslite backends (default: every usable one but the slow numpy)")
    ap.add_argument("--peers", default="torch,keras3",
                    help="comma-separated peers to run where installed: families (torch, keras3) or single ones "
                         "(torch-nchw, torch-cl, torch-cuda, keras3-jax); empty: keraslite only")
    ap.add_argument("--keep-openblas-coretype", action="store_true",
                    help="pass OPENBLAS_CORETYPE on to the children (default: unset there)")
    ap.add_argument("--isa", default="host", choices=("host", "avx2"),
                    help="instruction set every contender is held to: host (default) or avx2 (AVX-512 off in "
                         "Numba, PyTorch/oneDNN/MKL, OpenBLAS, NumPy and XLA: a machine of this kind without it)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds one child may run")
    ap.add_argument("--out", default=None, help="write all results as JSON here and the tables as Markdown "
                                                 "next to it (same name, .md)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show each child's output")


def run_workloads(workloads: list[Workload], args: argparse.Namespace) -> dict:
    """Run every workload's contenders for args.rounds rounds, alternating; return all results."""
    from _report import machine_info, render, write_outputs
    t_start = time.perf_counter()
    threads = args.threads or default_threads()
    rounds = args.rounds or (1 if args.quick else 3)
    base_env = child_env(threads, args.keep_openblas_coretype, isa=args.isa)
    machine = machine_info(threads, args.keep_openblas_coretype, args.isa)
    avail = probe(base_env)
    backends = args.backends.split(",") if args.backends else None
    peers = {p for p in args.peers.split(",") if p}
    plans = []
    for w in workloads:
        cfg = dict(w.config(args.quick), threads=threads, quick=args.quick)
        plans.append((w, cfg, contenders_for(w, avail, backends, peers)))
    print(f"# {len(workloads)} workload(s), {rounds} round(s), {threads} thread(s) per contender; "
          f"available: {json.dumps(avail)}", file=sys.stderr)
    runs: dict[str, dict[str, list[dict]]] = {w.name: {c: [] for c in cs} for w, _, cs in plans}
    cleanups = []
    for w, cfg, cs in plans:
        if w.prepare is not None:
            cleanups.append(w.prepare(cs, cfg, lambda c, extra, w=w, cfg=cfg: run_child(
                w.module, c, cfg, child_env(threads, args.keep_openblas_coretype, extra, args.isa), args.timeout)))
    try:
        for r in range(rounds):
            for w, cfg, cs in plans:
                order = cs[r % len(cs):] + cs[:r % len(cs)] if cs else []
                for c in order:
                    env = child_env(threads, args.keep_openblas_coretype, w.extra_env(c, cfg), args.isa)
                    res = run_child(w.module, c, cfg, env, args.timeout, args.verbose)
                    runs[w.name][c].append(res)
                    status = res.get("error") or ", ".join(
                        f"{k}={v:.4g}" for k, v in res["metrics"].items() if isinstance(v, (int, float)))
                    print(f"[round {r + 1}/{rounds}] {w.name} {c}: {res['wall_s']:.1f} s; {status}", file=sys.stderr)
    finally:
        for cleanup in cleanups:
            if cleanup is not None:
                cleanup()
    machine["wall_s"] = time.perf_counter() - t_start
    machine["loadavg_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report = {"machine": machine, "available": avail, "rounds": rounds, "workloads": {}}
    for w, cfg, cs in plans:
        report["workloads"][w.name] = {"title": w.title(cfg), "config": cfg, "contenders": cs,
                                       "summary": summarize_runs(w, runs[w.name]), "runs": runs[w.name]}
    text = render(report, {w.name: w for w in workloads})
    print(text)
    if args.out:
        write_outputs(report, text, args.out)
    return report


def main_for(workloads: list[Workload], doc: str) -> None:
    """Command line of a single benchmark script."""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    add_common_args(ap)
    run_workloads(workloads, ap.parse_args())

"""One benchmark contender in its own fresh process.

Run by the harness (bench/_harness.py), never imported by it:
    python bench/_child.py MODULE CONTENDER CONFIG_JSON RESULT_PATH
or  python bench/_child.py --probe RESULT_PATH   (which contenders this machine can run)

The parent has already set the thread environment (OMP/MKL/OPENBLAS/NUMBA threads, XLA_FLAGS,
KERAS_BACKEND); this process pins itself to `threads` CPUs when that is fewer than it may use
(jax sizes its pool from the affinity mask only), runs MODULE.run(contender, config, probe) and
writes the metrics, its own peak resident memory and the BLAS libraries it loaded as JSON.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _setup_paths() -> None:
    sys.path.insert(0, str(HERE))
    if (ROOT / "keraslite" / "__init__.py").exists():  # the checkout's keraslite wins over an installed one
        sys.path[1:1] = [str(ROOT), str(ROOT / "backends")]


def current_rss_mb() -> float | None:
    """Resident memory of this process now (VmRSS), in MiB; None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS), in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Probe:
    """Handed to a workload's run(): marks memory at named points and collects free-text notes."""

    def __init__(self):
        self.marks: dict[str, float | None] = {}
        self.notes: list[str] = []

    def mark(self, name: str) -> None:
        self.marks[name] = current_rss_mb()

    def note(self, line: str) -> None:
        self.notes.append(line)


def blas_info() -> list[dict]:
    """The BLAS/OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed"}]
    keys = ("user_api", "internal_api", "architecture", "num_threads", "version", "threading_layer")
    return [dict({k: d.get(k) for k in keys if d.get(k) is not None}, file=os.path.basename(d.get("filepath", "")))
            for d in threadpool_info()]


def framework_info() -> dict:
    """Versions and thread settings of the frameworks this process imported."""
    info = {"python": platform.python_version()}
    mods = sys.modules
    for name in ("numpy", "numba", "torch", "jax", "keras"):
        if name in mods:
            info[name] = getattr(mods[name], "__version__", "?")
    if "numba" in mods:
        info["numba_threads"] = mods["numba"].get_num_threads()
        info["numba_threading_layer"] = _safe(lambda: mods["numba"].threading_layer())
    if "torch" in mods:
        torch = mods["torch"]
        info["torch_threads"] = torch.get_num_threads()
        info["torch_cpu_capability"] = _safe(lambda: torch.backends.cpu.get_cpu_capability())
        info["torch_blas"] = _safe(lambda: _torch_blas(torch.__config__.show()))
    if "jax" in mods:
        info["jax_devices"] = _safe(lambda: [str(d) for d in mods["jax"].devices()])
    if "keraslite" in mods:
        kl = mods["keraslite"]
        info["keraslite"] = getattr(kl, "__version__", "?")
        info["keraslite_path"] = str(Path(kl.__file__).parent)
    return info


def _torch_blas(config: str) -> str:
    """PyTorch's BLAS and oneDNN from its build summary (linked statically: threadpoolctl cannot see them)."""
    import re
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    dnn = re.search(r"MKL-DNN v([\d.]+)", config)
    return f"{blas.group(1) if blas else '?'} (static), oneDNN {dnn.group(1) if dnn else '?'}"


def _safe(fn):
    try:
        return fn()
    except Exception as e:  # informational only: a missing attribute must not fail the benchmark
        return f"? ({type(e).__name__})"


def _pin(threads: int) -> list[int] | None:
    """Restrict this process to its first `threads` allowed CPUs when it may use more."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
        return allowed[:threads]
    return allowed


def probe() -> dict:
    """Which contenders this machine can run: keraslite backends, PyTorch (and CUDA), Keras 3/jax."""
    out: dict = {}
    try:
        import keraslite
        out["keraslite_backends"] = list(keraslite.available_backends())
    except Exception as e:
        out["keraslite_backends"] = []
        out["keraslite_error"] = f"{type(e).__name__}: {e}"
    try:
        import torch
        out["torch"] = torch.__version__
        out["torch_cuda"] = bool(torch.cuda.is_available())
    except ImportError:
        out["torch"] = None
    import importlib.util
    has_keras = importlib.util.find_spec("keras") is not None
    has_jax = importlib.util.find_spec("jax") is not None
    out["keras3_jax"] = False
    if has_keras and has_jax:
        from importlib.metadata import version
        out["keras"] = version("keras")
        out["jax"] = version("jax")
        out["keras3_jax"] = int(out["keras"].split(".")[0]) >= 3
    return out


def main(argv: list[str]) -> int:
    _setup_paths()
    if argv[0] == "--probe":
        Path(argv[1]).write_text(json.dumps(probe()))
        return 0
    module, contender, cfg_json, result_path = argv
    cfg = json.loads(cfg_json)
    cpus = _pin(int(cfg["threads"]))
    t0 = time.perf_counter()
    p = Probe()
    try:
        metrics = importlib.import_module(module).run(contender, cfg, p)
    except Exception:
        traceback.print_exc()
        return 1
    result = {"metrics": metrics, "rss_peak_mb": peak_rss_mb(), "rss_marks_mb": p.marks, "notes": p.notes,
              "blas": blas_info(), "frameworks": framework_info(), "cpus": cpus,
              "child_wall_s": time.perf_counter() - t0,
              "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "NUMBA_NUM_THREADS", "XLA_FLAGS", "OPENBLAS_CORETYPE")}}
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The first run on a CPU: kernels compiled in parallel, in worker processes, into the disk cache.

A Numba kernel compiles in 0.3-1 s of CPU on first use and loads from the disk cache afterwards.
When a plan is built, the backend lists the kernel families its steps will call (warmup.py's
recipes: "conv_fwd-f", "bn_bwd-f", ...) and checks each family's marker file. If some are
missing, the user is told once, and worker processes (``python -m keraslite_numba.warmup``)
compile them in the reverse of the plan's order while the plan itself compiles them in its own
order, on first use; the two meet in the middle. A per-family file lock makes sure each family
is compiled by one process only: the plan waits for a family a worker is compiling and then loads
it from the cache; a worker skips a family the plan (or another worker) has started.

The compiled code does not depend on which process compiled it (same source, same LLVM, same
CPU), so results are the same on cold and warm runs. Markers are named by everything that
invalidates Numba's cache (Numba/llvmlite versions, CPU name and features, the cache directory,
the kernel sources), so a stale marker cannot stand in for a missing kernel. Without file locks
(not POSIX) or with KERASLITE_COMPILE_WORKERS=0 the plan compiles everything itself.

Time spent compiling (or waiting for a worker) is counted in keraslite.backend.compile_clock, so
that the progress bar's ETA leaves it out.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no workers, no locks
    fcntl = None

from keraslite.backend import compile_clock

NOTICE = "keraslite: compiling kernels for this CPU, first run only"
_LOCK_TIMEOUT = 300.0  # seconds to wait for a worker before compiling anyway

_pending: set = set()  # families a worker of this process may be compiling
_workers: list = []
_told = False
_state = threading.local()
_listener = None
_fingerprint = None

# plan step op -> kernel families it calls (see NumbaBackend); conv2d_backprop_input adds
# col2im for few input channels (kernels/conv.py)
OP_FAMILIES = {"conv2d": ("conv_fwd",), "conv2d+add": ("conv_fwd",), "conv2d_backprop_input": ("conv_fwd",),
               "conv2d_backprop_filter": ("conv_bwd_filter",), "max_pool2d": ("max_fwd",),
               "max_pool2d_backprop": ("max_bwd",), "avg_pool2d": ("avg_fwd",),
               "avg_pool2d_backprop": ("avg_bwd",), "batchnorm_train": ("bn_fwd",),
               "batchnorm_train_backward": ("bn_bwd",)}


def notice() -> None:
    """Tell the user, once per process, that kernels are being compiled."""
    global _told
    if not _told:
        _told = True
        print(NOTICE, file=sys.stderr, flush=True)


def _sources() -> list[Path]:
    here = Path(__file__).resolve().parent
    return sorted(here.glob("*.py")) + sorted((here / "kernels").glob("*.py"))


def _cpu_identity() -> str:
    """The CPU model and its feature flags, read without importing Numba (so that workers can
    start before this process spends ~0.4 s importing it)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f.read().splitlines() if ln.startswith(("model name", "flags"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        import platform
        return f"{platform.machine()} {platform.processor()}"


def fingerprint() -> str:
    """Hash of everything that decides whether Numba's cache holds a compiled kernel: Numba and
    llvmlite versions, Python, the CPU, Numba's cache and CPU settings, the kernel sources."""
    global _fingerprint
    if _fingerprint is None:
        from importlib import metadata
        parts = [sys.version, _cpu_identity()]
        for dist in ("numba", "llvmlite"):
            try:
                parts.append(f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:  # pragma: no cover - vendored builds
                parts.append(f"{dist} ?")
        parts += [f"{k}={os.environ.get(k, '')}" for k in ("NUMBA_CACHE_DIR", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES",
                                                           "NUMBA_OPT")]
        for p in _sources():
            st = p.stat()
            parts.append(f"{p}:{st.st_mtime_ns}:{st.st_size}")
        _fingerprint = hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]
    return _fingerprint


def _dir() -> Path:
    from .fused import cache_dir
    d = cache_dir() / "warm"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _marker(key: str) -> Path:
    return _dir() / f"{key}.{fingerprint()}.done"


def is_done(key: str) -> bool:
    """True once a process has compiled family `key` into the cache."""
    return _marker(key).exists()


def _mark(key: str) -> None:
    _marker(key).touch()


@contextlib.contextmanager
def _locked(key: str, wait: bool):
    """Holds the family's file lock (yields True), or yields False if another process holds
    it and wait is False (or the wait timed out)."""
    if fcntl is None:
        yield True
        return
    fd = os.open(_dir() / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        got = False
        deadline = time.monotonic() + (_LOCK_TIMEOUT if wait else 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
        yield got
    finally:
        os.close(fd)  # releases the lock


def compile_unless_done(key: str, compile_fn) -> bool:
    """Worker side: compile family `key` unless it is done or another process has started it."""
    if is_done(key):
        return False
    with _locked(key, wait=False) as got:
        if not got or is_done(key):
            return False
        compile_fn(key)
        _mark(key)
        return True


@contextlib.contextmanager
def _first_use(key: str):
    t = time.perf_counter()
    with _locked(key, wait=True):
        compile_clock.add(time.perf_counter() - t)  # waiting for a worker's compile
        yield
        _mark(key)
    _pending.discard(key)


def first_use(key: str):
    """Context around a call of family `key`: the first time, if a worker may be compiling it,
    wait for that worker (the call then loads the kernel from the cache) or hold the lock while
    compiling it here."""
    if key not in _pending:
        return contextlib.nullcontext()
    return _first_use(key)


def plan_keys(steps) -> list[str]:
    """Kernel families the steps call, in order of first use."""
    keys = []
    for step in steps:
        fams = OP_FAMILIES.get(step.op)
        node = step.node
        if not fams or isinstance(node, (list, tuple)):
            continue
        # the kernels run in the dtype of the first input (x or the incoming gradient)
        char = {"float32": "f", "float64": "d"}.get(str(node.inputs[0].dtype)) if node.inputs else None
        if char is None:
            continue
        if step.op == "conv2d_backprop_input" and node.shape and node.shape[-1] is not None \
                and node.attrs.get("groups", 1) == 1 and 2 * int(node.shape[-1]) <= 32:
            fams = fams + ("col2im",)
        for f in fams:
            k = f"{f}-{char}"
            if k not in keys:
                keys.append(k)
    return keys


def _n_workers(n_missing: int) -> int:
    env = os.environ.get("KERASLITE_COMPILE_WORKERS")
    if env is not None:
        try:
            return max(0, int(env))
        except ValueError:
            raise ValueError(f"KERASLITE_COMPILE_WORKERS must be an integer, got {env!r}") from None
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    # the plan compiles about half itself; a worker costs ~0.5 s of CPU to start
    return max(0, min(cpus - 1, n_missing // 2, 3))


def prepare(steps) -> None:
    """Called when a plan is built: start workers for the families not yet in the cache."""
    try:
        keys = [k for k in plan_keys(steps) if k not in _pending and not is_done(k)]
    except OSError:  # unwritable cache directory: Numba compiles in-process as usual
        return
    if not keys:
        return
    notice()
    n = _n_workers(len(keys)) if fcntl is not None else 0
    if n == 0:
        return
    _pending.update(keys)
    order = keys[::-1]  # the plan starts at the front
    for w in range(n):
        try:
            _workers.append(spawn(order[w::n], quiet=True))
        except OSError:  # cannot start a process: compile in-process
            break


@atexit.register
def _stop_workers() -> None:
    """At exit, stop workers still compiling: nothing is left running behind the user's program
    (an interrupted compile leaves no marker, and Numba's cache files are replaced atomically)."""
    for p in _workers:
        if p.poll() is None:
            p.terminate()
    for p in _workers:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker ignoring SIGTERM
            p.kill()


def spawn(keys, quiet: bool = False) -> subprocess.Popen:
    """A worker process compiling the families `keys` (in that order) into the cache."""
    env = dict(os.environ)
    # the packages this process imported, first on the worker's path
    paths = [str(Path(__file__).resolve().parents[1]), str(Path(compile_clock.__file__).resolve().parents[2])]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["NUMBA_NUM_THREADS"] = "1"
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen([sys.executable, "-m", "keraslite_numba.warmup", *keys], env=env,
                            stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=True)


def install_listener() -> None:
    """Register, once, a Numba event listener that counts this process's compile time (top-level
    compiles only) and tells the user when a keraslite kernel starts compiling."""
    global _listener
    if _listener is not None:
        return
    from numba.core import event

    class CompileListener(event.Listener):
        def on_start(self, ev):
            d = getattr(_state, "depth", 0)
            _state.depth = d + 1
            if d == 0:
                _state.t0 = time.perf_counter()
                disp = (ev.data or {}).get("dispatcher")
                if (getattr(getattr(disp, "py_func", None), "__module__", "") or "").startswith("keraslite"):
                    notice()

        def on_end(self, ev):
            _state.depth -= 1
            if _state.depth == 0:
                compile_clock.add(time.perf_counter() - _state.t0)

    _listener = CompileListener()
    event.register("numba:compile", _listener)

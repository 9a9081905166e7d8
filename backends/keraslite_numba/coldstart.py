"""The first run on a CPU: kernels compiled in parallel, in worker processes, into the disk cache.

A Numba kernel compiles in 1-2 s of CPU on first use (a `parallel=True` kernel costs 3-4x the
same loops compiled serial: the parfor body is optimised by LLVM and emitted on its own, then
again inside its wrappers) and loads from the disk cache in milliseconds afterwards.

Two moments start workers (``python -m keraslite_numba.compile_worker``), each compiling kernel families
("conv_fwd-f", "bn_bwd-f", ...: warmup.py's recipes) into Numba's cache:
- `start_background()`, when the backend is imported: the families every convnet uses
  (COMMON, float32) that lack a marker, in the reverse of a training step's order, so that they
  compile while the user builds the model;
- `prepare(steps)`, when a plan is built: the plan's other missing families, in reverse order.
The plan meanwhile compiles in its own order, on first use; the two meet in the middle. A
per-family file lock keeps each compile in one process: the plan waits for a family a worker is
compiling and then loads it from the cache; a worker skips a family the plan (or another worker)
has started. After a family's first use a marker file records that the cache holds it.

The compiled code does not depend on which process compiled it (same source, same LLVM, same
CPU; the thread count is read at run time), so results are the same on cold and warm runs.
Markers are named by everything that invalidates Numba's cache (Numba/llvmlite versions, CPU name
and features, the cache directory, the kernel sources), so a stale marker cannot stand in for a
missing kernel. Without file locks (not POSIX) or with KERASLITE_COMPILE_WORKERS=0 the plan
compiles everything itself.

The user is told once per process, when a keraslite kernel compiles or workers start. Time spent
compiling (or waiting for a worker) is counted in keraslite.backend.compile_clock, so that the
progress bar's ETA leaves it out.
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
_ready: set = set()  # families this process has used (compiled or loaded; marked if compiled)
_workers: list = []
_told = False
_state = threading.local()
_listener = None
_fingerprint = None

# plan step op -> kernel families it calls (see NumbaBackend; pools by their `mode`);
# conv_backprop_input adds col2im for few input channels (kernels/conv.py)
OP_FAMILIES = {"conv": ("conv_fwd",), "conv+add": ("conv_fwd",), "conv_backprop_input": ("conv_fwd",),
               "conv_backprop_filter": ("conv_bwd_filter",), "pool": ("{mode}_fwd",),
               "pool_backprop": ("{mode}_bwd",), "batchnorm_train": ("bn_fwd",),
               "batchnorm_train_backward": ("bn_bwd",),
               # declared fused forms (kernels/fused_forms.py) running those kernels
               "batchnorm_train+tuple_get+relu": ("bn_fwd",), "sub+mul+add": ("bn_fwd",),
               "sub+mul+add+relu": ("bn_fwd",), "pool_backprop+relu_grad": ("{mode}_bwd",)}
# what start_background() compiles: a convnet's training step's families, last used first
COMMON = ("conv_bwd_filter-f", "bn_bwd-f", "max_bwd-f", "max_fwd-f", "bn_fwd-f", "conv_fwd-f")


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
    """Hash of everything that decides whether Numba's cache holds a compiled kernel: the
    installed Numba and llvmlite, Python, the CPU, Numba's cache and CPU settings, the kernel
    sources."""
    global _fingerprint
    if _fingerprint is None:
        import importlib.util
        parts = [sys.version, _cpu_identity()]
        for pkg in ("numba", "llvmlite"):
            # the installed copy (an upgrade or reinstall rewrites it), found without importing
            # it and without importlib.metadata's scan of sys.path (~50 ms at import time)
            spec = importlib.util.find_spec(pkg)
            origin = Path(spec.origin) if spec and spec.origin else None
            version = origin.parent / "_version.py" if origin else None
            for f in (origin, version):
                if f is not None and f.exists():
                    st = f.stat()
                    parts.append(f"{f}:{st.st_mtime_ns}:{st.st_size}")
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


def _record(key: str) -> None:
    """After a family's first use here: mark it in the cache if its kernels are now compiled
    (a call may take a route that skips a family, e.g. col2im)."""
    from . import warmup
    _pending.discard(key)
    _ready.add(key)  # no more bookkeeping for it in this process
    try:
        if warmup.compiled(key) and not is_done(key):
            _mark(key)
    except OSError:  # unwritable cache directory: nothing to record
        pass
    except AttributeError:  # a kernel renamed without warmup.KERNELS (test_coldstart fails): no marker
        pass


@contextlib.contextmanager
def _first_use(key: str, wait: bool):
    if not wait:
        yield
        _record(key)
        return
    t = time.perf_counter()
    with _locked(key, wait=True):
        compile_clock.add(time.perf_counter() - t)  # waiting for a worker's compile
        yield
        _record(key)


_NO_WAIT = contextlib.nullcontext()


def first_use(key: str):
    """Context around a call of family `key`. Until the family is recorded: if a worker of this
    process may be compiling it, wait for that worker (the call then loads the kernel from the
    cache) or hold the lock while compiling it here; afterwards, mark it in the cache."""
    if key in _ready:
        return _NO_WAIT
    return _first_use(key, key in _pending and fcntl is not None)


def plan_keys(steps) -> list[str]:
    """Kernel families the steps call, in order of first use."""
    keys = []
    for step in steps:
        fams = OP_FAMILIES.get(step.op)
        node = step.node
        if not fams or isinstance(node, (list, tuple)):
            continue
        if step.op == "pool_backprop+relu_grad":  # the step's node is the chain's last: relu_grad
            node = node.inputs[0]
        # the kernels run in the dtype of the first input (x or the incoming gradient)
        char = {"float32": "f", "float64": "d"}.get(str(node.inputs[0].dtype)) if node.inputs else None
        if char is None:
            continue
        strides = node.attrs.get("strides")
        if strides is not None and len(strides) not in (1, 2):  # rank 3 runs the reference code
            continue
        mode = node.attrs.get("mode")
        if "{mode}" in fams[0] and mode not in ("max", "avg"):
            continue
        if step.op == "conv_backprop_input" and node.shape and node.shape[-1] is not None \
                and node.attrs.get("groups", 1) == 1 and 2 * int(node.shape[-1]) <= 32:
            fams = fams + ("col2im",)
        for f in fams:
            k = f"{f.format(mode=mode)}-{char}"
            if k not in keys:
                keys.append(k)
    return keys


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _n_workers(n_missing: int) -> int:
    """Worker processes for `n_missing` families: KERASLITE_COMPILE_WORKERS if set, else one per
    CPU beside this process's own (which compiles about half itself), at most 3."""
    if fcntl is None:
        return 0
    env = os.environ.get("KERASLITE_COMPILE_WORKERS")
    if env is not None:
        try:
            n = max(0, int(env))
        except ValueError:
            raise ValueError(f"KERASLITE_COMPILE_WORKERS must be an integer, got {env!r}") from None
        return min(n, n_missing)
    # a worker costs ~0.5 s of CPU to start: not worth it for one family
    return max(0, min(_cpus() - 1, n_missing // 2, 3))


def _start(keys: list) -> None:
    """Workers for `keys` (already in the order they should compile in), told to the user."""
    n = _n_workers(len(keys))
    if n == 0:
        return
    notice()
    _pending.update(keys)
    for w in range(n):
        try:
            _workers.append(spawn(keys[w::n], quiet=True))
        except OSError:  # cannot start a process: compile in-process
            _pending.difference_update(keys[w::n])


def _missing(keys) -> list:
    return [k for k in keys if k not in _pending and k not in _ready and not is_done(k)]


def start_background() -> None:
    """At the backend's import: start compiling the COMMON families that the cache lacks."""
    try:
        if os.environ.get("KERASLITE_COMPILE_WORKERS") == "0":
            return
        keys = _missing(COMMON)
    except OSError:  # unwritable cache directory: Numba compiles in-process as usual
        return
    if keys:
        _start(keys)


def prepare(steps) -> None:
    """Called when a plan is built: start workers for the plan's families not yet in the cache
    nor being compiled by a worker, in the reverse of the plan's order."""
    try:
        keys = _missing(plan_keys(steps))
    except OSError:
        return
    if keys:
        _start(keys[::-1])  # the plan starts at the front


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
    env["NUMBA_NUM_THREADS"] = "1"  # read at run time by the kernels: the code is the same
    env["KERASLITE_COMPILE_WORKERS"] = "0"  # a worker starts no workers of its own
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen([sys.executable, "-m", "keraslite_numba.compile_worker", *keys], env=env,
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

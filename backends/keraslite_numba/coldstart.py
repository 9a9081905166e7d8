"""The first run on a CPU: serial first, parallel kernels compiled by worker processes.

A Numba kernel compiles in 0.3-2 s of CPU on first use and loads from the disk cache in
milliseconds afterwards; a `parallel=True` kernel costs 2-4x the same loops compiled serial. So
every parallel kernel has a serial twin computing the same bits (twins.py; coldgen.py for the
generated fused and batched kernels), and the first steps run the twins while worker processes
compile the parallel kernels.

Keys (warmup.parse) name one kernel: "conv_fwd-f" a family's parallel kernel for float32,
"conv_fwd-fs" its serial twin; coldgen.py's task lines name a generated kernel_par (or a
batched kernel_seq). Workers (compile_worker.main, one per CPU beside this process, at most 3:
forked from this process once `prime()` has set Numba up, where that is safe, else spawned as
``python -m keraslite_numba.compile_worker``) compile keys into Numba's cache, serial twins
first, and take more keys on their stdin (a forked worker: its task pipe):
- `start_background()`, at the process's first convolution node (graph.on_first_node): the
  COMMON families (float32) that lack a marker, serial twins first-used first, then the
  parallel kernels, while the user builds the rest of the model (without a convolution: none);
- `prepare(steps)`, when a plan is built: the plan's other missing kernels (serial twins in the
  plan's order, then parallel kernels); coldplan.prepare_batched adds the kernel_seq of the
  optimizer's batched update, which the step needs last;
- coldgen.large_kernel, at a generated kernel's first large call: its kernel_par.
`run_twin` (a Twin's call until its kernel is settled) runs the serial twin while a worker of this
process has the parallel kernel queued and unmarked: from the cache, or after waiting for the
worker compiling it, or compiled here under the twin's lock. While it waits, this process
compiles the plan's serial twins that no process has started, from the plan's end (`_help`: the
workers take them from the front, with a head start while the model is built; they meet in the
middle); a worker skips a key another process holds and takes it up again at its end. Once the
parallel kernel's marker is there, the call switches to it (a cache load) for good; the plan
never waits for a parallel compile. After a kernel's first use in this process a marker file
records that the cache holds it. At exit, workers finish the parallel
kernels this process ran stand-ins for (at most EXIT_WAIT seconds) and are stopped.

The compiled code does not depend on which process compiled it (same source, same LLVM, same
CPU; the thread count is read at run time), and a twin computes what its parallel kernel does,
so results are the same on cold and warm runs. Markers are named by everything that invalidates
Numba's cache (Numba/llvmlite versions, CPU name and features, the cache directory, the kernel
sources), so a stale marker cannot stand in for a missing kernel. Without file locks (not POSIX),
with KERASLITE_COMPILE_WORKERS=0 or when the workers are gone, the plan compiles the parallel
kernels itself, as it did before the twins.

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

from .cachedir import cache_dir
from .kernels.conv_geometry import winograd_node
from .kernels.tile import tile

NOTICE = "keraslite: compiling kernels for this CPU, first run only"
EXIT_NOTICE = "keraslite: finishing this CPU's parallel kernels before exit, first run only"
EXIT_WAIT = 30.0  # seconds the exit waits for them at most
WORKER_IDLE = 20.0  # seconds a worker with nothing to do waits for more before it ends
_LOCK_TIMEOUT = 300.0  # seconds to wait for a worker before compiling anyway

_pending: set = set()  # keys asked of a worker of this process (it may be compiling them)
_ready: set = set()  # keys this process has used (compiled or loaded; marked if compiled)
_workers: list = []
_wanted: set = set()  # parallel kernels this process ran a serial stand-in for
_owner: dict = {}  # key -> the worker asked for it
_told = False
_state = threading.local()
_listener = None
_fingerprint = None

# plan step op -> kernel families it calls (see NumbaBackend; pools by their `mode`);
# conv_backprop_input adds col2im for few input channels (kernels/conv.py)
OP_FAMILIES = {"conv": ("conv_fwd",), "conv+add": ("conv_fwd",), "conv_backprop_input": ("conv_fwd",),
               "conv_backprop_filter": ("conv_bwd_filter",), "pool": ("{mode}_fwd",),
               "pool_backprop": ("{mode}_bwd",), "batchnorm_train": ("bn_fwd",),
               "batchnorm_train_backward": ("bn_bwd",), "matmul": ("gemm_split",), "matmul+add": ("gemm_split",),
               "matmul+add+relu": ("gemm_split",), "matmul+add+sigmoid": ("gemm_split",),
               "matmul+add+tanh": ("gemm_split",),
               # declared fused forms (kernels/fused_forms.py) running those kernels
               "batchnorm_train+tuple_get+relu": ("bn_fwd",), "sub+mul+add": ("bn_fwd",),
               "sub+mul+add+relu": ("bn_fwd",), "pool_backprop+relu_grad": ("{mode}_bwd",),
               "batchnorm_train_backward+tuple_get+sum": ("bn_bwd",), "batchnorm_train+tuple_get+add": ("bn_fwd",),
               "batchnorm_train+tuple_get+add+relu": ("bn_fwd",), "conv+add+sub+mul+add": ("conv_fwd",),
               "conv+add+sub+mul+add+relu": ("conv_fwd",),
               # the fused convolution + max pooling, and the two kernels its first-run stand-in runs
               "conv+add+sub+mul+add+relu+pool": ("conv_fwd", "max_fwd", "conv_pool"),
               "conv+add+relu+pool": ("conv_fwd", "max_fwd", "conv_pool")}
# families whose serial stand-in is NumPy code (twins.Twin with seq_kernel None, kernels/pool.py,
# kernels/batchnorm_numpy.py; conv_wino's and conv_wgrad's also run conv_fwd's kernel, kernels/conv.py;
# conv_pool's runs conv_fwd's and max_fwd's, kernels/conv_pool.py): no serial twin to compile, so
# none is asked of a worker
NUMPY_SERIAL = ("max_fwd", "max_bwd", "bn_fwd", "bn_bwd", "conv_wino", "conv_wgrad", "conv_pool")
# families whose stand-in is many times slower than their parallel kernel (the Winograd ones:
# unblocked NumPy transforms, ~15x at the convnet's shapes, against a serial twin's ~2x): a plan
# asks the workers for their parallel kernels right after the serial twins
SLOW_STAND_INS = ("conv_wino", "conv_wgrad")
# what start_background() compiles (first used first): what a convnet runs at prediction as in
# training; training's own kernels wait for its plan's prepare() (a predict-only run: none)
COMMON = ("conv_fwd-f", "max_fwd-f")


# warmup.compile_family, registered by the package's __init__ (warmup's recipes import the
# kernels, which import this module): how this process compiles a key while it waits (_help)
COMPILE: list = [None]

# (forkable, fork) of forking.py, which registers them when the backend imports it: a worker
# forked from this process starts at once (forking.py imports this module and the worker's, so
# this one may not import it); (None, None) spawns every worker
FORK: list = [None, None]


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
    d = cache_dir() / "warm"
    d.mkdir(parents=True, exist_ok=True)
    return d


_paths: dict = {}


def _marker(key: str) -> Path:
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = _dir() / f"{key}.{fingerprint()}.done"
    return path


def is_done(key: str) -> bool:
    """True once a process has compiled the kernel of `key` (warmup.parse) into the cache."""
    return _marker(key).exists()


def _mark(key: str) -> None:
    _marker(key).touch()


_held = [0]  # file locks this process holds now (a fork then would hand the child a copy)


@contextlib.contextmanager
def _locked(key: str, wait: bool, idle=None):
    """Holds the family's file lock (yields True), or yields False if another process holds
    it and wait is False (or the wait timed out). While waiting, `idle()` (if given) is called
    between tries: it may do other work, and returns quickly when it has none."""
    if fcntl is None:
        yield True
        return
    _held[0] += 1
    # named by the fingerprint too: another checkout's (other sources) kernel is not this one
    fd = os.open(_dir() / f"{key}.{fingerprint()}.lock", os.O_RDWR | os.O_CREAT, 0o644)
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
                if idle is None or not idle():
                    time.sleep(0.005)
        yield got
    finally:
        os.close(fd)  # releases the lock
        _held[0] -= 1


def compile_unless_done(key: str, compile_fn, wait: bool = False) -> bool:
    """Worker side: compile the kernel of `key` unless it is done or another process has started
    it (with `wait`: unless it is done once that process has finished or stopped)."""
    if is_done(key):
        return False
    with _locked(key, wait=wait) as got:
        if not got or is_done(key):
            return False
        compile_fn(key)
        _mark(key)
        return True


def _record(key: str, compiled) -> None:
    """After a kernel's first use here: mark it in the cache if `compiled()` says this process
    now holds it (compiled here or loaded)."""
    _pending.discard(key)
    _ready.add(key)  # no more bookkeeping for it in this process
    try:
        if compiled() and not is_done(key):
            _mark(key)
    except OSError:  # unwritable cache directory: nothing to record
        pass


@contextlib.contextmanager
def _first_use(key: str, wait: bool, compiled):
    if not wait:
        yield
        _record(key, compiled)
        return
    t, helped = time.perf_counter(), _helped[0]
    with _locked(key, wait=True, idle=_help):
        # waiting for a worker's compile (compiles done meanwhile were counted as they ran)
        compile_clock.add(time.perf_counter() - t - (_helped[0] - helped))
        yield
        _record(key, compiled)


_NO_WAIT = contextlib.nullcontext()
_helps: list = []  # serial twins of this process's plans, in the plans' order (see _help)
_helped = [0.0]  # seconds _help has spent compiling


def _help() -> bool:
    """Called while this process waits for a worker's compile: compile here the last serial
    twin of the plans that no process has started (the workers take them from the front), so
    that the two cores share the first step's compiles. True if it compiled one."""
    compile_family = COMPILE[0]
    while _helps and compile_family is not None:
        key = _helps.pop()
        if key in _ready:
            continue
        t = time.perf_counter()
        try:
            done = compile_unless_done(key, compile_family)
        except OSError:  # unwritable cache directory
            return False
        except Exception:  # noqa: BLE001 - ahead of time only: the call that needs it compiles it
            done = False
        finally:
            _helped[0] += time.perf_counter() - t
        if done:
            return True
    return False


def first_use(key: str, compiled):
    """Context around a call of the kernel of `key`. Until the key is recorded: if a worker of
    this process may be compiling it, wait for that worker (the call then loads the kernel from
    the cache) or hold the lock while compiling it here; afterwards, mark it in the cache if
    `compiled()` (a callable) says this process holds the kernel."""
    if key in _ready:
        return _NO_WAIT
    return _first_use(key, key in _pending and fcntl is not None, compiled)


def run_twin(twin, args):
    """A twins.Twin's call while its kernel for the dtype is not settled. While a worker of this
    process compiles the parallel kernel (not yet marked in the cache), the serial twin runs:
    loaded from the cache, or after waiting for a worker compiling it, or compiled here (cheap).
    Otherwise the parallel kernel runs from now on (loaded from the cache, or compiled here as
    without workers); the results are the same bit for bit."""
    char = args[twin.arg].dtype.char
    key = f"{twin.family}-{char}"
    if key in _pending and not is_done(key) and not _orphaned(key):
        _wanted.add(key)
        with first_use(key + "s", lambda: twin.holds(True, char)):
            return twin.seq(*args)
    twin.chosen[char] = twin.par
    with first_use(key, lambda: twin.holds(False, char)):
        return twin.par(*args)


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
        if fams[0] == "conv_fwd" and _large_filter(node):
            fams = fams + ("conv_pack",)
        if fams[0] in ("conv_fwd", "conv_bwd_filter") and char == "f" and winograd_node(node, tile()[1]):
            # the Winograd kernel, and the forward kernel its first-run stand-in calls
            fams = ("conv_fwd", "conv_wino" if fams[0] == "conv_fwd" else "conv_wgrad")
        if fams[0] == "gemm_split" and char == "f" and step.op in _DENSE_OPS:
            dense = _dense_route(node)
            if dense:
                fams = dense + fams
        for f in fams:
            k = f"{f.format(mode=mode)}-{char}"
            if k not in keys:
                keys.append(k)
    return keys


# kernels/conv_pack.NUMBA_MIN (not imported: this module runs before Numba is imported)
_PACK_MIN = 1 << 16
# kernels/gemm.py sends these float32 products to the convolution microkernel (kernels/dense.py)
# when n >= dense.MIN_N (conv.NR, the tile's columns) and k <= dense.MAX_K, b C-contiguous and a
# C-contiguous or the transpose of a C-contiguous array
_DENSE_OPS = ("matmul", "matmul+add", "matmul+add+relu")
_DENSE_MAX_K = 1024


def _dense_route(node) -> tuple:
    """The families (conv_fwd, and conv_pack for a large b packed: its width not whole panels)
    of a float32 product that gemm.py runs on dense.py's kernel: a Dense layer's forward product
    x @ w or weight gradient transpose(x) @ g, of static width n and inner size k in range; ()
    for others (a transposed b, as in the input gradient g @ transpose(w), stays on BLAS)."""
    for _ in range(3):  # the chain's node is its last (add, relu): back to the matmul
        if node.op == "matmul" or not node.inputs:
            break
        node = node.inputs[0]
    if node.op != "matmul" or len(node.inputs) != 2:
        return ()
    a, b = node.inputs
    if b.op == "transpose" or len(b.shape or ()) != 2 or len(a.shape or ()) != 2:
        return ()
    k, n = b.shape
    if k is None or n is None or n < tile()[1] or k > _DENSE_MAX_K:
        return ()
    return ("conv_fwd", "conv_pack") if k * n >= _PACK_MIN and n % tile()[1] else ("conv_fwd",)


def _large_filter(node) -> bool:
    """Whether a convolution's filter (its second input) is packed by conv_pack's kernel."""
    shape = getattr(node.inputs[1], "shape", None) if len(node.inputs) > 1 else None
    if not shape or any(d is None for d in shape):
        return False
    n = 1
    for d in shape:
        n *= int(d)
    return n >= _PACK_MIN


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
    """Queue `keys` (in the order they should compile in; or coldgen's task lines) to this
    process's workers, told to the user: to the running ones through their stdin, else to new
    ones."""
    alive = [p for p in _workers if p.poll() is None and p.stdin is not None]
    n = len(alive) or _n_workers(len(keys))
    if n == 0:
        return
    notice()
    _pending.update(k.split("\t")[0] for k in keys)
    for w in range(n):
        part = keys[w::n]
        try:
            if alive:
                proc = alive[w]
                proc.stdin.write("".join(k + "\n" for k in part).encode())
                proc.stdin.flush()
            else:
                forked = FORK[0] is not None and FORK[0]()
                proc = (FORK[1] if forked else spawn)(part, quiet=True, feed=True)
                _workers.append(proc)
            _owner.update((k.split("\t")[0], proc) for k in part)
        except OSError:  # cannot start a process, or it has gone: compile in-process
            _pending.difference_update(k.split("\t")[0] for k in part)


def _orphaned(key: str) -> bool:
    """True when the worker asked for `key` has ended without marking it (it crashed, was
    killed, or ended idle before reading the request): the key runs as without workers."""
    proc = _owner.get(key)
    if proc is None or proc.poll() is not None:
        _pending.discard(key)
        return True
    return False


def _missing(keys, python=()) -> list:
    """The parallel kernels of `keys` that the cache lacks and no worker of this process has been
    asked for, preceded by their serial twins (those the cache lacks, none for NumPy stand-ins
    and the families in `python`) in the same order."""
    par = [k for k in keys if k not in _pending and k not in _ready and not is_done(k)]
    seq = [k + "s" for k in par if k + "s" not in _pending and k + "s" not in _ready
           and k.rpartition("-")[0] not in NUMPY_SERIAL and k.rpartition("-")[0] not in python
           and not is_done(k + "s")]
    return seq + par


def start_background() -> None:
    """At the first convolution node: start compiling the COMMON families that the cache lacks
    (their serial twins first, first used first: the plan's first call finds its twin under way
    and compiles the last ones meanwhile)."""
    try:
        if os.environ.get("KERASLITE_COMPILE_WORKERS") == "0":
            return
        keys = _missing(COMMON)
    except OSError:  # unwritable cache directory: Numba compiles in-process as usual
        return
    if keys:
        _start(keys)


def prepare(steps) -> None:
    """Called when a plan is built: queue the plan's kernels not yet in the cache nor asked of a
    worker (serial twins, then parallel kernels), and have the workers take the plan's serial
    twins first, in the plan's order, ahead of COMMON twins the plan does not use; while the
    plan waits for one of them, this process compiles others from the back (_help)."""
    # gemm_split's stand-in compiles _block for sigmoid and tanh epilogues only (kernels/gemm.py)
    python = () if any(step.op in ("matmul+add+sigmoid", "matmul+add+tanh") for step in steps) else ("gemm_split",)
    try:
        keys = plan_keys(steps)
        missing = _missing(keys, python)
        first = [k + "s" for k in keys if not is_done(k) and k + "s" not in _ready and not is_done(k + "s")]
    except OSError:
        return
    if missing:
        _start(missing)
    first = [k for k in first if k in _pending]
    _helps.extend(k for k in first if k.rpartition("-")[0] not in NUMPY_SERIAL + python)
    first += [k for k in keys if k.rpartition("-")[0] in SLOW_STAND_INS and k in _pending]
    if first:
        _tell("first " + " ".join(first))


def _tell(line: str) -> None:
    """Write a control line to every running worker (compile_worker.py)."""
    for p in _workers:
        if p.poll() is None and p.stdin is not None:
            with contextlib.suppress(OSError):
                p.stdin.write((line + "\n").encode())
                p.stdin.flush()


@atexit.register
def _stop_workers() -> None:
    """At exit: if this process ran serial twins (or kernel_seq) while its workers compiled the
    parallel kernels, let the workers finish those (and nothing else), for at most
    EXIT_WAIT seconds, so that the next process finds them in the cache; then stop every worker
    still running: nothing is left behind the user's program (an interrupted compile leaves no
    marker, and Numba's cache files are replaced atomically)."""
    alive = [p for p in _workers if p.poll() is None]
    try:
        wanted = sorted(k for k in _wanted if not is_done(k))
    except OSError:
        wanted = []
    if wanted and alive:
        print(EXIT_NOTICE, file=sys.stderr, flush=True)
        _tell("only " + " ".join(wanted))  # the workers keep only these, then end
        for p in alive:
            with contextlib.suppress(OSError):
                p.stdin.close()
        deadline = time.monotonic() + EXIT_WAIT
        for p in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
    for p in _workers:
        if p.poll() is None:
            p.terminate()
        if p.stdin is not None:
            with contextlib.suppress(OSError):
                p.stdin.close()
    for p in _workers:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker ignoring SIGTERM
            p.kill()


def spawn(keys, quiet: bool = False, feed: bool = False) -> subprocess.Popen:
    """A worker process compiling the kernels of `keys` (serial twins first, otherwise in that
    order) into the cache; with `feed`, also those later written to its stdin, one per line,
    until it is closed or the worker has had nothing to do for WORKER_IDLE seconds (then it ends:
    an idle worker would hold its memory for the rest of the user's program)."""
    env = dict(os.environ)
    # the packages this process imported, first on the worker's path
    paths = [str(Path(__file__).resolve().parents[1]), str(Path(compile_clock.__file__).resolve().parents[2])]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["NUMBA_NUM_THREADS"] = "1"  # read at run time by the kernels: the code is the same
    env["KERASLITE_COMPILE_WORKERS"] = "0"  # a worker starts no workers of its own
    out = subprocess.DEVNULL if quiet else None
    idle = [f"--idle={WORKER_IDLE}"] if feed else []
    return subprocess.Popen([sys.executable, "-m", "keraslite_numba.compile_worker", *idle, *keys], env=env,
                            stdin=subprocess.PIPE if feed else subprocess.DEVNULL, stdout=out, stderr=out,
                            close_fds=True)


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

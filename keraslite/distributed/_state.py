"""The process group: who this process is among the ranks started by `mpiexec`.

`mpi4py` is imported by `init()` only, so `import keraslite.distributed` works without MPI.
A process that no MPI launcher started gets a world of size 1 in which every collective is an
identity (with or without mpi4py installed).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from typing import Any

# Variables that MPICH (Hydra/PMI), Open MPI and PMIx launchers set in every rank they start.
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")

_INSTALL_HINT = ('pip install "keraslite[distributed]" mpich  (or build mpi4py against the site MPI on a '
                 "cluster: pip install mpi4py)")


class World:
    """The process group: an MPI communicator (None for a single process without MPI), this
    process's rank and the group's size, and the same for the ranks sharing this machine."""

    def __init__(self, comm: Any, rank: int, size: int, local_rank: int, local_size: int, mpi: Any = None):
        self.comm, self.mpi = comm, mpi
        self.rank, self.size = int(rank), int(size)
        self.local_rank, self.local_size = int(local_rank), int(local_size)
        self.engines: dict = {}  # per array module: the gradient reduction engine (collectives.py)
        # this rank's share of the current step's global batch times size (sharding.py): 1 when the
        # ranks hold equal parts, so the averaged gradient is the global batch's mean gradient
        self.step_weight = 1.0


_world: World | None = None
_log_all_ranks = False
_shard_data = True


def _launched_by_mpi() -> bool:
    return any(v in os.environ for v in _LAUNCHER_VARS)


def init(comm: Any = None) -> None:
    """init(comm=None): join the ranks started by `mpiexec` (MPI_COMM_WORLD, or the mpi4py
    communicator `comm`). Idempotent. Without a launcher the world has size 1."""
    global _world
    if _world is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        if comm is not None or _launched_by_mpi():
            raise ImportError("keraslite.distributed.init: this process was started by an MPI launcher but mpi4py "
                              f"cannot be imported ({e}); install it with: {_INSTALL_HINT}") from e
        _world = World(None, 0, 1, 0, 1)
        return
    base = MPI.COMM_WORLD if comm is None else comm
    # our own communicator: keraslite's collectives never match a message of the user's
    own = base.Dup()
    local = own.Split_type(MPI.COMM_TYPE_SHARED, key=own.Get_rank())
    _world = World(own, own.Get_rank(), own.Get_size(), local.Get_rank(), local.Get_size(), MPI)
    local.Free()
    if _world.size > 1:
        _install_abort_hook(own)
        pin_device(_world)
    if _world.local_size > 1:
        _share_cores(_world.local_size)


def _share_cores(local_size: int) -> None:
    """Ranks on one machine split its cores for the CPU backend (unless NUMBA_NUM_THREADS says
    otherwise): k ranks each with all cores' threads would spin against each other."""
    if "NUMBA_NUM_THREADS" in os.environ:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        from .. import config
        config.set_num_threads(max(1, cores // local_size))
    except Exception:  # Numba unusable here: only the numpy/cuda backends run, nothing to share
        pass


def _install_abort_hook(comm) -> None:
    """An exception that ends one rank must end all of them: the others would otherwise wait
    forever in their next collective. The traceback is printed first, then MPI_Abort."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        comm.Abort(1)
    sys.excepthook = hook


def shutdown() -> None:
    """shutdown(): leave the process group (init() may be called again afterwards)."""
    global _world
    if _world is not None and _world.comm is not None:
        _world.comm.Free()
    _world = None


def world(who: str = "keraslite.distributed") -> World:
    """The initialised world; RuntimeError naming `who` before init()."""
    if _world is None:
        raise RuntimeError(f"{who}: keraslite.distributed is not initialised; call keraslite.distributed.init() "
                           "first (once per process, before building the optimizer)")
    return _world


def active() -> bool:
    """True when init() was called and there are several ranks (never raises)."""
    return _world is not None and _world.size > 1


def is_initialized() -> bool:
    """is_initialized(): True after init()."""
    return _world is not None


def rank() -> int:
    """rank(): this process's index among all ranks (0 .. size()-1)."""
    return world("rank()").rank


def size() -> int:
    """size(): the number of ranks."""
    return world("size()").size


def local_rank() -> int:
    """local_rank(): this process's index among the ranks on the same machine."""
    return world("local_rank()").local_rank


def local_size() -> int:
    """local_size(): the number of ranks on this machine."""
    return world("local_size()").local_size


def log_on_all_ranks(enabled: bool = True) -> None:
    """log_on_all_ranks(enabled=True): let every rank print progress bars and run the writing
    callbacks (ModelCheckpoint, CSVLogger, TensorBoard, RemoteMonitor), not rank 0 alone."""
    global _log_all_ranks
    _log_all_ranks = bool(enabled)


def set_data_sharding(enabled: bool = True) -> None:
    """set_data_sharding(enabled=True): with False, fit/fit_generator train each rank on all the
    data it is given (data sharded by hand, as in Horovod scripts), still averaging the gradients;
    the ranks must then have the same number of steps per epoch (checked before training)."""
    global _shard_data
    _shard_data = bool(enabled)


def shards_data() -> bool:
    return _shard_data


def logs_here() -> bool:
    """True where progress output and files are written: rank 0, a single process, or every rank
    after log_on_all_ranks()."""
    return _log_all_ranks or _world is None or _world.rank == 0


@contextlib.contextmanager
def using_world(w: World):
    """Run with `w` as the world (tests simulate ranks in one process with a fake communicator)."""
    global _world
    saved = _world
    _world = w
    try:
        yield w
    finally:
        _world = saved


def pin_device(world: World) -> None:
    """Make GPU local_rank (modulo the GPU count) current for this rank, where CuPy is installed
    and sees a GPU. Called by init(), before any device array exists."""
    if importlib.util.find_spec("cupy") is None:
        return
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no driver or no GPU: the CPU backends are unaffected
        return
    if count:
        cupy.cuda.Device(world.local_rank % count).use()

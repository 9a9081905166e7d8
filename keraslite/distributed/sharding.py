"""What the training loops (engine/loops.py) ask of the process group. Every function here is an
identity, and touches no MPI, unless init() was called with several ranks and the model's optimizer
is a DistributedOptimizer (`sharded`); the rank-0 filter of printing/writing callbacks only needs
several ranks.

When sharded:

* fit(x, y): `batch_size` is per rank; a global batch is `batch_size * size()` consecutive
  positions of the epoch's order, and rank r trains on its r-th contiguous slice. The order is one
  permutation for all ranks: rank 0 shuffles (np.random, exactly as a single process would) and
  broadcasts it, so `np.random.seed(s)` on rank 0 gives the batches of a 1-rank run with
  `batch_size * size()`.
* A last global batch of r < batch_size * size() samples is split as evenly as possible (the
  first r % size() ranks take one sample more) and each rank's gradient is weighted by its share,
  so the averaged gradient is the mean over those r samples, as in one process. A last global
  batch with fewer samples than ranks (r < size()) is skipped on every rank.
* fit_generator (and fit on a generator/Sequence): a Sequence is read by index, rank r taking
  items r, r + size, r + 2*size, ... (it loads only its own items), so an epoch lasts
  len(sequence) // size() steps (the last len % size() items are not used); with shuffle=True each
  rank shuffles the order of its own items (every item is still used once per epoch, but the steps
  group them differently from one process: shuffle=False reproduces it). A plain generator must
  produce the same stream on every rank and needs steps_per_epoch; a step consumes size()
  consecutive items and rank r keeps the r-th.
* set_data_sharding(False) turns the splitting off (data sharded by hand): each rank trains on
  everything it is given, and the ranks must agree on the number of steps instead of the samples.
* Deadlock freedom: all ranks first compare the loop's parameters (sample count, batch size,
  epochs, steps, shuffle, validation, the number of collective callbacks) and raise the same
  ValueError on every rank when they differ. Then the step count per epoch is a function of those
  values alone, and `stop_training` is agreed on (any rank stops: all stop) after each step and
  epoch, so every rank calls the compiled step, which holds exactly one allreduce, equally often.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from . import _state

# callbacks that print or write files: rank 0 only unless log_on_all_ranks() or cb.all_ranks = True
_WRITERS = ("ProgbarLogger", "ModelCheckpoint", "CSVLogger", "TensorBoard", "RemoteMonitor")


def shard_batches(n: int, batch_size: int, rank: int, size: int) -> list[tuple[int, int, float]]:
    """(start, end, weight) of rank `rank`'s part of each global batch: positions in the epoch's
    order; weight = this part's share of the global batch times size (1.0 for equal parts)."""
    out = []
    global_batch = batch_size * size
    for start in range(0, n, global_batch):
        r = min(global_batch, n - start)
        if r < size:
            break
        base, extra = divmod(r, size)
        count = base + (1 if rank < extra else 0)
        lo = start + rank * base + min(rank, extra)
        out.append((lo, lo + count, 1.0 if count * size == r else count * size / r))
    return out


def sharded(model) -> bool:
    """True when `model` trains data-parallel: several ranks and a DistributedOptimizer. With a
    plain optimizer each rank trains its own replica on all the data, without collectives."""
    if not _state.active():
        return False
    if getattr(getattr(model, "optimizer", None), "_keraslite_distributed", False):
        return True
    if not getattr(model, "_warned_not_distributed", False):
        import warnings
        warnings.warn(f"keraslite.distributed runs {_state.world().size} ranks but the model's optimizer is not a "
                      "DistributedOptimizer: each rank trains its own replica on all of its data", RuntimeWarning)
        model._warned_not_distributed = True
    return False


def splits(model) -> bool:
    """True when the loops split the data over the ranks (sharded, and set_data_sharding not off)."""
    return sharded(model) and _state.shards_data()


def fit_batches(model, n: int, batch_size: int) -> Iterator[tuple[int, int]]:
    """This rank's (start, end) of every batch of one epoch; sets the gradient weight of each step
    (reset to 1 when the epoch ends or the loop leaves early)."""
    if not splits(model):
        for start in range(0, n, batch_size):
            yield start, min(n, start + batch_size)
        return
    w = _state.world()
    try:
        for start, end, weight in shard_batches(n, batch_size, w.rank, w.size):
            w.step_weight = weight
            yield start, end
    finally:
        w.step_weight = 1.0


def local_samples(model, n: int, batch_size: int) -> int:
    """The number of samples this rank trains on per epoch (n for a single process)."""
    if not splits(model):
        return n
    w = _state.world()
    return sum(e - s for s, e, _ in shard_batches(n, batch_size, w.rank, w.size))


def global_batch_size(model, batch_size: int) -> int:
    return batch_size * _state.world().size if splits(model) else batch_size


def shared_order(model, index_array: np.ndarray, shuffle) -> np.ndarray:
    """Rank 0's shuffled order of the samples, on every rank."""
    if not shuffle or not splits(model):
        return index_array
    w = _state.world()
    order = np.ascontiguousarray(index_array, dtype=np.int64)
    w.comm.Bcast(order, root=0)
    return order


def verbosity(verbose):
    """0 on ranks that do not print (every rank but 0 unless log_on_all_ranks())."""
    return verbose if (not _state.active() or _state.logs_here()) else 0


def rank_filter(callbacks: list) -> list:
    """The callbacks that run here: printing and file-writing ones on rank 0 only, unless
    log_on_all_ranks() or the callback has all_ranks = True."""
    if not _state.active() or _state.logs_here():
        return list(callbacks)
    return [cb for cb in callbacks if getattr(cb, "all_ranks", False)
            or not any(k.__name__ in _WRITERS for k in type(cb).__mro__)]


def check_loop(model, who: str, callbacks, **values) -> None:
    """The same ValueError on every rank unless all ranks run the loop with the same values."""
    if not sharded(model):
        return
    w = _state.world()
    if values.get("samples") is not None and not _state.shards_data():  # data split by hand:
        samples = int(values.pop("samples"))                              # equal step counts suffice
        if values.get("batch_size") is not None:
            values["batches"] = -(-samples // int(values["batch_size"]))
    values["collective_callbacks"] = sum(1 for cb in callbacks or [] if getattr(cb, "_collective", False))
    names = sorted(values)
    mine = np.array([_as_int(values[k]) for k in names], dtype=np.int64)
    lo, hi = mine.copy(), mine.copy()
    w.comm.Allreduce(w.mpi.IN_PLACE, lo, op=w.mpi.MIN)
    w.comm.Allreduce(w.mpi.IN_PLACE, hi, op=w.mpi.MAX)
    differ = [f"{k} ({lo[i]}..{hi[i]})" for i, k in enumerate(names) if lo[i] != hi[i]]
    if differ:
        raise ValueError(f"{who}: the {w.size} ranks were called differently: " + ", ".join(differ) +
                         f"; this rank (rank {w.rank}) has " + ", ".join(f"{k}={values[k]}" for k in names) +
                         ". Every rank must pass data of the same length and the same arguments and callbacks "
                         "(the ones from keraslite.distributed on all ranks), or the ranks' collectives would not "
                         "match")


def _as_int(v) -> int:
    if v is None:
        return -1
    if isinstance(v, str):
        return {"batch": 2}.get(v, 3)
    return int(v)


def stop(model) -> bool:
    """model.stop_training, agreed on by all ranks (one rank stopping stops all)."""
    flag = bool(getattr(model, "stop_training", False))
    if not sharded(model):
        return flag
    w = _state.world()
    buf = np.array([1 if flag else 0], dtype=np.int64)
    w.comm.Allreduce(w.mpi.IN_PLACE, buf, op=w.mpi.MAX)
    model.stop_training = bool(buf[0])
    return model.stop_training


# ---------------------------------------------------------------------------------------------
# generators and Sequences

def shard_source(model, data, steps_per_epoch=None):
    """What this rank reads in fit_generator: for a Sequence, a Sequence of its items rank,
    rank + size, ... (len(data) // size() of them, loaded by index only); for a generator, the
    items rank, rank + size, ... of its stream (every rank must produce the same stream). `data`
    itself when the data is not split. ValueError when a generator has no steps_per_epoch: ranks
    that run until their generator ends could run different numbers of steps."""
    if not splits(model):
        return data
    from ..utils.data_utils import Sequence
    w = _state.world()
    if isinstance(data, Sequence):
        if len(data) < w.size:
            raise ValueError(f"fit_generator: the Sequence has {len(data)} batches, fewer than the {w.size} ranks; "
                             "each rank needs at least one batch per step")
        return _RankView(data, w.rank, w.size, Sequence)
    if steps_per_epoch is None:
        raise ValueError("fit_generator: with several ranks a generator needs steps_per_epoch (the ranks must run "
                         "the same number of steps); a keraslite.utils.Sequence knows its length")
    return _stream_shard(iter(data), w.rank, w.size)


def _RankView(seq, rank: int, size: int, base: type):
    class RankView(base):
        """Items rank, rank + size, ... of a Sequence (one rank's share of every global step)."""

        def __len__(self):
            return len(seq) // size

        def __getitem__(self, index):
            if not 0 <= index < len(self):
                raise IndexError(f"index {index} out of range for this rank's {len(self)} batches")
            return seq[index * size + rank]

        def on_epoch_end(self):
            seq.on_epoch_end()
    return RankView()


def _stream_shard(it: Iterator, rank: int, size: int) -> Iterator:
    while True:
        try:
            chunk = [next(it) for _ in range(size)]
        except StopIteration:
            return
        yield chunk[rank]

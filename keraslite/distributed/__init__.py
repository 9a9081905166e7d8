"""keraslite.distributed: synchronous data-parallel training with Horovod's Keras API over MPI.

    import keraslite.distributed as hvd
    hvd.init()
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.01 * hvd.size())), loss=...)
    model.fit(x, y, batch_size=32,   # per rank
              callbacks=[hvd.BroadcastGlobalVariablesCallback(0), hvd.MetricAverageCallback()])

launched with `mpiexec -n 2 python -m mpi4py train.py`. Importing this package needs no MPI:
mpi4py is imported by init(), and a process started without mpiexec is a world of size 1 in which
every collective is an identity. fit(x, y) shards each global batch over the ranks (sharding.py);
rank 0 alone prints progress and writes checkpoints, CSV logs and TensorBoard files unless
log_on_all_ranks() is called. GPU ranks (the cuda backend) reduce through NCCL (nccl.py).
"""
from ._state import (init, is_initialized, local_rank, local_size, log_on_all_ranks, rank, set_data_sharding,
                     shutdown, size)
from .collectives import allgather, allreduce, broadcast

_LAZY = {
    "DistributedOptimizer": ("optimizer", "DistributedOptimizer"),
    "load_model": ("optimizer", "load_model"),
    "BroadcastGlobalVariablesCallback": ("callbacks", "BroadcastGlobalVariablesCallback"),
    "MetricAverageCallback": ("callbacks", "MetricAverageCallback"),
    "LearningRateScheduleCallback": ("callbacks", "LearningRateScheduleCallback"),
    "LearningRateWarmupCallback": ("callbacks", "LearningRateWarmupCallback"),
}


def __getattr__(name):
    # the optimizer and callbacks import keraslite's engine: loaded on first use, so that the engine
    # can import keraslite.distributed.sharding without an import cycle
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    if name == "callbacks":
        import importlib
        return importlib.import_module(f"{__name__}.callbacks")
    raise AttributeError(f"module 'keraslite.distributed' has no attribute {name!r}")


__all__ = ["init", "shutdown", "is_initialized", "rank", "size", "local_rank", "local_size", "log_on_all_ranks",
           "set_data_sharding",
           "allreduce", "broadcast", "allgather", *_LAZY]

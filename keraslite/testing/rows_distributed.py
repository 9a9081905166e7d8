"""The row of `distributed_allreduce` (keraslite.distributed): the packed mean of gradients over
the ranks, checked in a one-rank world (the mean over one rank is the identity) so that no MPI
launcher is needed; the multi-rank behaviour is tested by tests/test_distributed_mpi.py."""
from __future__ import annotations

import contextlib

from ..backend.graph import apply
from .opinfo import OpInfo, Sample, uniform


class _OneRankComm:
    """The communicator of a world of one rank: every reduction leaves the buffer as it is."""

    def Allreduce(self, sendbuf, recvbuf, op=None):
        if sendbuf is not _OneRankMPI.IN_PLACE:
            recvbuf[...] = sendbuf


class _OneRankMPI:
    IN_PLACE = object()
    SUM, MIN, MAX, BYTE = "sum", "min", "max", "byte"


@contextlib.contextmanager
def one_rank_world():
    """Install a one-rank world for the duration of a check when none is initialised."""
    from ..distributed import _state
    saved = _state._world
    if saved is None:
        _state._world = _state.World(_OneRankComm(), 0, 1, 0, 1, _OneRankMPI)
    try:
        yield
    finally:
        _state._world = saved


def _samples(rng, dtype):
    return [Sample((uniform(rng, (2, 3), dtype), uniform(rng, (4,), "float64"), uniform(rng, (0, 2), dtype))),
            Sample((uniform(rng, (1,), dtype),))]


def rows() -> list:
    """The rows of this module."""
    from ..distributed import optimizer  # noqa: F401  (registers the primitive)
    return [OpInfo("distributed_allreduce", lambda *gs: apply("distributed_allreduce", *gs),
                   lambda *gs: tuple(g.copy() for g in gs), _samples, context=one_rank_world)]

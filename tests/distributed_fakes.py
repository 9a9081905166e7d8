"""A stand-in for mpi4py's communicator so one process can play one rank of a larger world: the
other ranks' contributions come from functions the test supplies (an independent expectation)."""
import numpy as np

from keraslite.distributed._state import World


class FakeMPI:
    IN_PLACE, SUM, MIN, MAX, BYTE = "IN_PLACE", "SUM", "MIN", "MAX", "BYTE"


class FakeComm:
    """peer_sum(buf) -> what the other ranks add to buf in a SUM allreduce (default: the same as
    this rank, i.e. identical replicas); peer_minmax(buf, op) -> their value for MIN/MAX (default:
    this rank's); root_data(buf) -> the root's payload for a Bcast (default: unchanged)."""

    def __init__(self, size=2, peer_sum=None, peer_minmax=None, root_data=None):
        self.size = size
        self.peer_sum = peer_sum or (lambda buf: buf * (size - 1))
        self.peer_minmax = peer_minmax or (lambda buf, op: buf.copy())
        self.root_data = root_data
        self.calls = []

    def Allreduce(self, sendbuf, recvbuf, op):
        assert sendbuf == FakeMPI.IN_PLACE
        assert recvbuf.flags.c_contiguous
        self.calls.append(("Allreduce", op, recvbuf.dtype.name, recvbuf.size))
        if op == FakeMPI.SUM:
            recvbuf += self.peer_sum(recvbuf.copy())
        else:
            other = self.peer_minmax(recvbuf.copy(), op)
            recvbuf[...] = np.minimum(recvbuf, other) if op == FakeMPI.MIN else np.maximum(recvbuf, other)

    def Bcast(self, buf, root=0):
        self.calls.append(("Bcast", root, buf.dtype.name, buf.size))
        if self.root_data is not None:
            buf[...] = self.root_data(buf.copy())

    def Abort(self, code):
        raise SystemExit(code)


def fake_world(rank=0, size=2, **kw):
    comm = FakeComm(size=size, **kw)
    return World(comm, rank, size, rank, size, FakeMPI), comm

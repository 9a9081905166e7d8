"""The NCCL path of keraslite.distributed (GPU ranks) against a fake NCCL communicator: CuPy is
played by NumPy, device pointers by host addresses. This checks the id exchange over MPI, the
packing per dtype in parameter order, the NCCL calls and the choice of the host-staged fallback.
It does not show that the code runs on a GPU: it has not run on one yet."""
import ctypes
import types

import numpy as np
import pytest

from keraslite.distributed import nccl as dnccl
from keraslite.distributed.collectives import StagedEngine

from distributed_fakes import fake_world

_CODES = {"float16": 6, "float32": 7, "float64": 8, "int32": 2, "int64": 4}


class FakeNcclModule:
    NCCL_SUM = 0
    NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
    NCCL_INT32, NCCL_INT64 = 2, 4
    available = True

    def __init__(self, peer=None):
        self.peer = peer or (lambda arr: arr * 1)  # the other rank's buffer, given ours
        self.communicators = []

    @staticmethod
    def get_unique_id():
        return tuple(range(-64, 64))

    def NcclCommunicator(self, ndev, uid, rank):
        module = self

        class Comm:
            def __init__(self):
                self.args, self.calls = (ndev, uid, rank), []

            def allReduce(self, send, recv, count, dtype, op, stream):
                self.calls.append((count, dtype, op, stream))
                assert send == recv  # in place
                name = {v: k for k, v in _CODES.items()}[dtype]
                nbytes = count * np.dtype(name).itemsize
                raw = (ctypes.c_char * nbytes).from_address(recv)
                arr = np.frombuffer(raw, dtype=name)
                arr += module.peer(arr.copy())
        comm = Comm()
        module.communicators.append(comm)
        return comm


FAKE_CUPY = types.SimpleNamespace(asnumpy=lambda a: np.array(a), asarray=np.asarray, concatenate=np.concatenate,
                                  cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(
                                      getDeviceCount=lambda: 2)))


def _engine(rank, nccl, **world_kw):
    w, comm = fake_world(rank=rank, size=2, **world_kw)
    eng = dnccl.device_engine(w, cupy=FAKE_CUPY, nccl=nccl, ptr=lambda a: a.ctypes.data, stream=lambda: 1234)
    return eng, comm


def test_rank_zero_makes_the_nccl_id_and_sends_it_over_mpi():
    nccl = FakeNcclModule()
    eng, comm = _engine(0, nccl)
    assert isinstance(eng, dnccl.NcclEngine)
    assert ("Bcast", 0, "int64", 128) in comm.calls
    assert nccl.communicators[0].args == (2, tuple(range(-64, 64)), 0)


def test_other_ranks_join_with_the_roots_id():
    nccl = FakeNcclModule()
    root_id = np.arange(128, dtype=np.int64) - 7
    _engine(1, nccl, root_data=lambda buf: root_id)
    assert nccl.communicators[0].args == (2, tuple(root_id.tolist()), 1)


def test_nccl_engine_averages_one_packed_buffer_per_dtype():
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(4,)), rng.normal(size=(5,)).astype("float32")]
    nccl = FakeNcclModule(peer=lambda arr: np.full_like(arr, 2.0))   # the other rank's gradients: all 2
    eng, _ = _engine(0, nccl)
    out = eng.reduce_mean(grads, weight=1.0)
    calls = nccl.communicators[0].calls
    assert calls == [(11, 7, 0, 1234), (4, 8, 0, 1234)]   # float32 first: the first parameter's dtype
    for g, o in zip(grads, out):
        assert o.shape == g.shape and o.dtype == g.dtype
        np.testing.assert_allclose(o, (g + 2.0) / 2, rtol=1e-6)
    weighted = eng.reduce_mean(grads, weight=0.5)
    np.testing.assert_allclose(weighted[1], (0.5 * grads[1] + 2.0) / 2)


def test_nccl_refuses_unsupported_dtypes_clearly():
    eng, _ = _engine(0, FakeNcclModule())
    with pytest.raises(TypeError, match="NCCL cannot reduce complex64"):
        eng.reduce_mean([np.ones(2, dtype="complex64")])


@pytest.mark.parametrize("why", ["no-nccl", "disabled", "two-ranks-one-gpu", "peer-cannot"])
def test_host_staged_fallback(monkeypatch, why):
    nccl = None if why == "no-nccl" else FakeNcclModule()
    if why == "disabled":
        monkeypatch.setenv("KERASLITE_DIST_NCCL", "0")
    world_kw = {}
    cupy = FAKE_CUPY
    if why == "two-ranks-one-gpu":
        cupy = types.SimpleNamespace(**{**vars(FAKE_CUPY), "cuda": types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))})
    if why == "peer-cannot":
        world_kw["peer_minmax"] = lambda buf, op: np.zeros_like(buf)
    w, comm = fake_world(rank=0, size=2, peer_sum=lambda buf: np.ones_like(buf), **world_kw)
    eng = dnccl.device_engine(w, cupy=cupy, nccl=nccl)
    assert isinstance(eng, StagedEngine)
    grads = [np.array([1.0, 3.0], dtype="float32"), np.array([[5.0]])]
    out = eng.reduce_mean(grads)
    np.testing.assert_allclose(out[0], [1.0, 2.0])
    np.testing.assert_allclose(out[1], [[3.0]])
    assert ("Allreduce", "MIN", "int64", 1) in comm.calls  # the ranks agreed on the path

"""keraslite.distributed in one process: the API without MPI and before init(), the size-1
identity, and the multi-rank logic (packed gradient averaging, sharding, callbacks, agreement
checks) against a fake communicator that plays the other ranks (tests/distributed_fakes.py).
The real 2-rank runs are in test_distributed_mpi.py."""
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite import callbacks as cbks
from keraslite import optimizers
from keraslite.distributed import _state, sharding
from keraslite.distributed.collectives import HostEngine
from keraslite.layers import Dense
from keraslite.models import Sequential, load_model
import keraslite.distributed as hvd

from distributed_fakes import fake_world

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _float64():
    K.set_floatx("float64")  # before any optimizer is made: its hyper-parameters take floatx


def _mlp(opt, seed=3, dtype="float64"):
    K.set_floatx(dtype)
    m = Sequential([Dense(5, activation="tanh", input_shape=(4,)), Dense(2)])
    rng = np.random.default_rng(seed)
    m.set_weights([rng.normal(size=w.shape).astype(dtype) for w in m.get_weights()])
    m.compile(optimizer=opt, loss="mse")
    return m


def _xy(n=40, dtype="float64"):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(dtype), rng.normal(size=(n, 2)).astype(dtype)


# ------------------------------------------------------------------ without MPI, before init

def _python(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in _state._LAUNCHER_VARS}
    full.update(env)
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "backends"), full.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=120)


def test_importable_without_mpi4py_and_size_one_without_a_launcher():
    code = ("import sys; sys.modules['mpi4py'] = None\n"   # mpi4py cannot be imported
            "import numpy as np, keraslite.distributed as d\n"
            "d.init(); a = np.arange(4.0)\n"
            "assert (d.rank(), d.size(), d.local_rank(), d.local_size()) == (0, 1, 0, 1)\n"
            "assert (d.allreduce(a) == a).all() and (d.broadcast(a) == a).all() and (d.allgather(a) == a).all()\n"
            "print('ok')")
    proc = _python(code)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_with_mpi4py_but_without_mpiexec_the_world_has_size_one():
    pytest.importorskip("mpi4py")
    code = ("import numpy as np, keraslite.distributed as d\n"
            "d.init(); a = np.arange(4.0)\n"
            "assert d.is_initialized() and (d.rank(), d.size(), d.local_size()) == (0, 1, 1)\n"
            "assert (d.allreduce(a) == a).all() and (d.broadcast(a) == a).all() and (d.allgather(a) == a).all()\n"
            "print('ok')")
    proc = _python(code)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_mpi4py_is_imported_by_init_only():
    proc = _python("import sys, keraslite.distributed, keraslite.engine; print('mpi4py' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_a_launched_rank_without_mpi4py_gets_install_instructions():
    proc = _python("import sys; sys.modules['mpi4py'] = None\nimport keraslite.distributed as d; d.init()",
                   PMI_RANK="0", PMI_SIZE="2")
    assert proc.returncode != 0
    assert "mpi4py" in proc.stderr and "pip install" in proc.stderr


@pytest.mark.parametrize("call", [lambda: hvd.rank(), lambda: hvd.size(), lambda: hvd.local_rank(),
                                  lambda: hvd.local_size(), lambda: hvd.allreduce(np.ones(2)),
                                  lambda: hvd.broadcast(np.ones(2)), lambda: hvd.allgather(np.ones(2)),
                                  lambda: hvd.DistributedOptimizer("sgd")])
def test_everything_needs_init_first(call):
    with _state.using_world(None):
        assert not hvd.is_initialized()
        with pytest.raises(RuntimeError, match="init\\(\\)"):
            call()


# ------------------------------------------------------------------ size 1: identity

def test_size_one_distributed_optimizer_is_the_plain_optimizer(kbackend, tmp_path):
    with _state.using_world(_state.World(None, 0, 1, 0, 1)):
        x, y = _xy()
        plain = _mlp(optimizers.Adam(0.01))
        dist = _mlp(hvd.DistributedOptimizer(optimizers.Adam(0.01)))
        assert type(dist.optimizer).__name__ == "Adam" and isinstance(dist.optimizer, optimizers.Adam)
        assert dist.optimizer.get_config() == plain.optimizer.get_config()
        assert optimizers.serialize(dist.optimizer)["class_name"] == "Adam"
        for m in (plain, dist):
            np.random.seed(1)
            m.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert "distributed_allreduce" not in dist.train_function.last_plan.kernels()
        for a, b in zip(plain.get_weights(), dist.get_weights()):
            assert a.tobytes() == b.tobytes()
        path = str(tmp_path / "m.h5")
        dist.save(path)
    loaded = load_model(path)  # a plain keraslite process: no distributed class involved
    assert type(loaded.optimizer) is optimizers.Adam
    for a, b in zip(loaded.optimizer.get_weights(), dist.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_model_resumes_with_a_distributed_optimizer_and_its_state(tmp_path):
    x, y = _xy()
    plain = _mlp(optimizers.Adam(0.01))
    plain.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.h5")
    plain.save(path)
    w, comm = fake_world(size=2)  # identical replicas: the average is this rank's gradient
    with _state.using_world(w):
        m = hvd.load_model(path)
        assert type(m.optimizer).__name__ == "Adam" and type(m.optimizer) is not optimizers.Adam
        for a, b in zip(plain.optimizer.get_weights(), m.optimizer.get_weights()):
            np.testing.assert_array_equal(a, b)
        m.train_on_batch(x[:8], y[:8])
    plain.train_on_batch(x[:8], y[:8])
    assert m.train_function.last_plan.kernels().count("distributed_allreduce") == 1
    for a, b in zip(plain.get_weights() + plain.optimizer.get_weights(), m.get_weights() + m.optimizer.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"])
def test_every_optimizer_wraps_and_steps_like_the_plain_one(name):
    # identical replicas on the other rank: the averaged gradient is this rank's, bit for bit
    x, y = _xy()
    plain = _mlp(getattr(optimizers, name)())
    with _state.using_world(fake_world(size=2)[0]):
        dist = _mlp(hvd.DistributedOptimizer(getattr(optimizers, name)()))
        assert type(dist.optimizer).__name__ == name
        for _ in range(2):
            dist.train_on_batch(x, y)
    for _ in range(2):
        plain.train_on_batch(x, y)
    assert dist.train_function.last_plan.kernels().count("distributed_allreduce") == 1
    for a, b in zip(plain.get_weights() + plain.optimizer.get_weights(),
                    dist.get_weights() + dist.optimizer.get_weights()):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_the_wrap_keeps_hyper_parameter_dtypes_and_values_and_owns_its_variables():
    K.set_floatx("float32")
    opt = optimizers.SGD(0.1, momentum=0.9, decay=0.01)
    K.set_value(opt.iterations, 5)
    K.set_floatx("float64")  # a rebuild from the config would make float64 hyper-parameters
    with _state.using_world(_state.World(None, 0, 1, 0, 1)):
        dist = hvd.DistributedOptimizer(opt)
    for name in ("learning_rate", "momentum", "decay", "iterations"):
        a, b = getattr(opt, name), getattr(dist, name)
        assert a is not b and a.dtype == b.dtype and K.get_value(a) == K.get_value(b)
    assert dist.weights == [dist.iterations] and dist.get_config() == opt.get_config()
    K.set_value(dist.lr, 0.5)
    assert K.get_value(opt.lr) == np.float32(0.1)


def test_distributed_optimizer_checks_its_arguments():
    with _state.using_world(_state.World(None, 0, 1, 0, 1)):
        opt = hvd.DistributedOptimizer("sgd")
        with pytest.raises(ValueError, match="already distributed"):
            hvd.DistributedOptimizer(opt)
        with pytest.raises(TypeError, match="compression"):
            hvd.DistributedOptimizer("sgd", compression="fp16")
        used = optimizers.SGD()
        _mlp(used)._make_train_function()
        with pytest.raises(ValueError, match="before compile"):
            hvd.DistributedOptimizer(used)


# ------------------------------------------------------------------ several ranks, faked

def test_host_engine_packs_by_dtype_in_parameter_order_and_averages():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(4,)),
              rng.normal(size=(2,)).astype("float32"), np.array(2.5)]
    peer = [rng.normal(size=a.shape).astype(a.dtype) for a in arrays]
    packed = {name: np.concatenate([p.reshape(-1) for p, a in zip(peer, arrays) if a.dtype.name == name])
              for name in ("float32", "float64")}
    w, comm = fake_world(size=2, peer_sum=lambda buf: packed[buf.dtype.name])
    out = HostEngine(w).reduce_mean(arrays, weight=0.5)
    assert [c for c in comm.calls] == [("Allreduce", "SUM", "float32", 8), ("Allreduce", "SUM", "float64", 5)]
    for a, p, o in zip(arrays, peer, out):
        assert o.shape == a.shape and o.dtype == a.dtype
        np.testing.assert_allclose(o, (0.5 * a + p) / 2, rtol=1e-6)


def test_host_engine_reduces_float16_through_float32():
    a = np.array([1.0, 2.5, 65000.0], dtype="float16")
    w, comm = fake_world(size=2, peer_sum=lambda buf: np.full_like(buf, 3.0))
    out = HostEngine(w).reduce_mean([a])
    assert comm.calls == [("Allreduce", "SUM", "float32", 3)]  # the sum travels in float32
    assert out[0].dtype == np.float16
    np.testing.assert_array_equal(out[0], ((a.astype("float32") + 3.0) / 2).astype("float16"))


def test_the_train_step_holds_one_allreduce_and_uses_the_average(kbackend):
    # the other rank contributes zero gradients: the average is half of ours, so plain SGD with
    # half the learning rate must give bitwise the same weights
    x, y = _xy()
    w, comm = fake_world(size=2, peer_sum=lambda buf: np.zeros_like(buf))
    half = _mlp(optimizers.SGD(0.05))
    with _state.using_world(w):
        dist = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1)))
        dist.train_function = None
        for _ in range(3):
            dist.train_on_batch(x[:8], y[:8])
    for _ in range(3):
        half.train_on_batch(x[:8], y[:8])
    assert dist.train_function.last_plan.kernels().count("distributed_allreduce") == 1
    sums = [c for c in comm.calls if c[:2] == ("Allreduce", "SUM")]
    assert len(sums) == 3 and sums[0][3] == sum(int(np.prod(v.shape)) for v in dist.get_weights())
    for a, b in zip(half.get_weights(), dist.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_clipnorm_sees_the_averaged_gradient():
    # averaging happens before clipping: with identical replicas the result is the 1-rank result
    x, y = _xy()
    with _state.using_world(fake_world(size=3)[0]):
        dist = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1, clipnorm=0.01)))
        dist.train_on_batch(x, y)
    plain = _mlp(optimizers.SGD(0.1, clipnorm=0.01))
    plain.train_on_batch(x, y)
    for a, b in zip(plain.get_weights(), dist.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("n,batch,size", [(100, 16, 2), (64, 32, 2), (65, 32, 2), (7, 2, 3), (10, 4, 3),
                                          (5, 8, 4), (3, 8, 4), (1000, 7, 5)])
def test_shard_batches_partition_every_global_batch(n, batch, size):
    parts = [sharding.shard_batches(n, batch, r, size) for r in range(size)]
    steps = {len(p) for p in parts}
    assert len(steps) == 1  # the same number of steps on every rank
    g = batch * size
    expected_steps = n // g + (1 if n % g >= size else 0)
    assert steps.pop() == expected_steps
    for step in range(expected_steps):
        chunks = [parts[r][step] for r in range(size)]
        start, end = step * g, min(n, (step + 1) * g)
        # contiguous, in rank order, covering the global batch exactly
        assert chunks[0][0] == start and chunks[-1][1] == end
        assert all(chunks[r][1] == chunks[r + 1][0] for r in range(size - 1))
        counts = [e - s for s, e, _ in chunks]
        assert max(counts) - min(counts) <= 1 and min(counts) >= 1
        for (s, e, weight), c in zip(chunks, counts):
            assert weight == pytest.approx(c * size / (end - start))


def test_fit_on_rank_one_takes_its_slices_of_rank_zeros_order():
    n, batch = 45, 8  # global batch 16: two full ones and a tail of 13 split 7 + 6
    x = np.arange(n, dtype="float64").reshape(-1, 1).repeat(4, axis=1)
    y = np.zeros((n, 2))
    order = np.random.default_rng(5).permutation(n)
    w, comm = fake_world(rank=1, size=2, root_data=lambda buf: order)
    seen, weights = [], []

    class Record(cbks.Callback):
        def on_batch_begin(self, b, logs=None):
            weights.append(_state.world().step_weight)

    with _state.using_world(w):
        m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.0)))
        f = m._make_train_function()

        def spy(batch_arrays):
            seen.append(batch_arrays[0][:, 0].astype(int).tolist())
            return f(batch_arrays)
        m.train_function = spy
        m.fit(x, y, batch_size=batch, epochs=1, verbose=1, callbacks=[Record()])
        assert _state.world().step_weight == 1.0
    assert seen == [order[8:16].tolist(), order[24:32].tolist(), order[39:45].tolist()]
    assert weights == [1.0, 1.0, 6 * 2 / 13]


def test_fit_refuses_ranks_called_differently():
    x, y = _xy(n=40)
    # the other rank has 48 samples: MIN/MAX of the loop parameters differ
    w, _ = fake_world(size=2, peer_minmax=lambda buf, op: buf + (8 if op == "MAX" else 0) * (buf == 40))
    with _state.using_world(w):
        m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1)))
        before = [v.copy() for v in m.get_weights()]
        with pytest.raises(ValueError, match="samples"):
            m.fit(x, y, batch_size=8, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_data_sharded_by_hand_trains_on_all_of_it_with_equal_step_counts():
    x, y = _xy(n=37)  # 5 batches of 8 here; the other rank has 5 batches too (of its own data)

    def other_rank(buf, op):
        if buf.size == 8:  # fit's loop parameters, sorted by name: "batches" is the 2nd
            buf[1] = 5
        return buf
    w, comm = fake_world(rank=1, size=2, peer_minmax=other_rank)
    sizes = []
    with _state.using_world(w):
        hvd.set_data_sharding(False)
        try:
            m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1)))
            m.fit(x, y, batch_size=8, epochs=1, verbose=0,
                  callbacks=[cbks.LambdaCallback(on_batch_end=lambda b, logs: sizes.append(logs["size"]))])
            assert sizes == [8, 8, 8, 8, 5]
            with pytest.raises(ValueError, match="batches"):  # 6 batches here, 5 on the other rank
                m.fit(np.concatenate([x, x[:4]]), np.concatenate([y, y[:4]]), batch_size=8, verbose=0)
        finally:
            hvd.set_data_sharding(True)


def test_one_rank_stopping_stops_all():
    x, y = _xy(n=64)
    # the other rank asks to stop after its first step (MAX of the stop flag)
    w, _ = fake_world(size=2, peer_minmax=lambda buf, op: np.ones_like(buf) if buf.size == 1 else buf)
    with _state.using_world(w):
        m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1)))
        hist = m.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert m.stop_training and len(hist.epoch) == 1


def test_writers_and_progress_run_on_rank_zero_only(capsys):
    ck, csv, es = cbks.ModelCheckpoint("unused.h5"), cbks.CSVLogger("unused.csv"), cbks.EarlyStopping()
    mine = cbks.CSVLogger("mine.csv")
    mine.all_ranks = True
    with _state.using_world(fake_world(rank=1)[0]):
        assert sharding.rank_filter([cbks.ProgbarLogger(), ck, csv, es, mine]) == [es, mine]
        assert sharding.verbosity(1) == 0
        try:
            hvd.log_on_all_ranks()
            assert len(sharding.rank_filter([ck, csv, es])) == 3 and sharding.verbosity(1) == 1
        finally:
            hvd.log_on_all_ranks(False)
    with _state.using_world(fake_world(rank=0)[0]):
        assert sharding.rank_filter([ck, csv, es]) == [ck, csv, es]


def test_broadcast_callback_takes_the_roots_weights_and_optimizer_state():
    x, y = _xy()
    root = _mlp(optimizers.Adam(0.01), seed=9)
    root.fit(x, y, batch_size=8, epochs=1, verbose=0)   # non-trivial slots and iterations
    root_values = root.get_weights() + root.optimizer.get_weights()
    packed = {}
    for v in root_values:
        packed.setdefault(np.asarray(v).dtype.name, []).append(np.asarray(v).reshape(-1))
    payload = {k: np.concatenate(v) for k, v in packed.items()}
    w, comm = fake_world(rank=1, root_data=lambda buf: payload["int64"].view(np.uint8)
                         if buf.size == 8 else payload["float64"].view(np.uint8))
    with _state.using_world(w):
        m = _mlp(hvd.DistributedOptimizer(optimizers.Adam(0.01)), seed=1)
        m._make_train_function()
        cb = hvd.BroadcastGlobalVariablesCallback(0)
        cb.set_model(m)
        cb.on_train_begin()
    assert cb.broadcast_done
    got = m.get_weights() + m.optimizer.get_weights()
    assert int(got[len(m.get_weights())]) == int(root.optimizer.iterations.numpy()) > 0
    for a, b in zip(root_values, got):
        np.testing.assert_array_equal(a, b)


def test_metric_average_callback_averages_the_epoch_logs():
    w, comm = fake_world(size=4, peer_sum=lambda buf: np.array([3.0, 30.0]))  # the 3 others' sums
    logs = {"loss": 1.0, "val_loss": 2.0, "name": "x"}
    with _state.using_world(w):
        hvd.MetricAverageCallback().on_epoch_end(0, logs)
    assert logs == {"loss": pytest.approx(1.0), "val_loss": pytest.approx(8.0), "name": "x"}


@pytest.mark.parametrize("size,momentum", [(4, 0.9), (1, 0.5)])
def test_learning_rate_warmup_follows_horovods_formula(size, momentum):
    x, y = _xy(n=40 * size)  # fit shards: 40 samples, 5 steps of 8 per rank
    steps, warmup, lr0 = 5, 2, 0.2
    seen = []
    with _state.using_world(fake_world(size=size)[0] if size > 1 else _state.World(None, 0, 1, 0, 1)):
        m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(lr0, momentum=momentum)))
        warm = hvd.LearningRateWarmupCallback(lr0, warmup_epochs=warmup, verbose=0)
        probe = cbks.LambdaCallback(on_batch_begin=lambda b, logs: seen.append(
            (float(K.get_value(m.optimizer.lr)), float(K.get_value(m.optimizer.momentum)))))
        after = []
        end = cbks.LambdaCallback(on_batch_end=lambda b, logs: after.append(float(K.get_value(m.optimizer.momentum))))
        m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[warm, probe, end])
    expected_lr, prev = [], lr0
    for epoch in range(3):
        for batch in range(steps):
            if epoch < warmup:
                e = epoch + batch / steps + 1 / steps
                lr = lr0 / size * (e * (size - 1) / warmup + 1)
                expected_lr.append((lr, momentum * lr / prev))
                prev = lr
            else:
                expected_lr.append((prev, momentum))
    np.testing.assert_allclose(np.array(seen), np.array(expected_lr), rtol=1e-6)
    assert seen[warmup * steps - 1][0] == pytest.approx(lr0)  # warm at the last warmup batch
    np.testing.assert_allclose(after, momentum, rtol=1e-6)   # momentum restored after each batch


class _Items(keraslite.utils.Sequence):
    def __init__(self, n):
        self.n, self.ends = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i

    def on_epoch_end(self):
        self.ends += 1


_DIST_MODEL = types.SimpleNamespace(optimizer=types.SimpleNamespace(_keraslite_distributed=True))


def test_sequences_and_generators_shard_by_index():
    m = _DIST_MODEL
    with _state.using_world(fake_world(rank=1, size=2)[0]):
        seq = _Items(7)
        view = sharding.shard_source(m, seq)
        assert isinstance(view, keraslite.utils.Sequence) and len(view) == 3
        assert [view[i] for i in range(3)] == [1, 3, 5]
        with pytest.raises(IndexError):
            view[3]
        view.on_epoch_end()
        assert seq.ends == 1
        gen = sharding.shard_source(m, iter(range(9)), steps_per_epoch=4)
        assert list(gen) == [1, 3, 5, 7]
        with pytest.raises(ValueError, match="fewer than the 2 ranks"):
            sharding.shard_source(m, _Items(1))
        with pytest.raises(ValueError, match="steps_per_epoch"):
            sharding.shard_source(m, iter(range(9)))


def test_fit_generator_on_a_sequence_trains_this_ranks_batches():
    x, y = _xy(n=48)

    class Batches(keraslite.utils.Sequence):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return x[8 * i:8 * (i + 1)], y[8 * i:8 * (i + 1)]
    seen = []
    with _state.using_world(fake_world(rank=1, size=2)[0]):
        m = _mlp(hvd.DistributedOptimizer(optimizers.SGD(0.1)))
        f = m._make_train_function()
        m.train_function = lambda arrays: (seen.append(arrays[0][0, 0]), f(arrays))[1]
        m.fit_generator(Batches(), epochs=1, verbose=0, shuffle=False)
    assert seen == [x[8, 0], x[24, 0], x[40, 0]]  # batches 1, 3, 5: 6 // 2 steps


def test_a_plain_optimizer_under_several_ranks_trains_unsharded_with_a_warning():
    x, y = _xy(n=40)
    w, comm = fake_world(rank=1, size=2)
    with _state.using_world(w):
        m = _mlp(optimizers.SGD(0.1))
        with pytest.warns(RuntimeWarning, match="not a DistributedOptimizer"):
            hist = m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert comm.calls == [] and len(hist.epoch) == 1

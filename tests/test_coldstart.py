"""The numba backend's first run: kernel warm-up recipes, compile workers, the
compile notice, and progress-bar ETAs that leave compile time out."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keraslite_numba = pytest.importorskip("keraslite_numba")
from keraslite.backend import compile_clock  # noqa: E402
from keraslite_numba import coldstart, compile_worker, warmup  # noqa: E402
from keraslite_numba.kernels import batchnorm, conv, pool  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------- recipes
# family -> its parallel kernel and serial twin (twins.py)
# (a NumPy stand-in compiles nothing: no dispatcher)
_FAMILY_KERNELS = {f: tuple(d for d in (warmup.twin_of(f).par, warmup.twin_of(f).seq_kernel) if d is not None)
                   for f in warmup.KERNELS}


def test_warmup_recipes_compile_the_signatures_real_calls_use(dtype="float32"):
    """A recipe runs on tiny arrays; real calls (other shapes, a bias, strides, groups) must need
    no signature the recipe did not compile. (float32 only: the recipes are dtype-generic, and
    each family costs 1-2 s of cold compile per dtype in CI.)"""
    from keraslite_numba import NumbaBackend
    be = NumbaBackend()
    char = np.dtype(dtype).char
    for family in warmup.RECIPES:
        warmup.compile_family(f"{family}-{char}")
        warmup.compile_family(f"{family}-{char}s")  # real calls may run the serial twin
    before = {id(d): set(d.signatures) for ks in _FAMILY_KERNELS.values() for d in ks}
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 9, 9, 3)).astype(dtype)
    w = rng.normal(size=(3, 3, 3, 8)).astype(dtype)
    b = rng.normal(size=(8,)).astype(dtype)
    y = be._conv(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, bias=b)  # the folded conv + bias
    be.conv(rng.normal(size=(2, 7, 7, 4)).astype(dtype), rng.normal(size=(3, 3, 2, 4)).astype(dtype),
              (2, 2), ((0, 0), (0, 0)), (1, 1), 2)
    be.conv(rng.normal(size=(2, 7, 4)).astype(dtype), rng.normal(size=(3, 4, 4)).astype(dtype), (1,), ((1, 1),),
            (1,), 1)  # rank 1 runs the rank-2 kernels on a unit axis
    be.conv_backprop_input(y, w, x.shape[1:], (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    w48 = rng.normal(size=(3, 3, 48, 8)).astype(dtype)
    be.conv_backprop_input(rng.normal(size=(2, 5, 5, 8)).astype(dtype), w48, (7, 7, 48), (1, 1),
                             ((0, 0), (0, 0)), (1, 1), 1)
    be.conv_backprop_filter(x, y, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    geo = dict(pool_size=(2, 2), strides=(2, 2), padding=((0, 0), (0, 0)))
    p = be.pool(y, "max", **geo)
    be.pool_backprop(y, p, p, mode="max", **geo)
    geo = dict(pool_size=(3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    a = be.pool(y, "avg", **geo)
    be.pool_backprop(a, mode="avg", input_shape=y.shape[1:], **geo)
    g = np.ones((1, 1, 1, 8), dtype)
    yy, m, v = be.batchnorm_train(y, g, g * 0, (0, 1, 2), 1e-3)
    be.batchnorm_train_backward(y, g, m, v, yy, None, None, (0, 1, 2), 1e-3)
    be.batchnorm_train(rng.normal(size=(6, 5)).astype(dtype), np.ones((1, 5), dtype), np.zeros((1, 5), dtype),
                       (0,), 1e-3)
    from keraslite_numba.kernels import gemm
    from keraslite_numba.threads import SerialBlas
    with SerialBlas():  # inside a plan: products split over the threads (transposed operands too)
        be.matmul(rng.normal(size=(300, 71)).astype(dtype), rng.normal(size=(64, 71)).astype(dtype).T)
        gemm.matmul(rng.normal(size=(300, 71)).astype(dtype), rng.normal(size=(71, 64)).astype(dtype),
                    bias=np.ones(64, dtype), act="relu")
    for family, ds in _FAMILY_KERNELS.items():
        for d in ds:
            new = set(d.signatures) - before[id(d)]
            assert not new, f"{family}: real calls compiled {new} beyond the warm-up recipe"
        if family != "gemm_split" or gemm.available():
            assert warmup.compiled(f"{family}-{char}") and warmup.compiled(f"{family}-{char}s")
    assert set(warmup.RECIPES) == set(warmup.KERNELS)


def test_warmup_rejects_unknown_families():
    for key in ("gemm-f", "conv_fwd-fx", "conv_fwd-s"):
        with pytest.raises(ValueError, match="unknown kernel family"):
            warmup.compile_family(key)
    assert compile_worker.main(["conv_fwd-x"]) == 2
    assert compile_worker.main(["gen-x\t/tmp/x.py\ti"]) == 2  # a generated kernel outside keraslite's folder


def test_plan_keys_follow_first_use(monkeypatch, tmp_path):
    import keraslite
    from keraslite.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
    model = keraslite.models.Sequential([Conv2D(4, 3, input_shape=(8, 8, 2)), BatchNormalization(),
                                         MaxPooling2D(), Conv2D(4, 3), Flatten(), Dense(2)])
    model.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        model.train_on_batch(np.ones((2, 8, 8, 2), np.float32), np.ones((2, 2), np.float32))
    plan = model.train_function.last_plan
    keys = coldstart.plan_keys(plan.steps)
    assert keys[:3] == ["conv_fwd-f", "bn_fwd-f", "max_fwd-f"]
    # the second convolution has 4 input channels: its input gradient takes the col2im route
    assert set(keys) == {"conv_fwd-f", "bn_fwd-f", "max_fwd-f", "max_bwd-f", "bn_bwd-f", "conv_bwd_filter-f",
                         "col2im-f", "gemm_split-f"}
    # coldstart.prepare on a cold cache: the workers are asked for the plan's compiled serial
    # twins in the plan's order (none for NumPy stand-ins, nor for gemm_split's Python one
    # without sigmoid or tanh), then its parallel kernels, and told to take those twins first,
    # in that order; they are what this process compiles from the back while it waits (_help)
    started, told = [], []
    monkeypatch.setenv("KERASLITE_CACHE_DIR", str(tmp_path))
    for name, value in (("_pending", set()), ("_ready", set()), ("_helps", []), ("_paths", {}),
                        ("_start", lambda ks: (started.extend(ks), coldstart._pending.update(ks))),
                        ("_tell", told.append)):
        monkeypatch.setattr(coldstart, name, value)
    coldstart.prepare(plan.steps)
    twins_ = [k + "s" for k in keys if k.rpartition("-")[0] in ("conv_fwd", "conv_bwd_filter", "col2im")]
    assert len(twins_) == 3 and started == twins_ + keys
    assert told == ["first " + " ".join(twins_)] and coldstart._helps == twins_


def test_plan_keys_include_the_convolution_kernel_of_dense_forward_products():
    """gemm.py runs a Dense layer's float32 forward product (x @ w, n >= NR, k <= 1024) and its
    weight gradient on the convolution microkernel (dense.py): a plan of such a layer needs
    conv_fwd's kernels (and conv_pack's for a large w whose width is not whole panels: others
    are read in place), its input gradient (g @ transpose(w)) BLAS only."""
    import keraslite
    from keraslite.layers import Dense
    from keraslite_numba.kernels import conv, conv_pack, dense, tile
    assert (coldstart._DENSE_MAX_K, coldstart._PACK_MIN) == (dense.MAX_K, conv_pack.NUMBA_MIN)
    assert tile.tile()[:2] == (conv.MR, conv.NR) and conv.NR == dense.MIN_N
    model = keraslite.models.Sequential([Dense(300, activation="relu", input_shape=(250,)), Dense(40), Dense(3)])
    model.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        model.train_on_batch(np.ones((2, 250), np.float32), np.ones((2, 3), np.float32))
    keys = coldstart.plan_keys(model.train_function.last_plan.steps)
    assert keys[:3] == ["conv_fwd-f", "conv_pack-f", "gemm_split-f"], keys  # 250 x 300 >= 2^16
    steps = model.train_function.last_plan.steps
    routes = [coldstart._dense_route(s.node) for s in steps if s.op in coldstart._DENSE_OPS]
    # forward: 250x300 (packed), 300x40 (small w), 40x3 (n < 32); the backward products: BLAS
    assert routes.count(("conv_fwd", "conv_pack")) == 1 and routes.count(("conv_fwd",)) == 1, routes
    assert len(routes) > 3
    wide = keraslite.models.Sequential([Dense(16 * 32, input_shape=(250,))])  # whole panels
    wide.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        wide.train_on_batch(np.ones((2, 250), np.float32), np.ones((2, 512), np.float32))
    assert coldstart.plan_keys(wide.train_function.last_plan.steps)[:1] == ["conv_fwd-f"]
    assert "conv_pack-f" not in coldstart.plan_keys(wide.train_function.last_plan.steps)


def test_plan_keys_include_the_kernels_of_fused_forms():
    """conv -> batch norm -> relu -> max pool: batch norm + relu and the pool's backprop + relu
    gradient are declared fused forms running the bn_fwd and max_bwd kernels."""
    import keraslite
    from keraslite.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D
    model = keraslite.models.Sequential([Conv2D(4, 3, input_shape=(8, 8, 2)), BatchNormalization(),
                                         Activation("relu"), MaxPooling2D(), Flatten(), Dense(2)])
    model.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        model.train_on_batch(np.ones((2, 8, 8, 2), np.float32), np.ones((2, 2), np.float32))
    plan = model.train_function.last_plan
    assert {"batchnorm_train+tuple_get+relu", "pool_backprop+relu_grad",
            "batchnorm_train_backward+tuple_get+sum"} <= set(plan.kernels())
    assert {"bn_fwd-f", "max_bwd-f", "bn_bwd-f"} <= set(coldstart.plan_keys(plan.steps))


def test_plan_keys_of_a_residual_block():
    """batch norm + the shortcut's add + relu (a ResNet identity block's end) runs bn_fwd."""
    import keraslite
    from keraslite.layers import Activation, Add, BatchNormalization, Conv2D, Dense, Flatten, Input
    x0 = Input((6, 6, 3))
    x = BatchNormalization()(Conv2D(3, 3, padding="same")(x0))
    x = Activation("relu")(Add()([x, x0]))
    model = keraslite.models.Model(x0, Dense(2)(Flatten()(x)))
    model.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        model.train_on_batch(np.ones((2, 6, 6, 3), np.float32), np.ones((2, 2), np.float32))
    plan = model.train_function.last_plan
    assert "batchnorm_train+tuple_get+add+relu" in plan.kernels()
    assert {"bn_fwd-f", "bn_bwd-f"} <= set(coldstart.plan_keys(plan.steps))


# ---------------------------------------------------------------------------------- end to end
_SCRIPT = r"""
import json, sys
import numpy as np
import keraslite
from keraslite.layers import Conv2D, Dense, Flatten
keraslite.set_backend("numba")
np.random.seed(0)
rng = np.random.default_rng(0)
model = keraslite.models.Sequential([Conv2D(4, 3, input_shape=(8, 8, 3)), Flatten(), Dense(2)])
model.compile("sgd", "mse")
x = rng.normal(size=(4, 8, 8, 3)).astype("float32")
y = rng.normal(size=(4, 2)).astype("float32")
losses = [float(model.train_on_batch(x, y)) for _ in range(2)]
print(json.dumps({"losses": losses, "weights": [w.tobytes().hex() for w in model.get_weights()]}))
"""
# the families the script's plan uses (two: each costs 1-2 s of CPU per cold run): the
# convolution's input gradient is not needed. The worker started at the model's first
# convolution node starts with the serial twin of the forward kernel (COMMON's order); the
# plan, waiting for it, compiles the filter
# gradient's twin meanwhile; the plan's steps run the twins while the worker compiles the
# parallel kernels, which it finishes at the latest when the script exits.
_USED = ["conv_fwd-f", "conv_bwd_filter-f"]
# the plan's matmul (too small to split: the kernel is queued by the plan's op, never called)
_GEMM = {"gemm_split-f", "gemm_split-fs"}


def _run_fresh(cache, workers, fork=True, script=None):
    env = dict(os.environ)
    env.update(NUMBA_CACHE_DIR=str(cache / "numba"), KERASLITE_CACHE_DIR=str(cache / "kl"),
               KERASLITE_COMPILE_WORKERS=str(workers), NUMBA_NUM_THREADS="2", KERASLITE_COMPILE_FORK=str(int(fork)),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends"), env.get("PYTHONPATH", "")]))
    if workers is None:  # as many as coldstart chooses (one on two CPUs, none for a single missing kernel)
        del env["KERASLITE_COMPILE_WORKERS"]
    r = subprocess.run([sys.executable, "-c", script or _SCRIPT], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr


def _markers(cache):
    return sorted(p.name.split(".")[0] for p in (cache / "kl").rglob("*.done"))


def test_first_run_tells_once_compiles_in_workers_and_a_second_run_hits_the_cache(tmp_path):
    first, err1 = _run_fresh(tmp_path, workers=1)
    assert err1.count(coldstart.NOTICE) == 1, err1
    # the plan's kernels and their serial twins (the steps ran those), and the COMMON ones
    # the worker started at the model's convolution compiled meanwhile
    used = set(_USED) | {k + "s" for k in _USED}
    common = set(coldstart.COMMON) | {k + "s" for k in coldstart.COMMON}
    assert used <= set(_markers(tmp_path)) <= used | common | _GEMM
    assert err1.count(coldstart.EXIT_NOTICE) <= 1
    second, err2 = _run_fresh(tmp_path, workers=0)
    assert coldstart.NOTICE not in err2, err2  # nothing compiled: every kernel came from the cache
    assert second == first  # cold and warm runs give bitwise identical losses and weights
    # and so does a cold run that compiles everything in-process; it leaves the same markers
    third, err3 = _run_fresh(tmp_path / "again", workers=0)
    assert err3.count(coldstart.NOTICE) == 1, err3
    assert third == first
    assert _markers(tmp_path / "again") == sorted(_USED)
    # workers started as fresh interpreters (not forked) compile the same code
    fourth, err4 = _run_fresh(tmp_path / "spawned", workers=1, fork=False)
    assert err4.count(coldstart.NOTICE) == 1, err4
    assert fourth == first


_PREDICT_SCRIPT = r"""
import json
import numpy as np
import keraslite
from keraslite.layers import Conv2D, Dense, Flatten, MaxPooling2D
keraslite.set_backend("numba")
np.random.seed(0)
model = keraslite.models.Sequential([Conv2D(4, 3, input_shape=(8, 8, 3)), MaxPooling2D(), Flatten(), Dense(2)])
x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32")
print(json.dumps(model.predict(x).tolist()))
"""


def test_a_program_that_only_predicts_compiles_no_training_kernels(tmp_path):
    """The worker started at the first convolution node takes the kernels prediction runs; the
    training ones wait for a training plan. So a second run of a predict-only program finds
    everything it needs and starts no worker (nothing left half-done by the first run's exit;
    with two or more CPUs a worker would start for any missing training kernels)."""
    first, err1 = _run_fresh(tmp_path, workers=None, script=_PREDICT_SCRIPT)
    assert err1.count(coldstart.NOTICE) == 1, err1
    training = {"bn_fwd-f", "max_bwd-f", "bn_bwd-f", "conv_bwd_filter-f"}
    assert not training & set(_markers(tmp_path))
    second, err2 = _run_fresh(tmp_path, workers=None, script=_PREDICT_SCRIPT)
    assert coldstart.NOTICE not in err2, err2
    assert second == first


_FORK_SCRIPT = r"""
import threading, time
import keraslite
from keraslite.layers import Conv2D, Dense, Input
from keraslite_numba import coldstart, forking
keraslite.set_backend("numba")
# a cold cache: neither the backend's import nor a model without a convolution starts a worker
Dense(3)(Dense(4)(Input((5,))))
assert coldstart._workers == [], coldstart._workers
# the first convolution node built starts the convnet's common kernels' worker, forked (no
# other thread), while the rest of the model is built
Conv2D(2, 3)(Input((6, 6, 1)))
assert [type(w).__name__ for w in coldstart._workers] == ["Forked"], coldstart._workers
coldstart._stop_workers()
assert all(w.poll() is not None for w in coldstart._workers)
coldstart._workers.clear()
w = forking.fork(["avg_fwd-fs", "avg_fwd-f"])
w.stdin.write(b"only avg_fwd-fs\n")  # read before its second key: that one is dropped
w.stdin.close()
assert w.wait(timeout=300) == 0
assert coldstart.is_done("avg_fwd-fs") and not coldstart.is_done("avg_fwd-f")
idle = forking.fork([])  # nothing to do: waits on its pipe until stopped
assert idle.poll() is None
idle.terminate()
assert idle.wait(timeout=60) != 0
t = threading.Thread(target=time.sleep, args=(0.5,))
t.start()
assert not forking.forkable()  # another thread: workers are spawned instead
t.join()
assert forking.forkable()
print("ok")
"""


def test_workers_fork_from_the_primed_process(tmp_path):
    """A worker forked after Numba's set-up compiles its keys, takes lines on its pipe, ends on
    EOF or when stopped; with another thread running, workers are spawned instead."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), KERASLITE_CACHE_DIR=str(tmp_path / "kl"),
               KERASLITE_COMPILE_WORKERS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends"), os.environ.get("PYTHONPATH", "")]))
    env.pop("KERASLITE_COMPILE_FORK", None)
    r = subprocess.run([sys.executable, "-c", _FORK_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ---------------------------------------------------------------------------------- notice
def _probe(module: str, n: int):
    """A fresh Numba function defined in module `module` (cache off: it always compiles)."""
    from numba import njit
    env = {"__name__": module}
    exec(f"def f(x):\n    return x * {n} + 1\n", env)  # noqa: S102 - the test's own text
    return njit(cache=False)(env["f"])


def test_compiling_keraslite_kernels_tells_once_and_counts_compile_time(monkeypatch, capsys):
    monkeypatch.setattr(coldstart, "_told", False)
    coldstart.install_listener()
    _probe("user_code", 1)(1.0)  # a user's own Numba function: not keraslite's, nothing said
    assert coldstart.NOTICE not in capsys.readouterr().err
    t0 = compile_clock.total()
    _probe("keraslite_probe", 2)(1.0)
    _probe("keraslite_probe", 3)(1.0)
    assert capsys.readouterr().err.count(coldstart.NOTICE) == 1
    assert compile_clock.total() > t0


# ---------------------------------------------------------------------------------- ETA
def test_progbar_eta_leaves_compile_time_out(monkeypatch, capsys):
    from keraslite.utils import generic_utils
    clock = [1000.0]
    monkeypatch.setattr(generic_utils.time, "time", lambda: clock[0])
    bar = generic_utils.Progbar(11)
    bar._dynamic_display = True
    compile_clock.add(50.0)  # the first step compiled for 50 s, then ran for 1 s
    clock[0] += 51.0
    bar.update(1)
    out = capsys.readouterr().out
    assert "ETA: 10s" in out, out  # 10 steps of 1 s, not of 51 s


# ---------------------------------------------------------------------------------- first node
def test_on_first_node_runs_once_at_the_first_node_of_its_op(monkeypatch):
    """graph.on_first_node: called when the op's first node is built (not for other ops, not
    when that node's inference fails), once; at once when the op has been built before."""
    from keraslite import backend as K
    from keraslite.backend import graph
    monkeypatch.setattr(graph, "_built", set(graph._built) - {"conv"})
    monkeypatch.setattr(graph, "_on_first", {})
    calls = []
    graph.on_first_node("conv", lambda: calls.append("conv"))
    x = K.placeholder((None, 6, 6, 2))
    K.relu(x)
    assert calls == []
    with pytest.raises(ValueError):  # channels that do not match: nothing built, nothing called
        K.conv2d(x, K.placeholder((3, 3, 5, 4)))
    assert calls == []
    K.conv2d(x, K.placeholder((3, 3, 2, 4)))
    K.conv2d(x, K.placeholder((3, 3, 2, 4)))
    assert calls == ["conv"]
    graph.on_first_node("conv", lambda: calls.append("late"))  # conv built already: now
    assert calls == ["conv", "late"]

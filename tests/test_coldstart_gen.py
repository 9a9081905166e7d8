"""The first run's generated kernels (keraslite_numba/coldgen.py): kernel_seq gives bitwise what
kernel_par gives for fused and batched programs, a large call runs kernel_seq exactly while a
worker compiles kernel_par, and the compile worker takes tasks on stdin."""
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

pytest.importorskip("keraslite_numba")
from keraslite import backend as K  # noqa: E402
from keraslite.backend.fusion import fuse  # noqa: E402
from keraslite.backend.graph import topological_order  # noqa: E402
from keraslite_numba import coldgen, coldplan, coldstart  # noqa: E402
from keraslite_numba.batched import BatchedKernel  # noqa: E402
from keraslite_numba.fused import PARALLEL_THRESHOLD, FusedKernel  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _program(dtype, with_row=True):
    """A program mixing the functions whose vectorised and scalar forms could differ (exp, log,
    tanh, sigmoid, division, a multiply-add that may contract), over a full input, a scalar and
    a bias row."""
    a, s = K.placeholder((64, 37), dtype=dtype), K.placeholder((), dtype=dtype)
    r = K.placeholder((37,), dtype=dtype) if with_row else K.placeholder((64, 37), dtype=dtype)
    u = K.sigmoid(a * s + r) + K.exp(-K.abs(a)) * K.tanh(a) / (1.0 + K.abs(a + r))
    w = u - (K.log(1.0 + a * a) * s - r)
    order = topological_order([w], stop={a.id, s.id, r.id})
    _, groups = fuse(order, {w.id}, {a.id, s.id, r.id})
    (group,) = groups.values()
    return group, {a.id: a, s.id: s, r.id: r}


def _choose(variant):
    def choose(par, seq, args):
        return (seq if variant == "seq" else par), True
    return choose


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_kernel_seq_equals_kernel_par_bitwise(dtype, monkeypatch):
    group, _ = _program(dtype)
    rng = np.random.default_rng(5)
    rows = 2 * PARALLEL_THRESHOLD // 37 + 3  # large: the parallel loop, with a ragged tail
    shapes = {(64, 37): (rows, 37), (37,): (37,), (): ()}
    values = [(rng.standard_normal(shapes[tuple(i.shape)]) * 3).astype(dtype) for i in group.inputs]
    got = {}
    for n in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(n)
        for variant in ("par", "seq"):
            monkeypatch.setattr(coldgen, "large_kernel", _choose(variant))
            got[variant, n] = [o.tobytes() for o in FusedKernel(group.program)(*values)]
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert len(set(map(tuple, got.values()))) == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batched_kernel_seq_equals_kernel_par_bitwise(dtype, monkeypatch):
    group, _ = _program(dtype, with_row=False)
    kinds = "".join("S" if tuple(i.shape) == () else "F" for i in group.inputs)
    rng = np.random.default_rng(6)
    members = [[rng.standard_normal(shape).astype(dtype) if k == "F" else np.asarray(rng.standard_normal(), dtype)
                for k in kinds] for shape in [(300, 129), (7,), (2 * PARALLEL_THRESHOLD + 5,)]]
    flat = [x for m in members for x in m]
    got = {}
    for variant in ("par", "seq"):
        monkeypatch.setattr(coldgen, "large_kernel", _choose(variant))
        got[variant] = [o.tobytes() for o in BatchedKernel(group.program, kinds, {})(*flat)]
    assert got["par"] == got["seq"]


def test_a_large_call_runs_kernel_seq_until_a_worker_marks_kernel_par(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASLITE_COMPILE_WORKERS", raising=False)
    monkeypatch.setenv("KERASLITE_CACHE_DIR", str(tmp_path))  # the generated sources, the markers
    monkeypatch.setattr(coldstart, "_paths", {})
    monkeypatch.setattr(coldstart, "_pending", set())
    monkeypatch.setattr(coldstart, "_ready", set())
    monkeypatch.setattr(coldstart, "_wanted", set())
    queued = []

    def start(items):  # a worker takes the task
        queued.extend(items)
        coldstart._pending.update(i.split("\t")[0] for i in items)
    monkeypatch.setattr(coldstart, "_start", start)
    monkeypatch.setattr(coldstart, "_orphaned", lambda key: False)
    group, _ = _program("float32", with_row=False)
    fk = FusedKernel(group.program)
    values = [np.full((PARALLEL_THRESHOLD, 2) if tuple(i.shape) else (), 0.5, np.float32) for i in group.inputs]
    want = [o.tobytes() for o in fk(*values)]
    (item,) = queued
    key, path, spec = item.split("\t")
    assert coldgen.valid(item) and Path(path).parent == tmp_path / "numba-kernels"
    assert fk._parallel == set() and coldstart._wanted == {key}
    par = next(iter(fk._kernels.values()))[0]
    assert not par.signatures  # the large call ran kernel_seq
    assert par.py_func.__code__.co_argcount == len(spec.split(","))
    fk(*values)
    assert fk._parallel == set() and not par.signatures  # no marker yet: kernel_seq again
    coldstart._mark(key)  # the worker is done
    assert [o.tobytes() for o in fk(*values)] == want
    assert fk._parallel == {"".join("F" if tuple(i.shape) else "S" for i in group.inputs)}
    assert len(par.signatures) == 1
    coldgen.compile_task(item)  # what the worker does: exactly the call's signature, no other
    assert coldgen._types(spec) in par.overloads and len(par.signatures) == 1
    with pytest.raises(ValueError, match="not a generated kernel task"):
        coldgen.compile_task(f"{key}\t/tmp/elsewhere.py\t{spec}")


def test_without_workers_a_large_call_runs_kernel_par(monkeypatch):
    monkeypatch.setenv("KERASLITE_COMPILE_WORKERS", "0")
    group, _ = _program("float64", with_row=False)
    fk = FusedKernel(group.program)
    values = [np.full((PARALLEL_THRESHOLD, 2) if tuple(i.shape) else (), 0.25) for i in group.inputs]
    fk(*values)
    assert len(fk._parallel) == 1


def test_a_worker_takes_keys_on_stdin_and_keeps_only_those_asked_at_exit(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), KERASLITE_CACHE_DIR=str(tmp_path / "kl"),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends"), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "keraslite_numba.compile_worker", "avg_bwd-fs", "avg_fwd-fs"], env=env,
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    # written before the worker has imported Numba: it reads them before its first compile
    p.stdin.write(b"avg_fwd-f\nnot-a-family\nonly avg_fwd-fs avg_fwd-f\n")
    p.stdin.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 0, err
    assert "unknown kernel family 'not-a-family'" in err
    done = sorted(f.name.split(".")[0] for f in (tmp_path / "kl").rglob("*.done"))
    assert done == ["avg_fwd-f", "avg_fwd-fs"]


def test_an_idle_worker_ends_by_itself(tmp_path):
    """A fed worker with nothing to do ends after its idle wait (its stdin still open)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), KERASLITE_CACHE_DIR=str(tmp_path / "kl"),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends"), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.Popen([sys.executable, "-m", "keraslite_numba.compile_worker", "--idle=0.2"], env=env,
                         stdin=subprocess.PIPE)
    try:
        assert p.wait(timeout=120) == 0
    finally:
        p.stdin.close()
        if p.poll() is None:
            p.kill()


def test_plan_build_names_the_batched_update_kernel_its_first_call_compiles():
    """coldplan.batched_tasks reads the optimizer's batched update kernel off a built plan (its
    source, with the in-place pattern, and its argument types) for a worker to compile its
    kernel_seq ahead of the call: exactly the module and types the first large call uses."""
    import keraslite
    from keraslite.layers import Dense
    from keraslite.optimizers import SGD
    from keraslite_numba.cachedir import import_generated
    rng = np.random.default_rng(0)
    model = keraslite.models.Sequential([Dense(256, input_shape=(200,)), Dense(3)])
    model.compile(SGD(learning_rate=0.01, momentum=0.9), "mse")  # two outputs in place: w, v
    with keraslite.use_backend("numba"):
        model.train_on_batch(rng.normal(size=(8, 200)).astype("float32"), rng.normal(size=(8, 3)).astype("float32"))
        plan = model.train_function.last_plan
        (line,) = coldplan.batched_tasks(plan)
    key, path, spec, seq = line.split("\t")
    assert seq == "s" and key.endswith("s") and coldgen.valid(line)
    module = import_generated(Path(path))
    # without workers the call ran kernel_par: it compiled exactly these types, in this module
    assert coldgen._types(spec) in module.kernel_par.signatures
    coldgen.compile_task(line)  # what the worker does
    assert coldgen._types(spec) in module.kernel_seq.signatures

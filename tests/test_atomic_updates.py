"""A training step commits all or nothing, a Ctrl-C included (issue 12, item 2).

Deterministic tests raise SIGINT in the middle of the commit (from inside an assignment) on every
backend and check that every variable was assigned before KeyboardInterrupt surfaces. A
subprocess test sends SIGINT at random moments to a process training a model whose every
variable tells the step count (Adagrad on a loss with constant gradients: accumulators = k,
iterations = k, weights = -lr * sum_j 1/(sqrt(j)+eps)) and checks that all variables agree.
"""
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite.backend import commit
from keraslite.backend.graph import Variable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------------------------
# swap_in on its own

def test_sigint_during_commit_is_delivered_after_the_last_assignment():
    done = []

    def assign(target, value):
        if value == 2:
            signal.raise_signal(signal.SIGINT)  # Python runs the handler before returning
        done.append(value)

    before = commit.deferred_count
    with pytest.raises(KeyboardInterrupt):
        commit.swap_in([(None, i) for i in range(6)], assign)
    assert done == list(range(6))
    assert commit.deferred_count == before + 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_custom_handler_is_restored_and_called_once_after_the_commit():
    calls, done = [], []

    def handler(signum, frame):
        calls.append((signum, list(done)))

    old = signal.signal(signal.SIGINT, handler)
    try:
        def assign(target, value):
            if value in (1, 3):  # two signals during one commit: one delivery, as Python coalesces
                signal.raise_signal(signal.SIGINT)
            done.append(value)
        commit.swap_in([(None, i) for i in range(5)], assign)
        assert calls == [(signal.SIGINT, [0, 1, 2, 3, 4])]
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, old)


def test_an_exception_in_an_assignment_restores_the_handler():
    def assign(target, value):
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        commit.swap_in([(None, 0)], assign)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ignored_sigint_and_other_threads_leave_the_handler_alone():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        done = []
        commit.swap_in([(None, 1), (None, 2)], lambda t, v: done.append(v))
        assert done == [1, 2] and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, old)
    seen = []

    def worker():
        # signal.signal would raise ValueError off the main thread: swap_in must not call it
        commit.swap_in([(None, 1)], lambda t, v: seen.append(signal.getsignal(signal.SIGINT)))
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [signal.default_int_handler]


def test_default_action_sigint_kills_only_after_the_commit():
    code = textwrap.dedent("""
        import signal, sys
        from keraslite.backend import commit
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        def assign(target, value):
            if value == 1:
                signal.raise_signal(signal.SIGINT)
            print(value, flush=True)
        commit.swap_in([(None, i) for i in range(4)], assign)
        print("after", flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "backends")]))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == -signal.SIGINT
    assert p.stdout.split() == ["0", "1", "2", "3"]


# ---------------------------------------------------------------------------------------------
# through compiled functions, on every backend

def _interrupting_assign(monkeypatch, at: int):
    """Make the `at`-th variable assignment of the next commits raise SIGINT first."""
    original = Variable.assign_native
    count = [0]

    def assign_native(self, backend, array):
        count[0] += 1
        if count[0] == at:
            signal.raise_signal(signal.SIGINT)
        original(self, backend, array)
    monkeypatch.setattr(Variable, "assign_native", assign_native)
    return count


@pytest.mark.parametrize("at", [1, 2, 5])
def test_interrupted_function_commit_applies_every_update(kbackend, monkeypatch, at):
    vs = [K.variable(np.full((3,), float(i), np.float32)) for i in range(5)]
    x = K.placeholder(shape=(3,))
    f = K.function([x], [K.sum(x)], updates=[(v, v + x * (i + 1)) for i, v in enumerate(vs)])
    f([np.ones(3, np.float32)])  # compile the plan before interrupting
    count = _interrupting_assign(monkeypatch, at)
    with pytest.raises(KeyboardInterrupt):
        f([np.ones(3, np.float32)])
    assert count[0] == 5
    for i, v in enumerate(vs):
        np.testing.assert_array_equal(K.get_value(v), np.full((3,), i + 2.0 * (i + 1), np.float32))


def test_interrupted_set_weights_assigns_all(kbackend, monkeypatch):
    vs = [K.variable(np.zeros((2,), np.float32)) for _ in range(4)]
    original = Variable.assign_host
    count = [0]

    def assign_host(self, value):
        count[0] += 1
        if count[0] == 2:
            signal.raise_signal(signal.SIGINT)
        original(self, value)
    monkeypatch.setattr(Variable, "assign_host", assign_host)
    with pytest.raises(KeyboardInterrupt):
        K.batch_set_value([(v, np.full((2,), i + 1.0)) for i, v in enumerate(vs)])
    assert [float(K.get_value(v)[0]) for v in vs] == [1.0, 2.0, 3.0, 4.0]


class _emulated_cuda:
    """The cuda backend's class on NumPy (CudaBackend.emulated), active for a `with` block."""

    def __enter__(self):
        from keraslite.backend import registry
        from keraslite_cuda.backend import CudaBackend
        backend = CudaBackend.emulated(fused="array")
        registry.register_backend("cuda_commit_test", lambda: backend)
        self._use = keraslite.use_backend("cuda_commit_test")
        self._use.__enter__()
        return backend

    def __exit__(self, *exc):
        from keraslite.backend import registry
        self._use.__exit__(*exc)
        registry._factories.pop("cuda_commit_test", None)
        registry._instances.pop("cuda_commit_test", None)


def test_interrupted_training_step_on_the_cuda_backend_code_path(monkeypatch):
    """The cuda backend runs the same plan; here on NumPy (CudaBackend.emulated)."""
    with _emulated_cuda():
        model, x, y = _tiny_adagrad_model(layers=3)
        model.train_on_batch(x, y)
        _interrupting_assign(monkeypatch, 2)
        with pytest.raises(KeyboardInterrupt):
            model.train_on_batch(x, y)
        monkeypatch.undo()
        counts = _step_counts(_state_of(model), LR, EPS)
        assert set(counts.values()) == {2}, counts


# ---------------------------------------------------------------------------------------------
# a model whose every variable tells the step count

LR, EPS = 1.0, 1e-7


def _tiny_adagrad_model(layers):
    from keraslite.layers import Add, Dense, Input
    from keraslite.models import Model
    from keraslite.optimizers import Adagrad
    inp = Input((4,))
    outs = [Dense(1, kernel_initializer="zeros", bias_initializer="zeros")(inp) for _ in range(layers)]
    model = Model(inp, Add()(outs) if layers > 1 else outs[0])
    # d loss / d kernel = mean(x) = 1 and d loss / d bias = 1 for x of ones: constant gradients
    model.compile(Adagrad(learning_rate=LR, epsilon=EPS), loss=lambda t, p: K.mean(p, axis=-1))
    return model, np.ones((8, 4), np.float32), np.zeros((8, 1), np.float32)


def _state_of(model):
    """{name: array} of every weight ('w*') and optimizer variable ('iterations', 'acc*')."""
    state = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    opt = model.optimizer.get_weights()
    state["iterations"] = opt[0]
    state.update({f"acc{i}": a for i, a in enumerate(opt[1:])})
    return state


def _step_counts(state, lr, eps):
    """{name: the step count k that the variable's value tells}: `iterations` is k, an Adagrad
    accumulator holds k (the sum of k squared unit gradients), a weight -lr * sum_{j<=k}
    1/(sqrt(j)+eps). -1 marks a value that tells no step count (or elements that disagree)."""
    import numpy as np
    ref = [0.0]
    counts = {}
    for name, value in state.items():
        flat = np.asarray(value).ravel().astype(np.float64)
        v = float(flat[0])
        if not np.all(flat == v):
            counts[name] = -1
        elif name == "iterations" or name.startswith("acc"):
            counts[name] = int(v) if v >= 0 and v.is_integer() else -1
        else:
            while ref[-1] > v - 1.0 and len(ref) < 1000000:
                k = len(ref)
                ref.append(ref[-1] - lr / (np.sqrt(k) + eps))
            r = np.asarray(ref)
            k = int(np.argmin(np.abs(r - v)))
            gap = abs(r[k + 1] - r[k])  # the smallest distance to a neighbouring step count
            counts[name] = k if abs(r[k] - v) < 0.25 * gap else -1
    return counts


def test_the_step_count_check_sees_a_half_applied_step():
    model, x, y = _tiny_adagrad_model(layers=2)
    for _ in range(3):
        model.train_on_batch(x, y)
    state = _state_of(model)
    assert set(_step_counts(state, LR, EPS).values()) == {3}
    before = {k: np.array(v, copy=True) for k, v in state.items()}
    model.train_on_batch(x, y)
    after = _state_of(model)
    assert set(_step_counts(after, LR, EPS).values()) == {4}
    for name in before:  # each variable alone one step ahead is seen
        mixed = dict(before, **{name: after[name]})
        counts = _step_counts(mixed, LR, EPS)
        assert counts[name] == 4 and {c for n, c in counts.items() if n != name} == {3}


# ---------------------------------------------------------------------------------------------
# SIGINT at random moments, sent by this process to a child that trains

_CHILD = """
import json, sys
import numpy as np
import keraslite
from keraslite import backend as K
from keraslite.backend import commit

backend, kind, size, protect = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
keraslite.set_backend(backend)
if not protect:  # the control experiment: assignments one by one, unprotected
    from keraslite.backend import compiler

    def _plain(pending, assign):
        for target, value in pending:
            assign(target, value)
    compiler.swap_in = _plain
LR, EPS = {lr!r}, {eps!r}
{sources}
if kind == "model":
    model, x, y = _tiny_adagrad_model(size)
    f = model._make_train_function()
    feeds = [x, y, np.ones((len(x),), np.float32)]
    variables = model.weights + model.optimizer.weights
    state = lambda: _state_of(model)
else:  # many counters: the commit is a large part of each call
    variables = [K.variable(0.0) for _ in range(size)] + [K.variable(0, dtype="int64")]
    f = K.function([], [], updates=[(v, v + 1) for v in variables])
    feeds = []
    state = lambda: {{f"acc{{i}}": v for i, v in enumerate(K.batch_get_value(variables))}}
import time
f(feeds)  # compile before the first signal
t0 = time.perf_counter()
for _ in range(3):
    f(feeds)
print(json.dumps({{"step_s": (time.perf_counter() - t0) / 3}}), flush=True)
for line in sys.stdin:
    if line.strip() != "next":
        break
    try:
        print("go", flush=True)
        while True:
            f(feeds)
    except KeyboardInterrupt:
        pass
    counts = sorted(set(_step_counts(state(), LR, EPS).values()))
    if len(counts) != 1 or counts[0] < 0:  # start the next round from a consistent state
        K.batch_set_value([(v, np.zeros(v.shape)) for v in variables])
    print(json.dumps({{"counts": counts, "deferred": commit.deferred_count}}), flush=True)
"""


def _child_source():
    sources = "\n\n".join(inspect.getsource(fn) for fn in (_tiny_adagrad_model, _state_of, _step_counts))
    return _CHILD.format(lr=LR, eps=EPS, sources=sources)


def _interrupt_at_random(backend, kind, size, tries, protect=True, seed=0):
    """Run `tries` rounds: the child trains, this process sends SIGINT after a random delay (up
    to three of the child's steps), the child reports the step counts its variables tell.
    Returns the list of reports."""
    import random
    import time
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "backends")]))
    child = subprocess.Popen([sys.executable, "-c", _child_source(), backend, kind, str(size),
                              "1" if protect else "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    rng = random.Random(seed)
    reports = []
    try:
        max_delay = 3 * json.loads(child.stdout.readline())["step_s"]
        for _ in range(tries):
            child.stdin.write("next\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "go"
            time.sleep(rng.uniform(0.0, max_delay))
            os.kill(child.pid, signal.SIGINT)
            line = child.stdout.readline()
            assert line, "the child died"
            reports.append(json.loads(line))
        child.stdin.write("stop\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return reports


@pytest.mark.parametrize("kind,size,tries", [("model", 4, 60), ("counters", 400, 100)])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_random_sigints_never_leave_a_step_half_applied(backend, kind, size, tries):
    if backend not in keraslite.available_backends():
        pytest.skip(f"{backend} is not usable here")
    reports = _interrupt_at_random(backend, kind, size, tries)
    half = [r["counts"] for r in reports if len(r["counts"]) != 1 or r["counts"][0] < 0]
    assert not half, f"{len(half)} of {len(reports)} interrupts left variables disagreeing: {half[:5]}"
    steps = [r["counts"][0] for r in reports]
    assert steps == sorted(steps) and steps[-1] > len(reports) // 10, steps  # it trained between the signals


def test_a_commit_inside_a_commit_keeps_the_held_signal():
    done = []

    def inner(target, value):
        done.append(value)

    def outer(target, value):
        if value == 1:
            signal.raise_signal(signal.SIGINT)
            commit.swap_in([(None, "inner")], inner)  # e.g. another signal's handler setting a value
        done.append(value)
    with pytest.raises(KeyboardInterrupt):
        commit.swap_in([(None, 0), (None, 1), (None, 2)], outer)
    assert done == [0, "inner", 1, 2]


def test_no_variable_changes_before_the_commit(kbackend, monkeypatch):
    """Every new value is computed into fresh memory: right before the swap, every variable
    still holds its pre-step value (no kernel wrote into a variable's array in place)."""
    _check_no_change_before_commit(monkeypatch)


def test_no_variable_changes_before_the_commit_on_the_cuda_backend_code_path(monkeypatch):
    with _emulated_cuda():
        _check_no_change_before_commit(monkeypatch)


def _check_no_change_before_commit(monkeypatch):
    from keraslite.backend import compiler
    from keraslite.layers import BatchNormalization, Dense, Embedding, Flatten, Input
    from keraslite.models import Model
    ids = Input((3,), dtype="int32")
    h = Flatten()(Embedding(10, 4)(ids))
    h = BatchNormalization()(Dense(5, activation="relu")(h))
    model = Model(ids, Dense(2)(h))
    model.compile("adam", "mse", metrics=["mae"])
    x = np.random.default_rng(0).integers(0, 10, size=(16, 3))
    y = np.random.default_rng(1).normal(size=(16, 2)).astype("float32")
    model.train_on_batch(x, y)
    variables = model.weights + model.optimizer.weights
    before = [K.get_value(v).copy() for v in variables]
    seen = []
    real = compiler.swap_in

    def checking_swap_in(pending, assign):
        seen.append(len(pending))
        for v, old in zip(variables, before):
            np.testing.assert_array_equal(v.numpy(), old, err_msg=f"{v.name} changed before the commit")
        real(pending, assign)
    monkeypatch.setattr(compiler, "swap_in", checking_swap_in)
    model.train_on_batch(x, y)
    assert seen and seen[0] >= len(model.trainable_weights) + 1
    moved = {id(v) for v, old in zip(variables, before) if not np.array_equal(K.get_value(v), old)}
    moving = [w for w in model.non_trainable_weights if "moving" in w.name]  # BatchNorm's statistics
    assert len(moving) == 2
    must = model.trainable_weights + [model.optimizer.iterations] + moving
    assert all(id(v) in moved for v in must), [v.name for v in must if id(v) not in moved]

"""The CudaBackend class itself on NumPy, without CuPy or a GPU: the emulated backend, seeded
random, out-of-memory reports, TF32 opt-in and importing without CuPy.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite.backend import registry

from keraslite_cuda import hostsim, memory, settings
from keraslite_cuda.backend import CudaBackend
from keraslite_cuda.seeded_random import SeededRandom

from cuda_generic_helpers import REPO, _distinct, _emulated, _r, _registered, ref_bn, ref_pool


# =============================================================================================
# the CudaBackend class itself, on NumPy

@pytest.fixture
def hostsim_backend():
    """CudaBackend.emulated() registered as 'cuda_hostsim' for the duration of one test."""
    if hostsim.compiler() is None:
        pytest.skip("no host C++ compiler (g++/clang++/$CXX)")
    b = _emulated("host")
    with _registered("cuda_hostsim", b):
        with keraslite.use_backend("cuda_hostsim"):
            yield b


def test_emulated_backend_k_conv_pool_bn_fused_chain(hostsim_backend):
    x = _r((2, 9, 8, 3), 1)
    w = _r((3, 3, 3, 4), 2)
    bias = _r((4,), 3)
    xt = K.placeholder(shape=(None, 9, 8, 3))
    wt, bt = K.variable(w), K.variable(bias)
    h = K.relu(K.bias_add(K.conv2d(xt, wt, strides=(2, 1), padding="same"), bt))
    p = K.pool2d(h, (2, 2), strides=(2, 2), pool_mode="max")
    q = K.pool2d(h, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
    gamma, beta = K.variable(np.full((4,), 1.5, np.float32)), K.variable(np.full((4,), 0.25, np.float32))
    nb, mean, var = K.normalize_batch_in_training(q, gamma, beta, [0, 1, 2], epsilon=1e-3)
    loss = K.sum(p) + K.sum(K.square(nb))
    grads = K.gradients(loss, [wt, bt, gamma])
    f = K.function([xt], [p, q, nb, mean, var, loss] + grads)
    out = f([x])
    # the plan used the backend's kernels and fused the bias + relu
    kernels = f.last_plan.kernels()
    assert any(k.startswith("fused[") for k in kernels)
    assert {"conv", "pool", "pool_backprop", "batchnorm_train", "conv_backprop_filter"} <= set(kernels)
    assert (p.op, p.attrs["mode"], q.op, q.attrs["mode"]) == ("pool", "max", "pool", "avg")
    # independent formulas (float64 loops in tests/nn_reference.py)
    import nn_reference as R
    h_ref = np.maximum(R.conv2d(x, w, strides=(2, 1), padding="same") + bias, 0)
    p_ref = R.pool2d(h_ref, (2, 2), strides=(2, 2), pool_mode="max")
    q_ref = R.pool2d(h_ref, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
    nb_ref, m_ref, v_ref = R.normalize_batch_in_training(q_ref, np.full(4, 1.5), np.full(4, 0.25), [0, 1, 2], 1e-3)
    for got, want in ((out[0], p_ref), (out[1], q_ref), (out[2], nb_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[3].reshape(-1), np.asarray(m_ref).reshape(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[4].reshape(-1), np.asarray(v_ref).reshape(-1), rtol=1e-4, atol=1e-5)
    # gradients: central differences through the same numpy references, in float64
    def loss_of(w_):
        hh = np.maximum(R.conv2d(x.astype(np.float64), w_, strides=(2, 1), padding="same") + bias, 0)
        pp = R.pool2d(hh, (2, 2), strides=(2, 2), pool_mode="max")
        qq = R.pool2d(hh, (3, 3), strides=(1, 1), padding="same", pool_mode="avg")
        nn_, _, _ = R.normalize_batch_in_training(qq, np.full(4, 1.5), np.full(4, 0.25), [0, 1, 2], 1e-3)
        return np.sum(pp) + np.sum(np.square(nn_))
    w64 = w.astype(np.float64)
    for idx in [(0, 0, 0, 0), (1, 2, 1, 3), (2, 1, 2, 1)]:
        a, b = w64.copy(), w64.copy()
        a[idx] += 1e-5
        b[idx] -= 1e-5
        fd = (loss_of(a) - loss_of(b)) / 2e-5
        np.testing.assert_allclose(out[6][idx], fd, rtol=2e-3, atol=2e-3)


def test_emulated_backend_without_a_host_compiler_uses_array_code(monkeypatch):
    monkeypatch.setattr(hostsim, "compiler", lambda: None)
    b = CudaBackend.emulated()
    assert b._runner is None
    x = _distinct((2, 6, 6, 3), 1)
    np.testing.assert_allclose(b.pool(x, "max", (2, 2), (2, 2), ((0, 0), (0, 0))),
                               ref_pool(x.astype(np.float64), (2, 2), (2, 2), ((0, 0), (0, 0)), "max"), rtol=1e-6)
    y, m, v = b.batchnorm_train(x, None, None, (0, 1, 2), 1e-3)
    np.testing.assert_allclose(y, ref_bn(x.astype(np.float64), None, None, (0, 1, 2), 1e-3)[0], rtol=1e-4, atol=1e-5)


def test_emulated_backend_random_is_seeded(hostsim_backend):
    a = K.function([], [K.random_uniform((1000,), seed=7), K.random_normal((500,), 1.0, 2.0, seed=3),
                        K.truncated_normal((2000,), seed=5), K.random_binomial((1000,), p=0.3, seed=2)])
    b = K.function([], [K.random_uniform((1000,), seed=7), K.random_normal((500,), 1.0, 2.0, seed=3),
                        K.truncated_normal((2000,), seed=5), K.random_binomial((1000,), p=0.3, seed=2)])
    ra, rb = a([]), b([])
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x, y)
    again = a([])
    assert not np.array_equal(again[0], ra[0])        # each evaluation draws anew
    u, nrm, t, bi = ra
    assert u.dtype == np.float32 and 0 <= u.min() and u.max() < 1
    assert abs(nrm.mean() - 1.0) < 0.3 and abs(nrm.std() - 2.0) < 0.3
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.88) < 0.05
    assert set(np.unique(bi)) <= {0.0, 1.0} and abs(bi.mean() - 0.3) < 0.06


def test_seeded_random_generic_api():
    r1, r2 = SeededRandom(np, 11), SeededRandom(np, 11)
    np.testing.assert_array_equal(r1.uniform(-1, 1, (5,), "float64"), r2.uniform(-1, 1, (5,), "float64"))
    assert r1.normal(0, 1, (3, 2), "float32").dtype == np.float32
    assert SeededRandom(np, 2 ** 40 + 3).uniform(0, 1, (2,), "float32").shape == (2,)


def test_emulated_backend_host_arrays_and_guard_are_transparent(hostsim_backend):
    # K.shape gives a host array on the cuda backend; using it in arithmetic must work
    x = K.placeholder(shape=(None, 3))
    n = K.cast(K.shape(x)[0], "float32")
    f = K.function([x], [K.sum(x) / n])
    np.testing.assert_allclose(f([np.ones((4, 3), np.float32)])[0], 3.0)


# ------------------------------------------------------------------- out of memory

class OutOfMemoryError(MemoryError):
    """Same name and fields as cupy.cuda.memory.OutOfMemoryError."""

    def __init__(self, size, total):
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: {total:,} bytes).")
        self._size, self._total = size, total


def test_oom_is_recognised_and_described():
    assert memory.is_out_of_memory(OutOfMemoryError(10, 20))
    assert memory.is_out_of_memory(RuntimeError("CUBLAS_STATUS_ALLOC_FAILED"))
    assert not memory.is_out_of_memory(ValueError("shapes do not match"))
    msg = memory.describe_oom("op 'conv2d'", [np.zeros((64, 32, 32, 3), np.float32)], OutOfMemoryError(3 << 30, 5),
                              {"pool_used": 5 << 30, "pool_total": 6 << 30, "device_free": 1 << 20,
                               "device_total": 80 << 30})
    for part in ("out of GPU memory", "op 'conv2d'", "float32[64,32,32,3]", "3.00 GiB", "5.00 GiB in use",
                 "80.00 GiB", "batch size"):
        assert part in msg, (part, msg)
    assert memory.human(None) == "an unknown amount" and memory.human(512) == "512 B"


def test_oom_in_a_plan_step_names_op_tensor_and_size(hostsim_backend, monkeypatch):
    def exploding_conv(*a, **k):
        raise OutOfMemoryError(12345678, 99)
    monkeypatch.setattr(hostsim_backend, "conv", exploding_conv)
    x = K.placeholder(shape=(None, 5, 5, 2), name="images")
    w = K.variable(_r((3, 3, 2, 4), 1))
    y = K.conv2d(x, w)
    f = K.function([x], [y])
    with pytest.raises(MemoryError) as ei:
        f([np.ones((2, 5, 5, 2), np.float32)])
    e = ei.value
    assert isinstance(e, memory.DeviceMemoryError)
    text = str(e) + " ".join(getattr(e, "__notes__", []))
    parts = ["op 'conv'", "float32[2,5,5,2]", "11.77 MiB"]
    if sys.version_info >= (3, 11):
        parts.append("while computing")  # the compiler's note naming the tensor (add_note: 3.11+)
    for part in parts:
        assert part in text, (part, text)
    # other errors pass through unchanged
    def broken(*a, **k):
        raise ZeroDivisionError("x")
    monkeypatch.setattr(hostsim_backend, "conv", broken)
    with pytest.raises(ZeroDivisionError):
        K.function([x], [K.conv2d(x, w) * 2])([np.ones((2, 5, 5, 2), np.float32)])


def test_guard_moves_host_arrays_only_for_a_device_backend():
    class FakeDevice:
        xp = object()   # not numpy: a device array module
        moved = []

        def from_numpy(self, a):
            self.moved.append(a.shape)
            return ("dev", a)

        def memory_info(self):
            return {}

    def op(a, b):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>")
        return "ok"
    dev = FakeDevice()
    assert memory.guard(op, "op 'add'", dev)(np.ones(2), ("dev", None)) == "ok"
    assert dev.moved == [(2,)]


# ------------------------------------------------------------------------ TF32

def test_tf32_is_opt_in(monkeypatch):
    monkeypatch.delenv("KERASLITE_CUDA_TF32", raising=False)
    settings.set_tf32(None)
    assert settings.tf32_enabled() is False
    monkeypatch.setenv("KERASLITE_CUDA_TF32", "1")
    assert settings.tf32_enabled() is True
    monkeypatch.setenv("KERASLITE_CUDA_TF32", "0")
    assert settings.tf32_enabled() is False
    settings.set_tf32(True)
    try:
        assert settings.tf32_enabled() is True
    finally:
        settings.set_tf32(None)


def test_matmul_sets_the_compute_type_around_float32_products(monkeypatch):
    class FakeLinalg:
        COMPUTE_TYPE_TF32, COMPUTE_TYPE_FP32, COMPUTE_TYPE_DEFAULT = 7, 4, 1

        def __init__(self):
            self.current, self.log = 1, []

        def get_compute_type(self, dt):
            return self.current

        def set_compute_type(self, dt, ct):
            self.log.append(ct)
            self.current = ct

    b = CudaBackend.emulated(runner=lambda *a: None)
    b._linalg = rl = FakeLinalg()
    a = np.ones((2, 3), np.float32)
    monkeypatch.delenv("KERASLITE_CUDA_TF32", raising=False)
    settings.set_tf32(None)
    np.testing.assert_array_equal(b.matmul(a, a.T), np.full((2, 2), 3.0))
    assert rl.log == [4, 1] and rl.current == 1          # FP32 (no TF32) during the call, then restored
    settings.set_tf32(True)
    try:
        b.matmul(a, a.T)
        assert rl.log[-2:] == [7, 1]
    finally:
        settings.set_tf32(None)
    rl.log.clear()
    b.matmul(a.astype(np.float64), a.T.astype(np.float64))
    assert rl.log == []                                   # float64 untouched


# ------------------------------------------------------------------ import and selection

def test_import_without_cupy_never_touches_cuda_and_set_backend_explains():
    code = textwrap.dedent("""
        import sys, importlib.abc
        attempts = []
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("cupy", "cupy_backends", "cupyx"):
                    attempts.append(name)
                    raise ImportError("No module named 'cupy' (blocked by the test)")
                return None
        sys.meta_path.insert(0, Block())
        import keraslite
        import keraslite_cuda
        from keraslite_cuda import backend, conv, fused, pool, batchnorm, rawkernels, memory, settings
        from keraslite_cuda import seeded_random, hostsim, device
        assert attempts == [], attempts
        try:
            keraslite.set_backend("cuda")
        except keraslite.BackendUnavailableError as e:
            print("ERR", e)
        print("AUTO", keraslite.set_backend("auto"))
        print("AVAIL", ",".join(keraslite.available_backends()))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "backends")]))
    env.pop("KERASLITE_BACKEND", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.strip().splitlines())
    assert "CuPy" in lines["ERR"] and "pip install" in lines["ERR"] and "cuda12" in lines["ERR"]
    assert lines["AUTO"] == "numba"
    assert "cuda" not in lines["AVAIL"].split(",")


def test_cuda_backend_registered_under_its_names():
    assert "cuda" in registry.known_backends()
    for alias in ("gpu", "cupy"):
        assert registry.resolve_name(alias) == "cuda"

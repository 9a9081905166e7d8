"""Backend registry: names, aliases, 'auto', the KERASLITE_BACKEND variable, use_backend,
switching with live variables, and third-party backends via register_backend."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import keraslite
from keraslite import backend as K

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _restore_backend():
    saved = keraslite.get_backend()
    yield
    keraslite.set_backend(saved)


def _cuda_works():
    return "cuda" in keraslite.available_backends()


def _active():
    return keraslite.get_backend()


# ---------------------------------------------------------------------------------------------
# names


def test_available_backends_has_cpu_backends():
    names = keraslite.available_backends()
    assert isinstance(names, list)
    assert "numpy" in names
    assert "numba" in names
    assert all(isinstance(n, str) for n in names)


def test_default_backend_is_numba_without_env():
    if os.environ.get("KERASLITE_BACKEND"):
        pytest.skip("KERASLITE_BACKEND is set in this environment")
    out = _run_python("import keraslite; print(keraslite.get_backend())", env_value=None)
    assert out == "numba"


@pytest.mark.parametrize("name", ["numpy", "numba"])
def test_set_backend(name):
    keraslite.set_backend(name)
    assert _active() == name
    assert K.backend() == name
    v = K.variable(np.array([1.0, 2.0]))
    np.testing.assert_allclose(K.eval(v * 2), [2.0, 4.0])


def test_set_backend_unknown_name_lists_known_names():
    before = _active()
    with pytest.raises(ValueError) as ei:
        keraslite.set_backend("nonexistent")
    msg = str(ei.value)
    assert "nonexistent" in msg
    for name in ("numpy", "numba", "cuda"):
        assert name in msg
    assert _active() == before


def test_alias_cpu_is_numba():
    keraslite.set_backend("numpy")
    keraslite.set_backend("cpu")
    assert _active() == "numba"
    assert K.backend() == "numba"


@pytest.mark.parametrize("alias", ["gpu", "cupy", "cuda"])
def test_gpu_aliases_are_cuda(alias):
    keraslite.set_backend("numpy")
    if _cuda_works():
        keraslite.set_backend(alias)
        assert _active() == "cuda"
        return
    with pytest.raises(RuntimeError) as ei:
        keraslite.set_backend(alias)
    assert _active() == "numpy", "a failed set_backend must leave the active backend unchanged"
    _assert_explains_cuda(str(ei.value))


def _assert_explains_cuda(msg):
    low = msg.lower()
    assert len(msg) > 30
    assert any(w in low for w in ("cupy", "cuda", "device", "driver", "gpu")), f"no reason given: {msg}"
    assert any(w in low for w in ("install", "pip", "nvidia-smi", "set_backend", "auto", "numba", "driver")), \
        f"no fix suggested: {msg}"


def test_cuda_unavailable_error_is_runtimeerror_subclass_and_explains():
    if _cuda_works():
        pytest.skip("CUDA works here")
    with pytest.raises(RuntimeError) as ei:
        keraslite.set_backend("cuda")
    assert isinstance(ei.value, RuntimeError)
    _assert_explains_cuda(str(ei.value))
    with pytest.raises(RuntimeError):
        with keraslite.use_backend("cuda"):
            pass


def test_cuda_not_in_available_backends_without_gpu():
    if _cuda_works():
        pytest.skip("CUDA works here")
    assert "cuda" not in keraslite.available_backends()


def test_auto():
    keraslite.set_backend("numpy")
    keraslite.set_backend("auto")
    assert _active() == ("cuda" if _cuda_works() else "numba")


def test_name_is_case_and_space_tolerant_or_rejected_cleanly():
    try:
        keraslite.set_backend("NumPy")
    except ValueError:
        return
    assert _active() == "numpy"


# ---------------------------------------------------------------------------------------------
# KERASLITE_BACKEND


def _run_python(code, env_value):
    env = dict(os.environ)
    env.pop("KERASLITE_BACKEND", None)
    if env_value is not None:
        env["KERASLITE_BACKEND"] = env_value
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("value,want", [("numpy", "numpy"), ("numba", "numba"), ("cpu", "numba")])
def test_env_var_picks_default(value, want):
    code = ("import numpy as np, keraslite; from keraslite import backend as K; "
            "v = K.variable(np.ones(2)); assert float(K.eval(K.sum(v))) == 2.0; "
            "print(keraslite.get_backend(), K.backend())")
    out = _run_python(code, value)
    assert out == f"{want} {want}"


def test_env_var_auto():
    out = _run_python("import keraslite; print(keraslite.get_backend())", "auto")
    assert out in ("numba", "cuda")
    if not _cuda_works():
        assert out == "numba"


# ---------------------------------------------------------------------------------------------
# use_backend


def test_use_backend_restores_previous():
    keraslite.set_backend("numba")
    with keraslite.use_backend("numpy"):
        assert _active() == "numpy"
        assert K.backend() == "numpy"
        with keraslite.use_backend("numba"):
            assert _active() == "numba"
        assert _active() == "numpy"
    assert _active() == "numba"


def test_use_backend_restores_on_exception():
    keraslite.set_backend("numba")
    with pytest.raises(KeyError):
        with keraslite.use_backend("numpy"):
            raise KeyError("boom")
    assert _active() == "numba"


def test_use_backend_alias():
    keraslite.set_backend("numpy")
    with keraslite.use_backend("cpu"):
        assert _active() == "numba"
    assert _active() == "numpy"


def test_use_backend_unknown_raises_valueerror():
    with pytest.raises(ValueError):
        with keraslite.use_backend("nonexistent"):
            pass


def test_use_backend_is_context_local():
    keraslite.set_backend("numba")
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def worker():
        inside.wait(10)
        seen["other_thread"] = keraslite.get_backend()
        done.set()

    t = threading.Thread(target=worker)
    t.start()
    with keraslite.use_backend("numpy"):
        inside.set()
        done.wait(10)
        seen["main"] = keraslite.get_backend()
    t.join(10)
    assert seen["main"] == "numpy"
    assert seen["other_thread"] == "numba"


# ---------------------------------------------------------------------------------------------
# switching backends with live variables and functions


def test_switch_backend_keeps_variable_values():
    keraslite.set_backend("numpy")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    v = K.variable(a)
    np.testing.assert_allclose(K.eval(v + 1), a + 1)
    K.set_value(v, a * 2)
    keraslite.set_backend("numba")
    np.testing.assert_allclose(K.get_value(v), a * 2)
    np.testing.assert_allclose(K.eval(v * 3), a * 6)
    K.set_value(v, a - 1)
    K.eval(K.update_add(v, np.ones((2, 3))))
    keraslite.set_backend("numpy")
    np.testing.assert_allclose(K.get_value(v), a)
    np.testing.assert_allclose(K.eval(K.sum(v, axis=0)), a.sum(axis=0))


def test_function_follows_active_backend():
    keraslite.set_backend("numpy")
    v = K.variable(np.ones(3))
    p = K.placeholder(shape=(None, 3))
    f = K.function([p], [K.dot(p, K.expand_dims(v, -1))], updates=[K.update_add(v, np.ones(3))])
    a = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(f([a])[0], np.full((2, 1), 3.0))
    keraslite.set_backend("numba")
    np.testing.assert_allclose(f([a])[0], np.full((2, 1), 6.0))
    np.testing.assert_allclose(K.get_value(v), np.full(3, 3.0))
    with keraslite.use_backend("numpy"):
        np.testing.assert_allclose(f([a])[0], np.full((2, 1), 9.0))
    np.testing.assert_allclose(K.get_value(v), np.full(3, 4.0))


# ---------------------------------------------------------------------------------------------
# third-party backends


def _numpy_backend_class():
    try:
        from keraslite_numpy import NumpyBackend
    except ImportError:  # pragma: no cover - layout changed
        pytest.skip("keraslite_numpy.NumpyBackend is not importable")
    return NumpyBackend


def _unregister(name):
    reg = getattr(keraslite.backend, "registry", None) or getattr(keraslite, "_registry", None)
    for attr in ("_factories", "_instances"):
        d = getattr(reg, attr, None)
        if isinstance(d, dict):
            d.pop(name, None)


def test_register_backend_third_party():
    base = _numpy_backend_class()
    calls = {"factory": 0}

    class CountingBackend(base):
        name = "test_k_thirdparty"

    def factory():
        calls["factory"] += 1
        return CountingBackend()

    keraslite.register_backend("test_k_thirdparty", factory)
    try:
        assert "test_k_thirdparty" in keraslite.available_backends()
        keraslite.set_backend("test_k_thirdparty")
        assert _active() == "test_k_thirdparty"
        assert K.backend() == "test_k_thirdparty"
        assert calls["factory"] >= 1
        v = K.variable(np.array([1.0, 2.0]))
        np.testing.assert_allclose(K.eval(v + v), [2.0, 4.0])
        np.testing.assert_allclose(K.eval(K.sum(v * 3.0)), 9.0)
        with keraslite.use_backend("numpy"):
            np.testing.assert_allclose(K.eval(v + 1.0), [2.0, 3.0])
        keraslite.set_backend("numpy")
    finally:
        keraslite.set_backend("numpy")
        _unregister("test_k_thirdparty")


def test_register_backend_unavailable_factory():
    def factory():
        raise keraslite.BackendUnavailableError("this test backend never runs; install nothing")

    keraslite.register_backend("test_k_broken", factory)
    try:
        assert "test_k_broken" not in keraslite.available_backends()
        before = _active()
        with pytest.raises(RuntimeError):
            keraslite.set_backend("test_k_broken")
        assert _active() == before
    finally:
        _unregister("test_k_broken")

"""CuPy installed but unusable (issue 12, item 7): `import keraslite` never fails,
set_backend('cuda') raises BackendUnavailableError with the reason, 'auto' falls back to the CPU.
Each failure is faked with a stand-in `cupy` module."""
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite.backend import registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CUDARuntimeError(RuntimeError):
    """Named like cupy_backends.cuda.api.runtime.CUDARuntimeError."""


def _fake_cupy(device_count=1, count_error=None, device_error=None, extra=None):
    cupy = types.ModuleType("cupy")
    runtime = types.SimpleNamespace()

    def get_device_count():
        if count_error is not None:
            raise count_error
        return device_count

    runtime.getDeviceCount = get_device_count

    class Device:
        def __init__(self, index=0):
            self.index = index

        @property
        def compute_capability(self):
            if device_error is not None:
                raise device_error
            return "90"

    cupy.cuda = types.SimpleNamespace(runtime=runtime, Device=Device)
    for name, value in (extra or {}).items():
        setattr(cupy, name, value)
    return cupy


@pytest.fixture
def fake(monkeypatch, tmp_path):
    saved = keraslite.get_backend()
    monkeypatch.delitem(registry._instances, "cuda", raising=False)  # a real GPU's cached backend

    def install(kind):
        monkeypatch.delitem(sys.modules, "cupy", raising=False)
        if kind == "missing":
            monkeypatch.setitem(sys.modules, "cupy", None)  # import raises ImportError
        elif kind == "import_raises":
            pkg = tmp_path / "cupy"
            pkg.mkdir()
            (pkg / "__init__.py").write_text("raise RuntimeError('CUDA driver version is insufficient for CUDA "
                                             "runtime version')\n")
            monkeypatch.syspath_prepend(str(tmp_path))
        elif kind == "import_oserror":
            pkg = tmp_path / "cupy"
            pkg.mkdir()
            (pkg / "__init__.py").write_text("raise OSError('libcuda.so.1: cannot open shared object file')\n")
            monkeypatch.syspath_prepend(str(tmp_path))
        elif kind == "no_device":
            monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(device_count=0))
        elif kind == "no_driver":
            monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(
                count_error=CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")))
        elif kind == "device_broken":
            monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(
                device_error=CUDARuntimeError("cudaErrorDevicesUnavailable: all CUDA-capable devices are busy")))
        elif kind == "half_working":
            # passes the device checks, then lacks what the backend needs: any start-up failure
            # must come out as BackendUnavailableError
            monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
        elif kind in ("kernel_fails", "wrong_result"):
            class Array:
                def __init__(self, values):
                    self.values = np.asarray(values, dtype="float32")

                def __mul__(self, k):
                    if kind == "kernel_fails":
                        raise RuntimeError("CompileException: nvrtc: error: failed to load builtins")
                    return Array(self.values * k * 0)

                def sum(self):
                    return float(self.values.sum())

            monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(extra={
                "float32": "float32", "arange": lambda n, dtype=None: Array(np.arange(n))}))
        else:  # pragma: no cover
            raise AssertionError(kind)

    yield install
    keraslite.set_backend(saved)


KINDS = {
    "missing": "not installed",
    "import_raises": "CUDA driver version is insufficient",
    "import_oserror": "libcuda.so.1",
    "no_device": "no CUDA device",
    "no_driver": "cudaErrorNoDevice",
    "device_broken": "cudaErrorDevicesUnavailable",
    "half_working": "could not run a kernel",
    "kernel_fails": "could not run a kernel",
    "wrong_result": "instead of 12.0",
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unusable_cupy_gives_backend_unavailable_error(fake, kind):
    fake(kind)
    before = keraslite.get_backend()
    for name in ("cuda", "gpu", "cupy"):
        with pytest.raises(keraslite.BackendUnavailableError) as ei:
            keraslite.set_backend(name)
        assert KINDS[kind] in str(ei.value), str(ei.value)
        assert keraslite.get_backend() == before  # a failed switch changes nothing
        with pytest.raises(keraslite.BackendUnavailableError):
            with keraslite.use_backend(name):
                pass
    assert isinstance(ei.value, RuntimeError)
    assert "cuda" not in keraslite.available_backends()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_auto_falls_back_to_cpu(fake, kind):
    fake(kind)
    assert keraslite.set_backend("auto") == "numba"
    assert keraslite.get_backend() == "numba"
    x = K.variable(np.arange(4.0, dtype="float32"))
    np.testing.assert_allclose(K.eval(K.sum(x * 2.0)), 12.0)


def test_import_keraslite_with_broken_cupy_in_a_fresh_process(tmp_path):
    pkg = tmp_path / "cupy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('libnvrtc.so.12: cannot open shared object file')\n")
    script = textwrap.dedent("""
        import keraslite
        from keraslite import backend as K
        print(keraslite.get_backend())
        try:
            keraslite.set_backend("cuda")
        except keraslite.BackendUnavailableError as e:
            print("unavailable:", e)
        print(float(K.eval(K.sum(K.variable([1.0, 2.0])))))
    """)
    for backend in ("auto", "cpu"):
        env = dict(os.environ, KERASLITE_BACKEND=backend,
                   PYTHONPATH=os.pathsep.join([str(tmp_path), REPO, os.path.join(REPO, "backends")]))
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == "numba"
        assert lines[1].startswith("unavailable:") and "libnvrtc" in lines[1]
        assert lines[2] == "3.0"

"""GPU-only tests: every test here is skipped, with the reason, where no CUDA device answers.

Fixtures: `kbackend` runs a test with the cuda backend active (the conformance tests of tests/,
imported by test_conformance_cuda.py, use it); `cuda` is the CudaBackend object; `cp` is cupy.
tests/ is put on sys.path so its helpers (k_helpers, nn_reference) and test modules import.
"""
import os
import sys

import numpy as np
import pytest

import keraslite
from keraslite.backend import config as _config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPO, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


def _cuda_reason():
    try:
        keraslite.backend.registry.get_backend_object("cuda")
        return None
    except Exception as e:  # CuPy missing, no device, driver too old
        return f"no usable CUDA device: {e}"


_REASON = _cuda_reason()


def pytest_report_header(config):
    if _REASON is not None:
        return f"gpu_tests: every test skipped ({_REASON})"
    import cupy
    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return (f"gpu_tests: cupy {cupy.__version__}, device {dev.id} {name}, compute capability "
            f"{dev.compute_capability}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")


def pytest_collection_modifyitems(config, items):
    if _REASON is None:
        return
    skip = pytest.mark.skip(reason=_REASON)
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        # this hook sees the whole session: skip only what lives in gpu_tests/
        if os.path.abspath(str(item.fspath)).startswith(here + os.sep):
            item.add_marker(skip)


@pytest.fixture
def kbackend():
    """Run the test with the cuda backend active; yields its name."""
    with keraslite.use_backend("cuda"):
        yield "cuda"


@pytest.fixture
def cuda():
    return keraslite.backend.registry.get_backend_object("cuda")


@pytest.fixture
def cp():
    import cupy
    return cupy


@pytest.fixture(autouse=True)
def _restore_config():
    """Tests may change floatx, epsilon, data format or the learning phase: undo it."""
    saved = _config.snapshot()
    yield
    _config.restore(saved)


@pytest.fixture(autouse=True)
def _tf32_off():
    """Every test starts with TF32 off (the default) unless it opts in itself."""
    from keraslite_cuda import settings
    settings.set_tf32(False)
    yield
    settings.set_tf32(None)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

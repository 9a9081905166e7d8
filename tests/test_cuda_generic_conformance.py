"""The K conformance tests of tests/ (test_k_conv, test_k_nn, test_k_math, test_k_gradients and
their split-off modules), run on CudaBackend.emulated(), without CuPy or a GPU.
"""
from __future__ import annotations

import functools

import pytest

import keraslite

from cuda_generic_helpers import _emulated, _registered


# =============================================================================================
# the K conformance tests of tests/, run on CudaBackend.emulated()

_CONFORMANCE_MODULES = ("test_k_conv", "test_k_conv_grad", "test_k_nn", "test_k_nn_grad",
                        "test_k_math", "test_k_math_reductions", "test_k_gradients")


@pytest.fixture
def kbackend():
    """Overrides the conftest's fixture for the imported conformance tests below."""
    b = _emulated("array")  # RawKernels compiled for the host (where there is a compiler); fused
    # chains as array operations (their generated C is checked in one translation unit by
    # tests/test_cuda_generic_fused.py)
    with _registered("cuda_hostsim", b):
        with keraslite.use_backend("cuda_hostsim"):
            yield "cuda_hostsim"


def _fixture_info(obj):
    """(is a fixture, autouse, the plain function) across pytest versions."""
    marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
    if marker is None:
        return False, False, None
    fn = getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", None) or obj
    return True, bool(getattr(marker, "autouse", False)), fn


def _import_conformance():
    """The test functions of the conformance modules under new names, each run on the emulated
    backend; fixtures come along (a module's autouse fixtures only for that module's tests)."""
    import importlib
    out = {}
    for modname in _CONFORMANCE_MODULES:
        try:
            mod = importlib.import_module(modname)
        except Exception:  # a module being rewritten elsewhere must not break this one
            continue
        short = modname[len("test_k_"):]
        uses = ["kbackend"]
        for name, obj in vars(mod).items():
            is_fixture, autouse, fn = _fixture_info(obj)
            if not is_fixture or name == "kbackend":
                continue
            if autouse:
                alias = f"_hostsim_{short}_{name}"
                out[alias] = pytest.fixture(name=alias)(fn)
                uses.append(alias)
            else:
                out.setdefault(name, obj)
        for name, obj in vars(mod).items():
            if name.startswith("test_") and callable(obj) and not isinstance(obj, type) and \
                    getattr(obj, "__module__", None) == mod.__name__:
                wrapped = functools.wraps(obj)(lambda *a, __f=obj, **k: __f(*a, **k))
                out[f"test_hostsim__{short}__{name[len('test_'):]}"] = pytest.mark.usefixtures(*uses)(wrapped)
    return out


globals().update(_import_conformance())

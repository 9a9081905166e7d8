"""The K conformance suite of tests/ on the cuda backend.

Every module of tests/ whose tests use the `kbackend` fixture is imported here and its tests are
collected again under the prefix `test_cuda__<module>__`, with conftest.py's `kbackend` (the cuda
backend) instead of the CPU parametrisation. Each compares keraslite with independent NumPy
formulas, so this checks every K function on the GPU.
"""
import functools
import glob
import importlib
import os

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_TESTS = os.path.join(os.path.dirname(_HERE), "tests")


def _modules():
    out = []
    for path in sorted(glob.glob(os.path.join(_TESTS, "test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if name == "test_cuda_generic":
            continue  # CPU emulation of this backend; nothing to redo on a device
        with open(path, encoding="utf-8") as f:
            if "kbackend" in f.read():
                out.append(name)
    return out


def _fixture_info(obj):
    marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
    if marker is None:
        return False, False, None
    fn = getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", None) or obj
    return True, bool(getattr(marker, "autouse", False)), fn


def _import():
    out = {}
    for modname in _modules():
        try:
            mod = importlib.import_module(modname)
        except Exception as e:  # report, do not hide: one test that fails with the import error
            msg = f"{modname} does not import: {type(e).__name__}: {e}"

            def broken(_msg=msg):
                pytest.fail(_msg)
            out[f"test_cuda__{modname}__imports"] = broken
            continue
        short = modname[len("test_"):]
        uses = ["kbackend"]
        for name, obj in vars(mod).items():
            is_fixture, autouse, fn = _fixture_info(obj)
            if not is_fixture or name in ("kbackend", "rng"):
                continue
            if autouse:
                alias = f"_cuda_{short}_{name}"
                out[alias] = pytest.fixture(name=alias)(fn)
                uses.append(alias)
            else:
                out.setdefault(name, obj)
        for name, obj in vars(mod).items():
            if name.startswith("test_") and callable(obj) and not isinstance(obj, type) and \
                    getattr(obj, "__module__", None) == mod.__name__:
                wrapped = functools.wraps(obj)(lambda *a, __f=obj, **k: __f(*a, **k))
                out[f"test_cuda__{short}__{name[len('test_'):]}"] = pytest.mark.usefixtures(*uses)(wrapped)
    return out


globals().update(_import())

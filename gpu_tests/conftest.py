"""GPU-only tests: every test here is skipped, with the reason, where no CUDA device answers."""
import pytest


def _cuda_reason():
    try:
        import keraslite
        keraslite.backend.registry.get_backend_object("cuda")
        return None
    except Exception as e:  # CuPy missing, no device, driver too old
        return f"no usable CUDA device: {e}"


_REASON = _cuda_reason()


def pytest_collection_modifyitems(config, items):
    if _REASON is None:
        return
    skip = pytest.mark.skip(reason=_REASON)
    for item in items:
        item.add_marker(skip)

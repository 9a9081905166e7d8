"""keraslite: a Keras-2-style deep-learning library with pluggable backends.

`import keraslite as keras` runs Keras 2 code. Computation runs on the backend chosen with
`keraslite.set_backend(name)`: 'numba' (CPU, the default), 'cuda' (CuPy on NVIDIA GPUs) or 'numpy'
(the reference implementation).
"""
__version__ = "0.1.0"

from .backend.registry import (BackendUnavailableError, available_backends, get_backend, register_backend,
                               set_backend, use_backend)
from . import backend, config
from .backend import registry as _registry  # noqa: F401

_SUBMODULES = ("layers", "models", "optimizers", "losses", "metrics", "initializers", "activations",
               "regularizers", "constraints", "callbacks", "utils", "engine", "saving", "preprocessing")


def __getattr__(name):
    # subpackages load on first use, so `import keraslite` stays cheap and compiles nothing
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'keraslite' has no attribute {name!r}")


__all__ = ["__version__", "set_backend", "get_backend", "available_backends", "register_backend",
           "use_backend", "BackendUnavailableError", "backend"]

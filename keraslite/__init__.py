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
               "regularizers", "constraints", "callbacks", "utils", "engine", "saving", "preprocessing",
               "datasets", "applications", "serialization", "wrappers", "testing")
# Keras 2.3's top-level classes: (module, name), imported on first use
_LAZY_NAMES = {"Input": ("keraslite.engine.input_layer", "Input"),
               "Model": ("keraslite.engine.training", "Model"),
               "Sequential": ("keraslite.engine.sequential", "Sequential")}


def __getattr__(name):
    # subpackages and the model classes load on first use, so `import keraslite` stays cheap and
    # compiles nothing
    import importlib
    if name in _LAZY_NAMES:
        module, attr = _LAZY_NAMES[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'keraslite' has no attribute {name!r}") from None
    raise AttributeError(f"module 'keraslite' has no attribute {name!r}")


def __dir__():
    import importlib.util
    present = {name for name in _SUBMODULES if importlib.util.find_spec(f"{__name__}.{name}") is not None}
    return sorted(set(globals()) | present | set(_LAZY_NAMES))


__all__ = ["__version__", "set_backend", "get_backend", "available_backends", "register_backend",
           "use_backend", "BackendUnavailableError", "backend", "Input", "Model", "Sequential"]

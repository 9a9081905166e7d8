"""Backend registry: discovery through the `keraslite.backends` entry-point group, selection by
name or alias, a process-wide default and a context-local override (`use_backend`)."""
from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from typing import Callable, Iterator

ENTRY_POINT_GROUP = "keraslite.backends"

ALIASES = {"cpu": "numba", "gpu": "cuda", "cupy": "cuda"}

# Built-in backends are importable even when the distribution's entry points are not installed
# (e.g. running from a source tree with PYTHONPATH set).
_BUILTIN = {
    "numpy": "keraslite_numpy:NumpyBackend",
    "numba": "keraslite_numba:NumbaBackend",
    "cuda": "keraslite_cuda:CudaBackend",
}


class BackendUnavailableError(RuntimeError):
    """A known backend cannot run on this machine; the message says why and how to fix it."""


_factories: dict[str, Callable] = {}
_instances: dict[str, object] = {}
_discovered = False
_default_name: str | None = None
_override: contextvars.ContextVar = contextvars.ContextVar("keraslite_backend", default=None)


def _load_ref(ref: str) -> Callable:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for name, ref in _BUILTIN.items():
        _factories.setdefault(name, (lambda r=ref: _load_ref(r)()))
    try:
        from importlib.metadata import entry_points
        eps = entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # broken metadata must not stop the built-ins from working
        eps = []
    for ep in eps:
        if ep.name not in _BUILTIN:
            _factories[ep.name] = (lambda e=ep: e.load()())


def register_backend(name: str, factory: Callable, aliases: tuple = ()) -> None:
    """register_backend(name, factory, aliases=()): make a backend selectable by name.

    `factory()` returns the backend object (a Backend subclass instance); it is called once, on
    first use, and may raise BackendUnavailableError."""
    _discover()
    _factories[name] = factory
    _instances.pop(name, None)
    for a in aliases:
        ALIASES[a] = name


def known_backends() -> list[str]:
    _discover()
    return sorted(_factories)


def resolve_name(name: str) -> str:
    """Map an alias or 'auto' to a registered backend name; ValueError for unknown names."""
    _discover()
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {name!r}")
    key = name.strip().lower()
    if key == "auto":
        return "cuda" if _usable("cuda") else "numba"
    key = ALIASES.get(key, key)
    if key not in _factories:
        names = ", ".join(known_backends() + sorted(ALIASES) + ["auto"])
        raise ValueError(f"unknown backend {name!r}; known backends and aliases: {names}")
    return key


def _instance(name: str):
    if name not in _instances:
        try:
            backend = _factories[name]()
        except BackendUnavailableError:
            raise
        except Exception as e:
            # A backend that cannot start (a broken CuPy or driver raising its own errors, a
            # missing module) is unavailable, with the reason, never a bare error from deep inside.
            raise BackendUnavailableError(f"the {name!r} backend cannot run here: {type(e).__name__}: {e}") from e
        _instances[name] = backend
    return _instances[name]


def _usable(name: str) -> bool:
    try:
        _instance(name)
        return True
    except Exception:
        return False


def available_backends() -> list[str]:
    """available_backends(): names of the registered backends that can run on this machine."""
    return [n for n in known_backends() if _usable(n)]


def get_backend_object(name: str | None = None):
    """The backend object for `name` (default: the active one); raises if it cannot run here."""
    return _instance(resolve_name(name) if name else active_name())


def active_name() -> str:
    override = _override.get()
    if override is not None:
        return override
    global _default_name
    if _default_name is None:
        _default_name = resolve_name(os.environ.get("KERASLITE_BACKEND", "numba") or "numba")
    return _default_name


def set_backend(name: str) -> str:
    """set_backend(name): make `name` ('numba'/'cpu', 'cuda'/'gpu'/'cupy', 'numpy', 'auto', or a
    registered third-party name) the active backend for the process. Returns the resolved name.
    Raises ValueError for an unknown name, BackendUnavailableError when it cannot run here."""
    global _default_name
    resolved = resolve_name(name)
    _instance(resolved)  # fail now, clearly, rather than at the first computation
    _default_name = resolved
    return resolved


def get_backend() -> str:
    """get_backend(): the name of the active backend."""
    return active_name()


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """with use_backend(name): switch backends for a block (context-local: threads and asyncio
    tasks are not disturbed)."""
    resolved = resolve_name(name)
    _instance(resolved)
    token = _override.set(resolved)
    try:
        yield resolved
    finally:
        _override.reset(token)

"""Numba's disk cache for the kernels of kernels/: stale whenever any kernel source changes.

Numba marks a cached function stale when its own source file changes. A kernel of kernels/ also
inlines intrinsics and helpers from other files of the folder (the Winograd kernels the
microkernel of conv_kernels.py, every kernel the register-tile helpers): an edit there would
leave it loading the old machine code. So for functions defined in kernels/ the locator below
adds a digest of every source file of the folder to the source stamp Numba keeps in its index:
any edit there makes every kernel recompile, as a change of Numba or of the CPU does.

`install()` puts it first in Numba's list of cache locators (functions elsewhere, e.g. the
generated fused kernels in the cache folder, fall through to Numba's own); twins.py calls it
before any kernel module defines a cached kernel.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from numba.core import caching

KERNELS_DIR = Path(__file__).resolve().parent / "kernels"


@functools.lru_cache(maxsize=None)
def sources_digest() -> str:
    """sha1 over the names and contents of kernels/*.py (read once per process)."""
    h = hashlib.sha1()
    for path in sorted(KERNELS_DIR.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


class KernelSourcesLocator(caching._CacheLocator):
    """Numba's own locator for the file (user cache dir, in-tree or user-wide), with the folder's
    digest in the source stamp."""

    def __init__(self, inner):
        self._inner = inner

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            if Path(py_file).resolve().parent != KERNELS_DIR:
                return None
        except OSError:
            return None
        for base in caching.CacheImpl._locator_classes:
            if base is cls:
                continue
            inner = base.from_function(py_func, py_file)
            if inner is not None:
                return cls(inner)
        return None

    def ensure_cache_path(self):
        self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return self._inner.get_source_stamp(), sources_digest()

    def get_disambiguator(self):
        return self._inner.get_disambiguator()


def install() -> None:
    """Put the locator first in Numba's list (once)."""
    classes = caching.CacheImpl._locator_classes
    if KernelSourcesLocator not in classes:
        classes.insert(0, KernelSourcesLocator)

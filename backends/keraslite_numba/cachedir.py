"""Where keraslite keeps its CPU kernel files: the generated kernel sources (and Numba's caches
next to them) and the compile workers' markers and locks (coldstart.py); importing a generated
kernel file (fused.py writes them, compile workers compile them)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """$KERASLITE_CACHE_DIR/numba-kernels, else $XDG_CACHE_HOME (or ~/.cache)/keraslite/numba-kernels;
    made if missing."""
    root = os.environ.get("KERASLITE_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "keraslite"
    d = base / "numba-kernels"
    d.mkdir(parents=True, exist_ok=True)
    return d


def import_generated(path: Path):
    """The generated kernel module in file `path`, imported once per process under a name made
    from the file's (its prefix and digest)."""
    name = f"keraslite_{Path(path).stem}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module

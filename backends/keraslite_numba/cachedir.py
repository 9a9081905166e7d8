"""Where keraslite keeps its CPU kernel files: the generated kernel sources (and Numba's caches
next to them) and the compile workers' markers and locks (coldstart.py)."""
from __future__ import annotations

import os
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

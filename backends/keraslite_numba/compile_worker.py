"""The compile worker's entry point: `python -m keraslite_numba.compile_worker <family keys>`.

coldstart.py starts these processes; each compiles the named kernel families (warmup.RECIPES)
into Numba's disk cache, skipping those another process has done or is doing (coldstart's markers
and locks). It lives apart from warmup.py and coldstart.py so that neither imports the other's
caller (coldstart imports warmup; this module imports both)."""
from __future__ import annotations

import sys

from . import coldstart
from .warmup import RECIPES, compile_family


def main(argv=None) -> int:
    """Worker entry: compile the named families, skipping those another process has done or is
    doing (coldstart.py's markers and locks)."""
    keys = list(sys.argv[1:] if argv is None else argv)
    for key in keys:
        family, _, char = key.rpartition("-")
        if family not in RECIPES or char not in ("f", "d"):
            print(f"keraslite_numba.warmup: unknown kernel family {key!r}", file=sys.stderr)
            return 2
    for key in keys:
        coldstart.compile_unless_done(key, compile_family)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The register tile of the convolution microkernels (conv.py), chosen from the CPU's vector
instruction set. Importing this module costs nothing: coldstart.py reads the tile at plan time
(a Dense layer's product takes the microkernel when it fills a tile's columns) without importing
Numba's kernels.

With AVX-512 (32 zmm registers) the tile is 9 output rows x 32 columns in <16 x float>: fastest
on the tutorial's convolutions (2026-12-01, bench/kernels.py: 6x32 -10..20%, 12x32 mixed;
2026-12-07: 12x32, 14x32, 6x48, 8x48 and 4x64 all slower); 9 also divides 3x3 filters'
kh*kw*Cin (the backprop-filter tiles). With AVX2 only (16 ymm registers) 6x16 in <8 x float>:
12 accumulators, two B vectors and a broadcast fit without spills. On the tutorial's five
convolutions compiled for AVX2 (NUMBA_CPU_NAME=haswell, AVX-512 features off, on the AVX-512
machine; sum of minima, 2026-12-07): 3x32 (the former tile, whose 17 live vectors spill)
16.5 ms, 6x16 8.2-9.6, 5x16 8.4-8.6, 4x16 10.6, 4x24 12.4, 3x24 13.5, 7x16 18.4. float64 runs
the same tile in half as many lanes (spilling on AVX2: slower, still correct).
"""
from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=None)
def has_avx512() -> bool:
    """Whether Numba compiles for AVX-512F: NUMBA_CPU_FEATURES when set (Numba's target then),
    else the host CPU."""
    feats = os.environ.get("NUMBA_CPU_FEATURES", "").strip()
    if feats:
        return "+avx512f" in feats.split(",")
    try:
        from llvmlite import binding as ll
        return bool(ll.get_host_cpu_features().get("avx512f", False))
    except Exception:  # pragma: no cover - feature query unavailable
        return False


def tile() -> tuple[int, int, int]:
    """(MR, NR, float32 lanes per vector) of the microkernels on this CPU."""
    return (9, 32, 16) if has_avx512() else (6, 16, 8)

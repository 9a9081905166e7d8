"""Compile the CPU backend's kernels into the disk cache without running a model.

Each kernel family (the Numba kernels behind one kind of op, for one dtype) has a recipe that
calls the op on tiny arrays: a Numba signature depends on the argument types only, never on
shapes, so this compiles exactly what a real call needs (tests/test_coldstart.py checks it).

    python -m keraslite_numba.compile_worker conv_fwd-f bn_fwd-f ...   (what coldstart.py's workers run)
    python -m keraslite.warmup [--float64]                     (every family, for users)
"""
from __future__ import annotations


import numpy as np


def _conv_fwd(dt):
    from .kernels import conv
    conv.conv2d(np.ones((1, 3, 3, 2), dt), np.ones((1, 1, 2, 2), dt))


def _conv_wino(dt):
    from .kernels import conv
    # the kernel directly (conv2d sends float32 only), its edge and interior tiles
    conv._winograd(np.ones((1, 6, 6, 16), dt), np.ones((3, 3, 16, 16), dt), 1, 1, np.empty((1, 6, 6, 16), dt), None)


def _conv_wgrad(dt):
    from .kernels import conv
    conv._winograd_filter(np.ones((1, 6, 6, 16), dt), np.ones((1, 6, 6, 16), dt), 1, 1, np.empty((3, 3, 16, 16), dt))


def _conv_pool(dt):
    from .kernels import conv_pool
    conv_pool.conv2d_maxpool(np.ones((1, 4, 4, 2), dt), np.ones((2, 2, 2, 2), dt), (1, 1), (1, 1), (2, 2), (1, 1),
                             relu=True)


def _col2im(dt):
    from .kernels import conv
    cols = np.zeros((1, 2, 2, 2), dt)
    conv._col2im(cols, 1, 1, 1, 1, 1, 1, 0, 0, np.zeros((1, 2, 2, 2), dt))


def _conv_bwd_filter(dt):
    from .kernels import conv
    conv.conv2d_backprop_filter(np.ones((1, 3, 3, 2), dt), np.ones((1, 3, 3, 2), dt), (1, 1, 2, 2))


def _max_fwd(dt):
    from .kernels import pool
    pool.max_pool2d(np.ones((1, 2, 2, 1), dt), (2, 2), (2, 2))


def _max_bwd(dt):
    from .kernels import pool
    x = np.ones((1, 2, 2, 1), dt)
    y = np.ones((1, 1, 1, 1), dt)
    pool.max_pool2d_backprop(x, y, y, (2, 2), (2, 2))


def _avg_fwd(dt):
    from .kernels import pool
    pool.avg_pool2d(np.ones((1, 2, 2, 1), dt), (2, 2), (2, 2))


def _avg_bwd(dt):
    from .kernels import pool
    pool.avg_pool2d_backprop(np.ones((1, 1, 1, 1), dt), (1, 2, 2, 1), (2, 2), (2, 2))


def _bn_fwd(dt):
    from .kernels import batchnorm
    one = np.ones((1, 2), dt)
    batchnorm.batchnorm_train_forward(np.ones((2, 2), dt), one, one, (0,), 1e-3)


def _bn_bwd(dt):
    from .kernels import batchnorm
    x = np.ones((2, 2), dt)
    one = np.ones((1, 2), dt)
    batchnorm.batchnorm_train_backward(x, one, one, one, x, one, one, (0,), 1e-3)


def _gemm_split(dt):
    from .kernels import gemm
    fns = gemm._load()
    if not fns:  # no SciPy BLAS: matmul never calls the kernel
        return
    a = np.ones((2, 2), dt)
    c = np.empty((2, 2), dt)
    params = np.full(6, 2, np.int32)
    # tanh's code (3): the serial stand-in compiles _block for sigmoid and tanh only (same signature)
    gemm._gemm_split(fns[np.dtype(dt)], a.ctypes.data, a.strides[0], a.ctypes.data, a.strides[1], c,
                     gemm._NO_BIAS[np.dtype(dt)], 3, 2, 1, params, np.array((ord("N"), ord("N")), np.uint8), np.array((1, 0), dt))


def _conv_pack(dt):
    from .kernels import conv_pack
    conv_pack._pack(np.ones((1, 1, 1, 1), dt), 1, False, 1, np.zeros((1, 1, 1), dt))


RECIPES = {"conv_fwd": _conv_fwd, "conv_wino": _conv_wino, "conv_wgrad": _conv_wgrad, "conv_pack": _conv_pack,
           "col2im": _col2im, "conv_pool": _conv_pool,
           "conv_bwd_filter": _conv_bwd_filter,
           "max_fwd": _max_fwd, "max_bwd": _max_bwd, "avg_fwd": _avg_fwd, "avg_bwd": _avg_bwd,
           "bn_fwd": _bn_fwd, "bn_bwd": _bn_bwd, "gemm_split": _gemm_split}


# family -> (kernels module, its twins.Twin): how a process tells that a family's kernel
# (parallel, or its serial twin) is compiled or loaded from the cache for a dtype
KERNELS = {"conv_fwd": ("conv_kernels", "_fwd_kernel"), "conv_wino": ("conv", "_wino_kernel"),
           "conv_wgrad": ("conv", "_wino_filter_kernel"), "conv_pool": ("conv_pool", "_conv_pool_kernel"),
           "conv_pack": ("conv_pack", "_pack"), "col2im": ("conv_col2im", "_col2im"),
           "conv_bwd_filter": ("conv_kernels", "_bwd_filter_kernel"), "max_fwd": ("pool", "_max_fwd"),
           "max_bwd": ("pool", "_max_bwd"), "avg_fwd": ("pool", "_avg_fwd"), "avg_bwd": ("pool", "_avg_bwd"),
           "bn_fwd": ("batchnorm", "_bn_fwd"), "bn_bwd": ("batchnorm", "_bn_bwd"), "gemm_split": ("gemm", "_gemm_split")}


def parse(key: str):
    """(family, dtype char, serial) of a key: "<family>-<dtype char>" names the parallel kernel
    (e.g. "conv_fwd-f", float32), "<family>-<dtype char>s" its serial twin ("conv_fwd-fs")."""
    family, _, rest = key.rpartition("-")
    if family not in RECIPES or rest not in ("f", "d", "fs", "ds"):
        raise ValueError(f"keraslite_numba.warmup: unknown kernel family {key!r}; known: "
                         f"{sorted(RECIPES)} with suffix -f (float32) or -d (float64), plus s for the serial twin")
    return family, rest[0], rest == rest[0] + "s"


def twin_of(family: str):
    """The twins.Twin of `family` (its kernels module is imported)."""
    import importlib
    module, name = KERNELS[family]
    return getattr(importlib.import_module(f"keraslite_numba.kernels.{module}"), name)


def compiled(key: str) -> bool:
    """True when this process holds the kernel of `key` (compiled here or loaded from the
    cache): the signature's array argument (Twin.arg) has the key's dtype."""
    family, char, serial = parse(key)
    return twin_of(family).holds(serial, char)


def compile_family(key: str) -> None:
    """Compile the kernel of one key (see parse), by running its recipe on tiny arrays."""
    from . import twins
    family, char, serial = parse(key)
    with twins.only("seq" if serial else "par"):
        RECIPES[family](np.dtype(char))


def all_keys(dtypes=("f",), serial: bool = False) -> list[str]:
    """Every parallel family key for the given dtype chars (and the serial twins' if asked)."""
    return [f"{f}-{c}{s}" for s in ("", "s")[:1 + serial] for c in dtypes for f in RECIPES]

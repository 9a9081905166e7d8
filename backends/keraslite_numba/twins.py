"""Serial twins of the parallel Numba kernels, for the first run on a CPU (coldstart.py).

A `parallel=True` kernel costs 3-4x the compile time of the same loops compiled serial. Every
parallel kernel of kernels/ loops `prange` over independent blocks, or over an explicit number
of chunks (chosen by its Python wrapper) whose partial results are summed afterwards, with
fastmath off and explicit FMAs: compiled serial (Numba's `prange` is then a plain `range`), the
same source computes bit for bit the same results, on one thread (tests/test_coldstart_twins.py
checks it for every family). So while the parallel kernel is not in the disk cache yet, a call
runs the serial twin, and a compile worker builds the parallel kernel meanwhile.

`twin(family)` wraps a parallel dispatcher into a `Twin`: calling it runs the kernel coldstart.py
chose for the dtype of the array argument `arg` (fixed once the parallel kernel is chosen).
"""
from __future__ import annotations

import contextlib
import types

import numpy as np
from numba import njit

from . import coldstart, kernel_cache

# before any kernel module (each imports this one) defines a cached kernel
kernel_cache.install()

_forced = None  # "par" or "seq" inside `only()`: warmup recipes compile one variant


def serial_twin(dispatcher):
    """The dispatcher's Python function compiled serial, under the name `<name>_serial`: Numba
    names its disk cache files by the function's qualified name and does not record the
    parallel flag in the index, so the two variants must not share a name."""
    f = dispatcher.py_func
    name = f"{f.__name__}_serial"
    g = types.FunctionType(f.__code__.replace(co_name=name, co_qualname=name), f.__globals__, name,
                           f.__defaults__, f.__closure__)
    g.__qualname__, g.__module__, g.__doc__ = name, f.__module__, f.__doc__
    opts = {k: v for k, v in dispatcher.targetoptions.items() if k not in ("parallel", "nopython")}
    return njit(cache=True, **opts)(g)


class Twin:
    """A parallel kernel (`par`) and its serial twin (`seq`), called as one function."""

    __slots__ = ("family", "par", "seq", "arg", "chosen", "seq_kernel")

    def __init__(self, family: str, par, arg: int = 0, seq=None, seq_kernel=None):
        """`seq`: a serial stand-in of its own (default: serial_twin(par)); then `seq_kernel` is
        the dispatcher it compiles, whose argument `arg` has the dtype, or None when it compiles
        nothing (NumPy code)."""
        self.family, self.par, self.arg = family, par, arg
        self.seq = serial_twin(par) if seq is None else seq
        self.seq_kernel = self.seq if seq is None else seq_kernel
        self.chosen: dict = {}  # dtype char -> the kernel every later call runs

    def __call__(self, *args):
        if _forced is not None:
            return (self.seq if _forced == "seq" else self.par)(*args)
        kernel = self.chosen.get(args[self.arg].dtype.char)
        if kernel is None:
            return coldstart.run_twin(self, args)
        return kernel(*args)

    def variant(self, serial: bool):
        return self.seq if serial else self.par

    def holds(self, serial: bool, char: str) -> bool:
        """Whether the variant is compiled (or loaded) in this process for dtype `char`: the
        array argument `arg` of one of its signatures has that dtype."""
        want = np.dtype(char).name
        kernel = self.seq_kernel if serial else self.par
        if kernel is None:  # a NumPy stand-in: nothing to compile
            return True
        return any(str(getattr(sig[self.arg], "dtype", "")) == want for sig in kernel.signatures)


def twin(family: str, arg: int = 0, seq=None, seq_kernel=None):
    """Decorator over an `njit(parallel=True, cache=True)` kernel: a Twin of kernel family
    `family` (warmup.KERNELS), whose dtype is that of argument `arg`."""
    return lambda par: Twin(family, par, arg, seq, seq_kernel)


@contextlib.contextmanager
def only(variant: str):
    """Every Twin call inside runs `variant` ("par" or "seq"): a worker compiling one of them."""
    global _forced
    old, _forced = _forced, variant
    try:
        yield
    finally:
        _forced = old

"""Seeded random numbers on the array module's device (cupy.random.RandomState on the GPU,
numpy.random.RandomState under NumPy). One generator per random node: the seed fixes the whole
sequence of draws, and every evaluation draws anew."""
from __future__ import annotations

import numpy as np


class SeededRandom:
    def __init__(self, xp, seed):
        self.xp = xp
        self.seed = int(seed)
        self.state = xp.random.RandomState(self.seed % (2 ** 32))
        self._on_numpy = xp is np

    def _float(self, dtype):
        return np.float32 if np.dtype(dtype) == np.float32 else np.float64

    def uniform(self, low, high, shape, dtype):
        shape = tuple(int(d) for d in shape)
        if self._on_numpy:
            out = self.state.uniform(low, high, shape)
        else:
            out = self.state.uniform(low, high, shape, dtype=self._float(dtype))
        return out.astype(dtype, copy=False)

    def standard_normal(self, shape, dtype):
        shape = tuple(int(d) for d in shape)
        if self._on_numpy:
            return self.state.standard_normal(shape).astype(self._float(dtype), copy=False)
        return self.state.standard_normal(shape, dtype=self._float(dtype))

    def normal(self, mean, stddev, shape, dtype):
        z = self.standard_normal(shape, dtype)
        return (z * stddev + mean).astype(dtype, copy=False)

    def truncated_normal(self, mean, stddev, shape, dtype):
        """Normal samples redrawn while more than two standard deviations from the mean."""
        z = self.standard_normal(shape, dtype)
        bad = self.xp.abs(z) > 2
        while True:
            nbad = int(bad.sum())   # one scalar read per round; about 4.6% are redrawn each round
            if not nbad:
                break
            z[bad] = self.standard_normal((nbad,), dtype)
            bad = self.xp.abs(z) > 2
        return (z * stddev + mean).astype(dtype, copy=False)

"""Shared helpers of tests/test_k_math.py and tests/test_k_math_reductions.py: shapes and seeded
data.
"""
import numpy as np


SHAPES = [(5,), (2, 3), (2, 3, 4)]


def _data(shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)

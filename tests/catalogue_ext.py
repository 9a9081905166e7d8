"""A scalar function for the Numba target of a test-registered catalogue op
(tests/test_elementwise_catalogue.py): what a third party writes for a new function."""
import numpy as np
from numba import types
from numba.extending import overload


def softsign_s(x):
    """x / (|x| + 1)."""
    return x / (abs(x) + 1)


@overload(softsign_s, inline="always")
def _softsign_s(x):
    # the constant takes x's float type: float32 stays float32
    one = np.dtype(str(x)).type(1) if isinstance(x, types.Float) else 1.0

    def impl(x):
        return x / (abs(x) + one)
    return impl

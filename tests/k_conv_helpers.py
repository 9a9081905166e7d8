"""Shared helpers of tests/test_k_conv.py and tests/test_k_conv_grad.py: tolerances, seeded data and
the check of one op through variables and placeholders against a reference.
"""
import numpy as np

from k_helpers import check_modes, raises_value_error, uniform


RTOL, ATOL = 1e-5, 1e-5  # float32 results of small sums of O(1) products


_r = uniform


def _distinct(shape, seed=0):
    """Values far apart (0.05 step) in random order: max-pool FD never changes the argmax."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.05 - n * 0.025)


def check(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL, atol=ATOL,
          modes=("variable", "placeholder"), exact_static=True):
    """kfn(*tensors) == want in every mode (k_helpers.check_modes); dtype follows the inputs."""
    return check_modes(kfn, want, arrays, none_axes, static_none, rtol, atol, modes, exact_static=exact_static)


def _xshape(nhwc, data_format):
    n, h, w, c = nhwc
    return (n, c, h, w) if data_format == "channels_first" else (n, h, w, c)


_raises_value_error = raises_value_error

"""Shared helpers of tests/test_k_conv.py and tests/test_k_conv_grad.py: tolerances, seeded data and
the check of one op through variables and placeholders against a reference.
"""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import eval_modes


RTOL, ATOL = 1e-5, 1e-5  # float32 results of small sums of O(1) products


def _r(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _distinct(shape, seed=0):
    """Values far apart (0.05 step) in random order: max-pool FD never changes the argmax."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.05 - n * 0.025)


def check(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL, atol=ATOL,
          modes=("variable", "placeholder"), exact_static=True):
    """kfn(*tensors) == want in every mode; dtype follows the (float) inputs; int_shape equals
    the evaluated shape, with None at `static_none` in placeholder mode."""
    want = np.asarray(want)
    dtype = np.asarray(arrays[0]).dtype
    res = eval_modes(kfn, arrays, modes=modes, none_axes=none_axes)
    for mode, (val, static) in res.items():
        val = np.asarray(val)
        assert val.shape == want.shape, f"[{mode}] shape {val.shape} != {want.shape}"
        assert val.dtype == dtype, f"[{mode}] dtype {val.dtype} != {dtype}"
        np.testing.assert_allclose(val.astype(np.float64), want, rtol=rtol, atol=atol,
                                   err_msg=f"[{mode}]")
        assert static is not None, f"[{mode}] int_shape is None"
        static = tuple(static)
        if mode == "placeholder":
            exp = tuple(None if i in static_none else d for i, d in enumerate(want.shape))
            if exact_static:
                assert static == exp, f"[{mode}] int_shape {static} != {exp}"
            else:
                assert len(static) == len(exp) and all(
                    s is None or s == d for s, d in zip(static, want.shape)), \
                    f"[{mode}] int_shape {static} incompatible with {want.shape}"
        else:
            assert static == want.shape, f"[{mode}] int_shape {static} != {want.shape}"
    return res


def _xshape(nhwc, data_format):
    n, h, w, c = nhwc
    return (n, c, h, w) if data_format == "channels_first" else (n, h, w, c)


def _raises_value_error(thunk):
    """The error may come when the op is built or when it is evaluated."""
    with pytest.raises(ValueError):
        K.eval(thunk())

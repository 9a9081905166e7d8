"""Shared helpers of tests/test_k_nn.py and tests/test_k_nn_grad.py: tolerances, seeded data and
the check of one op through variables and placeholders against a reference.
"""
import numpy as np

from keraslite import backend as K
import nn_reference as R
from k_helpers import check_modes, raises_value_error, uniform


RTOL, ATOL = 1e-5, 1e-6


_r = uniform


def _away_from(x, points, margin=0.05):
    """Move entries of x within `margin` of a kink point away from it (FD stays on one side)."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        close = np.abs(x - p) < margin
        x[close] = p + margin * np.where(x[close] >= p, 2.0, -2.0)
    return x


def check(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL, atol=ATOL,
          modes=("variable", "placeholder"), dtype="input"):
    """kfn(*tensors) == want in every mode (k_helpers.check_modes); dtype follows the first input
    (or `dtype`)."""
    return check_modes(kfn, want, arrays, none_axes, static_none, rtol, atol, modes, dtype=dtype)


_raises_value_error = raises_value_error


RELU_CASES = [  # Keras' 11 combinations: (alpha, max_value, threshold)
    (0.0, None, 0.0), (0.1, None, 0.0), (0.0, 5.0, 0.0), (0.0, None, 0.8), (0.1, 5.0, 0.0),
    (0.1, None, 0.8), (0.0, 5.0, 0.8), (0.1, 5.0, 0.8), (0.1, 0.0, 0.8), (0.1, 5.0, -2.8),
    (0.1, 9.0, 0.8),
]
ACTIVATIONS = {
    "elu": (lambda t: K.elu(t), R.elu),
    "elu_alpha": (lambda t: K.elu(t, alpha=0.5), lambda x: R.elu(x, 0.5)),
    "selu": (lambda t: K.selu(t), R.selu),
    "softplus": (lambda t: K.softplus(t), R.softplus),
    "softsign": (lambda t: K.softsign(t), R.softsign),
    "sigmoid": (lambda t: K.sigmoid(t), R.sigmoid),
    "hard_sigmoid": (lambda t: K.hard_sigmoid(t), R.hard_sigmoid),
    "tanh": (lambda t: K.tanh(t), np.tanh),
}
def _onehot(n, c, seed):
    idx = np.random.default_rng(seed).integers(0, c, size=n)
    return np.eye(c, dtype="float32")[idx]

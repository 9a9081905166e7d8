"""Shared helpers of tests/test_optimizers.py and tests/test_optimizers_api.py: the tiny linear
model, its data and its gradient by hand, tolerances and the model builder.
"""
import numpy as np

from keraslite import backend as K


RTOL, ATOL = 1e-10, 1e-13
EPS = 1e-7  # K.epsilon() default, which epsilon=None resolves to

# ---------------------------------------------------------------------------------------------
# the model, its data and its gradient (by hand)

_rng = np.random.default_rng(20240611)
W0 = _rng.standard_normal((3, 2))
B0 = _rng.standard_normal(2) * 0.1
# three batches; the later ones are scaled down so gradients shrink (this exercises amsgrad's
# running maximum and makes value clipping bite unevenly)
BATCHES = []
for k, scale in enumerate((1.0, 0.3, 0.05)):
    xb = _rng.standard_normal((5, 3)) * (1 + k)
    yb = _rng.standard_normal((5, 2))
    BATCHES.append((xb * scale, yb * scale))


def np_loss_and_grads(w, b, x, y):
    r = x @ w + b - y
    loss = np.mean(r ** 2)
    dr = 2.0 * r / r.size
    return loss, [x.T @ dr, dr.sum(axis=0)]


def _close(got, want, what):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL, err_msg=what)


def _model(constraint=None, dtype=None):
    w = K.variable(W0, dtype=dtype, constraint=constraint)
    b = K.variable(B0, dtype=dtype)
    x = K.placeholder(shape=(None, 3), dtype=dtype)
    y = K.placeholder(shape=(None, 2), dtype=dtype)
    loss = K.mean(K.square(K.dot(x, w) + b - y))
    return w, b, x, y, loss

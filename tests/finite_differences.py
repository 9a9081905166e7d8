"""Central finite differences: the independent check of K.gradients in the layer gradient tests
(recurrent, cuDNN and convolutional recurrent layers)."""
from __future__ import annotations

import numpy as np

from keraslite import backend as K


def central_difference(f, base, eps=1e-6):
    """d f / d base by central differences, f a scalar function of an array shaped like `base`."""
    g = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        for sign in (1, -1):
            v = base.copy()
            v[idx] += sign * eps
            g[idx] += sign * f(v)
    return g / (2 * eps)


def assert_gradients_match_finite_differences(inp, loss, params, x, eps=1e-6, rtol=1e-6, atol=1e-8):
    """K.gradients of the scalar tensor `loss` with respect to each weight in `params` and to the
    Input `inp`, at the input value `x`, equal central differences of `loss` (each weight is set
    back to its value afterwards)."""
    got = K.function([inp], K.gradients(loss, list(params) + [inp]))([x])
    f_loss = K.function([inp], [loss])
    for p, g in zip(params, got):
        base = K.get_value(p).copy()

        def loss_at(v, p=p):
            K.set_value(p, v)
            return f_loss([x])[0]
        want = central_difference(loss_at, base, eps)
        K.set_value(p, base)
        np.testing.assert_allclose(g, want, rtol=rtol, atol=atol)
    np.testing.assert_allclose(got[-1], central_difference(lambda v: f_loss([v])[0], x, eps), rtol=rtol, atol=atol)

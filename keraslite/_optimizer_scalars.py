"""The scalar hyper-parameter expressions of one optimizer step, built once per dtype.

Every variable of a dtype reads the same scalar nodes (the learning rate, beta_1, 1 - beta_1, ...
cast to the variable's dtype), so no scalar expression is recomputed per variable, and the
per-variable update chains are instances of one elementwise program over shared inputs, which
the compiler runs as one batched kernel (keraslite/backend/batching.py).
"""
from __future__ import annotations

from . import backend as K


def per_dtype(cache: dict, p, **scalars) -> dict:
    """{name: scalar in p's dtype} for the step, from `cache` (one dict per dtype, filled on the
    first variable of that dtype); `scalars`: name -> tensor or Python number."""
    dt = K.dtype(p)
    found = cache.get(dt)
    if found is None:
        found = cache[dt] = {name: _as(x, dt) for name, x in scalars.items()}
    return found


def with_moments(h: dict) -> dict:
    """`h` (a per_dtype dict holding b1 and b2) with 1 - beta_1 and 1 - beta_2 added once."""
    if "one_minus_b1" not in h:
        h["one_minus_b1"] = 1.0 - h["b1"]
        h["one_minus_b2"] = 1.0 - h["b2"]
    return h


def _as(x, dtype: str):
    # a float32 parameter is updated with float32 arithmetic even when the hyper-parameters
    # were created under another floatx (as Optimizer._as)
    if isinstance(x, K.Tensor) and K.dtype(x) != dtype:
        return K.cast(x, dtype)
    return x

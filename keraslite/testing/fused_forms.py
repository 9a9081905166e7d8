"""Fused forms: op patterns a backend may run as one kernel (declared through `fold` or elementwise
fusion; see keraslite/backend/compiler.py). Each form is checked three ways on a backend: the
compiled plan (fusion on) against the NumPy formula, the plan with fusion off against the same
formula, and whether the backend actually took the fused kernel (reported, not required: a
backend may leave a pattern unfused)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import references as R
from .checks import assert_close, build, evaluate
from .opinfo import OpInfo, Sample, uniform


@dataclass
class FusedForm:
    """A pattern: `row` builds and defines it; `marker` is a substring of the fused step's name
    in Plan.kernels() (e.g. 'conv+add' for a fold, 'fused[' for an elementwise group)."""

    row: OpInfo
    marker: str


def _K():
    from .. import backend as K
    return K


def _conv_bias(x, k, b):
    K = _K()
    return K.bias_add(K.conv2d(x, k, padding="valid", data_format="channels_last"), b, data_format="channels_last")


def _conv_bias_ref(x, k, b):
    return R.conv2d(x, k, padding="valid", data_format="channels_last") + b


def _conv_bias_samples(rng, dtype):
    return [Sample((uniform(rng, (2, 5, 5, 3), dtype), uniform(rng, (3, 3, 3, 4), dtype), uniform(rng, (4,), dtype))),
            Sample((uniform(rng, (1, 3, 4, 1), dtype), uniform(rng, (1, 2, 1, 2), dtype), uniform(rng, (2,), dtype)))]


def _gemm_epilogue(x, w, b):
    K = _K()
    return K.relu(K.dot(x, w) + b)


def _gemm_epilogue_ref(x, w, b):
    return np.maximum(np.asarray(x, np.float64) @ w + b, 0.0)


def _gemm_samples(rng, dtype):
    return [Sample((uniform(rng, (4, 6), dtype), uniform(rng, (6, 3), dtype), uniform(rng, (3,), dtype)))]


def _softmax_ce(target, logits):
    K = _K()
    return K.categorical_crossentropy(target, K.softmax(logits), from_logits=False)


def _softmax_ce_ref(target, logits):
    return R.categorical_crossentropy(target, R.softmax(logits))


def _softmax_ce_samples(rng, dtype):
    t = rng.random((3, 5)) + 0.1
    return [Sample(((t / t.sum(-1, keepdims=True)).astype(dtype), uniform(rng, (3, 5), dtype, -2, 2)))]


def _chain(x, y):
    K = _K()
    return K.tanh(x * 0.5 + y) * K.sigmoid(y) - K.exp(-K.abs(x))


def _chain_ref(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.tanh(x * 0.5 + y) * (1.0 / (1.0 + np.exp(-y))) - np.exp(-np.abs(x))


def _chain_samples(rng, dtype):
    return [Sample((uniform(rng, (3, 4), dtype), uniform(rng, (3, 4), dtype))),
            Sample((uniform(rng, (2, 3), dtype), uniform(rng, (3,), dtype)))]


def forms() -> dict:
    loose = {"float32": (1e-4, 1e-5)}
    return {f.row.name: f for f in [
        FusedForm(OpInfo("conv2d+bias", _conv_bias, _conv_bias_ref, _conv_bias_samples, primitive=False,
                         tol=loose, exercises=("conv", "add")), "conv+add"),
        FusedForm(OpInfo("gemm+bias+relu", _gemm_epilogue, _gemm_epilogue_ref, _gemm_samples, primitive=False,
                         tol=loose, exercises=("matmul", "relu")), "matmul+"),
        FusedForm(OpInfo("softmax+crossentropy", _softmax_ce, _softmax_ce_ref, _softmax_ce_samples, primitive=False,
                         tol=loose, exercises=("softmax",)), "softmax+"),
        FusedForm(OpInfo("elementwise chain", _chain, _chain_ref, _chain_samples, primitive=False, tol=loose),
                  "fused["),
    ]}


def check_form(form: FusedForm, backend_name: str) -> str:
    """Fused and unfused plans against the formula; returns whether the fused kernel was taken."""
    from ..backend.registry import get_backend_object
    from .checks import graph_ops, seeded
    backend = get_backend_object(backend_name)
    row = form.row
    taken = False
    for dtype in ("float32", "float64"):
        rtol, atol = row.tolerance(dtype)
        for sample in row.samples(seeded(row, dtype), dtype):
            phs, outs = build(row, sample)
            missing = set(row.required_ops()) - graph_ops(outs)
            assert not missing, f"{row.name}: the built graph does not use {sorted(missing)}"
            want = row.ref(*sample.args)
            for fused in (True, False):
                got, plan = evaluate(backend, phs, outs, sample.args, fused=fused)
                assert_close(got[0], want, rtol, atol, f"{row.name} ({'fused' if fused else 'unfused'}, "
                                                       f"{sample.describe()})")
                if fused:
                    taken = taken or any(form.marker in k for k in plan.kernels())
    return "fused kernel taken" if taken else "not fused by this backend"

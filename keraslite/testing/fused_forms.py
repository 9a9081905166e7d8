"""Fused forms: op patterns a backend may run as one kernel (the declared patterns of
keraslite/backend/interface.py, `PATTERNS`, and elementwise fusion). Each form is checked on a
backend: the compiled plan (fusion on) against the NumPy formula, the plan with fusion off
against the same formula, every match of a declared pattern that the backend fuses against the
pattern's composite (its primitives one after the other, on the same backend and inputs),
gradients of differentiable forms against central finite differences in float64 (through the
fused plan), and whether the backend actually took the fused kernel (reported, not required: a
backend may leave a pattern unfused)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import references as R
from .checks import assert_close, build, evaluate
from .opinfo import OpInfo, Sample, uniform


@dataclass
class FusedForm:
    """A pattern: `row` builds and defines it; `marker` is a substring of the fused step's name
    in Plan.kernels() (e.g. 'conv+add' for a declared pattern, 'fused[' for an elementwise group)."""

    row: OpInfo
    marker: str
    grad_samples: Callable | None = None  # samples for the finite-difference check (default: the row's)


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


_ACTIVATIONS = {
    "relu": (lambda K, z: K.relu(z), lambda z: np.maximum(z, 0.0)),
    "sigmoid": (lambda K, z: K.sigmoid(z), lambda z: 1.0 / (1.0 + np.exp(-z))),
    "tanh": (lambda K, z: K.tanh(z), np.tanh),
    None: (lambda K, z: z, lambda z: z),
}


def _gemm_form(act):
    k_act, np_act = _ACTIVATIONS[act]

    def build_(x, w, b):
        K = _K()
        return k_act(K, K.bias_add(K.dot(x, w), b))

    def ref(x, w, b):
        return np_act(np.asarray(x, np.float64) @ np.asarray(w, np.float64) + b)
    return build_, ref


def _gemm_samples(rng, dtype):
    # 2-D, a 3-D input (Dense on sequences), and a product large enough to be split over threads
    return [Sample((uniform(rng, (4, 6), dtype), uniform(rng, (6, 3), dtype), uniform(rng, (3,), dtype))),
            Sample((uniform(rng, (2, 3, 5), dtype), uniform(rng, (5, 4), dtype), uniform(rng, (4,), dtype))),
            Sample((uniform(rng, (96, 130), dtype), uniform(rng, (130, 90), dtype), uniform(rng, (90,), dtype)))]


def _gemm_grad_samples(rng, dtype):
    return _gemm_samples(rng, dtype)[:2]


def _softmax_ce(target, logits):
    K = _K()
    return K.categorical_crossentropy(target, K.softmax(logits), from_logits=False)


def _softmax_ce_ref(target, logits):
    return R.categorical_crossentropy(target, R.softmax(logits))


def _softmax_ce_samples(rng, dtype):
    t = rng.random((3, 5)) + 0.1
    # the second sample has a near-certain class: the clip at 1 - epsilon takes effect
    big = uniform(rng, (4, 2, 6), dtype, -2, 2)
    big[0, 0, 1] = 40.0
    t2 = rng.random((4, 2, 6))
    return [Sample(((t / t.sum(-1, keepdims=True)).astype(dtype), uniform(rng, (3, 5), dtype, -2, 2))),
            Sample((t2.astype(dtype), big))]


def _crossentropy(target, probs):
    return _K().categorical_crossentropy(target, probs, from_logits=False)


def _crossentropy_ref(target, probs):
    return R.categorical_crossentropy(target, np.asarray(probs, np.float64))


def _crossentropy_samples(rng, dtype):
    t = rng.random((5, 4))
    p = rng.random((5, 4)) + 0.05
    p[1, 2] = 1e-12  # below the clip's epsilon after renormalising
    return [Sample((t.astype(dtype), p.astype(dtype))), Sample((rng.random((2, 3, 7)).astype(dtype),
                                                              (rng.random((2, 3, 7)) + 0.1).astype(dtype)))]


def _crossentropy_grad_samples(rng, dtype):
    # away from the clip's kinks: finite differences step over a bound they straddle
    return _crossentropy_samples(rng, dtype)[1:]


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
    gemm = []
    for act in ("relu", "sigmoid", "tanh", None):
        fn, ref = _gemm_form(act)
        name = "gemm+bias" + (f"+{act}" if act else "")
        gemm.append(FusedForm(OpInfo(name, fn, ref, _gemm_samples, primitive=False, tol=loose, differentiable=True,
                                     exercises=("matmul", "add") + ((act,) if act else ())),
                              "matmul+add" + (f"+{act}" if act else ""), grad_samples=_gemm_grad_samples))
    return {f.row.name: f for f in [
        FusedForm(OpInfo("conv2d+bias", _conv_bias, _conv_bias_ref, _conv_bias_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("conv", "add")), "conv+add"),
        *gemm,
        FusedForm(OpInfo("crossentropy", _crossentropy, _crossentropy_ref, _crossentropy_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("div", "log", "sum")),
                  "sum+div+maximum+minimum+log+mul+sum+neg", grad_samples=_crossentropy_grad_samples),
        FusedForm(OpInfo("softmax+crossentropy", _softmax_ce, _softmax_ce_ref, _softmax_ce_samples, primitive=False,
                         tol=loose, differentiable=True, exercises=("softmax",)),
                  "sum+div+maximum+minimum+log+mul+sum+neg"),
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
            check_composites(backend, phs, outs, sample.args, rtol, atol, f"{row.name} ({sample.describe()})")
    if row.differentiable:
        from .checks import check_vjp
        grad_row = replace(row, samples=form.grad_samples) if form.grad_samples is not None else row
        check_vjp(grad_row, backend_name)
    return "fused kernel taken" if taken else "not fused by this backend"


def check_composites(backend, phs, outs, args, rtol, atol, what) -> int:
    """Every declared pattern that `backend` fuses in the plan of `outs`: its fused callable
    against the pattern's composite (interface.FusedPattern.composite) on the same inputs, the
    inputs being the values the unfused plan computes. Returns how many matches were checked."""
    from ..backend.graph import topological_order
    from ..backend.patterns import find
    from .checks import evaluate
    fed = {p.id for p in phs}
    order = topological_order(list(outs), stop=fed)
    matches, _ = find(backend, order, {o.id for o in outs}, fed)
    for m in matches.values():
        ins = m.inputs
        values, _ = evaluate(backend, phs, ins, args, fused=False)
        native = [backend.from_numpy(np.asarray(v)) for v in values]
        got = backend.to_numpy(m.fn(*native))
        want = backend.to_numpy(m.pattern.composite(backend, m.nodes)(*native))
        assert got.shape == want.shape and got.dtype == want.dtype, \
            f"{what}: {m.name} gives {got.dtype}{got.shape}, its composite {want.dtype}{want.shape}"
        assert_close(got, want, rtol, atol, f"{what}: {m.name} against its composite")
    return len(matches)

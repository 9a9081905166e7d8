"""The generic checks every OpInfo row goes through, on one backend.

* forward: the op's result against the row's NumPy formula, per dtype;
* vjp: K.gradients of a random projection of the output against central finite differences
  of the backend's own forward pass, in float64;
* fused: the plan the compiler builds for the backend (elementwise fusion and fused patterns on)
  against the plan without any fusion, with a multiply-add tail and with a bias-add tail after
  the op so that fusion and fused patterns have work to do;
* shape: the statically inferred shape and dtype against the computed array (exactly with known
  input shapes, compatibly when the batch axis is unknown, where the values are compared with
  the formula as well).

Each check returns a short note on success, raises `Skip` when it does not apply, and raises
AssertionError (with the sample described) on a disagreement.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ..backend.compiler import Plan
from ..backend.graph import Constant, Placeholder, Tensor, topological_order
from ..backend.interface import Backend
from ..backend.registry import get_backend_object
from .opinfo import FD_EPS, OpInfo, as_input, as_list, dense, is_float_dtype, is_sparse

CHECKS = ("forward", "vjp", "fused", "shape")
MAX_FD_COORDS = 24  # finite differences per input: enough to see a wrong rule, cheap to run


class Skip(Exception):
    """The check does not apply to this row (or backend); the message says why."""


def Unfused(backend):
    """A view of a backend with every fusion turned off: no elementwise groups, no fused patterns. The view
    is an instance of a subclass of the backend's own class sharing its state, so every declared
    protocol hook other than the fusion ones behaves exactly as on the backend."""
    cls = type(f"Unfused{type(backend).__name__}", (type(backend),),
               {"fuses_elementwise": False, "fused_form": Backend.fused_form})
    view = object.__new__(cls)
    view.__dict__ = backend.__dict__
    return view


def seeded(row: OpInfo, salt: str = "") -> np.random.Generator:
    """The generator for a row: fixed by its name, so every run draws the same inputs."""
    key = sum((i + 1) * ord(c) for i, c in enumerate(row.name + "|" + salt))
    return np.random.default_rng(key)


def build(row: OpInfo, sample, none_batch: bool = False):
    """(placeholders, outputs) for a sample; `none_batch` leaves axis 0 of every input unknown."""
    phs = []
    none_batch = none_batch or row.unknown_batch
    for n, a in enumerate(sample.args):
        a = as_input(a)
        unknown = none_batch and (row.batch_args is None or n in row.batch_args)
        shape = tuple(None if (unknown and i == 0) else d for i, d in enumerate(a.shape))
        if is_sparse(a):
            from ..backend.sparse import sparse_placeholder
            phs.append(sparse_placeholder(shape, np.dtype(a.dtype).name))
        else:
            phs.append(Placeholder(shape, a.dtype.name))
    outs = as_list(row.fn(*phs, **sample.kwargs))
    return phs, outs


def evaluate(backend, phs, outs, arrays, fused: bool = True):
    """Run outputs on `backend` (a backend object) through a compiler Plan; returns (values, plan)."""
    target = backend if fused else Unfused(backend)
    plan = Plan(target, phs, outs, [])
    return plan.run(feeds_for(backend, phs, arrays)), plan


def feeds_for(backend, phs, arrays) -> list:
    """The backend's values for the placeholders (sparse ones through keraslite's sparse feed)."""
    feeds = []
    for i, (a, p) in enumerate(zip(arrays, phs)):
        if getattr(p, "sparse", False):
            if not getattr(backend, "supports_sparse", False):
                raise Skip(f"backend '{backend.name}' has no sparse tensor support")
            from ..backend.sparse import feed
            feeds.append(feed(p, a, i, backend)[0])
        else:
            feeds.append(backend.from_numpy(np.array(a, dtype=p.dtype, order="C")))
    return feeds


def graph_ops(outs) -> set:
    return {n.op for n in topological_order([o for o in outs if isinstance(o, Tensor)])}


def assert_close(got, want, rtol, atol, msg=""):
    got, want = dense(got), dense(want)
    assert got.shape == want.shape, f"{msg}: shape {got.shape}, expected {want.shape}"
    if got.dtype.kind in "biu" and want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=msg)
        return
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=msg)


def _samples(row, dtype, salt=""):
    samples = row.samples(seeded(row, salt + dtype), dtype)
    if not samples:
        raise Skip(f"no sample for dtype {dtype}")
    return samples


def _want(row: OpInfo, sample) -> list:
    """The row's formula on the sample, as a list of outputs."""
    with warnings.catch_warnings():  # e.g. NumPy's "mean of empty slice": nan is the answer
        warnings.simplefilter("ignore", RuntimeWarning)
        return as_list(row.ref(*[as_input(a) for a in sample.args], **sample.kwargs))


def check_forward(row: OpInfo, backend_name: str) -> str:
    backend = get_backend_object(backend_name)
    n = 0
    for dtype in row.dtypes:
        rtol, atol = row.tolerance(dtype)
        for sample in _samples(row, dtype):
            phs, outs = build(row, sample)
            missing = set(row.required_ops()) - graph_ops(outs)
            assert not missing, f"{row.name}: the built graph does not use {sorted(missing)} ({sample.describe()})"
            got, _ = evaluate(backend, phs, outs, sample.args)
            if row.check is not None:
                row.check(got, sample, dtype)
            else:
                want = _want(row, sample)
                assert len(want) == len(got), f"{row.name}: {len(got)} outputs, the formula gives {len(want)}"
                for k, (g, w) in enumerate(zip(got, want)):
                    assert_close(g, w, rtol, atol, f"{row.name} output {k} on {sample.describe()}")
            n += 1
    return f"{n} samples"


def check_shape(row: OpInfo, backend_name: str) -> str:
    backend = get_backend_object(backend_name)
    n = 0
    for dtype in row.dtypes:
        for sample in _samples(row, dtype):
            phs, outs = build(row, sample)
            got, _ = evaluate(backend, phs, outs, sample.args)
            for k, (t, v) in enumerate(zip(outs, got)):
                where = f"{row.name} output {k} on {sample.describe()}"
                v = dense(v)
                assert _compatible(t.shape, v.shape), f"{where}: inferred shape {t.shape}, computed {v.shape}"
                if all(d is not None for d in t.shape):
                    assert tuple(t.shape) == v.shape, f"{where}: inferred shape {t.shape}, computed {v.shape}"
                assert np.dtype(t.dtype) == v.dtype, f"{where}: inferred dtype {t.dtype}, computed {v.dtype}"
            n += 1
            if not row.dynamic_batch or not sample.args or any(np.ndim(a) == 0 for a in sample.args):
                continue
            phs, outs = build(row, sample, none_batch=True)
            got, _ = evaluate(backend, phs, outs, sample.args)
            # the values too: with unknown dims an op may take another path (runtime geometry)
            want = _want(row, sample) if row.check is None else [None] * len(got)
            for k, (t, v, w) in enumerate(zip(outs, got, want)):
                v = dense(v)
                where = f"{row.name} output {k} (batch axis unknown) on {sample.describe()}"
                assert _compatible(t.shape, v.shape), f"{where}: inferred {t.shape}, computed {v.shape}"
                assert np.dtype(t.dtype) == v.dtype, f"{where}: inferred dtype {t.dtype}, computed {v.dtype}"
                if w is not None:
                    assert_close(v, w, *row.tolerance(dtype), where)
    return f"{n} samples"


def _compatible(static, actual) -> bool:
    return len(static) == len(actual) and all(s is None or s == a for s, a in zip(static, actual))


def _epilogue(t: Tensor, kind: str) -> Tensor:
    """A tail the compiler may fuse with the op ('muladd': elementwise multiply-add) or fold into
    it ('bias': the add of a vector along the last axis, as a backend's conv+bias or GEMM+bias fused form takes)."""
    if not is_float_dtype(t.dtype) or getattr(t, "sparse", False):
        return t
    from ..backend.ops.math import add, mul
    if kind == "muladd":
        return add(mul(t, 1.5), 0.25)
    bias = np.linspace(-0.5, 0.5, t.shape[-1]).astype(t.dtype)
    return add(t, Constant(bias))


def _bias_ok(outs) -> bool:
    return any(is_float_dtype(o.dtype) and o.ndim and o.shape[-1] for o in outs)


def _fuses(backend) -> bool:
    return bool(getattr(backend, "fuses_elementwise", False)) or type(backend).fused_form is not Backend.fused_form


def check_fused(row: OpInfo, backend_name: str) -> str:
    backend = get_backend_object(backend_name)
    if not _fuses(backend):
        raise Skip(f"backend '{backend_name}' declares no fusion")
    if not row.fused:
        raise Skip("the row opts out (no deterministic value)")
    dtype = next((d for d in row.dtypes if is_float_dtype(d)), row.dtypes[0])
    rtol, atol = row.tolerance(dtype)
    n, kernels = 0, set()
    for sample in _samples(row, dtype, "fused"):
        for kind in ("muladd", "bias"):
            # one graph per plan: an op with state (a variable update) starts from the same value
            phs, outs = build(row, sample)
            if kind == "bias" and not _bias_ok(outs):
                continue
            fused, plan = evaluate(backend, phs, [_epilogue(o, kind) for o in outs], sample.args, fused=True)
            phs, outs = build(row, sample)
            plain, _ = evaluate(backend, phs, [_epilogue(o, kind) for o in outs], sample.args, fused=False)
            kernels |= {k for k in plan.kernels() if "+" in k or k.startswith("fused[")}
            for k, (a, b) in enumerate(zip(fused, plain)):
                assert_close(a, b, rtol, atol, f"{row.name} output {k} + {kind} epilogue, fused against unfused, "
                                               f"on {sample.describe()}")
        n += 1
    return f"{n} samples, fused steps: {', '.join(sorted(kernels)) or 'none'}"


def check_vjp(row: OpInfo, backend_name: str) -> str:
    if not row.differentiable:
        raise Skip("not differentiable")
    from ..backend.autodiff import gradients
    from ..backend.ops.math import mul
    from ..backend.ops.reduce import sum as reduce_sum
    backend = get_backend_object(backend_name)
    rtol, atol = row.grad_tol
    checked = 0
    for sample in _samples(row, "float64", "vjp"):
        args = [as_input(a) for a in sample.args]
        idx = row.grad_args if row.grad_args is not None else \
            tuple(i for i, a in enumerate(args) if is_float_dtype(a.dtype) and not is_sparse(a))
        idx = tuple(i for i in idx if args[i].size)
        if not idx:
            continue
        phs, outs = build(row, sample)
        rng = seeded(row, "cotangent" + sample.describe())
        values, _ = evaluate(backend, phs, outs, args)
        terms = [reduce_sum(mul(o, Constant(rng.standard_normal(dense(v).shape).astype(o.dtype))))
                 for o, v in zip(outs, values) if is_float_dtype(o.dtype)]
        assert terms, f"{row.name}: a differentiable row needs a float output"
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        grads = gradients(loss, [phs[i] for i in idx])
        analytic, _ = evaluate(backend, phs, grads, args)
        loss_plan = Plan(backend, phs, [loss], [])

        def loss_at(values):
            return float(loss_plan.run(feeds_for(backend, phs, values))[0])

        for i, g in zip(idx, analytic):
            g = np.asarray(g, dtype=np.float64)
            assert g.shape == args[i].shape, f"{row.name}: gradient of input {i} has shape {g.shape}, input {args[i].shape}"
            coords = rng.permutation(args[i].size)[:MAX_FD_COORDS]
            fd = []
            for c in coords:
                plus, minus = list(args), list(args)
                plus[i], minus[i] = args[i].copy(), args[i].copy()
                plus[i].flat[c] += FD_EPS
                minus[i].flat[c] -= FD_EPS
                fd.append((loss_at(plus) - loss_at(minus)) / (2 * FD_EPS))
            scale = max(1.0, float(np.max(np.abs(fd))) if fd else 1.0)
            assert_close(g.flat[coords], np.array(fd), rtol, atol * scale,
                         f"{row.name}: gradient of input {i} against finite differences on {sample.describe()}")
            checked += len(coords)
    if not checked:
        raise Skip("no sample with a non-empty float input")
    return f"{checked} coordinates"


RUNNERS = {"forward": check_forward, "vjp": check_vjp, "fused": check_fused, "shape": check_shape}


def run_check(check: str, row: OpInfo, backend_name: str) -> str:
    """Run one named check ('forward', 'vjp', 'fused' or 'shape') of a row on a backend."""
    if check not in RUNNERS:
        raise ValueError(f"unknown check {check!r}; expected one of {CHECKS}")
    context = row.context() if row.context is not None else contextlib.nullcontext()
    with np.errstate(all="ignore"), context:
        return RUNNERS[check](row, backend_name)

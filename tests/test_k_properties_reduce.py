"""Property-based tests of the reducing K functions: sum/mean/max/min/prod/std/var/any/all,
argmax/argmin, logsumexp, cumsum/cumprod, softmax/log_softmax, l2_normalize and the
cross-entropies behind the losses.

Axes are None, an int or a list (negative entries included), with and without keepdims; shapes
have size-0 and size-1 axes. Over no elements: sum 0, prod 1, mean/var/std NaN, max -inf and
min +inf (TensorFlow's identities), logsumexp -inf; argmax over an empty axis is a ValueError.
Sums of float16/float32 are compared with a tolerance proportional to the sum of magnitudes.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import axes_for, check, count, evaluate, float_dtype, run, seed, shapes, values  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}


def _np_axes(axis, ndim):
    if axis is None:
        return None
    return tuple(a % ndim for a in np.atleast_1d(axis)) if ndim else ()


def _mean(x, ax, keepdims):
    n = np.prod([x.shape[a] for a in (range(x.ndim) if ax is None else ax)], dtype=np.int64)
    s = np.sum(x, axis=ax, keepdims=keepdims)
    with np.errstate(all="ignore"):
        return s / n if n else s * np.nan


def _var(x, ax, keepdims):
    m = _mean(x, ax, True)
    return _mean((x - m) ** 2, ax, keepdims)


REDUCTIONS = {
    "sum": (K.sum, lambda x, ax, kd: np.sum(x, axis=ax, keepdims=kd)),
    "mean": (K.mean, _mean),
    "max": (K.max, lambda x, ax, kd: np.max(x, axis=ax, keepdims=kd, initial=-np.inf)),
    "min": (K.min, lambda x, ax, kd: np.min(x, axis=ax, keepdims=kd, initial=np.inf)),
    "prod": (K.prod, lambda x, ax, kd: np.prod(x, axis=ax, keepdims=kd)),
    "var": (K.var, _var),
    "std": (K.std, lambda x, ax, kd: np.sqrt(_var(x, ax, kd))),
    "logsumexp": (K.logsumexp, None),
}


def _logsumexp(x, ax, keepdims):
    m = np.max(x, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=ax if ax is not None else tuple(range(x.ndim)))


def _magnitude_tol(x, ax, keepdims, dtype, power=1):
    """Rounding of a sum in `dtype` grows with the sum of magnitudes (and of their squares)."""
    scale = np.sum(np.abs(x) ** power, axis=ax, keepdims=keepdims)
    return EPS[dtype] * 4 * scale


@given(name=st.sampled_from(sorted(REDUCTIONS)), shape=shapes(), dtype=float_dtype, s=seed,
       keepdims=st.booleans(), data=st.data())
def test_reduction(name, shape, dtype, s, keepdims, data):
    kfn, npfn = REDUCTIONS[name]
    npfn = npfn or _logsumexp
    axis = data.draw(axes_for(len(shape)), label="axis")
    rng = np.random.default_rng(s)
    lo, hi = (0.5, 1.5) if name == "prod" else (-3.0, 3.0)
    if name == "logsumexp" and rng.random() < 0.3:
        lo, hi = 50.0, 200.0  # stable: exp would overflow without the max shift
    x = values(rng, shape, dtype, lo, hi)
    ax = _np_axes(axis, x.ndim)
    count()
    got, static = evaluate(lambda t: kfn(t, axis=axis, keepdims=keepdims), x)
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        want = np.asarray(npfn(x64, ax, keepdims))
        if name in ("var", "std"):
            tol = _magnitude_tol(x64, ax, keepdims, dtype, power=2) * 4
            if name == "std":
                tol = np.sqrt(tol)
        elif name == "prod":
            tol = EPS[dtype] * 4 * np.prod(x64.shape) * np.abs(want)
        else:
            tol = _magnitude_tol(x64, ax, keepdims, dtype)
            if name == "mean":
                n = np.prod([x.shape[a] for a in (range(x.ndim) if ax is None else ax)])
                tol = tol / max(n, 1)
    check(got, want, dtype, static=static, tol=(EPS[dtype] * 4, np.maximum(tol, 1e-12) + EPS[dtype]),
          msg=f"{name} axis={axis} keepdims={keepdims}")


@given(name=st.sampled_from(["any", "all"]), shape=shapes(), s=seed, keepdims=st.booleans(),
       dtype=st.sampled_from(["bool", "float32", "int32"]), data=st.data())
def test_any_all(name, shape, s, keepdims, dtype, data):
    axis = data.draw(axes_for(len(shape)), label="axis")
    rng = np.random.default_rng(s)
    x = (rng.random(shape) < rng.choice([0.1, 0.5, 0.9])).astype(dtype)
    npfn = np.any if name == "any" else np.all
    run(lambda t: getattr(K, name)(t, axis=axis, keepdims=keepdims),
        lambda a: npfn(a != 0, axis=_np_axes(axis, a.ndim), keepdims=keepdims), [x], "bool")


@given(name=st.sampled_from(["argmax", "argmin"]), shape=shapes(min_rank=1), dtype=float_dtype, s=seed,
       data=st.data())
def test_argmax_argmin(name, shape, dtype, s, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = values(np.random.default_rng(s), shape, dtype, -2, 2, grid=True)  # ties: the first one wins
    kfn = getattr(K, name)
    if shape[axis] == 0:
        count()
        with pytest.raises(ValueError, match=name):
            kfn(K.variable(x, dtype=dtype), axis=axis)
        return
    run(lambda t: kfn(t, axis=axis), lambda a: getattr(np, name)(a, axis=axis), [x], "int64")


@given(name=st.sampled_from(["cumsum", "cumprod"]), shape=shapes(min_rank=1), dtype=float_dtype, s=seed,
       data=st.data())
def test_cumulative(name, shape, dtype, s, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = values(np.random.default_rng(s), shape, dtype, -2, 2)
    tol = (EPS[dtype] * 8, EPS[dtype] * 40)
    run(lambda t: getattr(K, name)(t, axis=axis), lambda a: getattr(np, name)(a, axis=axis), [x], dtype, tol=tol)


def _softmax(x, axis):
    z = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    z = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


@given(name=st.sampled_from(["softmax", "log_softmax"]), shape=shapes(min_rank=1), dtype=float_dtype,
       s=seed, wide=st.booleans(), data=st.data())
def test_softmax(name, shape, dtype, s, wide, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    span = 300.0 if wide else 3.0  # large logits: the max shift keeps exp finite
    x = values(np.random.default_rng(s), shape, dtype, -span, span)
    ref = _softmax if name == "softmax" else _log_softmax
    run(lambda t: getattr(K, name)(t, axis=axis), lambda a: ref(a, axis), [x], dtype,
        tol=(EPS[dtype] * 8, EPS[dtype] * 8))


@given(shape=shapes(min_rank=1), dtype=float_dtype, s=seed, data=st.data())
def test_l2_normalize(shape, dtype, s, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)), label="axis")
    x = values(np.random.default_rng(s), shape, dtype, -3, 3, specials=(0.0,))

    # float16 cannot hold the 1e-12 floor: its smallest normal number stands in
    floor = max(1e-12, float(np.finfo(dtype).tiny))

    def ref(a):
        ss = np.sum(a * a, axis=axis, keepdims=True)
        return a / np.sqrt(np.maximum(ss, floor))
    run(lambda t: K.l2_normalize(t, axis=axis), ref, [x], dtype, tol=(EPS[dtype] * 8, EPS[dtype] * 8))


# ---------------------------------------------------------------------------------------------
# cross-entropies (eps = K.epsilon() = 1e-7)


def _clip_eps(p, dtype):
    """Clipping happens in the tensor's dtype: the bounds are eps and 1 - eps rounded to it."""
    return np.clip(p, np.dtype(dtype).type(1e-7), np.dtype(dtype).type(1 - 1e-7))


@given(shape=shapes(min_rank=1), dtype=float_dtype, s=seed, from_logits=st.booleans(), data=st.data())
def test_categorical_crossentropy(shape, dtype, s, from_logits, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = np.random.default_rng(s)
    target = values(rng, shape, dtype, 0, 1)
    output = values(rng, shape, dtype, -3, 3) if from_logits else values(rng, shape, dtype, 0.05, 1.0)

    def ref(t, o):
        if from_logits:
            logp = _log_softmax(o, axis)
        else:
            logp = np.log(_clip_eps(o / np.sum(o, axis=axis, keepdims=True), dtype))
        return -np.sum(t * logp, axis=axis)
    run(lambda t, o: K.categorical_crossentropy(t, o, from_logits=from_logits, axis=axis), ref,
        [target, output], dtype, tol=(EPS[dtype] * 16, EPS[dtype] * 64))


@given(shape=shapes(min_rank=1), dtype=float_dtype, s=seed, from_logits=st.booleans(),
       idx_dtype=st.sampled_from(["int32", "int64", "float32"]), data=st.data())
def test_sparse_categorical_crossentropy(shape, dtype, s, from_logits, idx_dtype, data):
    classes = shape[-1]
    if classes == 0:
        shape = shape[:-1] + (1,)
        classes = 1
    axis = data.draw(st.sampled_from([-1, len(shape) - 1]), label="axis")
    rng = np.random.default_rng(s)
    target = rng.integers(0, classes, size=shape[:-1]).astype(idx_dtype)
    output = values(rng, shape, dtype, -3, 3) if from_logits else values(rng, shape, dtype, 0.05, 1.0)

    def ref(t, o):
        # Keras on TF: probabilities become logits log(clip(p)), then a softmax cross-entropy
        logits = o if from_logits else np.log(_clip_eps(o, dtype))
        logp = _log_softmax(logits, -1)
        t = t.astype(np.int64)
        return -np.take_along_axis(logp, t[..., None], axis=-1)[..., 0]
    run(lambda t, o: K.sparse_categorical_crossentropy(t, o, from_logits=from_logits, axis=axis), ref,
        [target, output], dtype, tol=(EPS[dtype] * 16, EPS[dtype] * 64))


@given(shape=shapes(), dtype=float_dtype, s=seed, from_logits=st.booleans(), kernels=st.booleans())
def test_binary_crossentropy(shape, dtype, s, from_logits, kernels):
    rng = np.random.default_rng(s)
    target = values(rng, shape, dtype, 0, 1, specials=(0.0, 1.0))
    output = values(rng, shape, dtype, -20, 20) if from_logits else values(rng, shape, dtype, 0.0, 1.0,
                                                                            specials=(0.0, 1.0))

    def ref(t, o):
        if from_logits:
            return np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))
        p = _clip_eps(o, dtype)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    run(lambda t, o: K.binary_crossentropy(t, o, from_logits=from_logits), ref, [target, output], dtype,
        tol=(EPS[dtype] * 16, EPS[dtype] * 64), kernels=kernels)

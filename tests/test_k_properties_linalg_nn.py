"""Property-based tests of K.dot, K.batch_dot and the normalisation / bias / top-k / dropout ops.

Contractions of length 0 give zeros; batches and output axes of length 0 give empty results.
Float tolerances grow with the sum of the magnitudes of the products (rounding of the dtype).
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import check, count, evaluate, float_dtype, run, seed, shapes, side, values  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}


def _tol(dtype, magnitude):
    return (EPS[dtype] * 4, EPS[dtype] * 8 * magnitude + EPS[dtype])


@given(xshape=shapes(min_rank=1, max_rank=3), yshape=shapes(min_rank=1, max_rank=3), dtype=float_dtype,
       s=seed)
def test_dot(xshape, yshape, dtype, s):
    """Contracts x's last axis with y's second-to-last (its only axis when y is 1-D), as np.dot."""
    ky = 0 if len(yshape) == 1 else len(yshape) - 2
    yshape = list(yshape)
    yshape[ky] = xshape[-1]
    rng = np.random.default_rng(s)
    x, y = values(rng, xshape, dtype), values(rng, tuple(yshape), dtype)

    def ref(a, b):
        return np.tensordot(a, b, axes=([a.ndim - 1], [ky]))
    mag = ref(np.abs(x.astype(np.float64)), np.abs(y.astype(np.float64)))
    run(K.dot, ref, [x, y], dtype, tol=_tol(dtype, mag))


@st.composite
def _batch_dot_case(draw):
    rx, ry = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    batch = draw(side)
    xshape = [batch] + [draw(side) for _ in range(rx - 1)]
    yshape = [batch] + [draw(side) for _ in range(ry - 1)]
    kind = draw(st.sampled_from(["none", "int", "pair"]))
    if kind == "none":
        axes, ax, ay = None, rx - 1, (ry - 2 if ry > 2 else ry - 1)
    elif kind == "int":
        a = draw(st.integers(1, min(rx, ry) - 1))
        axes, ax, ay = a, a, a
    else:
        ax, ay = draw(st.integers(1, rx - 1)), draw(st.integers(1, ry - 1))
        axes = (ax - rx if draw(st.booleans()) else ax, ay - ry if draw(st.booleans()) else ay)
    yshape[ay] = xshape[ax]
    return tuple(xshape), tuple(yshape), axes, ax, ay


@given(case=_batch_dot_case(), dtype=float_dtype, s=seed)
def test_batch_dot(case, dtype, s):
    """Per sample b: np.tensordot(x[b], y[b]) over (axes[0], axes[1]); a rank-1 result becomes (batch, 1)."""
    xshape, yshape, axes, ax, ay = case
    rng = np.random.default_rng(s)
    x, y = values(rng, xshape, dtype), values(rng, yshape, dtype)

    def ref(a, b):
        rest = [d for i, d in enumerate(a.shape) if i not in (0, ax)] + \
               [d for i, d in enumerate(b.shape) if i not in (0, ay)]
        out = np.zeros((a.shape[0],) + tuple(rest))
        for i in range(a.shape[0]):
            out[i] = np.tensordot(a[i], b[i], axes=(ax - 1, ay - 1))
        return out if rest else out.reshape(a.shape[0], 1)
    mag = ref(np.abs(x.astype(np.float64)), np.abs(y.astype(np.float64)))
    run(lambda a, b: K.batch_dot(a, b, axes=axes), ref, [x, y], dtype, tol=_tol(dtype, mag),
        msg=f"axes={axes}")


@given(shape=shapes(min_rank=2, max_rank=4), dtype=float_dtype, s=seed,
       data_format=st.sampled_from(["channels_last", "channels_first"]))
def test_bias_add(shape, dtype, s, data_format):
    rng = np.random.default_rng(s)
    ch = 1 if data_format == "channels_first" and len(shape) > 2 else len(shape) - 1
    x, b = values(rng, shape, dtype), values(rng, (shape[ch],), dtype)

    def ref(a, bias):
        bshape = [1] * a.ndim
        bshape[ch] = bias.shape[0]
        return a + bias.reshape(bshape)
    run(lambda a, bias: K.bias_add(a, bias, data_format=data_format), ref, [x, b], dtype)


@given(shape=shapes(min_rank=1, max_rank=4), dtype=float_dtype, s=seed, with_beta=st.booleans(),
       with_gamma=st.booleans(), epsilon=st.sampled_from([1e-3, 0.1]), data=st.data())
def test_batch_normalization(shape, dtype, s, with_beta, with_gamma, epsilon, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    rng = np.random.default_rng(s)
    n = shape[axis]
    x = values(rng, shape, dtype)
    mean, var = values(rng, (n,), dtype), values(rng, (n,), dtype, 0.1, 2.0)
    beta = values(rng, (n,), dtype) if with_beta else None
    gamma = values(rng, (n,), dtype) if with_gamma else None
    bshape = [1] * len(shape)
    bshape[axis] = n

    def ref(a, m, v, *bg):
        out = (a - m.reshape(bshape)) / np.sqrt(v.reshape(bshape) + epsilon)
        bg = list(bg)
        g = bg.pop() if with_gamma else None
        bb = bg.pop() if with_beta else None
        if g is not None:
            out = out * g.reshape(bshape)
        if bb is not None:
            out = out + bb.reshape(bshape)
        return out
    arrays = [x, mean, var] + ([beta] if with_beta else []) + ([gamma] if with_gamma else [])

    def kfn(a, m, v, *bg):
        bg = list(bg)
        g = bg.pop() if with_gamma else None
        bb = bg.pop() if with_beta else None
        return K.batch_normalization(a, m, v, bb, g, axis=axis, epsilon=epsilon)
    run(kfn, ref, arrays, dtype, tol=_tol(dtype, 40.0))


@given(shape=shapes(min_rank=1, max_rank=4), dtype=float_dtype, s=seed, data=st.data())
def test_normalize_batch_in_training(shape, dtype, s, data):
    """Batch statistics over the reduction axes (population variance); gamma/beta of the kept shape."""
    axes = sorted(data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1), label="axes"))
    kept = tuple(d for i, d in enumerate(shape) if i not in axes)
    keep_shape = tuple(1 if i in axes else d for i, d in enumerate(shape))
    rng = np.random.default_rng(s)
    x, gamma, beta = values(rng, shape, dtype), values(rng, kept, dtype), values(rng, kept, dtype)
    count()
    ts = [K.variable(a, dtype=dtype) for a in (x, gamma, beta)]
    outs = K.normalize_batch_in_training(ts[0], ts[1], ts[2], axes, epsilon=1e-3)
    got = K.batch_get_value(list(outs))
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        n = int(np.prod([shape[a] for a in axes]))
        m = np.sum(x64, axis=tuple(axes), keepdims=True) / n if n else np.full(keep_shape, np.nan)
        v = np.sum((x64 - m) ** 2, axis=tuple(axes), keepdims=True) / n if n else np.full(keep_shape, np.nan)
        normed = (x64 - m) / np.sqrt(v + 1e-3) * gamma.reshape(keep_shape) + beta.reshape(keep_shape)
    tol = _tol(dtype, 40.0)
    check(got[0], normed, dtype, static=K.int_shape(outs[0]), tol=tol, msg="normed")
    check(got[1], m.reshape(kept), dtype, static=K.int_shape(outs[1]), tol=tol, msg="mean")
    check(got[2], v.reshape(kept), dtype, static=K.int_shape(outs[2]), tol=tol, msg="variance")


@given(batch=side, classes=st.integers(1, 5), k=st.integers(0, 6), dtype=float_dtype, s=seed,
       idx_dtype=st.sampled_from(["int32", "int64"]))
def test_in_top_k(batch, classes, k, dtype, s, idx_dtype):
    """targets[i] is in the top k of row i when fewer than k scores are strictly larger (ties inside)."""
    rng = np.random.default_rng(s)
    pred = values(rng, (batch, classes), dtype, -2, 2, grid=True)
    tgt = rng.integers(0, classes, size=(batch,)).astype(idx_dtype)

    def ref(p, t):
        score = p[np.arange(p.shape[0]), t.astype(np.int64)]
        return (np.sum(p > score[:, None], axis=1) < k) & np.isfinite(score)
    run(lambda p, t: K.in_top_k(p, t, k), ref, [pred, tgt], "bool")


@given(shape=shapes(), dtype=float_dtype, s=seed, level=st.sampled_from([0.0, 0.25, 0.5, 0.9]))
def test_dropout(shape, dtype, s, level):
    """Every entry is either dropped (0) or kept and scaled by 1 / (1 - level); level 0 keeps all."""
    x = values(np.random.default_rng(s), shape, dtype, 0.5, 3.0)
    count()
    got, static = evaluate(lambda t: K.dropout(t, level, seed=s % 1000), x)
    assert got.shape == x.shape and tuple(static) == x.shape and got.dtype == np.dtype(dtype)
    scaled = x.astype(np.float64) / (1.0 - level)
    rtol = EPS[dtype] * 4
    kept = np.isclose(got, scaled, rtol=rtol, atol=0)
    assert np.all(kept | (got == 0)), "dropout: entries neither dropped nor scaled by 1 / (1 - level)"
    if level == 0.0:
        assert kept.all()

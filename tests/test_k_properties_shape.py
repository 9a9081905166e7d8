"""Property-based tests of the K shape functions: reshape/flatten/batch_flatten, transpose and
permute_dimensions, concatenate/stack, expand_dims/squeeze, tile/repeat/repeat_elements, slice
and basic indexing, reverse, gather, one_hot, the padding functions and arange.

Shapes include size-0 and size-1 axes; axes are drawn in their negative form too; dtypes are the
three floats and int32 (these functions only move data, so every value must match exactly).
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import count, run, seed, shapes, side  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

any_dtype = st.sampled_from(["float16", "float32", "float64", "int32"])


def _arr(s, shape, dtype):
    return (np.random.default_rng(s).integers(-50, 50, size=shape) / 4).astype(dtype)


def _axis(data, ndim, label="axis"):
    return data.draw(st.integers(-ndim, ndim - 1), label=label)


@given(shape=shapes(), dtype=any_dtype, s=seed, data=st.data())
def test_reshape(shape, dtype, s, data):
    """A target made by regrouping the (shuffled) dims; one entry may be -1 where it is determined."""
    dims = list(data.draw(st.permutations(shape), label="order")) if shape else []
    target = []
    for d in dims:
        if target and data.draw(st.booleans()):
            target[-1] *= d
        else:
            target.append(d)
    if data.draw(st.booleans()):
        target.append(1)
    if target and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(target) - 1), label="minus_one")
        rest = int(np.prod([d for j, d in enumerate(target) if j != i]))
        if rest:
            target[i] = -1
    x = _arr(s, shape, dtype)
    run(lambda t: K.reshape(t, tuple(target)), lambda a: a.reshape(target), [x], dtype)


@given(shape=shapes(min_rank=1), dtype=any_dtype, s=seed)
def test_flatten_batch_flatten(shape, dtype, s):
    x = _arr(s, shape, dtype)
    run(K.flatten, lambda a: a.reshape(-1), [x], dtype)
    rest = int(np.prod(shape[1:]))
    run(K.batch_flatten, lambda a: a.reshape(shape[0], rest), [x], dtype)


@given(shape=shapes(), dtype=any_dtype, s=seed, data=st.data())
def test_transpose_permute(shape, dtype, s, data):
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    x = _arr(s, shape, dtype)
    run(K.transpose, lambda a: a.T, [x], dtype)
    run(lambda t: K.permute_dimensions(t, tuple(perm)), lambda a: np.transpose(a, perm), [x], dtype)


@given(shape=shapes(min_rank=1), dtype=any_dtype, s=seed, n=st.integers(1, 3), data=st.data())
def test_concatenate(shape, dtype, s, n, data):
    axis = _axis(data, len(shape))
    arrays = []
    for i in range(n):
        sh = list(shape)
        sh[axis] = data.draw(side, label=f"len{i}")
        arrays.append(_arr(s + i, tuple(sh), dtype))
    run(lambda *ts: K.concatenate(list(ts), axis=axis), lambda *a: np.concatenate(a, axis=axis), arrays, dtype)


@given(shape=shapes(max_rank=3), dtype=any_dtype, s=seed, n=st.integers(1, 3), data=st.data())
def test_stack(shape, dtype, s, n, data):
    axis = _axis(data, len(shape) + 1)
    arrays = [_arr(s + i, shape, dtype) for i in range(n)]
    run(lambda *ts: K.stack(list(ts), axis=axis), lambda *a: np.stack(a, axis=axis), arrays, dtype)


@given(shape=shapes(), dtype=any_dtype, s=seed, data=st.data())
def test_expand_dims_squeeze(shape, dtype, s, data):
    axis = _axis(data, len(shape) + 1)
    x = _arr(s, shape, dtype)
    run(lambda t: K.expand_dims(t, axis), lambda a: np.expand_dims(a, axis), [x], dtype)
    y = np.expand_dims(x, axis)
    run(lambda t: K.squeeze(t, axis), lambda a: np.squeeze(a, axis=axis), [y], dtype)


@given(shape=shapes(), dtype=any_dtype, s=seed, data=st.data())
def test_tile(shape, dtype, s, data):
    reps = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=len(shape))),
                     label="reps")
    if isinstance(reps, int) and not shape:
        reps = []  # an int repetition needs an axis
    x = _arr(s, shape, dtype)
    run(lambda t: K.tile(t, reps), lambda a: np.tile(a, reps), [x], dtype)


@given(shape=shapes(min_rank=1), dtype=any_dtype, s=seed, rep=st.integers(0, 3), data=st.data())
def test_repeat_elements(shape, dtype, s, rep, data):
    axis = _axis(data, len(shape))
    x = _arr(s, shape, dtype)
    run(lambda t: K.repeat_elements(t, rep, axis), lambda a: np.repeat(a, rep, axis=axis), [x], dtype)


@given(shape=shapes(min_rank=2, max_rank=2), dtype=any_dtype, s=seed, n=st.integers(0, 3))
def test_repeat(shape, dtype, s, n):
    x = _arr(s, shape, dtype)
    run(lambda t: K.repeat(t, n), lambda a: np.repeat(a[:, None, :], n, axis=1), [x], dtype)


@given(shape=shapes(min_rank=1), dtype=any_dtype, s=seed, data=st.data())
def test_slice(shape, dtype, s, data):
    start, size = [], []
    for d in shape:
        b = data.draw(st.integers(0, d), label="start")
        size.append(data.draw(st.sampled_from([-1] + list(range(d - b + 1))), label="size"))
        start.append(b)
    x = _arr(s, shape, dtype)
    key = tuple(slice(b, None if n == -1 else b + n) for b, n in zip(start, size))
    run(lambda t: K.slice(t, start, size), lambda a: a[key], [x], dtype)


@st.composite
def _index_key(draw, shape):
    key = []
    for d in shape:
        kind = draw(st.sampled_from(["all", "int", "slice", "slice", "newaxis"]))
        if kind == "int" and d:
            key.append(draw(st.integers(-d, d - 1)))
        elif kind == "slice" or kind == "int":
            lo = draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
            hi = draw(st.one_of(st.none(), st.integers(-d - 1, d + 1)))
            key.append(slice(lo, hi, draw(st.sampled_from([None, 1, 2, -1, -2]))))
        elif kind == "newaxis":
            key += [None, slice(None)]
        else:
            key.append(slice(None))
    if key and draw(st.booleans()):
        cut = draw(st.integers(0, len(key)))
        key = key[:cut] + [Ellipsis]
    return tuple(key)


@given(shape=shapes(), dtype=any_dtype, s=seed, data=st.data())
def test_getitem(shape, dtype, s, data):
    key = data.draw(_index_key(shape), label="key")
    x = _arr(s, shape, dtype)
    run(lambda t: t[key], lambda a: a[key], [x], dtype)


@given(shape=shapes(min_rank=1), dtype=any_dtype, s=seed, data=st.data())
def test_reverse(shape, dtype, s, data):
    axes = data.draw(st.one_of(st.integers(-len(shape), len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1)), label="axes")
    x = _arr(s, shape, dtype)
    run(lambda t: K.reverse(t, axes), lambda a: np.flip(a, axis=axes), [x], dtype)


@given(shape=shapes(min_rank=1), idx_shape=shapes(max_rank=2), dtype=any_dtype, s=seed,
       idx_dtype=st.sampled_from(["int32", "int64"]))
def test_gather(shape, idx_shape, dtype, s, idx_dtype):
    if shape[0] == 0:
        idx_shape = idx_shape + (0,)  # nothing to pick from: only an empty selection is valid
    rng = np.random.default_rng(s)
    idx = rng.integers(0, max(shape[0], 1), size=idx_shape).astype(idx_dtype)
    x = _arr(s, shape, dtype)
    run(K.gather, lambda a, i: a[i], [x, idx], dtype)


@given(shape=shapes(max_rank=3), s=seed, classes=st.integers(0, 4),
       idx_dtype=st.sampled_from(["int32", "int64", "float32"]))
def test_one_hot(shape, s, classes, idx_dtype):
    if classes == 0:
        shape = shape + (0,)  # no class index exists: only empty index arrays
    idx = np.random.default_rng(s).integers(0, max(classes, 1), size=shape).astype(idx_dtype)

    def ref(i):
        return (i.astype(np.int64)[..., None] == np.arange(classes)).astype(np.float64)
    run(lambda t: K.one_hot(t, classes), ref, [idx], K.floatx())


pads = st.integers(0, 2)


@given(shape=shapes(min_rank=3, max_rank=3), dtype=any_dtype, s=seed, pad=st.tuples(pads, pads))
def test_temporal_padding(shape, dtype, s, pad):
    x = _arr(s, shape, dtype)
    run(lambda t: K.temporal_padding(t, pad), lambda a: np.pad(a, ((0, 0), pad, (0, 0))), [x], dtype)


@given(shape=shapes(min_rank=4, max_rank=4), dtype=any_dtype, s=seed,
       pad=st.tuples(st.tuples(pads, pads), st.tuples(pads, pads)),
       data_format=st.sampled_from(["channels_last", "channels_first"]))
def test_spatial_2d_padding(shape, dtype, s, pad, data_format):
    x = _arr(s, shape, dtype)
    full = ((0, 0),) + pad + ((0, 0),) if data_format == "channels_last" else ((0, 0), (0, 0)) + pad
    run(lambda t: K.spatial_2d_padding(t, pad, data_format=data_format), lambda a: np.pad(a, full), [x], dtype)


@given(shape=shapes(min_rank=5, max_rank=5), dtype=any_dtype, s=seed,
       pad=st.tuples(st.tuples(pads, pads), st.tuples(pads, pads), st.tuples(pads, pads)),
       data_format=st.sampled_from(["channels_last", "channels_first"]))
def test_spatial_3d_padding(shape, dtype, s, pad, data_format):
    x = _arr(s, shape, dtype)
    full = ((0, 0),) + pad + ((0, 0),) if data_format == "channels_last" else ((0, 0), (0, 0)) + pad
    run(lambda t: K.spatial_3d_padding(t, pad, data_format=data_format), lambda a: np.pad(a, full), [x], dtype)


@given(start=st.integers(-5, 5), stop=st.one_of(st.none(), st.integers(-5, 8)),
       step=st.sampled_from([1, 2, 3, -1, -2]), dtype=st.sampled_from(["int32", "int64", "float32", "float64"]))
def test_arange(start, stop, step, dtype):
    count()
    got = K.eval(K.arange(start, stop, step, dtype=dtype))
    want = np.arange(0, max(start, 0)) if stop is None else np.arange(start, stop, step)
    if stop is None and step != 1:
        got = K.eval(K.arange(start, dtype=dtype))
    assert got.dtype == np.dtype(dtype) and got.shape == want.shape
    np.testing.assert_array_equal(got, want.astype(dtype))

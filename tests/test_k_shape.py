"""K surface, groups 6 and 9: shape manipulation, gather/one_hot/slicing, dot, batch_dot."""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close, check_op

pytestmark = pytest.mark.usefixtures("kbackend")


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# reshape


@pytest.mark.parametrize("new", [(6, 4), (24,), (-1,), (4, -1), (2, -1, 2), (2, 3, 4), (1, 24), (3, 2, 2, 2)],
                         ids=str)
def test_reshape_static(new):
    x = _data((2, 3, 4))
    check_op(lambda t: K.reshape(t, new), lambda v: np.reshape(v, new), x, dtype="float32",
             modes=("variable", "numpy", "placeholder"))


def test_reshape_with_none_batch():
    x = _data((5, 3, 4))
    res = check_op(lambda t: K.reshape(t, (-1, 12)), lambda v: v.reshape(-1, 12), x, modes=("placeholder",))
    assert res["placeholder"][1] == (None, 12)


def test_reshape_with_symbolic_entries():
    p = K.placeholder(shape=(None, 3, 4))
    out = K.reshape(p, (K.shape(p)[0], -1))
    out2 = K.reshape(p, (K.shape(p)[0], 2, K.shape(p)[2] + 2))
    f = K.function([p], [out, out2])
    for n in (2, 5):
        a = _data((n, 3, 4), n)
        r, r2 = f([a])
        assert_close(r, a.reshape(n, 12), dtype="float32")
        assert_close(r2, a.reshape(n, 2, 6), dtype="float32")
    assert K.ndim(out) == 2


def test_reshape_bad_size_raises():
    with pytest.raises(ValueError):
        K.reshape(K.variable(np.zeros((2, 3))), (4, 2))


# ---------------------------------------------------------------------------------------------
# permute / expand / squeeze / flatten


@pytest.mark.parametrize("pattern", [(2, 0, 1), [2, 1, 0], (0, 2, 1), (1, 0, 2)], ids=str)
def test_permute_dimensions(pattern):
    x = _data((2, 3, 4))
    check_op(lambda t: K.permute_dimensions(t, pattern), lambda v: np.transpose(v, pattern), x,
             dtype="float32")


def test_permute_dimensions_tutorial_keyword():
    v = K.variable(_data((2, 3, 4)))
    assert K.int_shape(K.permute_dimensions(v, pattern=[2, 1, 0])) == (4, 3, 2)


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2, -3])
def test_expand_dims(axis):
    x = _data((2, 3))
    check_op(lambda t: K.expand_dims(t, axis=axis), lambda v: np.expand_dims(v, axis), x, dtype="float32")


def test_expand_dims_default_last():
    x = _data((2, 3))
    check_op(K.expand_dims, lambda v: v[..., None], x)


@pytest.mark.parametrize("shape,axis", [((2, 1, 3), 1), ((2, 3, 1), -1), ((2, 3, 1), 2), ((3, 1), -1)], ids=str)
def test_squeeze(shape, axis):
    x = _data(shape)
    check_op(lambda t: K.squeeze(t, axis), lambda v: np.squeeze(v, axis), x, dtype="float32")


def test_flatten():
    x = _data((2, 3, 4))
    check_op(K.flatten, lambda v: v.reshape(-1), x, dtype="float32")


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 2), (2, 1, 2, 3)])
def test_batch_flatten(shape):
    x = _data(shape)
    check_op(K.batch_flatten, lambda v: v.reshape(v.shape[0], -1), x, dtype="float32")


# ---------------------------------------------------------------------------------------------
# concatenate / stack


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2, -3])
def test_concatenate(axis):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for s in shapes[1:]:
        s[axis] = 1 + len(s)  # differ along the joined axis
    arrays = [_data(tuple(s), i) for i, s in enumerate(shapes)]
    none = [()] * 3 if axis in (0, -3) else [(0,)] * 3
    check_op(lambda *ts: K.concatenate(list(ts), axis=axis), lambda *vs: np.concatenate(vs, axis=axis),
             *arrays, dtype="float32", none_axes=none)


def test_concatenate_default_axis_last():
    a, b = _data((2, 3), 1), _data((2, 5), 2)
    res = check_op(lambda x, y: K.concatenate([x, y]), lambda x, y: np.concatenate([x, y], -1), a, b)
    assert res["placeholder"][1] == (None, 8)


def test_concatenate_none_batch_along_axis_0():
    a, b = _data((2, 3), 1), _data((4, 3), 2)
    check_op(lambda x, y: K.concatenate([x, y], axis=0), lambda x, y: np.concatenate([x, y], 0), a, b,
             modes=("placeholder",))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis):
    arrays = [_data((2, 3), i) for i in range(3)]
    check_op(lambda *ts: K.stack(list(ts), axis=axis), lambda *vs: np.stack(vs, axis=axis), *arrays,
             dtype="float32")


def test_stack_default_axis_0():
    arrays = [_data((3,), i) for i in range(4)]
    check_op(lambda *ts: K.stack(list(ts)), lambda *vs: np.stack(vs), *arrays, dtype="float32")


# ---------------------------------------------------------------------------------------------
# tile / repeat / repeat_elements


@pytest.mark.parametrize("shape,n", [((2, 3), (2, 3)), ((2, 3), (1, 2)), ((3,), 4), ((3,), (2,)),
                                     ((2, 3), 3), ((2, 3), (2,)), ((2, 1, 3), (1, 4, 1)), ((2, 3), [2, 1])],
                         ids=str)
def test_tile(shape, n):
    x = _data(shape)
    check_op(lambda t: K.tile(t, n), lambda v: np.tile(v, n), x, dtype="float32")


def test_repeat():
    x = _data((2, 3))
    res = check_op(lambda t: K.repeat(t, 4), lambda v: np.repeat(v[:, None, :], 4, axis=1), x, dtype="float32")
    assert res["placeholder"][1] == (None, 4, 3)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("rep", [1, 2, 3])
def test_repeat_elements(rep, axis):
    x = _data((2, 3, 4))
    check_op(lambda t: K.repeat_elements(t, rep, axis), lambda v: np.repeat(v, rep, axis=axis), x, dtype="float32")


def test_repeat_elements_static_shape_with_none():
    p = K.placeholder(shape=(None, 3, 4))
    r0 = K.repeat_elements(p, 2, axis=0)
    r1 = K.repeat_elements(p, 2, axis=1)
    assert K.int_shape(r0) == (None, 3, 4)
    assert r0._keras_shape == (None, 3, 4)
    assert K.int_shape(r1) == (None, 6, 4)
    assert r1._keras_shape == (None, 6, 4)
    q = K.placeholder(shape=(2, None, 4))
    assert K.int_shape(K.repeat_elements(q, 3, axis=1)) == (2, None, 4)
    assert K.int_shape(K.repeat_elements(q, 3, axis=2)) == (2, None, 12)
    a = _data((5, 3, 4))
    out = K.function([p], [r0, r1])([a])
    assert_close(out[0], np.repeat(a, 2, axis=0))
    assert_close(out[1], np.repeat(a, 2, axis=1))


# ---------------------------------------------------------------------------------------------
# reverse / slice / arange


@pytest.mark.parametrize("axes", [0, 1, -1, [0, 2], (1, 2), [-1, -3]], ids=str)
def test_reverse(axes):
    x = _data((2, 3, 4))
    check_op(lambda t: K.reverse(t, axes), lambda v: np.flip(v, axes if isinstance(axes, int) else tuple(axes)),
             x, dtype="float32")


@pytest.mark.parametrize("start,size", [((0, 0), (2, 3)), ((1, 1), (1, 2)), ([0, 2], [2, 1]), ((1, 0), (1, 3))],
                         ids=str)
def test_slice(start, size):
    x = _data((2, 3))
    sl = tuple(slice(s, s + n) for s, n in zip(start, size))
    check_op(lambda t: K.slice(t, start, size), lambda v: v[sl], x, dtype="float32")


def test_slice_3d():
    x = _data((4, 5, 6))
    check_op(lambda t: K.slice(t, (1, 0, 2), (2, 5, 3)), lambda v: v[1:3, 0:5, 2:5], x, dtype="float32")


def test_slice_wrong_length_raises():
    v = K.variable(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        K.slice(v, (0,), (1,))
    with pytest.raises(ValueError):
        K.slice(v, (0, 0), (1, 1, 1))


@pytest.mark.parametrize("args,kwargs,want", [
    ((5,), {}, np.arange(5, dtype=np.int32)),
    ((2, 10, 3), {}, np.arange(2, 10, 3, dtype=np.int32)),
    ((-3,), {}, np.arange(0, dtype=np.int32)),
    ((1, 4), {"dtype": "float32"}, np.arange(1, 4, dtype=np.float32)),
    ((0, 2, 0.5), {"dtype": "float64"}, np.arange(0, 2, 0.5, dtype=np.float64)),
    ((10, 2, -3), {"dtype": "int64"}, np.arange(10, 2, -3, dtype=np.int64)),
], ids=str)
def test_arange(args, kwargs, want):
    out = K.eval(K.arange(*args, **kwargs))
    assert_close(out, want, dtype=want.dtype)


def test_arange_default_dtype_int32():
    assert K.dtype(K.arange(3)) == "int32"


# ---------------------------------------------------------------------------------------------
# gather / one_hot


def test_gather_scalar_index_tutorial():
    ref = _data((4, 3))
    v = K.variable(ref)
    out = K.gather(reference=v, indices=0)
    assert K.int_shape(out) == (3,)
    assert_close(K.eval(out), ref[0], dtype="float32")
    assert_close(K.eval(K.gather(v, 3)), ref[3])


@pytest.mark.parametrize("idx", [[2, 0, 2], [1], [3, 3, 3, 0, 1]], ids=str)
def test_gather_vector(idx):
    ref = _data((4, 3, 2))
    check_op(lambda t: K.gather(t, idx), lambda v: v[np.array(idx)], ref, dtype="float32", none_axes=())
    # indices from an int32 variable
    iv = K.variable(np.array(idx), dtype="int32")
    assert_close(K.eval(K.gather(K.variable(ref), iv)), ref[np.array(idx)])


def test_gather_2d_index_variable():
    ref = _data((5, 3))
    idx = np.array([[0, 4], [2, 2], [1, 3]], np.int32)
    out = K.gather(K.variable(ref), K.variable(idx, dtype="int32"))
    assert K.int_shape(out) == (3, 2, 3)
    assert_close(K.eval(out), ref[idx], dtype="float32")


def test_gather_index_placeholder():
    ref = _data((6, 2))
    ip = K.placeholder(shape=(None,), dtype="int32")
    out = K.gather(K.variable(ref), ip)
    f = K.function([ip], [out])
    for idx in ([5, 0], [1, 1, 1, 2]):
        assert_close(f([np.array(idx, np.int32)])[0], ref[idx])


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_one_hot(shape):
    idx = np.random.default_rng(0).integers(0, 4, size=shape).astype(np.int32)
    want = np.eye(4, dtype=np.float32)[idx]
    res = check_op(lambda t: K.one_hot(t, 4), lambda v: np.eye(4)[v], idx, dtype=None)
    for val, _ in res.values():
        assert val.dtype.kind == "f"
        assert_close(val, want)


# ---------------------------------------------------------------------------------------------
# K.shape


def test_shape_with_none_dim():
    p = K.placeholder(shape=(None, 3, None))
    s = K.shape(p)
    f = K.function([p], [s, K.shape(p)[0], K.shape(p)[-1]])
    out = f([np.zeros((5, 3, 2), np.float32)])
    assert out[0].dtype.kind == "i"
    np.testing.assert_array_equal(out[0], [5, 3, 2])
    assert int(out[1]) == 5 and out[1].shape == ()
    assert int(out[2]) == 2
    out = f([np.zeros((1, 3, 7), np.float32)])
    np.testing.assert_array_equal(out[0], [1, 3, 7])


def test_shape_of_variable():
    v = K.variable(np.zeros((2, 3)))
    np.testing.assert_array_equal(K.eval(K.shape(v)), [2, 3])


def test_shape_arithmetic_with_tensors():
    p = K.placeholder(shape=(None, 4))
    n = K.cast(K.shape(p)[0], "float32")
    out = K.function([p], [K.sum(p) / n])([np.ones((8, 4), np.float32)])[0]
    assert_close(out, np.float32(4.0))


# ---------------------------------------------------------------------------------------------
# indexing


INDEXERS = {
    "[0]": lambda v: v[0],
    "[:, 1:3]": lambda v: v[:, 1:3],
    "[..., -1]": lambda v: v[..., -1],
    "[::-1]": lambda v: v[::-1],
    "[None]": lambda v: v[None],
    "[:, None, 0]": lambda v: v[:, None, 0],
    "[1:, ::2]": lambda v: v[1:, ::2],
    "[-1, :, 1:]": lambda v: v[-1, :, 1:],
    "[:, -2]": lambda v: v[:, -2],
    "[..., 1:3, :2]": lambda v: v[..., 1:3, :2],
    "[:, ::-2]": lambda v: v[:, ::-2],
}


@pytest.mark.parametrize("key", sorted(INDEXERS))
def test_indexing(key):
    f = INDEXERS[key]
    x = _data((3, 4, 5))
    check_op(f, f, x, dtype="float32", none_axes=(1,))
    check_op(f, f, x, dtype="float32", modes=("placeholder",), none_axes=(0,))


def test_indexing_tensor_scalar_index():
    x = _data((4, 3))
    i = K.placeholder(shape=(), dtype="int32")
    v = K.variable(x)
    f = K.function([i], [K.gather(v, i)])
    assert_close(f([2])[0], x[2])


# ---------------------------------------------------------------------------------------------
# dot / transpose


@pytest.mark.parametrize("xs,ys", [((4, 2), (2, 4)), ((2, 3), (4, 3, 5)), ((32, 28, 3), (3, 4)),
                                   ((4, 2), (5, 2, 3)), ((2, 3, 4), (5, 4, 2)), ((1, 3), (3, 1))], ids=str)
def test_dot(xs, ys):
    a, b = _data(xs, 1), _data(ys, 2)
    res = check_op(K.dot, np.dot, a, b, dtype="float32", rtol=1e-5, atol=1e-5, none_axes=[(0,), ()])
    assert res["variable"][1] == np.dot(a, b).shape


@pytest.mark.parametrize("xs,ys", [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3, 4), (4,))], ids=str)
def test_dot_1d(xs, ys):
    a, b = _data(xs, 1), _data(ys, 2)
    check_op(K.dot, np.dot, a, b, dtype="float32", rtol=1e-5, atol=1e-5, modes=("variable", "numpy"))


def test_dot_none_batch_static_shape():
    p = K.placeholder(shape=(None, 3))
    w = K.variable(_data((3, 4)))
    assert K.int_shape(K.dot(p, w)) == (None, 4)
    p3 = K.placeholder(shape=(None, 5, 3))
    assert K.int_shape(K.dot(p3, w)) == (None, 5, 4)


def test_dot_mismatch_raises():
    with pytest.raises(ValueError):
        K.dot(K.variable(np.zeros((2, 3))), K.variable(np.zeros((4, 2))))


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_transpose(shape):
    x = _data(shape)
    check_op(K.transpose, np.transpose, x, dtype="float32")


# ---------------------------------------------------------------------------------------------
# batch_dot


def _batch_dot_ref(x, y, axes=None):
    if axes is None:
        axes = (x.ndim - 1, y.ndim - 1) if y.ndim == 2 else (x.ndim - 1, y.ndim - 2)
    if isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = [a % n for a, n in zip(axes, (x.ndim, y.ndim))]
    out = np.stack([np.tensordot(x[b], y[b], axes=(ax - 1, ay - 1)) for b in range(x.shape[0])])
    if out.ndim == 1:
        out = out[:, None]
    return out


@pytest.mark.parametrize("xs,ys,axes", [
    ((4, 5), (4, 5), None),            # rank-1 result expanded to (batch, 1)
    ((4, 2, 3), (4, 3, 5), None),      # batched matmul
    ((4, 3), (4, 3, 5), None),
    ((4, 5, 3), (4, 3), None),         # 2-D y: axes (2, 1)
    ((3, 2, 3, 4), (3, 4, 5), None),
    ((32, 20, 1), (32, 30, 20), (1, 2)),
    ((4, 3, 2), (4, 3, 5), 1),
    ((4, 3, 2), (4, 5, 2), 2),
    ((4, 5), (4, 5), 1),
    ((4, 3, 2), (4, 3, 5), [1, 1]),
    ((4, 2, 3), (4, 5, 3), (2, 2)),
    ((4, 2, 3), (4, 3, 5), (-1, -2)),
    ((2, 3, 4), (2, 4, 3), (1, 2)),
], ids=str)
def test_batch_dot(xs, ys, axes):
    a, b = _data(xs, 1), _data(ys, 2)
    want = _batch_dot_ref(a, b, axes)
    res = check_op(lambda x, y: K.batch_dot(x, y, axes=axes), lambda x, y: _batch_dot_ref(x, y, axes), a, b,
                   dtype="float32", rtol=1e-5, atol=1e-5)
    assert res["variable"][1] == want.shape


def test_batch_dot_keras_doc_example():
    x = K.ones(shape=(32, 20, 1))
    y = K.ones(shape=(32, 30, 20))
    xy = K.batch_dot(x, y, axes=(1, 2))
    assert K.int_shape(xy) == (32, 1, 30)
    assert_close(K.eval(xy), np.full((32, 1, 30), 20.0, np.float32))


def test_batch_dot_mismatched_contraction_raises():
    with pytest.raises(ValueError):
        K.batch_dot(K.variable(np.zeros((2, 3, 4))), K.variable(np.zeros((2, 5, 6))), axes=(2, 1))

"""Conformance of K's 3-D convolution, pooling, resizing and padding ops with Keras 2 semantics.

Values are compared with the independent loop references in tests/nn_reference.py; gradients with
central finite differences in float64. Each op is checked through variables and through
placeholders with an unknown (None) batch axis (and, where noted, unknown spatial axes, which
defer 'same' padding to run time); K.int_shape must agree with the evaluated shape.
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R
from k_helpers import check_grad, eval_modes

pytestmark = pytest.mark.usefixtures("kbackend")

RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture
def f64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


def _r(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _distinct(shape, seed=0):
    """Values far apart (0.05 step) in random order: max-pool FD never changes the argmax."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n).reshape(shape) * 0.05 - n * 0.025)


def _xshape(ndhwc, data_format):
    n, d, h, w, c = ndhwc
    return (n, c, d, h, w) if data_format == "channels_first" else (n, d, h, w, c)


def check(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL, atol=ATOL):
    want = np.asarray(want)
    dtype = np.asarray(arrays[0]).dtype
    res = eval_modes(kfn, arrays, modes=("variable", "placeholder"), none_axes=none_axes)
    for mode, (val, static) in res.items():
        val = np.asarray(val)
        assert val.shape == want.shape, f"[{mode}] shape {val.shape} != {want.shape}"
        assert val.dtype == dtype, f"[{mode}] dtype {val.dtype} != {dtype}"
        np.testing.assert_allclose(val.astype(np.float64), want, rtol=rtol, atol=atol, err_msg=f"[{mode}]")
        static = tuple(static)
        if mode == "placeholder":
            exp = tuple(None if i in static_none else d for i, d in enumerate(want.shape))
            assert static == exp, f"[{mode}] int_shape {static} != {exp}"
        else:
            assert static == want.shape, f"[{mode}] int_shape {static} != {want.shape}"
    return res


def _raises_value_error(thunk):
    with pytest.raises(ValueError):
        K.eval(thunk())


# =============================================================================================
# conv3d

CONV3D_CASES = [
    # (x NDHWC, kernel (kd, kh, kw, in, out), strides, padding, dilation)
    ((2, 4, 5, 4, 2), (3, 3, 2, 2, 3), (1, 1, 1), "valid", (1, 1, 1)),
    ((2, 4, 5, 4, 2), (3, 3, 2, 2, 3), (1, 1, 1), "same", (1, 1, 1)),
    ((1, 5, 6, 5, 2), (2, 2, 2, 2, 2), (2, 2, 2), "same", (1, 1, 1)),   # even kernel, extra cell after
    ((1, 5, 5, 6, 1), (3, 2, 3, 1, 2), (2, 3, 1), "same", (1, 1, 1)),
    ((1, 5, 5, 6, 1), (3, 2, 3, 1, 2), (2, 3, 1), "valid", (1, 1, 1)),
    ((1, 4, 4, 4, 2), (4, 1, 2, 2, 2), (1, 1, 1), "same", (1, 1, 1)),   # total pad 3: 1 before, 2 after
    ((1, 6, 5, 5, 1), (2, 2, 3, 1, 2), (1, 1, 1), "valid", (2, 1, 2)),  # dilation
    ((1, 6, 5, 5, 1), (2, 2, 3, 1, 2), (1, 2, 1), "same", (2, 2, 1)),
    ((2, 3, 4, 3, 3), (1, 1, 1, 3, 2), (1, 1, 1), "valid", (1, 1, 1)),  # pointwise
    ((2, 3, 4, 3, 3), (1, 1, 1, 3, 2), (2, 2, 2), "same", (1, 1, 1)),
    ((1, 3, 4, 2, 2), (3, 4, 2, 2, 2), (1, 1, 1), "valid", (1, 1, 1)),  # kernel as large as the input
    ((1, 5, 5, 5, 1), (2, 2, 2, 1, 1), (3, 3, 3), "valid", (1, 1, 1)),  # stride larger than kernel
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", CONV3D_CASES, ids=str)
def test_conv3d(case, data_format):
    xs, ks, strides, padding, dil = case
    x = _r(_xshape(xs, data_format), 1)
    k = _r(ks, 2)
    want = R.conv3d(x, k, strides, padding, data_format, dil)
    check(lambda a, b: K.conv3d(a, b, strides=strides, padding=padding, data_format=data_format,
                                dilation_rate=dil), want, [x, k], none_axes=[(0,), ()])


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv3d_unknown_spatial_dims(padding):
    """With None spatial axes, 'same' pads are resolved from the arrays at run time."""
    x, k = _r((1, 5, 4, 6, 2), 3), _r((2, 3, 2, 2, 2), 4)
    want = R.conv3d(x, k, (2, 2, 3), padding)
    check(lambda a, b: K.conv3d(a, b, strides=(2, 2, 3), padding=padding), want, [x, k],
          none_axes=[(0, 1, 2, 3), ()], static_none=(0, 1, 2, 3))


def test_conv3d_same_padding_is_asymmetric_extra_cell_after():
    # ones 3x3x3 and a 2x2x2 kernel of ones, 'same' stride 1: all the padding goes after, so the
    # first cell sees 8 ones and the last cell (corner) only 1
    y = K.eval(K.conv3d(K.variable(np.ones((1, 3, 3, 3, 1))), K.variable(np.ones((2, 2, 2, 1, 1))),
                        padding="same"))
    assert y.shape == (1, 3, 3, 3, 1)
    assert y[0, 0, 0, 0, 0] == 8 and y[0, 2, 2, 2, 0] == 1 and y[0, 0, 2, 2, 0] == 2


def test_conv3d_kernel_layout_is_kd_kh_kw_in_out():
    x = _r((1, 2, 2, 2, 2), 5)
    k = np.zeros((1, 1, 1, 2, 3), dtype="float32")
    k[0, 0, 0, 1, 2] = 1.0  # input channel 1 -> output channel 2
    y = K.eval(K.conv3d(K.variable(x), K.variable(k)))
    np.testing.assert_allclose(y[..., 2], x[..., 1])
    np.testing.assert_array_equal(y[..., :2], 0)


def test_conv3d_default_data_format_follows_config_and_float64():
    K.set_image_data_format("channels_first")
    x, k = _r((1, 2, 3, 4, 3), 6, dtype="float64"), _r((2, 2, 2, 2, 1), 7, dtype="float64")
    y = K.conv3d(K.variable(x, dtype="float64"), K.variable(k, dtype="float64"))
    assert K.dtype(y) == "float64"
    np.testing.assert_allclose(K.eval(y), R.conv3d(x, k, data_format="channels_first"), rtol=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(padding="full"),
    dict(padding="causal"),
    dict(strides=(1, 1)),
    dict(strides=(0, 1, 1)),
    dict(dilation_rate=(1, 1)),
    dict(data_format="channels_middle"),
])
def test_conv3d_bad_arguments(kwargs):
    x, k = K.variable(_r((1, 4, 4, 4, 2))), K.variable(_r((2, 2, 2, 2, 1)))
    _raises_value_error(lambda: K.conv3d(x, k, **kwargs))


def test_conv3d_bad_shapes():
    _raises_value_error(lambda: K.conv3d(K.variable(_r((1, 4, 4, 2))), K.variable(_r((2, 2, 2, 2, 1)))))
    _raises_value_error(lambda: K.conv3d(K.variable(_r((1, 4, 4, 4, 3))), K.variable(_r((2, 2, 2, 2, 1)))))
    _raises_value_error(lambda: K.conv3d(K.variable(_r((1, 2, 4, 4, 2))), K.variable(_r((3, 2, 2, 2, 1)))))


# =============================================================================================
# conv3d_transpose

CONV3D_T_CASES = [
    # (x NDHWC, kernel (kd, kh, kw, out, in), output NDHWC, strides, padding)
    ((2, 2, 3, 2, 3), (3, 3, 3, 2, 3), (2, 5, 7, 5, 2), (2, 2, 2), "valid"),
    ((2, 2, 3, 2, 3), (3, 3, 3, 2, 3), (2, 4, 6, 4, 2), (2, 2, 2), "same"),
    ((1, 3, 2, 2, 2), (2, 2, 2, 1, 2), (1, 6, 4, 4, 1), (2, 2, 2), "same"),   # even kernel
    ((1, 3, 2, 2, 2), (2, 3, 2, 2, 2), (1, 3, 2, 2, 2), (1, 1, 1), "same"),
    ((1, 2, 2, 3, 1), (2, 2, 1, 2, 1), (1, 5, 3, 7, 2), (2, 1, 3), "valid"),
    ((1, 2, 2, 2, 2), (3, 3, 3, 1, 2), (1, 3, 3, 3, 1), (2, 2, 2), "same"),   # odd output size
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", CONV3D_T_CASES, ids=str)
def test_conv3d_transpose(case, data_format):
    xs, ks, os_, strides, padding = case
    x = _r(_xshape(xs, data_format), 8)
    k = _r(ks, 9)
    out_shape = _xshape(os_, data_format)
    want = R.conv3d_transpose(x, k, out_shape, strides, padding, data_format)
    check(lambda a, b: K.conv3d_transpose(a, b, out_shape, strides=strides, padding=padding,
                                          data_format=data_format), want, [x, k],
          none_axes=[(0,), ()])


def test_conv3d_transpose_none_batch_in_output_shape():
    x, k = _r((2, 2, 2, 2, 2), 10), _r((2, 2, 2, 3, 2), 11)
    p = K.placeholder(shape=(None, 2, 2, 2, 2))
    y = K.conv3d_transpose(p, K.variable(k), (None, 4, 4, 4, 3), strides=(2, 2, 2), padding="same")
    assert tuple(K.int_shape(y)) == (None, 4, 4, 4, 3)
    val = K.function([p], [y])([x])[0]
    np.testing.assert_allclose(val, R.conv3d_transpose(x, k, (2, 4, 4, 4, 3), (2, 2, 2), "same"),
                               rtol=RTOL, atol=ATOL)


def test_conv3d_transpose_is_the_input_gradient_of_conv3d():
    x, k = _r((1, 5, 4, 5, 2), 12), _r((3, 2, 3, 2, 3), 13)
    g = _r((1, 3, 2, 3, 3), 14)
    xv = K.variable(x)
    y = K.conv3d(xv, K.variable(k), strides=(2, 2, 2), padding="same")
    assert K.int_shape(y) == g.shape
    dx = K.gradients(K.sum(y * K.constant(g)), [xv])[0]
    dt = K.conv3d_transpose(K.constant(g), K.variable(k), x.shape, strides=(2, 2, 2), padding="same")
    np.testing.assert_allclose(K.eval(dt), K.eval(dx), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("out_shape,strides,padding", [
    ((1, 5, 5, 5, 2), (1, 1, 1), "valid"),      # convolves to 3, not 2
    ((1, 5, 5, 5, 2), (2, 2, 2), "same"),       # convolves to 3, not 2
    ((1, 4, 4, 4, 3), (2, 2, 2), "same"),       # channel mismatch with the kernel
    ((1, 4, 4, 2), (2, 2, 2), "same"),          # 4 entries
])
def test_conv3d_transpose_impossible_output_shape_raises(out_shape, strides, padding):
    x, k = K.variable(_r((1, 2, 2, 2, 2))), K.variable(_r((3, 3, 3, 2, 2)))
    _raises_value_error(lambda: K.conv3d_transpose(x, k, out_shape, strides=strides, padding=padding))


# =============================================================================================
# pool3d

POOL3D_CASES = [
    # (x NDHWC, pool, strides, padding)
    ((2, 4, 4, 4, 2), (2, 2, 2), (2, 2, 2), "valid"),
    ((2, 5, 4, 5, 2), (2, 2, 2), (2, 2, 2), "same"),
    ((1, 5, 5, 4, 1), (3, 2, 3), (1, 2, 1), "same"),
    ((1, 5, 5, 4, 1), (3, 2, 3), (1, 2, 1), "valid"),
    ((1, 4, 6, 5, 2), (2, 3, 2), (3, 2, 3), "same"),    # stride larger than pool
    ((1, 3, 3, 3, 2), (3, 3, 3), (1, 1, 1), "same"),
    ((1, 3, 4, 2, 1), (1, 1, 1), (1, 1, 1), "valid"),
]


@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", POOL3D_CASES, ids=str)
def test_pool3d(case, data_format, pool_mode):
    xs, pool, strides, padding = case
    x = _r(_xshape(xs, data_format), 15)
    want = R.pool3d(x, pool, strides, padding, data_format, pool_mode)
    check(lambda a: K.pool3d(a, pool, strides=strides, padding=padding, data_format=data_format,
                             pool_mode=pool_mode), want, [x])


@pytest.mark.parametrize("pool_mode", ["max", "avg"])
def test_pool3d_unknown_spatial_dims(pool_mode):
    x = _r((2, 5, 4, 3, 2), 16)
    want = R.pool3d(x, (2, 3, 2), (2, 2, 2), "same", pool_mode=pool_mode)
    check(lambda a: K.pool3d(a, (2, 3, 2), (2, 2, 2), "same", pool_mode=pool_mode), want, [x],
          none_axes=(0, 1, 2, 3), static_none=(0, 1, 2, 3))


def test_avg_pool3d_same_divides_by_real_cells():
    y = K.eval(K.pool3d(K.variable(np.ones((1, 3, 3, 3, 1), dtype="float32")), (2, 2, 2), (2, 2, 2),
                        "same", pool_mode="avg"))
    np.testing.assert_array_equal(y, np.ones((1, 2, 2, 2, 1)))


def test_max_pool3d_negative_values_and_default_strides():
    x = -np.abs(_r((1, 3, 3, 3, 1), 17)) - 1
    y = K.eval(K.pool3d(K.variable(x), pool_size=(2, 2, 2), padding="same"))   # strides (1, 1, 1)
    np.testing.assert_allclose(y, R.pool3d(x, (2, 2, 2), (1, 1, 1), "same"), rtol=RTOL)
    assert (y < -1).all()   # padding never wins


@pytest.mark.parametrize("kwargs", [
    dict(pool_mode="sum"),
    dict(padding="full"),
    dict(pool_size=(2, 2)),
    dict(strides=(1, 1)),
    dict(pool_size=(5, 1, 1)),        # does not fit under 'valid'
])
def test_pool3d_bad_arguments(kwargs):
    x = K.variable(_r((1, 4, 4, 4, 1)))
    args = dict(pool_size=(2, 2, 2))
    args.update(kwargs)
    _raises_value_error(lambda: K.pool3d(x, **args))


# =============================================================================================
# resize_volumes, spatial_3d_padding


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("factors", [(2, 2, 2), (1, 3, 2), (2, 1, 1)])
def test_resize_volumes(factors, data_format):
    x = _r(_xshape((2, 2, 3, 2, 2), data_format), 18)
    want = R.resize_volumes(x, *factors, data_format)
    check(lambda a: K.resize_volumes(a, *factors, data_format), want, [x])


def test_resize_volumes_bad_arguments():
    x = K.variable(_r((1, 2, 2, 2, 1)))
    _raises_value_error(lambda: K.resize_volumes(x, 2, 2, 2, "channels_middle"))
    _raises_value_error(lambda: K.resize_volumes(x, 0, 2, 2, "channels_last"))
    _raises_value_error(lambda: K.resize_volumes(K.variable(_r((1, 2, 2, 1))), 2, 2, 2, "channels_last"))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", [((1, 1), (1, 1), (1, 1)), ((0, 2), (1, 0), (2, 1))])
def test_spatial_3d_padding(padding, data_format):
    x = _r(_xshape((2, 2, 3, 2, 2), data_format), 19)
    check(lambda a: K.spatial_3d_padding(a, padding, data_format),
          R.spatial_3d_padding(x, padding, data_format), [x])


# =============================================================================================
# gradients against finite differences (float64)


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 4, 4, 3, 2), (2, 3, 2, 2, 2), (1, 1, 1), "valid", (1, 1, 1), "channels_last"),
    ((1, 5, 4, 4, 1), (2, 2, 2, 1, 2), (2, 2, 2), "same", (1, 1, 1), "channels_last"),    # strided, even
    ((2, 3, 4, 5, 1), (2, 3, 2, 1, 1), (2, 1, 2), "same", (1, 1, 1), "channels_last"),
    ((1, 5, 4, 5, 1), (2, 2, 2, 1, 2), (1, 1, 1), "valid", (2, 1, 2), "channels_last"),   # dilation
    ((1, 4, 4, 4, 1), (2, 2, 2, 1, 1), (1, 1, 1), "same", (2, 2, 2), "channels_last"),
    ((1, 4, 5, 4, 2), (2, 2, 3, 2, 1), (2, 2, 2), "same", (1, 1, 1), "channels_first"),
], ids=str)
def test_conv3d_gradient(case):
    xs, ks, strides, padding, dil, df = case
    x = _r(_xshape(xs, df), 81, dtype="float64")
    k = _r(ks, 82, dtype="float64")
    check_grad(lambda a, b: K.conv3d(a, b, strides=strides, padding=padding, data_format=df,
                                     dilation_rate=dil), [x, k], none_axes=[(0,), ()])


@pytest.mark.usefixtures("f64")
def test_conv3d_gradient_unknown_spatial_dims():
    x, k = _r((1, 4, 3, 4, 1), 83, dtype="float64"), _r((2, 2, 2, 1, 2), 84, dtype="float64")
    check_grad(lambda a, b: K.conv3d(a, b, strides=(2, 2, 2), padding="same"), [x, k],
               none_axes=[(0, 1, 2, 3), ()])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 2, 2, 2, 2), (3, 3, 3, 1, 2), (1, 5, 5, 5, 1), (2, 2, 2), "valid", "channels_last"),
    ((1, 2, 2, 3, 1), (2, 2, 2, 2, 1), (1, 4, 4, 6, 2), (2, 2, 2), "same", "channels_last"),
    ((1, 2, 3, 2, 2), (3, 2, 3, 1, 2), (1, 3, 5, 4, 1), (2, 2, 2), "same", "channels_first"),
], ids=str)
def test_conv3d_transpose_gradient(case):
    xs, ks, os_, strides, padding, df = case
    x = _r(_xshape(xs, df), 85, dtype="float64")
    k = _r(ks, 86, dtype="float64")
    out_shape = _xshape(os_, df)
    check_grad(lambda a, b: K.conv3d_transpose(a, b, out_shape, strides=strides, padding=padding,
                                               data_format=df), [x, k])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize("case", [
    ((1, 4, 5, 4, 2), (2, 2, 2), (2, 2, 2), "same", "channels_last"),
    ((1, 5, 4, 3, 1), (3, 2, 3), (2, 1, 2), "same", "channels_last"),
    ((1, 4, 4, 4, 1), (2, 3, 2), (1, 1, 1), "valid", "channels_last"),
    ((1, 2, 3, 5, 4), (2, 2, 3), (2, 2, 2), "same", "channels_first"),
], ids=str)
def test_pool3d_gradient(case, pool_mode):
    xs, pool, strides, padding, df = case
    x = _distinct(xs, 92) if pool_mode == "max" else _r(xs, 92, dtype="float64")
    check_grad(lambda a: K.pool3d(a, pool, strides=strides, padding=padding, data_format=df,
                                  pool_mode=pool_mode), [x], none_axes=[(0,)])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("pool_mode", ["max", "avg"])
def test_pool3d_gradient_unknown_spatial_dims(pool_mode):
    x = _distinct((1, 3, 4, 5, 1), 93) if pool_mode == "max" else _r((1, 3, 4, 5, 1), 93, dtype="float64")
    check_grad(lambda a: K.pool3d(a, (2, 2, 2), (2, 2, 2), "same", pool_mode=pool_mode), [x],
               none_axes=[(0, 1, 2, 3)])


@pytest.mark.usefixtures("f64")
def test_resize_volumes_and_padding_gradients():
    x = _r((1, 2, 2, 3, 2), 94, dtype="float64")
    check_grad(lambda a: K.resize_volumes(a, 2, 1, 3, "channels_last"), [x])
    check_grad(lambda a: K.resize_volumes(a, 1, 2, 2, "channels_first"), [x])
    check_grad(lambda a: K.spatial_3d_padding(a, ((1, 0), (0, 2), (1, 1)), "channels_first"), [x])


@pytest.mark.usefixtures("f64")
def test_second_order_through_conv3d_matches_finite_differences():
    """conv3d's backprop primitives have VJPs: d/dx of a function of dL/dx is available."""
    x = _r((1, 3, 4, 3, 1), 95, dtype="float64")
    kv = K.constant(_r((2, 2, 2, 1, 2), 96, dtype="float64"), dtype="float64")

    def inner_grad(a):
        y = K.conv3d(a, kv, strides=(2, 2, 2), padding="same")
        return K.gradients(K.sum(K.square(y) * K.square(a[:, :2, :2, :2, :1])), [a])[0]
    check_grad(inner_grad, [x])


@pytest.mark.usefixtures("f64")
def test_second_order_through_avg_pool3d():
    x = _r((1, 3, 4, 3, 1), 97, dtype="float64")

    def inner_grad(a):
        y = K.pool3d(a, (2, 2, 2), (2, 2, 2), "same", pool_mode="avg")
        return K.gradients(K.sum(K.square(y)), [a])[0]
    check_grad(inner_grad, [x])


@pytest.mark.usefixtures("f64")
def test_second_order_through_max_pool3d():
    # pool_backprop is rank-generic: 3-D max pooling has the 2-D second-order rule (non-overlapping
    # windows), checked against finite differences
    x = _r((1, 4, 4, 2, 1), 98, dtype="float64")

    def inner_grad(a):
        y = K.pool3d(a, (2, 2, 2), (2, 2, 2), pool_mode="max")
        return K.gradients(K.sum(K.square(y)), [a])[0]
    check_grad(inner_grad, [x])


def test_second_order_through_overlapping_max_pool3d_raises_clearly():
    x = K.placeholder(shape=(1, 4, 4, 4, 1), dtype="float32")
    g = K.gradients(K.sum(K.square(K.pool3d(x, (2, 2, 2), (1, 1, 1)))), [x])[0]
    with pytest.raises(NotImplementedError, match="strides equal to pool_size"):
        K.gradients(K.sum(g), [x])

"""Conformance of K's resize_images, spatial_2d_padding and temporal_padding with Keras 2 semantics,
and the gradients of K's convolution, pooling and padding ops against central finite differences
in float64 (values against tests/nn_reference.py).
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R
from k_helpers import check_grad

from k_conv_helpers import ATOL, RTOL, _distinct, _r, _raises_value_error, _xshape, check

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture
def f64():
    K.set_floatx("float64")  # undone by the conftest's config fixture
    yield


# =============================================================================================
# resize_images, spatial_2d_padding, temporal_padding


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shape,fh,fw", [((2, 3, 4, 2), 2, 3), ((1, 2, 2, 1), 2, 2),
                                         ((2, 3, 2, 3), 3, 1), ((1, 1, 3, 2), 4, 2),
                                         ((2, 3, 3, 1), 1, 1)])
def test_resize_images(shape, fh, fw, data_format, interpolation):
    x = _r(_xshape(shape, data_format), 61)
    want = R.resize_images(x, fh, fw, data_format, interpolation)
    check(lambda a: K.resize_images(a, fh, fw, data_format, interpolation=interpolation),
          want, [x])


def test_resize_bilinear_known_values():
    x = np.arange(4, dtype="float32").reshape(1, 2, 2, 1)
    y = K.eval(K.resize_images(K.variable(x), 2, 2, "channels_last", interpolation="bilinear"))
    want = [[0, 0.5, 1, 1], [1, 1.5, 2, 2], [2, 2.5, 3, 3], [2, 2.5, 3, 3]]
    np.testing.assert_allclose(y[0, :, :, 0], want, rtol=1e-6, atol=1e-7)


def test_resize_nearest_is_repeat_elements_and_tutorial_call():
    x = _r((1, 2, 3, 3), 62)
    y = K.eval(K.resize_images(K.variable(x), 10, 10, data_format="channels_last"))
    np.testing.assert_array_equal(y, np.repeat(np.repeat(x, 10, axis=1), 10, axis=2))


@pytest.mark.parametrize("kwargs", [{"data_format": "channels_last", "interpolation": "bicubic"},
                                    {"data_format": "channels_middle"}])
def test_resize_images_bad_arguments(kwargs):
    x = K.variable(_r((1, 2, 2, 1)))
    _raises_value_error(lambda: K.resize_images(x, 2, 2, **kwargs))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", [((1, 1), (1, 1)), ((1, 2), (3, 0)), ((0, 0), (2, 1)),
                                     ((3, 3), (3, 3))])
def test_spatial_2d_padding(padding, data_format):
    x = _r(_xshape((2, 3, 4, 2), data_format), 71)
    want = R.spatial_2d_padding(x, padding, data_format)
    check(lambda a: K.spatial_2d_padding(a, padding=padding, data_format=data_format), want, [x])


def test_spatial_2d_padding_defaults_and_unknown_dims():
    x = _r((2, 3, 4, 2), 72)
    y = K.spatial_2d_padding(K.variable(x))
    np.testing.assert_array_equal(K.eval(y), R.spatial_2d_padding(x))
    # unknown spatial dims stay None
    p = K.placeholder(shape=(None, None, 4, 2))
    y = K.spatial_2d_padding(p, padding=((1, 2), (0, 3)))
    assert tuple(K.int_shape(y)) == (None, None, 7, 2)
    val = K.function([p], [y])([x])[0]
    np.testing.assert_array_equal(val, R.spatial_2d_padding(x, ((1, 2), (0, 3))))


@pytest.mark.parametrize("padding", [(1, 1), (2, 0), (0, 3)])
def test_temporal_padding(padding):
    x = _r((2, 4, 3), 73)
    want = R.temporal_padding(x, padding)
    check(lambda a: K.temporal_padding(a, padding=padding), want, [x])


def test_temporal_padding_default():
    x = _r((2, 4, 3), 74)
    y = K.temporal_padding(K.variable(x))
    np.testing.assert_array_equal(K.eval(y), R.temporal_padding(x, (1, 1)))


# =============================================================================================
# gradients against finite differences (float64)


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 5, 5, 2), (3, 3, 2, 2), (1, 1), "valid", (1, 1), "channels_last"),
    ((1, 5, 5, 2), (3, 3, 2, 2), (2, 2), "same", (1, 1), "channels_last"),
    ((2, 5, 4, 1), (2, 2, 1, 2), (2, 2), "same", (1, 1), "channels_last"),
    ((1, 5, 5, 2), (2, 2, 2, 2), (3, 3), "valid", (1, 1), "channels_last"),
    ((1, 6, 6, 1), (2, 2, 1, 2), (1, 1), "same", (2, 2), "channels_last"),
    ((1, 6, 5, 2), (3, 3, 2, 2), (1, 1), "valid", (2, 1), "channels_last"),
    ((1, 5, 5, 2), (3, 3, 2, 2), (2, 2), "same", (1, 1), "channels_first"),
    ((2, 4, 5, 2), (2, 3, 2, 1), (1, 2), "valid", (1, 1), "channels_first"),
], ids=str)
def test_conv2d_gradient(case):
    xs, ks, strides, padding, dil, df = case
    x = _r(_xshape(xs, df), 81, dtype="float64")
    k = _r(ks, 82, dtype="float64")
    check_grad(lambda a, b: K.conv2d(a, b, strides=strides, padding=padding, data_format=df,
                                     dilation_rate=dil), [x, k], none_axes=[(0,), ()])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((2, 7, 2), (3, 2, 2), 1, "valid", 1, "channels_last"),
    ((2, 7, 2), (3, 2, 2), 2, "same", 1, "channels_last"),
    ((1, 8, 2), (2, 2, 3), 1, "same", 2, "channels_last"),
    ((1, 7, 2), (3, 2, 2), 1, "causal", 2, "channels_last"),
    ((2, 7, 2), (3, 2, 2), 2, "same", 1, "channels_first"),
], ids=str)
def test_conv1d_gradient(case):
    xs, ks, strides, padding, dil, df = case
    n, t, c = xs
    x = _r((n, c, t) if df == "channels_first" else xs, 83, dtype="float64")
    k = _r(ks, 84, dtype="float64")
    check_grad(lambda a, b: K.conv1d(a, b, strides=strides, padding=padding, data_format=df,
                                     dilation_rate=dil), [x, k])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 3, 3, 2), (3, 3, 2, 2), (1, 7, 7, 2), (2, 2), "valid", "channels_last"),
    ((1, 3, 3, 2), (3, 3, 2, 2), (1, 6, 6, 2), (2, 2), "same", "channels_last"),
    ((2, 2, 3, 1), (2, 2, 2, 1), (2, 4, 6, 2), (2, 2), "same", "channels_last"),
    ((1, 3, 3, 2), (3, 3, 1, 2), (1, 5, 5, 1), (2, 2), "same", "channels_first"),
], ids=str)
def test_conv2d_transpose_gradient(case):
    xs, ks, os_, strides, padding, df = case
    x = _r(_xshape(xs, df), 85, dtype="float64")
    k = _r(ks, 86, dtype="float64")
    out_shape = _xshape(os_, df)
    check_grad(lambda a, b: K.conv2d_transpose(a, b, out_shape, strides=strides, padding=padding,
                                               data_format=df), [x, k])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 5, 5, 2), (3, 3, 2, 1), (1, 1), "valid", "channels_last"),
    ((1, 5, 5, 2), (3, 3, 2, 2), (2, 2), "same", "channels_last"),
    ((2, 4, 5, 2), (2, 2, 2, 2), (1, 1), "same", "channels_first"),
], ids=str)
def test_depthwise_conv2d_gradient(case):
    xs, ks, strides, padding, df = case
    x = _r(_xshape(xs, df), 87, dtype="float64")
    k = _r(ks, 88, dtype="float64")
    check_grad(lambda a, b: K.depthwise_conv2d(a, b, strides=strides, padding=padding,
                                               data_format=df), [x, k])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("case", [
    ((1, 5, 5, 2), (3, 3, 2, 2), 3, (2, 2), "same", "channels_last"),
    ((1, 4, 5, 2), (2, 2, 2, 1), 2, (1, 1), "valid", "channels_first"),
], ids=str)
def test_separable_conv2d_gradient(case):
    xs, dks, cout, strides, padding, df = case
    x = _r(_xshape(xs, df), 89, dtype="float64")
    dk = _r(dks, 90, dtype="float64")
    pk = _r((1, 1, dks[2] * dks[3], cout), 91, dtype="float64")
    check_grad(lambda a, b, c: K.separable_conv2d(a, b, c, strides=strides, padding=padding,
                                                  data_format=df), [x, dk, pk])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize("case", [
    ((1, 5, 5, 2), (2, 2), (2, 2), "same", "channels_last"),
    ((2, 5, 4, 1), (3, 3), (2, 2), "same", "channels_last"),
    ((1, 6, 6, 2), (3, 3), (1, 1), "valid", "channels_last"),
    ((1, 7, 7, 1), (2, 2), (3, 3), "same", "channels_last"),
    ((1, 2, 5, 5), (3, 2), (2, 2), "same", "channels_first"),
], ids=str)
def test_pool2d_gradient(case, pool_mode):
    xs, pool, strides, padding, df = case
    x = _distinct(xs, 92) if pool_mode == "max" else _r(xs, 92, dtype="float64")
    check_grad(lambda a: K.pool2d(a, pool, strides=strides, padding=padding, data_format=df,
                                  pool_mode=pool_mode), [x], none_axes=[(0,)])


@pytest.mark.usefixtures("f64")
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("shape,fh,fw,df", [((1, 3, 2, 2), 2, 3, "channels_last"),
                                            ((2, 1, 3, 2), 3, 2, "channels_first")])
def test_resize_images_gradient(shape, fh, fw, df, interpolation):
    x = _r(shape, 93, dtype="float64")
    check_grad(lambda a: K.resize_images(a, fh, fw, df, interpolation=interpolation), [x])


@pytest.mark.usefixtures("f64")
def test_padding_gradients():
    x = _r((1, 2, 3, 2), 94, dtype="float64")
    check_grad(lambda a: K.spatial_2d_padding(a, ((1, 2), (0, 1)), "channels_last"), [x])
    check_grad(lambda a: K.spatial_2d_padding(a, ((2, 0), (1, 1)), "channels_first"), [x])
    check_grad(lambda a: K.temporal_padding(a[0], (1, 2)), [x])


def test_conv2d_transpose_stacked_output_shape_tensor():
    """Keras 2.2's Conv2DTranspose may hand over K.stack((batch_tensor, h, w, filters))."""
    x, k = _r((2, 3, 3, 3), 30), _r((3, 3, 2, 3), 31)
    p = K.placeholder(shape=(None, 3, 3, 3))
    out = K.stack([K.shape(p)[0], 6, 6, 2])
    y = K.conv2d_transpose(p, K.variable(k), out, strides=(2, 2), padding="same")
    assert tuple(K.int_shape(y))[1:] == (6, 6, 2)
    val = K.function([p], [y])([x])[0]
    np.testing.assert_allclose(val, R.conv2d_transpose(x, k, (2, 6, 6, 2), (2, 2), "same"),
                               rtol=RTOL, atol=ATOL)


def test_conv2d_transpose_dynamic_spatial_entry():
    """A spatial entry known only at run time is resolved per call; the channels must be known."""
    p = K.placeholder(shape=(None, 3, 3, 3))
    kv = _r((3, 3, 2, 3), 32)
    k = K.variable(kv)
    y = K.conv2d_transpose(p, k, (None, K.shape(p)[1] * 2, 6, 2), strides=(2, 2), padding="same")
    assert K.int_shape(y) == (None, None, 6, 2)
    x = _r((2, 3, 3, 3), 33)
    np.testing.assert_allclose(K.function([p], [y])([x])[0], R.conv2d_transpose(x, kv, (2, 6, 6, 2), (2, 2), "same"),
                               rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="channel entry"):
        K.conv2d_transpose(p, k, (None, 6, 6, K.shape(p)[3]), strides=(2, 2), padding="same")


@pytest.mark.usefixtures("f64")
def test_second_order_through_conv2d_matches_finite_differences():
    """conv2d's backprop primitives have VJPs: d/dx of a function of dL/dx is available."""
    x = _r((1, 4, 4, 2), 33, dtype="float64")
    k = _r((2, 2, 2, 2), 34, dtype="float64")
    kv = K.constant(k, dtype="float64")

    def inner_grad(a):
        y = K.conv2d(a, kv, strides=(2, 2), padding="same")
        return K.gradients(K.sum(K.square(y) * K.square(a[:, :2, :2, :1])), [a])[0]
    check_grad(inner_grad, [x])


def test_second_order_through_max_pool():
    # non-overlapping windows: sum(d/dx sum(pool(x)^2)) = sum of 2 * max per window, whose
    # gradient is 2 at each window's winner (tests/test_porting_scenarios.py checks more)
    x = K.placeholder(shape=(1, 4, 4, 1), dtype="float32")
    g = K.gradients(K.sum(K.square(K.pool2d(x, (2, 2), (2, 2)))), [x])[0]
    value = np.random.RandomState(0).permutation(16).reshape(1, 4, 4, 1).astype("float32")
    got = K.function([x], K.gradients(K.sum(g), [x]))([value])[0]
    want = np.zeros_like(value)
    for i in (0, 2):
        for j in (0, 2):
            block = value[0, i:i + 2, j:j + 2, 0]
            r, c = np.unravel_index(block.argmax(), block.shape)
            want[0, i + r, j + c, 0] = 2.0
    np.testing.assert_allclose(got, want)
    # overlapping windows are not supported: a clear error
    g2 = K.gradients(K.sum(K.square(K.pool2d(x, (3, 3), (1, 1)))), [x])[0]
    with pytest.raises(NotImplementedError, match="max pooling"):
        K.gradients(K.sum(g2), [x])

"""Conformance of K's convolution and pooling ops with Keras 2 semantics; resizing, padding and the
gradients of these ops: tests/test_k_conv_grad.py.

Every value is compared with the independent loop references in tests/nn_reference.py (never with
keraslite internals). Each op is checked through variables and through placeholders with an
unknown (None) batch axis, and K.int_shape of the result must equal the evaluated shape (with None
exactly where the batch is unknown).
"""
import numpy as np
import pytest

from keraslite import backend as K
import nn_reference as R

from k_conv_helpers import ATOL, RTOL, _r, _raises_value_error, _xshape, check

pytestmark = pytest.mark.usefixtures("kbackend")


# =============================================================================================
# conv2d

CONV2D_CASES = [
    # (x NHWC, kernel (kh, kw, in, out), strides, padding, dilation)
    ((2, 5, 5, 3), (3, 3, 3, 4), (1, 1), "valid", (1, 1)),
    ((2, 5, 5, 3), (3, 3, 3, 4), (1, 1), "same", (1, 1)),
    ((2, 7, 6, 2), (3, 3, 2, 3), (2, 2), "valid", (1, 1)),
    ((2, 7, 6, 2), (3, 3, 2, 3), (2, 2), "same", (1, 1)),
    ((2, 7, 7, 2), (2, 2, 2, 3), (2, 2), "same", (1, 1)),    # even kernel, 0 before / 1 after
    ((1, 6, 6, 2), (2, 2, 2, 2), (2, 2), "same", (1, 1)),    # even kernel, no pad needed
    ((2, 5, 5, 2), (4, 4, 2, 2), (1, 1), "same", (1, 1)),    # total pad 3: 1 before, 2 after
    ((2, 6, 5, 2), (4, 2, 2, 3), (1, 1), "same", (1, 1)),
    ((1, 8, 7, 2), (3, 2, 2, 2), (3, 3), "valid", (1, 1)),
    ((1, 8, 7, 2), (3, 2, 2, 2), (3, 3), "same", (1, 1)),
    ((2, 8, 8, 1), (2, 3, 1, 2), (3, 2), "same", (1, 1)),
    ((2, 6, 9, 2), (2, 3, 2, 2), (1, 2), "valid", (1, 1)),
    ((1, 7, 7, 2), (3, 3, 2, 2), (1, 1), "valid", (2, 2)),
    ((1, 7, 7, 2), (3, 3, 2, 2), (1, 1), "same", (2, 2)),
    ((1, 8, 7, 2), (2, 3, 2, 3), (1, 1), "same", (3, 2)),
    ((1, 8, 7, 2), (2, 3, 2, 3), (1, 1), "valid", (2, 1)),
    # edge cases
    ((2, 4, 5, 3), (1, 1, 3, 2), (1, 1), "valid", (1, 1)),   # 1x1 kernel
    ((2, 4, 5, 3), (1, 1, 3, 2), (2, 2), "same", (1, 1)),    # 1x1 kernel, strided
    ((2, 4, 5, 2), (4, 5, 2, 3), (1, 1), "valid", (1, 1)),   # kernel as large as the input
    ((2, 4, 5, 2), (4, 5, 2, 3), (1, 1), "same", (1, 1)),
    ((2, 4, 5, 2), (4, 5, 2, 3), (2, 2), "same", (1, 1)),
    ((2, 7, 8, 2), (2, 2, 2, 2), (3, 3), "valid", (1, 1)),   # stride larger than kernel
    ((2, 7, 8, 2), (2, 2, 2, 2), (3, 3), "same", (1, 1)),
    ((1, 5, 5, 1), (3, 3, 1, 1), (1, 1), "same", (1, 1)),    # batch of 1, one channel
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", CONV2D_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}")
def test_conv2d(case, data_format):
    xs, ks, strides, padding, dil = case
    x = _r(_xshape(xs, data_format), 1)
    k = _r(ks, 2)
    want = R.conv2d(x, k, strides, padding, data_format, dil)
    check(lambda a, b: K.conv2d(a, b, strides=strides, padding=padding, data_format=data_format,
                                dilation_rate=dil), want, [x, k], none_axes=[(0,), ()])


def test_conv2d_same_padding_is_asymmetric_extra_cell_bottom_right():
    # x = ones 4x4, 2x2 kernel of ones, 'same' stride 1: total pad 1, all of it after,
    # so the last row/column see only the real cells.
    x = np.ones((1, 4, 4, 1), "float32")
    k = np.ones((2, 2, 1, 1), "float32")
    y = K.eval(K.conv2d(K.variable(x), K.variable(k), padding="same"))[0, :, :, 0]
    want = np.array([[4, 4, 4, 2], [4, 4, 4, 2], [4, 4, 4, 2], [2, 2, 2, 1]], "float32")
    np.testing.assert_array_equal(y, want)
    # strided same with an even kernel: 5 -> 3, total pad 1 after
    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    y = K.eval(K.conv2d(K.variable(x), K.variable(k), strides=(2, 2), padding="same"))[0, :, :, 0]
    want = np.array([[0 + 1 + 5 + 6, 2 + 3 + 7 + 8, 4 + 9],
                     [10 + 11 + 15 + 16, 12 + 13 + 17 + 18, 14 + 19],
                     [20 + 21, 22 + 23, 24]], "float32")
    np.testing.assert_array_equal(y, want)


def test_conv2d_kernel_layout_is_kh_kw_in_out():
    # a kernel that copies input channel 1 to output channel 0, shifted by one column
    k = np.zeros((1, 2, 3, 2), "float32")
    k[0, 1, 1, 0] = 1.0
    x = _r((1, 3, 4, 3), 3)
    y = K.eval(K.conv2d(K.variable(x), K.variable(k)))
    np.testing.assert_array_equal(y[..., 0], x[:, :, 1:, 1])
    np.testing.assert_array_equal(y[..., 1], np.zeros((1, 3, 3), "float32"))


def test_conv2d_default_data_format_follows_config():
    K.set_image_data_format("channels_first")
    x, k = _r((2, 3, 5, 4), 4), _r((3, 2, 3, 2), 5)
    want = R.conv2d(x, k, (1, 1), "same", "channels_first")
    check(lambda a, b: K.conv2d(a, b, padding="same"), want, [x, k], none_axes=[(0,), ()])


def test_conv2d_keyword_call_numpy_inputs_and_float64():
    x, k = _r((2, 5, 5, 3), 6, dtype="float64"), _r((3, 3, 3, 2), 7, dtype="float64")
    y = K.conv2d(x=K.variable(x, dtype="float64"), kernel=K.variable(k, dtype="float64"),
                 strides=(1, 1), padding="valid", data_format="channels_last")
    val = K.eval(y)
    assert val.dtype == np.float64
    np.testing.assert_allclose(val, R.conv2d(x, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"padding": "full"}, {"padding": "causal"},
                                    {"data_format": "channels_middle"}])
def test_conv2d_bad_arguments(kwargs):
    x, k = K.variable(_r((1, 4, 4, 2))), K.variable(_r((2, 2, 2, 1)))
    _raises_value_error(lambda: K.conv2d(x, k, **kwargs))


# =============================================================================================
# conv1d

CONV1D_CASES = [
    # (x (N, steps, C), kernel (k, in, out), strides, padding, dilation)
    ((2, 9, 3), (3, 3, 4), 1, "valid", 1),
    ((2, 9, 3), (3, 3, 4), 1, "same", 1),
    ((2, 9, 3), (3, 3, 4), 2, "valid", 1),
    ((2, 9, 3), (3, 3, 4), 2, "same", 1),
    ((2, 8, 2), (2, 2, 3), 2, "same", 1),
    ((2, 8, 2), (4, 2, 3), 1, "same", 1),
    ((2, 9, 3), (3, 3, 2), 1, "valid", 2),
    ((2, 9, 3), (3, 3, 2), 1, "same", 2),
    ((2, 9, 3), (3, 3, 2), 3, "same", 1),
    ((2, 9, 3), (2, 3, 2), 3, "valid", 1),   # stride larger than kernel
    ((1, 6, 2), (1, 2, 3), 1, "valid", 1),   # 1-wide kernel
    ((1, 6, 2), (6, 2, 3), 1, "valid", 1),   # kernel as long as the input
    ((1, 6, 2), (6, 2, 3), 1, "same", 1),
]
CAUSAL_CASES = [  # 'causal' is channels_last only
    ((2, 9, 3), (3, 3, 2), 1, "causal", 1),
    ((2, 9, 3), (3, 3, 2), 1, "causal", 2),
    ((2, 9, 3), (2, 3, 2), 2, "causal", 1),
    ((1, 4, 2), (4, 2, 1), 1, "causal", 1),
]


@pytest.mark.parametrize("case,data_format",
                         [(c, f) for c in CONV1D_CASES for f in ("channels_last", "channels_first")]
                         + [(c, "channels_last") for c in CAUSAL_CASES],
                         ids=lambda c: str(c))
def test_conv1d(case, data_format):
    xs, ks, strides, padding, dil = case
    n, t, c = xs
    x = _r((n, c, t) if data_format == "channels_first" else xs, 11)
    k = _r(ks, 12)
    want = R.conv1d(x, k, strides, padding, data_format, dil)
    check(lambda a, b: K.conv1d(a, b, strides=strides, padding=padding, data_format=data_format,
                                dilation_rate=dil), want, [x, k], none_axes=[(0,), ()])


def test_conv1d_causal_output_only_sees_the_past():
    x = np.zeros((1, 6, 1), "float32")
    x[0, 3, 0] = 1.0
    k = np.ones((3, 1, 1), "float32")
    y = K.eval(K.conv1d(K.variable(x), K.variable(k), padding="causal"))[0, :, 0]
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])


def test_conv1d_causal_channels_first_raises():
    x, k = K.variable(_r((1, 2, 6))), K.variable(_r((3, 2, 1)))
    _raises_value_error(lambda: K.conv1d(x, k, padding="causal", data_format="channels_first"))


def test_conv1d_bad_padding_raises():
    x, k = K.variable(_r((1, 6, 2))), K.variable(_r((3, 2, 1)))
    _raises_value_error(lambda: K.conv1d(x, k, padding="full"))


# =============================================================================================
# conv2d_transpose (kernel (kh, kw, out, in))

TRANSPOSE_CASES = [
    # (x NHWC, kernel (kh, kw, out, in), output NHWC, strides, padding)
    ((2, 3, 3, 3), (3, 3, 2, 3), (2, 7, 7, 2), (2, 2), "valid"),
    ((2, 3, 3, 3), (3, 3, 2, 3), (2, 8, 8, 2), (2, 2), "valid"),   # the extra row/col gets 0
    ((2, 3, 3, 3), (3, 3, 2, 3), (2, 6, 6, 2), (2, 2), "same"),
    ((2, 3, 3, 3), (3, 3, 2, 3), (2, 5, 5, 2), (2, 2), "same"),
    ((2, 3, 4, 2), (2, 2, 3, 2), (2, 6, 8, 3), (2, 2), "same"),
    ((2, 3, 4, 2), (2, 2, 3, 2), (2, 5, 7, 3), (2, 2), "same"),
    ((2, 3, 4, 2), (4, 4, 3, 2), (2, 6, 8, 3), (2, 2), "same"),
    ((1, 4, 3, 2), (3, 3, 2, 2), (1, 6, 5, 2), (1, 1), "valid"),
    ((1, 4, 3, 2), (3, 3, 2, 2), (1, 4, 3, 2), (1, 1), "same"),
    ((1, 2, 3, 2), (2, 3, 2, 2), (1, 6, 9, 2), (3, 3), "valid"),
    ((1, 2, 3, 2), (2, 2, 2, 2), (1, 6, 9, 2), (3, 3), "valid"),   # stride larger than kernel
    ((1, 3, 3, 2), (1, 1, 3, 2), (1, 3, 3, 3), (1, 1), "valid"),   # 1x1 kernel
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}")
def test_conv2d_transpose(case, data_format):
    xs, ks, os_, strides, padding = case
    x = _r(_xshape(xs, data_format), 21)
    k = _r(ks, 22)
    out_shape = _xshape(os_, data_format)
    want = R.conv2d_transpose(x, k, out_shape, strides, padding, data_format)
    # a concrete batch in output_shape: the static batch may be that number or None
    check(lambda a, b: K.conv2d_transpose(a, b, out_shape, strides=strides, padding=padding,
                                          data_format=data_format),
          want, [x, k], none_axes=[(0,), ()], exact_static=False)
    # a None batch in output_shape is taken from x
    none_shape = (None,) + tuple(out_shape[1:])
    check(lambda a, b: K.conv2d_transpose(a, b, none_shape, strides=strides, padding=padding,
                                          data_format=data_format),
          want, [x, k], none_axes=[(0,), ()])


def test_conv2d_transpose_is_the_input_gradient_of_conv2d():
    """conv2d_transpose(g, W) == d/dx sum(conv2d(x, W) * g) for the same kernel tensor."""
    x = _r((2, 7, 6, 2), 23)
    w = _r((3, 3, 2, 3), 24)       # conv2d: (kh, kw, in=2, out=3) == transpose (kh, kw, out=2, in=3)
    for padding in ("valid", "same"):
        xv = K.variable(x)
        y = K.conv2d(xv, K.variable(w), strides=(2, 2), padding=padding)
        g = _r(K.int_shape(y), 25)
        grad = K.eval(K.gradients(K.sum(y * K.constant(g)), [xv])[0])
        tr = K.eval(K.conv2d_transpose(K.variable(g), K.variable(w), x.shape, strides=(2, 2),
                                       padding=padding))
        np.testing.assert_allclose(tr, grad, rtol=RTOL, atol=ATOL)


def test_conv2d_transpose_tensor_batch_in_output_shape():
    """Conv2DTranspose passes (K.shape(inputs)[0], h, w, filters) as output_shape."""
    x, k = _r((3, 3, 3, 3), 26), _r((3, 3, 2, 3), 27)
    p = K.placeholder(shape=(None, 3, 3, 3))
    y = K.conv2d_transpose(p, K.variable(k), (K.shape(p)[0], 6, 6, 2), strides=(2, 2),
                           padding="same")
    val = K.function([p], [y])([x])[0]
    np.testing.assert_allclose(val, R.conv2d_transpose(x, k, (3, 6, 6, 2), (2, 2), "same"),
                               rtol=RTOL, atol=ATOL)
    static = K.int_shape(y)
    assert static is not None and tuple(static)[1:] == (6, 6, 2)


def test_conv2d_transpose_dilation():
    x, k = _r((1, 3, 3, 2), 28), _r((3, 3, 2, 2), 29)
    want = R.conv2d_transpose(x, k, (1, 7, 7, 2), (1, 1), "valid", dilation_rate=(2, 2))
    check(lambda a, b: K.conv2d_transpose(a, b, (None, 7, 7, 2), padding="valid",
                                          dilation_rate=(2, 2)),
          want, [x, k], none_axes=[(0,), ()])


@pytest.mark.parametrize("out_shape,strides,padding", [
    ((1, 10, 10, 2), (2, 2), "valid"),   # conv2d of 10x10 gives 4x4, not 3x3
    ((1, 4, 4, 2), (1, 1), "same"),      # same stride 1 keeps 4x4
    ((1, 9, 9, 2), (2, 2), "same"),      # ceil(9 / 2) = 5
    ((1, 4, 4, 2), (1, 1), "valid"),     # 4 - 3 + 1 = 2
])
def test_conv2d_transpose_impossible_output_shape_raises(out_shape, strides, padding):
    x, k = K.variable(_r((1, 3, 3, 3))), K.variable(_r((3, 3, 2, 3)))
    _raises_value_error(lambda: K.conv2d_transpose(x, k, out_shape, strides=strides,
                                                   padding=padding))


# =============================================================================================
# depthwise / separable

DEPTHWISE_CASES = [
    # (x NHWC, kernel (kh, kw, in, dm), strides, padding, dilation)
    ((2, 5, 5, 3), (3, 3, 3, 1), (1, 1), "valid", (1, 1)),
    ((2, 5, 5, 3), (3, 3, 3, 2), (1, 1), "valid", (1, 1)),
    ((2, 5, 5, 3), (3, 3, 3, 2), (1, 1), "same", (1, 1)),
    ((2, 7, 6, 2), (3, 3, 2, 2), (2, 2), "same", (1, 1)),
    ((2, 7, 6, 2), (2, 2, 2, 1), (2, 2), "same", (1, 1)),
    ((1, 7, 7, 2), (3, 3, 2, 2), (1, 1), "same", (2, 2)),
    ((1, 7, 7, 2), (2, 2, 2, 3), (3, 3), "valid", (1, 1)),
    ((1, 4, 4, 2), (1, 1, 2, 2), (1, 1), "valid", (1, 1)),
    ((1, 4, 4, 2), (4, 4, 2, 2), (1, 1), "valid", (1, 1)),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}")
def test_depthwise_conv2d(case, data_format):
    xs, ks, strides, padding, dil = case
    x = _r(_xshape(xs, data_format), 31)
    k = _r(ks, 32)
    want = R.depthwise_conv2d(x, k, strides, padding, data_format, dil)
    check(lambda a, b: K.depthwise_conv2d(a, b, strides=strides, padding=padding,
                                          data_format=data_format, dilation_rate=dil),
          want, [x, k], none_axes=[(0,), ()])


def test_depthwise_output_channel_order_is_c_times_dm_plus_m():
    # 1x1 kernel: output channel c*dm+m = x[..., c] * k[0, 0, c, m]
    x = _r((1, 2, 2, 3), 33)
    k = np.arange(1, 7, dtype="float32").reshape(1, 1, 3, 2)
    y = K.eval(K.depthwise_conv2d(K.variable(x), K.variable(k)))
    assert y.shape == (1, 2, 2, 6)
    for c in range(3):
        for m in range(2):
            np.testing.assert_allclose(y[..., c * 2 + m], x[..., c] * k[0, 0, c, m], rtol=1e-6)


SEPARABLE_CASES = [
    # (x NHWC, depthwise (kh, kw, in, dm), pointwise out, strides, padding, dilation)
    ((2, 6, 6, 3), (3, 3, 3, 1), 4, (1, 1), "valid", (1, 1)),
    ((2, 6, 6, 3), (3, 3, 3, 2), 4, (1, 1), "same", (1, 1)),
    ((2, 7, 6, 2), (3, 3, 2, 2), 3, (2, 2), "same", (1, 1)),
    ((2, 7, 6, 2), (2, 2, 2, 2), 3, (2, 2), "valid", (1, 1)),
    ((1, 7, 7, 2), (3, 3, 2, 2), 3, (1, 1), "same", (2, 2)),
]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", SEPARABLE_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}-{c[4]}-{c[5]}")
def test_separable_conv2d(case, data_format):
    xs, dks, cout, strides, padding, dil = case
    x = _r(_xshape(xs, data_format), 41)
    dk = _r(dks, 42)
    pk = _r((1, 1, dks[2] * dks[3], cout), 43)
    want = R.separable_conv2d(x, dk, pk, strides, padding, data_format, dil)
    check(lambda a, b, c: K.separable_conv2d(a, b, c, strides=strides, padding=padding,
                                             data_format=data_format, dilation_rate=dil),
          want, [x, dk, pk], none_axes=[(0,), (), ()])


# =============================================================================================
# pool2d

POOL_CASES = [
    # (x NHWC, pool, strides, padding)
    ((2, 6, 6, 3), (2, 2), (2, 2), "valid"),
    ((2, 7, 6, 3), (2, 2), (2, 2), "valid"),
    ((2, 7, 6, 3), (2, 2), (2, 2), "same"),
    ((2, 5, 5, 2), (3, 3), (1, 1), "same"),
    ((2, 5, 5, 2), (3, 3), (1, 1), "valid"),
    ((2, 6, 7, 2), (3, 3), (2, 2), "same"),
    ((2, 7, 8, 2), (2, 2), (3, 3), "valid"),   # stride larger than pool
    ((2, 7, 8, 2), (2, 2), (3, 3), "same"),
    ((2, 7, 8, 2), (1, 1), (2, 2), "same"),
    ((1, 6, 5, 2), (3, 2), (2, 1), "same"),
    ((1, 6, 5, 2), (3, 2), (2, 1), "valid"),
    ((2, 4, 5, 1), (4, 5), (1, 1), "valid"),   # pool as large as the input
    ((2, 4, 5, 1), (4, 5), (1, 1), "same"),
    ((2, 4, 5, 1), (4, 4), (4, 4), "same"),
]


@pytest.mark.parametrize("pool_mode", ["max", "avg"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}")
def test_pool2d(case, data_format, pool_mode):
    xs, pool, strides, padding = case
    x = _r(_xshape(xs, data_format), 51, low=-2.0, high=-0.5)  # all negative: zero-padding would win
    want = R.pool2d(x, pool, strides, padding, data_format, pool_mode)
    check(lambda a: K.pool2d(a, pool, strides=strides, padding=padding, data_format=data_format,
                             pool_mode=pool_mode), want, [x])


def test_avg_pool_same_divides_by_real_cells():
    x = np.ones((1, 5, 5, 1), "float32")
    for pool, strides in [((3, 3), (1, 1)), ((2, 2), (2, 2)), ((4, 4), (3, 3))]:
        y = K.eval(K.pool2d(K.variable(x), pool, strides=strides, padding="same",
                            pool_mode="avg"))
        np.testing.assert_allclose(y, np.ones_like(y), rtol=1e-6)
    # explicit corner value: 3x3 window at (0, 0) covers x[0:2, 0:2] only
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    y = K.eval(K.pool2d(K.variable(x), (3, 3), padding="same", pool_mode="avg"))
    np.testing.assert_allclose(y[0, 0, 0, 0], (0 + 1 + 4 + 5) / 4.0, rtol=1e-6)


def test_max_pool_default_strides_keyword_call():
    x = _r((1, 4, 4, 2), 52)
    y = K.pool2d(K.variable(x), pool_size=(2, 2), strides=(1, 1), padding="valid",
                 data_format="channels_last", pool_mode="max")
    np.testing.assert_allclose(K.eval(y), R.pool2d(x, (2, 2), (1, 1)), rtol=1e-6)
    y = K.pool2d(K.variable(x), (2, 2))  # strides default (1, 1), pool_mode default max
    np.testing.assert_allclose(K.eval(y), R.pool2d(x, (2, 2), (1, 1)), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{"pool_mode": "sum"}, {"pool_mode": "min"},
                                    {"padding": "full"}, {"padding": "causal"},
                                    {"data_format": "NHWC"}])
def test_pool2d_bad_arguments(kwargs):
    x = K.variable(_r((1, 4, 4, 2)))
    _raises_value_error(lambda: K.pool2d(x, (2, 2), **kwargs))

"""Convolution and pooling on inputs whose height and width are unknown when the graph is built
(`Input((None, None, C))`): 'same' padding is resolved from each call's arrays, values and
gradients agree with the loop references and finite differences, and one fully convolutional
model serves several image sizes, in predict and in training."""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.layers import (AveragePooling2D, Conv2D, Dense, GlobalAveragePooling2D, Input, MaxPooling2D,
                              SeparableConv2D)
from keraslite.models import Model

import nn_reference as R
from k_helpers import check_grad

pytestmark = pytest.mark.usefixtures("kbackend")


def _r(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype("float32")


@pytest.mark.parametrize("hw,k,s,d", [((7, 9), (3, 3), (2, 2), (1, 1)), ((8, 8), (2, 4), (3, 1), (1, 1)),
                                      ((6, 5), (3, 3), (1, 1), (2, 2))])
def test_conv2d_same_with_unknown_spatial_dims(hw, k, s, d):
    x = _r((2,) + hw + (3,))
    w = _r(k + (3, 4), 1)
    ph = K.placeholder(shape=(None, None, None, 3))
    y = K.conv2d(ph, K.variable(w), strides=s, padding="same", dilation_rate=d)
    assert K.int_shape(y) == (None, None, None, 4)
    got = K.function([ph], [y])([x])[0]
    np.testing.assert_allclose(got, R.conv2d(x, w, s, "same", dilation_rate=d), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool2d_same_with_unknown_spatial_dims(mode):
    x = _r((2, 7, 6, 3))
    ph = K.placeholder(shape=(None, None, None, 3))
    y = K.pool2d(ph, (3, 2), strides=(2, 2), padding="same", pool_mode=mode)
    got = K.function([ph], [y])([x])[0]
    np.testing.assert_allclose(got, R.pool2d(x, (3, 2), (2, 2), "same", pool_mode=mode), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_gradients_with_unknown_spatial_dims(mode):
    K.set_floatx("float64")
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) * 0.05
    w0 = rng.uniform(-1, 1, size=(3, 3, 2, 3))
    w = K.variable(w0)

    def build(t):
        return K.pool2d(K.conv2d(t, w, strides=(2, 1), padding="same"), (2, 2), padding="same", pool_mode=mode)

    check_grad(build, [x], none_axes=(0, 1, 2))  # d/dx against finite differences
    # d/dw against finite differences, the input fed through a placeholder of unknown size
    ph = K.placeholder(shape=(None, None, None, 2))
    weights = rng.normal(size=(2, 3, 6, 3))  # conv (2, 1)-strided, then a stride-1 pool
    loss = K.sum(build(ph) * K.constant(weights))
    f = K.function([ph], [loss, K.gradients(loss, [w])[0]])
    grad = f([x])[1]
    eps, fd = 1e-6, np.zeros_like(w0)
    for idx in np.ndindex(w0.shape):
        for sign in (1, -1):
            wp = w0.copy()
            wp[idx] += sign * eps
            K.set_value(w, wp)
            fd[idx] += sign * f([x])[0] / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-6)


def test_one_fully_convolutional_model_serves_several_sizes():
    def build(shape):
        x = Input(shape)
        y = Conv2D(4, (3, 3), padding="same", strides=2, activation="relu")(x)
        y = MaxPooling2D((3, 3), strides=2, padding="same")(y)
        y = SeparableConv2D(5, (3, 3), padding="same")(y)
        y = AveragePooling2D((2, 2), padding="same")(y)
        y = GlobalAveragePooling2D()(y)
        return Model(x, Dense(2)(y))

    dyn = build((None, None, 3))
    assert dyn.layers[1].output_shape == (None, None, None, 4) and dyn.output_shape == (None, 2)
    dyn.compile("sgd", "mse")
    for hw in [(9, 7), (16, 16)]:
        fixed = build(hw + (3,))
        fixed.compile("sgd", "mse")
        fixed.set_weights(dyn.get_weights())
        x = _r((3,) + hw + (3,), sum(hw))
        np.testing.assert_allclose(dyn.predict(x), fixed.predict(x), rtol=1e-5, atol=1e-6)
        y = _r((3, 2), 5)
        dyn.train_on_batch(x, y)
        fixed.train_on_batch(x, y)
        for a, b in zip(dyn.get_weights(), fixed.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_transpose_with_run_time_output_size(padding, data_format):
    x = _r((2, 4, 5, 3))
    w = _r((3, 3, 2, 3), 1)  # (kh, kw, out, in)
    ph = K.placeholder(shape=(None, None, None, 3))
    n, h, wd = K.shape(ph)[0], K.shape(ph)[1], K.shape(ph)[2]
    extra = 0 if padding == "same" else 1  # valid, stride 2, kernel 3: L*s + max(k - s, 0)
    shape = (n, h * 2 + extra, wd * 2 + extra, 2)
    inp = ph
    if data_format == "channels_first":
        inp = K.permute_dimensions(ph, (0, 3, 1, 2))
        shape = (n, 2, h * 2 + extra, wd * 2 + extra)
    y = K.conv2d_transpose(inp, K.variable(w), shape, strides=(2, 2), padding=padding, data_format=data_format)
    got = K.function([ph], [y])([x])[0]
    out_hw = (4 * 2 + extra, 5 * 2 + extra)
    want = R.conv2d_transpose(x, w, (2,) + out_hw + (2,), (2, 2), padding)
    if data_format == "channels_first":
        want = want.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_transpose_layer_with_unknown_spatial_dims():
    from keraslite.layers import Conv2DTranspose
    dyn_in = Input((None, None, 3))
    dyn_layer = Conv2DTranspose(4, (3, 3), strides=2, padding="same", output_padding=(1, 1))
    dyn = Model(dyn_in, dyn_layer(dyn_in))
    assert dyn.output_shape == (None, None, None, 4)
    dyn.compile("sgd", "mse")
    for hw in [(5, 6), (4, 4)]:
        fixed_in = Input(hw + (3,))
        fixed_layer = Conv2DTranspose(4, (3, 3), strides=2, padding="same", output_padding=(1, 1))
        fixed = Model(fixed_in, fixed_layer(fixed_in))
        fixed.compile("sgd", "mse")
        fixed_layer.set_weights(dyn_layer.get_weights())
        x = _r((2,) + hw + (3,), 7)
        np.testing.assert_allclose(dyn.predict(x), fixed.predict(x), rtol=1e-5, atol=1e-6)
        y = _r((2, 2 * hw[0], 2 * hw[1], 4), 8)
        dyn.train_on_batch(x, y)
        fixed.train_on_batch(x, y)
        for a, b in zip(dyn_layer.get_weights(), fixed_layer.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

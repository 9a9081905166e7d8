"""CPU (numba) versus GPU (cuda) agreement at the K level: convolutions, pooling, batch
normalisation, matmul and fused elementwise chains, forward and gradients, on shapes from small
to ResNet-like. The issue's target: forward passes agree with numba within 1e-4 relative."""
import numpy as np
import pytest

import keraslite
from keraslite import backend as K

RTOL = 1e-4


def _r(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def _on(name, f, feeds):
    with keraslite.use_backend(name):
        return f(feeds)


def _agree(f, feeds, rtol=RTOL, what=""):
    """Run the same K.function on numba and on cuda; compare every output."""
    cpu = _on("numba", f, feeds)
    gpu = _on("cuda", f, feeds)
    for i, (c, g) in enumerate(zip(cpu, gpu)):
        assert isinstance(g, np.ndarray), f"{what} output {i}: a {type(g).__name__}, not a NumPy array"
        assert g.shape == c.shape and g.dtype == c.dtype, f"{what} output {i}: {g.shape} {g.dtype} vs {c.shape} {c.dtype}"
        scale = float(np.max(np.abs(c))) if c.size else 1.0
        np.testing.assert_allclose(g, c, rtol=rtol, atol=rtol * max(scale, 1e-6), err_msg=f"{what} output {i}")
    return cpu, gpu


CONV_CASES = [
    # x shape, kernel shape, strides, padding, dilation, data_format
    ((4, 16, 16, 8), (3, 3, 8, 16), (1, 1), "same", (1, 1), "channels_last"),
    ((4, 17, 15, 8), (3, 3, 8, 16), (2, 2), "same", (1, 1), "channels_last"),
    ((4, 16, 16, 32), (1, 1, 32, 64), (1, 1), "valid", (1, 1), "channels_last"),
    ((4, 16, 16, 32), (1, 1, 32, 64), (2, 2), "valid", (1, 1), "channels_last"),
    ((8, 64, 64, 3), (7, 7, 3, 64), (2, 2), "same", (1, 1), "channels_last"),   # ResNet50 stem at 64x64
    ((2, 20, 20, 4), (3, 3, 4, 4), (1, 1), "valid", (2, 2), "channels_last"),
    ((4, 8, 16, 16), (3, 3, 8, 8), (1, 1), "same", (1, 1), "channels_first"),
    ((64, 16, 16, 64), (3, 3, 64, 64), (1, 1), "same", (1, 1), "channels_last"),  # a ResNet block's conv
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}*{c[1]}s{c[2]}{c[3]}d{c[4]}{c[5][-4:]}")
def test_conv2d_forward_and_gradients(case):
    xs, ks, st, pad, dil, fmt = case
    x = K.placeholder(shape=(None,) + xs[1:])
    w = K.variable(_r(ks, 1) / np.sqrt(np.prod(ks[:3])))
    y = K.conv2d(x, w, strides=st, padding=pad, data_format=fmt, dilation_rate=dil)
    r = K.constant(_r(K.int_shape(y)[1:], 2))
    loss = K.sum(y * r)
    gx, gw = K.gradients(loss, [x, w])
    f = K.function([x], [y, gx, gw])
    _agree(f, [_r(xs, 3)], what=f"conv2d {case}")


def test_depthwise_and_separable_conv():
    x = K.placeholder(shape=(None, 12, 12, 6))
    dw = K.variable(_r((3, 3, 6, 2), 1))
    pw = K.variable(_r((1, 1, 12, 8), 2))
    y = K.separable_conv2d(x, dw, pw, strides=(1, 1), padding="same")
    z = K.depthwise_conv2d(x, dw, strides=(2, 2), padding="same")
    grads = K.gradients(K.sum(K.square(y)) + K.sum(z), [x, dw, pw])
    _agree(K.function([x], [y, z] + grads), [_r((4, 12, 12, 6), 3)], what="depthwise/separable")


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("pool,strides,padding", [((2, 2), (2, 2), "valid"), ((3, 3), (2, 2), "same"),
                                                   ((3, 3), (1, 1), "same"), ((2, 3), (1, 2), "valid")])
def test_pool2d_forward_and_gradient(mode, pool, strides, padding):
    x = K.placeholder(shape=(None, 33, 31, 16))
    y = K.pool2d(x, pool, strides=strides, padding=padding, pool_mode=mode)
    r = K.constant(_r(K.int_shape(y)[1:], 2))
    gx, = K.gradients(K.sum(y * r), [x])
    xv = np.random.default_rng(5).permutation(8 * 33 * 31 * 16).reshape(8, 33, 31, 16).astype("float32") / 1e4
    _agree(K.function([x], [y, gx]), [xv], what=f"{mode} pool {pool} {strides} {padding}")


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_batchnorm_training_forward_and_gradients(fmt):
    shape = (16, 12, 10, 24) if fmt == "channels_last" else (16, 24, 12, 10)
    axes = [0, 1, 2] if fmt == "channels_last" else [0, 2, 3]
    pshape = (24,) if fmt == "channels_last" else (1, 24, 1, 1)
    x = K.placeholder(shape=(None,) + shape[1:])
    gamma, beta = K.variable(_r(pshape, 1, 0.5, 1.5)), K.variable(_r(pshape, 2))
    y, mean, var = K.normalize_batch_in_training(x, gamma, beta, axes, epsilon=1e-3)
    loss = K.sum(y * K.constant(_r(shape[1:], 3))) + K.sum(mean) + K.sum(var * 0.5)
    grads = K.gradients(loss, [x, gamma, beta])
    _agree(K.function([x], [y, mean, var] + grads), [_r(shape, 4, -2, 3)], what=f"batchnorm {fmt}")


def test_batchnorm_large_batch_statistics():
    # one channel-sum over 2M elements: partitioned partial sums in float64
    x = K.placeholder(shape=(None, 32, 32, 8))
    y, mean, var = K.normalize_batch_in_training(x, None, None, [0, 1, 2], epsilon=1e-5)
    _agree(K.function([x], [y, mean, var]), [_r((256, 32, 32, 8), 7, 3.0, 5.0)], what="bn large")


def test_fused_chain_agrees_and_is_one_kernel():
    x = K.placeholder(shape=(None, 300))
    w = K.variable(_r((300, 129), 1) * 0.1)
    b = K.variable(_r((129,), 2))
    h = K.dot(x, w)
    a = K.sigmoid(K.relu(K.bias_add(h, b)) * 1.5) - K.tanh(h) * 0.25 + K.square(h) / (K.abs(h) + 1.0)
    c = K.switch(K.greater(h, 0.0), K.exp(-K.abs(h)), K.log1p(K.abs(h)))
    loss = K.mean(a + c)
    gw, gb = K.gradients(loss, [w, b])
    f = K.function([x], [a, c, loss, gw, gb])
    _agree(f, [_r((513, 300), 3)], what="fused chain")
    with keraslite.use_backend("cuda"):
        kernels = f.plan_for([_r((513, 300), 3)]).kernels()
    assert any(k.startswith("fused[") and k.count(",") >= 5 for k in kernels), kernels


def test_fused_chain_float64_and_integer_ops():
    K.set_floatx("float64")
    x = K.placeholder(shape=(None, 7), dtype="float64")
    i = K.placeholder(shape=(None, 7), dtype="int32")
    y = K.maximum(x, 0.5) * K.cast(K.equal(i % 3, 1), "float64") + K.pow(K.abs(x) + 1.0, 1.5)
    z = K.cast(i // 2, "float64") - K.sign(x)
    _agree(K.function([x, i], [y, z]), [_r((50, 7), 1, -3, 3, "float64"),
                                         np.random.default_rng(2).integers(-9, 9, (50, 7)).astype("int32")],
           rtol=1e-12, what="float64/int chain")


@pytest.mark.parametrize("shape", [((64, 512), (512, 256)), ((8, 33, 100), (100, 70)), ((1024, 1024), (1024, 1024))])
def test_matmul_agrees_without_tf32(shape):
    a = K.placeholder(shape=(None,) + shape[0][1:])
    bv = K.variable(_r(shape[1], 2))
    _agree(K.function([a], [K.dot(a, bv)]), [_r(shape[0], 1)], what=f"dot {shape}")


def test_matmul_with_tf32_opted_in_stays_close():
    from keraslite_cuda import settings
    a = K.placeholder(shape=(None, 1024))
    bv = K.variable(_r((1024, 512), 2))
    f = K.function([a], [K.dot(a, bv)])
    xv = _r((256, 1024), 1)
    cpu = _on("numba", f, [xv])[0]
    settings.set_tf32(True)
    gpu = _on("cuda", f, [xv])[0]
    scale = np.abs(cpu).max()
    np.testing.assert_allclose(gpu, cpu, rtol=1e-2, atol=1e-2 * scale)

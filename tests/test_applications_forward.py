"""Forward passes of application models on tiny inputs against the architectures written out
in NumPy here (from the papers / Keras layer tables), reading each weight by its Keras layer name."""
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from keraslite import backend as K
from keraslite.applications import densenet, inception_resnet_v2, mobilenet, resnet50, resnet_v2
from keraslite.engine.input_layer import Input
from keraslite.engine.training import Model
from keraslite.layers import BatchNormalization

pytestmark = pytest.mark.usefixtures("kbackend")


# --- NumPy layers (channels_last, float64) -----------------------------------------------------

def _pad_same(x, kh, kw, stride):
    pads = []
    for size, k in ((x.shape[1], kh), (x.shape[2], kw)):
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def _windows(x, kh, kw, stride, padding):
    if padding == "same":
        x = _pad_same(x, kh, kw, stride)
    return sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # N, H, W, C, kh, kw


def conv(x, kernel, bias=None, stride=1, padding="valid"):
    out = np.einsum("nhwcij,ijco->nhwo", _windows(x, *kernel.shape[:2], stride, padding), kernel)
    return out if bias is None else out + bias


def depthwise(x, kernel, stride=1, padding="valid"):
    out = np.einsum("nhwcij,ijcm->nhwcm", _windows(x, *kernel.shape[:2], stride, padding), kernel)
    return out.reshape(out.shape[:3] + (-1,))


def bn(x, weights, eps=1e-3):
    if len(weights) == 4:
        gamma, beta, mean, var = weights
    else:  # scale=False
        gamma, (beta, mean, var) = 1.0, weights
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def relu(x):
    return np.maximum(x, 0)


def relu6(x):
    return np.clip(x, 0, 6)


def pad(x, before, after):
    return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))


def max_pool(x, size, stride):
    return _windows(x, size, size, stride, "valid").max(axis=(-2, -1))


def avg_pool(x, size, stride):
    return _windows(x, size, size, stride, "valid").mean(axis=(-2, -1))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- helpers ---------------------------------------------------------------------------------

def _randomise_batchnorm(model, rng):
    """Non-trivial BN statistics, so the reference checks gamma/beta/mean/variance order too."""
    for layer in model.layers:
        if isinstance(layer, BatchNormalization):
            values = []
            for w in layer.weights:
                shape, name = tuple(w.shape), w.name
                if "gamma" in name or "moving_variance" in name:
                    values.append(rng.uniform(0.5, 1.5, shape))
                else:
                    values.append(rng.normal(0, 0.1, shape))
            layer.set_weights([v.astype(np.float32) for v in values])


def _weights(model):
    return lambda name: [w.astype(np.float64) for w in model.get_layer(name).get_weights()]


def _features(model, layer_name, x):
    return Model(model.inputs, model.get_layer(layer_name).output).predict(x)


def _close(actual, expected, tol=2e-4):
    scale = max(np.abs(expected).max(), 1e-3)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


# --- models ----------------------------------------------------------------------------------

MOBILENET_STRIDES = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)


def test_mobilenet_forward_matches_numpy(rng):
    model = mobilenet.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=7)
    _randomise_batchnorm(model, rng)
    W = _weights(model)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    h = conv(pad(x.astype(np.float64), 0, 1), W("conv1")[0], stride=2)
    h = relu6(bn(h, W("conv1_bn")))
    for i, stride in enumerate(MOBILENET_STRIDES, start=1):
        if stride == 2:
            h = pad(h, 0, 1)
        h = depthwise(h, W(f"conv_dw_{i}")[0], stride, "same" if stride == 1 else "valid")
        h = relu6(bn(h, W(f"conv_dw_{i}_bn")))
        h = relu6(bn(conv(h, W(f"conv_pw_{i}")[0]), W(f"conv_pw_{i}_bn")))
    _close(_features(model, "conv_pw_13_relu", x), h)
    kernel, bias = W("conv_preds")
    probs = softmax(h.mean(axis=(1, 2)) @ kernel[0, 0] + bias)
    _close(model.predict(x), probs, tol=1e-4)


def test_resnet50_forward_matches_numpy(rng):
    model = resnet50.ResNet50(input_shape=(32, 32, 3), weights=None, classes=5)
    _randomise_batchnorm(model, rng)
    W = _weights(model)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    h = relu(bn(conv(pad(x.astype(np.float64), 3, 3), *W("conv1"), stride=2), W("bn_conv1")))
    h = max_pool(pad(h, 1, 1), 3, 2)
    for stage, blocks in ((2, "abc"), (3, "abcd"), (4, "abcdef"), (5, "abc")):
        for j, block in enumerate(blocks):
            stride = 2 if j == 0 and stage > 2 else 1
            c, b = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
            y = relu(bn(conv(h, *W(c + "2a"), stride=stride), W(b + "2a")))
            y = relu(bn(conv(y, *W(c + "2b"), padding="same"), W(b + "2b")))
            y = bn(conv(y, *W(c + "2c")), W(b + "2c"))
            shortcut = bn(conv(h, *W(c + "1"), stride=stride), W(b + "1")) if j == 0 else h
            h = relu(y + shortcut)
    features = h.mean(axis=(1, 2))
    _close(_features(model, "avg_pool", x), features)
    kernel, bias = W("fc1000")
    _close(model.predict(x), softmax(features @ kernel + bias), tol=1e-4)


def test_resnet50v2_forward_matches_numpy(rng):
    model = resnet_v2.ResNet50V2(input_shape=(32, 32, 3), weights=None, classes=4)
    _randomise_batchnorm(model, rng)
    W = _weights(model)
    eps = 1.001e-5
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    h = conv(pad(x.astype(np.float64), 3, 3), *W("conv1_conv"), stride=2)  # pre-activation: no BN here
    h = max_pool(pad(h, 1, 1), 3, 2)
    for stage, (blocks, last_stride) in zip((2, 3, 4, 5), ((3, 2), (4, 2), (6, 2), (3, 1))):
        for i in range(1, blocks + 1):
            name = f"conv{stage}_block{i}"
            stride = last_stride if i == blocks else 1
            preact = relu(bn(h, W(name + "_preact_bn"), eps))
            if i == 1:
                shortcut = conv(preact, *W(name + "_0_conv"), stride=stride)
            else:
                shortcut = h[:, ::stride, ::stride]  # MaxPooling2D(1, strides) is a subsampling
            y = relu(bn(conv(preact, W(name + "_1_conv")[0]), W(name + "_1_bn"), eps))
            y = relu(bn(conv(pad(y, 1, 1), W(name + "_2_conv")[0], stride=stride), W(name + "_2_bn"), eps))
            h = shortcut + conv(y, *W(name + "_3_conv"))
    features = relu(bn(h, W("post_bn"), eps)).mean(axis=(1, 2))
    _close(_features(model, "avg_pool", x), features)
    kernel, bias = W("probs")
    _close(model.predict(x), softmax(features @ kernel + bias), tol=1e-4)


def test_densenet121_forward_matches_numpy(rng):
    model = densenet.DenseNet121(include_top=False, input_shape=(32, 32, 3), weights=None, pooling="avg")
    _randomise_batchnorm(model, rng)
    W = _weights(model)
    eps = 1.001e-5
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    h = relu(bn(conv(pad(x.astype(np.float64), 3, 3), W("conv1/conv")[0], stride=2), W("conv1/bn"), eps))
    h = max_pool(pad(h, 1, 1), 3, 2)
    for stage, count in zip((2, 3, 4, 5), (6, 12, 24, 16)):
        for i in range(1, count + 1):
            name = f"conv{stage}_block{i}"
            y = conv(relu(bn(h, W(name + "_0_bn"), eps)), W(name + "_1_conv")[0])
            y = conv(relu(bn(y, W(name + "_1_bn"), eps)), W(name + "_2_conv")[0], padding="same")
            h = np.concatenate([h, y], axis=-1)
        if stage < 5:
            h = conv(relu(bn(h, W(f"pool{stage}_bn"), eps)), W(f"pool{stage}_conv")[0])
            h = avg_pool(h, 2, 2)
    expected = relu(bn(h, W("bn"), eps)).mean(axis=(1, 2))
    _close(model.predict(x), expected)


@pytest.mark.parametrize("block_type,scale,activation", [("block35", 0.17, "relu"), ("block17", 0.1, "relu"),
                                                          ("block8", 1.0, None)])
def test_inception_resnet_block_matches_numpy_and_round_trips(rng, block_type, scale, activation):
    K.clear_session()
    inp = Input(shape=(6, 6, 24))
    out = inception_resnet_v2.inception_resnet_block(inp, scale, block_type, 3, activation=activation)
    model = Model(inp, out)
    _randomise_batchnorm(model, rng)
    W = _weights(model)
    # unnamed convolutions are numbered in creation order, which is the branch order of the block
    names = iter(sorted((layer.name for layer in model.layers if layer.name.startswith("conv2d_")),
                        key=lambda n: int(n.rsplit("_", 1)[1])))

    def cbr(h):  # conv2d_bn with the next unnamed conv: Conv2D (no bias), BN (no scale), ReLU
        conv_name = next(names)
        bn_name = "batch_normalization_" + conv_name.split("_")[-1]
        return relu(bn(conv(h, W(conv_name)[0], padding="same"), W(bn_name)))

    x = rng.uniform(-1, 1, (2, 6, 6, 24)).astype(np.float32)
    h = x.astype(np.float64)
    if block_type == "block35":
        branches = [cbr(h), cbr(cbr(h)), cbr(cbr(cbr(h)))]
    else:
        branches = [cbr(h), cbr(cbr(cbr(h)))]
    mixed = np.concatenate(branches, axis=-1)
    up = conv(mixed, *W(f"{block_type}_3_conv"))
    expected = h + scale * up
    if activation is not None:
        expected = relu(expected)
    _close(model.predict(x), expected)
    assert model.layers[-1].name == (f"{block_type}_3_ac" if activation else f"{block_type}_3")
    # the residual Lambda refers to a module-level function, so the model rebuilds from its config
    rebuilt = Model.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)

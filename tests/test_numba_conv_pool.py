"""The fused convolution + max pooling of prediction (kernels/conv_pool.py): bit for bit conv2d
then max_pool2d, for both kernel variants, every thread count and block split; the plan-time rule
(conv_pool.fits) and the patterns that use it (Conv2D -> BatchNormalization -> relu ->
MaxPooling2D, Conv2D(activation='relu') -> MaxPooling2D)."""
import numba
import numpy as np
import pytest

pytest.importorskip("keraslite_numba")
import keraslite  # noqa: E402
from keraslite.layers import Activation, BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D  # noqa: E402
from keraslite_numba import coldstart, twins  # noqa: E402
from keraslite_numba.kernels import conv, conv_pool, pool  # noqa: E402

# (N, H, W, Cin, kh, kw, Co, strides, dilation, pool_size, pool_strides)
_CASES = [
    (5, 12, 12, 3, 3, 3, 32, (1, 1), (1, 1), (3, 3), (2, 2)),     # the tutorial's first block, smaller
    (1, 9, 11, 5, 2, 3, 37, (1, 2), (1, 1), (2, 2), (2, 2)),      # one image: blocks of rows; a partial panel
    (3, 10, 10, 7, 3, 3, 20, (1, 1), (2, 1), (2, 3), (1, 2)),     # dilation, windows wider than their stride
    (2, 20, 13, 4, 1, 1, 70, (2, 1), (1, 1), (3, 3), (3, 3)),     # 1x1 filter, odd strides
    (2, 120, 40, 3, 3, 3, 64, (1, 1), (1, 1), (2, 2), (2, 2)),    # conv rows past SCRATCH_BYTES: several blocks
    (7, 6, 6, 2, 3, 3, 1, (1, 1), (1, 1), (4, 4), (1, 1)),        # one output channel, one window per image
]


def _arrays(case, dtype, seed=0):
    N, H, W, Cin, kh, kw, Co = case[:7]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, H, W, Cin)).astype(dtype)
    w = rng.normal(size=(kh, kw, Cin, Co)).astype(dtype)
    return x, w, rng.normal(size=Co).astype(dtype), tuple(rng.normal(size=(3, Co)).astype(dtype))


def _unfused(x, w, case, **ep):
    t = conv.conv2d(x, w, case[7], ((0, 0), (0, 0)), case[8], 1, **ep)
    return pool.max_pool2d(t, case[9], case[10])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", _CASES)
@pytest.mark.parametrize("variant", ["par", "seq"])
def test_fused_kernel_is_conv2d_then_max_pool_bitwise(dtype, case, variant):
    x, w, b, affine = _arrays(case, dtype)
    x.flat[::17] = np.nan  # NaN never wins a window (relu keeps it; the pool skips it)
    for ep in (dict(bias=b, affine=affine, relu=True), dict(bias=b, relu=True), dict(relu=False)):
        want = _unfused(x, w, case, **ep)
        with twins.only(variant):
            got = conv_pool.conv2d_maxpool(x, w, case[7], case[8], case[9], case[10], **ep)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert got.tobytes() == want.tobytes(), (case, ep)


@pytest.mark.parametrize("threads", sorted({1, 2, numba.config.NUMBA_NUM_THREADS}))
def test_every_thread_count_gives_the_same_bits(threads):
    case = _CASES[1]
    x, w, b, affine = _arrays(case, "float32", seed=3)
    want = _unfused(x, w, case, bias=b, affine=affine, relu=True)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(threads)
        with twins.only("par"):
            out = np.full(want.shape, np.nan, np.float32)
            got = conv_pool.conv2d_maxpool(x, w, case[7], case[8], case[9], case[10], out=out, bias=b,
                                           affine=affine, relu=True)
    finally:
        numba.set_num_threads(before)
    assert got is out and got.tobytes() == want.tobytes()


def test_rows_per_block_split_images_for_few_and_cap_the_buffer():
    assert conv_pool._rows_per_block(50, 17, 36, 32, 3, 2, 4, 2) == 17     # enough images: whole ones
    assert conv_pool._rows_per_block(1, 17, 36, 32, 3, 2, 4, 2) == 3       # one image: 8 blocks for 2 threads
    big = conv_pool._rows_per_block(50, 200, 400, 64, 2, 2, 4, 2)
    assert (big - 1) * 2 + 2 <= conv_pool.SCRATCH_BYTES // (400 * 64 * 4) and big >= 1
    assert conv_pool._rows_per_block(50, 9, 10 ** 6, 64, 2, 2, 4, 2) == 1  # a row past the cap: one row


def test_shapes_the_kernel_does_not_take_are_computed_unfused():
    rng = np.random.default_rng(1)
    # 3x3 stride 1 with channels in 16s runs on the Winograd kernel: conv2d, then the pooling
    x, w = rng.normal(size=(2, 10, 10, 16)).astype("float32"), rng.normal(size=(3, 3, 16, 32)).astype("float32")
    assert not conv_pool.fits("float32", x.shape, w.shape, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, (2, 2), (2, 2),
                              ((0, 0), (0, 0)))
    got = conv_pool.conv2d_maxpool(x, w, (1, 1), (1, 1), (2, 2), (2, 2), relu=True)
    want = pool.max_pool2d(conv.conv2d(x, w, relu=True), (2, 2), (2, 2))
    assert got.tobytes() == want.tobytes()


def test_fits_refuses_padding_groups_integers_and_pools_larger_than_the_output():
    geo = dict(strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1, pool_size=(2, 2),
               pool_strides=(2, 2), pool_padding=((0, 0), (0, 0)))
    assert conv_pool.fits("float32", (None, 8, 8, 3), (3, 3, 3, 8), **geo)
    assert conv_pool.fits("float64", (None, 8, 8, 3), (3, 3, 3, 8), **geo)
    assert not conv_pool.fits("float16", (None, 8, 8, 3), (3, 3, 3, 8), **geo)
    assert not conv_pool.fits("float32", (None, None, 8, 3), (3, 3, 3, 8), **geo)
    assert not conv_pool.fits("float32", (None, 8, 8, 3), (3, 3, 3, 8), **dict(geo, padding=((1, 1), (1, 1))))
    assert not conv_pool.fits("float32", (None, 8, 8, 3), (3, 3, 3, 8), **dict(geo, pool_padding=((0, 1), (0, 1))))
    assert not conv_pool.fits("float32", (None, 8, 8, 4), (3, 3, 2, 8), **dict(geo, groups=2))
    assert not conv_pool.fits("float32", (None, 4, 4, 3), (3, 3, 3, 8), **dict(geo, pool_size=(3, 3)))


@pytest.mark.parametrize("kwargs,match", [(dict(bias=np.ones(3, np.float32)), "bias must have shape"),
                                          (dict(affine=(np.ones(2, np.float32),) * 2), "affine must be"),
                                          (dict(affine=(np.ones(2, np.float32),) * 2 + (np.ones(5, np.float32),)),
                                           "offset must have shape")])
def test_wrong_epilogue_vectors_are_refused_before_any_work(kwargs, match):
    x, w = np.ones((1, 4, 4, 2), np.float32), np.ones((1, 1, 2, 2), np.float32)
    out = np.full((1, 2, 2, 2), 7.0, np.float32)
    with pytest.raises(ValueError, match=match):
        conv_pool.conv2d_maxpool(x, w, (1, 1), (1, 1), (2, 2), (2, 2), out=out, **kwargs)
    assert (out == 7.0).all()


def test_a_pool_that_does_not_fit_the_convolution_is_refused():
    x, w = np.ones((1, 4, 4, 2), np.float32), np.ones((3, 3, 2, 2), np.float32)
    with pytest.raises(ValueError, match="pool_size"):
        conv_pool.conv2d_maxpool(x, w, (1, 1), (1, 1), (3, 3), (1, 1))


def _convnet(bn: bool, padding="valid"):
    layers = [Conv2D(8, 3, padding=padding, input_shape=(11, 11, 3), activation=None if bn else "relu")]
    if bn:
        layers += [BatchNormalization(), Activation("relu")]
    layers += [MaxPooling2D((3, 3), strides=2), Flatten(), Dense(4, activation="softmax")]
    model = keraslite.models.Sequential(layers)
    model.compile("sgd", "categorical_crossentropy")
    return model


@pytest.mark.parametrize("bn", [True, False])
def test_prediction_plans_run_the_fused_step_and_match_the_numpy_backend(bn):
    rng = np.random.default_rng(2)
    model = _convnet(bn)
    x = rng.normal(size=(5, 11, 11, 3)).astype("float32")
    if bn:  # statistics of their own, so that the affine map is not the identity
        layer = model.layers[1]
        layer.set_weights([rng.uniform(0.5, 2, 8).astype("float32") for _ in range(4)])
    with keraslite.use_backend("numba"):
        got = model.predict(x, batch_size=5)
        names = model.predict_function.last_plan.kernels()
        y = np.eye(4, dtype="float32")[rng.integers(4, size=5)]
        model.train_on_batch(x, y)  # training keeps the convolution's output: nothing fused there
        assert not any(k.endswith("+pool") for k in model.train_function.last_plan.kernels())
        got = model.predict(x, batch_size=5)
    step = "conv+add+sub+mul+add+relu+pool" if bn else "conv+add+relu+pool"
    assert step in names
    with keraslite.use_backend("numpy"):
        want = model.predict(x, batch_size=5)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_padded_convolutions_stay_unfused():
    model = _convnet(True, padding="same")
    with keraslite.use_backend("numba"):
        model.predict(np.ones((2, 11, 11, 3), np.float32))
        names = model.predict_function.last_plan.kernels()
    assert "conv+add+sub+mul+add+relu" in names and not any(k.endswith("+pool") for k in names)


def test_plan_keys_ask_for_the_fused_kernel_and_what_its_stand_in_runs():
    model = _convnet(True)
    with keraslite.use_backend("numba"):
        model.predict(np.ones((2, 11, 11, 3), np.float32))
    keys = coldstart.plan_keys(model.predict_function.last_plan.steps)
    assert keys[:3] == ["conv_fwd-f", "max_fwd-f", "conv_pool-f"]

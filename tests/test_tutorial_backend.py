"""The seed tutorial's section [8] ("케라스 Backend 조작하기", shared/seed/000_82489306da58810d.txt),
run as written (keyword names included) on every backend, with every value checked against NumPy.

Left out: the `Input(shape=[10])` / `Dense(units=10)` lines of #6 (they belong to the layers).
Where the tutorial's line is not valid Keras 2 (the #16 batch_normalization call puts a positional
argument after keywords; the first block's K.dot(a, K.transpose(b)) contracts an axis of 3 with
one of 64; #17 concatenates a (224, 224, 3) and a (2, 2) tensor; #21-#25 pass
placeholders such as x='tensor'), the nearest valid call is used and said so.
"""
import numpy as np
import pytest

from keraslite import backend as K

pytestmark = pytest.mark.usefixtures("kbackend")


def close(got, want, rtol=1e-5, atol=1e-6):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# first block: tensors and variables


def test_placeholder_and_variables():
    input_tensor = K.placeholder(shape=(None, None, 3), ndim=3, dtype='float32')
    assert K.int_shape(input_tensor) == (None, None, 3)
    assert K.dtype(input_tensor) == "float32"
    assert K.is_placeholder(input_tensor)

    var0 = K.eye(size=3)
    var1 = K.zeros(shape=(3, 3))
    var2 = K.ones(shape=(3, 3))
    value3 = np.random.default_rng(0).random((224, 224, 3))
    var3 = K.variable(value=value3, dtype='float32', name='example_var', constraint=None)
    var4 = K.constant(value=np.zeros((2, 2)), dtype='int32', shape=(2, 2), name='ex_constant')
    close(K.eval(var0), np.eye(3))
    close(K.eval(var1), np.zeros((3, 3)))
    close(K.eval(var2), np.ones((3, 3)))
    v3 = K.eval(var3)
    assert v3.dtype == np.float32
    close(v3, value3.astype(np.float32))
    v4 = K.eval(var4)
    assert v4.dtype == np.int32
    np.testing.assert_array_equal(v4, np.zeros((2, 2), np.int32))

    var5 = K.variable(value=np.array([[2, 2], [4, 3]]), dtype='float32')
    v5 = K.eval(var5)
    assert v5.dtype == np.float32
    np.testing.assert_array_equal(v5, [[2, 2], [4, 3]])


def test_like_constructors_and_identity():
    arr = np.array([[1, 2], [3, 4]])
    var6 = K.ones_like(arr, dtype='float32')
    var7 = K.zeros_like(arr, dtype='int32')
    var8 = K.identity(arr, name='identity')
    v6, v7, v8 = K.eval(var6), K.eval(var7), K.eval(var8)
    assert v6.dtype == np.float32 and v7.dtype == np.int32
    np.testing.assert_array_equal(v6, np.ones((2, 2)))
    np.testing.assert_array_equal(v7, np.zeros((2, 2)))
    np.testing.assert_array_equal(v8, arr)


def test_random_variables_and_tensor_arithmetic():
    np.random.seed(8)  # seed=None draws its seed from np.random
    b = K.random_uniform_variable(shape=(64, 64, 3), low=0, high=1)  # Uniform distribution
    c = K.random_normal_variable(shape=(64, 64, 3), mean=0, scale=1)  # Gaussian distribution
    bv, cv = K.eval(b), K.eval(c)
    assert bv.shape == cv.shape == (64, 64, 3)
    assert bv.dtype == cv.dtype == np.float32
    assert bv.min() >= 0 and bv.max() < 1 and abs(bv.mean() - 0.5) < 0.02
    assert abs(cv.mean()) < 0.03 and abs(cv.std() - 1) < 0.03

    a = b * K.abs(c)
    close(K.eval(a), bv * np.abs(cv))
    # c = K.dot(a, K.transpose(b)): (64, 64, 3) . (3, 64, 64) contracts 3 with 64, which np.dot
    # and Keras refuse too; the error comes when the graph is built, naming the op and shapes
    with pytest.raises(ValueError, match=r"dot: .*\(64, 64, 3\).*\(3, 64, 64\)"):
        K.dot(a, K.transpose(b))
    c2 = K.dot(a, K.transpose(b[0]))               # (64, 64, 3) . (3, 64) -> (64, 64, 64)
    assert K.int_shape(c2) == (64, 64, 64)
    close(K.eval(c2), np.dot(bv * np.abs(cv), bv[0].T), rtol=1e-4, atol=1e-5)
    c4 = K.dot(a, K.permute_dimensions(b[:5], (0, 2, 1)))   # N-D y: (64, 64, 3) . (5, 3, 64)
    assert K.int_shape(c4) == (64, 64, 5, 64)
    close(K.eval(c4), np.dot(bv * np.abs(cv), bv[:5].transpose(0, 2, 1)), rtol=1e-4, atol=1e-5)
    a = K.sum(b, axis=1)
    close(K.eval(a), bv.sum(axis=1), rtol=1e-5, atol=1e-4)
    a = K.softmax(b)
    e = np.exp(bv - bv.max(axis=-1, keepdims=True))
    close(K.eval(a), e / e.sum(axis=-1, keepdims=True))
    # with c = the (64, 64, 64) product: joining on the last axis works, on axis 0 it cannot
    # (3 vs 64 on the last axis), and the error comes when the graph is built
    a = K.concatenate([b, c2], axis=-1)
    assert K.int_shape(a) == (64, 64, 67)
    close(K.eval(a), np.concatenate([bv, np.dot(bv * np.abs(cv), bv[0].T)], axis=-1),
          rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="concatenate"):
        K.concatenate([b, c2], axis=0)
    a = K.concatenate([b, c], axis=-1)
    close(K.eval(a), np.concatenate([bv, cv], axis=-1))
    a = K.concatenate([b, c], axis=0)
    close(K.eval(a), np.concatenate([bv, cv], axis=0))


# ---------------------------------------------------------------------------------------------
# second block: backend functions #1 - #25


def test_config_functions_1_to_5(kbackend):
    assert K.backend() == kbackend
    assert K.epsilon() == 1e-7
    K.set_epsilon(1e-05)
    assert K.epsilon() == 1e-05
    assert K.floatx() == "float32"
    K.set_floatx('float16')
    assert K.floatx() == "float16"
    assert K.dtype(K.variable(np.array([1.5, 2.5]))) == "float16"
    assert K.image_data_format() == "channels_last"
    K.set_image_data_format('channels_last')
    assert K.image_data_format() == "channels_last"
    K.clear_session()

    lp = K.learning_phase()
    assert K.is_tensor(lp) and K.ndim(lp) == 0
    x = K.placeholder(shape=(2,))
    picked = K.in_train_phase(x * 2, x * 3)
    f = K.function([x, lp], [picked])
    close(f([np.array([1.0, 2.0]), 1])[0], [2.0, 4.0])
    close(f([np.array([1.0, 2.0]), 0])[0], [3.0, 6.0])
    K.set_learning_phase(1)
    assert K.learning_phase() == 1
    close(K.eval(K.in_train_phase(K.constant(1.0), K.constant(0.0))), 1.0)


def test_is_keras_tensor_6_ndim_dtype_count_cast_7_to_9():
    keras_placeholder = K.placeholder(shape=(2, 4, 5))
    assert K.is_keras_tensor(keras_placeholder) is False  # A placeholder is not a Keras tensor.
    # (the Input / Dense lines of #6 need keraslite.layers)

    x = K.random_normal_variable(shape=(16, 16, 3), name='x', dtype='float32', mean=0, scale=1)
    assert K.ndim(x) == 3
    assert K.dtype(x) == "float32"

    var9 = K.random_normal_variable(shape=(4, 4, 4), dtype='float32', mean=0, scale=1)
    assert K.count_params(var9) == 64

    var10 = K.cast(var9, dtype='float64')
    assert K.dtype(var10) == "float64"
    v10 = K.eval(var10)
    assert v10.dtype == np.float64
    np.testing.assert_array_equal(v10, K.eval(var9).astype(np.float64))
    assert "float64" in repr(var10)


def test_updates_10_and_dot_transpose_11():
    old = K.random_normal_variable(shape=(2, 2), dtype='float32', mean=0, scale=1)
    new = K.random_uniform_variable(shape=(2, 2), dtype='float32', low=0, high=1)
    o0, n0 = K.eval(old), K.eval(new)
    op = K.update(old, new)
    np.testing.assert_array_equal(K.get_value(old), o0)   # building the op changes nothing
    K.eval(op)
    np.testing.assert_array_equal(K.get_value(old), n0)

    K.set_value(old, o0)
    K.eval(K.update_add(old, new))
    close(K.get_value(old), o0 + n0)
    K.eval(K.update_sub(old, new))
    close(K.get_value(old), o0)
    K.eval(K.moving_average_update(old, new, 0.9))
    close(K.get_value(old), o0 * 0.9 + n0 * 0.1)

    K.set_value(old, o0)
    close(K.eval(K.dot(old, new)), o0 @ n0)
    close(K.eval(K.transpose(old)), o0.T)


def test_gather_reductions_cumulative_12_to_14():
    var11 = K.variable(value=np.array([[1, 2], [3, 4]]))
    m = np.array([[1, 2], [3, 4]], dtype=np.float64)
    what = K.gather(reference=var11, indices=0)
    close(K.eval(what), [1, 2])
    assert K.int_shape(what) == (2,)

    result = K.max(var11, axis=0, keepdims=False)
    close(K.eval(result), [3, 4])
    for fn, ref in [(K.max, np.max), (K.min, np.min), (K.sum, np.sum), (K.prod, np.prod),
                    (K.mean, np.mean), (K.var, np.var), (K.std, np.std)]:
        for axis in (0, 1, None):
            for keepdims in (False, True):
                close(K.eval(fn(var11, axis=axis, keepdims=keepdims)),
                      ref(m, axis=axis, keepdims=keepdims))

    result = K.cumprod(var11, axis=0)
    close(K.eval(result), [[1, 2], [3, 8]])
    am = K.eval(K.argmax(result, axis=0))
    np.testing.assert_array_equal(am, [1, 1])
    close(K.eval(K.cumsum(var11, axis=0)), np.cumsum(m, axis=0))
    close(K.eval(K.cumsum(var11, axis=1)), np.cumsum(m, axis=1))
    np.testing.assert_array_equal(K.eval(K.argmin(var11, axis=0)), [0, 0])
    np.testing.assert_array_equal(K.eval(K.argmax(var11)), [1, 1])


def test_math_15():
    rng = np.random.default_rng(15)
    a = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    b = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    a[0, 0] = b[0, 0]
    va, vb = K.variable(a), K.variable(b)
    with np.errstate(all="ignore"):
        close(K.eval(K.square(va)), a ** 2)
        close(K.eval(K.sqrt(va)), np.sqrt(np.clip(a, 0, None)))   # negatives clip to 0
        got_log = K.eval(K.log(va))
        want_log = np.log(a)
        np.testing.assert_array_equal(np.isnan(got_log), np.isnan(want_log))
        close(got_log[~np.isnan(want_log)], want_log[~np.isnan(want_log)])
    close(K.eval(K.exp(va)), np.exp(a))
    close(K.eval(K.round(K.variable(np.array([0.5, 1.5, 2.5, -0.5, 1.2])))), [0, 2, 2, -0, 1])
    close(K.eval(K.sign(va)), np.sign(a))
    for fn, ref in [(K.equal, np.equal), (K.not_equal, np.not_equal), (K.greater, np.greater),
                    (K.greater_equal, np.greater_equal), (K.less, np.less),
                    (K.less_equal, np.less_equal)]:
        got = K.eval(fn(va, vb))
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, ref(a, b))
    close(K.eval(K.maximum(va, vb)), np.maximum(a, b))
    close(K.eval(K.minimum(va, vb)), np.minimum(a, b))


def test_batch_normalization_16():
    rng = np.random.default_rng(16)
    xv = rng.standard_normal((16, 16, 3)).astype(np.float32)
    x = K.variable(xv)
    beta = rng.standard_normal(3).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, 3).astype(np.float32)
    # output = (x - mean) / sqrt(var + epsilon) * gamma + beta
    # (the tutorial writes beta, gamma positionally after keywords, which is not valid Python)
    x_normed = K.batch_normalization(x, mean=0, var=1, beta=beta, gamma=gamma, axis=-1,
                                     epsilon=0.001)
    close(K.eval(x_normed), (xv - 0) / np.sqrt(1 + 0.001) * gamma + beta)

    # reduction_axes as an int: statistics over the last axis, one per (row, column)
    g2 = rng.uniform(0.5, 1.5, (16, 16)).astype(np.float32)
    b2 = rng.standard_normal((16, 16)).astype(np.float32)
    (y_normed, mean, variance) = K.normalize_batch_in_training(x, g2, b2, reduction_axes=-1,
                                                               epsilon=0.001)
    mu = xv.astype(np.float64).mean(axis=-1)
    var = xv.astype(np.float64).var(axis=-1)
    close(K.eval(mean), mu)
    close(K.eval(variance), var, rtol=1e-5, atol=1e-5)
    close(K.eval(y_normed), (xv - mu[..., None]) / np.sqrt(var[..., None] + 0.001) * g2[..., None]
          + b2[..., None], rtol=1e-4, atol=1e-5)
    # the usual convnet form: statistics per channel, over every other axis
    y, m, v = K.normalize_batch_in_training(x, K.constant(gamma), K.constant(beta),
                                            reduction_axes=[0, 1], epsilon=0.001)
    mu = xv.astype(np.float64).mean(axis=(0, 1))
    var = xv.astype(np.float64).var(axis=(0, 1))
    close(K.eval(m), mu)
    close(K.eval(v), var, rtol=1e-5, atol=1e-5)
    close(K.eval(y), (xv - mu) / np.sqrt(var + 0.001) * gamma + beta, rtol=1e-4, atol=1e-5)
    # a (3,) gamma does not fit statistics over the last axis: a clear error, when built
    with pytest.raises(ValueError, match="normalize_batch_in_training: gamma"):
        K.normalize_batch_in_training(x, gamma, beta, reduction_axes=-1, epsilon=0.001)


def test_concatenate_reshape_permute_17():
    var3 = K.variable(value=np.random.default_rng(17).random((224, 224, 3)), dtype='float32')
    var4 = K.constant(value=np.zeros((2, 2)), dtype='int32', shape=(2, 2))
    # (224, 224, 3) and (2, 2) cannot be joined: Keras raises too; ours names the op and shapes
    with pytest.raises(ValueError, match="concatenate"):
        K.concatenate([var3, var4], axis=-1)

    arr12 = np.array(np.arange(0, 24, 1).reshape(2, 3, 4))
    var12 = K.variable(arr12)
    assert K.eval(var12).shape == (2, 3, 4)
    p = K.permute_dimensions(var12, pattern=[2, 1, 0])
    assert K.int_shape(p) == (4, 3, 2)
    close(K.eval(p), np.transpose(arr12, (2, 1, 0)))
    close(K.eval(K.reshape(var12, (4, -1))), arr12.reshape(4, -1))


def test_resize_images_18():
    img_tensor = K.random_normal_variable(shape=(1, 100, 60, 3), mean=0, scale=1)
    img = K.eval(img_tensor)
    r = K.resize_images(img_tensor, 10, 10, data_format='channels_last')
    assert K.int_shape(r) == (1, 1000, 600, 3)
    close(K.eval(r), img.repeat(10, axis=1).repeat(10, axis=2))


def test_flatten_expand_squeeze_padding_19_20():
    var13 = K.variable(value=np.ones((224, 224, 3)))
    var14 = K.expand_dims(var13, axis=0)
    assert K.int_shape(var14) == (1, 224, 224, 3)
    close(K.eval(var14), np.ones((1, 224, 224, 3)))
    f = K.flatten(var13)
    assert K.int_shape(f) == (224 * 224 * 3,)
    close(K.eval(f), np.ones(224 * 224 * 3))

    v14 = np.random.default_rng(19).random((224, 224, 1))
    var14 = K.variable(value=v14)
    s = K.squeeze(var14, axis=-1)
    assert K.int_shape(s) == (224, 224)
    close(K.eval(s), v14[..., 0])

    # Keras 2 needs a 4-D tensor here; keraslite takes the tutorial's 3-D one as one image
    padded = K.spatial_2d_padding(var14, padding=((3, 3), (3, 3)))
    assert K.int_shape(padded) == (230, 230, 1)
    close(K.eval(padded), np.pad(v14, ((3, 3), (3, 3), (0, 0))))
    batch = K.expand_dims(var14, axis=0)
    padded4 = K.spatial_2d_padding(batch, padding=((3, 3), (3, 3)))
    close(K.eval(padded4), np.pad(v14[None], ((0, 0), (3, 3), (3, 3), (0, 0))))


def test_stack_one_hot_slice_get_value_21():
    rng = np.random.default_rng(21)
    xv = rng.standard_normal((16, 16, 3)).astype(np.float32)
    x = K.variable(xv)
    # the tutorial stacks a single tensor: like tf.stack it is unpacked along axis 0
    close(K.eval(K.stack(x, axis=0)), np.stack(list(xv), axis=0))
    close(K.eval(K.stack([x, x * 2], axis=0)), np.stack([xv, xv * 2], axis=0))
    close(K.eval(K.stack([x, x * 2], axis=-1)), np.stack([xv, xv * 2], axis=-1))

    indices = np.array([[0, 3], [2, 1]])
    num_classes = 4
    oh = K.eval(K.one_hot(indices, num_classes))
    close(oh, np.eye(num_classes)[indices])

    start, size = (2, 5, 0), (3, 4, 2)
    close(K.eval(K.slice(x, start, size)), xv[2:5, 5:9, 0:2])

    arr12 = np.arange(0, 24, 1).reshape(2, 3, 4)
    var12 = K.variable(arr12)
    close(K.get_value(var12), arr12)
    got = K.batch_get_value([var12, x])
    assert isinstance(got, list) and len(got) == 2
    close(got[0], arr12)
    close(got[1], xv)


def test_gradients_on_a_placeholder_22():
    """#22: K.gradients(loss=loss, variables=combination_image) with a single placeholder, as in
    the style-transfer example: a content loss plus a total-variation loss."""
    rng = np.random.default_rng(22)
    target = rng.standard_normal((1, 6, 5, 3)).astype(np.float32)
    img = rng.standard_normal((1, 6, 5, 3)).astype(np.float32)
    combination_image = K.placeholder(shape=(1, 6, 5, 3))
    content = K.sum(K.square(combination_image - K.constant(target)))
    a = K.square(combination_image[:, :-1, :-1, :] - combination_image[:, 1:, :-1, :])
    b = K.square(combination_image[:, :-1, :-1, :] - combination_image[:, :-1, 1:, :])
    tv = K.sum(a + b)
    loss = content + 0.5 * tv
    grads = K.gradients(loss=loss, variables=combination_image)
    assert isinstance(grads, list) and len(grads) == 1
    f = K.function([combination_image], [loss] + grads)
    loss_v, grad_v = f([img])

    x = img.astype(np.float64)
    da = x[:, :-1, :-1, :] - x[:, 1:, :-1, :]
    db = x[:, :-1, :-1, :] - x[:, :-1, 1:, :]
    want_loss = ((x - target) ** 2).sum() + 0.5 * (da ** 2 + db ** 2).sum()
    want = 2 * (x - target)
    want[:, :-1, :-1, :] += 0.5 * 2 * (da + db)
    want[:, 1:, :-1, :] -= 0.5 * 2 * da
    want[:, :-1, 1:, :] -= 0.5 * 2 * db
    close(loss_v, want_loss, rtol=1e-5, atol=1e-4)
    close(grad_v, want, rtol=1e-5, atol=1e-5)


def test_nn_functions_23():
    rng = np.random.default_rng(23)
    xv = rng.uniform(-3, 3, (5, 4)).astype(np.float32)
    x = K.variable(xv)
    close(K.eval(K.relu(x=x, alpha=0.0, max_value=None)), np.maximum(xv, 0))
    close(K.eval(K.relu(x=x, alpha=0.1, max_value=2.0)),
          np.where(xv >= 0, np.minimum(xv, 2.0), 0.1 * xv))
    e = np.exp(xv - xv.max(axis=-1, keepdims=True))
    sm = e / e.sum(axis=-1, keepdims=True)
    close(K.eval(K.softmax(x, axis=-1)), sm)

    target = np.eye(4, dtype=np.float32)[[0, 3, 1, 2, 2]]
    cce = K.categorical_crossentropy(target=K.variable(target), output=K.softmax(x),
                                     from_logits=False, axis=-1)
    want = -(target * np.log(np.clip(sm, 1e-7, 1 - 1e-7))).sum(axis=-1)
    close(K.eval(cce), want, rtol=1e-5, atol=1e-5)
    cce_l = K.categorical_crossentropy(target=K.variable(target), output=x, from_logits=True)
    close(K.eval(cce_l), -(target * np.log(sm)).sum(axis=-1), rtol=1e-5, atol=1e-5)

    ones = K.variable(np.ones((200, 100), np.float32))
    d = K.eval(K.dropout(x=ones, level=0.3, noise_shape=None, seed=None))
    kept = d != 0
    close(d[kept], np.full(kept.sum(), 1 / 0.7))
    assert abs(kept.mean() - 0.7) < 0.02

    n = np.sqrt((xv.astype(np.float64) ** 2).sum())
    close(K.eval(K.l2_normalize(x=x, axis=None)), xv / n)
    close(K.eval(K.l2_normalize(x=x, axis=-1)),
          xv / np.sqrt((xv.astype(np.float64) ** 2).sum(axis=-1, keepdims=True)))

    preds = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.9, 0.05, 0.05]], np.float32)
    targets = np.array([2, 0, 1])
    for k in (1, 2, 3):
        got = K.eval(K.in_top_k(predictions=K.variable(preds), targets=K.constant(targets, dtype="int32"),
                                k=k))
        want = [(preds[i] > preds[i, t]).sum() < k for i, t in enumerate(targets)]
        np.testing.assert_array_equal(got, want)


def _np_conv2d_valid(x, k, strides):
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape[:2], axis=(1, 2))
    windows = windows[:, ::strides[0], ::strides[1]]          # (n, ho, wo, cin, kh, kw)
    return np.einsum("nhwcij,ijco->nhwo", windows, k)


def _np_pool2d_valid(x, pool_size, strides, mode):
    windows = np.lib.stride_tricks.sliding_window_view(x, pool_size, axis=(1, 2))
    windows = windows[:, ::strides[0], ::strides[1]]
    return windows.max(axis=(-2, -1)) if mode == "max" else windows.mean(axis=(-2, -1))


def test_cnn_24():
    rng = np.random.default_rng(24)
    xv = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    kv = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    x, kernel = K.variable(xv), K.variable(kv)
    y = K.conv2d(x=x, kernel=kernel, strides=(1, 1), padding='valid', data_format='channels_last')
    close(K.eval(y), _np_conv2d_valid(xv.astype(np.float64), kv.astype(np.float64), (1, 1)),
          rtol=1e-5, atol=1e-5)
    y2 = K.conv2d(x=x, kernel=kernel, strides=(2, 2), padding='valid', data_format='channels_last')
    close(K.eval(y2), _np_conv2d_valid(xv.astype(np.float64), kv.astype(np.float64), (2, 2)),
          rtol=1e-5, atol=1e-5)
    for mode in ("max", "avg"):
        p = K.pool2d(x, pool_size=(2, 2), strides=(1, 1), padding='valid',
                     data_format='channels_last', pool_mode=mode)
        close(K.eval(p), _np_pool2d_valid(xv, (2, 2), (1, 1), mode))


def test_random_tensors_25():
    var15 = K.random_normal(shape=(3, 3), mean=0.0, stddev=1.0, dtype='float32', seed=None)
    v = K.get_value(var15)
    assert v.shape == (3, 3) and v.dtype == np.float32
    assert not np.array_equal(v, K.get_value(var15))   # a random tensor draws anew each time
    big = K.eval(K.random_normal(shape=(200, 200), mean=1.0, stddev=2.0, dtype='float32', seed=3))
    assert abs(big.mean() - 1.0) < 0.05 and abs(big.std() - 2.0) < 0.05
    u = K.eval(K.random_uniform(shape=(200, 200), minval=-1.0, maxval=3.0, dtype='float32', seed=4))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    t = K.eval(K.truncated_normal(shape=(200, 200), mean=0.0, stddev=1.0, dtype='float32', seed=5))
    assert np.abs(t).max() <= 2.0 and abs(t.std() - 0.87962) < 0.015


def test_whole_section_in_order_with_float16():
    """The second block runs in order: after `K.set_floatx('float16')` the later variables made
    without a dtype are float16, and everything computed on them stays float16."""
    K.set_epsilon(1e-05)
    K.set_floatx('float16')
    K.set_image_data_format('channels_last')
    K.clear_session()
    K.set_learning_phase(1)
    var11 = K.variable(value=np.array([[1, 2], [3, 4]]))
    assert K.dtype(var11) == "float16"
    what = K.gather(reference=var11, indices=0)
    got = K.eval(what)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, [1, 2])
    m = np.array([[1, 2], [3, 4]], np.float64)
    for fn, ref in [(K.max, np.max), (K.min, np.min), (K.sum, np.sum), (K.prod, np.prod),
                    (K.mean, np.mean), (K.var, np.var), (K.std, np.std)]:
        r = K.eval(fn(var11, axis=0, keepdims=False))
        assert r.dtype == np.float16, fn
        close(r, ref(m, axis=0), rtol=2e-3, atol=2e-3)
    result = K.cumprod(var11, axis=0)
    close(K.eval(result), [[1, 2], [3, 8]])
    np.testing.assert_array_equal(K.eval(K.argmax(result, axis=0)), [1, 1])
    sm = K.eval(K.softmax(var11))
    assert sm.dtype == np.float16
    e = np.exp(m - m.max(axis=-1, keepdims=True))
    close(sm, e / e.sum(axis=-1, keepdims=True), rtol=2e-3, atol=2e-3)
    var12 = K.variable(np.array(np.arange(0, 24, 1).reshape(2, 3, 4)))
    close(K.eval(K.permute_dimensions(var12, pattern=[2, 1, 0])),
          np.arange(24).reshape(2, 3, 4).transpose(2, 1, 0))
    g = K.gradients(K.sum(K.square(var11) * 3 + var11), [var11])[0]
    gv = K.eval(g)
    assert gv.dtype == np.float16
    close(gv, 6 * m + 1)

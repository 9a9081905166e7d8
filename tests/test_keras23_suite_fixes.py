"""Behaviours found by running Keras 2.3.1's own test-suite against keraslite, each checked here
against Keras 2.3's documented behaviour or a NumPy formula written in the test."""
import numpy as np

from keraslite import metrics
from keraslite.layers import Dense, Input
from keraslite.models import Model


def _two_output_model():
    a, b = Input(shape=(1,), name="in_a"), Input(shape=(1,), name="in_b")
    shared = Dense(3, kernel_initializer="ones", trainable=False)
    out_1 = Dense(1, kernel_initializer="ones", name="out_1", trainable=False)(shared(a))
    out_2 = Dense(1, kernel_initializer="ones", name="out_2", trainable=False)(shared(b))
    return Model([a, b], [out_1, out_2])


def test_multi_output_metric_order_is_output_by_output():
    # Keras 2 lists, for each output in turn, its metrics and then its weighted metrics
    model = _two_output_model()
    model.compile("sgd", "mse", metrics=["mae", metrics.MeanSquaredError(name="m")],
                  weighted_metrics=["mse"])
    assert model.metrics_names == [
        "loss", "out_1_loss", "out_2_loss",
        "out_1_mae", "out_1_m", "out_1_weighted_mse",
        "out_2_mae", "out_2_m", "out_2_weighted_mse"]

    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    y1, y2 = 2 * x, x
    w1, w2 = np.array([2.0, 3.0, 4.0, 5.0]), np.array([3.5, 2.5, 1.5, 0.5])
    out = model.evaluate([x, x], [y1, y2], batch_size=2, verbose=0, sample_weight=[w1, w2])
    pred = 3 * x  # Dense(3, ones) then Dense(1, ones): 3 x
    e1, e2 = ((pred - y1) ** 2)[:, 0], ((pred - y2) ** 2)[:, 0]
    # losses: per batch sum(w * e) / batch size, averaged over the two batches; weighted metrics:
    # sum(w * e) / sum(w) over all samples (Keras 2.3)
    loss_1, loss_2 = np.mean(e1 * w1), np.mean(e2 * w2)
    want = [loss_1 + loss_2, loss_1, loss_2,
            np.abs(pred - y1).mean(), e1.mean(), np.sum(e1 * w1) / np.sum(w1),
            np.abs(pred - y2).mean(), e2.mean(), np.sum(e2 * w2) / np.sum(w2)]
    np.testing.assert_allclose(out, want, rtol=1e-5)


def test_per_output_metric_dict_order_follows_outputs():
    model = _two_output_model()
    model.compile("sgd", ["mse", "mae"], metrics={"out_2": ["mse"], "out_1": ["mae"]},
                  weighted_metrics={"out_2": ["mae"]})
    assert model.metrics_names == ["loss", "out_1_loss", "out_2_loss", "out_1_mae",
                                   "out_2_mse", "out_2_weighted_mae"]


# ---------------------------------------------------------------------------------------------
# Keras 2.3 layer attribute tracking: sublayers and variables assigned to a Layer's attributes

from keraslite import backend as K  # noqa: E402
from keraslite import layers  # noqa: E402


class _Block(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Dense(3, kernel_regularizer="l2", activity_regularizer="l2")
        self.scale = K.variable(2.0, name="scale")

    def build(self, input_shape):
        self.offset = self.add_weight("offset", shape=(), initializer="ones", trainable=False)
        super().build(input_shape)

    def call(self, x):
        return self.inner(x) * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (3,)


def test_layer_tracks_sublayers_and_variables():
    block = _Block()
    assert block._layers == [block.inner]
    x = Input((2,))
    y = block(x)
    assert [id(w) for w in block.trainable_weights] == [id(block.scale), id(block.inner.kernel),
                                                        id(block.inner.bias)]
    assert [id(w) for w in block.non_trainable_weights] == [id(block.offset)]
    assert len(block.weights) == 4
    # the inner layer's kernel regulariser (unconditional) and activity regulariser (on x)
    assert len(block.losses) == 2 and len(block.get_losses_for(None)) == 1 and len(block.get_losses_for(x)) == 1
    model = Model(x, y)
    assert len(model.weights) == 4 and len(model.losses) == 2
    assert len(model.get_losses_for(None)) == 1 and len(model.get_losses_for(x)) == 1

    data = np.array([[1.0, -2.0], [0.5, 3.0]], "float32")
    kernel, bias = block.inner.get_weights()
    want = (data @ kernel + bias) * 2.0 + 1.0
    np.testing.assert_allclose(model.predict(data), want, rtol=1e-5)
    # the total loss adds both regularisers: 0.01 * sum(kernel^2) + 0.01 * sum(dense output^2) (Keras 2.3
    # does not divide the activity regulariser by the batch size)
    model.compile("sgd", "mse")
    target = np.zeros((2, 3), "float32")
    dense_out = data @ kernel + bias
    expect = np.mean((want - target) ** 2) + 0.01 * np.sum(kernel ** 2) + 0.01 * np.sum(dense_out ** 2)
    np.testing.assert_allclose(model.evaluate(data, target, verbose=0), expect, rtol=1e-4)
    # training moves the tracked variable and the sublayer's weights, not the frozen offset
    before = [K.get_value(block.scale), kernel.copy()]
    model.train_on_batch(data, target)
    assert K.get_value(block.scale) != before[0] and not np.allclose(block.inner.get_weights()[0], before[1])
    assert K.get_value(block.offset) == 1.0


def test_frozen_layer_reports_sublayer_weights_as_non_trainable():
    block = _Block()
    block(Input((2,)))
    block.trainable = False
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 4


# ---------------------------------------------------------------------------------------------
# Keras 2.3 utils

from keraslite.utils import generic_utils, layer_utils  # noqa: E402
import pytest  # noqa: E402


def test_generic_utils_helpers():
    a, b = np.arange(10), np.arange(10, 20)
    assert [list(x) for x in generic_utils.slice_arrays([a, b], 2, 4)] == [[2, 3], [12, 13]]
    assert list(generic_utils.slice_arrays(a, [1, 5])) == [1, 5]
    assert generic_utils.slice_arrays([a, None], 0, 1)[1] is None and generic_utils.slice_arrays(None) == [None]
    assert generic_utils.transpose_shape((8, 5, 6, 3), "channels_first", [1, 2]) == (8, 3, 5, 6)
    assert generic_utils.transpose_shape([8, 5, 3], "channels_last", [1]) == [8, 5, 3]
    with pytest.raises(ValueError):
        generic_utils.transpose_shape((1, 2), "channels_middle", [1])
    assert generic_utils.is_all_none([None, None]) and not generic_utils.is_all_none([None, 0])
    x, y = object(), object()
    assert generic_utils.object_list_uid([x, y]) == f"{abs(id(x))}, {abs(id(y))}"
    assert generic_utils.object_list_uid(x) == generic_utils.object_list_uid([x])
    with pytest.raises(ValueError, match="loss"):
        generic_utils.check_for_unexpected_keys("loss", {"a": 1, "zz": 2}, ["a", "b"])


@pytest.mark.parametrize("target", ["channels_first", "channels_last"])
def test_convert_dense_weights_data_format(target):
    # a Dense after Flatten reads a (2, 3, 4) feature map; after conversion, feeding it the feature
    # map in the other layout must give the same output
    rng = np.random.default_rng(0)
    fm_target = (4, 2, 3) if target == "channels_first" else (2, 3, 4)
    fm_source = (2, 3, 4) if target == "channels_first" else (4, 2, 3)
    dense = Dense(5)
    dense.build((None, 24))
    kernel = rng.standard_normal((24, 5)).astype("float32")
    bias = rng.standard_normal(5).astype("float32")
    dense.set_weights([kernel, bias])
    fmap = rng.standard_normal(fm_source).astype("float32")
    before = fmap.reshape(-1) @ kernel
    layer_utils.convert_dense_weights_data_format(dense, fm_target, target)
    moved = np.moveaxis(fmap, -1, 0) if target == "channels_first" else np.moveaxis(fmap, 0, -1)
    new_kernel, new_bias = dense.get_weights()
    np.testing.assert_allclose(moved.reshape(-1) @ new_kernel, before, rtol=1e-5)
    np.testing.assert_array_equal(new_bias, bias)
    with pytest.raises(ValueError):
        layer_utils.convert_dense_weights_data_format(dense, (5, 5, 5), target)
    with pytest.raises(ValueError):
        layer_utils.convert_dense_weights_data_format(dense, fm_target, "channels_middle")


def test_pooling_layers_importable_from_convolutional():
    from keraslite.layers import convolutional, pooling
    for name in ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
                 "AveragePooling3D"):
        assert getattr(convolutional, name) is getattr(pooling, name)


# ---------------------------------------------------------------------------------------------
# recurrent layers: constants reach the cell's build; wrapper losses per input

class _CellWithConstant(layers.Layer):
    """out = x @ A + h @ B + c @ C (a cell whose build needs the constant's shape, as Keras 2.3
    documents: build receives [step input shape, constant shape])."""

    def __init__(self, units, **kwargs):
        self.units = units
        self.state_size = units
        super().__init__(**kwargs)

    def build(self, input_shape):
        if not isinstance(input_shape, list):
            raise TypeError("expected [input shape, constant shape]")
        step_shape, constant_shape = input_shape
        self.a = self.add_weight("a", (step_shape[-1], self.units), initializer="uniform")
        self.b = self.add_weight("b", (self.units, self.units), initializer="uniform")
        self.c = self.add_weight("c", (constant_shape[-1], self.units), initializer="uniform")
        self.built = True

    def call(self, inputs, states, constants):
        out = K.dot(inputs, self.a) + K.dot(states[0], self.b) + K.dot(constants[0], self.c)
        return out, [out]


def test_rnn_cell_build_receives_constant_shapes():
    x, c = Input((4, 2)), Input((3,))
    rnn = layers.RNN(_CellWithConstant(5))
    model = Model([x, c], rnn(x, constants=c))
    cell = rnn.cell
    assert K.int_shape(cell.c) == (3, 5)
    rng = np.random.default_rng(1)
    xv, cv = rng.standard_normal((2, 4, 2)).astype("float32"), rng.standard_normal((2, 3)).astype("float32")
    a, b, cw = (K.get_value(w) for w in (cell.a, cell.b, cell.c))
    h = np.zeros((2, 5), "float32")
    for t in range(4):
        h = xv[:, t] @ a + h @ b + cv @ cw
    np.testing.assert_allclose(model.predict([xv, cv]), h, rtol=1e-4, atol=1e-5)


def test_bidirectional_losses_conditional_on_its_inputs():
    x = Input((3, 2))
    layer = layers.Bidirectional(layers.SimpleRNN(3, kernel_regularizer="l1"))
    layer(x)
    assert len(layer.get_losses_for(None)) == 2 and layer.get_losses_for(x) == []
    layer.forward_layer.add_loss(K.constant(1.0), inputs=x)
    layer.backward_layer.add_loss(K.constant(2.0), inputs=x)
    layer.add_loss(K.constant(3.0), inputs=x)
    assert sorted(float(K.eval(l)) for l in layer.get_losses_for(x)) == [1.0, 2.0, 3.0]
    assert len(layer.losses) == 5


def test_ordered_enqueuer_join_end_of_epoch():
    from keraslite.utils import OrderedEnqueuer, Sequence

    class Halving(Sequence):
        def __init__(self):
            self.size, self.scale = 8, 1

        def __len__(self):
            return self.size

        def __getitem__(self, i):
            return np.array([i * self.scale])

        def on_epoch_end(self):
            self.size, self.scale = self.size // 2, self.scale * 10

    seq = Halving()
    enq = OrderedEnqueuer(seq, use_multiprocessing=False)
    enq.start(workers=2, max_queue_size=3)
    out = enq.get()
    assert [int(next(out)[0]) for _ in range(8)] == list(range(8))
    enq.join_end_of_epoch()
    assert len(seq) == 4 and not enq.end_of_epoch_signal.is_set()
    assert [int(next(out)[0]) for _ in range(4)] == [0, 10, 20, 30]
    enq.stop()


@pytest.mark.parametrize("init", ["zeros", "ones", "glorot_uniform", "he_normal", "random_uniform",
                                  "truncated_normal", "lecun_normal"])
def test_scalar_weights_keep_shape_scalar(init):
    from keraslite import initializers
    assert initializers.get(init)(()).shape == ()

    class Scaled(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", [], initializer=initializers.Constant(3.0))
            super().build(input_shape)

        def call(self, x):
            return x * self.w

    layer = Scaled()
    out = Model(*(lambda i: (i, layer(i)))(Input((2,)))).predict(np.array([[1.0, 2.0]], "float32"))
    assert K.int_shape(layer.w) == () and layer.get_weights()[0].shape == ()
    np.testing.assert_allclose(out, [[3.0, 6.0]])


def test_backend_function_as_activation_saves_under_its_public_name(tmp_path):
    from keraslite.models import load_model
    for name in ("cos", "sin", "square", "sign", "log"):
        assert getattr(K, name).__name__ == name
    i = Input((2,))
    model = Model(i, Dense(2, activation=K.cos)(i))
    assert model.layers[1].get_config()["activation"] == "cos"
    path = str(tmp_path / "cos.h5")
    model.save(path)
    x = np.array([[0.5, -1.0]], "float32")
    again = load_model(path, custom_objects={"cos": K.cos})
    kernel, bias = model.layers[1].get_weights()
    np.testing.assert_allclose(again.predict(x), np.cos(x @ kernel + bias), rtol=1e-5)


def test_save_and_load_model_through_binary_streams(tmp_path):
    import io
    from keraslite.models import load_model
    i = Input((3,))
    model = Model(i, Dense(2, activation="tanh")(i))
    model.compile("adam", "mse")
    x = np.random.default_rng(2).standard_normal((4, 3)).astype("float32")
    model.train_on_batch(x, np.zeros((4, 2), "float32"))
    want = model.predict(x)
    stream = io.BytesIO()
    model.save(stream)
    assert stream.getvalue()[:8] == b"\x89HDF\r\n\x1a\n"  # an HDF5 file's signature
    stream.seek(0)
    again = load_model(stream)
    np.testing.assert_allclose(again.predict(x), want, rtol=1e-6)
    assert again.optimizer.__class__.__name__ == "Adam"
    path = tmp_path / "m.h5"
    with open(path, "wb") as fh:
        model.save(fh)
    with open(path, "rb") as fh:
        np.testing.assert_allclose(load_model(fh).predict(x), want, rtol=1e-6)
    with pytest.raises(OSError, match="not a readable HDF5"):
        load_model(io.BytesIO(b"not an hdf5 file"))
    with open(path, "r", encoding="latin-1") as fh:
        with pytest.raises(TypeError, match="binary mode"):
            load_model(fh)


def test_model_uses_learning_phase():
    i = Input((3,))
    assert not Model(i, Dense(2)(i)).uses_learning_phase
    assert Model(i, layers.Dropout(0.5)(Dense(2)(i))).uses_learning_phase
    assert Model(i, layers.BatchNormalization()(i)).uses_learning_phase


def test_fixed_batch_size_needs_whole_batches_checked_before_training():
    from keraslite.models import Sequential
    model = Sequential([layers.SimpleRNN(3, stateful=True, batch_input_shape=(2, 5, 4))])
    model.compile("sgd", "mse")
    rng = np.random.default_rng(3)
    x, y = rng.random((6, 5, 4)).astype("float32"), rng.random((6, 3)).astype("float32")
    before = model.get_weights()
    with pytest.raises(ValueError, match="In a stateful network.*batch size 2.*Found: 5 samples"):
        model.fit(x[:5], y[:5], verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing trained
    with pytest.raises(ValueError, match="Found: 3 samples"):
        model.predict(x[:3])
    with pytest.raises(ValueError, match="Found: 3 samples"):
        model.evaluate(x[:3], y[:3], verbose=0)
    with pytest.raises(ValueError, match="Found: 1 validation samples"):
        model.fit(x[:5], y[:5], validation_split=0.2, verbose=0)  # 4 training, 1 validation sample
    model.fit(x[:4], y[:4], verbose=0)
    assert model.predict(x).shape == (6, 3)


@pytest.mark.parametrize("cls,gates", [("LSTM", 4), ("GRU", 3)])
def test_identity_recurrent_initializer_is_per_gate(cls, gates):
    from keraslite import initializers
    layer = getattr(layers, cls)(3, recurrent_initializer=initializers.Identity(gain=2.0))
    layer(Input((4, 2)))
    want = np.concatenate([2.0 * np.eye(3)] * gates, axis=1)
    np.testing.assert_array_equal(layer.get_weights()[1], want)
    assert layer.get_config()["recurrent_initializer"]["class_name"] == "Identity"
    simple = layers.SimpleRNN(3, recurrent_initializer="identity")  # square: the plain identity
    simple(Input((4, 2)))
    np.testing.assert_array_equal(simple.get_weights()[1], np.eye(3))


class _Counts(__import__("keraslite.callbacks", fromlist=["Callback"]).Callback):
    """Records each test/predict hook call (name, batch, logged keys)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _rec(name):
        def hook(self, *args):
            batch = args[0] if args and isinstance(args[0], int) else None
            logs = args[-1] if args and isinstance(args[-1], dict) else {}
            self.calls.append((name, batch, tuple(sorted(logs))))
        return hook

    on_test_begin = _rec("test_begin")
    on_test_end = _rec("test_end")
    on_test_batch_begin = _rec("test_batch_begin")
    on_test_batch_end = _rec("test_batch_end")
    on_predict_begin = _rec("predict_begin")
    on_predict_end = _rec("predict_end")
    on_predict_batch_begin = _rec("predict_batch_begin")
    on_predict_batch_end = _rec("predict_batch_end")

    def names(self, prefix):
        return [c[0] for c in self.calls if c[0].startswith(prefix)]


def test_evaluate_predict_and_validation_call_test_and_predict_hooks():
    from keraslite.models import Sequential
    from keraslite.utils import Sequence
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.ones((10, 3), "float32"), np.zeros((10, 2), "float32")
    c = _Counts()
    model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[c])  # batches of 4, 4, 2
    assert c.names("test") == ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 3 + ["test_end"]
    ends = [call for call in c.calls if call[0] == "test_batch_end"]
    assert [b for _, b, _ in ends] == [0, 1, 2] and ends[0][2] == ("batch", "loss", "mae", "size")
    c = _Counts()
    model.predict(x, batch_size=3, callbacks=[c])  # 4 batches
    assert c.names("predict") == ["predict_begin"] + ["predict_batch_begin", "predict_batch_end"] * 4 + \
        ["predict_end"]
    assert ("outputs" in c.calls[2][2]) and c.names("test") == []
    c = _Counts()
    model.fit(x, y, batch_size=5, epochs=2, verbose=0, validation_data=(x[:6], y[:6]), callbacks=[c])
    # each epoch validates 6 samples in batches of 5: two test batches per epoch
    assert c.names("test_begin") == ["test_begin"] * 2 and len(c.names("test_batch_end")) == 4

    class Batches(Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[:2], y[:2]
    c = _Counts()
    model.evaluate_generator(Batches(), callbacks=[c])
    assert c.names("test") == ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 3 + ["test_end"]
    c = _Counts()
    model.predict_generator(Batches(), callbacks=[c])
    assert len(c.names("predict_batch_end")) == 3 and c.names("predict_end") == ["predict_end"]
    c = _Counts()
    model.fit_generator(Batches(), epochs=1, verbose=0, validation_data=(x, y), callbacks=[c])
    assert c.names("test_begin") == ["test_begin"] and len(c.names("test_batch_end")) == 1  # 10 < 32
    # Keras 2.3: callbacks of fit_generator see the validation arrays as [x, y, sample weights]
    assert len(c.validation_data) == 3
    np.testing.assert_array_equal(c.validation_data[0], x)
    np.testing.assert_array_equal(c.validation_data[1], y)
    np.testing.assert_array_equal(c.validation_data[2], np.ones(10))


def test_add_metric_on_layers_and_models():
    from keraslite.models import Sequential  # noqa: F401

    class Shift(layers.Layer):
        def call(self, x):
            self.add_metric(K.mean(x), name="mean_in")  # mean of this batch's inputs
            return x + 1.0

    i = Input((2,))
    out = Dense(1, kernel_initializer="ones", trainable=False)(Shift()(i))
    model = Model(i, out)
    model.add_metric(K.sum(out), name="sum_out")
    model.add_metric(metrics.Mean(name="mean_out")(out))
    with pytest.raises(ValueError, match="name"):
        model.add_metric(K.sum(out))
    model.compile("sgd", "mse", metrics=["mae"])
    # Keras 2.3's order: compile's metrics, the model's own add_metric ones, then its layers'
    assert model.metrics_names == ["loss", "mae", "sum_out", "mean_out", "mean_in"]
    x = np.arange(12, dtype="float32").reshape(6, 2)
    y = np.zeros((6, 1), "float32")
    pred = (x + 1).sum(1, keepdims=True)
    batches = [slice(0, 4), slice(4, 6)]
    # add_metric tensors: the mean over the batches of the per-batch value; a metric object: its state
    want_mean_in = np.mean([x[b].mean() for b in batches])
    want_sum_out = np.mean([pred[b].sum() for b in batches])
    out_eval = model.evaluate(x, y, batch_size=4, verbose=0)
    np.testing.assert_allclose(out_eval[2:], [want_sum_out, pred.mean(), want_mean_in], rtol=1e-5)
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y))
    np.testing.assert_allclose(hist.history["val_sum_out"][0], want_sum_out, rtol=1e-5)
    np.testing.assert_allclose(hist.history["mean_out"][0], pred.mean(), rtol=1e-5)


def test_add_metric_in_subclassed_model_orders_attribute_metrics_first():
    class Net(Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = Dense(2, kernel_initializer="ones")
            self.first = metrics.Mean(name="first")

        def call(self, x):
            self.add_metric(K.sum(x), name="second")
            self.add_metric(self.first(x))
            return self.dense(x)

    model = Net()
    model.compile("sgd", "mse")
    x, y = np.full((6, 1), 2.0, "float32"), np.zeros((6, 2), "float32")
    out = model.evaluate(x, y, batch_size=3, verbose=0)
    assert model.metrics_names == ["loss", "first", "second"]
    np.testing.assert_allclose(out[1:], [2.0, 6.0], rtol=1e-6)

"""Scenarios a user porting Keras 2 scripts meets, written in keraslite's own words: each covers a
usage that failed when Keras 2.3's examples and guides were run with `import keraslite as keras`.
Expectations are computed here with NumPy."""
import os

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.engine.base_layer import Layer
from keraslite.layers import LSTM, Dense, Embedding, GRU, Input, Lambda, SimpleRNN, add, concatenate
from keraslite.models import Model, Sequential, clone_model, load_model
from keraslite.utils.data_utils import get_file
from loopback_http import LoopbackServer


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _np_lstm(x, kernel, recurrent, bias, units, rec_act):
    """Keras's LSTM (gates i, f, c, o; last output) on (N, T, D) in NumPy."""
    act = {"sigmoid": _sigmoid, "hard_sigmoid": _hard_sigmoid}[rec_act]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = act(f) * c + act(i) * np.tanh(g)
        h = act(o) * np.tanh(c)
    return h


def _activation_name(layer):
    fn = layer.cell.recurrent_activation if hasattr(layer, "cell") else layer.recurrent_activation
    return getattr(fn, "__name__", fn)


def _expected(model, x):
    emb, lstm, dense = model.layers
    table = emb.get_weights()[0]
    kernel, recurrent, bias = lstm.get_weights()
    h = _np_lstm(table[x], kernel, recurrent, bias, lstm.units, _activation_name(lstm))
    w, b = dense.get_weights()
    return _sigmoid(h @ w + b)


@pytest.mark.usefixtures("kbackend")
def test_embedding_without_input_length_then_lstm_builds_on_first_data(tmp_path):
    # imdb_lstm style: Embedding(max_features, d) with no input_length, so the time axis is unknown
    rng = np.random.RandomState(1)
    model = Sequential()
    model.add(Embedding(40, 6))
    model.add(LSTM(5, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(1, activation="sigmoid"))
    assert not model.built
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    x = rng.randint(1, 40, size=(12, 7))
    y = rng.randint(0, 2, size=(12, 1))
    before = [w.copy() for w in model.get_weights()] if model.weights else None
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x[:4], y[:4]))
    assert before is None or len(before) < len(model.get_weights())
    assert model.built and model.input_shape == (None, 7)
    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_allclose(model.predict(x), _expected(model, x), rtol=1e-4, atol=1e-5)
    # the data fixed the time axis: other lengths get Keras's input-shape error
    with pytest.raises(ValueError, match="shape"):
        model.predict(rng.randint(1, 40, size=(2, 9)))
    # the same layers in a new model run another length, sharing the weights
    longer = rng.randint(1, 40, size=(3, 11))
    other = Sequential(model.layers)
    assert all(a is b for a, b in zip(other.weights, model.weights))
    np.testing.assert_allclose(other.predict(longer), _expected(model, longer), rtol=1e-4, atol=1e-5)
    path = str(tmp_path / "m.h5")
    model.save(path)
    again = load_model(path)
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rnn", [SimpleRNN, GRU])
def test_deferred_sequential_via_build_and_evaluate(rnn):
    rng = np.random.RandomState(2)
    model = Sequential([Embedding(20, 4), rnn(3), Dense(2, activation="softmax")])
    assert not model.built
    model.build((None, 5))
    assert model.output_shape == (None, 2)
    assert [K.int_shape(w) for w in model.layers[1].weights][0] == (4, 3 * (3 if rnn is GRU else 1))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.randint(0, 20, size=(6, 5))
    loss = model.evaluate(x, rng.randint(0, 2, size=(6, 1)), verbose=0)
    assert np.isfinite(loss)


def test_unknown_time_axis_in_a_functional_model_still_says_what_to_do():
    # the functional API has no data to wait for: the error names the fix
    inp = Input(shape=(None, 3))
    with pytest.raises(ValueError, match="number of timesteps must be known"):
        LSTM(2)(inp)
    fixed = Input(shape=(4, 3))
    model = Model(fixed, LSTM(2)(fixed))
    assert model.output_shape == (None, 2)


def test_download_progress_bar_is_drawn_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    folder = tmp_path / "www"
    folder.mkdir()
    payload = os.urandom(3000)
    with LoopbackServer(str(folder)) as srv:
        url = srv.write("blob.bin", payload)
        get_file("blob.bin", url)
    out = capsys.readouterr().out
    assert out.count("%d/%d [" % (len(payload), len(payload))) == 1


# -- clone_model (transfer-learning scripts) -------------------------------------------------------

class _Scale(Layer):
    """A custom layer with a weight and a config: cloning must recreate it from its own class."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(name="w", shape=(input_shape[-1],), initializer="ones")
        super().build(input_shape)

    def call(self, x):
        return x * self.w * self.factor

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


def _functional():
    a = Input(shape=(4,), name="a")
    b = Input(shape=(3,), name="b")
    shared = Dense(3, name="shared")
    h = concatenate([shared(a), b])
    h = Lambda(lambda t: t * 0.5, name="halve")(h)
    h = _Scale(3.0, name="scale")(h)
    out = Dense(2, activation="softmax", name="out")(add([h, Dense(6)(h)]))
    return Model([a, b], [out, shared(Dense(4)(a))])


def test_clone_model_functional_new_weights_same_function():
    rng = np.random.RandomState(3)
    model = _functional()
    clone = clone_model(model)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert not {id(w) for w in clone.weights} & {id(w) for w in model.weights}
    assert clone.layers[-1] is not model.layers[-1]
    xs = [rng.rand(5, 4).astype("float32"), rng.rand(5, 3).astype("float32")]
    clone.set_weights([w * 1.5 for w in model.get_weights()])
    clone.set_weights(model.get_weights())
    for got, want in zip(clone.predict(xs), model.predict(xs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # NumPy check of the first output with the clone's own weights
    W = {l.name: l.get_weights() for l in clone.layers if l.get_weights()}
    sw, sb = W["shared"]
    h = np.concatenate([xs[0] @ sw + sb, xs[1]], axis=1) * 0.5 * W["scale"][0] * 3.0
    side = [l for l in clone.layers if isinstance(l, Dense) and l.name not in ("shared", "out")]
    dw, db = [l for l in side if l.input_shape == (None, 6)][0].get_weights()
    z = (h + h @ dw + db) @ W["out"][0] + W["out"][1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clone.predict(xs)[0], e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    # training the clone leaves the original alone
    before = [w.copy() for w in model.get_weights()]
    clone.compile("sgd", ["categorical_crossentropy", "mse"])
    clone.fit(xs, [np.eye(2)[rng.randint(0, 2, 5)], rng.rand(5, 3)], epochs=1, verbose=0)
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_clone_model_sequential_and_input_tensors():
    rng = np.random.RandomState(4)
    seq = Sequential([Dense(5, activation="relu", input_shape=(3,)), Dense(2)])
    clone = clone_model(seq)
    assert isinstance(clone, Sequential) and clone.input_shape == (None, 3)
    clone.set_weights(seq.get_weights())
    x = rng.rand(4, 3).astype("float32")
    (w1, b1), (w2, b2) = [l.get_weights() for l in seq.layers]
    np.testing.assert_allclose(clone.predict(x), np.maximum(x @ w1 + b1, 0) @ w2 + b2, rtol=1e-5, atol=1e-6)
    new_in = Input(shape=(3,), name="fresh")
    on_input = clone_model(seq, input_tensors=new_in)
    assert on_input.inputs[0] is new_in
    func = clone_model(_functional(), input_tensors=[Input(shape=(4,)), Input(shape=(3,))])
    assert func.output_shape == [(None, 2), (None, 3)]
    with pytest.raises(ValueError, match="input_tensors"):
        clone_model(_functional(), input_tensors=[new_in])


def test_clone_model_refuses_subclassed_models():
    class Sub(Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            return self.d(x)
    with pytest.raises(ValueError, match="subclass"):
        clone_model(Sub())


# -- module paths of Keras 2.3 that older scripts import -------------------------------------------

def test_keras_2_module_paths():
    from keraslite.engine import topology, saving as engine_saving
    from keraslite import engine
    assert topology.Layer is Layer and topology.InputSpec is engine.InputSpec
    assert topology.get_source_inputs is engine.get_source_inputs
    assert engine_saving.load_model is load_model
    from keraslite.models import model_from_json
    assert engine_saving.model_from_json is model_from_json


def test_metrics_accuracy_function():
    from keraslite import metrics
    y_true = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 1.0]], dtype="float32")
    y_pred = np.array([[1.0, 2.5, 3.0], [0.0, 1.0, 0.0]], dtype="float32")
    got = K.eval(metrics.accuracy(K.constant(y_true), K.constant(y_pred)))
    np.testing.assert_array_equal(got, (y_true == y_pred).astype("float32"))
    assert metrics.get("accuracy") is metrics.accuracy


@pytest.mark.parametrize("length,k,pad,s,d", [(10, 3, "valid", 1, 1), (10, 3, "same", 2, 1), (11, 4, "full", 3, 1),
                                                (9, 3, "causal", 1, 2), (None, 3, "same", 1, 1)])
def test_conv_utils_lengths(length, k, pad, s, d):
    from keraslite.utils import conv_utils
    got = conv_utils.conv_output_length(length, k, pad, s, d)
    if length is None:
        assert got is None
        return
    span = (k - 1) * d + 1
    full = {"valid": length - span + 1, "same": length, "causal": length, "full": length + span - 1}[pad]
    assert got == -(-full // s)
    if pad != "causal" and d == 1:
        back = conv_utils.conv_input_length(got, k, pad, s)
        # a convolution of the recovered length gives the same output length
        assert conv_utils.conv_output_length(back, k, pad, s) == got
    assert conv_utils.normalize_tuple(3, 2, "strides") == (3, 3)
    assert conv_utils.normalize_padding("Causal") == "causal"
    with pytest.raises(ValueError):
        conv_utils.normalize_padding("reflect")


# -- long unrolled recurrences compile in bounded pieces ---------------------------------------------

def test_fused_groups_are_bounded_and_long_chains_stay_exact():
    # the T per-step gradients of an RNN's shared weights are summed in a chain that grows with T;
    # fused whole it was one kernel per sequence length with thousands of lines
    from keraslite.backend.fusion import MAX_GROUP_SIZE, group_elementwise
    from keraslite.backend.graph import topological_order
    n = 3 * MAX_GROUP_SIZE + 5
    xs = [K.placeholder((2, 3)) for _ in range(n)]
    total = xs[0]
    for x in xs[1:]:
        total = total + x * 0.5
    stop = {t.id for t in xs}
    groups, _ = group_elementwise(topological_order([total], stop=stop), stop)
    sizes = [len(g) for g in groups if g]
    assert max(sizes) <= MAX_GROUP_SIZE and sum(sizes) == 2 * (n - 1)
    values = [np.random.RandomState(i).rand(2, 3).astype("float32") for i in range(n)]
    got = K.function(xs, [total])(values)[0]
    np.testing.assert_allclose(got, values[0] + 0.5 * np.sum(values[1:], axis=0), rtol=1e-5)


@pytest.mark.usefixtures("kbackend")
def test_long_lstm_gradient_matches_numpy():
    # 70 unrolled steps: the weight gradients sum 70 terms across several fused pieces
    rng = np.random.RandomState(5)
    T, D, U = 70, 2, 3
    inp = Input(shape=(T, D))
    lstm = LSTM(U, recurrent_activation="sigmoid")
    model = Model(inp, lstm(inp))
    x = rng.uniform(-1, 1, (2, T, D)).astype("float32")
    loss = K.sum(model.output)
    grads = K.gradients(loss, lstm.trainable_weights)
    got = K.function([inp], grads)([x])
    kernel, recurrent, bias = [w.astype("float64") for w in lstm.get_weights()]

    def f(k, r, b):
        return _np_lstm(x.astype("float64"), k, r, b, U, "sigmoid").sum()
    eps = 1e-4
    for idx, (value, g) in enumerate(zip((kernel, recurrent, bias), got)):
        num = np.zeros_like(value)
        for pos in np.ndindex(value.shape):
            args = [kernel.copy(), recurrent.copy(), bias.copy()]
            args[idx][pos] += eps
            hi = f(*args)
            args[idx][pos] -= 2 * eps
            num[pos] = (hi - f(*args)) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=2e-3, atol=2e-4)


# -- a model trained on add_loss alone (the VAE examples) --------------------------------------------

@pytest.mark.usefixtures("kbackend")
def test_compile_without_loss_trains_on_added_losses():
    rng = np.random.RandomState(6)
    inp = Input(shape=(4,))
    out = Dense(3, name="d")(inp)
    model = Model(inp, out)
    model.add_loss(K.mean(K.square(out - 1.0)))
    model.compile(optimizer="sgd")
    assert model.metrics_names == ["loss"]
    x = rng.rand(16, 4).astype("float32")
    w, b = model.get_layer("d").get_weights()
    want = np.mean((x @ w + b - 1.0) ** 2)
    np.testing.assert_allclose(model.evaluate(x, verbose=0, batch_size=16), want, rtol=1e-5)
    # one full-batch SGD step: the gradient of the mean square, by hand
    err = x @ w + b - 1.0
    gw = 2.0 * x.T @ err / err.size
    gb = 2.0 * err.sum(axis=0) / err.size
    model.fit(x, batch_size=16, epochs=1, verbose=0, shuffle=False, validation_data=(x, None))
    w1, b1 = model.get_layer("d").get_weights()
    np.testing.assert_allclose(w1, w - 0.01 * gw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b1, b - 0.01 * gb, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(x, sample_weight=np.ones(16), verbose=0)


def test_compile_without_any_loss_is_refused():
    inp = Input(shape=(2,))
    model = Model(inp, Dense(1)(inp))
    with pytest.raises(ValueError, match="no loss to optimize"):
        model.compile(optimizer="adam")


# -- a Lambda returning a one-element list (K.gradients) gives a tensor, as in Keras 2 ---------------

def _max_switches(x):
    pre, post = x
    return K.gradients(K.sum(post), pre)  # a list of one tensor


@pytest.mark.usefixtures("kbackend")
def test_lambda_returning_a_one_element_list_gives_a_tensor():
    from keraslite.layers import MaxPooling2D, UpSampling2D, multiply
    inp = Input(shape=(4, 4, 1))
    pooled = MaxPooling2D((2, 2))(inp)
    where = Lambda(_max_switches, output_shape=lambda s: s[0])([inp, pooled])
    assert K.is_keras_tensor(where) and K.int_shape(where) == (None, 4, 4, 1)
    out = multiply([UpSampling2D((2, 2))(pooled), where])  # Keras's mnist_swwae unpooling
    model = Model(inp, out)
    x = np.random.RandomState(7).permutation(32).reshape(2, 4, 4, 1).astype("float32")
    blocks = x.reshape(2, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5).reshape(2, 2, 2, 4, 1)
    # the max of each 2x2 block stays where it was, everything else is zero
    peak = blocks.max(axis=3, keepdims=True)
    want = np.where(blocks == peak, blocks, 0.0).reshape(2, 2, 2, 2, 2, 1).transpose(0, 1, 3, 2, 4, 5)
    np.testing.assert_allclose(model.predict(x), want.reshape(2, 4, 4, 1), rtol=1e-6)


@pytest.mark.usefixtures("kbackend")
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_second_order_gradient_through_max_pooling(padding):
    # mnist_swwae trains through K.gradients of a max pool: the gradient of that gradient
    rng = np.random.RandomState(8)
    x = rng.permutation(2 * 5 * 5 * 2).reshape(2, 5, 5, 2).astype("float32") / 10.0  # no ties
    u = rng.uniform(-1, 1, size=x.shape).astype("float32")
    xt = K.placeholder(shape=x.shape)
    pooled = K.pool2d(xt, (2, 2), strides=(2, 2), padding=padding)
    scale = K.variable(np.float32(1.3))
    switches = K.gradients(K.sum(pooled * scale), [xt])[0]  # scale * (1 at each window's max)
    loss = K.sum(switches * u)
    got = K.function([xt], K.gradients(loss, [scale]))([x])[0]
    # NumPy: d loss / d scale = sum of u over the winning cells
    h = 5 if padding == "valid" else 6
    xp_ = np.full((2, h, h, 2), -np.inf, dtype="float64")
    xp_[:, :5, :5] = x
    up = np.zeros_like(xp_)
    up[:, :5, :5] = u
    covered = 4 if padding == "valid" else 6  # valid drops the last row and column
    total = 0.0
    for i in range(0, covered, 2):
        for j in range(0, covered, 2):
            block = xp_[:, i:i + 2, j:j + 2].reshape(2, 4, 2)
            k = block.argmax(axis=1)
            ub = up[:, i:i + 2, j:j + 2].reshape(2, 4, 2)
            total += np.take_along_axis(ub, k[:, None, :], axis=1).sum()
    np.testing.assert_allclose(got, total, rtol=1e-5)
    # overlapping windows say what they lack
    over = K.pool2d(xt, (3, 3), strides=(1, 1))
    inner = K.gradients(K.sum(over * scale), [xt])[0]
    with pytest.raises(NotImplementedError, match="strides equal to pool_size"):
        K.gradients(K.sum(inner * u), [scale])


def test_time_axis_fixed_by_first_data_is_named_in_the_error():
    """Sequential(LSTM(input_shape=(None, f))): the first data fixes the unrolled length; data of
    another length is refused before any work with a message that says why and what to do."""
    import numpy as np
    import pytest
    from keraslite.layers import LSTM, Dense
    from keraslite.models import Sequential
    m = Sequential([LSTM(4, input_shape=(None, 3)), Dense(1)])
    m.compile("sgd", "mse")
    assert m.predict(np.zeros((2, 5, 3), "float32")).shape == (2, 1)
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ValueError, match=r"Axis 1 was declared None.*fixed it to 5.*pad_sequences"):
        m.fit(np.zeros((4, 7, 3), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))
    with pytest.raises(ValueError) as err:  # a fixed axis the user declared is not explained as data-fixed
        m.predict(np.zeros((2, 5, 4), "float32"))
    assert "declared None" not in str(err.value)

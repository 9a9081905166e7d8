"""Subclassed models (`class M(Model)` with `call`): tracking, building on data, training against
the functional equivalent and NumPy, the learning phase, custom layers, summary and saving."""
import os

import numpy as np
import pytest

from keraslite import backend as K
from keraslite.engine.base_layer import Layer
from keraslite.layers import BatchNormalization, Dense, Dropout, Input
from keraslite.models import Model, Sequential
from keraslite.optimizers import SGD

pytestmark = pytest.mark.usefixtures("kbackend")


class MLP(Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = [Dense(6, activation="tanh"), Dense(5, activation="relu")]
        self.heads = {"out": Dense(3)}

    def call(self, inputs):
        x = inputs
        for layer in self.hidden:
            x = layer(x)
        return self.heads["out"](x)


def _data(n=24, dim=4, out=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dim)).astype("float32"), rng.normal(size=(n, out)).astype("float32")


def test_tracks_layers_in_attributes_lists_and_dicts():
    m = MLP()
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Dense", "Dense"]
    assert m.layers[2] is m.heads["out"]
    assert not m.built and m.weights == []
    m.build((None, 4))
    assert m.built
    shapes = [tuple(w.shape) for w in m.weights]
    assert shapes == [(4, 6), (6,), (6, 5), (5,), (5, 3), (3,)]
    assert m.count_params() == 4 * 6 + 6 + 6 * 5 + 5 + 5 * 3 + 3
    # later appends to a tracked list are seen too, also to a list that started empty
    m.hidden.append(Dense(2))
    assert len(m.layers) == 4
    m.extra = []
    m.extra.append(Dense(1))
    m.notes = ["not a layer"]
    assert m.layers[-1] is m.extra[0] and len(m.layers) == 5


def test_trains_like_the_functional_model_from_the_same_weights():
    x, y = _data()
    sub = MLP()
    sub.build((None, 4))
    inp = Input((4,))
    h = Dense(6, activation="tanh")(inp)
    h = Dense(5, activation="relu")(h)
    fun = Model(inp, Dense(3)(h))
    fun.set_weights(sub.get_weights())
    for m in (sub, fun):
        m.compile(SGD(lr=0.05, momentum=0.9), "mse", metrics=["mae"])
    h_sub = sub.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h_fun = fun.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_sub.history["loss"], h_fun.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_sub.history["mean_absolute_error"] if "mean_absolute_error" in h_sub.history
                               else h_sub.history["mae"],
                               h_fun.history["mean_absolute_error"] if "mean_absolute_error" in h_fun.history
                               else h_fun.history["mae"], rtol=1e-5)
    for a, b in zip(sub.get_weights(), fun.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sub.predict(x), fun.predict(x), rtol=1e-5, atol=1e-6)
    assert np.allclose(sub.evaluate(x, y, verbose=0), fun.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(sub.predict_on_batch(x[:3]), fun.predict(x[:3]), rtol=1e-5, atol=1e-6)


def test_builds_on_first_data_without_build_and_matches_numpy():
    x, y = _data(n=10, dim=3, out=2)

    class Linear(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2, use_bias=False, kernel_initializer="ones")

        def call(self, inputs):
            return self.dense(inputs)

    m = Linear()
    m.compile(SGD(lr=0.1), "mse")
    loss = m.train_on_batch(x, y)  # builds here
    w = np.ones((3, 2), "float32")
    np.testing.assert_allclose(loss, np.mean((x @ w - y) ** 2), rtol=1e-5)
    grad = 2 * x.T @ (x @ w - y) / y.size
    np.testing.assert_allclose(m.get_weights()[0], w - 0.1 * grad, rtol=1e-5, atol=1e-6)
    assert m.input_names == ["input_1"] and m.output_names == ["output_1"]


def test_training_argument_receives_the_learning_phase():
    class Phase(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1, use_bias=False, kernel_initializer="ones")

        def call(self, inputs, training=None):
            h = self.dense(inputs)
            return K.in_train_phase(h * 2.0, h * 0.5, training=training)

    x = np.arange(6, dtype="float32").reshape(3, 2)
    y = np.zeros((3, 1), "float32")
    m = Phase()
    m.compile(SGD(lr=0.0), "mse")
    s = x.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.predict(x), 0.5 * s, rtol=1e-6)
    np.testing.assert_allclose(m.train_on_batch(x, y), np.mean((2 * s) ** 2), rtol=1e-5)
    np.testing.assert_allclose(m.evaluate(x, y, verbose=0), np.mean((0.5 * s) ** 2), rtol=1e-5)


def test_dropout_with_training_flag_is_active_only_in_training():
    class Drop(Model):
        def __init__(self):
            super().__init__()
            self.drop = Dropout(0.5)
            self.dense = Dense(1, use_bias=False, kernel_initializer="ones")

        def call(self, inputs, training=None):
            return self.dense(self.drop(inputs, training=training))

    x = np.ones((64, 50), "float32")
    m = Drop()
    m.compile(SGD(lr=0.0), "mse")
    np.testing.assert_allclose(m.predict(x), 50.0, rtol=1e-6)  # inference: identity
    y = np.full((64, 1), 50.0, "float32")
    assert m.train_on_batch(x, y) > 1.0  # training: units dropped (and the rest scaled by 2)


class Scale(Layer):
    """A custom layer: one weight, an unconditional loss on it and an activity loss."""

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")
        super().build(input_shape)

    def call(self, inputs):
        self.add_loss(0.1 * K.sum(K.square(self.w)))
        out = inputs * self.w
        self.add_loss(0.01 * K.mean(K.square(out)), inputs=inputs)
        return out


def test_custom_layers_with_add_weight_and_add_loss():
    class WithScale(Model):
        def __init__(self):
            super().__init__()
            self.scale = Scale()
            self.dense = Dense(1, use_bias=False, kernel_initializer="ones")

        def call(self, inputs):
            return self.dense(self.scale(inputs))

    x, _ = _data(n=8, dim=3)
    y = np.zeros((8, 1), "float32")
    m = WithScale()
    m.compile(SGD(lr=0.0), "mse")
    # an output-shape trace on other tensors leaves losses the training graph must not take
    assert m.compute_output_shape((None, 3)) == (None, 1)
    loss = m.train_on_batch(x, y)
    out = x  # scale weights are ones
    expected = np.mean(x.sum(axis=1) ** 2) + 0.1 * 3 + 0.01 * np.mean(out ** 2)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert len(m.losses) == 2
    assert [w.name.split("/")[-1] for w in m.weights][:1] == ["w"]


def test_variables_assigned_as_attributes_are_weights():
    class Bias(Model):
        def __init__(self):
            super().__init__()
            self.b = K.variable(np.zeros(2, "float32"))
            frozen = K.variable(np.ones(2, "float32"))
            frozen.trainable = False
            self.frozen = frozen

        def call(self, inputs):
            return inputs * self.frozen + self.b

    m = Bias()
    assert m.trainable_weights == [m.b] and m.non_trainable_weights == [m.frozen]
    x = np.zeros((4, 2), "float32")
    y = np.ones((4, 2), "float32")
    m.compile(SGD(lr=0.5), "mse")
    m.train_on_batch(x, y)
    np.testing.assert_allclose(K.get_value(m.b), [0.5, 0.5], rtol=1e-6)  # grad = 2*(0-1)/2 per unit
    np.testing.assert_allclose(K.get_value(m.frozen), [1.0, 1.0])


def test_batchnorm_updates_run_in_fit():
    class BN(Model):
        def __init__(self):
            super().__init__()
            self.bn = BatchNormalization(momentum=0.5)

        def call(self, inputs, training=None):
            return self.bn(inputs, training=training)

    x = np.random.default_rng(1).normal(3.0, 1.0, size=(32, 2)).astype("float32")
    m = BN()
    m.compile(SGD(lr=0.0), "mse")
    m.fit(x, x, batch_size=32, epochs=1, verbose=0)
    moving_mean = K.get_value(m.bn.moving_mean)
    np.testing.assert_allclose(moving_mean, 0.5 * x.mean(axis=0), rtol=1e-4)


def test_multiple_inputs_and_outputs():
    class Two(Model):
        def __init__(self):
            super().__init__()
            self.a = Dense(2, kernel_initializer="ones", use_bias=False)
            self.b = Dense(2, kernel_initializer="ones", use_bias=False)

        def call(self, inputs):
            xa, xb = inputs
            return [self.a(xa), self.b(xb) * 2.0]

    xa = np.ones((5, 3), "float32")
    xb = np.ones((5, 4), "float32")
    m = Two()
    m.compile(SGD(lr=0.0), ["mse", "mse"])
    pa, pb = m.predict([xa, xb])
    np.testing.assert_allclose(pa, 3.0)
    np.testing.assert_allclose(pb, 8.0)
    losses = m.evaluate([xa, xb], [np.zeros((5, 2)), np.zeros((5, 2))], verbose=0)
    np.testing.assert_allclose(losses, [9.0 + 64.0, 9.0, 64.0], rtol=1e-6)
    assert m.metrics_names == ["loss", "output_1_loss", "output_2_loss"]


def test_used_as_a_layer_in_a_functional_model():
    x, _ = _data(n=6)
    sub = MLP()
    inp = Input((4,))
    outer = Model(inp, Dense(1)(sub(inp)))
    assert sub.built and len(outer.weights) == 8
    np.testing.assert_allclose(outer.predict(x).shape, (6, 1))
    np.testing.assert_allclose(Model(inp, sub(inp)).predict(x), sub.predict(x), rtol=1e-5, atol=1e-6)


def test_compute_output_shape_override_is_used():
    class Declared(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(3)

        def call(self, inputs):
            return self.dense(inputs)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 3)

    m = Declared()
    inp = Input((5,))
    assert K.int_shape(m(inp)) == (None, 3)


def test_summary_and_unbuilt_summary_errors():
    m = MLP(name="mlp")
    with pytest.raises(ValueError, match="This model has not yet been built. Build the model first by calling "
                                         r"build\(\) or calling fit\(\) with some data"):
        m.summary()
    with pytest.raises(ValueError, match="has not yet been built"):
        Sequential([Dense(3)]).summary()
    m.build((None, 4))
    lines = []
    m.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert 'Model: "mlp"' in text and "multiple" in text
    assert f"Total params: {m.count_params():,}" in text


def test_save_weights_and_load_weights_roundtrip(tmp_path):
    x, y = _data(n=8)
    m = MLP()
    m.compile("sgd", "mse")
    m.fit(x, y, epochs=1, verbose=0)
    path = os.path.join(tmp_path, "w.h5")
    m.save_weights(path)
    fresh = MLP()
    fresh.build((None, 4))
    fresh.load_weights(path)
    np.testing.assert_allclose(fresh.predict(x), m.predict(x), rtol=1e-6)


def test_whole_model_saving_gives_keras_error(tmp_path):
    m = MLP()
    m.build((None, 4))
    path = os.path.join(tmp_path, "m.h5")
    with pytest.raises(NotImplementedError, match="subclassed models.*save_weights"):
        m.save(path)
    assert not os.path.exists(path)
    with pytest.raises(NotImplementedError, match="save_weights"):
        m.to_json()
    with pytest.raises(NotImplementedError):
        m.get_config()


def test_user_errors_are_clear():
    class NoSuper(Model):
        def __init__(self):
            self.dense = Dense(2)

    with pytest.raises(RuntimeError, match="forgot to call `super"):
        NoSuper()

    class NoCall(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2)

    m = NoCall()
    m.compile("sgd", "mse")
    with pytest.raises(NotImplementedError, match="implement a `call` method"):
        m.fit(np.zeros((2, 3)), np.zeros((2, 2)), verbose=0)
    with pytest.raises(ValueError, match="Input shape must be defined"):
        MLP().build(None)

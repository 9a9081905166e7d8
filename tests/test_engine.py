"""The engine's bookkeeping: nodes, shapes, shared layers, nested models, weights, errors.

Layers here are small custom ones written in the test so that these checks depend only on the
engine (keraslite/engine), not on keraslite.layers.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite.engine import Input, InputLayer, Layer, Model, Sequential

pytestmark = pytest.mark.usefixtures("kbackend")


class Affine(Layer):
    """y = x @ W + b with deterministic weights (W[i, j] = scale * (i + 1) - j)."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        fan_in = input_shape[-1]
        w = self.scale * (np.arange(fan_in)[:, None] + 1.0) - np.arange(self.units)[None, :]
        self.kernel = self.add_weight("kernel", (fan_in, self.units), initializer=lambda s, dtype=None: w)
        self.bias = self.add_weight("bias", (self.units,), initializer="zeros")
        self.built = True

    def call(self, x):
        return K.dot(x, self.kernel) + self.bias

    def compute_output_shape(self, s):
        return tuple(s[:-1]) + (self.units,)

    def get_config(self):
        return dict(super().get_config(), units=self.units, scale=self.scale)


class Halve(Layer):
    def call(self, x):
        return x * 0.5


def _np_affine(layer, x):
    w, b = layer.get_weights()
    return x @ w + b


def test_functional_model_predicts_and_orders_layers():
    x = Input((3,), name="x")
    a = Affine(4, name="a")
    b = Affine(2, scale=0.5, name="b")
    y = b(Halve(name="h")(a(x)))
    model = Model(inputs=x, outputs=y, name="m")
    assert [l.name for l in model.layers] == ["x", "a", "h", "b"]
    data = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    want = _np_affine(b, 0.5 * _np_affine(a, data))
    np.testing.assert_allclose(model.predict(data, batch_size=3), want, rtol=1e-5, atol=1e-5)
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    assert model.input_shape == (None, 3) and model.output_shape == (None, 2)
    assert K.is_keras_tensor(y) and K.is_keras_tensor(x)
    assert not K.is_keras_tensor(K.placeholder(shape=(2, 3)))


def test_layer_node_accessors_single_and_shared():
    x1, x2 = Input((3,)), Input((5,))
    shared = Affine(2)
    y1 = shared(x1)
    assert shared.input is x1 and shared.output is y1
    assert shared.input_shape == (None, 3) and shared.output_shape == (None, 2)
    h = Halve()
    o1, o2 = h(x1), h(x2)
    with pytest.raises(AttributeError, match="multiple inbound nodes"):
        h.input
    with pytest.raises(AttributeError, match="multiple inbound nodes"):
        h.output
    with pytest.raises(AttributeError, match="input shape"):
        h.input_shape
    assert h.get_input_at(0) is x1 and h.get_input_at(1) is x2
    assert h.get_output_at(1) is o2
    assert h.get_input_shape_at(1) == (None, 5) and h.get_output_shape_at(0) == (None, 3)
    with pytest.raises(ValueError, match="only 2 inbound nodes"):
        h.get_output_at(2)
    with pytest.raises(RuntimeError, match="never been called"):
        Halve().get_input_at(0)
    with pytest.raises(AttributeError, match="not connected"):
        Halve().output


def test_shared_layer_same_shape_keeps_input_shape():
    a, b = Input((4,)), Input((4,))
    layer = Affine(3)
    layer(a)
    layer(b)
    assert layer.input_shape == (None, 4)
    model = Model([a, b], [layer.get_output_at(0), layer.get_output_at(1)])
    da, db = np.ones((2, 4), "float32"), np.full((2, 4), 2.0, "float32")
    pa, pb = model.predict([da, db])
    np.testing.assert_allclose(pa, _np_affine(layer, da), rtol=1e-6)
    np.testing.assert_allclose(pb, _np_affine(layer, db), rtol=1e-6)
    assert len(model.weights) == 2  # the shared weights count once


def test_nested_model_as_layer():
    inner_in = Input((3,))
    inner = Model(inner_in, Affine(2, name="inner_affine")(inner_in), name="inner")
    outer_in = Input((3,))
    out = Halve()(inner(outer_in))
    outer = Model(outer_in, out)
    data = np.arange(6, dtype="float32").reshape(2, 3)
    want = 0.5 * _np_affine(inner.get_layer("inner_affine"), data)
    np.testing.assert_allclose(outer.predict(data), want, rtol=1e-6)
    assert outer.get_layer("inner") is inner
    assert outer.count_params() == inner.count_params() == 8
    with pytest.raises(ValueError, match="No such layer"):
        outer.get_layer("nope")


def test_sequential_eager_lazy_and_pop():
    seq = Sequential([Affine(4, input_shape=(3,)), Halve(), Affine(1)])
    assert seq.built and seq.output_shape == (None, 1)
    assert [type(l).__name__ for l in seq.layers] == ["Affine", "Halve", "Affine"]
    data = np.ones((2, 3), "float32")
    a, _, c = seq.layers
    np.testing.assert_allclose(seq.predict(data), _np_affine(c, 0.5 * _np_affine(a, data)), rtol=1e-6)
    seq.pop()
    assert seq.output_shape == (None, 4)
    lazy = Sequential()
    lazy.add(Affine(2))
    assert lazy.weights == []
    out = lazy.predict(np.ones((3, 5), "float32"))
    assert out.shape == (3, 2) and lazy.input_shape == (None, 5)
    with pytest.raises(TypeError, match="instance of class Layer"):
        lazy.add("dense")


def test_first_layer_keywords():
    assert Sequential([Affine(2, input_shape=(3,))]).input_shape == (None, 3)
    assert Sequential([Affine(2, batch_input_shape=(16, 3))]).input_shape == (16, 3)
    assert Sequential([Affine(2, input_shape=(3,), batch_size=8)]).input_shape == (8, 3)
    with pytest.raises(TypeError, match="outputs"):
        Affine(2, outputs=16)


def test_set_weights_checks_and_changes_nothing_on_error():
    x = Input((3,))
    layer = Affine(2)
    Model(x, layer(x))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="expecting 2 weights"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="not compatible"):
        layer.set_weights([np.zeros((3, 2)), np.zeros((3,))])
    for w, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    layer.set_weights([np.ones((3, 2)), np.full((2,), 3.0)])
    np.testing.assert_array_equal(layer.get_weights()[1], [3.0, 3.0])


def test_count_params_unbuilt_raises():
    with pytest.raises(RuntimeError, match="isn't built"):
        Affine(2).count_params()


def test_non_trainable_layer_reports_weights_as_non_trainable():
    x = Input((3,))
    layer = Affine(2)
    model = Model(x, layer(x))
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 2


def test_graph_errors():
    x = Input((3,))
    with pytest.raises(ValueError, match="must come from"):
        Model(Affine(2)(x), x)
    with pytest.raises(ValueError, match="made by a Keras layer"):
        Model(x, K.placeholder(shape=(None, 2)))
    other = Input((3,))
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(x, Affine(2)(other))


def test_input_validation():
    with pytest.raises(ValueError, match="shape"):
        Input()
    t = Input(batch_shape=(4, 2), dtype="float64", name="inp")
    assert K.int_shape(t) == (4, 2) and t.dtype == "float64"
    assert isinstance(t._keras_history[0], InputLayer)


def test_wrong_input_shape_error_names_input():
    seq = Sequential([Affine(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"expected affine_\d+_input to have shape \(3,\)"):
        seq.predict(np.ones((2, 4)))


def test_summary_chain_format():
    x = Input((3,))
    model = Model(x, Affine(2, name="dense_like")(x), name="tiny")
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "tiny"'
    assert lines[2].startswith("Layer (type)") and len(lines[2]) == 65
    assert lines[2].index("Output Shape") == 29 and lines[2].index("Param #") == 55
    assert any(l.startswith("dense_like (Affine)") and "(None, 2)" in l and l.rstrip().endswith("8")
               for l in lines)
    assert "Total params: 8" in lines and "Trainable params: 8" in lines and "Non-trainable params: 0" in lines


def test_summary_graph_format_lists_connections():
    a, b = Input((3,), name="a"), Input((3,), name="b")

    class Sum(Layer):
        def call(self, xs):
            return xs[0] + xs[1]

        def compute_output_shape(self, shapes):
            return shapes[0]

    model = Model([a, b], Sum(name="s")([a, b]))
    lines = []
    model.summary(print_fn=lines.append)
    assert len(lines[2]) == 98 and "Connected to" in lines[2]
    joined = "\n".join(lines)
    assert "a[0][0]" in joined and "b[0][0]" in joined


def test_layer_default_names_are_unique_and_reset():
    K.clear_session()
    assert Affine(1).name == "affine_1" and Affine(1).name == "affine_2"
    K.clear_session()
    assert Affine(1).name == "affine_1"


def test_training_and_inference_branches_are_specialised():
    class PhaseDependent(Layer):
        def call(self, x, training=None):
            return K.in_train_phase(x * 10.0, x, training=training)

    x = Input((2,))
    model = Model(x, PhaseDependent()(x))
    np.testing.assert_allclose(model.predict(np.ones((1, 2), "float32")), [[1.0, 1.0]])
    f = K.function([x], [model.output], givens={K.learning_phase(): True})
    np.testing.assert_allclose(f([np.ones((1, 2), "float32")])[0], [[10.0, 10.0]])
    # the untaken branch is pruned from the plan
    assert "mul" not in " ".join(model.predict_function.last_plan.kernels())

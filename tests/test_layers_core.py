"""Core layers (Dense, Activation, Dropout, SpatialDropout, Flatten, Reshape, Permute,
RepeatVector, Lambda, ActivityRegularization, Masking) against NumPy computed from each layer's
own weights; config round trips; compute_output_shape against the computed shape; errors."""
import json

import numpy as np
import pytest

from keraslite import backend as K
from keraslite import layers as L
from keraslite.serialization import SafeModeScope, custom_object_scope

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture(autouse=True)
def f64():
    K.set_floatx("float64")  # restored by the conftest's config fixture
    yield


def run(layer, *arrays, training=None):
    """Apply `layer` to Inputs with an unknown batch axis and evaluate on `arrays`. Checks that
    K.int_shape of the output equals compute_output_shape and fits the computed shape."""
    inputs = [L.Input(batch_shape=(None,) + a.shape[1:], dtype=str(a.dtype)) for a in arrays]
    y = layer(inputs if len(inputs) > 1 else inputs[0])
    givens = None if training is None else {K.learning_phase(): training}
    out = K.function(inputs, [y], givens=givens)(list(arrays))[0]
    static = tuple(K.int_shape(y))
    shapes = [tuple(K.int_shape(i)) for i in inputs]
    assert tuple(layer.compute_output_shape(shapes if len(shapes) > 1 else shapes[0])) == static
    assert len(static) == out.ndim and all(s is None or s == d for s, d in zip(static, out.shape)), (static, out.shape)
    return out


def roundtrip(layer):
    """from_config(get_config()) gives the same config, also through JSON and L.deserialize."""
    cfg = layer.get_config()
    cls = type(layer)
    assert cls.from_config(cfg).get_config() == cfg
    js = json.loads(json.dumps(cfg))
    assert json.loads(json.dumps(cls.from_config(js).get_config())) == js
    again = L.deserialize(json.loads(json.dumps(L.serialize(layer))))
    assert type(again) is cls
    return cfg


def _r(rng, *shape):
    return rng.standard_normal(shape)


# ---------------------------------------------------------------------------------------------
# Dense


def test_dense_2d_matches_numpy(rng):
    layer = L.Dense(3, activation="tanh")
    x = _r(rng, 4, 5)
    out = run(layer, x)
    W, b = layer.get_weights()
    assert W.shape == (5, 3) and b.shape == (3,)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "bias"]
    np.testing.assert_allclose(out, np.tanh(x @ W + b), rtol=1e-10, atol=1e-12)
    assert layer.count_params() == 18


def test_dense_nd_input_acts_on_last_axis(rng):
    layer = L.Dense(2)
    layer.build((None, 3, 4, 5))
    layer.set_weights([_r(rng, 5, 2), _r(rng, 2)])
    x = _r(rng, 2, 3, 4, 5)
    out = run(layer, x)
    W, b = layer.get_weights()
    assert out.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(out, np.einsum("abcd,de->abce", x, W) + b, rtol=1e-10, atol=1e-12)


def test_dense_no_bias_and_input_dim():
    layer = L.Dense(4, use_bias=False, input_dim=3)
    assert layer.batch_input_shape == (None, 3)
    x = np.arange(6.0).reshape(2, 3)
    out = run(layer, x)
    (W,) = layer.get_weights()
    np.testing.assert_allclose(out, x @ W, rtol=1e-12)
    cfg = roundtrip(layer)
    assert cfg["use_bias"] is False and cfg["batch_input_shape"] == (None, 3)


def test_dense_config_defaults_and_serialised_fields():
    layer = L.Dense(7, activation="relu", kernel_regularizer="l2", bias_constraint="non_neg",
                    kernel_initializer="he_normal")
    cfg = roundtrip(layer)
    assert cfg["units"] == 7 and cfg["activation"] == "relu"
    assert cfg["kernel_initializer"]["class_name"] == "VarianceScaling"
    assert cfg["bias_initializer"] == {"class_name": "Zeros", "config": {}}
    assert cfg["kernel_regularizer"]["class_name"] == "L1L2"
    assert cfg["bias_constraint"]["class_name"] == "NonNeg"
    assert set(cfg) >= {"name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer",
                        "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                        "kernel_constraint", "bias_constraint"}
    layer.build((None, 3))
    assert len(layer.losses) == 1


def test_dense_errors():
    with pytest.raises(ValueError, match="dense"):
        L.Dense(3)(L.Input((None,)))
    layer = L.Dense(3)
    layer(L.Input((4,)))
    with pytest.raises(ValueError):
        layer.set_weights([np.zeros((5, 3)), np.zeros(3)])
    with pytest.raises(ValueError):
        layer(L.Input((5,)))  # input_spec fixed at build
    with pytest.raises(ValueError):
        L.Dense(2)(L.Input(batch_shape=(3,)))  # rank 1
    with pytest.raises(TypeError):
        L.Dense(2, outputs=3)


def test_dense_activity_regularizer_adds_loss(rng):
    layer = L.Dense(2, activity_regularizer="l1", kernel_initializer="ones")
    x = np.abs(_r(rng, 3, 2))
    inp = L.Input((2,))
    y = layer(inp)
    assert len(layer.losses) == 1
    loss = K.function([inp], layer.losses)([x])[0]
    np.testing.assert_allclose(loss, 0.01 * np.abs(x @ np.ones((2, 2))).sum(), rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# Activation, Dropout, SpatialDropout


@pytest.mark.parametrize("name,fn", [
    ("relu", lambda x: np.maximum(x, 0)),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    ("softmax", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    ("linear", lambda x: x),
])
def test_activation(rng, name, fn):
    x = _r(rng, 3, 4)
    layer = L.Activation(name)
    np.testing.assert_allclose(run(layer, x), fn(x), rtol=1e-10, atol=1e-12)
    assert roundtrip(layer)["activation"] == name


def test_dropout_train_and_test(rng):
    x = np.abs(_r(rng, 20, 50)) + 0.5
    layer = L.Dropout(0.4, seed=3)
    np.testing.assert_array_equal(run(layer, x), x)  # default learning phase: test
    np.testing.assert_array_equal(run(L.Dropout(0.4), x, training=0), x)
    out = run(L.Dropout(0.4, seed=1), x, training=1)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.6, rtol=1e-12)
    assert 0.25 < 1 - kept.mean() < 0.55
    cfg = roundtrip(layer)
    assert cfg["rate"] == 0.4 and cfg["noise_shape"] is None and cfg["seed"] == 3
    assert L.Dropout(1.7).rate == 1.0 and L.Dropout(-1).rate == 0.0


def test_dropout_noise_shape_shares_mask(rng):
    x = np.abs(_r(rng, 4, 5, 30)) + 0.5
    out = run(L.Dropout(0.5, noise_shape=(None, 1, 30), seed=2), x, training=1)
    kept = out != 0
    assert (kept == kept[:, :1, :]).all()
    roundtrip(L.Dropout(0.5, noise_shape=(None, 1, 30)))


def test_spatial_dropout(rng):
    x = np.abs(_r(rng, 3, 4, 40)) + 0.5
    out = run(L.SpatialDropout1D(0.5, seed=1), x, training=1)
    kept = out != 0
    assert (kept == kept[:, :1, :]).all() and 0 < kept.mean() < 1
    x2 = np.abs(_r(rng, 3, 4, 5, 20)) + 0.5
    out = run(L.SpatialDropout2D(0.5, seed=1), x2, training=1)
    kept = out != 0
    assert (kept == kept[:, :1, :1, :]).all() and 0 < kept.mean() < 1
    x3 = np.abs(_r(rng, 3, 20, 4, 5)) + 0.5
    layer = L.SpatialDropout2D(0.5, data_format="channels_first", seed=1)
    out = run(layer, x3, training=1)
    kept = out != 0
    assert (kept == kept[:, :, :1, :1]).all()
    np.testing.assert_allclose(out[kept], x3[kept] * 2, rtol=1e-12)
    assert roundtrip(layer)["data_format"] == "channels_first"
    roundtrip(L.SpatialDropout1D(0.3))
    np.testing.assert_array_equal(run(L.SpatialDropout2D(0.5), x2), x2)
    with pytest.raises(ValueError):
        L.SpatialDropout1D(0.5)(L.Input((3, 4, 5)))


# ---------------------------------------------------------------------------------------------
# Flatten, Reshape, Permute, RepeatVector


def test_flatten_channels_last_and_first(rng):
    x = _r(rng, 2, 3, 4, 5)
    np.testing.assert_array_equal(run(L.Flatten(), x), x.reshape(2, -1))
    layer = L.Flatten(data_format="channels_first")
    np.testing.assert_array_equal(run(layer, x), np.moveaxis(x, 1, -1).reshape(2, -1))
    assert roundtrip(layer)["data_format"] == "channels_first"
    assert L.Flatten().get_config()["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="not fully defined"):
        L.Flatten()(L.Input((None, 3)))
    with pytest.raises(ValueError):
        L.Flatten()(L.Input((3,)))  # min_ndim=3


def test_flatten_follows_image_data_format(rng):
    K.set_image_data_format("channels_first")
    layer = L.Flatten()
    assert layer.data_format == "channels_first"
    x = _r(rng, 2, 3, 2, 2)
    np.testing.assert_array_equal(run(layer, x), np.moveaxis(x, 1, -1).reshape(2, -1))


def test_reshape(rng):
    x = _r(rng, 2, 3, 4)
    layer = L.Reshape((4, -1))
    out = run(layer, x)
    np.testing.assert_array_equal(out, x.reshape(2, 4, 3))
    assert roundtrip(layer)["target_shape"] == (4, -1)
    np.testing.assert_array_equal(run(L.Reshape((12,)), x), x.reshape(2, 12))
    np.testing.assert_array_equal(run(L.Reshape((2, 2, 3)), x), x.reshape(2, 2, 2, 3))


def test_reshape_with_unknown_input_dims(rng):
    inp = L.Input((None, 4))
    layer = L.Reshape((-1, 2))
    y = layer(inp)
    assert K.int_shape(y) == (None, None, 2)
    x = _r(rng, 2, 3, 4)
    np.testing.assert_array_equal(K.function([inp], [y])([x])[0], x.reshape(2, 6, 2))


def test_reshape_errors():
    with pytest.raises(ValueError, match="total size"):
        L.Reshape((5, -1))(L.Input((3, 4)))
    with pytest.raises(ValueError, match="total size"):
        L.Reshape((5,))(L.Input((3, 4)))
    with pytest.raises(ValueError):
        L.Reshape((-1, -1))


def test_permute(rng):
    x = _r(rng, 2, 3, 4)
    layer = L.Permute((2, 1))
    np.testing.assert_array_equal(run(layer, x), x.transpose(0, 2, 1))
    assert roundtrip(layer)["dims"] == (2, 1)
    y = _r(rng, 2, 3, 4, 5)
    np.testing.assert_array_equal(run(L.Permute((3, 1, 2)), y), y.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError):
        L.Permute((0, 1))
    with pytest.raises(ValueError):
        L.Permute((2, 1))(L.Input((3, 4, 5)))


def test_repeat_vector(rng):
    x = _r(rng, 2, 4)
    layer = L.RepeatVector(3)
    np.testing.assert_array_equal(run(layer, x), np.repeat(x[:, None, :], 3, axis=1))
    assert roundtrip(layer)["n"] == 3
    with pytest.raises(ValueError):
        layer(L.Input((2, 3)))


# ---------------------------------------------------------------------------------------------
# Lambda


def scale_by(x, factor=2.0):
    return x * factor


def pair_shape(input_shape):
    return input_shape


def to_3x2(t):
    return K.reshape(t, (-1, 3, 2))


def test_lambda_function_arguments_and_config(rng):
    x = _r(rng, 3, 4)
    layer = L.Lambda(scale_by, arguments={"factor": 3.0})
    np.testing.assert_allclose(run(layer, x), 3 * x)
    with SafeModeScope(False):  # a config naming a function of this module is an explicit opt-in
        cfg = roundtrip(layer)
    assert cfg["function"] == "scale_by" and cfg["function_type"] == "function"
    assert cfg["module"] == __name__ and cfg["arguments"] == {"factor": 3.0}
    with pytest.raises(ValueError, match="scale_by"):  # configs name only offered or keraslite functions
        L.Lambda.from_config(cfg)
    assert L.Lambda.from_config(cfg, custom_objects={"scale_by": scale_by}).function is scale_by
    assert L.Lambda.from_config(cfg, safe_mode=False).function is scale_by


def test_lambda_output_shape_forms(rng):
    x = _r(rng, 2, 6)
    inferred = L.Lambda(lambda t: K.reshape(t, (-1, 2, 3)))
    np.testing.assert_array_equal(run(inferred, x), x.reshape(2, 2, 3))
    assert inferred.compute_output_shape((None, 6)) == (None, 2, 3)
    given = L.Lambda(to_3x2, output_shape=(3, 2))
    np.testing.assert_array_equal(run(given, x), x.reshape(2, 3, 2))
    fn_shape = L.Lambda(scale_by, output_shape=pair_shape)
    np.testing.assert_array_equal(run(fn_shape, x), 2 * x)
    with custom_object_scope({"scale_by": scale_by, "pair_shape": pair_shape}):
        cfg = roundtrip(fn_shape)
    assert cfg["output_shape"] == "pair_shape" and cfg["output_shape_type"] == "function"
    with custom_object_scope({"to_3x2": to_3x2}):
        cfg = roundtrip(given)
    assert cfg["output_shape"] == (3, 2) and cfg["output_shape_type"] == "raw"


def test_lambda_on_a_list_of_inputs(rng):
    a, b = _r(rng, 2, 3), _r(rng, 2, 3)
    layer = L.Lambda(lambda ts: ts[0] * ts[1])
    np.testing.assert_allclose(run(layer, a, b), a * b)


def test_lambda_code_is_never_serialised():
    layer = L.Lambda(lambda t: t + 1)
    cfg = layer.get_config()
    json.dumps(cfg)
    assert cfg["function_type"] == "lambda" and isinstance(cfg["function"], str)
    with pytest.raises(ValueError, match="lambda"):
        L.Lambda.from_config(cfg)
    bad = dict(L.Lambda(scale_by).get_config(), module="module_that_is_not_loaded")
    with pytest.raises(ValueError, match="module_that_is_not_loaded"):
        L.Lambda.from_config(bad)
    ok = L.deserialize({"class_name": "Lambda", "config": bad}, custom_objects={"scale_by": scale_by})
    assert ok.function is scale_by
    bytecode = dict(L.Lambda(scale_by).get_config(), function=["4wEAAAAA", None, None], function_type="lambda")
    with pytest.raises(ValueError, match="bytecode"):
        L.Lambda.from_config(bytecode)


def test_lambda_mask(rng):
    x = _r(rng, 2, 3)
    inp = L.Input((3,))
    layer = L.Lambda(scale_by, mask=lambda inputs, mask: K.greater(inputs, 0))
    y = layer(inp)
    m = K.function([inp], [y._keras_mask])([x])[0]
    np.testing.assert_array_equal(m, x > 0)


# ---------------------------------------------------------------------------------------------
# ActivityRegularization, Masking


def test_activity_regularization(rng):
    x = _r(rng, 3, 4)
    inp = L.Input((4,))
    layer = L.ActivityRegularization(l1=0.1, l2=0.2)
    y = layer(inp)
    out, loss = K.function([inp], [y] + layer.losses)([x])
    np.testing.assert_array_equal(out, x)
    np.testing.assert_allclose(loss, 0.1 * np.abs(x).sum() + 0.2 * (x ** 2).sum(), rtol=1e-10)
    assert roundtrip(layer) == {"name": layer.name, "trainable": True, "dtype": "float64", "l1": 0.1, "l2": 0.2}


def test_masking(rng):
    x = _r(rng, 2, 4, 3)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    x[1, 0, 0] = 0.0  # one zero feature does not mask the step
    inp = L.Input((4, 3))
    layer = L.Masking(mask_value=0.0)
    y = layer(inp)
    out, mask = K.function([inp], [y, y._keras_mask])([x])
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(mask, [[True, False, True, True], [True, True, True, False]])
    assert roundtrip(L.Masking(-1.0))["mask_value"] == -1.0
    x2 = _r(rng, 2, 3, 2)
    x2[0, 2] = 5.0
    out = run(L.Masking(5.0), x2)
    assert (out[0, 2] == 0).all() and (out[1] == x2[1]).all()


def test_mask_reaches_a_layer_that_refuses_it():
    inp = L.Input((3, 2))
    y = L.Masking()(inp)
    with pytest.raises(TypeError, match="masking"):
        L.Flatten()(y)

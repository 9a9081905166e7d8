"""Saving and loading through the real engine (keraslite.saving): a file laid out as Keras 2.2.4
writes it, built by hand, then full model round trips of weights, optimizer state and config.
"""
import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="saving needs h5py (pip install keraslite[test])")

from keraslite import backend as K  # noqa: E402
from keraslite import saving  # noqa: E402
from keraslite.saving import ModelFileError  # noqa: E402

from saving_helpers import (FakeModel, assert_unchanged, assert_weights_equal, attr_strings,
                            dense_model, snapshot)


# ---------------------------------------------------------------------------------------------
# a file laid out as Keras 2.2.4 (TensorFlow backend) writes it, built by hand

KERAS224_DENSE_CONFIG = {
    "class_name": "Sequential",
    "config": {"name": "sequential_1", "layers": [
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "batch_input_shape": [None, 4], "dtype": "float32",
            "units": 3, "activation": "relu", "use_bias": True,
            "kernel_initializer": {"class_name": "VarianceScaling",
                                   "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                              "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}},
        {"class_name": "Dense", "config": {
            "name": "dense_2", "trainable": True, "units": 2, "activation": "softmax", "use_bias": True,
            "kernel_initializer": {"class_name": "VarianceScaling",
                                   "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform",
                                              "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}}]}}

KERAS224_TRAINING_CONFIG = {
    "optimizer_config": {"class_name": "Adam", "config": {
        "lr": 0.0010000000474974513, "beta_1": 0.8999999761581421, "beta_2": 0.9990000128746033,
        "decay": 0.0, "epsilon": 1e-07, "amsgrad": False}},
    "loss": "categorical_crossentropy", "metrics": ["accuracy"], "sample_weight_mode": None,
    "loss_weights": None}


def keras224_arrays(seed=3):
    rng = np.random.default_rng(seed)
    return {"dense_1": [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")],
            "dense_2": [rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=2).astype("float32")]}


def write_keras224_file(path, arrays, model_file=True):
    """As Keras 2.2.4 with h5py 2.x writes it: byte-string attributes, fixed-length name arrays,
    TensorFlow variable names with ':0', optimizer weights named by TensorFlow."""
    with h5py.File(path, "w") as f:
        if model_file:
            f.attrs["keras_version"] = np.bytes_(b"2.2.4")
            f.attrs["backend"] = np.bytes_(b"tensorflow")
            f.attrs["model_config"] = np.bytes_(json.dumps(KERAS224_DENSE_CONFIG).encode("utf8"))
            f.attrs["training_config"] = np.bytes_(json.dumps(KERAS224_TRAINING_CONFIG).encode("utf8"))
            g = f.create_group("model_weights")
        else:
            g = f
        g.attrs["layer_names"] = np.array([b"dense_1", b"dense_2"])
        g.attrs["backend"] = np.bytes_(b"tensorflow")
        g.attrs["keras_version"] = np.bytes_(b"2.2.4")
        for layer, (kernel, bias) in arrays.items():
            lg = g.create_group(layer)
            lg.attrs["weight_names"] = np.array([f"{layer}/kernel:0".encode(), f"{layer}/bias:0".encode()])
            lg.create_dataset(f"{layer}/kernel:0", data=kernel)
            lg.create_dataset(f"{layer}/bias:0", data=bias)
        if model_file:
            og = f.create_group("optimizer_weights")
            params = [a for pair in arrays.values() for a in pair]
            # Adam 2.2.4: iterations, then m, v and (for amsgrad=False) (1,) vhat per parameter
            values = [np.array(7, dtype="int64")]
            values += [np.full(p.shape, 0.1, "float32") for p in params]
            values += [np.full(p.shape, 0.2, "float32") for p in params]
            values += [np.zeros(1, "float32") for _ in params]
            names = ["Adam/iterations:0"] + ["training/Adam/Variable%s:0" % ("" if j == 0 else "_%d" % j)
                                             for j in range(len(values) - 1)]
            og.attrs["weight_names"] = np.array([n.encode() for n in names])
            for n, v in zip(names, values):
                og.create_dataset(n, data=v)


def test_keras224_weights_load_into_stand_in(tmp_path):
    arrays = keras224_arrays()
    for model_file in (True, False):
        path = str(tmp_path / f"k224_{model_file}.h5")
        write_keras224_file(path, arrays, model_file=model_file)
        model = dense_model(seed=0)
        saving.load_weights(model, path)
        got = model.get_weights()
        want = arrays["dense_1"] + arrays["dense_2"]
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# with the real engine

def _engine():
    """The engine's classes (imported here: the module's other tests need none of them)."""
    from keraslite import layers
    from keraslite.models import Model, Sequential
    return layers, Model, Sequential


@pytest.fixture
def engine(kbackend):
    return _engine()


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    labels = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, np.eye(2, dtype="float32")[labels]


def build_sequential(engine, optimizer="adam"):
    layers, _, Sequential = engine
    model = Sequential([layers.Dense(8, activation="relu", input_shape=(4,)), layers.BatchNormalization(),
                        layers.Dense(2, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_functional(engine):
    layers, Model, _ = engine
    inp = layers.Input(shape=(4,), name="features")
    h = layers.Dense(5, activation="tanh", name="hidden")(inp)
    out_a = layers.Dense(2, activation="softmax", name="a")(h)
    out_b = layers.Dense(1, name="b")(layers.concatenate([h, inp]))
    model = Model(inp, [out_a, out_b])
    model.compile(optimizer="rmsprop", loss={"a": "categorical_crossentropy", "b": "mse"},
                  loss_weights={"a": 1.0, "b": 0.5}, metrics={"a": ["accuracy"]})
    return model


def test_model_save_layout_real_model(engine, tmp_path):
    model = build_sequential(engine)
    x, y = blobs()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "m.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        assert config["config"] == json.loads(json.dumps(model.get_config()))
        tc = json.loads(f.attrs["training_config"])
        assert tc["loss"] == "categorical_crossentropy" and tc["metrics"] == ["accuracy"]
        g = f["model_weights"]
        names = [l.name for l in model.layers]
        assert attr_strings(g.attrs["layer_names"]) == names
        bn = model.layers[1].name
        assert attr_strings(g[bn].attrs["weight_names"]) == [
            f"{bn}/{w}:0" for w in ("gamma", "beta", "moving_mean", "moving_variance")]
        for layer in model.layers:
            for w, value in zip(layer.weights, layer.get_weights()):
                np.testing.assert_array_equal(g[layer.name][w.name + ":0"][()], value)
        opt_names = attr_strings(f["optimizer_weights"].attrs["weight_names"])
        assert len(opt_names) == len(model.optimizer.weights)


def test_model_round_trip_weights_optimizer_config(engine, tmp_path):
    model = build_sequential(engine)
    x, y = blobs()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = str(tmp_path / "m.h5")
    model.save(path)
    loaded = saving.load_model(path)
    assert type(loaded).__name__ == "Sequential"
    assert loaded.get_config() == model.get_config()
    assert_weights_equal(model, loaded)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)
    assert type(loaded.optimizer).__name__ == "Adam"
    assert loaded.loss == "categorical_crossentropy"
    for a, b in zip(model.optimizer.get_weights(), loaded.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)
    # resuming: one more epoch, same batches, gives the same weights in both
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)


def test_functional_model_round_trip(engine, tmp_path):
    model = build_functional(engine)
    x, y = blobs()
    yb = x[:, :1] * 2
    model.fit(x, [y, yb], epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "f.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["model_config"])["class_name"] == "Model"
        assert "features" in attr_strings(f["model_weights"].attrs["layer_names"])
        tc = json.loads(f.attrs["training_config"])
        assert tc["loss"] == {"a": "categorical_crossentropy", "b": "mse"}
        assert tc["loss_weights"] == {"a": 1.0, "b": 0.5}
    loaded = saving.load_model(path)
    assert_weights_equal(model, loaded)
    for p, q in zip(model.predict(x), loaded.predict(x)):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
    assert loaded.loss_weights == {"a": 1.0, "b": 0.5}
    for a, b in zip(model.optimizer.get_weights(), loaded.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_save_weights_load_weights_real_models(engine, tmp_path):
    model = build_sequential(engine)
    x, y = blobs()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = str(tmp_path / "w.h5")
    model.save_weights(path)
    other = build_sequential(engine)
    other.load_weights(path)
    assert_weights_equal(model, other)
    np.testing.assert_allclose(other.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)
    # a different architecture: clear error, weights unchanged
    layers, _, Sequential = engine
    wrong = Sequential([layers.Dense(9, input_shape=(4,)), layers.BatchNormalization(), layers.Dense(2)])
    before = snapshot(wrong)
    with pytest.raises(ValueError, match="shape"):
        wrong.load_weights(path)
    assert_unchanged(wrong, before)
    # a truncated file: clear error, weights unchanged
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    before = snapshot(other)
    with pytest.raises(ModelFileError, match="truncated"):
        other.load_weights(path)
    assert_unchanged(other, before)


def test_load_weights_by_name_real_models(engine, tmp_path):
    layers, _, Sequential = engine
    src = Sequential([layers.Dense(3, input_shape=(4,), name="shared"), layers.Dense(2, name="head_a")])
    path = str(tmp_path / "w.h5")
    src.save_weights(path)
    dst = Sequential([layers.Dense(3, input_shape=(4,), name="shared"), layers.Dense(5, name="head_b")])
    head_before = snapshot(FakeModel([dst.layers[1]]))
    dst.load_weights(path, by_name=True)
    for a, b in zip(dst.layers[0].get_weights(), src.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_unchanged(FakeModel([dst.layers[1]]), head_before)


def test_model_from_json_round_trip(engine):
    model = build_functional(engine)
    text = model.to_json()
    again = saving.model_from_json(text)
    assert again.get_config() == model.get_config()
    assert again.count_params() == model.count_params()
    seq = build_sequential(engine)
    again = saving.model_from_config({"class_name": "Sequential", "config": seq.get_config()})
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in seq.layers]


def test_custom_loss_round_trip_real_model(engine, tmp_path):
    layers, _, Sequential = engine

    def scaled_mse(y_true, y_pred):
        return 2.0 * K.mean(K.square(y_true - y_pred), axis=-1)

    model = Sequential([layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer="sgd", loss=scaled_mse)
    x, y = blobs()
    model.fit(x, y[:, :1], epochs=1, verbose=0)
    path = str(tmp_path / "c.h5")
    model.save(path)
    with pytest.raises(ValueError, match="scaled_mse"):
        saving.load_model(path)
    loaded = saving.load_model(path, custom_objects={"scaled_mse": scaled_mse})
    assert loaded.evaluate(x, y[:, :1], verbose=0) == pytest.approx(model.evaluate(x, y[:, :1], verbose=0),
                                                                     rel=1e-5)


def test_keras224_file_loads_into_real_model(engine, tmp_path):
    arrays = keras224_arrays()
    path = str(tmp_path / "k224.h5")
    write_keras224_file(path, arrays)
    model = saving.load_model(path)
    assert type(model).__name__ == "Sequential"
    assert [l.name for l in model.layers] == ["dense_1", "dense_2"]
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    (k1, b1), (k2, b2) = arrays["dense_1"], arrays["dense_2"]
    h = np.maximum(x @ k1 + b1, 0)
    logits = h @ k2 + b2
    want = np.exp(logits - logits.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-6)
    # the 2.2 'lr' key, and the saved optimizer state
    assert type(model.optimizer).__name__ == "Adam"
    assert float(K.get_value(model.optimizer.lr)) == pytest.approx(0.001)
    state = model.optimizer.get_weights()
    assert int(state[0]) == 7
    assert all(np.all(s == 0.1) for s in state[1:5]) and all(np.all(s == 0.2) for s in state[5:9])
    # the weights-only file too
    wpath = str(tmp_path / "k224_w.h5")
    write_keras224_file(wpath, arrays, model_file=False)
    other = build_sequential_plain(engine)
    other.load_weights(wpath)
    np.testing.assert_allclose(other.predict(x), want, rtol=1e-5, atol=1e-6)


def build_sequential_plain(engine):
    layers, _, Sequential = engine
    return Sequential([layers.Dense(3, activation="relu", input_shape=(4,)), layers.Dense(2, activation="softmax")])


def test_keraslite_file_reads_like_keras2(engine, tmp_path):
    """What a Keras 2 loader reads: the same names and attributes it writes itself."""
    model = build_sequential_plain(engine)
    model.compile("sgd", "mse")
    path = str(tmp_path / "m.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        assert isinstance(f.attrs["keras_version"], (bytes, np.bytes_, str))
        original_keras_version = attr_strings([f.attrs["keras_version"]])[0]
        assert original_keras_version.startswith("2.")
        g = f["model_weights"]
        for name in attr_strings(g.attrs["layer_names"]):
            for wn in attr_strings(g[name].attrs["weight_names"]):
                assert wn.endswith(":0")
                assert isinstance(g[name][wn], h5py.Dataset)


def test_loss_object_survives_save_and_load(tmp_path):
    from keraslite import losses
    from keraslite.layers import Dense
    from keraslite.models import Sequential, load_model
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile("adam", losses.Huber(delta=0.3))
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    path = str(tmp_path / "m.h5")
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded.loss, losses.Huber) and loaded.loss.get_config()["delta"] == 0.3
    x = np.random.default_rng(0).random((5, 3))
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)

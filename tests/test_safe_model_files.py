"""Model files validated before allocation (issue 12, item 5): dimensions, saved shapes and sizes
are checked before memory is requested, weights come from the file in their saved dtype, and
non-finite weights are refused unless allow_nonfinite=True."""
import json
import shutil
import tracemalloc

import h5py
import numpy as np
import pytest

from keraslite import initializers, layers
from keraslite import backend as K
from keraslite.engine.sequential import Sequential
from keraslite.engine.training import Model
from keraslite.models import load_model, model_from_json

pytestmark = pytest.mark.usefixtures("kbackend")


def _model():
    model = Sequential([layers.Dense(4, input_shape=(3,), name="dense_a"), layers.Dense(2, name="dense_b")])
    model.compile("adam", "mse")
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), verbose=0)
    return model


@pytest.fixture
def saved(tmp_path):
    model = _model()
    path = str(tmp_path / "model.h5")
    model.save(path)
    return model, path


def _patched(path, tmp_path, edit):
    bad = str(tmp_path / "bad.h5")
    shutil.copy(path, bad)
    with h5py.File(bad, "r+") as f:
        edit(f)
    return bad


def _set_field(layer_index, field, value):
    def edit(f):
        cfg = json.loads(f.attrs["model_config"])
        cfg["config"]["layers"][layer_index]["config"][field] = value
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
    return edit


def _replace_dataset(group, name, data=None, **kw):
    def edit(f):
        g = f[group]
        value = data(f) if callable(data) else data
        del g[name]
        if value is None:
            g.create_dataset(name, **kw)
        else:
            g.create_dataset(name, data=value)
    return edit


def _peak_during(fn):
    tracemalloc.start()
    try:
        try:
            fn()
        except ValueError as e:
            err = e
        else:
            err = None
        return tracemalloc.get_traced_memory()[1], err
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------
# dimensions


@pytest.mark.parametrize("value,words", [(-4, "at least 1"), (0, "at least 1"), (10 ** 12, "absurd"),
                                         (2.5, "integers"), (float("inf"), "integers")])
def test_bad_units_name_layer_and_field(saved, tmp_path, value, words):
    _, path = saved
    bad = _patched(path, tmp_path, _set_field(0, "units", value))
    peak, err = _peak_during(lambda: load_model(bad))
    assert err is not None
    msg = str(err)
    assert "dense_a" in msg and "'units'" in msg and words in msg, msg
    assert peak < 50 * 2 ** 20


def test_large_units_compared_with_saved_shape_before_allocation(saved, tmp_path):
    # 3 x 10**8 float32 would be 1.2 GB: the saved (3, 4) shape is compared first
    _, path = saved
    bad = _patched(path, tmp_path, _set_field(0, "units", 10 ** 8))
    peak, err = _peak_during(lambda: load_model(bad))
    assert err is not None
    msg = str(err)
    assert "dense_a" in msg and "kernel" in msg and "(3, 100000000)" in msg and "(3, 4)" in msg, msg
    assert peak < 50 * 2 ** 20


def test_weight_larger_than_memory_names_layer_weight_and_field():
    with pytest.raises(ValueError) as ei:
        model_from_json(json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": "Dense", "config": {"units": 2 ** 31 - 1, "batch_input_shape": [None, 2 ** 31 - 1],
                                               "name": "huge"}}]}}))
    msg = str(ei.value)
    assert "huge" in msg and "kernel" in msg and "units" in msg and "memory" in msg, msg


@pytest.mark.parametrize("class_name,field,value", [
    ("Conv2D", "filters", -3), ("Conv2D", "kernel_size", [0, 3]), ("Conv2D", "strides", [1, -1]),
    ("Embedding", "input_dim", -1), ("Embedding", "output_dim", 10 ** 11), ("RepeatVector", "n", -2),
    ("Reshape", "target_shape", [-4, 2]), ("Dense", "batch_input_shape", [None, -5]),
    ("ZeroPadding2D", "padding", [[1, -1], [0, 0]]), ("LSTM", "units", -8),
])
def test_bad_dimensions_in_any_layer(class_name, field, value):
    layer_cfg = {"class_name": class_name, "config": {"name": "victim", field: value}}
    model_cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [layer_cfg]}}
    for load in (lambda: model_from_json(json.dumps(model_cfg)), lambda: layers.deserialize(layer_cfg)):
        with pytest.raises(ValueError) as ei:
            load()
        msg = str(ei.value)
        assert "victim" in msg and repr(field) in msg, msg


def test_negative_shape_from_add_weight_names_layer():
    layer = layers.Dense(3, name="neg")
    with pytest.raises(ValueError) as ei:
        layer.add_weight("w", shape=(-4, 8))
    assert "neg" in str(ei.value) and "'w'" in str(ei.value) and "negative" in str(ei.value)


# ---------------------------------------------------------------------------------------------
# saved shapes and sizes


def test_saved_shape_mismatch_names_both_before_anything_is_loaded(saved, tmp_path):
    _, path = saved
    bad = _patched(path, tmp_path, _set_field(1, "units", 5))
    with pytest.raises(ValueError) as ei:
        load_model(bad)
    msg = str(ei.value)
    assert "dense_b" in msg and "(4, 5)" in msg and "(4, 2)" in msg, msg


def test_dataset_declaring_more_than_it_stores(saved, tmp_path):
    _, path = saved
    bad = _patched(path, tmp_path, _replace_dataset("model_weights/dense_a", "dense_a/kernel:0",
                                                    shape=(3, 10 ** 9), dtype="float32"))
    peak, err = _peak_during(lambda: load_model(bad))
    assert err is not None and "dense_a/kernel:0" in str(err) and "stores only" in str(err), str(err)
    assert peak < 50 * 2 ** 20
    model = _model()
    with pytest.raises(ValueError):
        model.load_weights(bad)


def test_weights_come_from_the_file_without_running_initializers(saved, tmp_path, monkeypatch):
    model, path = saved

    def refuse(self, shape, dtype=None):
        raise AssertionError("an initializer ran while loading")

    monkeypatch.setattr(initializers.VarianceScaling, "__call__", refuse)
    monkeypatch.setattr(initializers.Zeros, "__call__", refuse)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saved_dtype_is_read_and_cast_once(saved, tmp_path):
    model, path = saved

    def as_float64(f):
        return f["model_weights/dense_a/dense_a/kernel:0"][()].astype("float64")

    bad = _patched(path, tmp_path, _replace_dataset("model_weights/dense_a", "dense_a/kernel:0", data=as_float64))
    loaded = load_model(bad)
    assert K.dtype(loaded.layers[0].kernel) == "float32"
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_functional_and_wrapped_layers_load_from_the_plan(tmp_path):
    inp = layers.Input((5, 3))
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(inp)
    x = layers.TimeDistributed(layers.Dense(2))(x)
    x = layers.BatchNormalization()(x)
    model = Model(inp, x)
    path = str(tmp_path / "f.h5")
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    data = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(data), loaded.predict(data), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# non-finite weights


@pytest.mark.parametrize("poison,words", [(np.inf, "non-finite"), (np.nan, "non-finite"),
                                          (1e300, "too large for float32")])
def test_non_finite_weights_refused_unless_allowed(saved, tmp_path, poison, words):
    model, path = saved

    def poisoned(f):
        value = f["model_weights/dense_b/dense_b/kernel:0"][()].astype("float64")
        value[1, 1] = poison
        return value

    bad = _patched(path, tmp_path, _replace_dataset("model_weights/dense_b", "dense_b/kernel:0", data=poisoned))
    with pytest.raises(ValueError) as ei:
        load_model(bad)
    msg = str(ei.value)
    assert "dense_b" in msg and words in msg and "allow_nonfinite=True" in msg, msg
    before = model.get_weights()
    with pytest.raises(ValueError):
        model.load_weights(bad)
    for a, b in zip(before, model.get_weights()):  # nothing assigned
        np.testing.assert_array_equal(a, b)
    loaded = load_model(bad, allow_nonfinite=True)
    assert not np.isfinite(loaded.get_weights()[2][1, 1])
    model.load_weights(bad, allow_nonfinite=True)
    assert not np.isfinite(model.get_weights()[2][1, 1])


def test_non_finite_optimizer_state_refused(saved, tmp_path):
    _, path = saved
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]]
    target = next(n for n in names if "iterations" not in n)

    def edit(f):
        d = f["optimizer_weights"][target]
        value = d[()]
        value.flat[0] = np.nan
        d[...] = value

    bad = _patched(path, tmp_path, edit)
    with pytest.raises(ValueError) as ei:
        load_model(bad)
    assert target in str(ei.value) and "allow_nonfinite" in str(ei.value)
    loaded = load_model(bad, allow_nonfinite=True)
    assert any(np.isnan(w).any() for w in loaded.optimizer.get_weights())


def test_absurd_cell_weight_names_the_layer_of_the_file():
    cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Bidirectional", "config": {"name": "bidi", "batch_input_shape": [None, 5, 3], "layer": {
            "class_name": "LSTM", "config": {"name": "lstm_x", "units": 10 ** 6}}}}]}}
    peak, err = _peak_during(lambda: model_from_json(json.dumps(cfg)))
    assert err is not None
    msg = str(err)
    assert "'bidi'" in msg and "lstm_x" in msg and "recurrent_kernel" in msg and "units=1000000" in msg, msg
    assert peak < 200 * 2 ** 20


def test_fields_of_offered_classes_are_theirs():
    class Shift(layers.Layer):
        def __init__(self, n=0, **kwargs):
            super().__init__(**kwargs)
            self.n = n

        def call(self, inputs):
            return inputs + float(self.n)

        def get_config(self):
            return dict(super().get_config(), n=self.n)

    layer = layers.deserialize({"class_name": "Shift", "config": {"name": "shift", "n": -3}},
                               custom_objects={"Shift": Shift})
    assert layer.n == -3
    with pytest.raises(ValueError, match="'n'"):
        layers.deserialize({"class_name": "RepeatVector", "config": {"name": "rv", "n": -3}},
                           custom_objects={"Shift": Shift})


def test_nested_layers_sharing_a_name_load_their_own_weights(tmp_path):
    inner = Sequential([layers.Dense(3, input_shape=(3,), name="twin")], name="inner")
    inp = layers.Input((3,))
    out = layers.Dense(2, name="twin")(inner(inp))
    model = Model(inp, out)
    path = str(tmp_path / "twins.h5")
    model.save(path)
    loaded = load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)

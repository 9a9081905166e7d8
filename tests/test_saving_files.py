"""Loading files keraslite did not write or cannot trust (keraslite.saving): missing, non-HDF5,
pickled, truncated, foreign and corrupt files, bad model configs, and load_model through
custom_objects with a stand-in model class (no engine needed).
"""
import json
import os
import pickle

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="saving needs h5py (pip install keraslite[test])")

from keraslite import backend as K  # noqa: E402
from keraslite import saving  # noqa: E402
from keraslite.saving import ModelFileError  # noqa: E402

from saving_helpers import (FakeLayer, FakeModel, assert_unchanged, assert_weights_equal,
                            attr_strings, dense_model, snapshot)


# ---------------------------------------------------------------------------------------------
# corrupt, truncated and foreign files

def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        saving.load_weights(dense_model(), str(tmp_path / "missing.h5"))
    with pytest.raises(FileNotFoundError):
        saving.load_model(str(tmp_path / "missing.h5"))


@pytest.mark.parametrize("content", [b"", b"hello, not a model\n", b"\x89HDF\r\n\x1a\n" + b"\x00" * 10])
def test_non_hdf5_file(tmp_path, content):
    path = str(tmp_path / "bad.h5")
    with open(path, "wb") as f:
        f.write(content)
    model = dense_model()
    before = snapshot(model)
    with pytest.raises(ModelFileError, match="bad.h5.*not a readable HDF5 file") as info:
        saving.load_weights(model, path)
    assert isinstance(info.value, OSError) and isinstance(info.value, ValueError)
    assert_unchanged(model, before)
    with pytest.raises(ModelFileError, match="bad.h5"):
        saving.load_model(path)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch BOOM_MARKER",))


def test_pickle_file_is_never_unpickled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "evil.h5")
    with open(path, "wb") as f:
        pickle.dump({"weights": _Boom()}, f)
    model = dense_model()
    before = snapshot(model)
    with pytest.raises(ModelFileError):
        saving.load_weights(model, path)
    with pytest.raises(ModelFileError):
        saving.load_model(path)
    assert not os.path.exists(tmp_path / "BOOM_MARKER")
    assert_unchanged(model, before)


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, fraction):
    path = str(tmp_path / "w.h5")
    saving.save_model(dense_model(seed=0, units=(64, 32)), path)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * fraction)])
    model = dense_model(seed=1, units=(64, 32))
    before = snapshot(model)
    with pytest.raises(ModelFileError, match="w.h5") as info:
        saving.load_weights(model, path)
    assert "truncated" in str(info.value)
    assert_unchanged(model, before)


def test_foreign_hdf5_file(tmp_path):
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((3, 2))
        f.attrs["creator"] = "someone else"
    model = dense_model()
    before = snapshot(model)
    with pytest.raises(ModelFileError, match=r"data.h5.*not a Keras model or weights file.*images"):
        saving.load_weights(model, path)
    with pytest.raises(ModelFileError, match="No model found"):
        saving.load_model(path)
    assert_unchanged(model, before)


def test_weights_file_given_to_load_model(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(), path)
    with pytest.raises(ModelFileError, match="load_weights"):
        saving.load_model(path)


def _keras_weights_file(path, mutate):
    """A valid weights file for dense_model(), changed by mutate(f) before closing."""
    saving.save_weights(dense_model(seed=0), path)
    with h5py.File(path, "a") as f:
        mutate(f)


@pytest.mark.parametrize("case, match", [
    ("missing_group", "'dense_2' not found"),
    ("missing_dataset", "'dense_2/bias:0' not found"),
    ("no_weight_names", "no 'weight_names'"),
    ("string_dataset", "expected numbers"),
    ("group_not_dataset", "should be a dataset"),
    ("external_link", "link to another file"),
    ("bad_layer_names", "list of strings"),
])
def test_corrupt_structures(tmp_path, case, match):
    path = str(tmp_path / "w.h5")

    def mutate(f):
        if case == "missing_group":
            del f["dense_2"]
        elif case == "missing_dataset":
            del f["dense_2/dense_2/bias:0"]
        elif case == "no_weight_names":
            del f["dense_2"].attrs["weight_names"]
        elif case == "string_dataset":
            del f["dense_2/dense_2/bias:0"]
            f["dense_2/dense_2/bias:0"] = np.array([b"ab", b"cd"])
        elif case == "group_not_dataset":
            del f["dense_2/dense_2/bias:0"]
            f.create_group("dense_2/dense_2/bias:0")
        elif case == "external_link":
            other = str(tmp_path / "other.h5")
            with h5py.File(other, "w") as o:
                o["b"] = np.zeros(2, "float32")
            del f["dense_2/dense_2/bias:0"]
            f["dense_2/dense_2/bias:0"] = h5py.ExternalLink(other, "b")
        elif case == "bad_layer_names":
            f.attrs["layer_names"] = np.array([1.0, 2.0])

    _keras_weights_file(path, mutate)
    model = dense_model(seed=1)
    before = snapshot(model)
    with pytest.raises(ModelFileError, match=match) as info:
        saving.load_weights(model, path)
    assert "w.h5" in str(info.value)
    assert_unchanged(model, before)


def test_keras1_file_rejected(tmp_path):
    path = str(tmp_path / "k1.h5")
    _keras_weights_file(path, lambda f: f.attrs.__setitem__("keras_version", b"1.2.2"))
    with pytest.raises(ModelFileError, match="Keras 1.2.2.*Keras 2 files only"):
        saving.load_weights(dense_model(), path)


def test_bad_model_config_json(tmp_path):
    path = str(tmp_path / "m.h5")
    saving.save_model(dense_model(), path)
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = b"{not json"
    with pytest.raises(ModelFileError, match="model_config.*not valid JSON"):
        saving.load_model(path)
    with h5py.File(path, "a") as f:
        f.attrs["model_config"] = b"[1, 2]"
    with pytest.raises(ModelFileError, match="class_name"):
        saving.load_model(path)


def test_model_from_config_arguments():
    with pytest.raises(TypeError, match="Sequential.from_config"):
        saving.model_from_config([{"class_name": "Dense", "config": {}}])
    with pytest.raises(ValueError, match="class_name"):
        saving.model_from_config({"config": {}})
    with pytest.raises(ValueError, match="not valid JSON"):
        saving.model_from_json("{oops")
    with pytest.raises(TypeError):
        saving.model_from_json(12)


# ---------------------------------------------------------------------------------------------
# load_model through custom_objects with a stand-in model class (no engine needed)

class StandInModel(FakeModel):
    """Rebuilt from its config; compile records its arguments; _make_train_function makes the
    optimizer's state with a real keraslite optimizer."""

    def __init__(self, layers):
        super().__init__(layers)
        self.compiled = None
        self.train_function = None

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls([FakeLayer("input_1"), FakeLayer("dense_1", [(4, 3), (3,)], seed=50),
                     FakeLayer("dense_2", [(3, 2), (2,)], seed=51)])
        model.from_config_saw = (config, sorted(custom_objects or {}))
        return model

    def compile(self, optimizer, loss=None, metrics=None, loss_weights=None, sample_weight_mode=None):
        from keraslite import optimizers
        self.optimizer = optimizers.get(optimizer)
        self.loss, self.metrics = loss, metrics
        self.loss_weights, self.sample_weight_mode = loss_weights, sample_weight_mode
        self.compiled = dict(loss=loss, metrics=metrics, loss_weights=loss_weights,
                             sample_weight_mode=sample_weight_mode)

    def _make_train_function(self):
        if self.train_function is None:
            params = [w for l in self.layers for w in l.weights]
            loss = sum(K.sum(K.square(p)) for p in params)
            self.train_function = K.function([], [loss], updates=self.optimizer.get_updates(loss, params))
        return self.train_function


def test_load_model_with_custom_class_and_optimizer_state(tmp_path, kbackend):
    from keraslite.optimizers import Adam

    def my_loss(y_true, y_pred):
        return K.mean(K.square(y_true - y_pred))

    model = StandInModel.from_config({})
    model.compile(Adam(lr=0.01), loss=my_loss, metrics=["acc"], loss_weights=None)
    f = model._make_train_function()
    for _ in range(3):
        f([])
    path = str(tmp_path / "m.h5")
    saving.save_model(model, path)
    with h5py.File(path, "r") as h:
        tc = json.loads(h.attrs["training_config"])
        assert tc["optimizer_config"]["class_name"] == "Adam"
        # 'lr' is what both Keras 2.2 and 2.3 read
        assert tc["optimizer_config"]["config"]["lr"] == pytest.approx(0.01)
        assert "learning_rate" not in tc["optimizer_config"]["config"]
        assert tc["loss"] == "my_loss" and tc["metrics"] == ["acc"]
        assert set(tc) >= {"optimizer_config", "loss", "metrics", "sample_weight_mode", "loss_weights"}
        names = attr_strings(h["optimizer_weights"].attrs["weight_names"])
        assert len(names) == len(model.optimizer.weights) == 1 + 3 * 4
        assert names[0] == "Adam/iterations:0"
        assert int(h["optimizer_weights"][names[0]][()]) == 3

    loaded = saving.load_model(path, custom_objects={"StandInModel": StandInModel, "my_loss": my_loss})
    assert isinstance(loaded, StandInModel)
    assert loaded.from_config_saw[0] == model.get_config()
    assert_weights_equal(model, loaded)
    assert loaded.compiled["loss"] is my_loss and loaded.compiled["metrics"] == ["acc"]
    assert float(K.get_value(loaded.optimizer.lr)) == pytest.approx(0.01)
    for a, b in zip(model.optimizer.get_weights(), loaded.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the next step is the same in both
    f([])
    loaded._make_train_function()([])
    assert_weights_equal(model, loaded)

    plain = saving.load_model(path, custom_objects={"StandInModel": StandInModel, "my_loss": my_loss},
                              compile=False)
    assert plain.compiled is None and plain.optimizer is None


def test_load_model_optimizer_mismatch_warns(tmp_path):
    from keraslite.optimizers import SGD
    model = StandInModel.from_config({})
    model.compile(SGD(lr=0.1, momentum=0.9), loss="mse")
    model._make_train_function()([])
    path = str(tmp_path / "m.h5")
    saving.save_model(model, path)
    with h5py.File(path, "a") as h:
        g = h["optimizer_weights"]
        names = attr_strings(g.attrs["weight_names"])
        g.attrs["weight_names"] = [n.encode() for n in names[:-1]]
    with pytest.warns(UserWarning, match="freshly initialized optimizer"):
        loaded = saving.load_model(path, custom_objects={"StandInModel": StandInModel})
    assert_weights_equal(model, loaded)


def test_load_model_unused_optimizer_state(tmp_path):
    # saved before training: the optimizer has only `iterations`; loading needs no warning
    from keraslite.optimizers import SGD
    model = StandInModel.from_config({})
    model.compile(SGD(lr=0.1, momentum=0.9), loss="mse")
    path = str(tmp_path / "m.h5")
    saving.save_model(model, path)
    import warnings as _w
    with _w.catch_warnings():
        _w.simplefilter("error")
        loaded = saving.load_model(path, custom_objects={"StandInModel": StandInModel})
    assert float(K.get_value(loaded.optimizer.lr)) == pytest.approx(0.1)


def test_include_optimizer_false_and_uncompiled_warning(tmp_path):
    from keraslite.optimizers import SGD
    model = StandInModel.from_config({})
    model.compile(SGD(), loss="mse")
    path = str(tmp_path / "m.h5")
    saving.save_model(model, path, include_optimizer=False)
    with h5py.File(path, "r") as h:
        assert "training_config" not in h.attrs and "optimizer_weights" not in h
    with pytest.warns(UserWarning, match="not\\* compiled"):
        loaded = saving.load_model(path, custom_objects={"StandInModel": StandInModel})
    assert loaded.compiled is None

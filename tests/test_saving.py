"""Saving and loading (keraslite.saving): Keras 2's HDF5 layout checked with h5py directly, weight
round trips on stand-in layers (no engine needed), hand-built Keras 2.2.4 files, corrupt and
foreign files, then full model round trips through the real engine (skipped until it exists)."""
import json
import os
import pickle

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="saving needs h5py (pip install keraslite[test])")

from keraslite import backend as K  # noqa: E402
from keraslite import saving  # noqa: E402
from keraslite.saving import ModelFileError  # noqa: E402


# ---------------------------------------------------------------------------------------------
# stand-ins for layers and models: what saving reads is `model.layers`, `layer.name`,
# `layer.weights` (backend variables) and, for save_model, `get_config` and `optimizer`

class FakeLayer:
    def __init__(self, name, shapes=(), seed=0, cls_name=None, weight_names=None):
        self.name = name
        rng = np.random.default_rng(seed)
        names = weight_names or ["kernel", "bias", "gamma", "beta"][:len(shapes)]
        self.weights = [K.variable(rng.normal(size=s).astype("float32"), name=f"{name}/{n}")
                        for s, n in zip(shapes, names)]
        if cls_name:
            self.__class__ = type(cls_name, (FakeLayer,), {})

    def get_weights(self):
        return K.batch_get_value(self.weights)


class FakeModel:
    def __init__(self, layers):
        self.layers = layers
        self.optimizer = None

    def get_weights(self):
        return [v for l in self.layers for v in l.get_weights()]

    def get_config(self):
        return {"name": "fake", "layers": [l.name for l in self.layers]}


def dense_model(seed=0, units=(3, 2), input_dim=4, names=("dense_1", "dense_2")):
    layers, prev = [FakeLayer("input_1")], input_dim
    for i, (u, n) in enumerate(zip(units, names)):
        layers.append(FakeLayer(n, [(prev, u), (u,)], seed=seed + i))
        prev = u
    return FakeModel(layers)


def assert_weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    for x, y in zip(model.get_weights(), before):
        np.testing.assert_array_equal(x, y)


def attr_strings(values):
    return [v.decode("utf8") if isinstance(v, (bytes, np.bytes_)) else str(v) for v in values]


# ---------------------------------------------------------------------------------------------
# layout

def test_save_weights_layout(tmp_path):
    path = str(tmp_path / "w.h5")
    model = dense_model()
    saving.save_weights(model, path)
    with h5py.File(path, "r") as f:
        assert attr_strings(f.attrs["layer_names"]) == ["input_1", "dense_1", "dense_2"]
        assert "backend" in f.attrs and "keras_version" in f.attrs
        assert attr_strings(f["dense_1"].attrs["weight_names"]) == ["dense_1/kernel:0", "dense_1/bias:0"]
        assert len(f["input_1"].attrs["weight_names"]) == 0
        np.testing.assert_array_equal(f["dense_1/dense_1/kernel:0"][()], model.layers[1].get_weights()[0])
        np.testing.assert_array_equal(f["dense_2"]["dense_2/bias:0"][()], model.layers[2].get_weights()[1])
        assert f["dense_1/dense_1/kernel:0"].dtype == np.float32
        assert f["dense_1/dense_1/kernel:0"].shape == (4, 3)


def test_save_model_layout_with_fake_model(tmp_path):
    path = str(tmp_path / "m.h5")
    model = dense_model()
    saving.save_model(model, path)
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        assert config == {"class_name": "FakeModel", "config": model.get_config()}
        assert "training_config" not in f.attrs  # not compiled
        assert "optimizer_weights" not in f
        g = f["model_weights"]
        assert attr_strings(g.attrs["layer_names"]) == ["input_1", "dense_1", "dense_2"]
        assert "backend" in g.attrs and "keras_version" in g.attrs
        np.testing.assert_array_equal(g["dense_2/dense_2/kernel:0"][()], model.layers[2].get_weights()[0])


def test_weight_names_dedup_and_existing_index(tmp_path):
    layer = FakeLayer("odd", [(2,), (2,), (3,)], weight_names=["w", "w", "x:1"])
    path = str(tmp_path / "w.h5")
    saving.save_weights(FakeModel([layer]), path)
    with h5py.File(path, "r") as f:
        assert attr_strings(f["odd"].attrs["weight_names"]) == ["odd/w:0", "odd/w:0_1", "odd/x:1"]
    other = FakeLayer("odd", [(2,), (2,), (3,)], seed=9, weight_names=["w", "w", "x:1"])
    saving.load_weights(FakeModel([other]), path)
    assert_weights_equal(FakeModel([layer]), FakeModel([other]))
    assert saving.strip_output_index("dense_1/kernel:0") == "dense_1/kernel"
    assert saving.strip_output_index("a:b") == "a:b"


def test_attribute_chunking_over_header_limit(tmp_path):
    # 800 layers with 100-character names: about 80 kB of layer names
    layers = [FakeLayer("l%03d_" % i + "x" * 95, [(1,)] if i % 7 == 0 else [], seed=i) for i in range(800)]
    model = FakeModel(layers)
    path = str(tmp_path / "big.h5")
    saving.save_weights(model, path)
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f.attrs
        chunks = sorted(k for k in f.attrs if k.startswith("layer_names"))
        assert len(chunks) >= 2
        assert all(f.attrs[c].nbytes <= saving.HDF5_OBJECT_HEADER_LIMIT for c in chunks)
        assert saving.load_attributes_from_hdf5_group(f, "layer_names") == [l.name for l in layers]
    other = FakeModel([FakeLayer(l.name, [(1,)] if i % 7 == 0 else [], seed=1000 + i) for i, l in enumerate(layers)])
    saving.load_weights(other, path)
    assert_weights_equal(model, other)


def test_save_attributes_rejects_single_oversized_name(tmp_path):
    with h5py.File(str(tmp_path / "x.h5"), "w") as f:
        with pytest.raises(RuntimeError, match="larger than"):
            saving.save_attributes_to_hdf5_group(f, "names", [b"x" * 70000])


# ---------------------------------------------------------------------------------------------
# weight round trips on stand-ins

def test_save_load_weights_round_trip(tmp_path):
    path = tmp_path / "w.h5"
    model = dense_model(seed=0)
    saving.save_weights(model, path)  # a pathlib.Path works
    other = dense_model(seed=10)
    saving.load_weights(other, str(path))
    assert_weights_equal(model, other)


def test_load_weights_from_model_file_and_from_h5py_objects(tmp_path):
    path = str(tmp_path / "m.h5")
    model = dense_model(seed=0)
    saving.save_model(model, path)
    other = dense_model(seed=10)
    saving.load_weights(other, path)  # finds the model_weights group
    assert_weights_equal(model, other)
    third = dense_model(seed=20)
    with h5py.File(path, "r") as f:
        saving.load_weights_from_hdf5_group(f["model_weights"], third.layers)
    assert_weights_equal(model, third)
    # save into an open h5py file
    with h5py.File(str(tmp_path / "open.h5"), "w") as f:
        saving.save_weights(model, f)
    fourth = dense_model(seed=30)
    saving.load_weights(fourth, str(tmp_path / "open.h5"))
    assert_weights_equal(model, fourth)


def test_load_weights_ignores_weightless_layers_on_both_sides(tmp_path):
    path = str(tmp_path / "w.h5")
    model = dense_model(seed=0)
    saving.save_weights(model, path)
    # no input layer, an extra weightless layer in the middle
    other = FakeModel([FakeLayer("dense_a", [(4, 3), (3,)], seed=5), FakeLayer("flatten"),
                       FakeLayer("dense_b", [(3, 2), (2,)], seed=6)])
    saving.load_weights(other, path)
    assert_weights_equal(model, other)


def test_load_weights_layer_count_mismatch(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(seed=0), path)
    other = dense_model(seed=1, units=(3, 2, 2), names=("dense_1", "dense_2", "dense_3"))
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"load a weight file containing 2 layers into a model with 3 layers\."):
        saving.load_weights(other, path)
    assert_unchanged(other, before)


def test_load_weights_weight_count_mismatch(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(seed=0), path)
    other = FakeModel([FakeLayer("dense_1", [(4, 3), (3,)], seed=2), FakeLayer("dense_2", [(3, 2)], seed=3)])
    before = snapshot(other)
    with pytest.raises(ValueError, match="expects 1 weights, but the saved weights have 2"):
        saving.load_weights(other, path)
    assert_unchanged(other, before)


def test_load_weights_shape_mismatch_changes_nothing(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(seed=0), path)
    # the first layer fits, the second does not: the first must not be assigned either
    other = dense_model(seed=1, units=(3, 5))
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"dense_2.*\(3, 5\).*\(3, 2\)"):
        saving.load_weights(other, path)
    assert_unchanged(other, before)


def test_load_weights_reshape(tmp_path):
    path = str(tmp_path / "w.h5")
    model = FakeModel([FakeLayer("conv", [(3, 3, 1, 2), (2,)], seed=0)])
    saving.save_weights(model, path)
    other = FakeModel([FakeLayer("conv", [(9, 2), (2,)], seed=1)])
    with pytest.raises(ValueError, match="shape"):
        saving.load_weights(other, path)
    saving.load_weights(other, path, reshape=True)
    np.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0].reshape(9, 2))
    wrong = FakeModel([FakeLayer("conv", [(9, 3), (2,)], seed=1)])
    with pytest.raises(ValueError, match="sizes differ"):
        saving.load_weights(wrong, path, reshape=True)


def test_load_weights_by_name(tmp_path):
    path = str(tmp_path / "w.h5")
    model = dense_model(seed=0)
    saving.save_weights(model, path)
    other = FakeModel([FakeLayer("dense_2", [(3, 2), (2,)], seed=4), FakeLayer("new", [(2, 2)], seed=5)])
    new_before = snapshot(FakeModel([other.layers[1]]))
    saving.load_weights(other, path, by_name=True)
    for x, y in zip(other.layers[0].get_weights(), model.layers[2].get_weights()):
        np.testing.assert_array_equal(x, y)
    assert_unchanged(FakeModel([other.layers[1]]), new_before)


def test_load_weights_by_name_mismatch_and_skip(tmp_path):
    path = str(tmp_path / "w.h5")
    model = dense_model(seed=0)
    saving.save_weights(model, path)
    other = FakeModel([FakeLayer("dense_1", [(4, 3), (3,)], seed=4), FakeLayer("dense_2", [(3, 7), (7,)], seed=5),
                       FakeLayer("input_1")])
    before = snapshot(other)
    with pytest.raises(ValueError, match="dense_2"):
        saving.load_weights(other, path, by_name=True)
    assert_unchanged(other, before)
    with pytest.warns(UserWarning, match=r"Skipping loading of weights for layer dense_2 due to mismatch in shape "
                                         r"\(\(3, 7\) vs \(3, 2\)\)"):
        saving.load_weights(other, path, by_name=True, skip_mismatch=True)
    for x, y in zip(other.layers[0].get_weights(), model.layers[1].get_weights()):
        np.testing.assert_array_equal(x, y)
    assert_unchanged(FakeModel([other.layers[1]]), before[2:])
    count = FakeModel([FakeLayer("dense_1", [(4, 3)], seed=4)])
    with pytest.warns(UserWarning, match=r"due to mismatch in number of weights \(1 vs 2\).*expects 1 weights"):
        saving.load_weights(count, path, by_name=True, skip_mismatch=True)


def test_theano_conv_kernels_are_flipped(tmp_path):
    path = str(tmp_path / "th.h5")
    kernel = np.arange(2 * 3 * 1 * 2, dtype="float32").reshape(2, 3, 1, 2)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv2d_1"]
        f.attrs["backend"] = b"theano"
        f.attrs["keras_version"] = b"2.1.6"
        g = f.create_group("conv2d_1")
        g.attrs["weight_names"] = [b"conv2d_1/kernel:0", b"conv2d_1/bias:0"]
        g["conv2d_1/kernel:0"] = kernel
        g["conv2d_1/bias:0"] = np.ones(2, "float32")
    layer = FakeLayer("conv2d_1", [(2, 3, 1, 2), (2,)], cls_name="Conv2D")
    saving.load_weights(FakeModel([layer]), path)
    np.testing.assert_array_equal(layer.get_weights()[0], kernel[::-1, ::-1])


# ---------------------------------------------------------------------------------------------
# atomic writes and overwrite

def test_failed_write_leaves_old_file_and_no_temp_files(tmp_path, monkeypatch):
    path = str(tmp_path / "w.h5")
    model = dense_model(seed=0)
    saving.save_weights(model, path)
    original = open(path, "rb").read()

    def broken(group, layers):
        group.create_group("partial")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(saving, "save_weights_to_hdf5_group", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        saving.save_weights(dense_model(seed=1), path)
    with pytest.raises(RuntimeError, match="disk on fire"):
        saving.save_model(dense_model(seed=1), path)
    assert open(path, "rb").read() == original
    assert os.listdir(tmp_path) == ["w.h5"]


def test_overwrite_false_without_terminal_refuses(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(seed=0), path)
    original = open(path, "rb").read()
    with pytest.raises(FileExistsError, match="overwrite"):
        saving.save_weights(dense_model(seed=1), path, overwrite=False)
    assert open(path, "rb").read() == original
    saving.save_weights(dense_model(seed=1), str(tmp_path / "new.h5"), overwrite=False)  # no file: fine


def test_save_to_missing_directory_or_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        saving.save_weights(dense_model(), str(tmp_path / "nope" / "w.h5"))
    with pytest.raises(IsADirectoryError):
        saving.save_model(dense_model(), str(tmp_path))


def test_saved_file_mode_follows_umask(tmp_path):
    path = str(tmp_path / "w.h5")
    saving.save_weights(dense_model(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


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
    try:
        from keraslite.engine import training
    except Exception as e:  # noqa: BLE001 - any import failure means the engine is not there yet
        pytest.skip(f"keraslite.engine.training cannot be imported yet ({type(e).__name__}: {e})")
    if not hasattr(training.Model, "fit"):
        pytest.skip("keraslite.engine.training.Model has no fit yet")
    try:
        from keraslite import layers
        from keraslite.models import Model, Sequential
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"keraslite.layers / keraslite.models cannot be imported yet ({type(e).__name__}: {e})")
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

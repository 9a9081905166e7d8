"""Saving and loading (keraslite.saving): Keras 2's HDF5 layout checked with h5py directly, weight
round trips on stand-in layers (no engine needed), atomic writes. Corrupt and foreign files and
load_model with custom objects: tests/test_saving_files.py; hand-built Keras 2.2.4 files and full
model round trips through the real engine: tests/test_saving_engine.py.
"""
import json
import os

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="saving needs h5py (pip install keraslite[test])")

from keraslite import saving  # noqa: E402

from saving_helpers import (FakeLayer, FakeModel, assert_unchanged, assert_weights_equal,
                            attr_strings, dense_model, snapshot)


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

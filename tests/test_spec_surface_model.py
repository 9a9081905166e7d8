"""The public surface of SPEC.md, sections 6 and 7: the Model API and the saving layout
(the rest: tests/test_spec_surface*.py).
"""
import contextlib
import io
import json
import warnings

import h5py
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import callbacks as C
from keraslite import layers as L
from keraslite import models as M
from keraslite import optimizers as O
from keraslite import utils

from spec_surface_helpers import EPS
from spec_surface_helpers import _fresh_session  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.usefixtures("kbackend")


# =============================================================================================
# section 6: the Model API

def small_data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3)).astype("float32")
    y = (x.sum(1, keepdims=True) > 1.5).astype("float32")
    return x, y


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.events, self.batches = [], []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.batches.append((batch, logs["size"], sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append("train_end")


def test_fit_history_params_and_callback_hooks():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    assert model.metrics_names == ["loss", "acc"]
    rec = Recorder()
    hist = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_split=0.2, callbacks=[rec],
                     initial_epoch=1)
    assert hist.epoch == [1, 2] and hist.model is model and model.history is hist
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert all(len(v) == 2 for v in hist.history.values())
    assert hist.params == {"batch_size": 4, "epochs": 3, "steps": None, "samples": 8, "verbose": 0,
                           "do_validation": True, "metrics": ["loss", "acc", "val_loss", "val_acc"]}
    keys = ["acc", "loss", "val_acc", "val_loss"]
    assert rec.events == ["train_begin", ("epoch_begin", 1), ("epoch_end", 1, keys), ("epoch_begin", 2),
                          ("epoch_end", 2, keys), "train_end"]
    assert rec.batches[:2] == [(0, 4, ["acc", "batch", "loss", "size"]), (1, 4, ["acc", "batch", "loss", "size"])]
    assert rec.params is hist.params or rec.params == hist.params
    assert rec.model is model
    assert rec.validation_data is not None and len(rec.validation_data[0]) == 2
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    assert set(model.fit(x, y, verbose=0).history) == {"loss", "accuracy"}


def test_callback_order():
    import keraslite.engine.loops as loops
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    seen = []

    class Spy(C.Callback):
        def on_train_begin(self, logs=None):
            seen.append(None)

    original = loops._callback_list

    def spy(*args, **kwargs):
        cl = original(*args, **kwargs)
        seen.append([type(c).__name__ for c in cl.callbacks])
        return cl

    loops._callback_list = spy
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(x, y, verbose=1, callbacks=[Spy()])
        model.fit(x, y, verbose=0, callbacks=[Spy()])
    finally:
        loops._callback_list = original
    assert seen[0] == ["BaseLogger", "ProgbarLogger", "Spy", "History"]
    assert seen[2] == ["BaseLogger", "Spy", "History"]


def test_validation_split_takes_the_last_samples_and_batch_weighted_history():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(O.SGD(lr=0.0), "mse")
    hist = model.fit(x, y, batch_size=3, epochs=1, verbose=0, validation_split=0.2, shuffle=True)
    W, b = model.get_weights()
    pred = x @ W + b
    assert hist.history["val_loss"][0] == pytest.approx(np.mean((pred[8:] - y[8:]) ** 2), rel=1e-5)
    assert hist.history["loss"][0] == pytest.approx(np.mean((pred[:8] - y[:8]) ** 2), rel=1e-5)
    assert hist.params["samples"] == 8


def test_default_batch_size_and_fit_argument_checks():
    x = np.random.rand(70, 3).astype("float32")
    y = np.random.rand(70, 1).astype("float32")
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    rec = Recorder()
    hist = model.fit(x, y, verbose=0, callbacks=[rec], shuffle=False)
    assert [s for _, s, _ in rec.batches] == [32, 32, 6] and hist.params["batch_size"] == 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(model.fit(x, y, nb_epoch=2, verbose=0).epoch) == 2
    with pytest.raises(TypeError):
        model.fit(x, y, verbose=0, not_a_fit_argument=1)
    with pytest.raises(ValueError):
        model.fit(x, y, validation_data=(x,), verbose=0)
    with pytest.raises(ValueError):
        model.fit(x, y[:5], verbose=0)
    with pytest.raises(ValueError):  # a list of two target arrays for a single-output model
        model.fit(x, [y, y], verbose=0)
    cce = M.Sequential([L.Dense(3, input_shape=(3,), activation="softmax")])
    cce.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError):
        cce.fit(x, np.zeros((70, 1)), verbose=0)
    assert model.predict(x, batch_size=7).shape == (70, 1)


def test_evaluate_return_forms_and_values():
    x, y = small_data(12)
    model = M.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    W, b = model.get_weights()
    pred = x @ W + b
    loss = model.evaluate(x, y, batch_size=5, verbose=0)
    assert np.ndim(loss) == 0 and not isinstance(loss, list)
    assert loss == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)

    def mean_pred(y_true, y_pred):
        return K.mean(y_pred)

    model.compile("sgd", "mse", metrics=["mae", mean_pred])
    assert model.metrics_names == ["loss", "mae", "mean_pred"]
    out = model.evaluate(x, y, batch_size=5, verbose=0)
    assert isinstance(out, list) and len(out) == 3
    assert out[1] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert out[2] == pytest.approx(pred.mean(), rel=1e-5)
    tb = model.test_on_batch(x, y)
    assert isinstance(tb, list) and tb[0] == pytest.approx(out[0], rel=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), pred, rtol=1e-5, atol=1e-6)


def test_sample_and_class_weights():
    x = np.random.rand(20, 3).astype("float32")
    yb = (x[:, 0] > 0.5).astype("float32")
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile(O.SGD(lr=0.0), "binary_crossentropy")
    p = np.clip(model.predict(x)[:, 0].astype(np.float64), EPS, 1 - EPS)
    per = -(yb * np.log(p) + (1 - yb) * np.log(1 - p))
    cw = np.where(yb == 1, 3.0, 1.0)
    assert model.train_on_batch(x, yb, class_weight={0: 1.0, 1: 3.0}) == pytest.approx(np.mean(per * cw), rel=1e-4)
    sw = np.random.rand(20).astype("float32")
    assert model.test_on_batch(x, yb, sample_weight=sw) == pytest.approx(np.mean(per * sw), rel=1e-4)
    with pytest.raises(ValueError):
        model.fit(x, yb, class_weight={0: 1.0}, verbose=0)


def test_predict_classes_and_proba():
    x, _ = small_data()
    one = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    classes = one.predict_classes(x)
    assert classes.dtype == np.int32 and classes.shape == (10, 1)
    np.testing.assert_array_equal(classes, (one.predict(x) > 0.5).astype("int32"))
    many = M.Sequential([L.Dense(3, input_shape=(3,), activation="softmax")])
    np.testing.assert_array_equal(many.predict_classes(x), many.predict(x).argmax(-1))
    np.testing.assert_allclose(many.predict_proba(x), many.predict(x))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        M.Sequential([L.Dense(2, input_shape=(3,), kernel_initializer="ones", bias_initializer="ones")]) \
            .predict_proba(x + 1.0)
    assert caught


def test_multi_output_losses_metrics_and_dicts():
    x, y1 = small_data()
    y2 = np.random.rand(10, 2).astype("float32")
    i = L.Input((3,), name="in")
    o1, o2 = L.Dense(1, name="o1")(i), L.Dense(2, name="o2")(i)
    model = M.Model(i, [o1, o2])
    model.compile("sgd", ["mse", "mse"], metrics=["mae"], loss_weights=[1.0, 0.5])
    assert model.metrics_names == ["loss", "o1_loss", "o2_loss", "o1_mae", "o2_mae"]
    out = model.evaluate(x, {"o1": y1, "o2": y2}, verbose=0)
    p1, p2 = model.predict(x)
    l1, l2 = np.mean((p1 - y1) ** 2), np.mean((p2 - y2) ** 2)
    np.testing.assert_allclose(out[:3], [l1 + 0.5 * l2, l1, l2], rtol=1e-5)
    assert isinstance(model.predict(x), list)
    with pytest.raises(ValueError):
        model.compile("sgd", {"nope": "mse"})
    model.compile("sgd", {"o1": "mse"})  # o2 gets no loss
    assert model.metrics_names == ["loss", "o1_loss"]
    total, o1_loss = model.train_on_batch(x, [y1])
    assert total == pytest.approx(o1_loss)
    with pytest.raises(ValueError):
        model.train_on_batch(x, [y1, y2])


def test_model_structure_accessors():
    seq = M.Sequential([L.Dense(2, input_shape=(3,), name="a"), L.Dense(1, name="b")])
    assert [l.name for l in seq.layers] == ["a", "b"]  # no InputLayer
    assert seq.get_layer(index=0).name == "a" and seq.get_layer(index=1).name == "b"
    assert seq.get_layer("b") is seq.layers[1]
    with pytest.raises(ValueError):
        seq.get_layer("zzz")
    assert (seq.input_shape, seq.output_shape) == ((None, 3), (None, 1))
    assert seq.count_params() == 3 * 2 + 2 + 2 + 1
    seq.pop()
    assert seq.output_shape == (None, 2) and len(seq.layers) == 1
    with pytest.raises(TypeError):
        seq.add("not a layer")
    i = L.Input((3,))
    model = M.Model(inputs=i, outputs=L.Dense(1)(i))
    assert type(model.layers[0]).__name__ == "InputLayer" and model.get_layer(index=0) is model.layers[0]
    assert model.input is i and model.output is model.outputs[0] and model.input_names == [model.layers[0].name]
    inner = M.Sequential([L.Dense(2, input_shape=(3,))])
    nested = M.Model(i, L.Dense(1)(inner(i)))
    assert nested.predict(np.ones((2, 3), "float32")).shape == (2, 1) and nested.count_params() == 8 + 3
    lazy = M.Sequential()
    lazy.add(L.Dense(2))
    lazy.compile("sgd", "mse")
    lazy.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    assert lazy.input_shape == (None, 3)


def test_get_source_inputs_and_print_summary():
    a, b = L.Input((3,)), L.Input((3,))
    out = L.Dense(1)(L.Add()([a, L.Dense(3)(b)]))
    sources = utils.get_source_inputs(out)
    assert len(sources) == 2 and sources[0] is a and sources[1] is b
    model = M.Model([a, b], out)
    lines, direct = [], []
    utils.print_summary(model, print_fn=lines.append)
    model.summary(print_fn=direct.append)
    assert lines == direct


CONVMODEL_SUMMARY = """\
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
input_1 (InputLayer)         (None, 32, 32, 3)         0
_________________________________________________________________
zero_padding2d_1 (ZeroPaddin (None, 38, 38, 3)         0
_________________________________________________________________
conv1 (Conv2D)               (None, 36, 36, 32)        896
_________________________________________________________________
bn_conv1 (BatchNormalization (None, 36, 36, 32)        128
_________________________________________________________________
activation_1 (Activation)    (None, 36, 36, 32)        0
_________________________________________________________________
max_pooling2d_1 (MaxPooling2 (None, 17, 17, 32)        0
_________________________________________________________________
conv2 (Conv2D)               (None, 15, 15, 64)        18496
_________________________________________________________________
bn_conv2 (BatchNormalization (None, 15, 15, 64)        256
_________________________________________________________________
activation_2 (Activation)    (None, 15, 15, 64)        0
_________________________________________________________________
max_pooling2d_2 (MaxPooling2 (None, 7, 7, 64)          0
_________________________________________________________________
flatten_1 (Flatten)          (None, 3136)              0
_________________________________________________________________
fc10 (Dense)                 (None, 10)                31370
=================================================================
Total params: 51,146
Trainable params: 50,954
Non-trainable params: 192
_________________________________________________________________"""


def convmodel():
    X_input = L.Input((32, 32, 3))
    X = L.ZeroPadding2D((3, 3))(X_input)
    X = L.Conv2D(32, (3, 3), strides=(1, 1), name="conv1")(X)
    X = L.BatchNormalization(axis=3, name="bn_conv1")(X)
    X = L.Activation("relu")(X)
    X = L.MaxPooling2D((3, 3), strides=(2, 2))(X)
    X = L.Conv2D(64, (3, 3), name="conv2")(X)
    X = L.BatchNormalization(axis=3, name="bn_conv2")(X)
    X = L.Activation("relu")(X)
    X = L.MaxPooling2D((3, 3), strides=(2, 2))(X)
    X = L.Flatten()(X)
    X = L.Dense(10, activation="softmax", name="fc10")(X)
    return M.Model(inputs=X_input, outputs=X, name="convmodel")


def test_summary_matches_the_spec_example():
    lines = []
    convmodel().summary(print_fn=lines.append)
    assert lines[0] == 'Model: "convmodel"'  # Keras 2.3's first line; the rest is the 2.2 example
    assert "\n".join(l.rstrip() for l in lines[1:]) == CONVMODEL_SUMMARY
    table = [l for l in lines[1:] if not l.startswith(("Total", "Trainable", "Non-trainable"))]
    assert {len(l) for l in table} == {65}  # padded to the full width
    header = lines[2]
    assert header.index("Output Shape") == 29 and header.index("Param #") == 55


def test_summary_graph_columns_and_multiple():
    a, b = L.Input((4,)), L.Input((6,))
    shared = L.Activation("relu", name="shared")
    out = L.Concatenate()([shared(a), shared(b)])
    lines = []
    M.Model([a, b], out).summary(print_fn=lines.append)
    header = lines[2]
    assert len(lines[1]) == 98
    assert [header.index(h) for h in ("Output Shape", "Param #", "Connected to")] == [32, 53, 65]
    row = next(i for i, l in enumerate(lines) if l.startswith("shared (Activation)"))
    assert lines[row][32:53].rstrip() == "multiple"
    assert lines[row][65:].rstrip() == "input_1[0][0]" and lines[row + 1][65:].rstrip() == "input_2[0][0]"
    assert lines[row + 1][:65].strip() == ""


def test_config_json_formats_and_round_trip():
    model = convmodel()
    cfg = model.get_config()
    assert set(cfg) >= {"name", "layers", "input_layers", "output_layers"}
    assert cfg["input_layers"] == [["input_1", 0, 0]] and cfg["output_layers"] == [["fc10", 0, 0]]
    layer = cfg["layers"][1]
    assert set(layer) >= {"name", "class_name", "config", "inbound_nodes"}
    assert layer["inbound_nodes"] == [[["input_1", 0, 0, {}]]]
    js = json.loads(model.to_json())
    assert set(js) >= {"class_name", "config", "keras_version", "backend"} and js["class_name"] == "Model"
    clone = M.model_from_json(model.to_json())
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert clone.count_params() == model.count_params()
    seq = M.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(2)])
    scfg = seq.get_config()
    assert set(scfg) >= {"name", "layers"} and [l["class_name"] for l in scfg["layers"]] == ["Dense", "Dense"]
    assert set(scfg["layers"][0]) == {"class_name", "config"}
    assert json.loads(seq.to_json())["class_name"] == "Sequential"
    seq2 = M.Sequential.from_config(scfg)
    assert seq2.output_shape == (None, 2) and seq2.count_params() == seq.count_params()
    assert M.Model.from_config(cfg).count_params() == model.count_params()


def test_verbose_output_forms():
    x, y = small_data()
    model = M.Sequential([L.Dense(1, input_shape=(3,), activation="sigmoid")])
    model.compile("sgd", "binary_crossentropy", metrics=["acc"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, batch_size=5, epochs=2, verbose=2, validation_data=(x, y))
    lines = buf.getvalue().splitlines()
    assert lines[0] == "Train on 10 samples, validate on 10 samples" and lines[1] == "Epoch 1/2"
    assert lines[2].startswith(" - ") and " - loss: " in lines[2] and " - val_acc: " in lines[2]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, batch_size=5, epochs=1, verbose=1)
    text = buf.getvalue().replace("\r", "\n").replace("\b", "")
    last = [l for l in text.splitlines() if l.strip()][-1]
    assert last.startswith("10/10 [==============================] - ") and "/step - loss: " in last


# =============================================================================================
# section 7: saving layout

def test_save_layout_and_load(tmp_path):
    x = np.random.rand(8, 4).astype("float32")
    y = np.random.rand(8, 2).astype("float32")
    model = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dropout(0.5), L.BatchNormalization(name="bn"),
                          L.Dense(2, name="d2")])
    model.compile(O.Adam(), "mse", metrics=["acc"])
    model.fit(x, y, verbose=0)
    path = str(tmp_path / "m.h5")
    model.save(path)
    with h5py.File(path, "r") as f:
        assert {"keras_version", "backend", "model_config", "training_config"} <= set(f.attrs)
        mc = json.loads(f.attrs["model_config"])
        assert mc["class_name"] == "Sequential"
        tc = json.loads(f.attrs["training_config"])
        assert {"optimizer_config", "loss", "metrics", "sample_weight_mode", "loss_weights"} <= set(tc)
        assert tc["optimizer_config"]["class_name"] == "Adam" and tc["loss"] == "mse"
        g = f["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["layer_names"]]
        assert names == ["d1", "dropout_1", "bn", "d2"]
        wn = [n.decode() if isinstance(n, bytes) else n for n in g["bn"].attrs["weight_names"]]
        assert wn == ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"]
        assert len(g["dropout_1"].attrs["weight_names"]) == 0
        assert g["d1/d1/kernel:0"].shape == (4, 3)
        assert "optimizer_weights" in f and len(f["optimizer_weights"].attrs["weight_names"]) > 0
    loaded = M.load_model(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-6)
    assert type(loaded.optimizer) is O.Adam
    for a, b in zip(loaded.optimizer.get_weights(), model.optimizer.get_weights()):
        np.testing.assert_allclose(a, b)
    assert loaded.metrics_names == model.metrics_names
    assert M.load_model(path, compile=False).predict(x).shape == (8, 2)


def test_save_weights_and_load_weights_modes(tmp_path):
    model = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dropout(0.5), L.BatchNormalization(name="bn"),
                          L.Dense(2, name="d2")])
    path = str(tmp_path / "w.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert {"layer_names", "backend", "keras_version"} <= set(f.attrs)
        assert "model_weights" not in f
    # topological: weightless layers ignored on both sides, names don't matter
    other = M.Sequential([L.Dense(3, input_shape=(4,), name="x1"), L.BatchNormalization(name="xbn"),
                          L.Dense(2, name="x2")])
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        M.Sequential([L.Dense(3, input_shape=(4,))]).load_weights(path)
    # by name: only layers with the same name; mismatched shapes raise unless skip_mismatch
    by_name = M.Sequential([L.Dense(3, input_shape=(4,), name="d1"), L.Dense(5, name="d2")])
    keep = by_name.layers[1].get_weights()
    with pytest.raises(ValueError):
        by_name.load_weights(path, by_name=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        by_name.load_weights(path, by_name=True, skip_mismatch=True)
    assert caught
    np.testing.assert_array_equal(by_name.layers[0].get_weights()[0], model.layers[0].get_weights()[0])
    np.testing.assert_array_equal(by_name.layers[1].get_weights()[0], keep[0])
    # load_weights accepts a whole-model file too
    full = str(tmp_path / "full.h5")
    model.compile("sgd", "mse")
    model.save(full)
    other.load_weights(full)

"""Files written by Keras 2 itself (tf-keras 2.21, tests/data/keras2, see its README.md) load:
predictions equal what Keras computed; the training configuration compiles the same optimizer
(hyper-parameters and saved state: one training step is checked against the update rule written
out in NumPy), loss and metrics; weights-only files load by order and by name; variants in the
older Keras 2.2/2.3 dialect, made here by rewriting the files' attributes with h5py as the README
lists, load too; Keras 3 archives and SavedModel folders get a clear error."""
import json
import os
import shutil
import zipfile

import h5py
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import models
from keraslite.legacy import keras2_compat
from keraslite.saving import ModelFileError

DATA = os.path.join(os.path.dirname(__file__), "data", "keras2")
KERAS3 = os.path.join(os.path.dirname(__file__), "data", "keras3")
FILES = ["mlp_adam", "convnet_bn", "lstm_gru", "cudnn_lstm"]


def expected(name):
    with np.load(os.path.join(DATA, name + ".expected.npz")) as z:
        return z["x"], z["y"]


def path(name):
    return os.path.join(DATA, name + ".h5")


def saved_optimizer_state(filename):
    with h5py.File(filename, "r") as f:
        g = f["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs["weight_names"]]
        return {n: np.asarray(g[n][()]) for n in names}


# ---------------------------------------------------------------------------------------------
# the files as Keras wrote them


@pytest.mark.parametrize("name", FILES)
def test_load_model_predicts_what_keras_computed(name, kbackend):
    x, y = expected(name)
    model = models.load_model(path(name), compile=name != "cudnn_lstm")
    got = model.predict(x)
    assert got.shape == y.shape
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=2e-6)


def test_uncompiled_file_warns_and_loads():
    with pytest.warns(UserWarning, match="No training configuration"):
        model = models.load_model(path("cudnn_lstm"))
    assert type(model.layers[0]).__name__ == "CuDNNLSTM"
    assert model.layers[0].get_config()["units"] == 12


def test_training_config_mlp_adam():
    model = models.load_model(path("mlp_adam"))
    opt = model.optimizer
    assert type(opt).__name__ == "Adam"
    cfg = opt.get_config()
    assert cfg["learning_rate"] == pytest.approx(0.01) and cfg["beta_1"] == pytest.approx(0.9)
    assert cfg["beta_2"] == pytest.approx(0.999) and cfg["epsilon"] == pytest.approx(1e-7)
    assert cfg["amsgrad"] is False
    assert model.loss == "categorical_crossentropy"
    assert model.metrics_names == ["loss", "accuracy"]
    # evaluate: the loss and the accuracy of Keras's own predictions
    x, y_keras = expected("mlp_adam")
    targets = np.eye(3, dtype="float32")[[0, 1, 2, 1][:len(x)] * (len(x) // 4 + 1)][:len(x)]
    loss, acc = model.evaluate(x, targets, verbose=0)
    want_loss = np.mean(-np.sum(targets * np.log(np.clip(y_keras, 1e-7, 1 - 1e-7)), axis=1))
    want_acc = np.mean(np.argmax(y_keras, 1) == np.argmax(targets, 1))
    assert loss == pytest.approx(want_loss, rel=1e-4)
    assert acc == pytest.approx(want_acc)


def _adam_state(model, filename, prefix_fmt):
    """{param name: (m, v)} from the file, by tf.keras's names."""
    saved = saved_optimizer_state(filename)
    out = {}
    for p in model._collected_trainable_weights:
        layer, weight = p.name.split("/")[0], p.name.split("/")[-1]
        out[p.name] = tuple(saved[prefix_fmt.format(slot=s, layer=layer, weight=weight)] for s in ("m", "v"))
    return saved, out


def check_adam_step(model, state, iterations, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    """One train_on_batch; then m, v and the parameters follow Adam's rule from the restored
    state: m' = b1 m + (1-b1) g, v' = b2 v + (1-b2) g^2,
    p' = p - lr sqrt(1-b2^t)/(1-b1^t) m'/(sqrt(v')+eps) with t = iterations + 1."""
    params = model._collected_trainable_weights
    before = {p.name: K.get_value(p).astype(np.float64) for p in params}
    rs = np.random.RandomState(0)
    x = rs.standard_normal((6, 8)).astype("float32")
    y = np.eye(3, dtype="float32")[rs.randint(0, 3, 6)]
    model.train_on_batch(x, y)
    opt = model.optimizer
    n = len(params)
    weights = opt.get_weights()
    assert int(weights[0]) == iterations + 1
    ms, vs = weights[1:1 + n], weights[1 + n:1 + 2 * n]
    t = iterations + 1
    lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for p, m_new, v_new in zip(params, ms, vs):
        m, v = state[p.name]
        g = (m_new.astype(np.float64) - b1 * m) / (1 - b1)
        np.testing.assert_allclose(v_new, b2 * v + (1 - b2) * g ** 2, rtol=2e-3, atol=1e-9)
        want = before[p.name] - lr_t * m_new / (np.sqrt(v_new.astype(np.float64)) + eps)
        np.testing.assert_allclose(K.get_value(p), want, rtol=1e-5, atol=1e-6)


def test_adam_state_restored_and_one_step_follows_the_rule():
    model = models.load_model(path("mlp_adam"))
    saved, state = _adam_state(model, path("mlp_adam"), "Adam/{slot}/{layer}/{weight}:0")
    assert int(saved["iteration:0"]) == 18
    weights = model.optimizer.get_weights()
    assert int(weights[0]) == 18
    n = len(state)
    for i, p in enumerate(model._collected_trainable_weights):
        np.testing.assert_array_equal(weights[1 + i], state[p.name][0])
        np.testing.assert_array_equal(weights[1 + n + i], state[p.name][1])
    check_adam_step(model, state, iterations=18)


def test_sgd_nesterov_state_restored_and_one_step_follows_the_rule():
    model = models.load_model(path("convnet_bn"))
    opt = model.optimizer
    assert type(opt).__name__ == "SGD"
    cfg = opt.get_config()
    assert cfg["nesterov"] is True and cfg["momentum"] == pytest.approx(0.9)
    assert cfg["learning_rate"] == pytest.approx(0.01)
    saved = saved_optimizer_state(path("convnet_bn"))
    params = model._collected_trainable_weights
    assert [p.name for p in params] == [n[len("SGD/m/"):-2] for n in saved if n.startswith("SGD/m/")]
    moments = {p.name: saved["SGD/m/" + p.name + ":0"].astype(np.float64) for p in params}
    before = {p.name: K.get_value(p).astype(np.float64) for p in params}
    rs = np.random.RandomState(1)
    x = rs.standard_normal((4, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rs.randint(0, 10, 4)]
    model.train_on_batch(x, y)
    weights = opt.get_weights()
    assert int(weights[0]) == int(saved["iteration:0"]) + 1
    # v' = mu v - lr g and p' = p + mu v' - lr g, so p' - p = (1 + mu) v' - mu v
    for p, v_new in zip(params, weights[1:]):
        want = before[p.name] + 1.9 * v_new - 0.9 * moments[p.name]
        np.testing.assert_allclose(K.get_value(p), want, rtol=1e-5, atol=1e-6)


def test_rmsprop_state_restored():
    model = models.load_model(path("lstm_gru"))
    opt = model.optimizer
    assert type(opt).__name__ == "RMSprop"
    assert opt.get_config()["rho"] == pytest.approx(0.9)
    assert model.loss == "binary_crossentropy"
    saved = saved_optimizer_state(path("lstm_gru"))
    params = model._collected_trainable_weights
    weights = opt.get_weights()
    assert int(weights[0]) == int(saved["iteration:0"])
    by_file = [v for n, v in saved.items() if n != "iteration:0"]
    assert len(by_file) == len(params)
    for p, got, want in zip(params, weights[1:], by_file):
        assert got.shape == tuple(K.int_shape(p))
        np.testing.assert_array_equal(got, want)


def test_rmsprop_one_step_follows_the_rule():
    """a' = rho a + (1-rho) g^2 and p' = p - lr g/sqrt(a'+eps) (tf.keras's placement of eps, which
    the optimizer loaded from a tf.keras file keeps), from the restored accumulators:
    |p' - p| = lr sqrt((a' - rho a)/(1-rho)) / sqrt(a'+eps)."""
    import keraslite
    with keraslite.use_backend("numpy"):  # the update rule is under test; spare the LSTM compile
        model = models.load_model(path("lstm_gru"))
        opt = model.optimizer
        assert opt.get_config()["epsilon_in_sqrt"] is True
        params = model._collected_trainable_weights
        before = [K.get_value(p).astype(np.float64) for p in params]
        saved = saved_optimizer_state(path("lstm_gru"))  # the file's accumulators, by name
        acc_before = [saved["RMSprop/velocity/" + p.name.split("/")[0] + {"lstm": "/lstm_cell/", "gru": "/gru_cell/"}
                            .get(p.name.split("/")[0], "/") + p.name.split("/")[-1] + ":0"].astype(np.float64)
                      for p in params]
        x, _ = expected("lstm_gru")
        model.train_on_batch(x, np.array([[0.0], [1.0], [1.0], [0.0]][:len(x)], "float32"))
        weights = opt.get_weights()
        rho, lr, eps = 0.9, 0.001, 1e-7
        for p, p0, a0, a1 in zip(params, before, acc_before, weights[1:]):
            a1 = a1.astype(np.float64)
            g2 = np.maximum((a1 - rho * a0) / (1 - rho), 0.0)
            want = lr * np.sqrt(g2) / np.sqrt(a1 + eps)
            # float32 a' leaves ~1e-6 of noise in g from rows the batch did not touch (steps ~ lr)
            np.testing.assert_allclose(np.abs(K.get_value(p) - p0), want, rtol=2e-2, atol=3e-6)
            assert np.max(want) > 1e-4


def test_load_weights_by_order_and_by_name():
    with open(os.path.join(DATA, "weights_only_mlp.json")) as fh:
        text = fh.read()
    x, y = expected("weights_only_mlp")
    model = models.model_from_json(text)
    model.load_weights(os.path.join(DATA, "weights_only_mlp.h5"))
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=2e-6)
    # by name: a model whose layers come in another order, plus one the file does not have
    from keraslite import layers as L
    inp = L.Input((8,))
    extra = L.Dense(4, name="not_in_file")(inp)
    h = L.Dense(16, activation="relu", name="dense")(inp)
    out = L.Dense(3, activation="softmax", name="dense_1")(h)
    other = models.Model(inp, [out, extra])
    before = [w.copy() for w in other.get_layer("not_in_file").get_weights()]
    other.load_weights(os.path.join(DATA, "weights_only_mlp.h5"), by_name=True)
    np.testing.assert_allclose(other.predict(x)[0], y, rtol=1e-5, atol=2e-6)
    for a, b in zip(before, other.get_layer("not_in_file").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_full_model_file_weights_load_into_a_keraslite_model():
    from keraslite import layers as L
    model = models.Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dropout(0.2),
                               L.Dense(3, activation="softmax")])
    model.load_weights(path("mlp_adam"))
    x, y = expected("mlp_adam")
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=2e-6)


def test_resave_with_keraslite_round_trips(tmp_path):
    model = models.load_model(path("convnet_bn"))
    target = str(tmp_path / "again.h5")
    model.save(target)
    again = models.load_model(target)
    x, y = expected("convnet_bn")
    np.testing.assert_allclose(again.predict(x), y, rtol=1e-5, atol=2e-6)
    for a, b in zip(model.optimizer.get_weights(), again.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# the older Keras 2 dialect (2.2/2.3 and tf.keras before 2.11), made from the same files


def _older_initializer(obj):
    vs = {"GlorotUniform": (1.0, "fan_avg", "uniform"), "GlorotNormal": (1.0, "fan_avg", "normal"),
          "HeNormal": (2.0, "fan_in", "normal")}
    name = obj["class_name"]
    if name in vs:
        scale, mode, dist = vs[name]
        return {"class_name": "VarianceScaling",
                "config": {"scale": scale, "mode": mode, "distribution": dist, "seed": None}}
    return {"class_name": name, "config": obj["config"]}


def _older(obj):
    """Rewrite a 2.21 model config the way older Keras 2 wrote it (see the README)."""
    if isinstance(obj, list):
        return [_older(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if k in ("module", "registered_name", "groups", "ragged", "optional"):
            continue
        if k.endswith("_initializer") and isinstance(v, dict):
            out[k] = _older_initializer(v)
        elif k == "class_name" and v == "Functional":
            out[k] = "Model"
        else:
            out[k] = _older(v)
    return out


def _as_bytes(names):
    return np.array([n.encode() for n in names], dtype="S")


def make_older_file(name, tmp_path, optimizer_rewrite=None):
    """A copy of `name` in the older dialect: keras_version 2.3.1-tf, fixed-length byte strings,
    VarianceScaling, no groups/ragged, 'Model', optimizer 'Adam' with OptimizerV2 keys, state
    named 'Adam/iter:0' and 'Adam/dense/kernel/m:0' (slot-major order)."""
    target = str(tmp_path / (name + "_old.h5"))
    shutil.copy(path(name), target)
    os.chmod(target, 0o644)
    with h5py.File(target, "r+") as f:
        f.attrs["keras_version"] = b"2.3.0-tf"
        f.attrs["model_config"] = np.bytes_(json.dumps(_older(json.loads(f.attrs["model_config"]))))
        mw = f["model_weights"]
        del mw["top_level_model_weights"]
        mw.attrs["layer_names"] = _as_bytes([str(n) for n in mw.attrs["layer_names"]])
        for layer in mw.attrs["layer_names"]:
            g = mw[layer.decode()]
            names = list(g.attrs["weight_names"])
            if names:
                g.attrs["weight_names"] = _as_bytes([str(n) for n in names])
        if "training_config" in f.attrs:
            tc = json.loads(f.attrs["training_config"])
            opt = tc["optimizer_config"]
            cname = opt["class_name"].split(">")[-1]
            old_cfg = {"name": cname, "learning_rate": opt["config"]["learning_rate"], "decay": 0.0}
            for k in ("beta_1", "beta_2", "epsilon", "amsgrad", "momentum", "nesterov", "rho", "centered"):
                if k in opt["config"]:
                    old_cfg[k] = opt["config"][k]
            tc["optimizer_config"] = {"class_name": cname, "config": old_cfg}
            tc["metrics"] = ["accuracy"]
            f.attrs["training_config"] = np.bytes_(json.dumps(tc))
            state = saved_optimizer_state(target)
            del f["optimizer_weights"]
            if optimizer_rewrite is not None:
                names, values = optimizer_rewrite(state)
            else:
                names, values = ["%s/iter:0" % cname], [state["iteration:0"]]
                slots = sorted({n.split("/")[1] for n in state if n.count("/") >= 2})
                slots = [s for s in ("m", "v", "velocity") if s in slots]
                # OptimizerV2's slot names: SGD 'momentum', RMSprop 'rms', Adam 'm'/'v'
                old_slot = {"m": "momentum" if cname == "SGD" else "m", "v": "v", "velocity": "rms"}
                for slot in slots:
                    for n, v in state.items():
                        if n.startswith(f"{cname}/{slot}/"):
                            var = n[len(f"{cname}/{slot}/"):-2]
                            names.append(f"{cname}/{var}/{old_slot[slot]}:0")
                            values.append(v)
            g = f.create_group("optimizer_weights")
            g.attrs["weight_names"] = _as_bytes(names)
            for n, v in zip(names, values):
                g.create_dataset(n, data=v)
    return target


@pytest.mark.parametrize("name", ["mlp_adam", "convnet_bn", "lstm_gru"])
def test_older_dialect_loads_and_predicts(name, tmp_path):
    target = make_older_file(name, tmp_path)
    with h5py.File(target, "r") as f:
        text = f.attrs["model_config"]
        assert isinstance(text, bytes)
        assert b"GlorotUniform" not in text and b"groups" not in text and b"VarianceScaling" in text
    model = models.load_model(target)
    x, y = expected(name)
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=2e-6)
    assert model.metrics_names == ["loss", "accuracy"]
    # the state read from 'Adam/dense/kernel/m:0'-style names equals the one read from the
    # 2.21 names of the original file
    original = models.load_model(path(name)).optimizer.get_weights()
    got = model.optimizer.get_weights()
    assert len(got) == len(original) and int(got[0]) > 0
    for a, b in zip(got, original):
        np.testing.assert_array_equal(a, b)


def test_older_dialect_adam_state_by_name(tmp_path):
    target = make_older_file("mlp_adam", tmp_path)
    with h5py.File(target, "r") as f:
        assert f["optimizer_weights"].attrs["weight_names"][0] == b"Adam/iter:0"
    model = models.load_model(target)
    _, state = _adam_state(model, path("mlp_adam"), "Adam/{slot}/{layer}/{weight}:0")
    check_adam_step(model, state, iterations=18)


def test_keras22_positional_optimizer_state(tmp_path):
    """Standalone Keras 2.2.4 names its state by position ('training/Adam/Variable_3:0'), in
    keraslite's own order: iterations, all m, all v, then (1,) vhat placeholders."""
    def positional(state):
        ms = [v for n, v in state.items() if n.startswith("Adam/m/")]
        vs = [v for n, v in state.items() if n.startswith("Adam/v/")]
        values = [state["iteration:0"]] + ms + vs + [np.zeros((1,), "float32")] * len(ms)
        names = ["Adam/iterations:0"] + ["training/Adam/Variable_%d:0" % i for i in range(len(values) - 1)]
        return names, values
    target = make_older_file("mlp_adam", tmp_path, optimizer_rewrite=positional)
    model = models.load_model(target)
    _, state = _adam_state(model, path("mlp_adam"), "Adam/{slot}/{layer}/{weight}:0")
    check_adam_step(model, state, iterations=18)


def test_dtype_policies_and_module_keys_are_read(tmp_path):
    target = str(tmp_path / "policy.h5")
    shutil.copy(path("mlp_adam"), target)
    os.chmod(target, 0o644)
    with h5py.File(target, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        for layer in cfg["config"]["layers"][1:]:
            layer["config"]["dtype"] = {"module": "keras.mixed_precision", "class_name": "Policy",
                                        "config": {"name": "float32"}, "registered_name": None}
            layer["module"], layer["registered_name"] = "keras.layers", None
        f.attrs["model_config"] = json.dumps(cfg).encode()
    x, y = expected("mlp_adam")
    np.testing.assert_allclose(models.load_model(target).predict(x), y, rtol=1e-5, atol=2e-6)


# ---------------------------------------------------------------------------------------------
# what keraslite refuses, clearly


def _rewrite_config(tmp_path, name, edit):
    target = str(tmp_path / (name + "_edit.h5"))
    shutil.copy(path(name), target)
    os.chmod(target, 0o644)
    with h5py.File(target, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        edit(cfg)
        f.attrs["model_config"] = json.dumps(cfg).encode()
    return target


def test_grouped_convolution_is_a_clear_error(tmp_path):
    def edit(cfg):
        cfg["config"]["layers"][6]["config"]["groups"] = 2
    target = _rewrite_config(tmp_path, "convnet_bn", edit)
    with pytest.raises(ValueError, match=r"conv2.*groups=2"):
        models.load_model(target)


def test_ragged_input_is_a_clear_error(tmp_path):
    def edit(cfg):
        cfg["config"]["layers"][0]["config"]["ragged"] = True
    target = _rewrite_config(tmp_path, "mlp_adam", edit)
    with pytest.raises(ValueError, match="ragged=True"):
        models.load_model(target)


def test_unsupported_optimizer_option_is_a_clear_error(tmp_path):
    target = str(tmp_path / "ema.h5")
    shutil.copy(path("mlp_adam"), target)
    os.chmod(target, 0o644)
    with h5py.File(target, "r+") as f:
        tc = json.loads(f.attrs["training_config"])
        tc["optimizer_config"]["config"]["use_ema"] = True
        f.attrs["training_config"] = json.dumps(tc).encode()
    with pytest.raises(ValueError, match="use_ema=True.*compile=False"):
        models.load_model(target)
    x, y = expected("mlp_adam")
    np.testing.assert_allclose(models.load_model(target, compile=False).predict(x), y, rtol=1e-5, atol=2e-6)


def test_keras3_archive_is_a_clear_error(tmp_path):
    target = str(tmp_path / "model.keras")
    with zipfile.ZipFile(target, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
        z.writestr("model.weights.h5", b"")
    with pytest.raises(ModelFileError, match=r"Keras 3 '\.keras' archive.*model\.save\('model\.h5'\)"):
        models.load_model(target)
    model = models.load_model(path("mlp_adam"))
    with pytest.raises(ModelFileError, match="Keras 3"):
        model.load_weights(target)


def test_real_keras3_archive_is_a_clear_error():
    target = os.path.join(KERAS3, "k3_mlp.keras")
    with pytest.raises(ModelFileError, match=r"Keras 3 '\.keras' archive"):
        models.load_model(target)


def test_keras3_legacy_h5_loads_with_optimizer_state():
    target = os.path.join(KERAS3, "k3_mlp_trained.h5")
    model = models.load_model(target)
    with np.load(os.path.join(KERAS3, "k3_mlp_trained.expected.npz")) as z:
        x, y = z["x"], z["y"]
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=2e-6)
    assert model.metrics_names == ["loss", "accuracy"]
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.01)
    saved = saved_optimizer_state(target)
    params = model._collected_trainable_weights
    weights = model.optimizer.get_weights()
    n = len(params)
    assert int(weights[0]) == int(saved["adam/iteration"]) == 4
    for i, p in enumerate(params):
        key = "adam/sequential_" + p.name.replace("/", "_")
        np.testing.assert_array_equal(weights[1 + i], saved[key + "_momentum"])
        np.testing.assert_array_equal(weights[1 + n + i], saved[key + "_velocity"])


@pytest.mark.parametrize("name", ["k3_func", "k3_bidir"])
def test_keras3_legacy_h5_functional(name):
    model = models.load_model(os.path.join(KERAS3, name + ".h5"), compile=False)
    with np.load(os.path.join(KERAS3, name + ".expected.npz")) as z:
        np.testing.assert_allclose(model.predict(z["x"]), z["y"], rtol=1e-5, atol=2e-6)


def test_savedmodel_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "exported"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(ModelFileError, match="TensorFlow SavedModel folder.*save_format='h5'"):
        models.load_model(str(folder))
    with pytest.raises(ModelFileError, match="graph of a TensorFlow SavedModel"):
        models.load_model(str(folder / "saved_model.pb"))


def test_translation_leaves_keraslite_configs_alone():
    from keraslite import layers as L
    model = models.Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1)), L.Flatten(), L.Dense(2)])
    config = {"class_name": "Sequential", "config": model.get_config()}
    assert keras2_compat.translate_model_config(json.loads(json.dumps(config))) == json.loads(json.dumps(config))


def test_cudnn_weights_load_into_lstm_twin_and_back(tmp_path):
    """Keras 2 loads CuDNNLSTM weights into an LSTM (the README's 'plain LSTM twin') and LSTM
    weights into a CuDNNLSTM, converting the layout."""
    from keraslite import layers as L
    x, y = expected("cudnn_lstm")
    twin = models.Sequential([L.LSTM(12, recurrent_activation="sigmoid", input_shape=(10, 8)), L.Dense(1)])
    twin.load_weights(path("cudnn_lstm"))
    np.testing.assert_allclose(twin.predict(x), y, rtol=1e-5, atol=2e-6)
    twin2 = models.Sequential([L.LSTM(12, recurrent_activation="sigmoid", input_shape=(10, 8), name="cu_dnnlstm"),
                               L.Dense(1, name="dense")])
    twin2.load_weights(path("cudnn_lstm"), by_name=True)
    np.testing.assert_allclose(twin2.predict(x), y, rtol=1e-5, atol=2e-6)
    target = str(tmp_path / "lstm.h5")
    twin.save_weights(target)
    back = models.Sequential([L.CuDNNLSTM(12, input_shape=(10, 8)), L.Dense(1)])
    back.load_weights(target)
    np.testing.assert_allclose(back.predict(x), y, rtol=1e-5, atol=2e-6)

"""keraslite.legacy.keras2_compat: each tf.keras / Keras 2.2 spelling maps onto the keraslite
object with the same Keras semantics, what has none is a clear ValueError, and optimizer state
saved by name (tf.keras 2.11+ interleaved per variable, OptimizerV2 slot-major) is put back into
keraslite's order for every optimizer."""
import json

import numpy as np
import pytest

import keraslite
from keraslite import backend as K
from keraslite import layers as L
from keraslite import models, optimizers
from keraslite.legacy.keras2_compat import translate_model_config, translate_training_config
from keraslite.legacy.optimizer_state import optimizer_weights_in_order


def _meta(class_name, config, module="keras.initializers"):
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def dense_config(**extra):
    cfg = {"name": "d", "trainable": True, "dtype": "float32", "units": 3, "activation": "linear",
           "use_bias": True, "kernel_initializer": _meta("GlorotNormal", {"seed": 3}),
           "bias_initializer": _meta("Constant", {"value": 0.5}),
           "kernel_regularizer": _meta("L2", {"l2": 0.25}, "keras.regularizers"),
           "bias_regularizer": None, "activity_regularizer": None,
           "kernel_constraint": _meta("MaxNorm", {"max_value": 2.0, "axis": 0}, "keras.constraints"),
           "bias_constraint": None}
    cfg.update(extra)
    return {"module": "keras.layers", "class_name": "Dense", "config": cfg, "registered_name": None}


def test_initializers_regularizers_constraints_translate():
    out = translate_model_config(dense_config())
    cfg = out["config"]
    assert "module" not in out and "registered_name" not in out
    assert cfg["kernel_initializer"] == {"class_name": "VarianceScaling", "config": {
        "scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal", "seed": 3}}
    assert cfg["bias_initializer"] == {"class_name": "Constant", "config": {"value": 0.5}}
    assert cfg["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.25}}
    layer = L.deserialize(out)
    init = layer.kernel_initializer
    assert (init.scale, init.mode, init.seed) == (1.0, "fan_avg", 3)
    assert layer.kernel_regularizer.l2 == pytest.approx(0.25)
    assert layer.kernel_constraint.max_value == 2.0


@pytest.mark.parametrize("name,scale,mode,dist", [("HeUniform", 2.0, "fan_in", "uniform"),
                                                  ("LecunNormal", 1.0, "fan_in", "truncated_normal"),
                                                  ("GlorotUniform", 1.0, "fan_avg", "uniform")])
def test_variance_scaling_family(name, scale, mode, dist):
    cfg = dense_config(kernel_initializer=_meta(name, {"seed": None}))
    init = translate_model_config(cfg)["config"]["kernel_initializer"]["config"]
    assert (init["scale"], init["mode"], init["distribution"]) == (scale, mode, dist)
    # the statistics Keras documents: uniform limit sqrt(3*scale/fan), else std sqrt(scale/fan)
    layer = L.deserialize(translate_model_config(cfg))
    values = layer.kernel_initializer((400, 300))
    fan = {"fan_in": 400, "fan_avg": 350}[mode]
    assert np.std(values) == pytest.approx(np.sqrt(scale / fan), rel=0.03)


def test_dtype_policies():
    cfg = dense_config(dtype=_meta("Policy", {"name": "float64"}, "keras.mixed_precision"))
    assert translate_model_config(cfg)["config"]["dtype"] == "float64"
    with pytest.warns(UserWarning, match="mixed_float16.*float32"):
        out = translate_model_config(dense_config(dtype="mixed_float16"))
    assert out["config"]["dtype"] == "float32"


def test_neutral_keys_dropped_and_others_refused():
    pool = {"class_name": "GlobalAveragePooling2D", "config": {"name": "g", "data_format": "channels_last",
                                                               "keepdims": False}}
    assert "keepdims" not in translate_model_config(pool)["config"]
    pool["config"]["keepdims"] = True
    with pytest.raises(ValueError, match=r"layer 'g' \(GlobalAveragePooling2D\).*keepdims=True"):
        translate_model_config(pool)
    lstm = {"class_name": "LSTM", "config": {"name": "l", "units": 2, "time_major": True}}
    with pytest.raises(ValueError, match="time_major=True"):
        translate_model_config(lstm)
    bn = {"class_name": "BatchNormalization", "config": {"name": "b", "axis": [1, 2]}}
    with pytest.raises(ValueError, match="several axes"):
        translate_model_config(bn)


def test_tf_only_layers_named():
    cfg = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "TFOpLambda", "config": {"name": "tf.math.add"}, "name": "tf.math.add",
         "inbound_nodes": []}], "input_layers": [], "output_layers": []}}
    with pytest.raises(ValueError, match="tf.math.add.*only TensorFlow can rebuild"):
        translate_model_config(cfg)


def test_custom_objects_are_left_alone():
    cfg = {"class_name": "MyLayer", "config": {"groups": 4, "k": _meta("GlorotUniform", {})}}
    assert translate_model_config(cfg, {"MyLayer": object}) == cfg


def test_keras22_bare_list_sequential_and_wrappers():
    inner = dense_config()
    seq = {"class_name": "Sequential", "config": [
        {"class_name": "TimeDistributed", "config": {"name": "td", "layer": inner,
                                                      "batch_input_shape": [None, 4, 5]}}]}
    model = models.model_from_config(seq)
    assert model.output_shape == (None, 4, 3)
    assert model.layers[0].layer.kernel_initializer.distribution == "truncated_normal"


def test_training_config_translation():
    tc = {"loss": _meta("CategoricalCrossentropy", {"reduction": "auto", "name": "categorical_crossentropy",
                                                    "from_logits": False, "label_smoothing": 0.1, "axis": -1},
                        "keras.losses"),
          "metrics": [[{"class_name": "MeanMetricWrapper",
                        "config": {"name": "acc", "dtype": "float32", "fn": "categorical_accuracy"}}]],
          "optimizer_config": {"class_name": "Custom>Adam", "config": {
              "name": "Adam", "weight_decay": None, "clipnorm": None, "global_clipnorm": 1.5, "clipvalue": 0.5,
              "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None, "jit_compile": True,
              "is_legacy_optimizer": False, "learning_rate": 0.002, "beta_1": 0.8, "beta_2": 0.99,
              "epsilon": 1e-7, "amsgrad": True}}}
    out = translate_training_config(tc)
    opt = optimizers.deserialize(out["optimizer_config"])
    # tf-keras 2.11+ applies only the first of clipnorm, global_clipnorm, clipvalue: no clipvalue here
    assert isinstance(opt, optimizers.Adam) and opt.amsgrad and opt.clipnorm == 1.5 and opt.clipvalue is None
    assert not opt.clipnorm_per_variable  # global_clipnorm is Keras 2.3's clipnorm
    assert opt.get_config()["learning_rate"] == pytest.approx(0.002)
    assert opt.get_config()["beta_1"] == pytest.approx(0.8)
    assert out["loss"] == {"class_name": "CategoricalCrossentropy", "config": {
        "reduction": "auto", "name": "categorical_crossentropy", "from_logits": False, "label_smoothing": 0.1}}
    model = models.Sequential([L.Dense(3, activation="softmax", input_shape=(2,))])
    from keraslite import losses, metrics
    model.compile(opt, loss=losses.deserialize(out["loss"]), metrics=[metrics.deserialize(m)
                                                                     for m in out["metrics"][0]])
    assert model.metrics_names == ["loss", "acc"]


@pytest.mark.parametrize("cfg,match", [
    ({"class_name": "Custom>SGD", "config": {"name": "SGD", "learning_rate": {
        "class_name": "ExponentialDecay", "config": {}}}}, "schedule"),
    ({"class_name": "Ftrl", "config": {"name": "Ftrl"}}, "'Ftrl' is not one keraslite has"),
    ({"class_name": "RMSprop", "config": {"name": "RMSprop", "centered": True}}, "centered=True"),
    ({"class_name": "Custom>AdamW", "config": {"name": "AdamW"}}, "AdamW"),
])
def test_optimizer_configs_refused(cfg, match):
    with pytest.raises(ValueError, match=match):
        translate_training_config({"optimizer_config": cfg})


def test_tf_keras_clipnorm_is_per_variable():
    out = translate_training_config({"optimizer_config": {"class_name": "Custom>Adam", "config": {
        "name": "Adam", "clipnorm": 1.0, "learning_rate": 0.1}}})
    assert out["optimizer_config"]["config"]["clipnorm"] == 1.0
    assert out["optimizer_config"]["config"]["clipnorm_per_variable"] is True


def test_keras23_optimizer_config_unchanged_semantics():
    # standalone Keras 2.2/2.3 write no 'name', 'lr' and a global clipnorm: kept
    out = translate_training_config({"optimizer_config": {"class_name": "SGD", "config": {
        "lr": 0.1, "momentum": 0.5, "decay": 0.01, "nesterov": False, "clipnorm": 2.0}}})
    opt = optimizers.deserialize(out["optimizer_config"])
    assert opt.clipnorm == 2.0 and opt.get_config()["decay"] == pytest.approx(0.01)


# ---------------------------------------------------------------------------------------------
# optimizer state by name, every optimizer

_NEW_SLOTS = {"SGD": ["m"], "RMSprop": ["velocity"], "Adagrad": ["accumulator"],
              "Adadelta": ["accumulated_grad", "accumulated_delta_var"], "Adam": ["m", "v", "vhat"],
              "Adamax": ["m", "u"], "Nadam": ["m", "v"]}
_OLD_SLOTS = {"SGD": ["momentum"], "RMSprop": ["rms"], "Adagrad": ["accumulator"],
              "Adadelta": ["accum_grad", "accum_var"], "Adam": ["m", "v", "vhat"], "Adamax": ["m", "v"],
              "Nadam": ["m", "v"]}


_KERAS3_SLOTS = {"SGD": ["momentum"], "RMSprop": ["velocity"], "Adagrad": ["accumulator"],
                 "Adadelta": ["accumulated_grad", "accumulated_delta_var"],
                 "Adam": ["momentum", "velocity", "velocity_hat"], "Adamax": ["momentum", "norm"],
                 "Nadam": ["momentum", "velocity"]}


@pytest.mark.parametrize("name", sorted(_NEW_SLOTS))
@pytest.mark.parametrize("style", ["new", "old", "keras3"])
def test_named_state_goes_back_in_keraslite_order(name, style):
    with keraslite.use_backend("numpy"):
        opt = getattr(optimizers, name)(amsgrad=True) if name == "Adam" else getattr(optimizers, name)()
        model = models.Sequential([L.Dense(3, input_shape=(2,), name="dense"), L.Dense(1, name="out")])
        model.compile(opt, "mse")
        model.train_on_batch(np.ones((2, 2)), np.ones((2, 1)))
        rs = np.random.RandomState(0)
        state = [np.asarray(w) if i == 0 else rs.standard_normal(np.shape(w)).astype("float32")
                 for i, w in enumerate(opt.get_weights())]
        params = model._collected_trainable_weights
        n = len(params)
        head = 2 if name == "Nadam" else 1
        slots = {"new": _NEW_SLOTS, "old": _OLD_SLOTS, "keras3": _KERAS3_SLOTS}[style][name]
        per = {(s, i): state[head + k * n + i] for k, s in enumerate(slots) for i in range(n)}
        names, values = [{"new": "iteration:0", "old": f"{name}/iter:0", "keras3": "x/iteration"}[style]], [state[0]]
        if style == "keras3":  # Keras 3 also saves the learning rate, and Nadam's product unnamed
            names.append("x/learning_rate")
            values.append(np.asarray(0.5, "float32"))
        if name == "Nadam":
            names.append("variable" if style == "keras3" else f"{name}/momentum_cache:0")
            values.append(state[1])
        if style == "keras3":
            order = [(s, i) for i in range(n) for s in slots]
            for s, i in order:
                names.append("x/sequential_" + params[i].name.replace("/", "_") + "_" + s)
                values.append(per[(s, i)])
        elif style == "new":  # interleaved per variable
            order = [(s, i) for i in range(n) for s in slots]
        else:  # slot-major
            order = [(s, i) for s in slots for i in range(n)]
        for s, i in (order if style != "keras3" else []):
            var = params[i].name
            names.append(f"{name}/{s}/{var}:0" if style == "new" else f"{name}/{var}/{s}:0")
            values.append(per[(s, i)])
        got = optimizer_weights_in_order(names, values, opt, params)
        assert got is not None and len(got) == len(state)
        for a, b in zip(got, state):
            np.testing.assert_array_equal(np.asarray(a), b)
        # names that do not say where things go: None (the caller loads by position)
        assert optimizer_weights_in_order(["training/Variable:0"] * len(values), values, opt, params) is None


def test_adam_without_amsgrad_gets_placeholders_and_rnn_cell_names_match():
    with keraslite.use_backend("numpy"):
        model = models.Sequential([L.LSTM(2, input_shape=(3, 2), name="lstm")])
        model.compile(optimizers.Adam(), "mse")
        model._make_train_function()
        opt = model.optimizer
        params = model._collected_trainable_weights
        names, values = ["iteration:0"], [np.asarray(7, "int64")]
        for p in params:
            weight = p.name.split("/")[-1]
            for s in ("m", "v"):
                names.append(f"Adam/{s}/lstm/lstm_cell/{weight}:0")
                values.append(np.full(K.int_shape(p), 1.0 if s == "m" else 2.0, "float32"))
        got = optimizer_weights_in_order(names, values, opt, params)
        n = len(params)
        assert int(got[0]) == 7
        assert all((g == 1.0).all() for g in got[1:1 + n]) and all((g == 2.0).all() for g in got[1 + n:1 + 2 * n])
        assert [g.shape for g in got[1 + 2 * n:]] == [(1,)] * n
        opt.set_weights(got)


def test_tf_metric_objects_translate():
    from keraslite import metrics
    tc = {"metrics": [_meta("AUC", {"name": "auc", "dtype": "float32", "num_thresholds": 50, "curve": "PR",
                                    "summation_method": "interpolation", "multi_label": False, "num_labels": None,
                                    "label_weights": None, "from_logits": False, "thresholds": None},
                            "keras.metrics"),
                      _meta("CategoricalCrossentropy", {"name": "cce", "dtype": "float32", "from_logits": False,
                                                        "label_smoothing": 0, "axis": -1}, "keras.metrics")]}
    out = translate_training_config(tc)
    auc, cce = [metrics.deserialize(m) for m in out["metrics"]]
    assert type(auc).__name__ == "AUC" and auc.name == "auc"
    assert type(cce).__name__ == "CategoricalCrossentropy"
    tc["metrics"][0]["config"]["multi_label"] = True
    with pytest.raises(ValueError, match="metric AUC with multi_label=True"):
        translate_training_config(tc)


def test_keras3_weights_file_named(tmp_path):
    import h5py
    target = str(tmp_path / "m.weights.h5")
    with h5py.File(target, "w") as f:
        f.create_group("layers/dense/vars").create_dataset("0", data=np.zeros((2, 3)))
        f.create_group("vars")
    model = models.Sequential([L.Dense(3, input_shape=(2,))])
    with pytest.raises(ValueError, match="Keras 3 weights file.*model.save\\('model.h5'\\)"):
        model.load_weights(target)


def test_activations_outside_keras23_are_named():
    with pytest.raises(ValueError, match=r"layer 'd' \(Dense\), activation: activation 'gelu' is not one of"):
        translate_model_config(dense_config(activation="gelu"))
    assert translate_model_config(dense_config(activation="gelu"), {"gelu": abs})["config"]["activation"] == "gelu"


def _tfify(obj, parent_key=None):
    """Rewrite a keraslite config the way tf-keras 2.21 writes the same model (README list):
    module/registered_name keys, initializers by class, dtype policies, groups/keepdims/
    time_major/ragged keys, 'Functional'."""
    if isinstance(obj, list):
        return [_tfify(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _tfify(v, k) for k, v in obj.items()}
    if "class_name" in out and "config" in out:
        cls, cfg = out["class_name"], out["config"]
        if cls == "VarianceScaling" and (cfg["scale"], cfg["mode"], cfg["distribution"]) == (1.0, "fan_avg",
                                                                                            "uniform"):
            out = {"class_name": "GlorotUniform", "config": {"seed": cfg["seed"]}}
        if cls == "Model":
            out["class_name"] = "Functional"
        if isinstance(out["config"], dict) and cls not in ("Model", "Sequential") and parent_key is None:
            cfg = out["config"]
            if cls.startswith("Conv") or cls == "DepthwiseConv2D":
                cfg["groups"] = 1
            if cls.startswith("Global"):
                cfg["keepdims"] = False
            if cls in ("LSTM", "GRU", "SimpleRNN", "CuDNNGRU", "CuDNNLSTM"):
                cfg["time_major"] = False
            if cls == "InputLayer":
                cfg.update(ragged=False, optional=False)
            if cfg.get("dtype") == "float32":
                cfg["dtype"] = {"module": "keras", "class_name": "Policy", "config": {"name": "float32"},
                                "registered_name": None}
        out["module"], out["registered_name"] = "keras.layers", None
    return out


def test_tf_keras_spelling_of_many_layers_round_trips(rng):
    with keraslite.use_backend("numpy"):  # the translation is under test, not the kernels: no compiling
        _many_layers(rng)


def _many_layers(rng):
    inp = L.Input((12, 6), name="seq")
    img = L.Input((10, 10, 3), name="img")
    a = L.Conv1D(4, 3, padding="causal", activation="relu")(inp)
    a = L.Bidirectional(L.LSTM(3, return_sequences=True, recurrent_activation="sigmoid"))(a)
    a = L.TimeDistributed(L.Dense(2))(a)
    a = L.SpatialDropout1D(0.1)(a)
    a = L.CuDNNGRU(3)(a)
    b = L.DepthwiseConv2D(3, depth_multiplier=2)(img)
    b = L.BatchNormalization()(b)
    b = L.LeakyReLU(0.2)(b)
    b = L.SeparableConv2D(4, 3, padding="same")(b)
    b = L.Conv2DTranspose(2, 3, strides=2)(b)
    b = L.GlobalAveragePooling2D()(b)
    b = L.PReLU()(b)
    c = L.Concatenate()([a, b])
    c = L.GaussianNoise(0.1)(c)
    out = L.Dense(2, activation="softmax", name="out")(c)
    model = models.Model([inp, img], [out, a])
    for w in model.weights:
        K.set_value(w, rng.standard_normal(K.int_shape(w)).astype("float32") * 0.3)
    config = json.loads(json.dumps({"class_name": "Model", "config": model.get_config()}))
    tf_config = _tfify(config)
    text = json.dumps(tf_config)
    assert "GlorotUniform" in text and '"groups": 1' in text and "Functional" in text and "keepdims" in text
    loaded = models.model_from_json(text)
    loaded.set_weights(model.get_weights())
    xs = [rng.standard_normal((2, 12, 6)).astype("float32"), rng.standard_normal((2, 10, 10, 3)).astype("float32")]
    for got, want in zip(loaded.predict(xs), model.predict(xs)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]


def test_state_names_of_wrapped_layers_match_by_path_or_order():
    with keraslite.use_backend("numpy"):
        model = models.Sequential([
            L.Bidirectional(L.LSTM(2, return_sequences=True, name="lstm"), input_shape=(3, 2), name="bidirectional"),
            L.TimeDistributed(L.Dense(2, name="dense"), name="time_distributed")])
        model.compile(optimizers.RMSprop(), "mse")
        model._make_train_function()
        opt = model.optimizer
        params = model._collected_trainable_weights
        shapes = [K.int_shape(p) for p in params]
        # tf.keras paths: the Bidirectional halves under the wrapper with the cell scope
        paths = ["bidirectional/forward_lstm/lstm_cell/" + w for w in ("kernel", "recurrent_kernel", "bias")] + \
                ["bidirectional/backward_lstm/lstm_cell/" + w for w in ("kernel", "recurrent_kernel", "bias")] + \
                ["time_distributed/kernel", "time_distributed/bias"]
        values = [np.full(s, float(i), "float32") for i, s in enumerate(shapes)]
        names = ["iteration:0"] + [f"RMSprop/velocity/{p}:0" for p in paths]
        got = optimizer_weights_in_order(names, [np.asarray(3)] + values, opt, params)
        assert int(got[0]) == 3
        for i, g in enumerate(got[1:]):
            assert g.shape == shapes[i] and (g == i).all()
        opt.set_weights(got)


def test_single_triple_io_and_build_input_shape():
    with keraslite.use_backend("numpy"):
        inp = L.Input((3,), name="x")
        model = models.Model(inp, L.Dense(2, name="d")(inp))
        cfg = json.loads(json.dumps({"class_name": "Model", "config": model.get_config()}))
        cfg["config"]["input_layers"] = cfg["config"]["input_layers"][0]
        cfg["config"]["output_layers"] = cfg["config"]["output_layers"][0]
        cfg["class_name"] = "Functional"
        assert models.model_from_config(cfg).output_shape == (None, 2)
        seq = {"class_name": "Sequential", "config": {"name": "s", "build_input_shape": [None, 4],
                                                       "layers": [dense_config()]}}
        built = models.model_from_config(seq)
        assert built.built and built.output_shape == (None, 3)


def test_state_saved_before_training_needs_no_slots():
    with keraslite.use_backend("numpy"):
        model = models.Sequential([L.Dense(2, input_shape=(3,), name="dense")])
        model.compile(optimizers.Adam(), "mse")
        model._make_train_function()
        got = optimizer_weights_in_order(["adam/iteration", "adam/learning_rate"],
                                         [np.asarray(0), np.asarray(0.001, "float32")], model.optimizer,
                                         model._collected_trainable_weights)
        assert int(got[0]) == 0 and len(got) == len(model.optimizer.weights)
        assert all(not np.any(g) for g in got[1:])


def test_backward_layer_accepted_only_as_the_mirror():
    def gru(name, backwards, units=2):
        return {"class_name": "GRU", "config": {"name": name, "units": units, "go_backwards": backwards,
                                               "return_sequences": True, "zero_output_for_mask": True}}
    bidi = {"class_name": "Bidirectional", "config": {"name": "b", "merge_mode": "concat",
                                                      "layer": gru("forward_gru", False),
                                                      "backward_layer": gru("backward_gru", True)}}
    out = translate_model_config(bidi)["config"]
    assert "backward_layer" not in out and "zero_output_for_mask" not in out["layer"]["config"]
    bidi["config"]["backward_layer"] = gru("backward_gru", True, units=3)
    with pytest.raises(ValueError, match="not the mirror"):
        translate_model_config(bidi)
    # outside Bidirectional, zeros at masked steps are not Keras 2.3's rule
    with pytest.raises(ValueError, match="zero_output_for_mask=True"):
        translate_model_config(gru("g", False))


def test_loss_scale_optimizer_unwrapped():
    tc = {"optimizer_config": {"class_name": "LossScaleOptimizer", "config": {
        "inner_optimizer": {"class_name": "Custom>SGD", "config": {"name": "SGD", "learning_rate": 0.5,
                                                                   "momentum": 0.0, "nesterov": False}},
        "dynamic": True, "initial_scale": 32768.0, "dynamic_growth_steps": 2000}}}
    with pytest.warns(UserWarning, match="without loss scaling"):
        out = translate_training_config(tc)
    opt = optimizers.deserialize(out["optimizer_config"])
    assert isinstance(opt, optimizers.SGD) and opt.get_config()["learning_rate"] == pytest.approx(0.5)

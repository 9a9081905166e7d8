"""More files written by Keras 2 itself (tf-keras 2.21 on TensorFlow 2.21, made by
tests/data/keras2/make_files.py, stored in tests/data/keras2/more/): one or a few layers of every
kind keraslite has, every optimizer with saved state, several losses and metrics, weights-only
files. Each loads; predict equals what Keras computed; the training configuration compiles the
same optimizer, loss and metrics; one more train step from the file gives the weights that
tf-keras reached from the same file (except the documented differences, see docs/porting.md)."""
import glob
import json
import os
import warnings

import h5py
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import models

MORE = os.path.join(os.path.dirname(__file__), "data", "keras2", "more")
# files holding what keraslite cannot have: each gets a clear error (docs/porting.md)
UNSUPPORTED = {"layer_normalization": "LayerNormalization is a tf.keras layer that Keras 2.3, and so keraslite"}
FULL = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(MORE, "*.h5"))
              if not os.path.basename(p).startswith("weights_only") and os.path.basename(p)[:-3] not in UNSUPPORTED)
WEIGHTS_ONLY = ["weights_only_functional", "weights_only_nested"]


def scale_up(x):
    """The function behind the Lambda layer of lambda_custom.h5 (offered by name)."""
    return x * 2.0 + 1.0


CUSTOM = {"scale_up": scale_up}


def arrays(name, prefix):
    with np.load(os.path.join(MORE, name + ".expected.npz")) as z:
        keys = sorted((k for k in z.files if k.startswith(prefix) and k[len(prefix):].isdigit()),
                      key=lambda k: int(k[len(prefix):]))
        return [z[k] for k in keys]


def one(values):
    return values[0] if len(values) == 1 else values


def load(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the uncompiled file's "no training configuration"
        return models.load_model(os.path.join(MORE, name + ".h5"), custom_objects=CUSTOM, **kwargs)


def file_attr(name, key):
    with h5py.File(os.path.join(MORE, name + ".h5"), "r") as f:
        value = f.attrs.get(key)
    return None if value is None else json.loads(value)


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_files_say_why(name):
    with pytest.raises(ValueError, match=UNSUPPORTED[name]):
        load(name)


def test_the_files_are_there():
    assert len(FULL) >= 45
    with h5py.File(os.path.join(MORE, "opt_adam.h5"), "r") as f:
        assert f.attrs["keras_version"] == "2.21.0"


@pytest.mark.parametrize("name", FULL)
def test_predict_equals_keras(name, kbackend):
    model = load(name)
    got = model.predict(one(arrays(name, "x")))
    got = got if isinstance(got, list) else [got]
    want = arrays(name, "y")
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)


def _loss_names(loss):
    if isinstance(loss, dict):
        return {k: _loss_names(v) for k, v in loss.items()}
    if isinstance(loss, list):
        return [_loss_names(v) for v in loss]
    return loss if isinstance(loss, str) else type(loss).__name__


@pytest.mark.parametrize("name", [n for n in FULL if file_attr(n, "training_config")])
def test_training_config_honoured(name):
    model = load(name)
    tc = file_attr(name, "training_config")
    opt = tc["optimizer_config"]
    assert type(model.optimizer).__name__ == opt["class_name"].split(">")[-1]
    assert K.get_value(model.optimizer.learning_rate) == pytest.approx(opt["config"]["learning_rate"], rel=1e-6)
    for key in ("beta_1", "beta_2", "rho", "momentum", "epsilon"):
        if key in opt["config"] and key in model.optimizer.get_config():
            assert model.optimizer.get_config()[key] == pytest.approx(opt["config"][key], rel=1e-6), key
    for key in ("nesterov", "amsgrad"):
        if key in opt["config"]:
            assert model.optimizer.get_config()[key] == opt["config"][key]
    loss = tc["loss"]
    if isinstance(loss, str):
        assert model.loss == loss
    elif isinstance(loss, dict) and "class_name" in loss:
        assert type(model.loss).__name__ == loss["class_name"] or getattr(model.loss, "__name__", "") != ""
    if tc.get("loss_weights") is not None:
        lw = tc["loss_weights"]
        assert model.loss_weights == lw
    # the metric names Keras reported, one per metric object of the file
    wanted = []
    for group in (tc.get("metrics") or []) + (tc.get("weighted_metrics") or []):
        for m in (group if isinstance(group, list) else [group]):
            wanted.append(m["config"]["name"] if isinstance(m, dict) else m)
    names = model.metrics_names
    for w in wanted:
        assert any(n == w or n.endswith("_" + w) or w.endswith(n) for n in names), (w, names)


@pytest.mark.parametrize("name", [n for n in FULL if file_attr(n, "training_config") is not None])
def test_optimizer_state_restored(name):
    model = load(name)
    with h5py.File(os.path.join(MORE, name + ".h5"), "r") as f:
        g = f["optimizer_weights"]
        saved = {(n.decode() if isinstance(n, bytes) else str(n)): np.asarray(g[n][()])
                 for n in g.attrs["weight_names"]}
    iteration = [v for k, v in saved.items() if k.split("/")[-1].split(":")[0] in ("iteration", "iter")]
    weights = model.optimizer.get_weights()
    assert int(weights[0]) == int(iteration[0]) > 0
    # every per-parameter array of the file is in keraslite's optimizer state, none left behind
    mine = [w for w in weights[1:] if np.ndim(w) > 0 or np.size(w) > 1]
    theirs = [v for k, v in saved.items() if np.ndim(v) > 0]
    assert len(theirs) > 0
    for v in theirs:
        if any(m.shape == v.shape and np.array_equal(m, v) for m in mine):
            continue
        if name.startswith("locally_connected") and v.ndim in (1, 4, 6):
            # a slot of tf.keras's implementation 2/3 kernel: the same values in keraslite's layout
            # (implementation 2's dense slot adds zeros where no input reaches an output)
            assert any(m.ndim == 3 and m.size <= v.size and np.count_nonzero(v) <= m.size
                       and np.array_equal(np.sort(m.ravel()), np.sort(np.concatenate(
                           [v[v != 0], np.zeros(m.size - np.count_nonzero(v), v.dtype)])))
                       for m in mine), v.shape
            continue
        assert any(m.shape == v.shape and np.array_equal(m, v) for m in mine)


# Training rules where tf.keras differs from Keras 2.3 (keraslite keeps Keras 2.3's; see
# docs/porting.md): activity regularization divided by the batch size; the moving variance of
# BatchNormalization on 2-D inputs updated with the biased batch variance. Weights these reach
# are left out of the comparison.
def _not_comparable(name, model):
    if name == "core_reshape":  # everything before ActivityRegularization
        return {w.name for layer in model.layers[:model.layers.index(model.get_layer("activity_regularization"))]
                for w in layer.weights}
    if name == "init_reg_constraint":
        return {w.name for layer in model.layers if getattr(layer, "activity_regularizer", None) is not None
                for w in layer.weights}
    if name == "frozen_layers":  # a frozen BatchNormalization runs in inference mode in TF 2, which
        # changes what the layers after it see; the frozen layers themselves stay as they were
        return {w.name for layer in model.layers if layer.trainable for w in layer.weights}
    if name == "batchnorm_variants":
        # and the biases right before a BatchNormalization: their gradient is zero up to rounding
        # (the normalization removes any shift), which Adam's normalized step turns into noise
        return {w.name for w in model.weights if "moving_variance" in w.name} | {"dense/bias", "dense_1/bias"}
    return set()


STEPPED = [n for n in FULL if arrays(n, "w") and n not in ("opt_nadam", "temporal_sample_weight")]
assert len(STEPPED) >= 40
# every file steps on the reference backend; a spread of them (every optimizer, convolutions,
# recurrent layers, regularizers) on every backend, which keeps cold compilation time in bounds
ALL_BACKENDS = {n for n in STEPPED if n.startswith("opt_")} | {"conv2d_family", "timedistributed", "init_reg_constraint",
                                                              "conv3d_family", "merges", "sample_weights_bce"}


@pytest.mark.parametrize("name", STEPPED)
def test_one_more_step_matches_tf_keras(name, kbackend):
    if kbackend != "numpy" and name not in ALL_BACKENDS:
        pytest.skip("stepped on the numpy backend only (the spread in ALL_BACKENDS runs on each)")
    model = load(name)
    tw = arrays(name, "tw")
    ty = arrays(name, "ty")
    if name == "output_without_loss":  # Keras 2 takes targets only for the outputs with a loss
        ty = ty[:1]
    model.train_on_batch(one(arrays(name, "tx")), one(ty), sample_weight=one(tw) if tw else None)
    want = arrays(name, "w")
    assert len(model.weights) == len(want)
    skip = _not_comparable(name, model)
    compared = 0
    for w, got, ref in zip(model.weights, model.get_weights(), want):
        if name == "locally_connected" and ref.ndim in (4, 6) and got.ndim == 3:
            # tf.keras's implementation=2 kernel, in keraslite's layout (the conversion load_model
            # uses; test_predict_equals_keras checks it against Keras's outputs)
            from keraslite.legacy.local_weights import local_kernel_converter
            layer = model.get_layer(w.name.split("/")[0])
            ref = local_kernel_converter(layer, [ref.shape], [got.shape])([ref])[0]
        assert got.shape == ref.shape, w.name
        if w.name in skip:
            continue
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=2e-6, err_msg=w.name)
        compared += 1
    assert compared > 0


def test_nadam_2_11_schedule():
    """tf-keras 2.11+'s Nadam uses mu_t = beta_1 (1 - 0.5 * 0.96^t) and does not save the product
    of the mu's (tf-keras itself restarts it at 1 on load, and multiplies it once per variable in
    a step, so its own next step after loading is not a reference). keraslite rebuilds the
    product from the step count: one step follows the rule from the restored m and v."""
    model = load("opt_nadam")
    opt = model.optimizer
    assert opt.get_config()["schedule_decay"] == 1.0
    params = model._collected_trainable_weights
    n = len(params)
    state = opt.get_weights()
    t0 = int(state[0])
    before = [K.get_value(p).astype(np.float64) for p in params]
    ms, vs = [s.astype(np.float64) for s in state[2:2 + n]], [s.astype(np.float64) for s in state[2 + n:]]
    model.train_on_batch(one(arrays("opt_nadam", "tx")), one(arrays("opt_nadam", "ty")))
    after = opt.get_weights()
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-7
    mu = lambda t: b1 * (1 - 0.5 * 0.96 ** t)  # noqa: E731
    t = t0 + 1
    prod_t = np.prod([mu(i) for i in range(1, t + 1)])
    prod_next = prod_t * mu(t + 1)
    for i, p in enumerate(params):
        m1, v1 = after[2 + i].astype(np.float64), after[2 + n + i].astype(np.float64)
        g = (m1 - b1 * ms[i]) / (1 - b1)
        np.testing.assert_allclose(v1, b2 * vs[i] + (1 - b2) * g ** 2, rtol=1e-3, atol=1e-9)
        m_bar = (1 - mu(t)) * g / (1 - prod_t) + mu(t + 1) * m1 / (1 - prod_next)
        want = before[i] - lr * m_bar / (np.sqrt(v1 / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(K.get_value(p), want, rtol=1e-5, atol=1e-6)


def test_temporal_sample_weights_from_tf_keras_files():
    """tf.keras does not save sample_weight_mode: it weighs a sequence output per timestep (2-D
    weights) or per sample (1-D), whichever it is given. A model loaded from its file does the
    same ('temporal', 1-D weights spread over the timesteps) and takes the step tf-keras took; a
    model compiled in keraslite keeps Keras 2.3's rule (2-D weights need the mode)."""
    name = "temporal_sample_weight"
    x, y, w = arrays(name, "tx")[0], arrays(name, "ty")[0], arrays(name, "tw")[0]
    model = load(name)
    assert model.sample_weight_mode == ["temporal"] or model.sample_weight_mode == "temporal"
    model.train_on_batch(x, y, sample_weight=w)
    for v, got, ref in zip(model.weights, model.get_weights(), arrays(name, "w")):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=2e-6, err_msg=v.name)
    per_sample = w[:, 0]
    a, b = load(name), load(name)
    a.train_on_batch(x, y, sample_weight=per_sample)
    b.train_on_batch(x, y, sample_weight=np.repeat(per_sample[:, None], w.shape[1], axis=1))
    for got, ref in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(got, ref)
    again = models.model_from_json(model.to_json())
    again.compile("sgd", "mse")
    before = again.get_weights()
    with pytest.raises(ValueError, match="temporal"):
        again.train_on_batch(x, y, sample_weight=w)
    for p, q in zip(before, again.get_weights()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("name", WEIGHTS_ONLY)
def test_weights_only_by_order_and_by_name(name, kbackend):
    with open(os.path.join(MORE, name + ".json")) as fh:
        text = fh.read()
    x, y = arrays(name, "x")[0], arrays(name, "y")[0]
    path = os.path.join(MORE, name + ".h5")
    model = models.model_from_json(text)
    model.load_weights(path)
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-5, atol=2e-6)
    again = models.model_from_json(text)
    again.load_weights(path, by_name=True)
    np.testing.assert_allclose(again.predict(x), y, rtol=1e-5, atol=2e-6)


def test_weights_only_by_name_into_another_model():
    """by_name fills the layers whose names the file has, whatever the order, and leaves the
    others alone."""
    from keraslite import layers as L
    x, y = arrays("weights_only_functional", "x")[0], arrays("weights_only_functional", "y")[0]
    inp = L.Input((5, 3))
    extra = L.Dense(2, name="not_in_file")(L.Flatten()(inp))
    h = L.Conv1D(4, 2, name="conv")(inp)
    h = L.BatchNormalization(name="bn")(h)
    h = L.LSTM(3, recurrent_activation="sigmoid", name="lstm")(h)  # tf.keras's default
    model = models.Model(inp, [L.Dense(2, name="head")(h), extra])
    before = [w.copy() for w in model.get_layer("not_in_file").get_weights()]
    model.load_weights(os.path.join(MORE, "weights_only_functional.h5"), by_name=True)
    np.testing.assert_allclose(model.predict(x)[0], y, rtol=1e-5, atol=2e-6)
    for a, b in zip(before, model.get_layer("not_in_file").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_full_files_load_weights_into_the_same_architecture():
    """load_weights accepts a full model file: by order into a model built from its config."""
    for name in ("conv2d_family", "bidirectional_modes", "nested_shared"):
        model = load(name, compile=False)
        target = models.model_from_json(model.to_json())
        target.load_weights(os.path.join(MORE, name + ".h5"))
        got = target.predict(one(arrays(name, "x")))
        got = got if isinstance(got, list) else [got]
        for g, w in zip(got, arrays(name, "y")):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)


def test_lambda_bytecode_needs_the_offered_function():
    """The Lambda's function is stored as bytecode: without the function offered it is a clear
    error naming the layer; with it, the layer uses the offered function (no bytecode is run);
    two offered functions that the bytecode both names are refused as ambiguous."""
    path = os.path.join(MORE, "lambda_custom.h5")
    with pytest.raises(ValueError, match="Lambda layer 'lambda'.*bytecode"):
        models.load_model(path)
    model = models.load_model(path, custom_objects={"scale_up": scale_up})
    assert model.get_layer("lambda").function is scale_up

    def other(x):
        return x
    other.__name__ = "scale_up"
    with pytest.raises(ValueError, match="several functions"):
        models.load_model(path, custom_objects={"scale_up": scale_up, "alias": other})


# ---------------------------------------------------------------------------------------------
# the tf.keras update rules the loaded optimizers keep


@pytest.mark.parametrize("cls", ["RMSprop", "Adagrad"])
def test_epsilon_in_sqrt_rule(cls, kbackend):
    """p' = p - lr g / sqrt(a' + eps) with epsilon_in_sqrt=True, p - lr g / (sqrt(a') + eps)
    without; the option survives get_config/from_config."""
    from keraslite import layers as L
    from keraslite import optimizers as O
    rs = np.random.RandomState(3)
    x = rs.standard_normal((4, 3)).astype("float32")
    y = rs.standard_normal((4, 1)).astype("float32")
    kernel = rs.standard_normal((3, 1)).astype("float32") * 1e-3
    results = {}
    for inside in (True, False):
        opt = getattr(O, cls)(learning_rate=0.1, epsilon=1e-2, epsilon_in_sqrt=inside)
        again = getattr(O, cls).from_config(opt.get_config())
        assert again.epsilon_in_sqrt is inside
        model = models.Sequential([L.Dense(1, use_bias=False, input_shape=(3,))])
        model.compile(again, "mse")
        model.set_weights([kernel])
        model.train_on_batch(x, y)
        g = 2.0 * x.T.astype(np.float64) @ (x.astype(np.float64) @ kernel - y) / 4
        a = (0.1 if cls == "RMSprop" else 1.0) * g ** 2  # rho=0.9 for RMSprop, a starts at 0
        denominator = np.sqrt(a + 1e-2) if inside else np.sqrt(a) + 1e-2
        np.testing.assert_allclose(model.get_weights()[0], kernel - 0.1 * g / denominator, rtol=1e-5, atol=1e-7)
        results[inside] = model.get_weights()[0]
    assert np.max(np.abs(results[True] - results[False])) > 1e-4


def test_tf_keras_optimizer_configs_translate_to_their_rules():
    from keraslite.legacy.keras2_compat import translate_training_config

    def opt(class_name, **config):
        return translate_training_config({"loss": "mse", "optimizer_config": {"class_name": class_name,
                                                                            "config": config}})["optimizer_config"]
    new = dict(name="x", is_legacy_optimizer=False, use_ema=False, weight_decay=None, learning_rate=0.01)
    with pytest.warns(UserWarning, match="initial_accumulator_value"):
        assert opt("Custom>Adagrad", initial_accumulator_value=0.1, epsilon=1e-7, **new)["config"]["epsilon_in_sqrt"]
    legacy = opt("Adagrad", name="Adagrad", learning_rate=0.01, decay=0.0, initial_accumulator_value=0.0, epsilon=1e-7)
    assert "epsilon_in_sqrt" not in legacy["config"]  # OptimizerV2's Adagrad: epsilon outside
    assert opt("RMSprop", name="RMSprop", learning_rate=0.01, decay=0.0, rho=0.9, momentum=0.0, epsilon=1e-7,
               centered=False)["config"]["epsilon_in_sqrt"]
    assert opt("RMSprop", lr=0.01, rho=0.9, epsilon=1e-7, decay=0.0)["config"] == \
        {"lr": 0.01, "rho": 0.9, "epsilon": 1e-7, "decay": 0.0}  # Keras 2.3's own: its own rule
    assert opt("Custom>Nadam", beta_1=0.9, beta_2=0.999, epsilon=1e-7, **new)["config"]["schedule_decay"] == 1.0
    assert opt("Nadam", name="Nadam", learning_rate=0.01, decay=0.004, beta_1=0.9, beta_2=0.999,
               epsilon=1e-7)["config"]["schedule_decay"] == 0.004
    assert opt("Nadam", lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7, schedule_decay=0.004)["config"] == \
        {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "schedule_decay": 0.004}


def test_upsampling2d_half_pixel_centres(kbackend):
    """tf.keras's bilinear UpSampling2D (tf.image.resize): output o samples source
    (o + 0.5)/f - 0.5, clamped at the edges, on each axis; gradients flow through it."""
    from keraslite import layers as L
    rs = np.random.RandomState(4)
    x = rs.standard_normal((2, 3, 4, 2)).astype("float32")

    def axis_weights(size, f):
        out = np.zeros((size * f, size))
        for o in range(size * f):
            src = min(max((o + 0.5) / f - 0.5, 0.0), size - 1.0)
            lo = int(np.floor(src))
            hi = min(lo + 1, size - 1)
            out[o, lo] += 1 - (src - lo)
            out[o, hi] += src - lo
        return out
    want = np.einsum("ih,jw,nhwc->nijc", axis_weights(3, 2), axis_weights(4, 3), x.astype(np.float64))
    for data_format in ("channels_last", "channels_first"):
        xin = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
        inp = L.Input(xin.shape[1:])
        layer = L.UpSampling2D((2, 3), data_format=data_format, interpolation="bilinear", half_pixel_centers=True)
        model = models.Model(inp, layer(inp))
        got = model.predict(xin)
        got = got if data_format == "channels_last" else got.transpose(0, 2, 3, 1)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert L.UpSampling2D.from_config(layer.get_config()).half_pixel_centers is True
    # Keras 2.3's rule stays the default
    assert "half_pixel_centers" not in L.UpSampling2D(interpolation="bilinear").get_config()
    # trainable through it: a gradient step changes the Dense after it
    inp = L.Input((3, 4, 2))
    out = L.Dense(1)(L.Flatten()(L.UpSampling2D(2, interpolation="bilinear", half_pixel_centers=True)(inp)))
    model = models.Model(inp, out)
    model.compile("sgd", "mse")
    before = model.get_weights()[0].copy()
    model.train_on_batch(x[..., :2], np.ones((2, 1), "float32"))
    assert not np.allclose(before, model.get_weights()[0])


def test_clipnorm_per_variable_rule():
    """tf.keras's clipnorm scales each gradient to at most the norm on its own; Keras 2.3's scales
    all together by their global norm."""
    from keraslite import layers as L
    from keraslite import optimizers as O
    rs = np.random.RandomState(5)
    x = rs.standard_normal((4, 3)).astype("float32")
    y = (rs.standard_normal((4, 2)) * 5).astype("float32")
    init = [rs.standard_normal((3, 2)).astype("float32"), np.zeros(2, "float32")]
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    gk = 2 * xd.T @ (xd @ init[0] + init[1] - yd) / 8
    gb = 2 * np.sum(xd @ init[0] + init[1] - yd, axis=0) / 8
    for per_variable in (True, False):
        opt = O.SGD(1.0, clipnorm=0.1, clipnorm_per_variable=per_variable)
        assert O.SGD.from_config(opt.get_config()).clipnorm_per_variable is per_variable
        model = models.Sequential([L.Dense(2, input_shape=(3,))])
        model.compile(opt, "mse")
        model.set_weights(init)
        model.train_on_batch(x, y)
        if per_variable:
            want = [init[0] - gk * 0.1 / max(np.linalg.norm(gk), 0.1), init[1] - gb * 0.1 / max(np.linalg.norm(gb), 0.1)]
        else:
            norm = np.sqrt(np.sum(gk ** 2) + np.sum(gb ** 2))
            want = [init[0] - gk * 0.1 / max(norm, 0.1), init[1] - gb * 0.1 / max(norm, 0.1)]
        for got, w in zip(model.get_weights(), want):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)



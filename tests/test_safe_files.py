"""A file names only what it may (issue 12, item 1): hostile names at every entry point that
reads a config are refused with a ValueError naming the layer, function and module, and nothing
they name ever runs; offered objects (custom_objects, scopes, the registry) and keraslite's own
public functions still load; safe_mode=False is the explicit opt-in for imported modules."""
import copy
import json
import os
import shutil
import sys

import h5py
import numpy as np
import pytest

import keraslite
from keraslite import activations, constraints, initializers, layers, losses, metrics, optimizers, regularizers
from keraslite import backend as K
from keraslite import serialization
from keraslite.engine.sequential import Sequential
from keraslite.engine.training import Model
from keraslite.models import load_model, model_from_config, model_from_json, model_from_yaml

ENV = "KERASLITE_TEST_PWNED"


def double_it(x):
    """A module-level function of this (imported) test module: the safe_mode=False case."""
    return x * 2.0


@pytest.fixture(autouse=True)
def _clean_env():
    os.environ.pop(ENV, None)
    yield
    os.environ.pop(ENV, None)
    serialization._disable_unsafe_deserialization()


def _lambda_model(fn=None, **kw):
    fn = fn if fn is not None else K.sum
    return Sequential([layers.Lambda(fn, input_shape=(3,), arguments=kw or {"axis": 1, "keepdims": True})])


def _config_with(module, function, arguments=None, function_type="function"):
    cfg = json.loads(_lambda_model().to_json())
    lc = cfg["config"]["layers"][0]["config"]
    lc.update(module=module, function=function, function_type=function_type, arguments=arguments or {},
              name="evil_lambda")
    return cfg


HOSTILE = [
    ("os", "environ.update", {ENV: "1"}),
    ("os", "putenv", {"name": ENV, "value": "1"}),
    ("os", "system", {"command": "true"}),
    ("sys", "exit", {}),
    ("builtins", "eval", {}),
    ("builtins", "exec", {}),
    ("builtins", "__import__", {}),
    ("subprocess", "call", {}),
    (None, "__import__", {}),
    (None, "exec", {}),
    (None, "open", {}),
    ("keraslite.backend", "os.system", {}),
    ("keraslite.backend.os", "system", {}),
    ("keraslite", "__builtins__", {}),
    ("keraslite.backend", "__class__", {}),
    ("keraslite.backend", "np", {}),
    ("keraslite.saving", "save_model", {}),
    ("keraslite.models", "load_model", {}),
    ("keraslite.backend", "set_floatx", {"value": "float16"}),
    ("keraslite.backend", "set_backend", {}),
    ("keraslite.layers.core", "_resolve_function", {}),
    ("keraslite.utils.generic_utils", "np.save", {}),
    ("keraslite..backend", "sum", {}),
    ("numpy", "save", {}),
    ("keraslite.utils.vis_utils", "plot_model", {"to_file": "/tmp/x.png"}),
    ("keraslite.utils.data_utils", "get_file", {}),
    ("keraslite.callbacks", "CSVLogger", {"filename": "/tmp/x.csv"}),
    ("keraslite.engine.training", "Model", {}),
    ("keraslite.backend", "function", {}),
    ("keraslite.backend", "batch_set_value", {}),
    ("keraslite.backend", "reset_uids", {}),
    ("keraslite.backend.ops.compat", "set_session", {}),
    ("keraslite.backend.registry", "set_backend", {}),
    ("keraslite.applications.resnet50", "ResNet50", {"weights": "imagenet"}),
    ("keraslite.applications.imagenet_utils", "decode_predictions", {}),
    ("keraslite.applications.vgg16", "build_vgg", {}),
    ("keraslite.applications._builder", "make_model", {}),
    (__name__, "double_it", {}),  # imported, but only safe_mode=False may name it
]


def _assert_refused(exc_info, function):
    msg = str(exc_info.value)
    assert "evil_lambda" in msg, msg
    assert repr(function) in msg, msg
    assert "custom_objects" in msg, msg
    assert os.environ.get(ENV) is None
    assert K.floatx() == "float32"


def _save_and_patch(tmp_path, cfg):
    path = str(tmp_path / "m.h5")
    _lambda_model().save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(cfg).encode("utf8")
    return path


def _entry_points(tmp_path):
    """Every public way a config reaches keraslite: name -> callable(config dict)."""
    def layer_cfg(cfg):
        return cfg["config"]["layers"][0]

    points = {
        "model_from_json": lambda cfg: model_from_json(json.dumps(cfg)),
        "model_from_config": lambda cfg: model_from_config(cfg),
        "saving.model_from_config": lambda cfg: keraslite.saving.model_from_config(cfg),
        "Sequential.from_config": lambda cfg: Sequential.from_config(cfg["config"]),
        "layers.deserialize": lambda cfg: layers.deserialize(layer_cfg(cfg)),
        "Lambda.from_config": lambda cfg: layers.Lambda.from_config(layer_cfg(cfg)["config"]),
        "load_model": lambda cfg: load_model(_save_and_patch(tmp_path, cfg)),
        "load_model(compile=False)": lambda cfg: load_model(_save_and_patch(tmp_path, cfg), compile=False),
    }
    try:
        import yaml
    except ImportError:  # pyyaml is in the test extra; without it model_from_yaml cannot run at all
        return points
    points["model_from_yaml"] = lambda cfg: model_from_yaml(yaml.safe_dump(cfg))
    return points


@pytest.mark.parametrize("module,function,arguments", HOSTILE)
def test_hostile_lambda_function_refused_everywhere(tmp_path, module, function, arguments):
    cfg = _config_with(module, function, arguments)
    for name, load in _entry_points(tmp_path).items():
        with pytest.raises(ValueError) as ei:
            load(copy.deepcopy(cfg))
        _assert_refused(ei, function)
        if module is not None:
            assert repr(module) in str(ei.value), (name, str(ei.value))


def test_hostile_function_in_functional_model_and_output_shape():
    inp = layers.Input((3,))
    out = layers.Lambda(K.sum, arguments={"axis": 1, "keepdims": True}, output_shape=(1,), name="evil_lambda")(inp)
    cfg = json.loads(Model(inp, out).to_json())
    lc = next(l for l in cfg["config"]["layers"] if l["class_name"] == "Lambda")["config"]
    lc.update(module="os", function="system", arguments={"command": "true"})
    with pytest.raises(ValueError) as ei:
        Model.from_config(copy.deepcopy(cfg["config"]))
    _assert_refused(ei, "system")
    lc.update(module=None, function="sum", arguments={"axis": 1, "keepdims": True},
              output_shape="exit", output_shape_module="sys", output_shape_type="function")
    with pytest.raises(ValueError) as ei:
        model_from_json(json.dumps(cfg))
    assert "output_shape" in str(ei.value) and "'exit'" in str(ei.value) and "'sys'" in str(ei.value)


@pytest.mark.parametrize("function_type,function", [
    ("lambda", ["4wEAAAAAAAAAAQAAAAQAAABTAAAAcwgAAAB0AHwAgwFTACkBTikB2gNzdW0pAdoBeKkAcgIAAAD6AAAA", None, None]),
    ("lambda", "os.system"),
    ("lambda", "<lambda>"),
    ("function", ["marshalled", "bytes"]),
])
def test_bytecode_and_lambdas_never_run_even_unsafe(tmp_path, function_type, function):
    cfg = _config_with("os", function, {}, function_type=function_type)
    for safe_mode in (None, False):
        with pytest.raises(ValueError) as ei:
            model_from_json(json.dumps(cfg), safe_mode=safe_mode)
        assert "evil_lambda" in str(ei.value)
    path = _save_and_patch(tmp_path, cfg)
    with pytest.raises(ValueError):
        load_model(path, safe_mode=False)


def test_keraslite_public_functions_load_and_compute(tmp_path):
    x = np.arange(6, dtype="float32").reshape(2, 3)
    expected = x.sum(axis=1, keepdims=True)
    model = _lambda_model()
    path = str(tmp_path / "ok.h5")
    model.save(path)
    assert np.allclose(load_model(path).predict(x), expected)
    for module in (None, "keraslite.backend", "keras.backend.tensorflow_backend", "keras.backend"):
        cfg = _config_with(module, "sum", {"axis": 1, "keepdims": True})
        assert np.allclose(model_from_json(json.dumps(cfg)).predict(x), expected), module
    cfg = _config_with("keraslite.activations", "relu", {})
    assert np.allclose(model_from_json(json.dumps(cfg)).predict(x - 2), np.maximum(x - 2, 0))
    for module in (None, "keraslite.backend.autodiff"):
        cfg = _config_with(module, "stop_gradient", {})
        assert np.allclose(model_from_json(json.dumps(cfg)).predict(x), x)
    cfg = _config_with("keraslite.applications.imagenet_utils", "preprocess_input", {"mode": "tf"})
    assert np.allclose(model_from_json(json.dumps(cfg)).predict(x), x / 127.5 - 1.0, atol=1e-6)


def test_offered_functions_load(tmp_path):
    x = np.ones((2, 3), dtype="float32")
    cfg = _config_with(__name__, "double_it", {})
    text = json.dumps(cfg)
    assert np.allclose(model_from_json(text, custom_objects={"double_it": double_it}).predict(x), 2 * x)
    with keraslite.utils.generic_utils.custom_object_scope({"double_it": double_it}):
        assert np.allclose(model_from_json(text).predict(x), 2 * x)
    keraslite.utils.generic_utils.get_custom_objects()["double_it"] = double_it
    try:
        assert np.allclose(model_from_json(text).predict(x), 2 * x)
    finally:
        del keraslite.utils.generic_utils.get_custom_objects()["double_it"]
    with pytest.raises(ValueError):
        model_from_json(text)
    path = _save_and_patch(tmp_path, cfg)
    assert np.allclose(load_model(path, custom_objects={"double_it": double_it}).predict(x), 2 * x)


def test_registered_function_loads():
    x = np.ones((2, 3), dtype="float32")

    @serialization.register_keras_serializable(package="SafeTest", name="triple_it")
    def triple_it(t):
        return t * 3.0

    try:
        cfg = _config_with("somewhere.else", "triple_it", {})
        assert np.allclose(model_from_json(json.dumps(cfg)).predict(x), 3 * x)
        cfg = _config_with(None, "SafeTest>triple_it", {})
        assert np.allclose(model_from_json(json.dumps(cfg)).predict(x), 3 * x)
        assert serialization.get_registered_name(triple_it) == "SafeTest>triple_it"
    finally:
        serialization._REGISTERED.pop("SafeTest>triple_it", None)


def test_safe_mode_false_is_the_opt_in_for_imported_modules(tmp_path):
    x = np.ones((2, 3), dtype="float32")
    cfg = _config_with(__name__, "double_it", {})
    text = json.dumps(cfg)
    with pytest.raises(ValueError) as ei:
        model_from_json(text)
    assert "safe_mode=False" in str(ei.value)
    assert np.allclose(model_from_json(text, safe_mode=False).predict(x), 2 * x)
    assert np.allclose(keraslite.saving.model_from_config(cfg, safe_mode=False).predict(x), 2 * x)
    layer = layers.deserialize(cfg["config"]["layers"][0], safe_mode=False)
    assert np.allclose(K.eval(layer(K.constant(x))), 2 * x)
    path = _save_and_patch(tmp_path, cfg)
    assert np.allclose(load_model(path, safe_mode=False).predict(x), 2 * x)
    with serialization.SafeModeScope(False):
        assert np.allclose(model_from_json(text).predict(x), 2 * x)
    with pytest.raises(ValueError):
        model_from_json(text)  # the scope ended
    serialization.enable_unsafe_deserialization()
    assert np.allclose(model_from_json(text).predict(x), 2 * x)
    with pytest.raises(ValueError):
        model_from_json(text, safe_mode=True)  # an explicit safe_mode wins over the process switch
    serialization._disable_unsafe_deserialization()
    with pytest.raises(ValueError):
        model_from_json(text)
    assert keraslite.config.in_safe_mode()
    keraslite.config.enable_unsafe_deserialization()  # Keras 3's name for the switch
    assert not keraslite.config.in_safe_mode()
    assert np.allclose(model_from_json(text).predict(x), 2 * x)


def test_safe_mode_false_still_refuses_unimported_modules():
    cfg = _config_with("keraslite_not_a_module_xyz", "run", {})
    with pytest.raises(ValueError) as ei:
        model_from_json(json.dumps(cfg), safe_mode=False)
    assert "not imported" in str(ei.value)
    assert "keraslite_not_a_module_xyz" not in sys.modules


# ---------------------------------------------------------------------------------------------
# class names: only keraslite's own and offered ones

HOSTILE_CLASS_NAMES = ["Popen", "system", "eval", "exec", "__import__", "__builtins__", "__class__",
                       "os.system", "subprocess.Popen", "np", "K", "json", "get_instance",
                       "deserialize_keras_object", "CustomObjectScope", "object", "type"]


@pytest.mark.parametrize("name", HOSTILE_CLASS_NAMES)
def test_hostile_class_names_refused_by_every_family(name):
    dict_id = {"class_name": name, "config": {}}
    families = [
        ("layer", lambda: layers.deserialize(dict_id)),
        ("model", lambda: model_from_config(dict_id)),
        ("model json", lambda: model_from_json(json.dumps(dict_id))),
        ("initializer", lambda: initializers.deserialize(dict_id)),
        ("initializer get", lambda: initializers.get(name)),
        ("regularizer", lambda: regularizers.deserialize(dict_id)),
        ("regularizer get", lambda: regularizers.get(name)),
        ("constraint", lambda: constraints.deserialize(dict_id)),
        ("constraint get", lambda: constraints.get(name)),
        ("loss", lambda: losses.deserialize(name)),
        ("loss get", lambda: losses.get(dict_id)),
        ("metric", lambda: metrics.deserialize(name)),
        ("metric get", lambda: metrics.get(dict_id)),
        ("optimizer", lambda: optimizers.deserialize(dict_id)),
        ("optimizer get", lambda: optimizers.get(name)),
        ("activation", lambda: activations.deserialize(name)),
        ("activation get", lambda: activations.get(name)),
    ]
    for family, fn in families:
        with pytest.raises(ValueError) as ei:
            fn()
        assert name in str(ei.value), (family, str(ei.value))


def test_class_name_inside_a_model_config_refused():
    cfg = json.loads(Sequential([layers.Dense(2, input_shape=(3,))]).to_json())
    cfg["config"]["layers"][0]["class_name"] = "Popen"
    with pytest.raises(ValueError, match="Popen"):
        model_from_json(json.dumps(cfg))
    cfg["config"]["layers"][0]["class_name"] = "Dense"
    cfg["config"]["layers"][0]["config"]["kernel_initializer"] = {"class_name": "system", "config": {}}
    with pytest.raises(ValueError, match="system"):
        model_from_json(json.dumps(cfg))
    cfg["config"]["layers"][0]["config"]["kernel_initializer"] = "glorot_uniform"
    cfg["config"]["layers"][0]["config"]["activation"] = "exec"
    with pytest.raises(ValueError, match="exec"):
        model_from_json(json.dumps(cfg))
    cfg["config"]["layers"][0]["config"]["activation"] = "linear"
    cfg["config"]["layers"][0]["config"]["__class__"] = "x"
    with pytest.raises(ValueError, match="__class__"):
        model_from_json(json.dumps(cfg))
    for bad in ([1], {"a": 1}, None, 3):
        cfg["config"]["layers"][0]["class_name"] = bad
        with pytest.raises((ValueError, TypeError)):
            model_from_json(json.dumps(cfg))


def test_training_config_names_are_checked(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])
    path = str(tmp_path / "t.h5")
    model.save(path)
    for key, value in [("loss", "system"), ("metrics", ["eval"]),
                       ("optimizer_config", {"class_name": "Popen", "config": {}}),
                       ("loss", {"class_name": "exit", "config": {}})]:
        bad = str(tmp_path / "bad.h5")
        shutil.copy(path, bad)
        with h5py.File(bad, "r+") as f:
            tc = json.loads(f.attrs["training_config"])
            tc[key] = value
            f.attrs["training_config"] = json.dumps(tc).encode("utf8")
        with pytest.raises(ValueError):
            load_model(bad)


def test_keraslite_exported_classes_resolve():
    init = initializers.deserialize({"class_name": "VarianceScaling",
                                     "config": {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}})
    assert isinstance(init, initializers.VarianceScaling) and init.scale == 2.0
    assert isinstance(layers.deserialize({"class_name": "Dense", "config": {"units": 3}}), layers.Dense)
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    assert losses.get("mse") is losses.mean_squared_error


def test_registered_class_resolves_and_unregistered_is_refused():
    @serialization.register_keras_serializable(package="SafeTest")
    class Halve(layers.Layer):
        def call(self, inputs):
            return inputs * 0.5

    try:
        cfg = {"class_name": "Halve", "config": {"name": "h"}}
        assert isinstance(layers.deserialize(cfg), Halve)
        assert isinstance(layers.deserialize({"class_name": "SafeTest>Halve", "config": {"name": "h2"}}), Halve)
    finally:
        serialization._REGISTERED.pop("SafeTest>Halve", None)
    with pytest.raises(ValueError, match="Halve"):
        layers.deserialize(cfg)
    with pytest.raises(ValueError):
        serialization.register_keras_serializable(package="a>b")


def test_yaml_python_tags_never_build_objects(tmp_path):
    pytest.importorskip("yaml")
    marker = tmp_path / "ran"
    for text in (f"!!python/object/apply:os.system ['touch {marker}']",
                 f"class_name: !!python/object/apply:os.system ['touch {marker}']\nconfig: {{}}",
                 "!!python/name:os.system"):
        with pytest.raises(ValueError):
            model_from_yaml(text)
    assert not marker.exists()

"""keraslite.serialization's table of layer classes: what layer configs may name without the
deserialiser importing keraslite.layers or the engine (no import cycle, tests/test_structure.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from keraslite import layers, serialization
from keraslite.engine.sequential import Sequential
from keraslite.engine.training import Model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_table_holds_every_layer_and_the_model_classes():
    for name, cls in layers._LAYER_CLASSES.items():
        assert serialization.layer_class(name) is cls
    assert serialization.layer_class("Model") is Model
    assert serialization.layer_class("Sequential") is Sequential
    assert serialization.layer_class("NoSuchLayer") is None
    assert layers.deserialize is not serialization.deserialize_layer  # the public one stays in layers


def test_only_keraslite_classes_are_registered():
    class Foreign(layers.Layer):
        pass

    before = dict(serialization._LAYER_CLASSES)
    with pytest.raises(ValueError, match="only keraslite's own layer classes"):
        serialization._register_layer_classes({"Foreign": Foreign})
    with pytest.raises(ValueError, match="only keraslite's own layer classes"):
        serialization._register_layer_classes({"len": len})
    assert serialization._LAYER_CLASSES == before
    with pytest.raises(ValueError, match="Unknown layer: Foreign"):
        serialization.deserialize_layer({"class_name": "Foreign", "config": {}})
    got = serialization.deserialize_layer({"class_name": "Foreign", "config": {"name": "f"}},
                                          custom_objects={"Foreign": Foreign})
    assert isinstance(got, Foreign) and got.name == "f"


def test_nested_configs_round_trip_through_the_table():
    inner = layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="concat", input_shape=(4, 2))
    model = Sequential([inner, layers.TimeDistributed(layers.Dense(2))])
    assert model.output_shape == (None, 4, 2)
    cfg = serialization.serialize_layer(model)
    assert cfg["class_name"] == "Sequential"
    again = serialization.deserialize_layer(json.loads(json.dumps(cfg)))
    assert isinstance(again, Sequential)
    kinds = [type(layer).__name__ for layer in again.layers]
    assert kinds == ["Bidirectional", "TimeDistributed"]
    assert type(again.layers[0].forward_layer).__name__ == "LSTM"
    assert again.layers[0].forward_layer.units == 3
    assert again.output_shape == (None, 4, 2)


def test_model_classes_resolve_without_importing_layers_first():
    # a fresh interpreter: the engine alone (or saving alone) must leave the table complete
    code = (
        "import json, sys\n"
        "from keraslite.engine.sequential import Sequential\n"
        "cfg = {'name': 's', 'layers': [{'class_name': 'Dense', 'config': {'units': 2, 'batch_input_shape': [None, 3]}}]}\n"
        "m = Sequential.from_config(cfg)\n"
        "assert type(m.layers[0]).__name__ == 'Dense', m.layers\n"
        "from keraslite.saving import model_from_json\n"
        "m2 = model_from_json(json.dumps({'class_name': 'Sequential', 'config': cfg}))\n"
        "assert type(m2).__name__ == 'Sequential' and m2.output_shape == (None, 2)\n"
        "print('ok')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "backends"), env.get("PYTHONPATH", "")])
    env["KERASLITE_BACKEND"] = "numpy"  # nothing is computed: building the model is enough
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]

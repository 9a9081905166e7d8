"""examples/tutorial.py, the seed tutorial's code section by section (typos mended), runs to the
end on the default backend and prints what the tutorial promises."""
import sys
from pathlib import Path

import pytest

import keraslite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import tutorial  # noqa: E402


@pytest.fixture(autouse=True)
def default_backend():
    with keraslite.use_backend("numba"):
        yield


def test_sections_1_to_4(capsys):
    resnet = tutorial.part1_models()
    assert resnet.name == "Resnet50" and resnet.output_shape == (None, 6)
    model, x, y = tutorial.part2_compile_fit()
    assert model.metrics_names == ["loss", "accuracy", "mean_pred"]
    tutorial.part3_evaluate(model, x, y)
    tutorial.part4_layer_rules()
    out = capsys.readouterr().out
    assert "sequential output shape: (16, 2, 1)" in out
    assert "incremental model output shape: (None, 3)" in out
    assert "config round trip: True" in out
    assert "single node: (None, 16) (None, 32) True True" in out
    assert "two nodes: (None, 16) (None, 32) True True" in out


def test_section_5_convnet(capsys):
    model = tutorial.part5_convnet(epochs=1)
    out = capsys.readouterr().out
    assert "Total params: 51,146" in out and "Non-trainable params: 192" in out
    assert "Epoch 1/1" in out and "1000/1000 [==============================]" in out
    assert model.get_layer("bn_conv1").get_weights()[2].any()  # moving mean moved


def test_sections_6_to_8(capsys):
    tutorial.part6_layers()
    tutorial.part7_channels_first()
    tutorial.part8_backend()
    out = capsys.readouterr().out
    assert "Dense on 3-D input: (None, 32, 32, 16)" in out
    assert "after Flatten: (None, 16384)" in out
    assert "channels_first conv/pool shape: (None, 4, 7, 7)" in out
    assert "is_keras_tensor: False True True" in out

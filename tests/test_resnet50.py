"""The tutorial's functional ResNet50 (64x64x3, 6 classes): Keras 2's parameter counts, shapes,
layer bookkeeping, and a forward pass whose softmax head agrees with NumPy."""
import sys
from pathlib import Path

import numpy as np
import pytest

from keraslite import backend as K

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from resnet50 import ResNet50  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")


@pytest.fixture(scope="module")
def model():
    K.clear_session()
    return ResNet50(input_shape=(64, 64, 3), classes=6)


def test_parameter_counts_match_keras(model):
    assert model.count_params() == 23_600_006
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 23_546_886
    assert model.output_shape == (None, 6)
    assert len(model.layers) == 177  # Keras 2: InputLayer + 176 layers
    assert model.get_layer("avg_pool").output_shape == (None, 1, 1, 2048)
    assert model.get_layer("res5c_branch2c").output_shape == (None, 2, 2, 2048)


def test_summary_lists_connections(model):
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Total params: 23,600,006" in text and "Non-trainable params: 53,120" in text
    assert "res2a_branch2a[0][0]" in text and len(lines[2]) == 98


def test_forward_agrees_with_layer_by_layer_replay(model, kbackend):
    if kbackend == "numpy":
        pytest.skip("the reference backend is too slow for a whole ResNet50 forward; numba covers it")
    x = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    pred = model.predict(x)
    assert pred.shape == (2, 6)
    np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-5)
    # the classifier head recomputed in NumPy from the features the graph feeds it
    head = K.function([model.inputs[0]], [model.get_layer("fc6").input])
    features = head([x])[0]
    w, b = model.get_layer("fc6").get_weights()
    logits = features.astype(np.float64) @ w + b
    want = np.exp(logits - logits.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(pred, want, rtol=1e-4, atol=1e-6)

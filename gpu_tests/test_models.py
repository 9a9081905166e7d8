"""Whole models on cuda against numba on the same weights: the tutorial convnet and ResNet50
(forward and one training step), device memory across epochs, and plan reuse in fit."""
import sys
from pathlib import Path

import numpy as np
import pytest

import keraslite
from keraslite import backend as K

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from resnet50 import ResNet50  # noqa: E402
from tutorial import convmodel  # noqa: E402


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


def _predict_on(backend, model, x):
    with keraslite.use_backend(backend):
        model.predict_function = None
        return model.predict(x, batch_size=len(x))


def _train_step_on(backend, build, weights, x, y, loss):
    with keraslite.use_backend(backend):
        K.clear_session()
        model = build()
        model.set_weights(weights)
        model.compile(optimizer=keraslite.optimizers.SGD(lr=0.01), loss=loss)
        model.train_on_batch(x, y)
        return model.get_weights()


@pytest.mark.parametrize("build,shape,classes", [(convmodel, (32, 32, 3), 10), (ResNet50, (64, 64, 3), 6)],
                         ids=["convmodel", "resnet50"])
def test_forward_and_training_step_agree_with_numba(build, shape, classes):
    rng = np.random.default_rng(0)
    batch = 64 if build is ResNet50 else 50
    x = rng.normal(size=(batch,) + shape).astype("float32")
    y = np.eye(classes, dtype="float32")[rng.integers(classes, size=batch)]
    K.clear_session()
    model = build()
    weights = model.get_weights()
    cpu = _predict_on("numba", model, x)
    gpu = _predict_on("cuda", model, x)
    assert _rel(gpu, cpu) < 1e-4
    w_cpu = _train_step_on("numba", build, weights, x, y, "categorical_crossentropy")
    w_gpu = _train_step_on("cuda", build, weights, x, y, "categorical_crossentropy")
    for a, b in zip(w_gpu, w_cpu):
        assert _rel(a, b) < 1e-3


def test_device_memory_does_not_grow_across_epochs():
    import cupy
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2048, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(10, size=2048)]
    pool = cupy.get_default_memory_pool()
    with keraslite.use_backend("cuda"):
        K.clear_session()
        model = convmodel()
        model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        after_one = pool.used_bytes()
        model.fit(x, y, batch_size=64, epochs=2, verbose=0)
        assert pool.used_bytes() <= after_one + (1 << 20)


def test_fit_builds_one_plan_per_batch_shape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(10, size=200)]
    with keraslite.use_backend("cuda"):
        K.clear_session()
        model = convmodel()
        model.compile("sgd", "categorical_crossentropy")
        model.fit(x, y, batch_size=50, epochs=1, verbose=0)
        plans = len(model.train_function._plans)
        model.fit(x, y, batch_size=50, epochs=2, verbose=0)
        assert len(model.train_function._plans) == plans == 1

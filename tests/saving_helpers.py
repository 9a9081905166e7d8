"""Shared helpers of the tests/test_saving*.py modules: stand-ins for layers and models (what saving
reads of them) and weight comparisons.
"""

import numpy as np
import pytest

h5py = pytest.importorskip("h5py", reason="saving needs h5py (pip install keraslite[test])")

from keraslite import backend as K  # noqa: E402


# ---------------------------------------------------------------------------------------------
# stand-ins for layers and models: what saving reads is `model.layers`, `layer.name`,
# `layer.weights` (backend variables) and, for save_model, `get_config` and `optimizer`

class FakeLayer:
    def __init__(self, name, shapes=(), seed=0, cls_name=None, weight_names=None):
        self.name = name
        rng = np.random.default_rng(seed)
        names = weight_names or ["kernel", "bias", "gamma", "beta"][:len(shapes)]
        self.weights = [K.variable(rng.normal(size=s).astype("float32"), name=f"{name}/{n}")
                        for s, n in zip(shapes, names)]
        if cls_name:
            self.__class__ = type(cls_name, (FakeLayer,), {})

    def get_weights(self):
        return K.batch_get_value(self.weights)


class FakeModel:
    def __init__(self, layers):
        self.layers = layers
        self.optimizer = None

    def get_weights(self):
        return [v for l in self.layers for v in l.get_weights()]

    def get_config(self):
        return {"name": "fake", "layers": [l.name for l in self.layers]}


def dense_model(seed=0, units=(3, 2), input_dim=4, names=("dense_1", "dense_2")):
    layers, prev = [FakeLayer("input_1")], input_dim
    for i, (u, n) in enumerate(zip(units, names)):
        layers.append(FakeLayer(n, [(prev, u), (u,)], seed=seed + i))
        prev = u
    return FakeModel(layers)


def assert_weights_equal(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    for x, y in zip(model.get_weights(), before):
        np.testing.assert_array_equal(x, y)


def attr_strings(values):
    return [v.decode("utf8") if isinstance(v, (bytes, np.bytes_)) else str(v) for v in values]

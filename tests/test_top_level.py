"""Keras 2.3's top-level names (`keras.Input`, `keras.Model`, `keras.Sequential`) and the promise
that `import keraslite` stays cheap: they load on first use."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROBE = r"""
import json, sys
import keraslite
first = sorted(m for m in sys.modules if m.split('.')[0] in ('keraslite', 'numba', 'h5py', 'scipy')
               or m.startswith('keraslite_'))
names = {n: hasattr(keraslite, n) for n in ('Input', 'Model', 'Sequential')}
after = sorted(m for m in sys.modules if m.startswith('keraslite.engine'))
print(json.dumps({'first': first, 'names': names, 'after': after}))
"""


def _probe():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, os.path.join(ROOT, "backends"), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_keraslite_is_cheap_and_names_are_lazy():
    report = _probe()
    loaded = report["first"]
    # nothing of the model machinery, no compiler, no HDF5 at import time
    for heavy in ("keraslite.engine", "keraslite.layers", "keraslite.models", "keraslite.saving",
                  "keraslite.datasets", "numba", "h5py", "keraslite_numba"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in loaded), (heavy, loaded)
    assert report["names"] == {"Input": True, "Model": True, "Sequential": True}
    assert "keraslite.engine.training" in report["after"]


def test_top_level_names_are_the_keras_classes():
    import keraslite
    from keraslite import layers, models
    assert keraslite.Model is models.Model
    assert keraslite.Sequential is models.Sequential
    assert keraslite.Input is layers.Input
    assert {"Input", "Model", "Sequential", "datasets"} <= set(dir(keraslite))


def test_top_level_names_build_and_run_a_model():
    import keraslite as keras
    rng = np.random.default_rng(0)
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(2, use_bias=False)(inputs)
    model = keras.Model(inputs, outputs)
    x = rng.standard_normal((4, 3)).astype("float32")
    kernel = model.get_weights()[0]
    np.testing.assert_allclose(model.predict(x), x @ kernel, rtol=1e-5, atol=1e-6)
    seq = keras.Sequential([keras.layers.Dense(2, input_shape=(3,), use_bias=False)])
    np.testing.assert_allclose(seq.predict(x), x @ seq.get_weights()[0], rtol=1e-5, atol=1e-6)


def test_unknown_attribute_is_attribute_error():
    import keraslite
    assert not hasattr(keraslite, "NoSuchThing")
    with pytest.raises(AttributeError, match="NoSuchThing"):
        keraslite.NoSuchThing


def test_every_public_module_has_an_api_page():
    """docs/api holds a page (a `::: module` directive listed in mkdocs.yml) for every public
    subpackage and module of keraslite, so the built API reference covers them all."""
    import importlib
    import pkgutil

    import keraslite
    docs = os.path.join(ROOT, "docs", "api")
    if not os.path.isdir(docs):
        pytest.skip("no docs/ folder (an installed copy without the repository)")
    documented = set()
    pages = []
    for folder, _, files in os.walk(docs):
        for name in files:
            if name.endswith(".md"):
                pages.append(os.path.relpath(os.path.join(folder, name), os.path.join(ROOT, "docs")))
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    documented |= {line.split()[1] for line in handle if line.startswith("::: ")}
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as handle:
        nav = handle.read()
    assert [p for p in pages if p not in nav] == []
    expected = set()
    for name in keraslite._SUBMODULES:
        try:
            module = importlib.import_module("keraslite." + name)
        except ModuleNotFoundError:
            continue
        expected.add(module.__name__)
        if name in ("layers", "utils", "preprocessing", "datasets", "applications", "wrappers"):
            expected |= {f"{module.__name__}.{m.name}" for m in pkgutil.iter_modules(module.__path__)
                         if not m.name.startswith("_")}
    assert sorted(expected - documented) == []

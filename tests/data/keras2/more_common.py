"""Shared by make_files.py and its case module more_cases.py (never run by the tests): the
TensorFlow imports, the output folder, the case registry, how one case's files are written, and
the helpers the cases use (make_wide_files.py's wide_common.py reuses the input and target
makers)."""
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401  (make_files.py prints its version)
import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "more")
os.makedirs(OUT, exist_ok=True)


def scale_up(x):  # the custom function behind the Lambda cases
    return x * 2.0 + 1.0


CASES = {}


def case(name, *, train=True, step=True, int_inputs=(), targets="reg", sample_weight=None, n=6, step_n=5):
    """targets: per output 'reg' | 'cat' | 'bin' | 'sparse' | 'int'; int_inputs: {index: vocab}."""
    def deco(fn):
        CASES[name] = dict(fn=fn, train=train, step=step, int_inputs=dict(int_inputs), targets=targets,
                           sample_weight=sample_weight, n=n, step_n=step_n)
        return fn
    return deco


def _inputs(model, rs, n, int_inputs):
    xs = []
    for i, t in enumerate(model.inputs):
        shape = (n,) + tuple(7 if d is None else d for d in t.shape[1:])
        if i in int_inputs:
            x = rs.randint(0, int_inputs[i], shape).astype("int32")
            x[:, :1] = 0 if shape[-1] > 3 else x[:, :1]  # some padding for mask_zero
        else:
            x = rs.standard_normal(shape).astype("float32")
        xs.append(x)
    return xs


def _targets(model, rs, n, kinds):
    ys = []
    if isinstance(kinds, dict):
        kinds = [kinds[name] for name in model.output_names]
    kinds = kinds if isinstance(kinds, (list, tuple)) else [kinds] * len(model.outputs)
    for t, kind in zip(model.outputs, kinds):
        shape = (n,) + tuple(t.shape[1:])
        if kind == "cat":
            y = np.eye(shape[-1], dtype="float32")[rs.randint(0, shape[-1], shape[:-1])]
        elif kind == "bin":
            y = rs.randint(0, 2, shape).astype("float32")
        elif kind == "sparse":
            y = rs.randint(0, shape[-1], shape[:-1] + (1,)).astype("float32")
        else:
            y = rs.standard_normal(shape).astype("float32")
        ys.append(y)
    return ys


def _one(v):
    return v[0] if len(v) == 1 else v


def make(name, spec):
    keras.backend.clear_session()
    keras.utils.set_random_seed(abs(hash(name)) % 1000)
    rs = np.random.RandomState(len(name))
    model = spec["fn"]()
    out = {}
    x = _inputs(model, rs, spec["n"], spec["int_inputs"])
    if spec["train"] and model.optimizer is not None:
        xt = _inputs(model, rs, 8, spec["int_inputs"])
        yt = _targets(model, rs, 8, spec["targets"])
        sw = spec["sample_weight"](rs, 8) if spec["sample_weight"] else None
        model.fit(_one(xt), _one(yt), sample_weight=sw, batch_size=4, epochs=2, verbose=0, shuffle=False)
    path = os.path.join(OUT, name + ".h5")
    if name.startswith("weights_only"):
        model.save_weights(path)
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            fh.write(model.to_json())
    else:
        model.save(path, include_optimizer=not getattr(model, "save_no_optimizer", False))
    y = model.predict(_one(x), verbose=0)
    y = y if isinstance(y, list) else [y]
    out.update({f"x{i}": v for i, v in enumerate(x)})
    out.update({f"y{i}": np.asarray(v, "float32") for i, v in enumerate(y)})
    if spec["train"] and spec["step"] and model.optimizer is not None:
        tx = _inputs(model, rs, spec["step_n"], spec["int_inputs"])
        ty = _targets(model, rs, spec["step_n"], spec["targets"])
        tw = spec["sample_weight"](rs, spec["step_n"]) if spec["sample_weight"] else None
        # the step is taken by a model loaded from the file, as keraslite's will be
        again = keras.models.load_model(path, custom_objects={"scale_up": scale_up})
        again.train_on_batch(_one(tx), _one(ty), sample_weight=tw)
        out.update({f"tx{i}": v for i, v in enumerate(tx)})
        out.update({f"ty{i}": v for i, v in enumerate(ty)})
        if tw is not None:
            tw = tw if isinstance(tw, (list, tuple)) else [tw]
            out.update({f"tw{i}": np.asarray(v, "float32") for i, v in enumerate(tw)})
        out.update({f"w{i}": np.asarray(v) for i, v in enumerate(again.get_weights())})
    np.savez_compressed(os.path.join(OUT, name + ".expected.npz"), **out)


def mlp(optimizer, loss="mse", metrics=("mae",), targets=None):
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(2)])
    model.compile(optimizer, loss, metrics=list(metrics))
    return model

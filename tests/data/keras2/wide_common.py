"""Shared by make_wide_files.py and its case modules (never run by the tests): the TensorFlow
imports, the output folder, the case registry and how one case's files are written."""
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
_argv, sys.argv = sys.argv, sys.argv[:1]  # more_common reads its own argv (its default folder exists)
try:
    import more_common as base  # noqa: E402,F401
finally:
    sys.argv = _argv

OUT = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].isidentifier() else \
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "wide")
os.makedirs(OUT, exist_ok=True)
CASES = {}
I, R, C, O, M = keras.initializers, keras.regularizers, keras.constraints, keras.optimizers, keras.metrics


def case(name, *, train=True, step=True, int_inputs=(), targets="reg", sample_weight=None, n=6, step_n=5,
         fit_batch=4, stateful=False, include_optimizer=True, target=None):
    def deco(fn):
        CASES[name] = dict(fn=fn, train=train, step=step, int_inputs=dict(int_inputs), targets=targets,
                           sample_weight=sample_weight, n=n, step_n=step_n, fit_batch=fit_batch,
                           stateful=stateful, include_optimizer=include_optimizer, target=target)
        return fn
    return deco


def make(name, spec):
    keras.backend.clear_session()
    keras.utils.set_random_seed(sum(map(ord, name)) % 1000)
    rs = np.random.RandomState(len(name))
    model = spec["fn"]()
    out = {}
    x = base._inputs(model, rs, spec["n"], spec["int_inputs"])
    if spec["train"] and model.optimizer is not None:
        xt = base._inputs(model, rs, 8, spec["int_inputs"])
        yt = base._targets(model, rs, 8, spec["targets"])
        sw = spec["sample_weight"](rs, 8) if spec["sample_weight"] else None
        model.fit(base._one(xt), base._one(yt), sample_weight=sw, batch_size=spec["fit_batch"], epochs=2, verbose=0,
                  shuffle=False)
    if spec["stateful"]:
        model.reset_states()  # a loaded model starts from zero states: so does the reference
    path = os.path.join(OUT, name + ".h5")
    if name.startswith("weights_only"):
        model.save_weights(path)
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            fh.write(model.to_json())
        if spec["target"] is not None:
            keras.backend.clear_session()
            with open(os.path.join(OUT, name + ".target.json"), "w") as fh:
                fh.write(spec["target"]().to_json())
    else:
        model.save(path, include_optimizer=spec["include_optimizer"])
    y = model.predict(base._one(x), verbose=0, batch_size=spec["n"] if spec["stateful"] else None)
    y = y if isinstance(y, list) else [y]
    out.update({f"x{i}": v for i, v in enumerate(x)})
    out.update({f"y{i}": np.asarray(v, "float32") for i, v in enumerate(y)})
    if spec["train"] and spec["step"] and model.optimizer is not None and spec["include_optimizer"]:
        tx = base._inputs(model, rs, spec["step_n"], spec["int_inputs"])
        ty = base._targets(model, rs, spec["step_n"], spec["targets"])
        tw = spec["sample_weight"](rs, spec["step_n"]) if spec["sample_weight"] else None
        again = keras.models.load_model(path)
        # loss and metrics of the loaded model on this batch, before the step (names alongside)
        ev = again.evaluate(base._one(tx), base._one(ty), sample_weight=tw, verbose=0,
                            batch_size=spec["step_n"])
        out["ev"] = np.asarray(ev if isinstance(ev, list) else [ev], "float64")
        out["ev_names"] = np.asarray(again.metrics_names, dtype=str)
        if spec["stateful"]:
            again.reset_states()  # the step starts from zero states, as a freshly loaded model does
        again.train_on_batch(base._one(tx), base._one(ty), sample_weight=tw)
        out.update({f"tx{i}": v for i, v in enumerate(tx)})
        out.update({f"ty{i}": v for i, v in enumerate(ty)})
        if tw is not None:
            out["tw0"] = np.asarray(tw, "float32")
        out.update({f"w{i}": np.asarray(v) for i, v in enumerate(again.get_weights())})
    np.savez_compressed(os.path.join(OUT, name + ".expected.npz"), **out)


def small(opt, loss="mse", metrics=("mae",), width=3, act="linear"):
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(width, activation=act)])
    model.compile(opt, loss, metrics=list(metrics))
    return model


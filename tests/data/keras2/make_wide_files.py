"""How the files in tests/data/keras2/wide/ were made (never run by the tests).

The second, wider set after make_files.py (same environment, same per-file layout; read that
file's docstring): every layer class Keras 2.3 and tf-keras share with its flags one by one,
channels_first, stateful recurrent layers, every optimizer's state (legacy ones too), every loss
and metric name, multi-input/multi-output models, weights-only files for by_name/skip_mismatch,
models saved without their optimizer, and files holding tf.keras-only options (which keraslite
refuses with a clear error).

    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python tests/data/keras2/make_wide_files.py [OUT_DIR] [NAME ...]

(the environment of make_files.py: tensorflow-cpu==2.21.0 and tf-keras==2.21.0).

The cases are in wide_cases_training.py (optimizers, losses, metrics, weights-only) and
wide_cases_layers.py (layers, model shapes); wide_common.py writes one case's files.

Extra keys in NAME.expected.npz: `ev` (the loss and metrics `evaluate` gave on tx/ty, the
loaded model, before the step) and `ev_names` (tf-keras's metrics_names for them). Weights-only
cases write NAME.h5 (save_weights) and NAME.json; `weights_only_skip_mismatch` also writes
NAME.target.json, a model with the same layer names where some shapes differ (for
load_weights(by_name=True, skip_mismatch=True)).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wide_common import CASES, keras, make, tf  # noqa: E402
import wide_cases_training  # noqa: E402,F401  (each registers its cases)
import wide_cases_layers  # noqa: E402,F401


if __name__ == "__main__":
    only = set(a for a in sys.argv[1:] if a.isidentifier())
    print("tensorflow", tf.__version__, "tf_keras", keras.__version__)
    for _name, _spec in CASES.items():
        if only and _name not in only:
            continue
        try:
            make(_name, _spec)
            print("ok", _name, flush=True)
        except Exception as e:  # report and go on: one case must not hide the others
            print("FAILED", _name, type(e).__name__, str(e)[:300], flush=True)

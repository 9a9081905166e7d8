"""How the files in tests/data/keras2/more/ were made (never run by the tests).

Run with TensorFlow and tf-keras (Keras 2's last line) installed in a separate environment:

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python tests/data/keras2/make_files.py tests/data/keras2/more [NAME ...]

For each case NAME it writes NAME.h5 (model.save, HDF5) and NAME.expected.npz with
  x0, x1, ...   inputs given to predict;   y0, y1, ...  Keras's predict outputs (float32);
  and, where the model is compiled and its training step is deterministic (no dropout/noise):
  tx*, ty*, tw*   one batch (inputs, targets, sample weights) for train_on_batch after loading;
  w0, w1, ...   get_weights() after that one step, taken in tf-keras by a model loaded from NAME.h5.
Weights-only cases write NAME.h5 (save_weights) + NAME.json (to_json) instead of a full model.

The cases are in more_cases.py; more_common.py holds the TensorFlow imports, the output folder,
the case registry and how one case's files are written.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from more_common import CASES, keras, make, tf  # noqa: E402
import more_cases  # noqa: E402,F401  (registers its cases)


if __name__ == "__main__":
    only = set(sys.argv[2:])
    print("tensorflow", tf.__version__, "tf_keras", keras.__version__)
    for _name, _spec in CASES.items():
        if only and _name not in only:
            continue
        try:
            make(_name, _spec)
            print("ok", _name)
        except Exception as e:  # report and go on: one case must not hide the others
            print("FAILED", _name, type(e).__name__, str(e)[:300])

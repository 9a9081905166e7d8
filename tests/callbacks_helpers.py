"""Shared helpers of the tests/test_callbacks*.py modules: a fake model and optimizer and a
stand-in for Keras 2's fit loop that drives callbacks without the engine.
"""

import numpy as np

from keraslite import backend as K
from keraslite import callbacks as cbks


# ---------------------------------------------------------------------------------------------
# a fake model and a stand-in for Keras 2's fit loop

class FakeOptimizer:
    def __init__(self, lr=0.01):
        self.lr = K.variable(lr, name="lr")


class FakeModel:
    """Offers what callbacks use: stop_training, optimizer.lr, get/set_weights, save, save_weights."""

    def __init__(self, lr=0.01):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self._weights = [np.zeros((2, 2), "float32"), np.zeros(2, "float32")]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        self._weights = [np.array(w) for w in weights]

    def save(self, filepath, overwrite=True):
        self.saved.append(("model", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("model")

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", filepath, overwrite))
        with open(filepath, "w") as f:
            f.write("weights")


def run_fit(model, callbacks, epoch_logs, batch_logs=None, batch_sizes=(4, 4, 2), verbose=0,
            count_mode="samples", on_epoch=None, keys=("loss",)):
    """Drive callbacks as Keras 2's fit_loop does. epoch_logs[e]: the val_* dict of epoch e;
    batch_logs(e, i): the batch metrics (default: loss = e + i/10). on_epoch(model, e) runs
    before each epoch (e.g. to change the fake weights)."""
    if batch_logs is None:
        def batch_logs(e, i):
            return {"loss": e + i / 10.0}
    history = cbks.History()
    model.history = history
    base = [cbks.BaseLogger()]
    if verbose:
        base.append(cbks.ProgbarLogger(count_mode=count_mode))
    cl = cbks.CallbackList(base + list(callbacks) + [history])
    cl.set_model(model)
    keys = list(keys)
    val_keys = sorted(set(epoch_logs[0])) if epoch_logs else []
    cl.set_params({"batch_size": max(batch_sizes), "epochs": len(epoch_logs), "steps": len(batch_sizes),
                   "samples": int(sum(batch_sizes)), "verbose": verbose, "do_validation": bool(val_keys),
                   "metrics": keys + val_keys})
    model.stop_training = False
    cl.on_train_begin()
    for epoch in range(len(epoch_logs)):
        if on_epoch is not None:
            on_epoch(model, epoch)
        cl.on_epoch_begin(epoch)
        for i, n in enumerate(batch_sizes):
            logs = {"batch": i, "size": n}
            cl.on_batch_begin(i, logs)
            logs.update(batch_logs(epoch, i))
            cl.on_batch_end(i, logs)
            if model.stop_training:
                break
        logs = dict(epoch_logs[epoch])
        cl.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cl.on_train_end()
    return history


def val_losses(*values):
    return [{"val_loss": v} for v in values]

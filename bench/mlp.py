"""MLP 784-512-512-10 (relu, relu, softmax), Adam (lr 1e-3, eps 1e-7), categorical cross-entropy,
batch 128.

Training samples/s is the median of epochs 2-5 of one fit(); predict samples/s the median of 9
predict() calls after a warm-up call. Contenders: keraslite on each usable backend (numpy only
when asked), PyTorch eager (and on CUDA where a device answers), Keras 3 on jax; each in its own
fresh process, alternating.

Run: python bench/mlp.py [--rounds 3] [--quick] [--threads N] [--backends numba,numpy]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, main_for  # noqa: E402


def config(quick: bool) -> dict:
    if quick:
        return {"n": 1024, "batch": 128, "epochs": 2, "predict_repeats": 1}
    return {"n": 20000, "batch": 128, "epochs": 5, "predict_repeats": 9}


def data(n: int):
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(10, size=n)


def torch_mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def keraslite_mlp():
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    return Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                       Dense(10, activation="softmax")])


def keras3_mlp(keras):
    L = keras.layers
    return keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"), L.Dense(512, activation="relu"),
                             L.Dense(10, activation="softmax")])


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: train for cfg['epochs'] epochs and predict; samples/s."""
    import _frameworks as fw
    x, labels = data(cfg["n"])
    return fw.fit_workload(contender, cfg, probe, x, labels, 10, "adam", torch_mlp, keraslite_mlp, keras3_mlp,
                           torch_layout="nchw")


WORKLOAD = Workload(
    name="mlp", module="mlp",
    title=lambda c: (f"MLP 784-512-512-10, Adam, {c['n']} samples, batch {c['batch']}; train = median of "
                     f"epochs 2-{c['epochs']}"),
    metrics=[Metric("train_sps", "train samples/s"), Metric("predict_sps", "predict samples/s"),
             Metric("first_epoch_s", "first epoch s", higher_is_better=False, digits=2)],
    config=config, peers=("torch", "torch-cuda", "keras3-jax"))


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

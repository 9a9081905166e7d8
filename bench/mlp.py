"""MLP 784-512-512-10 (relu, relu, softmax), Adam (lr 1e-3, eps 1e-7), categorical cross-entropy,
batch 128.

Training samples/s is the median of epochs 2-5 of one fit(); predict samples/s the median of 3
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
    return {"n": 20000, "batch": 128, "epochs": 5, "predict_repeats": 3}


def data(n: int):
    rng = np.random.default_rng(0)
    return rng.random((n, 784), dtype=np.float32), rng.integers(10, size=n)


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: train for cfg['epochs'] epochs and predict; samples/s."""
    import _frameworks as fw
    family, variant = fw.parse(contender)
    n, batch = cfg["n"], cfg["batch"]
    x, labels = data(n)
    if family == "torch":
        torch = fw.import_torch(cfg["threads"])
        nn = torch.nn
        device = "cuda" if variant == "cuda" else "cpu"
        torch.manual_seed(0)
        probe.mark("before_model")
        net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        net, xt = fw.torch_prepare(torch, net, x, "nchw", device)
        yt = torch.from_numpy(labels).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=0.001, eps=1e-7)
        times = fw.torch_fit_times(torch, net, opt, xt, yt, batch, cfg["epochs"], "nchw")
        predict = fw.torch_predict_sps(torch, net, xt, batch, cfg["predict_repeats"])
    else:
        y = np.eye(10, dtype="float32")[labels]
        if family == "keraslite":
            kl = fw.import_keraslite(variant)
            from keraslite.layers import Dense
            from keraslite.models import Sequential
            probe.mark("before_model")
            model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                                Dense(10, activation="softmax")])
            callback_base = kl.callbacks.Callback
        else:
            keras = fw.import_keras3()
            L = keras.layers
            probe.mark("before_model")
            model = keras.Sequential([keras.Input((784,)), L.Dense(512, activation="relu"),
                                      L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")])
            callback_base = keras.callbacks.Callback
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        times = fw.keras_fit_times(model, callback_base, x, y, batch, cfg["epochs"])
        predict = fw.keras_predict_sps(model, x, batch, cfg["predict_repeats"])
    return {"train_sps": fw.steady(n, times), "predict_sps": predict, "first_epoch_s": times[0]}


WORKLOAD = Workload(
    name="mlp", module="mlp",
    title=lambda c: (f"MLP 784-512-512-10, Adam, {c['n']} samples, batch {c['batch']}; train = median of "
                     f"epochs 2-{c['epochs']}"),
    metrics=[Metric("train_sps", "train samples/s"), Metric("predict_sps", "predict samples/s"),
             Metric("first_epoch_s", "first epoch s", higher_is_better=False, digits=2)],
    config=config, peers=("torch", "torch-cuda", "keras3-jax"))


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

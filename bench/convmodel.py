"""The tutorial's convnet (section [5]): 32x32x3 inputs, ZeroPadding 3, two conv/batch-norm/relu/
max-pool blocks, Dense 10 softmax; SGD, categorical cross-entropy, batch 50.

Training samples/s is the median of epochs 2-5 of one fit() (epoch 1 holds compilation);
predict samples/s the median of 9 predict() calls after a warm-up call. Contenders: keraslite on
each usable backend (numpy only when asked), PyTorch eager in NCHW and channels_last (and on
CUDA where a device answers), Keras 3 on jax; each in its own fresh process, alternating.

Run: python bench/convmodel.py [--rounds 3] [--quick] [--threads N] [--backends numba,numpy]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, main_for  # noqa: E402


def config(quick: bool) -> dict:
    if quick:
        return {"n": 100, "batch": 50, "epochs": 2, "predict_repeats": 1}
    return {"n": 1000, "batch": 50, "epochs": 5, "predict_repeats": 9}


def data(n: int):
    rng = np.random.default_rng(0)
    x = rng.normal(loc=20, scale=3, size=(n, 32, 32, 3)).astype("float32")
    labels = rng.integers(10, size=n)
    return x, labels


def keras3_convnet(keras):
    """The tutorial convnet in Keras 3 (the same layers as examples/tutorial.py's convmodel)."""
    L = keras.layers
    inp = keras.Input((32, 32, 3))
    h = L.ZeroPadding2D((3, 3))(inp)
    for filters in (32, 64):
        h = L.Conv2D(filters, (3, 3), padding="valid")(h)
        h = L.BatchNormalization(axis=3)(h)
        h = L.Activation("relu")(h)
        h = L.MaxPooling2D((3, 3), strides=(2, 2))(h)
    out = L.Dense(10, activation="softmax")(L.Flatten()(h))
    return keras.Model(inp, out)


def torch_convnet(torch):
    """The same network in PyTorch; the flatten follows Keras's NHWC order."""
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3)
            self.bn1 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.bn2 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
            self.fc = nn.Linear(64 * 7 * 7, 10)

        def forward(self, x):
            x = F.pad(x, (3, 3, 3, 3))
            x = F.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2)
            x = F.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 3, 2)
            return self.fc(torch.flatten(x.permute(0, 2, 3, 1), 1))
    return Net()


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: train for cfg['epochs'] epochs and predict; samples/s."""
    import _frameworks as fw
    x, labels = data(cfg["n"])
    return fw.fit_workload(contender, cfg, probe, x, labels, 10, "sgd", torch_convnet,
                           lambda: fw.examples_module("tutorial").convmodel(), keras3_convnet)


WORKLOAD = Workload(
    name="convnet", module="convmodel",
    title=lambda c: (f"tutorial convnet, {c['n']} samples 32x32x3, batch {c['batch']}, SGD; train = median of "
                     f"epochs 2-{c['epochs']}"),
    metrics=[Metric("train_sps", "train samples/s"), Metric("predict_sps", "predict samples/s"),
             Metric("first_epoch_s", "first epoch s", higher_is_better=False, digits=2)],
    config=config, peers=("torch-nchw", "torch-cl", "torch-cuda", "keras3-jax"))


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

"""The tutorial's ResNet50 (examples/resnet50.py: 64x64x3 inputs, 6 classes, the deeplearning.ai
version), Adam, categorical cross-entropy, batch 32.

Training samples/s is the median of epochs 2-5 of one fit() (each epoch a few steps: epoch 1 holds
compilation). Contenders: keraslite on each usable backend (numpy only when asked), PyTorch eager
in NCHW and channels_last (and on CUDA where a device answers), Keras 3 on jax; each in its own
fresh process, alternating.

Run: python bench/resnet50.py [--rounds 3] [--quick] [--threads N] [--backends numba]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Metric, Workload, main_for  # noqa: E402

STAGES = (((64, 64, 256), 1, 3), ((128, 128, 512), 2, 4), ((256, 256, 1024), 2, 6), ((512, 512, 2048), 2, 3))
CLASSES = 6


def config(quick: bool) -> dict:
    if quick:
        return {"n": 64, "batch": 32, "epochs": 2}
    return {"n": 192, "batch": 32, "epochs": 5}


def data(n: int):
    rng = np.random.default_rng(0)
    return rng.random((n, 64, 64, 3), dtype=np.float32), rng.integers(CLASSES, size=n)


def keras3_resnet50(keras):
    """examples/resnet50.py's graph in Keras 3: the stride sits on each stage's first 1x1 conv."""
    L = keras.layers

    def block(x, filters, stride, project):
        f1, f2, f3 = filters
        shortcut = x
        x = L.Activation("relu")(L.BatchNormalization(axis=3)(L.Conv2D(f1, 1, strides=stride)(x)))
        x = L.Activation("relu")(L.BatchNormalization(axis=3)(L.Conv2D(f2, 3, padding="same")(x)))
        x = L.BatchNormalization(axis=3)(L.Conv2D(f3, 1)(x))
        if project:
            shortcut = L.BatchNormalization(axis=3)(L.Conv2D(f3, 1, strides=stride)(shortcut))
        return L.Activation("relu")(L.Add()([x, shortcut]))

    inp = keras.Input((64, 64, 3))
    x = L.Conv2D(64, 7, strides=2)(L.ZeroPadding2D((3, 3))(inp))
    x = L.MaxPooling2D((3, 3), strides=(2, 2))(L.Activation("relu")(L.BatchNormalization(axis=3)(x)))
    for filters, stride, count in STAGES:
        for i in range(count):
            x = block(x, filters, stride if i == 0 else 1, i == 0)
    x = L.Flatten()(L.AveragePooling2D((2, 2))(x))
    return keras.Model(inp, L.Dense(CLASSES, activation="softmax")(x))


def torch_resnet50(torch):
    """The same graph in PyTorch (ZeroPadding 3 + valid 7x7 conv as a padded conv; Keras BN eps/momentum)."""
    nn, F = torch.nn, torch.nn.functional

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, cin, filters, stride, project):
            super().__init__()
            f1, f2, f3 = filters
            self.c1, self.b1 = nn.Conv2d(cin, f1, 1, stride=stride), bn(f1)
            self.c2, self.b2 = nn.Conv2d(f1, f2, 3, padding=1), bn(f2)
            self.c3, self.b3 = nn.Conv2d(f2, f3, 1), bn(f3)
            self.short = nn.Sequential(nn.Conv2d(cin, f3, 1, stride=stride), bn(f3)) if project else None

        def forward(self, x):
            h = F.relu(self.b1(self.c1(x)))
            h = F.relu(self.b2(self.c2(h)))
            h = self.b3(self.c3(h))
            return F.relu(h + (self.short(x) if self.short is not None else x))

    layers, cin = [nn.Conv2d(3, 64, 7, stride=2, padding=3), bn(64), nn.ReLU(), nn.MaxPool2d(3, 2)], 64
    for filters, stride, count in STAGES:
        for i in range(count):
            layers.append(Block(cin, filters, stride if i == 0 else 1, i == 0))
            cin = filters[2]
    layers += [nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2048, CLASSES)]
    return nn.Sequential(*layers)


def run(contender: str, cfg: dict, probe) -> dict:
    """Child side: train for cfg['epochs'] epochs; samples/s."""
    import _frameworks as fw
    x, labels = data(cfg["n"])
    return fw.fit_workload(
        contender, cfg, probe, x, labels, CLASSES, "adam", torch_resnet50,
        lambda: fw.examples_module("resnet50").ResNet50(input_shape=(64, 64, 3), classes=CLASSES), keras3_resnet50,
        predict=False)


WORKLOAD = Workload(
    name="resnet50", module="resnet50",
    title=lambda c: (f"tutorial ResNet50, {c['n']} samples 64x64x3, 6 classes, batch {c['batch']}, Adam; "
                     f"train = median of epochs 2-{c['epochs']}"),
    metrics=[Metric("train_sps", "train samples/s", digits=1),
             Metric("first_epoch_s", "first epoch s", higher_is_better=False, digits=2)],
    config=config, peers=("torch-nchw", "torch-cl", "torch-cuda", "keras3-jax"))


if __name__ == "__main__":
    main_for([WORKLOAD], __doc__)

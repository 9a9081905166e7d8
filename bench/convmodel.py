"""The tutorial's convnet (section [5]): 1000 samples 32x32x3, batch 50, SGD, categorical
cross-entropy. Prints training samples/s over epochs 2-5, predict samples/s and the first-epoch
time for keraslite on every usable backend and, when installed, the same model in PyTorch eager
with the same thread count. Each figure is the median over --repeats runs.

Run: python bench/convmodel.py [--repeats 3] [--backends numba,numpy]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line, print_table, torch_or_none  # noqa: E402

N, BATCH, EPOCHS = 1000, 50, 5


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=20, scale=3, size=(N, 32, 32, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(10, size=N)]
    return x, y


def keraslite_run(backend: str):
    import keraslite
    from keraslite import backend as K
    sys.path.insert(0, str(Path(__file__).parent.parent / "examples"))
    from tutorial import convmodel
    keraslite.set_backend(backend)
    K.clear_session()
    x, y = data()
    model = convmodel()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer:
        pass
    for epoch in range(EPOCHS):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    model.predict(x[:BATCH * 2], batch_size=BATCH)
    t0 = time.perf_counter()
    model.predict(x, batch_size=BATCH)
    pred = time.perf_counter() - t0
    train_sps = N * (EPOCHS - 1) / sum(times[1:])
    return {"first_epoch_s": times[0], "train_sps": train_sps, "predict_sps": N / pred}


def torch_run(torch, device: str = "cpu"):
    nn = torch.nn
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3)
            self.bn1 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
            self.conv2 = nn.Conv2d(32, 64, 3)
            self.bn2 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
            self.fc = nn.Linear(64 * 7 * 7, 10)

        def forward(self, x):
            x = nn.functional.pad(x, (3, 3, 3, 3))
            x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2)
            x = nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 3, 2)
            return self.fc(torch.flatten(x.permute(0, 2, 3, 1), 1))

    x, y = data()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)
    yt = torch.from_numpy(y.argmax(1)).to(device)
    net = Net().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for epoch in range(EPOCHS):
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(N, device=device)
        for i in range(0, N, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            out = net(xt[idx])
            loss = loss_fn(out, yt[idx])
            loss.backward()
            opt.step()
            (out.argmax(1) == yt[idx]).float().mean().item()
            loss.item()
        times.append(time.perf_counter() - t0)
    net.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        for i in range(0, N, BATCH):
            net(xt[i:i + BATCH])
        pred = time.perf_counter() - t0
    return {"first_epoch_s": times[0], "train_sps": N * (EPOCHS - 1) / sum(times[1:]), "predict_sps": N / pred}


def median_dict(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", default=None, help="comma-separated; default: every usable backend")
    args = ap.parse_args()
    import keraslite
    import numba
    threads = numba.get_num_threads()
    torch = torch_or_none(threads)
    backends = args.backends.split(",") if args.backends else keraslite.available_backends()
    print(f"# bench/convmodel.py — {machine_line()}; torch {'absent' if torch is None else torch.__version__}")
    results = {}
    for _ in range(args.repeats):  # interleave peers so machine noise hits all alike
        for be in backends:
            results.setdefault(be, []).append(keraslite_run(be))
        if torch is not None:
            results.setdefault("torch", []).append(torch_run(torch))
            if torch.cuda.is_available():  # the GPU peer of the cuda backend (cuDNN)
                results.setdefault("torch-cuda", []).append(torch_run(torch, "cuda"))
    med = {k: median_dict(v) for k, v in results.items()}
    rows = []
    for name, m in med.items():
        row = [name, f"{m['train_sps']:.0f}", f"{m['predict_sps']:.0f}", f"{m['first_epoch_s']:.2f}"]
        for peer in ("torch", "torch-cuda"):
            if peer in med:
                t = med[peer]
                row += [f"{m['train_sps'] / t['train_sps']:.2f}x", f"{m['predict_sps'] / t['predict_sps']:.2f}x"]
        rows.append(row)
    header = ["run", "train samples/s (ep 2-5)", "predict samples/s", "first epoch s"]
    for peer in ("torch", "torch-cuda"):
        if peer in med:
            header += [f"train vs {peer}", f"predict vs {peer}"]
    print_table(f"tutorial convnet, {N} samples, batch {BATCH}; medians of {args.repeats} runs "
                "(ratio > 1: keraslite faster)", header, rows)


if __name__ == "__main__":
    main()

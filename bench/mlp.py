"""MLP 784-512-512-10 (relu, softmax), Adam, batch 128, 10,000 samples: training samples/s over
epochs 2-4 for keraslite on every usable backend and, when installed, PyTorch eager with the
same thread count. Medians over --repeats runs.

Run: python bench/mlp.py [--repeats 3] [--backends numba,numpy]
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

N, BATCH, EPOCHS = 10000, 128, 4


def data():
    rng = np.random.default_rng(0)
    x = rng.random((N, 784), dtype=np.float32)
    y = np.eye(10, dtype="float32")[rng.integers(10, size=N)]
    return x, y


def keraslite_run(backend: str):
    import keraslite
    from keraslite import backend as K
    from keraslite.layers import Dense
    from keraslite.models import Sequential
    keraslite.set_backend(backend)
    K.clear_session()
    x, y = data()
    model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    times = []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    return {"first_epoch_s": times[0], "train_sps": N * (EPOCHS - 1) / sum(times[1:])}


def torch_run(torch, device: str = "cpu"):
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                        nn.Linear(512, 10)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=0.001, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    x, y = data()
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y.argmax(1)).to(device)
    times = []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
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
    return {"first_epoch_s": times[0], "train_sps": N * (EPOCHS - 1) / sum(times[1:])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", default=None)
    args = ap.parse_args()
    import keraslite
    import numba
    torch = torch_or_none(numba.get_num_threads())
    backends = args.backends.split(",") if args.backends else keraslite.available_backends()
    print(f"# bench/mlp.py — {machine_line()}; torch {'absent' if torch is None else torch.__version__}")
    results = {}
    for _ in range(args.repeats):
        for be in backends:
            results.setdefault(be, []).append(keraslite_run(be))
        if torch is not None:
            results.setdefault("torch", []).append(torch_run(torch))
            if torch.cuda.is_available():  # the GPU peer of the cuda backend (cuDNN)
                results.setdefault("torch-cuda", []).append(torch_run(torch, "cuda"))
    med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]} for k, v in results.items()}
    rows = []
    for name, m in med.items():
        row = [name, f"{m['train_sps']:.0f}", f"{m['first_epoch_s']:.2f}"]
        for peer in ("torch", "torch-cuda"):
            if peer in med:
                row.append(f"{m['train_sps'] / med[peer]['train_sps']:.2f}x")
        rows.append(row)
    header = ["run", "train samples/s (ep 2-4)", "first epoch s"] + \
        [f"vs {peer}" for peer in ("torch", "torch-cuda") if peer in med]
    print_table(f"MLP 784-512-512-10, Adam, {N} samples, batch {BATCH}; medians of {args.repeats} runs "
                "(ratio > 1: keraslite faster)", header, rows)


if __name__ == "__main__":
    main()

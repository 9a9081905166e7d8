"""Child-side helpers shared by the workloads: importing each framework with the configured threads,
and the training / prediction timing loops (one for the Keras-style APIs, one for PyTorch eager).

Only ever imported inside a benchmark child (bench/_child.py), one framework per process.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def parse(contender: str) -> tuple[str, str]:
    """'keraslite-numba' -> ('keraslite', 'numba'); 'torch-cl' -> ('torch', 'cl'); 'keras3-jax' -> ('keras3', 'jax')."""
    family, _, variant = contender.partition("-")
    if family not in ("keraslite", "torch", "keras3"):
        raise ValueError(f"unknown contender {contender!r}")
    return family, variant


def import_keraslite(backend: str):
    """keraslite on `backend` with a fresh session (threads come from NUMBA_NUM_THREADS)."""
    import keraslite
    from keraslite import backend as K
    keraslite.set_backend(backend)
    K.clear_session()
    return keraslite


def import_torch(threads: int):
    import torch
    torch.set_num_threads(threads)
    return torch


def import_keras3():
    """Keras 3 on jax (KERAS_BACKEND=jax is set by the parent before this process started)."""
    import keras
    if int(keras.__version__.split(".")[0]) < 3 or keras.backend.backend() != "jax":
        raise RuntimeError(f"need Keras 3 on jax, found keras {keras.__version__} on {keras.backend.backend()}")
    return keras


def examples_module(name: str):
    """examples/<name>.py, loaded under its own module name (bench/resnet50.py would shadow it)."""
    import importlib.util
    key = f"_keraslite_examples_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def steady(n: int, times: list[float]) -> float:
    """Median samples/s over the epochs after the first (the first holds compilation)."""
    rest = times[1:] or times
    return statistics.median(n / t for t in rest)


def keras_fit_times(model, callback_base, x, y, batch: int, epochs: int) -> list[float]:
    """Seconds per epoch of one model.fit(epochs=...) call, timed by a callback (keraslite or Keras 3)."""
    times: list[float] = []

    class EpochTimer(callback_base):
        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self._t0)

    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[EpochTimer()])
    return times


def keras_predict_sps(model, x, batch: int, repeats: int) -> float:
    """Median samples/s of model.predict over `repeats` calls after one untimed call."""
    model.predict(x, batch_size=batch, verbose=0)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.predict(x, batch_size=batch, verbose=0)
        out.append(len(x) / (time.perf_counter() - t0))
    return statistics.median(out)


def torch_prepare(torch, net, x, layout: str, device: str):
    """The model and the data in the contender's layout: NHWC numpy -> NCHW, or channels_last memory."""
    import numpy as np
    if x.ndim == 4:
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    xt = torch.from_numpy(x).to(device)
    net = net.to(device)
    if layout == "cl":
        net = net.to(memory_format=torch.channels_last)
        xt = xt.contiguous(memory_format=torch.channels_last)
    return net, xt


def torch_fit_times(torch, net, opt, xt, yt, batch: int, epochs: int, layout: str) -> list[float]:
    """Seconds per epoch of a PyTorch eager training loop doing what Keras's fit does per step:
    shuffle, forward, loss, backward, update, and read back the loss and the accuracy."""
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(xt)
    times = []
    net.train()
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=xt.device)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb = xt[idx]
            if layout == "cl":
                xb = xb.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            loss = loss_fn(out, yt[idx])
            loss.backward()
            opt.step()
            loss.item()
            (out.argmax(1) == yt[idx]).float().mean().item()
        times.append(time.perf_counter() - t0)
    return times


def torch_predict_sps(torch, net, xt, batch: int, repeats: int) -> float:
    """Median samples/s of batched inference (eval mode, no_grad, softmax as Keras's output layer)."""
    net.eval()

    def once():
        with torch.no_grad():
            for i in range(0, len(xt), batch):
                torch.softmax(net(xt[i:i + batch]), 1).cpu()
    once()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        out.append(len(xt) / (time.perf_counter() - t0))
    return statistics.median(out)


def fit_workload(contender: str, cfg: dict, probe, x, labels, classes: int, optimizer: str, torch_net,
                 keraslite_model, keras3_model, torch_layout=None, predict: bool = True) -> dict:
    """The child side of a training workload: build the contender's model (after the probe's
    'before_model' mark), train it for cfg['epochs'] epochs of cfg['batch'] samples and, with
    `predict`, time predict(); returns train_sps (steady), predict_sps and first_epoch_s.

    `torch_net(torch)`, `keraslite_model()` and `keras3_model(keras)` build the network on each
    framework; `optimizer` is 'sgd' (lr 0.01) or 'adam' (lr 1e-3, eps 1e-7) on every framework;
    `torch_layout` fixes PyTorch's layout ('nchw'), else the contender's variant names it."""
    import numpy as np
    family, variant = parse(contender)
    n, batch = cfg["n"], cfg["batch"]
    if family == "torch":
        torch = import_torch(cfg["threads"])
        device = "cuda" if variant == "cuda" else "cpu"
        layout = torch_layout or variant
        torch.manual_seed(0)
        probe.mark("before_model")
        net, xt = torch_prepare(torch, torch_net(torch), x, layout, device)
        yt = torch.from_numpy(labels).to(device)
        if optimizer == "sgd":
            opt = torch.optim.SGD(net.parameters(), lr=0.01)
        else:
            opt = torch.optim.Adam(net.parameters(), lr=0.001, eps=1e-7)
        times = torch_fit_times(torch, net, opt, xt, yt, batch, cfg["epochs"], layout)
        sps = (lambda: torch_predict_sps(torch, net, xt, batch, cfg["predict_repeats"]))
    else:
        y = np.eye(classes, dtype="float32")[labels]
        if family == "keraslite":
            kl = import_keraslite(variant)
            probe.mark("before_model")
            model = keraslite_model()
            callback_base = kl.callbacks.Callback
        else:
            keras = import_keras3()
            probe.mark("before_model")
            model = keras3_model(keras)
            callback_base = keras.callbacks.Callback
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        times = keras_fit_times(model, callback_base, x, y, batch, cfg["epochs"])
        sps = (lambda: keras_predict_sps(model, x, batch, cfg["predict_repeats"]))
    result = {"train_sps": steady(n, times)}
    if predict:
        result["predict_sps"] = sps()
    result["first_epoch_s"] = times[0]
    return result


def median_ms(fns: dict, repeats: int, warmup: int) -> dict:
    """{name: median milliseconds of fn()} over `repeats` rounds that call every fn once each (so
    the cases interleave), after `warmup` untimed calls of each (compilation, caches)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) * 1e3 for name, v in times.items()}

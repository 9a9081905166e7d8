"""Data-parallel training with keraslite.distributed (Horovod's Keras API over MPI): a small convnet
on 8x8 handwritten digits (scikit-learn's bundled set when installed, else a synthetic look-alike),
each rank training on its slice of every global batch.

Run:  mpiexec -n 2 python -m mpi4py examples/distributed_mnist.py [--epochs 8] [--backend numba]
      python examples/distributed_mnist.py          (the same script as one process)
Needs `pip install ".[distributed]" mpich`. Rank 0 prints the progress and writes the checkpoint.
"""
import argparse
import os
import tempfile

import numpy as np

import keraslite
import keraslite.distributed as hvd
from keraslite.callbacks import ModelCheckpoint
from keraslite.layers import Conv2D, Dense, Flatten, MaxPooling2D
from keraslite.models import Sequential


def load():
    """(x_train, y_train), (x_test, y_test): 8x8x1 images in [0, 1], integer labels."""
    try:
        from sklearn.datasets import load_digits
        digits = load_digits()
        x, y = (digits.images / 16.0).astype("float32")[..., None], digits.target
    except ImportError:  # ten noisy stroke patterns: the same on every rank (fixed seed)
        rng = np.random.default_rng(0)
        prototypes = rng.random((10, 8, 8)) > 0.6
        y = rng.integers(10, size=1800)
        x = (prototypes[y] * 0.8 + rng.random((1800, 8, 8)) * 0.4).astype("float32")[..., None]
    order = np.random.default_rng(1).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def build():
    return Sequential([
        Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=(8, 8, 1)),
        MaxPooling2D((2, 2)),
        Conv2D(32, (3, 3), padding="same", activation="relu"),
        Flatten(),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32, help="per rank")
    p.add_argument("--backend", default=None)
    p.add_argument("--checkpoint", default=os.path.join(tempfile.gettempdir(), "distributed_mnist.h5"))
    args = p.parse_args()
    hvd.init()
    if args.backend:
        keraslite.set_backend(args.backend)
    np.random.seed(hvd.rank())  # different initial weights per rank: the broadcast makes them equal
    (x_train, y_train), (x_test, y_test) = load()
    model = build()
    # the learning rate grows with the number of ranks (the global batch does), warmed up over 2 epochs
    opt = hvd.DistributedOptimizer(keraslite.optimizers.Adam(0.001 * hvd.size()))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [hvd.BroadcastGlobalVariablesCallback(0), hvd.MetricAverageCallback(),
                 hvd.LearningRateWarmupCallback(warmup_epochs=2, verbose=1),
                 ModelCheckpoint(args.checkpoint, monitor="loss")]   # written by rank 0 only
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2, callbacks=callbacks)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    # every replica holds the same weights: compare a checksum over all ranks
    checksum = np.array([sum(float(np.sum(w.astype("float64") ** 2)) for w in model.get_weights())])
    sums = hvd.allgather(checksum)
    if hvd.rank() == 0:
        print(f"{hvd.size()} rank(s): test accuracy {acc:.4f} (loss {loss:.4f}) on {len(x_test)} held-out digits; "
              f"replicas identical: {bool(np.all(sums == sums[0]))}; checkpoint {args.checkpoint}")
    if not np.all(sums == sums[0]):
        raise SystemExit("the replicas diverged")
    if acc < 0.9:
        raise SystemExit(f"accuracy {acc:.4f} is below 0.9")


if __name__ == "__main__":
    main()

"""A small convnet on scikit-learn's bundled 8x8 digits (1797 images, 10 classes), trained with
fit and checked on a held-out quarter. Needs scikit-learn (an example dependency only:
`pip install scikit-learn`).

Run: python examples/digits.py [backend]
"""
import sys

import numpy as np

import keraslite as keras
from keraslite.layers import Activation, BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from keraslite.models import Sequential


def load():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("examples/digits.py needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.75 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def build():
    return Sequential([
        Conv2D(32, (3, 3), padding="same", input_shape=(8, 8, 1)),
        BatchNormalization(),
        Activation("relu"),
        Conv2D(32, (3, 3), padding="same", activation="relu"),
        MaxPooling2D((2, 2)),
        Flatten(),
        Dropout(0.25),
        Dense(64, activation="relu"),
        Dense(10, activation="softmax"),
    ])


def main(backend_name=None):
    if backend_name:
        keras.set_backend(backend_name)
    np.random.seed(0)
    (x_train, y_train), (x_test, y_test) = load()
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=15, validation_split=0.1, verbose=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {loss:.4f}, test accuracy {acc:.4f} on {len(x_test)} held-out digits")
    return acc


if __name__ == "__main__":
    acc = main(sys.argv[1] if len(sys.argv) > 1 else None)
    if acc <= 0.97:
        raise SystemExit(f"accuracy {acc:.4f} is not above 0.97")

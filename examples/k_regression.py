"""A tiny linear regression trained with K.gradients and K.function only (no layers).

Fits y = 3*x0 - 2*x1 + 0.5 with plain gradient descent and prints the learned parameters.
Run: python examples/k_regression.py [backend]
"""
import sys

import numpy as np

import keraslite
from keraslite import backend as K


def main(backend_name: str = "numba") -> None:
    keraslite.set_backend(backend_name)
    rng = np.random.default_rng(0)
    x_data = rng.normal(size=(256, 2)).astype("float32")
    y_data = (x_data @ np.array([[3.0], [-2.0]]) + 0.5).astype("float32")

    x = K.placeholder(shape=(None, 2))
    y = K.placeholder(shape=(None, 1))
    w = K.variable(np.zeros((2, 1)), name="w")
    b = K.variable(np.zeros((1,)), name="b")
    loss = K.mean(K.square(K.dot(x, w) + b - y))
    gw, gb = K.gradients(loss, [w, b])
    lr = 0.1
    train = K.function([x, y], [loss], updates=[K.update_sub(w, lr * gw), K.update_sub(b, lr * gb)])
    for step in range(200):
        (value,) = train([x_data, y_data])
        if step % 50 == 0:
            print(f"step {step:3d}  loss {float(value):.6f}")
    print(f"backend {K.backend()}: w = {K.get_value(w).ravel()}, b = {K.get_value(b)}  (expected [3, -2], 0.5)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "numba")

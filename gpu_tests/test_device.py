"""What only the device shows: where arrays live, transfers, device memory over repeated calls,
out-of-memory errors, TF32 and the on-device random generator."""
import sys

import numpy as np
import pytest

from keraslite import backend as K


def _r(shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype("float32")


def _train_step():
    """A small training step: conv, batchnorm, pool, dense, a loss, SGD updates."""
    x = K.placeholder(shape=(None, 16, 16, 3))
    t = K.placeholder(shape=(None, 10))
    w1 = K.variable(_r((3, 3, 3, 16), 1) * 0.3)
    g1, b1 = K.variable(np.ones(16, "float32")), K.variable(np.zeros(16, "float32"))
    w2 = K.variable(_r((8 * 8 * 16, 10), 2) * 0.05)
    h = K.conv2d(x, w1, padding="same")
    h, _, _ = K.normalize_batch_in_training(h, g1, b1, [0, 1, 2])
    h = K.pool2d(K.relu(h), (2, 2), strides=(2, 2))
    logits = K.dot(K.reshape(h, (-1, 8 * 8 * 16)), w2)
    loss = K.mean(K.categorical_crossentropy(t, K.softmax(logits)))
    params = [w1, g1, b1, w2]
    grads = K.gradients(loss, params)
    updates = [K.update_sub(p, 0.05 * g) for p, g in zip(params, grads)]
    f = K.function([x, t], [loss], updates=updates)
    xv = _r((32, 16, 16, 3), 3)
    tv = np.eye(10, dtype="float32")[np.random.default_rng(4).integers(0, 10, 32)]
    return f, [xv, tv], params


def test_variables_stay_on_the_device_and_outputs_come_back_as_numpy(kbackend, cp):
    f, feeds, params = _train_step()
    out = f(feeds)
    assert isinstance(out[0], np.ndarray)
    for p in params:
        assert isinstance(p._native, cp.ndarray), p.name
    assert isinstance(K.get_value(params[0]), np.ndarray)


def test_transfers_only_at_feeds_and_fetches(kbackend, cuda, cp, monkeypatch):
    f, feeds, params = _train_step()
    for _ in range(3):
        f(feeds)  # plans, constants, index tables and kernels are made here
    counts = {"from": 0, "to": 0, "asarray": 0}
    orig_from, orig_to, orig_asarray = cuda.from_numpy, cuda.to_numpy, cp.asarray

    def from_numpy(a):
        counts["from"] += 1
        return orig_from(a)

    def to_numpy(a, copy=True):
        counts["to"] += 1
        return orig_to(a, copy)

    inside = {"from": False}

    def asarray(a, *args, **kw):
        if isinstance(a, np.ndarray) and not inside["from"]:
            counts["asarray"] += 1
        return orig_asarray(a, *args, **kw)

    def from_numpy_marked(a):
        inside["from"] = True
        try:
            return from_numpy(a)
        finally:
            inside["from"] = False

    monkeypatch.setattr(cuda, "from_numpy", from_numpy_marked)
    monkeypatch.setattr(cuda, "to_numpy", to_numpy)
    monkeypatch.setattr(cp, "asarray", asarray)
    for _ in range(5):
        f(feeds)
    assert counts == {"from": 2 * 5, "to": 1 * 5, "asarray": 0}, counts
    # feeding device arrays needs no transfer at all
    counts.update({"from": 0, "to": 0})
    dev = [orig_asarray(a) for a in feeds]
    f(dev)
    assert counts["from"] == 0 and counts["to"] == 1


def test_device_memory_does_not_grow_over_repeated_calls(kbackend, cp):
    f, feeds, _ = _train_step()
    pool = cp.get_default_memory_pool()
    for _ in range(5):
        f(feeds)
    cp.cuda.Device().synchronize()
    used, held = pool.used_bytes(), pool.total_bytes()
    for _ in range(100):
        f(feeds)
    cp.cuda.Device().synchronize()
    assert pool.used_bytes() <= used + (1 << 20), (used, pool.used_bytes())
    assert pool.total_bytes() <= held + (4 << 20), (held, pool.total_bytes())


def test_out_of_memory_names_the_op_and_the_size(kbackend, cp):
    from keraslite_cuda import DeviceMemoryError
    pool = cp.get_default_memory_pool()
    pool.free_all_blocks()
    x = K.placeholder(shape=(None, 128, 128, 8), name="images")
    w = K.variable(_r((3, 3, 8, 512), 1))
    y = K.conv2d(x, w, padding="same")          # 8*128*128*512*4 bytes = 256 MiB
    f = K.function([x], [K.sum(y)])
    xv = _r((8, 128, 128, 8), 2)
    limit = pool.get_limit()
    pool.set_limit(size=pool.used_bytes() + (96 << 20))
    try:
        with pytest.raises(MemoryError) as ei:
            f([xv])
    finally:
        pool.set_limit(size=limit)
    e = ei.value
    assert isinstance(e, DeviceMemoryError)
    text = str(e) + " " + " ".join(getattr(e, "__notes__", []))
    assert "out of GPU memory" in text and "op 'conv'" in text and "MiB" in text, text
    assert "float32[8,128,128,8]" in text, text
    if sys.version_info >= (3, 11):
        assert "while computing" in text, text   # the compiler's note names the tensor
    # and the backend still works afterwards
    assert np.isfinite(f([xv[:1]])[0])


def test_out_of_memory_on_transfer(kbackend, cuda, cp):
    from keraslite_cuda import DeviceMemoryError
    pool = cp.get_default_memory_pool()
    limit = pool.get_limit()
    pool.set_limit(size=pool.used_bytes() + (8 << 20))
    try:
        with pytest.raises(DeviceMemoryError, match="transfer to the device"):
            cuda.from_numpy(np.zeros((64, 1024, 1024), "float32"))
    finally:
        pool.set_limit(size=limit)


def test_zero_dim_arrays_keep_their_shape(cuda):
    a = cuda.from_numpy(np.float32(3.0))
    assert a.shape == () and cuda.to_numpy(a).shape == ()


def test_tf32_switch_sets_the_cublas_compute_type(kbackend, cuda, monkeypatch):
    from cupy._core import _routines_linalg as rl
    from keraslite_cuda import settings
    seen = []
    orig = rl.set_compute_type
    monkeypatch.setattr(rl, "set_compute_type", lambda dt, ct: (seen.append(ct), orig(dt, ct))[1])
    a = cuda.from_numpy(_r((64, 64), 1))
    before = rl.get_compute_type(np.dtype("float32"))
    settings.set_tf32(True)
    cuda.matmul(a, a)
    assert before == rl.COMPUTE_TYPE_TF32 or rl.COMPUTE_TYPE_TF32 in seen
    assert rl.get_compute_type(np.dtype("float32")) == before       # restored after the call
    settings.set_tf32(False)
    seen.clear()
    cuda.matmul(a, a)
    assert rl.COMPUTE_TYPE_TF32 not in seen


def test_random_is_seeded_and_made_on_the_device(kbackend, cuda, cp):
    def draws():
        return K.function([], [K.random_uniform((1000,), seed=3), K.random_normal((1000,), seed=4),
                               K.truncated_normal((1000,), seed=5), K.random_binomial((1000,), 0.25, seed=6)])
    a, b = draws()([]), draws()([])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    u, n, t, bi = a
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05
    assert abs(n.std() - 1) < 0.1 and np.abs(t).max() <= 2 and abs(bi.mean() - 0.25) < 0.05
    r = cuda.rng(7)
    assert isinstance(cuda.random_uniform(shape=(4,), minval=0.0, maxval=1.0, dtype="float32", rng=r), cp.ndarray)


def test_large_shapes(kbackend):
    # about 1 GiB of activations in one step
    x = K.placeholder(shape=(None, 128, 128, 64))
    w = K.variable(_r((3, 3, 64, 64), 1) * 0.05)
    y = K.relu(K.conv2d(x, w, padding="same"))
    gw, = K.gradients(K.mean(y), [w])
    out = K.function([x], [K.mean(y), gw])([_r((64, 128, 128, 64), 2)])
    assert np.isfinite(out[0]) and np.isfinite(out[1]).all()

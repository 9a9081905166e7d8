"""Cache-line-aligned host arrays (keraslite/backend/aligned.py): variables' arrays and the CPU
backend's pooled buffers start on a 64-byte line, the memory pool and the in-place optimizer
updates still reuse them, and a view handed out keeps them from being reused."""
import numpy as np
import pytest

import keraslite
from keraslite.backend.aligned import ALIGN, aligned_copy, aligned_empty, owns_memory
from keraslite.backend.registry import get_backend_object
from keraslite.layers import Dense
from keraslite.models import Sequential


@pytest.mark.parametrize("shape,dtype", [((3, 5), "float32"), ((0,), "float64"), ((), "int64"), ((7, 1, 3), "uint8")])
def test_aligned_arrays_start_on_a_line_and_own_their_memory(shape, dtype):
    a = aligned_empty(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert (a.ctypes.data % ALIGN == 0 or a.size == 0) and owns_memory(a)
    if a.size == 0:  # nothing to align: an array of its own
        assert a.base is None
        return
    view = a.reshape(-1)
    assert not owns_memory(a)  # someone else sees the memory
    del view
    assert owns_memory(a)


def test_aligned_copy_keeps_values_and_dtype():
    src = np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2]  # not contiguous
    c = aligned_copy(src)
    assert c.dtype == src.dtype and c.flags.c_contiguous and c.ctypes.data % ALIGN == 0
    np.testing.assert_array_equal(c, src)


def test_object_arrays_are_plain_copies():
    src = np.array([{"a": 1}, None], dtype=object)
    c = aligned_copy(src)
    assert c.dtype == object and c.base is None and c[0] is src[0] and owns_memory(c)


def test_plain_views_do_not_own_their_memory():
    base = np.zeros(16)
    assert owns_memory(base) and not owns_memory(base[2:]) and not owns_memory(base.reshape(4, 4))


def _mlp():
    model = Sequential([Dense(64, activation="relu", input_shape=(40,)), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    return model, rng.random((32, 40), dtype=np.float32), np.eye(10, dtype="float32")[rng.integers(10, size=32)]


@pytest.mark.parametrize("backend", ["numba"])
def test_variables_start_on_a_line_and_are_updated_in_place(backend):
    """(The numpy reference backend's own buffers are NumPy's: its variables start aligned, and
    take its buffers when updated.)"""
    model, x, y = _mlp()
    with keraslite.use_backend(backend):
        be = get_backend_object()
        for _ in range(3):
            model.train_on_batch(x, y)
        variables = [v for v in list(model.weights) + list(model.optimizer.weights) if v.native(be).nbytes >= 4096]
        assert len(variables) == 3  # the first kernel, its m and v (the second's are < 4 KiB)
        assert all(v.native(be).ctypes.data % ALIGN == 0 for v in variables)
        ids = [id(v.native(be)) for v in variables]  # ids only: a reference held here would stop
        before = [v.native(be).copy() for v in variables]  # the in-place update (inplace._alone)
        model.train_on_batch(x, y)
        assert all(v.native(be).ctypes.data % ALIGN == 0 for v in variables)
        assert all(not np.array_equal(v.native(be), b) for v, b in zip(variables, before))
        assert [id(v.native(be)) for v in variables] == ids  # the same arrays: Adam's batched kernel wrote into them


def test_the_numba_backends_pooled_buffers_start_on_a_line():
    model, x, y = _mlp()
    with keraslite.use_backend("numba"):
        for _ in range(2):
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
        for plan in (model.train_function.last_plan, model.predict_function.last_plan):
            bufs = [b for b in plan._pool if b is not None and b.nbytes >= 4096]  # small: may be swapped
            assert bufs and all(b.ctypes.data % ALIGN == 0 for b in bufs)      # in from a variable


def test_set_weights_keeps_alignment_and_values():
    model, x, _ = _mlp()
    with keraslite.use_backend("numba"):
        model.predict_on_batch(x)
        w = [np.full(v.shape, 0.5, v.dtype) for v in model.weights]
        model.set_weights(w)
        be = get_backend_object()
        for v, want in zip(model.weights, w):
            a = v.native(be)
            assert a.ctypes.data % ALIGN == 0
            np.testing.assert_array_equal(a, want)

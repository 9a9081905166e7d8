"""The rank-generic conv, pool and resize primitives (keraslite/backend/ops/spatial.py): one
primitive per job whatever the spatial rank, rank-1 results equal to the 2-D op over a unit axis
(what K.conv1d/pool1d computed before they were rank-generic), the Numba kernels still the ones
that run at ranks 1 and 2, and clear errors for geometry a rank does not support."""
from __future__ import annotations

import numpy as np
import pytest

import nn_reference as R
from keraslite import backend as K
from keraslite.backend.ops.conv import pool1d
from keraslite.backend.ops.spatial import resize
from keraslite.backend.registry import get_backend_object

pytestmark = pytest.mark.usefixtures("kbackend")

SPATIAL = {"conv", "conv_backprop_input", "conv_backprop_filter", "pool", "pool_backprop", "resize",
           "resize_backprop"}


def _r(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _ops(outs):
    from keraslite.backend.graph import topological_order
    return {n.op for n in topological_order(outs)}


def test_one_primitive_set_for_every_rank():
    from keraslite.backend.graph import OPS
    assert SPATIAL <= set(OPS)
    assert not [op for op in OPS if op.startswith(("conv2d", "conv3d", "max_pool", "avg_pool", "resize_nearest", "resize_bilinear"))]
    x1, x2, x3 = K.placeholder((2, 7, 3)), K.placeholder((2, 5, 6, 3)), K.placeholder((1, 4, 4, 4, 3))
    y1 = K.conv1d(x1, K.constant(_r((3, 3, 2), 1)))
    y2 = K.conv2d(x2, K.constant(_r((3, 3, 3, 2), 2)))
    y3 = K.conv3d(x3, K.constant(_r((2, 2, 2, 3, 2), 3)))
    assert (y1.op, y2.op, y3.op) == ("conv", "conv", "conv")
    assert [len(y.attrs["strides"]) for y in (y1, y2, y3)] == [1, 2, 3]
    grads = K.gradients(K.sum(pool1d(y1, 2, 2)) + K.sum(K.pool2d(y2, (2, 2), (2, 2), pool_mode="avg"))
                        + K.sum(K.pool3d(y3, (1, 1, 1))), [x1, x2, x3])
    assert _ops(grads) >= {"conv_backprop_input", "pool_backprop"}


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 2)])
def test_conv1d_equals_conv2d_over_a_unit_axis(padding, strides, dilation):
    # K.conv1d builds the rank-1 primitive; every backend computes it as the 2-D op over (N, 1, L, C),
    # so the numbers (forward and both gradients) are what the unit-axis 2-D graph gives, bit for bit
    xv, wv = _r((2, 9, 3), 4), _r((3, 3, 4), 5)
    x, w = K.placeholder((None, 9, 3)), K.variable(wv)
    y1 = K.conv1d(x, w, strides=strides, padding=padding, dilation_rate=dilation)
    if padding == "causal":
        x2 = K.expand_dims(K.temporal_padding(x, (dilation * 2, 0)), 1)
        pad2 = "valid"
    else:
        x2, pad2 = K.expand_dims(x, 1), padding
    y2 = K.squeeze(K.conv2d(x2, K.expand_dims(w, 0), strides=(1, strides), padding=pad2,
                            dilation_rate=(1, dilation)), 1)
    g = K.constant(_r(tuple(K.int_shape(y1)[1:]), 6))
    outs1 = [y1] + K.gradients(K.sum(y1 * g), [x, w])
    outs2 = [y2] + K.gradients(K.sum(y2 * g), [x, w])
    a = K.function([x], outs1)([xv])
    b = K.function([x], outs2)([xv])
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_allclose(a[0], R.conv1d(xv, wv, strides, padding, dilation_rate=dilation), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool1d_equals_pool2d_over_a_unit_axis(mode):
    xv = _r((2, 9, 3), 7)
    x = K.placeholder((None, None, 3))  # 'same' resolved per call
    y1 = pool1d(x, 3, 2, "same", pool_mode=mode)
    y2 = K.squeeze(K.pool2d(K.expand_dims(x, 1), (1, 3), (1, 2), "same", pool_mode=mode), 1)
    a = K.function([x], [y1, K.gradients(K.sum(y1 * y1), [x])[0]])([xv])
    b = K.function([x], [y2, K.gradients(K.sum(y2 * y2), [x])[0]])([xv])
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    want = R.pool2d(xv[:, None].astype(np.float64), (1, 3), (1, 2), "same", pool_mode=mode)[:, 0]
    np.testing.assert_allclose(a[0], want, rtol=1e-6)


def test_resize_rank3_nearest_equals_resize_volumes_and_bilinear_is_separable():
    xv = _r((2, 2, 3, 2, 2), 8)
    x = K.placeholder((2, 2, 3, 2, 2))
    near, bil = resize(x, "nearest", (2, 1, 3)), resize(x, "bilinear", (2, 2, 1))
    gn, gb = K.gradients(K.sum(near * near), [x])[0], K.gradients(K.sum(bil), [x])[0]
    a, b, da, db = K.function([x], [near, bil, gn, gb])([xv])
    np.testing.assert_array_equal(a, R.resize_volumes(xv, 2, 1, 3))
    # TF1 linear upsampling along D then H: out[i] = x[s] + (x[min(s+1, last)] - x[s]) * r / f
    def lerp(v, axis, f):
        n = v.shape[axis]
        idx = np.arange(n * f)
        s, frac = idx // f, (idx % f) / f
        nxt = np.minimum(s + 1, n - 1)
        shape = [1] * v.ndim
        shape[axis] = -1
        return np.take(v, s, axis) + (np.take(v, nxt, axis) - np.take(v, s, axis)) * frac.reshape(shape)
    want = lerp(lerp(xv.astype(np.float64), 1, 2), 2, 2)
    np.testing.assert_allclose(b, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(da, 2 * 6 * xv, rtol=1e-6)   # each cell repeated 2 * 1 * 3 times
    # the gradient of sum(bilinear) is how much each cell contributes: column sums of the lerp weights
    ones_d = lerp(np.eye(2), 0, 2).sum(0)
    ones_h = lerp(np.eye(3), 0, 2).sum(0)
    np.testing.assert_allclose(db, np.broadcast_to(ones_d[:, None, None, None] * ones_h[None, :, None, None],
                                                   (2, 2, 3, 2, 2)), rtol=1e-6)


def test_rank_and_groups_errors_name_the_op():
    from keraslite.backend.ops.spatial import conv
    # a 2-D kernel on a 1-D input: the shape rule names the rank the strides give
    with pytest.raises(ValueError, match="conv1d: expects a 3-D input and kernel"):
        conv(K.placeholder((2, 5, 3)), K.constant(_r((3, 3, 3, 2), 1)), (1,), ((0, 0),), (1,))
    with pytest.raises(ValueError, match="conv3d: grouped convolution"):
        conv(K.placeholder((1, 3, 3, 3, 4)), K.constant(_r((1, 1, 1, 2, 4), 1)), (1, 1, 1), ((0, 0),) * 3,
             (1, 1, 1), groups=2)
    with pytest.raises(ValueError, match="pool2d: pool_mode must be 'max' or 'avg'"):
        K.pool2d(K.placeholder((1, 4, 4, 1)), (2, 2), pool_mode="min")
    with pytest.raises(ValueError, match="resize: 2 factors need a 4-D input"):
        resize(K.placeholder((1, 2, 2, 2, 1)), "nearest", (2, 2))
    with pytest.raises(ValueError, match="interpolation must be 'nearest' or 'bilinear'"):
        resize(K.placeholder((1, 2, 2, 1)), "cubic", (2, 2))


def test_numba_runs_its_2d_kernels_at_ranks_1_and_2(kbackend, monkeypatch):
    if kbackend != "numba":
        pytest.skip("the Numba kernels")
    import importlib
    # the modules the backend's _k() looks up (tests/test_numba_kernels.py may have put them in
    # sys.modules without binding them on the package)
    kconv = importlib.import_module("keraslite_numba.kernels.conv")
    kpool = importlib.import_module("keraslite_numba.kernels.pool")
    calls = []
    for mod, names in ((kconv, ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter")),
                       (kpool, ("max_pool2d", "max_pool2d_backprop", "avg_pool2d", "avg_pool2d_backprop"))):
        for name in names:
            real = getattr(mod, name)
            monkeypatch.setattr(mod, name, lambda *a, _n=name, _f=real, **k: (calls.append(_n), _f(*a, **k))[1])
    nb, ref = get_backend_object("numba"), get_backend_object("numpy")
    for rank, xs, ws in ((1, (2, 8, 3), (3, 3, 4)), (2, (2, 6, 5, 3), (2, 3, 3, 4)), (3, (1, 4, 4, 4, 3),
                                                                                     (2, 2, 2, 3, 4))):
        calls.clear()
        xv, wv = _r(xs, 1), _r(ws, 2)
        geo = dict(strides=(1,) * rank, padding=((1, 0),) * rank, dilation=(1,) * rank, groups=1)
        y = nb.conv(xv, wv, **geo)
        np.testing.assert_allclose(y, ref.conv(xv, wv, **geo), rtol=1e-4, atol=1e-5)
        g = _r(y.shape, 3)
        np.testing.assert_allclose(nb.conv_backprop_input(g, wv, xs[1:], **geo),
                                   ref.conv_backprop_input(g, wv, xs[1:], **geo), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(nb.conv_backprop_filter(xv, g, ws, **geo),
                                   ref.conv_backprop_filter(xv, g, ws, **geo), rtol=1e-4, atol=1e-4)
        pgeo = dict(pool_size=(2,) * rank, strides=(2,) * rank, padding=((0, 0),) * rank)
        for mode in ("max", "avg"):
            p = nb.pool(xv, mode, **pgeo)
            np.testing.assert_allclose(p, ref.pool(xv, mode, **pgeo), rtol=1e-6)
            gp = _r(p.shape, 4)
            args = (xv, p, gp) if mode == "max" else (gp,)
            extra = {} if mode == "max" else {"input_shape": xs[1:]}
            np.testing.assert_allclose(nb.pool_backprop(*args, mode=mode, **pgeo, **extra),
                                       ref.pool_backprop(*args, mode=mode, **pgeo, **extra), rtol=1e-6)
        want = [] if rank == 3 else ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "max_pool2d",
                                     "max_pool2d_backprop", "avg_pool2d", "avg_pool2d_backprop"]
        assert set(calls) == set(want), (rank, calls)


def test_numba_folds_the_bias_of_a_conv1d(kbackend):
    if kbackend != "numba":
        pytest.skip("Numba's conv + bias fold")
    xv, wv, bv = _r((2, 9, 3), 1), _r((3, 3, 4), 2), _r((4,), 3)
    x = K.placeholder((None, 9, 3))
    f = K.function([x], [K.bias_add(K.conv1d(x, K.variable(wv), padding="same"), K.variable(bv))])
    out = f([xv])[0]
    assert "conv+add" in f.last_plan.kernels()
    np.testing.assert_allclose(out, R.conv1d(xv, wv, padding="same") + bv, rtol=1e-4, atol=1e-5)

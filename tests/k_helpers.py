"""Shared helpers for the K-surface conformance tests (tests/test_k_*.py).

Every check compares keraslite with an *independent* NumPy formula written in the test, never with
one of keraslite's own backends. Values are produced in up to three ways:

* ``variable``: the NumPy inputs become ``K.variable``s and the result is read with ``K.eval``;
* ``placeholder``: the inputs become placeholders whose batch axis (or other chosen axes) is
  ``None`` and are fed through ``K.function``;
* ``numpy``: the raw NumPy arrays are passed straight to the K function (they become constants).
"""
from __future__ import annotations

import numpy as np

from keraslite import backend as K

RTOL32, ATOL32 = 1e-5, 1e-6
RTOL_FD, ATOL_FD, EPS_FD = 1e-4, 1e-6, 1e-6


# ---------------------------------------------------------------------------------------------
# comparison


def assert_close(got, want, rtol=RTOL32, atol=ATOL32, dtype=None, msg=""):
    """Shape must match exactly; values to tolerance (NaN positions must agree); optional dtype."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert isinstance(got, np.ndarray)
    assert got.shape == want.shape, f"{msg} shape: got {got.shape}, want {want.shape}"
    if dtype is not None:
        assert got.dtype == np.dtype(dtype), f"{msg} dtype: got {got.dtype}, want {np.dtype(dtype)}"
    if want.dtype == bool or got.dtype == bool:
        np.testing.assert_array_equal(got, want, err_msg=msg)
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


def shape_compatible(static, actual):
    """A static shape (ints and None) agrees with a concrete one."""
    if static is None:
        return True
    static = tuple(static)
    return len(static) == len(actual) and all(s is None or s == a for s, a in zip(static, actual))


# ---------------------------------------------------------------------------------------------
# building inputs


def placeholder_like(arr, none_axes=(0,)):
    """A placeholder with arr's dtype and shape, the given axes unknown (None)."""
    arr = np.asarray(arr)
    shape = tuple(None if (i in none_axes or i - arr.ndim in none_axes) else d
                  for i, d in enumerate(arr.shape))
    return K.placeholder(shape=shape, dtype=arr.dtype.name)


def _none_axes_for(none_axes, n):
    """none_axes: a tuple of axes applied to every input, or a list with one tuple per input."""
    if isinstance(none_axes, list):
        assert len(none_axes) == n
        return none_axes
    return [none_axes] * n


def eval_modes(kfn, arrays, modes=("variable", "placeholder"), none_axes=(0,)):
    """Apply kfn to the arrays in each mode; returns {mode: (value, static shape of the result)}."""
    arrays = [np.asarray(a) for a in arrays]
    results = {}
    for mode in modes:
        if mode == "variable":
            ts = [K.variable(a, dtype=a.dtype.name) for a in arrays]
            out = kfn(*ts)
            val = K.eval(out)
        elif mode == "constant":
            ts = [K.constant(a, dtype=a.dtype.name) for a in arrays]
            out = kfn(*ts)
            val = K.eval(out)
        elif mode == "numpy":
            out = kfn(*arrays)
            val = K.eval(out)
        elif mode == "placeholder":
            nas = _none_axes_for(none_axes, len(arrays))
            ts = [placeholder_like(a, na) for a, na in zip(arrays, nas)]
            out = kfn(*ts)
            f = K.function(ts, [out])
            res = f(list(arrays))
            assert isinstance(res, list) and len(res) == 1
            val = res[0]
        else:
            raise AssertionError(mode)
        results[mode] = (val, K.int_shape(out))
    return results


def _to64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def check_op(kfn, npfn, *arrays, rtol=RTOL32, atol=ATOL32, dtype="auto",
             modes=("variable", "placeholder"), none_axes=(0,), check_static=True):
    """kfn(*tensors) must equal npfn(*arrays) in every mode.

    The expected value is computed in float64 from the same inputs; the expected dtype (when
    `dtype` is "auto") is the one NumPy gives for the original (e.g. float32) inputs."""
    arrays = [np.asarray(a) for a in arrays]
    with np.errstate(all="ignore"):
        want = np.asarray(npfn(*[_to64(a) for a in arrays]))
        if dtype == "auto":
            dtype = np.asarray(npfn(*arrays)).dtype
    res = eval_modes(kfn, arrays, modes=modes, none_axes=none_axes)
    for mode, (val, static) in res.items():
        assert_close(val, want, rtol=rtol, atol=atol, dtype=dtype, msg=f"[{mode}]")
        if check_static:
            if mode in ("variable", "constant", "numpy"):
                assert static is not None and tuple(static) == want.shape, \
                    f"[{mode}] int_shape {static} != {want.shape}"
            else:
                assert shape_compatible(static, want.shape), \
                    f"[{mode}] int_shape {static} incompatible with {want.shape}"
    return res


# ---------------------------------------------------------------------------------------------
# gradients


def check_grad(build, arrays, wrt=None, eps=EPS_FD, rtol=RTOL_FD, atol=ATOL_FD,
               use_variables=False, none_axes=None, seed=0):
    """Compare K.gradients with central finite differences in float64.

    build(*tensors) -> output tensor (any shape). The loss is sum(output * W) with W a fixed
    random float64 array, so every output element is weighted differently. Inputs are float64
    placeholders (axes in `none_axes` unknown) or float64 variables (`use_variables=True`).
    Returns the symbolic gradients (list of arrays)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    if use_variables:
        ts = [K.variable(a, dtype="float64") for a in arrays]
    else:
        nas = _none_axes_for(none_axes if none_axes is not None else (), len(arrays))
        ts = [placeholder_like(a, na) for a, na in zip(arrays, nas)]
    out = build(*ts)
    shape = K.int_shape(out)
    if shape is None or any(d is None for d in shape):
        if use_variables:
            shape = K.eval(out).shape
        else:
            shape = K.function(ts, [out])(arrays)[0].shape
    w = np.random.default_rng(seed).uniform(-1.5, 1.5, size=shape)
    loss = K.sum(out * K.constant(w, dtype="float64"))
    grads = K.gradients(loss, [ts[i] for i in wrt])
    assert isinstance(grads, list) and len(grads) == len(wrt)
    assert all(g is not None for g in grads), "K.gradients returned None"

    if use_variables:
        f = K.function([], [loss] + grads)

        def run(arrs):
            for t, a in zip(ts, arrs):
                K.set_value(t, a)
            return f([])
    else:
        f = K.function(ts, [loss] + grads)

        def run(arrs):
            return f(arrs)

    vals = run(arrays)
    sym = vals[1:]
    for k, i in enumerate(wrt):
        x = arrays[i]
        num = np.zeros_like(x)
        for idx in np.ndindex(*x.shape):
            orig = x[idx]
            x[idx] = orig + eps
            fp = float(run(arrays)[0])
            x[idx] = orig - eps
            fm = float(run(arrays)[0])
            x[idx] = orig
            num[idx] = (fp - fm) / (2 * eps)
        g = np.asarray(sym[k])
        assert g.shape == x.shape, f"gradient {k}: shape {g.shape}, input shape {x.shape}"
        np.testing.assert_allclose(g, num, rtol=rtol, atol=atol,
                                   err_msg=f"gradient w.r.t. input {i} vs finite differences")
    if use_variables:  # restore the unperturbed values
        for t, a in zip(ts, arrays):
            K.set_value(t, a)
    return sym


def check_modes(kfn, want, arrays, none_axes=(0,), static_none=(0,), rtol=RTOL32, atol=ATOL32,
                modes=("variable", "placeholder"), dtype="input", exact_static=True):
    """kfn(*tensors) == want in every mode (bool results exactly); the result's dtype is the first
    input's (or `dtype`); int_shape equals the evaluated shape, with None at `static_none` in
    placeholder mode (with exact_static=False: any known entry equals the evaluated one)."""
    want = np.asarray(want)
    dtype = np.asarray(arrays[0]).dtype if dtype == "input" else np.dtype(dtype)
    res = eval_modes(kfn, arrays, modes=modes, none_axes=none_axes)
    for mode, (val, static) in res.items():
        val = np.asarray(val)
        assert val.shape == want.shape, f"[{mode}] shape {val.shape} != {want.shape}"
        assert val.dtype == dtype, f"[{mode}] dtype {val.dtype} != {dtype}"
        if want.dtype == bool:
            np.testing.assert_array_equal(val, want, err_msg=f"[{mode}]")
        else:
            np.testing.assert_allclose(val.astype(np.float64), want, rtol=rtol, atol=atol,
                                       err_msg=f"[{mode}]")
        assert static is not None, f"[{mode}] int_shape is None"
        static = tuple(static)
        if mode != "placeholder":
            assert static == want.shape, f"[{mode}] int_shape {static} != {want.shape}"
            continue
        exp = tuple(None if i in static_none else d for i, d in enumerate(want.shape))
        if exact_static:
            assert static == exp, f"[{mode}] int_shape {static} != {exp}"
        else:
            assert len(static) == len(exp) and all(s is None or s == d for s, d in zip(static, want.shape)), \
                f"[{mode}] int_shape {static} incompatible with {want.shape}"
    return res


def raises_value_error(thunk):
    """The error may come when the op is built or when it is evaluated."""
    import pytest
    with pytest.raises(ValueError):
        K.eval(thunk())


def uniform(shape, seed=0, low=-1.0, high=1.0, dtype="float32"):
    """Seeded uniform test data."""
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)

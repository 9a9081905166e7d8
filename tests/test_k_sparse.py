"""Sparse tensors in K.* (Keras 2.3's backend expectations): K.variable / K.placeholder(sparse=True)
from scipy.sparse matrices, K.is_sparse, K.to_dense, K.dot and K.concatenate with sparse operands,
gradients through a sparse product, and clear errors elsewhere; on every backend, against NumPy."""
import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")

from keraslite import backend as K  # noqa: E402
from finite_differences import central_difference  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")


def _matrix(shape=(4, 5), seed=0, density=0.35):
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal(shape) * (rng.random(shape) < density)
    return sp.csr_matrix(dense.astype("float32")), dense.astype("float32")


def test_keras_sparse_dot_and_concat_expectations():
    # the matrices of Keras 2.3's own test_sparse_dot / test_sparse_concat
    x_d = np.array([0, 7, 2, 3], dtype=np.float32)
    x_r = np.array([0, 2, 2, 3], dtype=np.int64)
    x_c = np.array([4, 3, 2, 3], dtype=np.int64)
    x_sparse = sp.csr_matrix((x_d, (x_r, x_c)), shape=(4, 5))
    x_dense = x_sparse.toarray()
    w = np.random.default_rng(1).random((5, 4))
    k_s = K.eval(K.dot(K.variable(x_sparse), K.variable(w)))
    k_d = K.eval(K.dot(K.variable(x_dense), K.variable(w)))
    assert k_s.shape == k_d.shape
    np.testing.assert_allclose(k_s, x_dense @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(k_s, k_d, rtol=1e-5, atol=1e-5)
    k_s = K.concatenate([K.variable(x_sparse), K.variable(x_sparse)])
    assert K.is_sparse(k_s)
    k_s_d = K.eval(k_s)
    assert k_s_d.shape == (4, 10)
    np.testing.assert_allclose(k_s_d, np.concatenate([x_dense, x_dense], axis=-1))


@pytest.mark.parametrize("fmt", ["csr", "coo", "csc"])
def test_variable_from_scipy(fmt):
    matrix, dense = _matrix()
    v = K.variable(matrix.asformat(fmt), dtype="float64", name="sv")
    assert K.is_sparse(v) and not K.is_sparse(K.variable(dense))
    assert K.int_shape(v) == (4, 5) and K.ndim(v) == 2 and K.dtype(v) == "float64"
    np.testing.assert_array_equal(K.eval(v), dense.astype("float64"))
    np.testing.assert_array_equal(K.get_value(v), dense.astype("float64"))
    d = K.to_dense(v)
    assert not K.is_sparse(d)
    np.testing.assert_array_equal(K.eval(d), dense.astype("float64"))
    np.testing.assert_array_equal(K.eval(K.shape(v)), [4, 5])
    # arithmetic on the dense form
    np.testing.assert_allclose(K.eval(K.to_dense(v) * 2 + 1), dense * 2 + 1, rtol=1e-6)


def test_placeholder_fed_with_scipy_and_outputs():
    matrix, dense = _matrix((6, 5), seed=2)
    w = np.random.default_rng(3).standard_normal((5, 3)).astype("float32")
    p = K.placeholder(shape=(None, 5), sparse=True)
    assert K.is_sparse(p) and K.int_shape(p) == (None, 5)
    f = K.function([p], [K.dot(p, K.variable(w)), K.to_dense(p), p])
    prod, dense_out, sparse_out = f([matrix])
    np.testing.assert_allclose(prod, dense @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dense_out, dense)
    assert sp.issparse(sparse_out)
    np.testing.assert_array_equal(sparse_out.toarray(), dense)
    # a different batch size, a COO matrix and a dense array all feed the sparse input
    m2, d2 = _matrix((2, 5), seed=4)
    np.testing.assert_allclose(f([m2.tocoo()])[0], d2 @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f([d2])[0], d2 @ w, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expects shape"):
        f([sp.csr_matrix((2, 4), dtype="float32")])
    with pytest.raises(ValueError, match="2-D"):
        K.placeholder(shape=(None, 5, 2), sparse=True)


def test_dense_times_sparse_and_sparse_times_sparse():
    a, ad = _matrix((4, 5), seed=5)
    b, bd = _matrix((5, 3), seed=6)
    x = np.random.default_rng(7).standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(K.eval(K.dot(K.variable(x), K.variable(a))), x @ ad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(K.eval(K.dot(K.variable(a), K.variable(b))), ad @ bd, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2-D"):
        K.dot(K.variable(a), K.variable(np.ones((5, 2, 2), "float32")))
    with pytest.raises(ValueError, match="does not match"):
        K.dot(K.variable(a), K.variable(np.ones((4, 2), "float32")))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_sparse_and_mixed(axis):
    a, ad = _matrix((4, 5), seed=8)
    b, bd = _matrix((4, 5), seed=9)
    s = K.concatenate([K.variable(a), K.variable(b)], axis=axis)
    assert K.is_sparse(s)
    want = np.concatenate([ad, bd], axis=axis)
    assert K.int_shape(s) == want.shape
    np.testing.assert_array_equal(K.eval(s), want)
    out = K.function([], [s])([])[0]
    assert sp.issparse(out)
    np.testing.assert_array_equal(out.toarray(), want)
    mixed = K.concatenate([K.variable(a), K.variable(bd)], axis=axis)
    assert not K.is_sparse(mixed)
    np.testing.assert_array_equal(K.eval(mixed), want)
    with pytest.raises(ValueError, match="differ"):
        K.concatenate([K.variable(a), K.variable(sp.csr_matrix((3, 3), dtype="float32"))], axis=axis)


def test_gradient_through_sparse_product_is_for_the_dense_operand():
    matrix, dense = _matrix((6, 4), seed=10)
    dense64 = dense.astype("float64")
    w = np.random.default_rng(11).standard_normal((4, 2))
    p = K.placeholder(shape=(None, 4), sparse=True, dtype="float64")
    wv = K.variable(w, dtype="float64")
    loss = K.sum(K.square(K.dot(p, wv)))
    grad_w = K.function([p], K.gradients(loss, [wv]))([matrix])[0]
    np.testing.assert_allclose(grad_w, 2 * dense64.T @ (dense64 @ w), rtol=1e-10)
    with pytest.raises(TypeError, match="sparse"):
        K.gradients(loss, [p])
    # dense x sparse: d/dx sum((x S)^2) = 2 (x S) S^T, by finite differences too
    x = np.random.default_rng(12).standard_normal((3, 6))
    xp = K.placeholder(shape=(3, 6), dtype="float64")
    s = K.variable(matrix, dtype="float64")
    loss2 = K.sum(K.square(K.dot(xp, s)))
    f = K.function([xp], [loss2] + K.gradients(loss2, [xp]))
    _, g = f([x])
    np.testing.assert_allclose(g, 2 * (x @ dense64) @ dense64.T, rtol=1e-10)
    np.testing.assert_allclose(g, central_difference(lambda v: f([v])[0], x), rtol=1e-6, atol=1e-8)


def test_other_ops_refuse_sparse_operands():
    matrix, _ = _matrix()
    v = K.variable(matrix)
    for fn in (K.exp, lambda t: t + 1, lambda t: K.sum(t), lambda t: K.reshape(t, (20,)), lambda t: t[0]):
        with pytest.raises(TypeError, match="K.to_dense"):
            fn(v)


def test_backend_without_sparse_support_is_a_clear_error():
    from keraslite.backend.compiler import Plan
    from keraslite.backend.registry import get_backend_object

    class NoSparse(type(get_backend_object())):
        name = "nosparse"
        supports_sparse = False

    backend = NoSparse()
    matrix, _ = _matrix()
    p = K.placeholder(shape=(None, 5), sparse=True)
    with pytest.raises(ValueError, match="'nosparse' backend has no sparse tensor support"):
        Plan(backend, [p], [K.dot(p, K.variable(np.ones((5, 2), "float32")))], [])
    with pytest.raises(ValueError, match="'nosparse' backend has no sparse tensor support"):
        K.variable(matrix).native(backend)


def test_sparse_variable_moves_between_backends_and_set_value():
    import keraslite
    matrix, dense = _matrix(seed=13)
    v = K.variable(matrix)
    for name in keraslite.available_backends():
        with keraslite.use_backend(name):
            np.testing.assert_array_equal(K.eval(K.to_dense(v)), dense)
    _, other = _matrix(seed=14)
    K.set_value(v, sp.csr_matrix(other))
    np.testing.assert_array_equal(K.eval(v), other)
    with pytest.raises(ValueError, match="shape"):
        K.set_value(v, sp.csr_matrix((2, 2), dtype="float32"))


def test_model_with_sparse_input_fits_and_predicts():
    from keraslite import models, optimizers
    from keraslite.layers import Dense, Input
    rng = np.random.default_rng(15)
    dense = ((rng.random((48, 20)) < 0.15) * rng.random((48, 20))).astype("float32")
    x = sp.csr_matrix(dense)
    y = dense @ rng.standard_normal((20, 1))
    inp = Input(shape=(20,), sparse=True)
    assert K.is_sparse(inp)
    model = models.Model(inp, Dense(1)(inp))
    model.compile(optimizers.Adam(0.05), "mse")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0, validation_data=(x[:8], y[:8]))
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x), dense @ kernel + bias, rtol=1e-5, atol=1e-5)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(np.mean((dense @ kernel + bias - y) ** 2)),
                                                           rel=1e-4)
    assert model.layers[0].get_config()["sparse"] is True
    with pytest.raises(ValueError, match="sparse input is 2-D"):
        Input(shape=(3, 4), sparse=True)

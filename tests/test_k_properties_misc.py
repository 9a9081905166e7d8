"""Property-based tests of the remaining K functions that take arrays: CTC loss and decoding
(against brute force over every alignment of a short sequence), the random generators, the
constructors and the introspection functions."""
import itertools

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from keraslite import backend as K  # noqa: E402
from k_props import check, count, float_dtype, run, seed, shapes  # noqa: E402

pytestmark = pytest.mark.usefixtures("kbackend")

FEW = settings(max_examples=max(1, settings.default.max_examples // 2))
EPS = 1e-7  # K.epsilon()


def _collapse(path, blank):
    """CTC's many-to-one map: merge repeats, then drop blanks."""
    out, prev = [], None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return tuple(out)


def _label_probs(p, length):
    """{labelling: probability} over every alignment of the first `length` steps, with the
    per-step distribution log(p + eps) renormalised over the classes (TensorFlow's ctc_loss)."""
    q = (p[:length] + EPS) / np.sum(p[:length] + EPS, axis=-1, keepdims=True)
    blank = p.shape[-1] - 1
    probs = {}
    for path in itertools.product(range(p.shape[-1]), repeat=length):
        lab = _collapse(path, blank)
        probs[lab] = probs.get(lab, 0.0) + float(np.prod(q[np.arange(length), path]))
    return probs


@st.composite
def _ctc_case(draw):
    n = draw(st.integers(1, 3))
    t = draw(st.integers(1, 4))
    c = draw(st.integers(2, 3))  # the last class is the blank
    s = draw(seed)
    rng = np.random.default_rng(s)
    p = rng.dirichlet(np.ones(c), size=(n, t))
    max_len = draw(st.integers(1, 3))
    labels = rng.integers(0, c - 1, size=(n, max_len))
    label_len = rng.integers(0, max_len + 1, size=(n, 1))
    input_len = rng.integers(1, t + 1, size=(n, 1))
    return p, labels, label_len, input_len


@FEW
@given(case=_ctc_case(), dtype=st.sampled_from(["float32", "float64"]))
def test_ctc_batch_cost(case, dtype):
    """-log of the total probability of the alignments that collapse to the label (inf if none)."""
    p, labels, label_len, input_len = case
    p = p.astype(dtype)

    def ref(pp, lab, ll, il):
        out = []
        for i in range(pp.shape[0]):
            target = tuple(int(v) for v in lab[i, :int(ll[i, 0])])
            prob = _label_probs(pp[i], int(il[i, 0])).get(target, 0.0)
            out.append(-np.log(prob) if prob > 0 else np.inf)
        return np.array(out).reshape(-1, 1)
    run(lambda a, b, c, d: K.ctc_batch_cost(b, a, d, c), ref,
        [p, labels.astype("int32"), label_len.astype("int32"), input_len.astype("int32")], dtype,
        tol=(1e-4, 1e-5) if dtype == "float32" else (1e-9, 1e-10))


@FEW
@given(case=_ctc_case())
def test_ctc_decode_greedy(case):
    """Best path: argmax per step, repeats merged, blanks dropped, padded with -1; the score is
    minus the sum of the per-step largest log(p + eps)."""
    p, _, _, input_len = case
    blank = p.shape[-1] - 1
    count()
    decoded, logp = K.ctc_decode(K.variable(p), K.constant(input_len[:, 0].astype("int32")), greedy=True)
    got, got_logp = K.eval(decoded[0]), K.eval(logp)
    seqs = [_collapse(np.argmax(p[i, :int(input_len[i, 0])], axis=-1).tolist(), blank) for i in range(len(p))]
    width = max(len(q) for q in seqs)
    want = np.full((len(p), width), -1, dtype=np.int64)
    for i, q in enumerate(seqs):
        want[i, :len(q)] = q
    check(got, want, "int64")
    score = [-np.sum(np.max(np.log(p[i, :int(input_len[i, 0])] + EPS), axis=-1)) for i in range(len(p))]
    check(got_logp, np.array(score).reshape(-1, 1), K.floatx(), tol=(1e-5, 1e-5))


@FEW
@given(case=_ctc_case())
def test_ctc_decode_beam_finds_the_most_probable_labelling(case):
    """A beam wider than every prefix of a short sequence is exact: the most probable labelling
    and its log-probability."""
    p, _, _, input_len = case
    count()
    decoded, logp = K.ctc_decode(K.variable(p), K.constant(input_len[:, 0].astype("int32")), greedy=False,
                                 beam_width=100, top_paths=1)
    got, got_logp = K.eval(decoded[0]), K.eval(logp)
    for i in range(len(p)):
        probs = _label_probs(p[i], int(input_len[i, 0]))
        ranked = sorted(probs.values(), reverse=True)
        if len(ranked) > 1 and ranked[0] - ranked[1] < 1e-6:
            continue  # a tie: either labelling is right
        best = max(probs, key=probs.get)
        row = tuple(int(v) for v in got[i] if v >= 0)
        assert row == best, f"sample {i}: decoded {row}, most probable {best}"
        np.testing.assert_allclose(got_logp[i, 0], np.log(probs[best]), rtol=1e-4, atol=1e-5)


@given(shape=shapes(), dtype=float_dtype, s=st.integers(0, 1000),
       which=st.sampled_from(["uniform", "normal", "truncated", "binomial"]))
def test_random_generators(shape, dtype, s, which):
    """Shape and dtype as asked, values in the distribution's support, the same seed the same
    values."""
    count()
    make = {"uniform": lambda: K.random_uniform(shape, -1.5, 2.0, dtype=dtype, seed=s),
            "normal": lambda: K.random_normal(shape, 0.5, 2.0, dtype=dtype, seed=s),
            "truncated": lambda: K.truncated_normal(shape, 0.5, 2.0, dtype=dtype, seed=s),
            "binomial": lambda: K.random_binomial(shape, 0.3, dtype=dtype, seed=s)}[which]
    a, b = K.eval(make()), K.eval(make())
    assert a.shape == shape and a.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(a, b)
    a64 = a.astype(np.float64)
    assert np.all(np.isfinite(a64))
    if which == "uniform":
        assert np.all((a64 >= -1.5) & (a64 <= 2.0))
    elif which == "truncated":
        assert np.all(np.abs(a64 - 0.5) <= 4.0 * (1 + 1e-3))
    elif which == "binomial":
        assert np.all((a64 == 0) | (a64 == 1))


@given(shape=shapes(), dtype=st.sampled_from(["float16", "float32", "float64", "int32", "bool"]), s=seed)
def test_introspection(shape, dtype, s):
    """shape/int_shape/ndim/size/count_params/dtype of a variable, and the value of K.shape."""
    count()
    x = (np.random.default_rng(s).integers(0, 2, size=shape)).astype(dtype)
    v = K.variable(x, dtype=dtype)
    assert K.int_shape(v) == shape and K.ndim(v) == len(shape) and K.dtype(v) == dtype
    assert K.count_params(v) == int(np.prod(shape))
    check(K.eval(K.shape(v)), np.array(shape, dtype=np.int32), "int32")
    check(K.eval(K.size(v)), np.array(int(np.prod(shape)), dtype=np.int32), "int32")
    check(K.eval(K.stop_gradient(v)), x, dtype)
    check(K.eval(K.identity(v)), x, dtype)


@given(shape=shapes(), dtype=float_dtype, fill=st.sampled_from(["zeros", "ones", "constant"]))
def test_constructors(shape, dtype, fill):
    count()
    if fill == "constant":
        t = K.constant(1.25, dtype=dtype, shape=shape)
        want = np.full(shape, 1.25)
    else:
        t = getattr(K, fill)(shape, dtype=dtype)
        want = np.zeros(shape) if fill == "zeros" else np.ones(shape)
    check(K.eval(t), want, dtype, static=K.int_shape(t))


@given(n=st.integers(0, 4), m=st.one_of(st.none(), st.integers(0, 4)), dtype=float_dtype)
def test_eye(n, m, dtype):
    count()
    t = K.eye(n if m is None else (n, m), dtype=dtype)
    check(K.eval(t), np.eye(n, n if m is None else m), dtype)


@given(shape=shapes(), src=st.sampled_from(["float64", "int32", "bool"]), fx=float_dtype, s=seed)
def test_cast_to_floatx_and_print_tensor(shape, src, fx, s):
    """cast_to_floatx: a NumPy array of floatx; print_tensor: the same values (it only prints)."""
    count()
    x = np.random.default_rng(s).integers(0, 3, size=shape).astype(src)
    K.set_floatx(fx)  # undone by the conftest's config fixture
    got = K.cast_to_floatx(x)
    assert isinstance(got, np.ndarray)
    check(got, x.astype(fx), fx)
    check(K.eval(K.print_tensor(K.variable(got), message="x:")), x.astype(fx), fx)


@given(shape=shapes(max_rank=3), s=st.integers(0, 1000), dtype=float_dtype)
def test_random_variables(shape, s, dtype):
    count()
    u = K.random_uniform_variable(shape, -2.0, 3.0, dtype=dtype, seed=s)
    nrm = K.random_normal_variable(shape, 1.0, 0.5, dtype=dtype, seed=s)
    for v in (u, nrm):
        assert K.is_variable(v) and K.int_shape(v) == shape and K.get_variable_shape(v) == shape
        assert K.dtype(v) == dtype
    a = K.get_value(u).astype(np.float64)
    assert np.all((a >= -2.0) & (a <= 3.0))
    assert np.all(np.isfinite(K.get_value(nrm).astype(np.float64)))
    np.testing.assert_array_equal(K.get_value(K.random_uniform_variable(shape, -2.0, 3.0, dtype=dtype, seed=s)),
                                  K.get_value(u))


@given(n=st.integers(0, 3), width=st.integers(0, 4), s=seed, dtype=st.sampled_from(["int32", "int64"]))
def test_ctc_label_dense_to_sparse(n, width, s, dtype):
    """The (row, column) of the first label_lengths[row] entries of each row, their values, the shape."""
    rng = np.random.default_rng(s)
    labels = rng.integers(0, 5, size=(n, width)).astype(dtype)
    lengths = rng.integers(0, width + 1, size=(n,)).astype("int32")
    count()
    idx, vals, dense_shape = K.ctc_label_dense_to_sparse(K.variable(labels, dtype=dtype), K.variable(lengths, dtype="int32"))
    want_idx = np.array([(r, c) for r in range(n) for c in range(lengths[r])], dtype=np.int64).reshape(-1, 2)
    check(K.eval(idx), want_idx, "int64")
    check(K.eval(vals), labels[want_idx[:, 0], want_idx[:, 1]] if len(want_idx) else np.zeros(0, dtype), dtype)
    check(K.eval(dense_shape), np.array([n, width], dtype=np.int64), "int64")

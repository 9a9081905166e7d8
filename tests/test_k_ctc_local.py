"""K.ctc_batch_cost / ctc_decode / ctc_label_dense_to_sparse, K.local_conv1d / local_conv2d and the
LocallyConnected1D/2D layers, and the TF-plumbing names (get_session, control_dependencies, ...).

References are independent NumPy code written here: a brute-force sum over every CTC alignment
(tiny cases), a plain per-sample forward recursion (larger ones), a greedy decoder, and loop
versions of the locally connected convolutions."""
import itertools
import json
import warnings

import numpy as np
import pytest

from k_helpers import assert_close, check_grad
from keraslite import backend as K
from keraslite import layers as L

pytestmark = pytest.mark.usefixtures("kbackend")

EPS = 1e-7


# =============================================================================================
# NumPy references


def _normalised_log(probs):
    """log(p + eps) renormalised over the classes (what TF's ctc_loss does with its inputs)."""
    lp = np.log(np.asarray(probs, np.float64) + EPS)
    return lp - np.log(np.exp(lp).sum(-1, keepdims=True))


def _collapse(path, blank):
    out, prev = [], None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


def ctc_brute(probs, labels, in_len, lab_len):
    """-log sum over every length-T path that collapses to the labels."""
    lp = _normalised_log(probs)
    out = []
    for n in range(lp.shape[0]):
        t, c = int(in_len[n]), lp.shape[2]
        target = list(labels[n][:lab_len[n]])
        total = 0.0
        for path in itertools.product(range(c), repeat=t):
            if _collapse(path, c - 1) == target:
                total += np.exp(sum(lp[n, i, k] for i, k in enumerate(path)))
        out.append(-np.log(total) if total > 0 else np.inf)
    return np.array(out)[:, None]


def ctc_forward(probs, labels, in_len, lab_len):
    """A plain per-sample, per-position forward recursion in probability space (float64, scaled)."""
    lp = _normalised_log(probs)
    out = []
    for n in range(lp.shape[0]):
        y = np.exp(lp[n])
        c = y.shape[1]
        blank = c - 1
        ext = [blank]
        for k in labels[n][:lab_len[n]]:
            ext += [int(k), blank]
        s_len = len(ext)
        alpha = np.zeros(s_len)
        alpha[0] = y[0, blank]
        if s_len > 1:
            alpha[1] = y[0, ext[1]]
        logscale = 0.0
        for t in range(1, int(in_len[n])):
            new = np.zeros(s_len)
            for s in range(s_len):
                a = alpha[s] + (alpha[s - 1] if s >= 1 else 0.0)
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    a += alpha[s - 2]
                new[s] = a * y[t, ext[s]]
            z = new.sum()
            logscale += np.log(z)
            alpha = new / z
        p = alpha[-1] + (alpha[-2] if s_len > 1 else 0.0)
        out.append(-(np.log(p) + logscale))
    return np.array(out)[:, None]


def greedy_ref(probs, in_len):
    lp = np.log(np.asarray(probs, np.float64) + EPS)
    blank = lp.shape[2] - 1
    seqs, scores = [], []
    for n in range(lp.shape[0]):
        best = lp[n, :in_len[n]].argmax(-1)
        seqs.append(_collapse(list(best), blank))
        scores.append(-lp[n, :in_len[n]].max(-1).sum())
    width = max([len(s) for s in seqs] + [0])
    dense = np.full((len(seqs), width), -1, dtype=np.int64)
    for n, s in enumerate(seqs):
        dense[n, :len(s)] = s
    return dense, np.array(scores)[:, None]


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ctc_case(rng, n, t, c, max_label, dtype=np.float32):
    probs = _softmax(rng.standard_normal((n, t, c)) * 1.5).astype(dtype)
    lab_len = rng.integers(0, max_label + 1, size=n)
    labels = np.full((n, max_label), -1, dtype=np.int32)
    for i in range(n):
        labels[i, :lab_len[i]] = rng.integers(0, c - 1, size=lab_len[i])
    in_len = rng.integers(max(1, max_label), t + 1, size=n)
    return probs, labels, in_len, lab_len


# =============================================================================================
# ctc_batch_cost


def test_ctc_batch_cost_keras_reference_values():
    labels = np.asarray([[0, 1, 2, 1, 0], [0, 1, 1, 0, -1]])
    inputs = np.asarray(
        [[[0.633766, 0.221185, 0.0917319, 0.0129757, 0.0142857, 0.0260553],
          [0.111121, 0.588392, 0.278779, 0.0055756, 0.00569609, 0.010436],
          [0.0357786, 0.633813, 0.321418, 0.00249248, 0.00272882, 0.0037688],
          [0.0663296, 0.643849, 0.280111, 0.00283995, 0.0035545, 0.00331533],
          [0.458235, 0.396634, 0.123377, 0.00648837, 0.00903441, 0.00623107]],
         [[0.30176, 0.28562, 0.0831517, 0.0862751, 0.0816851, 0.161508],
          [0.24082, 0.397533, 0.0557226, 0.0546814, 0.0557528, 0.19549],
          [0.230246, 0.450868, 0.0389607, 0.038309, 0.0391602, 0.202456],
          [0.280884, 0.429522, 0.0326593, 0.0339046, 0.0326856, 0.190345],
          [0.423286, 0.315517, 0.0338439, 0.0393744, 0.0339315, 0.154046]]], dtype=np.float32)
    res = K.eval(K.ctc_batch_cost(K.variable(labels, dtype="int32"), K.variable(inputs),
                                  K.variable([[5], [5]], dtype="int32"), K.variable([[5], [4]], dtype="int32")))
    assert res.shape == (2, 1) and res.dtype == np.float32
    np.testing.assert_allclose(res[:, 0], [3.34211, 5.42262], atol=1e-5)
    one = K.eval(K.ctc_batch_cost(labels[:1], inputs[:1], np.array([[5]]), np.array([[5]])))
    np.testing.assert_allclose(one[:, 0], [3.34211], atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_ctc_batch_cost_vs_brute_force(seed):
    rng = np.random.default_rng(seed)
    t, c = (5, 3) if seed % 2 == 0 else (4, 3)
    probs, labels, in_len, lab_len = _ctc_case(rng, 3, t, c, 2)
    want = ctc_brute(probs, labels, in_len, lab_len)
    yt, yp = K.placeholder((None, 2), dtype="int32"), K.placeholder((None, t, c))
    il, ll = K.placeholder((None, 1), dtype="int32"), K.placeholder((None, 1), dtype="int32")
    out = K.ctc_batch_cost(yt, yp, il, ll)
    assert K.int_shape(out) == (None, 1)
    got = K.function([yt, yp, il, ll], [out])([labels, probs, in_len[:, None], lab_len[:, None]])[0]
    assert_close(got, want, rtol=1e-5, atol=1e-5, dtype="float32")


def test_ctc_batch_cost_repeated_labels_and_lengths():
    # a repeated label needs a blank in between: T=3 fits "0 0" (0 b 0) but T=2 cannot
    probs = _softmax(np.random.default_rng(3).standard_normal((2, 3, 3))).astype(np.float32)
    labels = np.array([[0, 0], [0, 0]], np.int32)
    got = K.eval(K.ctc_batch_cost(labels, probs, np.array([[3], [2]]), np.array([[2], [2]])))
    want3 = ctc_brute(probs[:1], labels[:1], [3], [2])
    np.testing.assert_allclose(got[0], want3[0], rtol=1e-5)
    assert np.isinf(got[1, 0]) and got[1, 0] > 0
    # an empty label: only the all-blank path
    got = K.eval(K.ctc_batch_cost(labels[:1], probs[:1], np.array([[3]]), np.array([[0]])))
    lp = _normalised_log(probs[0])
    np.testing.assert_allclose(got[0, 0], -lp[:, 2].sum(), rtol=1e-5)


def test_ctc_batch_cost_vs_forward_recursion_larger():
    rng = np.random.default_rng(7)
    probs, labels, in_len, lab_len = _ctc_case(rng, 6, 30, 8, 9)
    want = ctc_forward(probs, labels, in_len, lab_len)
    got = K.eval(K.ctc_batch_cost(K.variable(labels, dtype="int32"), K.variable(probs),
                                  K.variable(in_len[:, None], dtype="int32"),
                                  K.variable(lab_len[:, None], dtype="int32")))
    assert_close(got, want, rtol=1e-4, atol=1e-4)
    # float labels (as a Keras model feeds y_true) and (N,) lengths work too
    got2 = K.eval(K.ctc_batch_cost(labels.astype(np.float32), probs, in_len, lab_len))
    assert_close(got2, want, rtol=1e-4, atol=1e-4)


def test_ctc_batch_cost_gradient_vs_finite_differences():
    K.set_floatx("float64")
    rng = np.random.default_rng(11)
    probs, labels, in_len, lab_len = _ctc_case(rng, 3, 5, 4, 2, dtype=np.float64)
    in_len[0] = 4  # one sample shorter than T: no gradient at its last step
    lab_len[1] = 2
    labels[1, :2] = [1, 1]

    def build(yp):
        return K.ctc_batch_cost(K.constant(labels, dtype="int32"), yp, K.constant(in_len[:, None], dtype="int32"),
                                K.constant(lab_len[:, None], dtype="int32"))

    sym = check_grad(build, [probs], eps=1e-6, rtol=1e-4, atol=1e-6)
    assert np.all(sym[0][0, 4] == 0)


def test_ctc_loss_gradient_wrt_log_probs_is_posterior():
    # d loss / d logits of softmax(logits) sums to (softmax - posterior) over the classes: sums to 0
    K.set_floatx("float64")
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((2, 6, 4))
    labels = np.array([[0, 2, 1], [1, 1, -1]], np.int32)
    x = K.variable(logits, dtype="float64")
    loss = K.ctc_batch_cost(labels, K.softmax(x), np.array([[6], [6]]), np.array([[3], [2]]))
    g = K.eval(K.gradients(K.sum(loss), [x])[0])
    np.testing.assert_allclose(g.sum(-1), 0.0, atol=1e-6)


def test_ctc_batch_cost_trains():
    # a few steps of gradient descent on the logits lower the loss
    rng = np.random.default_rng(2)
    x = K.variable(rng.standard_normal((2, 8, 5)).astype(np.float32))
    labels = np.array([[0, 1, 2], [3, 3, -1]], np.int32)
    loss = K.mean(K.ctc_batch_cost(labels, K.softmax(x), np.array([[8], [8]]), np.array([[3], [2]])))
    grad = K.gradients(loss, [x])[0]
    f = K.function([], [loss], updates=[K.update_sub(x, 0.5 * grad)])
    first = f([])[0]
    for _ in range(10):
        last = f([])[0]
    assert last < first * 0.7


def test_ctc_batch_cost_errors():
    probs = np.full((1, 3, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError):
        K.ctc_batch_cost(np.zeros((1, 2)), probs[0], np.array([[3]]), np.array([[1]]))
    with pytest.raises(ValueError):  # label 2 is the blank
        K.eval(K.ctc_batch_cost(np.array([[2]]), probs, np.array([[3]]), np.array([[1]])))


# =============================================================================================
# ctc_decode / ctc_label_dense_to_sparse


def test_ctc_decode_greedy_vs_numpy():
    rng = np.random.default_rng(0)
    probs = _softmax(rng.standard_normal((5, 12, 4)) * 3).astype(np.float32)
    in_len = np.array([12, 7, 1, 12, 3])
    yp, il = K.placeholder((None, 12, 4)), K.placeholder((None,), dtype="int32")
    decoded, logp = K.ctc_decode(yp, il)
    assert isinstance(decoded, list) and len(decoded) == 1
    assert K.int_shape(decoded[0]) == (None, None) and K.int_shape(logp) == (None, 1)
    d, s = K.function([yp, il], [decoded[0], logp])([probs, in_len])
    want_d, want_s = greedy_ref(probs, in_len)
    np.testing.assert_array_equal(d, want_d)
    assert d.dtype == np.int64
    np.testing.assert_allclose(s, want_s, rtol=1e-5)
    # top_paths does not matter for greedy decoding; (N, 1) lengths are accepted
    d2, _ = K.ctc_decode(probs, in_len[:, None], greedy=True, top_paths=3)
    assert len(d2) == 1
    np.testing.assert_array_equal(K.eval(d2[0]), want_d)


def test_ctc_decode_beam_search_tf_reference():
    m0 = np.asarray(
        [[0.30999, 0.309938, 0.0679938, 0.0673362, 0.0708352, 0.173908],
         [0.215136, 0.439699, 0.0370931, 0.0393967, 0.0381581, 0.230517],
         [0.199959, 0.489485, 0.0233221, 0.0251417, 0.0233289, 0.238763],
         [0.279611, 0.452966, 0.0204795, 0.0209126, 0.0194803, 0.20655],
         [0.51286, 0.288951, 0.0243026, 0.0220788, 0.0219297, 0.129878]], dtype=np.float32)
    inputs = np.concatenate([m0, np.zeros((2, 6), np.float32)])[None]
    decoded, logp = K.ctc_decode(K.variable(inputs), K.variable(np.array([5]), dtype="int32"), greedy=False,
                                 beam_width=2, top_paths=2)
    assert len(decoded) == 2
    np.testing.assert_array_equal(K.eval(decoded[0]), [[1, 0]])
    np.testing.assert_array_equal(K.eval(decoded[1]), [[0, 1, 0]])
    np.testing.assert_allclose(K.eval(logp), [[-3.5821197, -3.777835]], rtol=1e-6, atol=1e-6)


def test_ctc_decode_beam_differs_from_greedy():
    # best path: blank blank -> the empty labelling (p = 0.36); "a" collects aa + a_ + _a = 0.16 + 0.24 + 0.24
    probs = np.array([[[0.4, 0.6], [0.4, 0.6]]], np.float32)
    g, _ = K.ctc_decode(probs, np.array([2]), greedy=True)
    assert K.eval(g[0]).shape == (1, 0)
    b, logp = K.ctc_decode(probs, np.array([2]), greedy=False, beam_width=10, top_paths=2)
    np.testing.assert_array_equal(K.eval(b[0]), [[0]])
    assert K.eval(b[1]).shape == (1, 0)  # the empty labelling comes second
    np.testing.assert_allclose(K.eval(logp), np.log([[0.64, 0.36]]), rtol=1e-5)


def test_ctc_decode_beam_repeats_and_padding():
    # "a blank a" decodes to [0, 0]; merge_repeated=True merges it into [0]
    probs = np.array([[[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]],
                      [[0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]]], np.float32)
    d, _ = K.ctc_decode(probs, np.array([3, 2]), greedy=False, beam_width=5)
    np.testing.assert_array_equal(K.eval(d[0]), [[0, 0], [1, -1]])
    d, _ = K.ctc_decode(probs, np.array([3, 2]), greedy=False, beam_width=5, merge_repeated=True)
    np.testing.assert_array_equal(K.eval(d[0]), [[0], [1]])
    with pytest.raises(ValueError):
        K.ctc_decode(probs, np.array([3, 2]), greedy=False, beam_width=2, top_paths=3)


def test_ctc_decode_beam_matches_exhaustive_on_tiny_cases():
    # with a beam wider than every prefix set, the best labelling is the exact arg-max
    rng = np.random.default_rng(4)
    probs = _softmax(rng.standard_normal((3, 4, 3)) * 2).astype(np.float32)
    d, logp = K.ctc_decode(probs, np.array([4, 4, 3]), greedy=False, beam_width=100, top_paths=1)
    d, logp = K.eval(d[0]), K.eval(logp)
    lp = np.log(probs.astype(np.float64) + EPS)
    lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    for n, t in enumerate([4, 4, 3]):
        scores = {}
        for path in itertools.product(range(3), repeat=t):
            key = tuple(_collapse(path, 2))
            scores[key] = scores.get(key, 0.0) + np.exp(sum(lp[n, i, k] for i, k in enumerate(path)))
        best = max(scores, key=scores.get)
        assert tuple(v for v in d[n] if v != -1) == best
        np.testing.assert_allclose(logp[n, 0], np.log(scores[best]), rtol=1e-5)


def test_ctc_label_dense_to_sparse():
    labels = np.array([[3, 1, 4, 1], [5, 9, -1, -1], [2, -1, -1, -1]], np.int32)
    indices, values, shape = K.ctc_label_dense_to_sparse(labels, np.array([4, 2, 1]))
    assert K.int_shape(indices) == (None, 2)
    np.testing.assert_array_equal(K.eval(indices), [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [2, 0]])
    np.testing.assert_array_equal(K.eval(values), [3, 1, 4, 1, 5, 9, 2])
    np.testing.assert_array_equal(K.eval(shape), [3, 4])


# =============================================================================================
# local_conv1d / local_conv2d


def local1d_ref(x, kernel, k, s, data_format):
    if data_format == "channels_first":
        x = x.transpose(0, 2, 1)
    n, steps, c = x.shape
    out_len = kernel.shape[0]
    out = np.zeros((n, out_len, kernel.shape[2]))
    for i in range(out_len):
        if data_format == "channels_first":
            patch = x[:, i * s:i * s + k, :].transpose(0, 2, 1).reshape(n, -1)
        else:
            patch = x[:, i * s:i * s + k, :].reshape(n, -1)
        out[:, i, :] = patch @ kernel[i]
    return out.transpose(0, 2, 1) if data_format == "channels_first" else out


def local2d_ref(x, kernel, ks, st, out_shape, data_format):
    if data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    n = x.shape[0]
    rows, cols = out_shape
    out = np.zeros((n, rows, cols, kernel.shape[2]))
    for i in range(rows):
        for j in range(cols):
            patch = x[:, i * st[0]:i * st[0] + ks[0], j * st[1]:j * st[1] + ks[1], :]
            if data_format == "channels_first":
                patch = patch.transpose(0, 3, 1, 2)
            out[:, i, j, :] = patch.reshape(n, -1) @ kernel[i * cols + j]
    return out.transpose(0, 3, 1, 2) if data_format == "channels_first" else out


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("k,s", [(3, 1), (2, 2), (3, 2)])
def test_local_conv1d_vs_numpy(data_format, k, s):
    rng = np.random.default_rng(0)
    steps, c, f = 9, 3, 4
    out_len = (steps - k) // s + 1
    x = rng.standard_normal((2, steps, c) if data_format == "channels_last" else (2, c, steps)).astype(np.float32)
    w = rng.standard_normal((out_len, k * c, f)).astype(np.float32)
    xp = K.placeholder((None,) + x.shape[1:])
    out = K.local_conv1d(xp, K.variable(w), (k,), (s,), data_format=data_format)
    want = local1d_ref(x.astype(np.float64), w.astype(np.float64), k, s, data_format)
    assert K.int_shape(out) == (None,) + want.shape[1:]
    assert_close(K.function([xp], [out])([x])[0], want, rtol=1e-5, atol=1e-5, dtype="float32")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("ks,st", [((2, 2), (1, 1)), ((3, 2), (2, 1))])
def test_local_conv2d_vs_numpy(data_format, ks, st):
    rng = np.random.default_rng(1)
    h, w_, c, f = 6, 5, 2, 3
    out_shape = ((h - ks[0]) // st[0] + 1, (w_ - ks[1]) // st[1] + 1)
    shape = (2, h, w_, c) if data_format == "channels_last" else (2, c, h, w_)
    x = rng.standard_normal(shape).astype(np.float32)
    kern = rng.standard_normal((out_shape[0] * out_shape[1], ks[0] * ks[1] * c, f)).astype(np.float32)
    out = K.local_conv2d(K.variable(x), K.variable(kern), ks, st, out_shape, data_format=data_format)
    want = local2d_ref(x.astype(np.float64), kern.astype(np.float64), ks, st, out_shape, data_format)
    assert K.int_shape(out) == want.shape
    assert_close(K.eval(out), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_local_conv_gradients(data_format):
    K.set_floatx("float64")
    rng = np.random.default_rng(2)
    x1 = rng.standard_normal((2, 5, 2) if data_format == "channels_last" else (2, 2, 5))
    w1 = rng.standard_normal((2, 3 * 2, 2))
    check_grad(lambda x, w: K.local_conv1d(x, w, (3,), (2,), data_format=data_format), [x1, w1])
    x2 = rng.standard_normal((2, 4, 3, 2) if data_format == "channels_last" else (2, 2, 4, 3))
    w2 = rng.standard_normal((3 * 2, 2 * 2 * 2, 2))
    check_grad(lambda x, w: K.local_conv2d(x, w, (2, 2), (1, 1), (3, 2), data_format=data_format), [x2, w2])


def test_local_conv_errors():
    x = K.placeholder((None, 6, 2))
    with pytest.raises(ValueError):
        K.local_conv1d(x, K.variable(np.zeros((4, 5, 3))), (3,), (1,))  # features 5 != 3 * 2
    with pytest.raises(ValueError):
        K.local_conv1d(x, K.variable(np.zeros((5, 6, 3))), (3,), (1,))  # 5 windows do not fit
    with pytest.raises(ValueError):
        K.local_conv2d(K.placeholder((None, 4, 4, 1)), K.variable(np.zeros((4, 4, 1))), (2, 2), (1, 1), (2, 2),
                       data_format="channels_middle")


# =============================================================================================
# LocallyConnected1D / 2D


def _run(layer, x):
    inp = L.Input(batch_shape=(None,) + x.shape[1:])
    y = layer(inp)
    out = K.function([inp], [y])([x])[0]
    assert tuple(K.int_shape(y)) == tuple(layer.compute_output_shape(K.int_shape(inp)))
    assert tuple(K.int_shape(y)) == (None,) + out.shape[1:]
    return out


def _roundtrip(layer):
    cfg = layer.get_config()
    cls = type(layer)
    assert cls.from_config(cfg).get_config() == cfg
    js = json.loads(json.dumps(cfg))
    assert json.loads(json.dumps(cls.from_config(js).get_config())) == js
    assert L.deserialize(L.serialize(layer)).get_config() == cfg


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_locally_connected1d_layer(data_format):
    K.set_floatx("float64")
    rng = np.random.default_rng(3)
    layer = L.LocallyConnected1D(4, 3, strides=2, activation="tanh", data_format=data_format,
                                 bias_initializer="glorot_uniform")
    x = rng.standard_normal((3, 9, 2) if data_format == "channels_last" else (3, 2, 9))
    out = _run(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3 * 2, 4) and bias.shape == (4, 4)
    assert [w.name.split("/")[-1].split(":")[0] for w in layer.weights] == ["kernel", "bias"]
    conv = local1d_ref(x, kernel, 3, 2, data_format)
    if data_format == "channels_first":  # Keras's bias_add reshapes the (length, filters) bias
        conv = conv + bias.reshape(1, 4, 4)
    else:
        conv = conv + bias[None]
    assert_close(out, np.tanh(conv), rtol=1e-9, atol=1e-10)
    _roundtrip(layer)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_locally_connected2d_layer(data_format):
    K.set_floatx("float64")
    rng = np.random.default_rng(4)
    layer = L.LocallyConnected2D(3, (2, 3), strides=(2, 1), data_format=data_format,
                                 bias_initializer="random_normal")
    x = rng.standard_normal((2, 5, 4, 2) if data_format == "channels_last" else (2, 2, 5, 4))
    out = _run(layer, x)
    kernel, bias = layer.get_weights()
    assert (layer.output_row, layer.output_col) == (2, 2)
    assert kernel.shape == (2 * 2, 2 * 3 * 2, 3) and bias.shape == (2, 2, 3)
    conv = local2d_ref(x, kernel, (2, 3), (2, 1), (2, 2), data_format)
    if data_format == "channels_first":
        conv = conv + bias.reshape(1, 3, 2, 2)
    else:
        conv = conv + bias[None]
    assert_close(out, conv, rtol=1e-9, atol=1e-10)
    _roundtrip(layer)


def test_locally_connected_no_bias_trains_and_errors():
    K.set_floatx("float64")
    layer = L.LocallyConnected1D(2, 2, use_bias=False, kernel_regularizer="l2")
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    _run(layer, x)
    assert len(layer.get_weights()) == 1 and len(layer.losses) == 1
    inp = L.Input(batch_shape=(None, 5, 3))
    y = layer(inp)
    g = K.gradients(K.sum(y * y), layer.trainable_weights)
    assert K.function([inp], g)([x])[0].shape == (4, 6, 2)
    with pytest.raises(ValueError, match="valid"):
        L.LocallyConnected1D(2, 2, padding="same")
    with pytest.raises(ValueError, match="valid"):
        L.LocallyConnected2D(2, 2, padding="same")
    with pytest.raises(ValueError):
        L.LocallyConnected2D(2, 2)(L.Input(batch_shape=(None, None, 4, 3)))


# =============================================================================================
# TF plumbing


def test_tf_plumbing():
    @K.symbolic
    def f(x):
        return x + 1

    assert K.eager(f) is f and f(1) == 2
    assert K.is_symbolic(K.placeholder((2,))) and K.is_symbolic(K.variable(1.0))
    assert K.is_symbolic(K.variable(1.0) * 2)
    assert not K.is_symbolic(np.zeros(2)) and not K.is_symbolic(3)
    with pytest.raises(RuntimeError, match="K.function"):
        K.get_session()
    with pytest.raises(RuntimeError, match="K.eval"):
        K.get_graph()
    with pytest.warns(UserWarning, match="ignored"):
        K.set_session(object())
    assert K.v1_variable_initialization() is None
    with K.control_dependencies([]):
        pass
    with K.control_dependencies(None):
        pass
    with pytest.raises(NotImplementedError, match="data dependencies"):
        with K.control_dependencies([K.variable(1.0)]):
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        K.v1_variable_initialization()

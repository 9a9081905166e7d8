"""K surface, group 14 beyond switch/in_train_phase: rnn, map_fn, foldl, foldr."""
import numpy as np
import pytest

from keraslite import backend as K
from k_helpers import assert_close, check_grad

pytestmark = pytest.mark.usefixtures("kbackend")

N, T, D, H = 3, 4, 2, 5


def _np_rnn(step, x, initial_states, go_backwards=False, mask=None, constants=()):
    """Independent NumPy reference of Keras 2.3 rnn semantics."""
    states = list(initial_states)
    outs = []
    prev = None
    steps = range(x.shape[1])
    for t in (reversed(steps) if go_backwards else steps):
        out, new_states = step(x[:, t], states + list(constants))
        if mask is not None:
            m = mask[:, t].astype(bool)
            if prev is None:
                prev = np.zeros_like(out)
            out = np.where(m.reshape((-1,) + (1,) * (out.ndim - 1)), out, prev)
            new_states = [np.where(m.reshape((-1,) + (1,) * (s.ndim - 1)), ns, s)
                          for ns, s in zip(new_states, states)]
        prev = out
        states = list(new_states)
        outs.append(out)
    outputs = np.stack(outs, axis=1)
    return outputs[:, -1], outputs, states


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((D, H)).astype(np.float32) * 0.5,
            rng.standard_normal((H, H)).astype(np.float32) * 0.5,
            rng.standard_normal((H,)).astype(np.float32) * 0.5)


def _x(seed=1):
    return np.random.default_rng(seed).standard_normal((N, T, D)).astype(np.float32)


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("use_mask", [False, True])
def test_rnn_simple(unroll, go_backwards, use_mask):
    w, u, b = _weights()
    x = _x()
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 0, 1]], dtype=bool) if use_mask else None
    W, U, B = K.variable(w), K.variable(u), K.variable(b)

    def kstep(x_t, states):
        h = K.tanh(K.dot(x_t, W) + K.dot(states[0], U) + B)
        return h, [h]

    def nstep(x_t, states):
        h = np.tanh(x_t @ w + states[0] @ u + b)
        return h, [h]

    h0 = np.zeros((N, H), np.float32)
    want_last, want_outs, want_states = _np_rnn(nstep, x.astype(np.float64), [h0], go_backwards, mask)

    xp = K.placeholder(shape=(None, T, D))
    hp = K.placeholder(shape=(None, H))
    inputs = [xp, hp]
    feeds = [x, h0]
    kmask = None
    if use_mask:
        kmask = K.placeholder(shape=(None, T), dtype="bool")
        inputs.append(kmask)
        feeds.append(mask)
    last, outs, states = K.rnn(kstep, xp, [hp], go_backwards=go_backwards, mask=kmask, unroll=unroll,
                               input_length=T)
    assert isinstance(states, (list, tuple)) and len(states) == 1
    got = K.function(inputs, [last, outs, states[0]])(feeds)
    assert_close(got[0], want_last, rtol=1e-5, atol=1e-5)
    assert_close(got[1], want_outs, rtol=1e-5, atol=1e-5)
    assert_close(got[2], want_states[0], rtol=1e-5, atol=1e-5)


def test_rnn_two_states_and_constants():
    w, u, b = _weights(2)
    x = _x(3)
    W, U = K.variable(w), K.variable(u)

    def kstep(x_t, states):
        h, c, const = states
        c2 = c * 0.5 + K.dot(x_t, W)
        h2 = K.tanh(c2 + K.dot(h, U) + const)
        return h2 * 2.0, [h2, c2]

    def nstep(x_t, states):
        h, c, const = states
        c2 = c * 0.5 + x_t @ w
        h2 = np.tanh(c2 + h @ u + const)
        return h2 * 2.0, [h2, c2]

    h0 = np.zeros((N, H), np.float32)
    c0 = np.ones((N, H), np.float32)
    const = np.tile(b, (N, 1))
    want = _np_rnn(nstep, x.astype(np.float64), [h0, c0], constants=[const])
    last, outs, states = K.rnn(kstep, K.variable(x), [K.variable(h0), K.variable(c0)],
                               constants=[K.variable(const)])
    got = K.batch_get_value([last, outs, states[0], states[1]])
    assert_close(got[0], want[0], rtol=1e-5, atol=1e-5)
    assert_close(got[1], want[1], rtol=1e-5, atol=1e-5)
    assert_close(got[2], want[2][0], rtol=1e-5, atol=1e-5)
    assert_close(got[3], want[2][1], rtol=1e-5, atol=1e-5)


def test_rnn_rank_too_low_raises():
    def step(x_t, states):
        return x_t, states

    with pytest.raises(ValueError):
        K.rnn(step, K.variable(np.zeros((3, 4))), [K.variable(np.zeros((3,)))])


def test_rnn_gradient_fd():
    K.set_floatx("float64")
    w0, u0, _ = _weights(4)
    x = _x(5).astype(np.float64)

    def build(xt, wt, ut):
        def step(x_t, states):
            h = K.tanh(K.dot(x_t, wt) + K.dot(states[0], ut))
            return h, [h]
        _, outs, _ = K.rnn(step, xt, [K.constant(np.zeros((N, H)), dtype="float64")])
        return outs

    check_grad(build, [x, w0.astype(np.float64), u0.astype(np.float64)])


# ---------------------------------------------------------------------------------------------
# map_fn / foldl / foldr


def test_map_fn_sum_rows():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    out = K.map_fn(K.sum, K.variable(x))
    assert_close(K.eval(out), x.sum(axis=1), rtol=1e-5, atol=1e-6)


def test_map_fn_with_placeholder_and_dtype():
    p = K.placeholder(shape=(None, 3))
    out = K.map_fn(lambda r: K.cast(K.argmax(r), "float32"), p, dtype="float32")
    x = np.array([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]], np.float32)
    assert_close(K.function([p], [out])([x])[0], np.array([1.0, 0.0], np.float32))


def test_map_fn_indexing_variable_with_scalar_tensor():
    v = K.variable(np.array([10.0, 20.0, 30.0]))
    idx = K.variable(np.array([2, 0, 1]), dtype="int32")
    out = K.map_fn(lambda i: K.gather(v, i), idx, dtype="float32")
    assert_close(K.eval(out), np.array([30.0, 10.0, 20.0], np.float32))


def test_foldl_sum_and_initializer():
    x = np.random.default_rng(1).random((10, 3)).astype(np.float32)
    kx = K.variable(x)
    assert_close(K.eval(K.foldl(lambda a, b: a + b, kx)), x.sum(axis=0), rtol=1e-5)
    init = np.ones(3, np.float32)
    assert_close(K.eval(K.foldl(lambda a, b: a + b, kx, initializer=K.variable(init))), x.sum(axis=0) + 1,
                 rtol=1e-5)
    assert_close(K.eval(K.foldl(lambda a, b: a * 0.5 + b, kx)),
                 _fold(lambda a, b: a * 0.5 + b, x), rtol=1e-5)


def test_foldr_walks_right_to_left():
    x = np.array([1e-20, 1e-20, 10, 10, 10], dtype=np.float32)
    vx = K.variable(x)
    p1 = K.eval(K.foldl(lambda a, b: a * b, vx))
    p2 = K.eval(K.foldr(lambda a, b: a * b, vx))
    assert p1 < p2
    assert 9e-38 < p2 <= 1e-37
    y = np.random.default_rng(2).random((6, 2)).astype(np.float32)
    assert_close(K.eval(K.foldr(lambda a, b: a * 0.5 + b, K.variable(y))),
                 _fold(lambda a, b: a * 0.5 + b, y[::-1]), rtol=1e-5)


def _fold(fn, x):
    acc = x[0].astype(np.float64)
    for row in x[1:]:
        acc = fn(acc, row)
    return acc

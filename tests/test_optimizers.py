"""keraslite.optimizers against NumPy transcriptions of the Keras 2 update rules.

Each case trains a tiny linear model y = x.w + b for three steps with
K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b])) and compares the parameters
(and the optimizer's state, in Keras' `weights` order) after every step with the rule written
out below in NumPy, in float64. The references never call keraslite.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import optimizers as O

pytestmark = pytest.mark.usefixtures("kbackend")

RTOL, ATOL = 1e-10, 1e-13
EPS = 1e-7  # K.epsilon() default, which epsilon=None resolves to

# ---------------------------------------------------------------------------------------------
# the model, its data and its gradient (by hand)

_rng = np.random.default_rng(20240611)
W0 = _rng.standard_normal((3, 2))
B0 = _rng.standard_normal(2) * 0.1
# three batches; the later ones are scaled down so gradients shrink (this exercises amsgrad's
# running maximum and makes value clipping bite unevenly)
BATCHES = []
for k, scale in enumerate((1.0, 0.3, 0.05)):
    xb = _rng.standard_normal((5, 3)) * (1 + k)
    yb = _rng.standard_normal((5, 2))
    BATCHES.append((xb * scale, yb * scale))


def np_loss_and_grads(w, b, x, y):
    r = x @ w + b - y
    loss = np.mean(r ** 2)
    dr = 2.0 * r / r.size
    return loss, [x.T @ dr, dr.sum(axis=0)]


# ---------------------------------------------------------------------------------------------
# NumPy references: step(params, grads, it) -> new params, with `it` the pre-step iteration
# count; weights(it) the state in Keras 2.3 order (iterations first)


class Ref:
    clipnorm = None
    clipvalue = None
    constraint = None  # NumPy function applied to the new first parameter (w)
    clipped_norm = clipped_value = constrained = False  # evidence that an option had an effect

    def clip(self, grads):
        if self.clipnorm:
            n = np.sqrt(sum(np.sum(g ** 2) for g in grads))
            if n >= self.clipnorm:
                self.clipped_norm = True
                grads = [g * self.clipnorm / n for g in grads]
        if self.clipvalue:
            if any(np.any(np.abs(g) > self.clipvalue) for g in grads):
                self.clipped_value = True
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def finish(self, params):
        if self.constraint is not None:
            c = self.constraint(params[0])
            if not np.array_equal(c, params[0]):
                self.constrained = True
            params = [c] + params[1:]
        return params

    def lr_at(self, it):
        return self.lr / (1.0 + self.decay * it)


class RefSGD(Ref):
    def __init__(self, lr=0.01, momentum=0.0, decay=0.0, nesterov=False):
        self.lr, self.momentum, self.decay, self.nesterov = lr, momentum, decay, nesterov
        self.m = None

    def step(self, params, grads, it):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
        lr = self.lr_at(it)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            v = self.momentum * self.m[i] - lr * g
            self.m[i] = v
            out.append(p + self.momentum * v - lr * g if self.nesterov else p + v)
        return out

    def weights(self, it):
        return [np.int64(it)] + self.m


class RefRMSprop(Ref):
    def __init__(self, lr=0.001, rho=0.9, eps=EPS, decay=0.0):
        self.lr, self.rho, self.eps, self.decay = lr, rho, eps, decay
        self.a = None

    def step(self, params, grads, it):
        if self.a is None:
            self.a = [np.zeros_like(p) for p in params]
        lr = self.lr_at(it)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.a[i] = self.rho * self.a[i] + (1 - self.rho) * g * g
            out.append(p - lr * g / (np.sqrt(self.a[i]) + self.eps))
        return out

    def weights(self, it):
        return [np.int64(it)] + self.a


class RefAdagrad(Ref):
    def __init__(self, lr=0.01, eps=EPS, decay=0.0):
        self.lr, self.eps, self.decay = lr, eps, decay
        self.a = None

    def step(self, params, grads, it):
        if self.a is None:
            self.a = [np.zeros_like(p) for p in params]
        lr = self.lr_at(it)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.a[i] = self.a[i] + g * g
            out.append(p - lr * g / (np.sqrt(self.a[i]) + self.eps))
        return out

    def weights(self, it):
        return [np.int64(it)] + self.a


class RefAdadelta(Ref):
    def __init__(self, lr=1.0, rho=0.95, eps=EPS, decay=0.0):
        self.lr, self.rho, self.eps, self.decay = lr, rho, eps, decay
        self.a = self.d = None

    def step(self, params, grads, it):
        if self.a is None:
            self.a = [np.zeros_like(p) for p in params]
            self.d = [np.zeros_like(p) for p in params]
        lr = self.lr_at(it)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.a[i] = self.rho * self.a[i] + (1 - self.rho) * g * g
            u = g * np.sqrt(self.d[i] + self.eps) / np.sqrt(self.a[i] + self.eps)
            out.append(p - lr * u)
            self.d[i] = self.rho * self.d[i] + (1 - self.rho) * u * u
        return out

    def weights(self, it):
        return [np.int64(it)] + self.a + self.d


class RefAdam(Ref):
    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, eps=EPS, decay=0.0, amsgrad=False):
        self.lr, self.b1, self.b2, self.eps, self.decay, self.amsgrad = lr, beta_1, beta_2, eps, decay, amsgrad
        self.m = self.v = self.vhat = None
        self.vhat_mattered = False

    def step(self, params, grads, it):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self.vhat = [np.zeros_like(p) if self.amsgrad else np.zeros(1) for p in params]
        t = it + 1
        lr_t = self.lr_at(it) * np.sqrt(1 - self.b2 ** t) / (1 - self.b1 ** t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            if self.amsgrad:
                self.vhat[i] = np.maximum(self.vhat[i], self.v[i])
                if np.any(self.vhat[i] > self.v[i]):
                    self.vhat_mattered = True
                denom = np.sqrt(self.vhat[i]) + self.eps
            else:
                denom = np.sqrt(self.v[i]) + self.eps
            out.append(p - lr_t * self.m[i] / denom)
        return out

    def weights(self, it):
        return [np.int64(it)] + self.m + self.v + self.vhat


class RefAdamax(Ref):
    def __init__(self, lr=0.002, beta_1=0.9, beta_2=0.999, eps=EPS, decay=0.0):
        self.lr, self.b1, self.b2, self.eps, self.decay = lr, beta_1, beta_2, eps, decay
        self.m = self.u = None

    def step(self, params, grads, it):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.u = [np.zeros_like(p) for p in params]
        t = it + 1
        lr_t = self.lr_at(it) / (1 - self.b1 ** t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.u[i] = np.maximum(self.b2 * self.u[i], np.abs(g))
            out.append(p - lr_t * self.m[i] / (self.u[i] + self.eps))
        return out

    def weights(self, it):
        return [np.int64(it)] + self.m + self.u


class RefNadam(Ref):
    def __init__(self, lr=0.002, beta_1=0.9, beta_2=0.999, eps=EPS, schedule_decay=0.004):
        self.lr, self.b1, self.b2, self.eps, self.sd = lr, beta_1, beta_2, eps, schedule_decay
        self.m = self.v = None
        self.schedule = 1.0

    def mu(self, t):
        return self.b1 * (1 - 0.5 * 0.96 ** (t * self.sd))

    def step(self, params, grads, it):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        t = it + 1
        mu_t, mu_next = self.mu(t), self.mu(t + 1)
        s_t = self.schedule * mu_t
        s_next = s_t * mu_next
        self.schedule = s_t
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g_hat = g / (1 - s_t)
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            m_hat = self.m[i] / (1 - s_next)
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            v_hat = self.v[i] / (1 - self.b2 ** t)
            m_bar = (1 - mu_t) * g_hat + mu_next * m_hat
            out.append(p - self.lr * m_bar / (np.sqrt(v_hat) + self.eps))
        return out

    def weights(self, it):
        return [np.int64(it), np.float64(self.schedule)] + self.m + self.v


def _with(ref, **attrs):
    for k, v in attrs.items():
        setattr(ref, k, v)
    return ref


def _clip_constraint(t):
    return K.clip(t, -0.35, 0.35)


def _np_clip_constraint(a):
    return np.clip(a, -0.35, 0.35)


# (id, keraslite factory, reference factory, keraslite constraint for w, property the reference must show)
CASES = [
    ("sgd", lambda: O.SGD(lr=0.1), lambda: RefSGD(lr=0.1), None, None),
    ("sgd-positional", lambda: O.SGD(0.2), lambda: RefSGD(lr=0.2), None, None),
    ("sgd-momentum", lambda: O.SGD(learning_rate=0.1, momentum=0.9), lambda: RefSGD(0.1, 0.9), None, None),
    ("sgd-nesterov", lambda: O.SGD(lr=0.05, momentum=0.8, nesterov=True),
     lambda: RefSGD(0.05, 0.8, nesterov=True), None, None),
    ("sgd-decay", lambda: O.SGD(lr=0.1, momentum=0.5, decay=0.7), lambda: RefSGD(0.1, 0.5, decay=0.7), None, None),
    ("rmsprop", lambda: O.RMSprop(lr=0.01, rho=0.8), lambda: RefRMSprop(0.01, 0.8), None, None),
    ("rmsprop-decay-eps", lambda: O.RMSprop(lr=0.01, epsilon=1e-3, decay=0.3),
     lambda: RefRMSprop(0.01, eps=1e-3, decay=0.3), None, None),
    ("adagrad", lambda: O.Adagrad(lr=0.1), lambda: RefAdagrad(0.1), None, None),
    ("adagrad-decay", lambda: O.Adagrad(lr=0.1, decay=1.0), lambda: RefAdagrad(0.1, decay=1.0), None, None),
    ("adadelta", lambda: O.Adadelta(), lambda: RefAdadelta(), None, None),
    ("adadelta-rho-decay", lambda: O.Adadelta(lr=0.5, rho=0.8, epsilon=1e-4, decay=0.2),
     lambda: RefAdadelta(0.5, 0.8, eps=1e-4, decay=0.2), None, None),
    ("adam", lambda: O.Adam(lr=0.01), lambda: RefAdam(0.01), None, None),
    ("adam-betas-decay", lambda: O.Adam(lr=0.02, beta_1=0.7, beta_2=0.9, decay=0.4),
     lambda: RefAdam(0.02, 0.7, 0.9, decay=0.4), None, None),
    ("adam-amsgrad", lambda: O.Adam(lr=0.01, beta_2=0.5, amsgrad=True),
     lambda: RefAdam(0.01, beta_2=0.5, amsgrad=True), None, "vhat_mattered"),
    ("adamax", lambda: O.Adamax(lr=0.01), lambda: RefAdamax(0.01), None, None),
    ("adamax-decay", lambda: O.Adamax(lr=0.01, beta_1=0.5, beta_2=0.8, decay=0.5),
     lambda: RefAdamax(0.01, 0.5, 0.8, decay=0.5), None, None),
    ("nadam", lambda: O.Nadam(lr=0.01), lambda: RefNadam(0.01), None, None),
    ("nadam-schedule", lambda: O.Nadam(lr=0.01, beta_1=0.8, schedule_decay=0.3),
     lambda: RefNadam(0.01, 0.8, schedule_decay=0.3), None, None),
    ("sgd-clipnorm", lambda: O.SGD(lr=0.1, clipnorm=0.5), lambda: _with(RefSGD(0.1), clipnorm=0.5), None,
     "clipped_norm"),
    ("adam-clipnorm-large", lambda: O.Adam(lr=0.01, clipnorm=1e6),
     lambda: _with(RefAdam(0.01), clipnorm=1e6), None, None),
    ("sgd-clipvalue", lambda: O.SGD(lr=0.1, momentum=0.5, clipvalue=0.2),
     lambda: _with(RefSGD(0.1, 0.5), clipvalue=0.2), None, "clipped_value"),
    ("rmsprop-clipnorm-clipvalue", lambda: O.RMSprop(lr=0.01, clipnorm=0.4, clipvalue=0.1),
     lambda: _with(RefRMSprop(0.01), clipnorm=0.4, clipvalue=0.1), None, "clipped_value"),
    ("sgd-constraint", lambda: O.SGD(lr=0.5), lambda: _with(RefSGD(0.5), constraint=_np_clip_constraint),
     _clip_constraint, "constrained"),
    ("adam-constraint", lambda: O.Adam(lr=0.1), lambda: _with(RefAdam(0.1), constraint=_np_clip_constraint),
     _clip_constraint, "constrained"),
]


def _close(got, want, what):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL, err_msg=what)


def _model(constraint=None, dtype=None):
    w = K.variable(W0, dtype=dtype, constraint=constraint)
    b = K.variable(B0, dtype=dtype)
    x = K.placeholder(shape=(None, 3), dtype=dtype)
    y = K.placeholder(shape=(None, 2), dtype=dtype)
    loss = K.mean(K.square(K.dot(x, w) + b - y))
    return w, b, x, y, loss


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_update_rule_three_steps(case):
    _, make_opt, make_ref, constraint, evidence = case
    K.set_floatx("float64")
    opt = make_opt()
    ref = make_ref()
    w, b, x, y, loss = _model(constraint)
    updates = opt.get_updates(loss, [w, b])
    assert isinstance(updates, list) and updates
    step = K.function([x, y], [loss], updates=updates)
    params = [W0.copy(), B0.copy()]
    for it, (xb, yb) in enumerate(BATCHES):
        want_loss, grads = np_loss_and_grads(params[0], params[1], xb, yb)
        params = ref.finish(ref.step(params, ref.clip(grads), it))
        got_loss = step([xb, yb])[0]
        _close(got_loss, want_loss, f"loss at step {it + 1}")
        _close(K.get_value(w), params[0], f"w after step {it + 1}")
        _close(K.get_value(b), params[1], f"b after step {it + 1}")
        got_state = opt.get_weights()
        want_state = ref.weights(it + 1)
        assert len(got_state) == len(want_state)
        assert int(got_state[0]) == it + 1
        for j, (g, s) in enumerate(zip(got_state[1:], want_state[1:])):
            _close(g, s, f"optimizer weight {j + 1} after step {it + 1}")
    if evidence:
        assert getattr(ref, evidence), f"the test data did not exercise '{evidence}'"


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"])
def test_float32_params_stay_float32(name):
    """Default floatx: the rules run and the parameters keep float32 (values to float32 accuracy)."""
    opt = getattr(O, name)()
    ref = {"SGD": RefSGD, "RMSprop": RefRMSprop, "Adagrad": RefAdagrad, "Adadelta": RefAdadelta,
           "Adam": RefAdam, "Adamax": RefAdamax, "Nadam": RefNadam}[name]()
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    params = [W0.astype(np.float32).astype(np.float64), B0.astype(np.float32).astype(np.float64)]
    for it, (xb, yb) in enumerate(BATCHES):
        xb32, yb32 = xb.astype(np.float32), yb.astype(np.float32)
        _, grads = np_loss_and_grads(params[0], params[1], xb32.astype(np.float64), yb32.astype(np.float64))
        params = ref.step(params, grads, it)
        step([xb32, yb32])
    assert K.get_value(w).dtype == np.float32
    np.testing.assert_allclose(K.get_value(w), params[0], rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(K.get_value(b), params[1], rtol=2e-4, atol=2e-5)


def test_float32_params_with_float64_hyperparameters():
    """An optimizer built under float64 still updates float32 parameters (kept float32)."""
    K.set_floatx("float64")
    opt = O.Adam(lr=0.01)
    K.set_floatx("float32")
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    ref = RefAdam(0.01)
    params = [W0.astype(np.float32).astype(np.float64), B0.astype(np.float32).astype(np.float64)]
    xb, yb = (a.astype(np.float32) for a in BATCHES[0])
    _, grads = np_loss_and_grads(params[0], params[1], xb.astype(np.float64), yb.astype(np.float64))
    params = ref.step(params, grads, 0)
    step([xb, yb])
    assert K.get_value(w).dtype == np.float32
    np.testing.assert_allclose(K.get_value(w), params[0], rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# the learning rate and other hyper-parameters are variables


def test_lr_alias_is_one_variable_and_settable():
    K.set_floatx("float64")
    opt = O.SGD(lr=0.1)
    assert opt.lr is opt.learning_rate
    assert isinstance(opt.lr, K.Variable)
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    xb, yb = BATCHES[0]
    step([xb, yb])
    _, grads = np_loss_and_grads(W0, B0, xb, yb)
    w1 = W0 - 0.1 * grads[0]
    _close(K.get_value(w), w1, "w after one step")
    K.set_value(opt.lr, 0.0)  # what LearningRateScheduler / ReduceLROnPlateau do
    assert float(K.get_value(opt.learning_rate)) == 0.0
    step([xb, yb])
    _close(K.get_value(w), w1, "w with lr 0")
    opt.lr = 0.05  # a number assigned to the attribute sets the same variable
    assert float(K.get_value(opt.learning_rate)) == pytest.approx(0.05)
    w_now, b_now = K.get_value(w), K.get_value(b)
    _, grads = np_loss_and_grads(w_now, b_now, xb, yb)
    step([xb, yb])
    _close(K.get_value(w), w_now - 0.05 * grads[0], "w after lr set through the attribute")


@pytest.mark.parametrize("make", [lambda: O.SGD(0.3), lambda: O.SGD(learning_rate=0.3), lambda: O.SGD(lr=0.3),
                                  lambda: O.Adam(0.3), lambda: O.Adam(lr=0.3), lambda: O.Nadam(learning_rate=0.3)])
def test_lr_spellings(make):
    opt = make()
    assert float(K.get_value(opt.lr)) == pytest.approx(0.3)
    assert float(K.get_value(opt.learning_rate)) == pytest.approx(0.3)


def test_hyperparameters_are_variables():
    assert all(isinstance(v, K.Variable) for v in (O.SGD().momentum, O.SGD().decay))
    assert isinstance(O.RMSprop().rho, K.Variable)
    adam = O.Adam()
    assert all(isinstance(v, K.Variable) for v in (adam.lr, adam.beta_1, adam.beta_2, adam.decay))
    assert isinstance(O.Adadelta().rho, float)
    assert all(isinstance(o.epsilon, float) for o in (O.Adam(), O.RMSprop(), O.Nadam()))


def test_epsilon_none_resolves_at_construction():
    K.set_epsilon(1e-4)
    opts = [O.RMSprop(), O.Adagrad(), O.Adadelta(), O.Adam(), O.Adamax(), O.Nadam()]
    K.set_epsilon(1e-7)
    for opt in opts:
        assert opt.epsilon == pytest.approx(1e-4), type(opt).__name__
    assert O.Adam().epsilon == pytest.approx(1e-7)
    assert O.Adam(epsilon=0.5).epsilon == 0.5


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"])
def test_iterations_int64_first_weight(name):
    opt = getattr(O, name)()
    assert opt.weights[0] is opt.iterations
    assert K.dtype(opt.iterations) == "int64"
    w, b, x, y, loss = _model()
    updates = opt.get_updates(loss, [w, b])
    assert opt.weights[0] is opt.iterations
    f = K.function([x, y], [], updates=updates)
    xb, yb = (a.astype(np.float32) for a in BATCHES[0])
    f([xb, yb])
    f([xb, yb])
    assert int(K.get_value(opt.iterations)) == 2
    assert opt.get_weights()[0].dtype == np.int64


# ---------------------------------------------------------------------------------------------
# constructor keywords and gradients


def test_unknown_keyword_raises_typeerror_naming_it():
    with pytest.raises(TypeError, match="momentun"):
        O.SGD(momentun=0.9)
    with pytest.raises(TypeError, match="decay"):
        O.Nadam(decay=0.1)  # Nadam has schedule_decay, not decay
    with pytest.raises(TypeError, match="foo"):
        O.Adam(foo=1)


def test_none_gradient_raises_valueerror(monkeypatch):
    opt = O.SGD()
    w, b, x, y, loss = _model()
    monkeypatch.setattr(K, "gradients", lambda loss, params: [None for _ in params])
    with pytest.raises(ValueError, match="None"):
        opt.get_updates(loss, [w, b])


def test_clipnorm_with_zero_gradient_is_finite():
    K.set_floatx("float64")
    opt = O.SGD(lr=0.1, clipnorm=1.0)
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    # y equals the current prediction: the gradient is exactly zero, the global norm 0
    xb = np.zeros((4, 3))
    yb = np.tile(B0, (4, 1))
    step([xb, yb])
    _close(K.get_value(w), W0, "w")
    _close(K.get_value(b), B0, "b")


def test_get_gradients_clipping_values():
    K.set_floatx("float64")
    w, b, x, y, loss = _model()
    xb, yb = BATCHES[0]
    _, grads = np_loss_and_grads(W0, B0, xb, yb)
    n = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    opt = O.SGD(clipnorm=n / 4, clipvalue=0.05)
    got = K.function([x, y], opt.get_gradients(loss, [w, b]))([xb, yb])
    for g, ref in zip(got, grads):
        _close(g, np.clip(ref * 0.25, -0.05, 0.05), "clipped gradient")
    got = K.function([x, y], O.SGD(clipnorm=n * 1.01).get_gradients(loss, [w, b]))([xb, yb])
    for g, ref in zip(got, grads):
        _close(g, ref, "gradient under the norm")


# ---------------------------------------------------------------------------------------------
# get_weights / set_weights


def _built(opt, dtype="float64"):
    K.set_floatx(dtype)
    w, b, x, y, loss = _model()
    step = K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b]))
    return w, b, step


def test_set_weights_round_trip_continues_identically():
    K.set_floatx("float64")
    a = O.Adam(lr=0.01, amsgrad=True)
    wa, ba, step_a = _built(a)
    for xb, yb in BATCHES[:2]:
        step_a([xb, yb])
    state = a.get_weights()
    params = [K.get_value(wa), K.get_value(ba)]
    b_opt = O.Adam(lr=0.01, amsgrad=True)
    wb, bb, step_b = _built(b_opt)
    K.set_value(wb, params[0])
    K.set_value(bb, params[1])
    b_opt.set_weights(state)
    for got, want in zip(b_opt.get_weights(), state):
        np.testing.assert_array_equal(got, want)
    step_a(list(BATCHES[2]))
    step_b(list(BATCHES[2]))
    _close(K.get_value(wb), K.get_value(wa), "w after the resumed step")
    _close(K.get_value(bb), K.get_value(ba), "b after the resumed step")


def test_set_weights_errors():
    opt = O.SGD(momentum=0.9)
    _built(opt)
    good = opt.get_weights()
    assert [np.shape(v) for v in good] == [(), (3, 2), (2,)]
    with pytest.raises(ValueError, match="Length"):
        opt.set_weights(good[:2])
    with pytest.raises(ValueError, match="Length"):
        opt.set_weights(good + [np.zeros(2)])
    with pytest.raises(ValueError, match="shape"):
        opt.set_weights([good[0], np.zeros((2, 3)), good[2]])
    # nothing was assigned by the failing calls
    for got, want in zip(opt.get_weights(), good):
        np.testing.assert_array_equal(got, want)


def test_set_weights_before_state_exists():
    opt = O.Adam()
    assert len(opt.get_weights()) == 1
    with pytest.raises(ValueError, match="get_updates"):
        opt.set_weights([np.int64(0), np.zeros((3, 2)), np.zeros(2)])
    opt.set_weights([np.int64(7)])
    assert int(K.get_value(opt.iterations)) == 7


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad"])
def test_set_weights_accepts_keras22_list_without_iterations(name):
    opt = getattr(O, name)()
    _built(opt)
    K.set_value(opt.iterations, 5)
    acc = [np.full((3, 2), 0.25), np.full(2, 0.5)]
    opt.set_weights(acc)  # a 2.2 file stored only the accumulators
    got = opt.get_weights()
    assert int(got[0]) == 5
    np.testing.assert_array_equal(got[1], acc[0])
    np.testing.assert_array_equal(got[2], acc[1])


def test_set_weights_adadelta_keras22():
    opt = O.Adadelta()
    _built(opt)
    vals = [np.full((3, 2), 1.0), np.full(2, 2.0), np.full((3, 2), 3.0), np.full(2, 4.0)]
    opt.set_weights(vals)
    got = opt.get_weights()
    assert len(got) == 5 and int(got[0]) == 0
    for g, v in zip(got[1:], vals):
        np.testing.assert_array_equal(g, v)


def test_set_weights_nadam_keras22_rebuilds_m_schedule():
    K.set_floatx("float64")
    a = O.Nadam(lr=0.01, schedule_decay=0.3)
    _, _, step = _built(a)
    for xb, yb in BATCHES:
        step([xb, yb])
    full = a.get_weights()
    assert len(full) == 2 + 4
    b_opt = O.Nadam(lr=0.01, schedule_decay=0.3)
    _built(b_opt)
    b_opt.set_weights([full[0]] + full[2:])  # the 2.2 layout: no m_schedule
    got = b_opt.get_weights()
    assert int(got[0]) == 3
    np.testing.assert_allclose(got[1], full[1], rtol=1e-12)
    for g, v in zip(got[2:], full[2:]):
        np.testing.assert_array_equal(g, v)


# ---------------------------------------------------------------------------------------------
# configuration, names, serialisation


CONFIG_CASES = [
    (O.SGD, dict(learning_rate=0.5, momentum=0.25, decay=0.125, nesterov=True)),
    (O.RMSprop, dict(learning_rate=0.5, rho=0.75, decay=0.125, epsilon=0.001)),
    (O.Adagrad, dict(learning_rate=0.5, decay=0.125, epsilon=0.001)),
    (O.Adadelta, dict(learning_rate=0.5, rho=0.75, decay=0.125, epsilon=0.001)),
    (O.Adam, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, decay=0.125, epsilon=0.001, amsgrad=True)),
    (O.Adamax, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, decay=0.125, epsilon=0.001)),
    (O.Nadam, dict(learning_rate=0.5, beta_1=0.75, beta_2=0.875, epsilon=0.001, schedule_decay=0.25)),
]


@pytest.mark.parametrize("cls,cfg", CONFIG_CASES, ids=[c[0].__name__ for c in CONFIG_CASES])
def test_get_config_from_config(cls, cfg):
    opt = cls(**cfg)
    got = opt.get_config()
    assert got == cfg
    assert "lr" not in got
    clone = cls.from_config(got)
    assert type(clone) is cls and clone.get_config() == cfg
    legacy = dict(cfg)
    legacy["lr"] = legacy.pop("learning_rate")
    assert cls.from_config(legacy).get_config() == cfg
    again = O.deserialize(O.serialize(opt))
    assert type(again) is cls and again.get_config() == cfg


def test_config_defaults():
    assert O.SGD().get_config() == dict(learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False)
    assert O.RMSprop().get_config() == pytest.approx(dict(learning_rate=0.001, rho=0.9, decay=0.0, epsilon=1e-7))
    assert O.Adagrad().get_config() == pytest.approx(dict(learning_rate=0.01, decay=0.0, epsilon=1e-7))
    assert O.Adadelta().get_config() == pytest.approx(dict(learning_rate=1.0, rho=0.95, decay=0.0, epsilon=1e-7))
    cfg = O.Adam().get_config()
    assert cfg.pop("amsgrad") is False
    assert cfg == pytest.approx(dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, decay=0.0, epsilon=1e-7))
    assert O.Adamax().get_config() == pytest.approx(
        dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, decay=0.0, epsilon=1e-7))
    assert O.Nadam().get_config() == pytest.approx(
        dict(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-7, schedule_decay=0.004))


def test_clip_options_in_config():
    cfg = O.SGD(clipnorm=1.5, clipvalue=0.5).get_config()
    assert cfg["clipnorm"] == 1.5 and cfg["clipvalue"] == 0.5
    assert "clipnorm" not in O.SGD().get_config()
    clone = O.SGD.from_config(cfg)
    assert clone.clipnorm == 1.5 and clone.clipvalue == 0.5


@pytest.mark.parametrize("name,cls", [("sgd", O.SGD), ("SGD", O.SGD), ("rmsprop", O.RMSprop),
                                      ("RMSprop", O.RMSprop), ("adagrad", O.Adagrad), ("adadelta", O.Adadelta),
                                      ("adam", O.Adam), ("Adam", O.Adam), ("ADAM", O.Adam),
                                      ("adamax", O.Adamax), ("nadam", O.Nadam), ("Nadam", O.Nadam)])
def test_get_by_name(name, cls):
    opt = O.get(name)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_other_identifiers():
    opt = O.Adam(lr=0.5)
    assert O.get(opt) is opt
    from_dict = O.get({"class_name": "Adam", "config": {"lr": 0.25}})
    assert type(from_dict) is O.Adam and float(K.get_value(from_dict.lr)) == 0.25
    assert type(O.get({"class_name": "sgd", "config": {}})) is O.SGD
    with pytest.raises(ValueError):
        O.get("no_such_optimizer")
    with pytest.raises(ValueError):
        O.get(42)
    with pytest.raises(ValueError):
        O.get(None)


def test_lowercase_aliases():
    assert O.sgd is O.SGD and O.rmsprop is O.RMSprop and O.adagrad is O.Adagrad
    assert O.adadelta is O.Adadelta and O.adam is O.Adam and O.adamax is O.Adamax and O.nadam is O.Nadam


def test_serialize_form():
    s = O.serialize(O.SGD(lr=0.5))
    assert s["class_name"] == "SGD"
    assert s["config"]["learning_rate"] == 0.5


def test_deserialize_custom_object():
    class MySGD(O.SGD):
        pass

    opt = O.deserialize({"class_name": "MySGD", "config": {"lr": 0.125}}, custom_objects={"MySGD": MySGD})
    assert type(opt) is MySGD and float(K.get_value(opt.lr)) == 0.125


def test_state_created_lazily_with_param_shapes():
    opt = O.Adamax()
    assert len(opt.weights) == 1
    w = K.variable(np.zeros((4, 5)))
    v = K.variable(np.zeros(7))
    loss = K.sum(K.square(w)) + K.sum(v)
    opt.get_updates(loss, [w, v])
    assert [K.int_shape(s) for s in opt.weights] == [(), (4, 5), (7,), (4, 5), (7,)]
    assert opt.updates  # the update list is kept on the optimizer, as in Keras

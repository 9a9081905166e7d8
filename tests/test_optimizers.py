"""keraslite.optimizers against NumPy transcriptions of the Keras 2 update rules.

Each case trains a tiny linear model y = x.w + b for three steps with
K.function([x, y], [loss], updates=opt.get_updates(loss, [w, b])) and compares the parameters
(and the optimizer's state, in Keras' `weights` order) after every step with the rule written
out below in NumPy, in float64. The references never call keraslite. Constructor keywords,
get/set_weights and configuration: tests/test_optimizers_api.py.
"""
import numpy as np
import pytest

from keraslite import backend as K
from keraslite import optimizers as O

from optimizers_helpers import B0, BATCHES, EPS, W0, _close, _model, np_loss_and_grads

pytestmark = pytest.mark.usefixtures("kbackend")


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

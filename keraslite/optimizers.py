"""Optimizers with Keras 2 update rules (keras.optimizers, 2.2 rules with 2.3 names).

Every optimizer builds its step symbolically: `get_updates(loss, params)` returns update ops
that `K.function` runs after the outputs of a training step. All right-hand sides of one step
read the *pre-step* values (parameters, moments and `iterations`) and the assignments happen
together afterwards, so the first step sees `iterations == 0` in the decay formula and `t == 1`
in Adam, exactly as in Keras 2.

Choices made for keraslite (see spec/LAYERS_OPTIMIZERS.md, section 3):

* the first argument is `learning_rate` (2.3); `lr=` is accepted as a keyword and `.lr` is a
  property alias of `.learning_rate`, so `K.set_value(model.optimizer.lr, v)` works;
* `iterations` is an int64 variable and the first entry of `weights` for every optimizer (2.3);
  Nadam's `m_schedule` is the second. `set_weights` also accepts the shorter 2.2 lists;
* `weights` holds `[iterations]` until `get_updates` creates the state variables (one per
  parameter, lazily, because their shapes are those of the parameters);
* `get_config` writes 'learning_rate'; `from_config` also reads 'lr' (2.2 files).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import backend as K
from ._optimizer_scalars import per_dtype, with_moments
from .utils.generic_utils import deserialize_keras_object, serialize_keras_object

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam",
           "sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam",
           "get", "serialize", "deserialize"]


def _float_hyper(value, name: str):
    """A float hyper-parameter as a floatx variable (callbacks change it with K.set_value)."""
    return K.variable(float(value), name=name)


class Optimizer:
    """Optimizer(**kwargs): the base class. Keywords: `clipnorm` (scale all gradients together
    when their global norm reaches it; with `clipnorm_per_variable=True`, tf.keras's rule, each
    gradient on its own), `clipvalue` (clip each gradient element to
    [-clipvalue, clipvalue]). Any other keyword raises TypeError."""

    # Indices in `weights` of entries that Keras 2.2 did not save (accepted by set_weights).
    _absent_in_keras22: tuple = ()

    def __init__(self, **kwargs: Any):
        allowed = {"clipnorm", "clipvalue", "clipnorm_per_variable"}
        for key in kwargs:
            if key not in allowed:
                raise TypeError(f"Unexpected keyword argument passed to optimizer: {key}")
        self.clipnorm: float | None = kwargs.get("clipnorm")
        self.clipvalue: float | None = kwargs.get("clipvalue")
        # tf.keras's clipnorm: each gradient clipped to the norm on its own (kept on loading its files)
        self.clipnorm_per_variable = bool(kwargs.get("clipnorm_per_variable", False))
        self.iterations = K.variable(0, dtype="int64", name="iterations")
        self.updates: list = []
        self.weights: list = [self.iterations]

    # -- the learning rate: one variable under two names ------------------------------------

    @property
    def learning_rate(self):
        """The learning-rate variable (K.set_value(opt.learning_rate, v) changes it)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        # Assigning a number keeps the existing variable, so training functions already built
        # (which read that variable) see the change; assigning a tensor rebinds, as Keras allowed.
        current = self.__dict__.get("_learning_rate")
        if isinstance(value, K.Tensor):
            self._learning_rate = value
        elif current is None:
            self._learning_rate = _float_hyper(value, "learning_rate")
        else:
            K.set_value(current, value)

    @property
    def lr(self):
        """Alias of `learning_rate` (Keras 2.3): the same variable."""
        return self.learning_rate

    @lr.setter
    def lr(self, value) -> None:
        self.learning_rate = value

    # -- gradients ---------------------------------------------------------------------------

    def get_gradients(self, loss, params: Sequence) -> list:
        """get_gradients(loss, params): K.gradients with the optimizer's norm and value clipping."""
        return self._clip_gradients(self._raw_gradients(loss, params))

    def _raw_gradients(self, loss, params: Sequence) -> list:
        """K.gradients of loss with respect to params; ValueError when one is missing."""
        grads = K.gradients(loss, list(params))
        if any(g is None for g in grads):
            raise ValueError("An operation has `None` for gradient. Please make sure that all of your ops "
                             "have a gradient defined (i.e. are differentiable). Common ops without "
                             "gradient: K.argmax, K.round, K.eval.")
        return grads

    def _clip_gradients(self, grads: list) -> list:
        """clipnorm (all gradients scaled together), then clipvalue (element-wise)."""
        if self.clipnorm is not None and self.clipnorm > 0 and self.clipnorm_per_variable:
            c = float(self.clipnorm)
            grads = [g * self._as(c / K.maximum(K.sqrt(K.sum(K.square(g))), c), g) for g in grads]
        elif self.clipnorm is not None and self.clipnorm > 0:
            norm = K.sqrt(sum(K.sum(K.square(g)) for g in grads))
            # c / max(n, c) is c/n when n >= c and 1 otherwise: the Keras rule without a branch,
            # and it never divides by a zero norm.
            c = float(self.clipnorm)
            scale = c / K.maximum(norm, c)
            grads = [g * self._as(scale, g) for g in grads]
        if self.clipvalue is not None and self.clipvalue > 0:
            v = float(self.clipvalue)
            grads = [K.clip(g, -v, v) for g in grads]
        return grads

    def get_updates(self, loss, params: Sequence) -> list:
        """get_updates(loss, params): the list of update ops for one training step."""
        raise NotImplementedError

    # -- helpers shared by the rules ----------------------------------------------------------

    def _decayed_lr(self):
        """lr / (1 + decay * iterations) with the pre-step iterations; the plain lr variable when
        the optimizer was built with decay 0 (Keras decides this once, at graph building)."""
        lr = self.learning_rate
        if self.initial_decay > 0:
            lr = lr * (1.0 / (1.0 + self.decay * K.cast(self.iterations, K.dtype(self.decay))))
        return lr

    def _t(self, like):
        """t = iterations + 1 (the number of the step being taken) as a float of like's dtype."""
        return K.cast(self.iterations, K.dtype(like)) + 1.0

    @staticmethod
    def _as(x, p):
        """x in p's dtype, so a float32 parameter is updated with float32 arithmetic even when
        the hyper-parameters were created under another floatx."""
        if isinstance(x, K.Tensor) and K.dtype(x) != K.dtype(p):
            return K.cast(x, K.dtype(p))
        return x

    @staticmethod
    def _constrained(p, new_p):
        constraint = getattr(p, "constraint", None)
        return constraint(new_p) if constraint is not None else new_p

    @staticmethod
    def _state_like(params, prefix: str) -> list:
        return [K.zeros(K.int_shape(p), dtype=K.dtype(p), name=f"{prefix}_{i}") for i, p in enumerate(params)]

    # -- state -------------------------------------------------------------------------------

    def get_weights(self) -> list:
        """get_weights(): the state variables' values (iterations first) as NumPy arrays."""
        return K.batch_get_value(self.weights)

    def set_weights(self, weights: Sequence) -> None:
        """set_weights(weights): assign the state variables; shapes must match. A Keras 2.2 list
        (without the entries 2.2 did not save, e.g. RMSprop's iterations) is also accepted."""
        params = self.weights
        weights = list(weights)
        if len(weights) != len(params):
            missing = self._absent_in_keras22
            if missing and len(weights) == len(params) - len(missing):
                weights = self._fill_keras22(weights)
            else:
                hint = ""
                if len(params) == 1 and len(weights) > 1:
                    hint = (" (the optimizer's state variables are created by get_updates: build the "
                            "training function first)")
                raise ValueError(f"Length of the specified weight list ({len(weights)}) does not match the "
                                 f"number of weights of the optimizer ({len(params)}){hint}")
        pairs = []
        for i, (p, w) in enumerate(zip(params, weights)):
            w = np.asarray(w)
            if tuple(K.int_shape(p)) != tuple(w.shape):
                raise ValueError(f"Optimizer weight {i} ('{p.name}') has shape {tuple(K.int_shape(p))}, "
                                 f"the provided weight has shape {tuple(w.shape)}")
            pairs.append((p, w))
        K.batch_set_value(pairs)

    def _fill_keras22(self, weights: list) -> list:
        """Insert the current values of the entries a 2.2 list lacks."""
        weights = list(weights)
        for i in sorted(self._absent_in_keras22):
            weights.insert(i, K.get_value(self.weights[i]))
        return weights

    # -- configuration -----------------------------------------------------------------------

    def get_config(self) -> dict:
        """get_config(): clipnorm/clipvalue when set (subclasses add their hyper-parameters)."""
        config: dict = {}
        if self.clipnorm is not None:
            config["clipnorm"] = self.clipnorm
        if self.clipvalue is not None:
            config["clipvalue"] = self.clipvalue
        if self.clipnorm_per_variable:
            config["clipnorm_per_variable"] = True
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        """from_config(config): cls(**config); a 2.2 'lr' key is read as 'learning_rate'."""
        config = dict(config)
        if "lr" in config:
            config["learning_rate"] = config.pop("lr")
        return cls(**config)

    def _base_config(self, **extra) -> dict:
        config = {"learning_rate": _value(self.learning_rate)}
        config.update(extra)
        config.update(Optimizer.get_config(self))
        return config


def _denominator(opt: Optimizer, a):
    """sqrt(a) + epsilon (Keras 2.3), or sqrt(a + epsilon) for tf.keras's rule."""
    return K.sqrt(a + opt.epsilon) if opt.epsilon_in_sqrt else K.sqrt(a) + opt.epsilon


def _in_sqrt_config(opt: Optimizer) -> dict:
    return {"epsilon_in_sqrt": True} if opt.epsilon_in_sqrt else {}


def _init_lr(opt: Optimizer, learning_rate, lr) -> None:
    # 2.3 semantics: an explicit lr= keyword takes precedence over the positional value.
    opt.learning_rate = learning_rate if lr is None else lr


def _init_decay(opt: Optimizer, decay) -> None:
    opt.initial_decay = float(decay)
    opt.decay = _float_hyper(decay, "decay")


def _value(v) -> float:
    """A hyper-parameter variable's value as a Python float for get_config. A float32 value is
    written as the shortest decimal that reads back to it (0.01, not 0.009999999776)."""
    value = np.asarray(K.get_value(v)).reshape(())[()]
    return float(str(value))


class SGD(Optimizer):
    """SGD(learning_rate=0.01, momentum=0.0, decay=0.0, nesterov=False, lr=None, **kwargs):
    v = momentum*v - lr*g; p += v (nesterov: p += momentum*v_new - lr*g)."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, decay: float = 0.0,
                 nesterov: bool = False, lr: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.momentum = _float_hyper(momentum, "momentum")
        _init_decay(self, decay)
        self.nesterov = bool(nesterov)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        moments = self._state_like(params, "moment")
        self.weights = [self.iterations] + moments
        scalars: dict = {}
        for p, g, m in zip(params, grads, moments):
            h = per_dtype(scalars, p, lr=lr, momentum=self.momentum)
            lr_p, mom = h["lr"], h["momentum"]
            v = mom * m - lr_p * g
            self.updates.append(K.update(m, v))
            new_p = p + mom * v - lr_p * g if self.nesterov else p + v
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(momentum=_value(self.momentum), decay=_value(self.decay), nesterov=self.nesterov)


class RMSprop(Optimizer):
    """RMSprop(learning_rate=0.001, rho=0.9, epsilon=None, decay=0.0, lr=None, *,
    epsilon_in_sqrt=False, **kwargs): a = rho*a + (1-rho)*g^2; p -= lr*g/(sqrt(a)+epsilon), or
    with epsilon_in_sqrt=True (tf.keras's rule, kept by models loaded from tf.keras files)
    p -= lr*g/sqrt(a+epsilon)."""

    _absent_in_keras22 = (0,)

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float | None = None,
                 decay: float = 0.0, lr: float | None = None, *, epsilon_in_sqrt: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.rho = _float_hyper(rho, "rho")
        _init_decay(self, decay)
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)
        self.epsilon_in_sqrt = bool(epsilon_in_sqrt)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        accumulators = self._state_like(params, "accumulator")
        self.weights = [self.iterations] + accumulators
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        scalars: dict = {}
        for p, g, a in zip(params, grads, accumulators):
            h = per_dtype(scalars, p, rho=self.rho, lr=lr)
            if "one_minus_rho" not in h:
                h["one_minus_rho"] = 1.0 - h["rho"]
            new_a = h["rho"] * a + h["one_minus_rho"] * K.square(g)
            self.updates.append(K.update(a, new_a))
            new_p = p - h["lr"] * g / _denominator(self, new_a)
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(rho=_value(self.rho), decay=_value(self.decay), epsilon=self.epsilon,
                                 **_in_sqrt_config(self))


class Adagrad(Optimizer):
    """Adagrad(learning_rate=0.01, epsilon=None, decay=0.0, lr=None, *, epsilon_in_sqrt=False,
    **kwargs): a += g^2; p -= lr*g/(sqrt(a)+epsilon), or p -= lr*g/sqrt(a+epsilon) with
    epsilon_in_sqrt=True (tf.keras 2.11+'s rule, kept by models loaded from its files)."""

    _absent_in_keras22 = (0,)

    def __init__(self, learning_rate: float = 0.01, epsilon: float | None = None, decay: float = 0.0,
                 lr: float | None = None, *, epsilon_in_sqrt: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        _init_decay(self, decay)
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)
        self.epsilon_in_sqrt = bool(epsilon_in_sqrt)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        accumulators = self._state_like(params, "accumulator")
        self.weights = [self.iterations] + accumulators
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        scalars: dict = {}
        for p, g, a in zip(params, grads, accumulators):
            new_a = a + K.square(g)
            self.updates.append(K.update(a, new_a))
            new_p = p - per_dtype(scalars, p, lr=lr)["lr"] * g / _denominator(self, new_a)
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(decay=_value(self.decay), epsilon=self.epsilon, **_in_sqrt_config(self))


class Adadelta(Optimizer):
    """Adadelta(learning_rate=1.0, rho=0.95, epsilon=None, decay=0.0, lr=None, **kwargs):
    a = rho*a + (1-rho)*g^2; u = g*sqrt(d+eps)/sqrt(a+eps); p -= lr*u; d = rho*d + (1-rho)*u^2.
    `rho` is a plain float here, as in Keras."""

    _absent_in_keras22 = (0,)

    def __init__(self, learning_rate: float = 1.0, rho: float = 0.95, epsilon: float | None = None,
                 decay: float = 0.0, lr: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.rho = float(rho)
        _init_decay(self, decay)
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        accumulators = self._state_like(params, "accumulator")
        delta_accumulators = self._state_like(params, "delta_accumulator")
        self.weights = [self.iterations] + accumulators + delta_accumulators
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        rho, eps = self.rho, self.epsilon
        scalars: dict = {}
        for p, g, a, d in zip(params, grads, accumulators, delta_accumulators):
            new_a = rho * a + (1.0 - rho) * K.square(g)
            self.updates.append(K.update(a, new_a))
            step = g * K.sqrt(d + eps) / K.sqrt(new_a + eps)
            new_p = p - per_dtype(scalars, p, lr=lr)["lr"] * step
            self.updates.append(K.update(p, self._constrained(p, new_p)))
            # the delta accumulator takes this step's update (computed from the pre-step d)
            self.updates.append(K.update(d, rho * d + (1.0 - rho) * K.square(step)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(rho=self.rho, decay=_value(self.decay), epsilon=self.epsilon)


class Adam(Optimizer):
    """Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False,
    lr=None, **kwargs): lr_t = lr*sqrt(1-beta_2^t)/(1-beta_1^t); p -= lr_t*m/(sqrt(v)+epsilon)
    (amsgrad: the running maximum of v in the denominator)."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = None, decay: float = 0.0, amsgrad: bool = False,
                 lr: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.beta_1 = _float_hyper(beta_1, "beta_1")
        self.beta_2 = _float_hyper(beta_2, "beta_2")
        _init_decay(self, decay)
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)
        self.amsgrad = bool(amsgrad)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        t = self._t(lr)
        lr_t = lr * (K.sqrt(1.0 - K.pow(self.beta_2, t)) / (1.0 - K.pow(self.beta_1, t)))
        ms = self._state_like(params, "m")
        vs = self._state_like(params, "v")
        if self.amsgrad:
            vhats = self._state_like(params, "vhat")
        else:
            # (1,) placeholders keep the weight list (and saved files) laid out as in Keras
            vhats = [K.zeros((1,), dtype=K.dtype(p), name=f"vhat_{i}") for i, p in enumerate(params)]
        self.weights = [self.iterations] + ms + vs + vhats
        scalars: dict = {}
        for p, g, m, v, vhat in zip(params, grads, ms, vs, vhats):
            h = with_moments(per_dtype(scalars, p, b1=self.beta_1, b2=self.beta_2, lr_t=lr_t))
            b1, b2 = h["b1"], h["b2"]
            new_m = b1 * m + h["one_minus_b1"] * g
            new_v = b2 * v + h["one_minus_b2"] * K.square(g)
            if self.amsgrad:
                new_vhat = K.maximum(vhat, new_v)
                self.updates.append(K.update(vhat, new_vhat))
                denom = K.sqrt(new_vhat) + self.epsilon
            else:
                denom = K.sqrt(new_v) + self.epsilon
            self.updates.append(K.update(m, new_m))
            self.updates.append(K.update(v, new_v))
            new_p = p - h["lr_t"] * new_m / denom
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(beta_1=_value(self.beta_1), beta_2=_value(self.beta_2),
                                 decay=_value(self.decay), epsilon=self.epsilon, amsgrad=self.amsgrad)


class Adamax(Optimizer):
    """Adamax(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, lr=None,
    **kwargs): m as Adam; u = max(beta_2*u, |g|); p -= lr/(1-beta_1^t) * m/(u+epsilon)."""

    def __init__(self, learning_rate: float = 0.002, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = None, decay: float = 0.0, lr: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.beta_1 = _float_hyper(beta_1, "beta_1")
        self.beta_2 = _float_hyper(beta_2, "beta_2")
        _init_decay(self, decay)
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        self.updates = [K.update_add(self.iterations, 1)]
        lr = self._decayed_lr()
        t = self._t(lr)
        lr_t = lr / (1.0 - K.pow(self.beta_1, t))
        ms = self._state_like(params, "m")
        us = self._state_like(params, "u")
        self.weights = [self.iterations] + ms + us
        scalars: dict = {}
        for p, g, m, u in zip(params, grads, ms, us):
            h = with_moments(per_dtype(scalars, p, b1=self.beta_1, b2=self.beta_2, lr_t=lr_t))
            new_m = h["b1"] * m + h["one_minus_b1"] * g
            new_u = K.maximum(h["b2"] * u, K.abs(g))
            self.updates.append(K.update(m, new_m))
            self.updates.append(K.update(u, new_u))
            new_p = p - h["lr_t"] * new_m / (new_u + self.epsilon)
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def get_config(self) -> dict:
        return self._base_config(beta_1=_value(self.beta_1), beta_2=_value(self.beta_2),
                                 decay=_value(self.decay), epsilon=self.epsilon)


class Nadam(Optimizer):
    """Nadam(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, schedule_decay=0.004,
    lr=None, **kwargs): Adam with Nesterov momentum and the momentum schedule
    mu_t = beta_1*(1 - 0.5*0.96^(t*schedule_decay)). No `decay` keyword (as in Keras)."""

    # 2.2 kept m_schedule out of `weights`; it is recomputed from iterations on a 2.2 load.
    _absent_in_keras22 = (1,)

    def __init__(self, learning_rate: float = 0.002, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = None, schedule_decay: float = 0.004, lr: float | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        _init_lr(self, learning_rate, lr)
        self.beta_1 = _float_hyper(beta_1, "beta_1")
        self.beta_2 = _float_hyper(beta_2, "beta_2")
        self.epsilon = float(K.epsilon() if epsilon is None else epsilon)
        self.schedule_decay = float(schedule_decay)
        self.m_schedule = K.variable(1.0, name="m_schedule")
        self.weights = [self.iterations, self.m_schedule]

    def _momentum_cache(self, t):
        return self.beta_1 * (1.0 - 0.5 * K.pow(0.96, t * self.schedule_decay))

    def get_updates(self, loss, params: Sequence) -> list:
        params = list(params)
        grads = self.get_gradients(loss, params)
        self.updates = [K.update_add(self.iterations, 1)]
        t = self._t(self.m_schedule)
        mu_t = self._momentum_cache(t)
        mu_next = self._momentum_cache(t + 1.0)
        schedule_new = self.m_schedule * mu_t
        schedule_next = schedule_new * mu_next
        self.updates.append(K.update(self.m_schedule, schedule_new))
        ms = self._state_like(params, "m")
        vs = self._state_like(params, "v")
        self.weights = [self.iterations, self.m_schedule] + ms + vs
        bias2 = 1.0 - K.pow(self.beta_2, t)
        one_minus_new, one_minus_next, one_minus_mu = 1.0 - schedule_new, 1.0 - schedule_next, 1.0 - mu_t
        scalars: dict = {}
        for p, g, m, v in zip(params, grads, ms, vs):
            h = with_moments(per_dtype(scalars, p, b1=self.beta_1, b2=self.beta_2, one_minus_new=one_minus_new,
                                         one_minus_next=one_minus_next, bias2=bias2, one_minus_mu=one_minus_mu,
                                         mu_next=mu_next, lr=self.learning_rate))
            g_prime = g / h["one_minus_new"]
            new_m = h["b1"] * m + h["one_minus_b1"] * g
            m_prime = new_m / h["one_minus_next"]
            new_v = h["b2"] * v + h["one_minus_b2"] * K.square(g)
            v_prime = new_v / h["bias2"]
            m_bar = h["one_minus_mu"] * g_prime + h["mu_next"] * m_prime
            self.updates.append(K.update(m, new_m))
            self.updates.append(K.update(v, new_v))
            new_p = p - h["lr"] * m_bar / (K.sqrt(v_prime) + self.epsilon)
            self.updates.append(K.update(p, self._constrained(p, new_p)))
        return self.updates

    def _fill_keras22(self, weights: list) -> list:
        # m_schedule is the product of mu_1..mu_n for n completed steps: rebuild it from the
        # loaded iteration count instead of keeping a stale value.
        n = int(np.asarray(weights[0]))
        b1 = _value(self.beta_1)
        steps = np.arange(1, n + 1, dtype=np.float64)
        schedule = float(np.prod(b1 * (1.0 - 0.5 * 0.96 ** (steps * self.schedule_decay))))
        return [weights[0], np.asarray(schedule)] + list(weights[1:])

    def get_config(self) -> dict:
        return self._base_config(beta_1=_value(self.beta_1), beta_2=_value(self.beta_2), epsilon=self.epsilon,
                                 schedule_decay=self.schedule_decay)


# Keras 2 module-level lower-case aliases
sgd = SGD
rmsprop = RMSprop
adagrad = Adagrad
adadelta = Adadelta
adam = Adam
adamax = Adamax
nadam = Nadam

_ALL_CLASSES = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adadelta": Adadelta, "adam": Adam,
                "adamax": Adamax, "nadam": Nadam}


def serialize(optimizer: Optimizer) -> dict:
    """serialize(optimizer): {'class_name': ..., 'config': ...}."""
    return serialize_keras_object(optimizer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """deserialize(config, custom_objects=None): an optimizer from a serialize() dict; built-in
    class names are matched case-insensitively."""
    if not isinstance(config, dict):
        raise ValueError(f"Could not interpret optimizer config: {config!r}")
    config = dict(config)
    name = config.get("class_name")
    if isinstance(name, str) and name.lower() in _ALL_CLASSES and not (custom_objects and name in custom_objects):
        config["class_name"] = name.lower()
    return deserialize_keras_object(config, module_objects=_ALL_CLASSES, custom_objects=custom_objects,
                                    printable_module_name="optimizer")


def get(identifier) -> Optimizer:
    """get(identifier): an Optimizer from an instance (returned as is), a name such as 'adam'
    (defaults) or a serialize() dict; ValueError otherwise."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")

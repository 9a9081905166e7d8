"""The stateful metric base classes of keraslite.metrics (Metric, Reduce, Sum, Mean) and the
tensor helpers metric objects share; public through keraslite.metrics."""
from __future__ import annotations

import numpy as np

from . import backend as K
from .backend.graph import substitute

# =============================================================================================
# Stateful metric objects (Keras 2.3 `keras.metrics.Metric`)
#
# A Metric keeps its running state in K.variables made by `add_weight`. `update_state(...)`
# returns the update ops (K.update_add, ...) folding one batch into the state; `result()` is a
# tensor computed from the state variables; `reset_states()` sets them back to zero. Outside a
# model, run the ops with K.batch_get_value(ops); calling the metric, `m(y_true, y_pred)`, applies
# the update at once when the inputs hold values and returns the result tensor.
# =============================================================================================

_NEG_INF = -1e10


def _as_tensor(x, dtype=None):
    if not isinstance(x, K.Tensor):
        x = K.constant(np.asarray(x), dtype=dtype or (None if np.asarray(x).dtype.kind == "f" else K.floatx()))
    return x


def _has_placeholder(tensors) -> bool:
    from .backend.graph import Placeholder
    seen, stack = set(), [t for t in tensors if isinstance(t, K.Tensor)]
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        if isinstance(n, Placeholder):
            return True
        stack.extend(n.inputs)
    return False


def _div_no_nan(num, den):
    """num / den, 0 where den == 0."""
    zero = K.cast(K.equal(den, 0.0), K.dtype(den))
    return num / (den + zero) * (1.0 - zero)


def _match_ranks(y_true, y_pred):
    """Keras' squeeze_or_expand_dimensions for labels: a (N,) target against an (N, 1) output
    gains the axis; an (N, 1) target against an (N,) output loses it."""
    if y_true.ndim == y_pred.ndim - 1 and K.int_shape(y_pred)[-1] == 1:
        y_true = K.expand_dims(y_true, -1)
    elif y_true.ndim == y_pred.ndim + 1 and K.int_shape(y_true)[-1] == 1:
        y_true = K.squeeze(y_true, -1)
    return y_true


def _broadcast_weights(sample_weight, values, dtype):
    """Sample weights shaped like `values` (a trailing length-1 axis squeezed, missing trailing
    axes added and broadcast), or None."""
    if sample_weight is None:
        return None
    w = K.cast(_as_tensor(sample_weight), dtype)
    while w.ndim > values.ndim and K.int_shape(w)[-1] == 1:
        w = K.squeeze(w, -1)
    if w.ndim > values.ndim:
        raise ValueError(f"sample_weight of rank {w.ndim} cannot weight values of rank {values.ndim}")
    while w.ndim < values.ndim:
        w = K.expand_dims(w, -1)
    return w * K.ones_like(values) if values.ndim else w


class Metric:
    """Metric(name=None, dtype=None): the base of stateful metrics. Subclasses make their state
    with `add_weight` in __init__ and define `update_state(y_true, y_pred, sample_weight=None)`
    (returning update ops) and `result()` (a tensor)."""

    def __init__(self, name=None, dtype=None, **kwargs):
        from .utils.generic_utils import to_snake_case
        for kw in kwargs:
            if kw not in ("trainable",):
                raise TypeError(f"{type(self).__name__}: unexpected keyword argument {kw!r}")
        self.name = name if name else to_snake_case(type(self).__name__)
        self.dtype = K.floatx() if dtype is None else str(np.dtype(dtype))
        self.stateful = True
        self._weights: list = []

    # state
    def add_weight(self, name, shape=(), initializer="zeros", dtype=None):
        """add_weight(name, shape=(), initializer='zeros', dtype=None): a state variable."""
        dtype = dtype or self.dtype
        shape = tuple(int(d) for d in shape)
        if initializer in (None, "zeros"):
            value = np.zeros(shape, dtype=dtype)
        elif initializer == "ones":
            value = np.ones(shape, dtype=dtype)
        else:
            from . import initializers
            value = initializers.get(initializer)(shape, dtype=dtype)
        v = K.variable(value, dtype=dtype, name=f"{self.name}/{name}")
        self._weights.append(v)
        return v

    @property
    def weights(self) -> list:
        return list(self._weights)

    variables = weights

    def reset_states(self) -> None:
        """reset_states(): every state variable back to zero."""
        K.batch_set_value([(v, np.zeros(K.int_shape(v), dtype=K.dtype(v))) for v in self._weights])

    def get_weights(self) -> list:
        return K.batch_get_value(self._weights)

    def set_weights(self, values) -> None:
        K.batch_set_value(list(zip(self._weights, values)))

    # computation
    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def updated_result(self, updates):
        """The result as it will be once `updates` (from update_state) are applied: the result
        graph with each updated variable replaced by its new value."""
        mapping = {}
        for u in updates:
            if isinstance(u, K.Tensor) and u.op == "update":
                mapping[u.inputs[0]] = u.inputs[1]
        return substitute([self.result()], mapping)[0]

    def __call__(self, *args, **kwargs):
        """m(y_true, y_pred, sample_weight=None): update the state and return the result tensor.
        With value inputs the update is applied now; with symbolic inputs the returned tensor is
        the result after the update, whose ops are left in `m.last_updates`."""
        updates = to_list_ops(self.update_state(*args, **kwargs))
        if _has_placeholder(updates):
            self.last_updates = updates
            result = self.updated_result(updates)
            result._metric_obj = self  # lets add_metric(m(x)) find the metric object (Keras 2.3)
            return result
        if updates:
            K.batch_get_value(updates)
        self.last_updates = []
        return self.result()

    # config
    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def to_list_ops(x) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        out = []
        for e in x:
            out.extend(to_list_ops(e))
        return out
    return [x]


class Reduce(Metric):
    """Reduce(reduction, name=None, dtype=None): the sum ('sum') or the weighted mean
    ('weighted_mean') of the values seen."""

    def __init__(self, reduction, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        if reduction not in ("sum", "weighted_mean", "sum_over_batch_size"):
            raise ValueError(f"Reduce: unknown reduction {reduction!r}")
        self.reduction = reduction
        self.total = self.add_weight("total")
        if reduction != "sum":
            self.count = self.add_weight("count")

    def update_state(self, values, sample_weight=None):
        """update_state(values, sample_weight=None): fold in the (weighted) values."""
        values = K.cast(_as_tensor(values), self.dtype)
        w = _broadcast_weights(sample_weight, values, self.dtype)
        weighted = values if w is None else values * w
        ops = [K.update_add(self.total, K.sum(weighted))]
        if self.reduction == "sum":
            return ops
        if w is None or self.reduction == "sum_over_batch_size":
            n = K.sum(K.ones_like(values))
        else:
            n = K.sum(w)
        ops.append(K.update_add(self.count, n))
        return ops

    def result(self):
        if self.reduction == "sum":
            return K.identity(self.total)
        return _div_no_nan(self.total, self.count)


class Sum(Reduce):
    """Sum(name='sum', dtype=None): the (weighted) sum of the values."""

    def __init__(self, name="sum", dtype=None):
        super().__init__("sum", name=name, dtype=dtype)


class Mean(Reduce):
    """Mean(name='mean', dtype=None): the weighted mean sum(w*v) / sum(w) of the values."""

    def __init__(self, name="mean", dtype=None):
        super().__init__("weighted_mean", name=name, dtype=dtype)

"""DistributedOptimizer: any keraslite optimizer whose gradients are averaged over all ranks.

The average is one graph primitive, `distributed_allreduce`, placed between the gradients and the
ordinary update rule inside the single compiled training step (docs/architecture.md, section
"Data-parallel training", says why and what it costs). It is a multi-output node without an
elementwise template (never fused), without a VJP (never differentiated), with a `build` hook (the
compiler runs our callable, not a backend kernel). Every update of the step reads its outputs, so
the plan cannot drop it, and a plan runs each of its steps exactly once per call: one training step
is one collective, and the loops guarantee the same number of steps on every rank (sharding.py).
"""
from __future__ import annotations

from ..backend.graph import apply, defop
from ..optimizers import Optimizer
from . import _state
from .nccl import engine_for


def _infer(*grads):
    return [(g.shape, g.dtype) for g in grads]


def _build(node, backend):
    key = node.id

    def run(*grads):
        engine = engine_for(grads)
        engine.layout_check(grads, key)  # once per plan: the ranks compiled the same model
        return tuple(engine.reduce_mean(grads, _state.world("DistributedOptimizer").step_weight))
    return run


# num_outputs=0: variadic (one output per input); any value but 1 makes apply() return a tuple
defop("distributed_allreduce", _infer, None, num_outputs=0, build=_build)


def allreduce_gradients(grads: list) -> list:
    """The gradient tensors averaged over all ranks by one packed allreduce; unchanged (no graph
    node at all) when there is a single rank."""
    if not _state.active() or not grads:
        return list(grads)
    return list(apply("distributed_allreduce", *grads))


class _Distributed:
    """Mixed in front of an optimizer class: averages the raw gradients over the ranks before the
    class's own clipping and update rule, so clipnorm sees the global gradient as with one rank."""

    _keraslite_distributed = True  # read by sharding.sharded (which must not import this module)

    def get_gradients(self, loss, params):
        base = type(self).__mro__[2]
        if base.get_gradients is not Optimizer.get_gradients:
            # the class computes its gradients its own way: average what it returns
            return allreduce_gradients(base.get_gradients(self, loss, params))
        return self._clip_gradients(allreduce_gradients(self._raw_gradients(loss, params)))


_classes: dict = {}


def _distributed_class(base: type) -> type:
    cls = _classes.get(base)
    if cls is None:
        # the same name and module as the wrapped class: saved models record e.g. "SGD" and load
        # with plain keraslite, without keraslite.distributed
        cls = type(base.__name__, (_Distributed, base), {"__module__": base.__module__,
                                                          "__qualname__": base.__qualname__,
                                                          "__doc__": base.__doc__})
        _classes[base] = cls
    return cls


def DistributedOptimizer(optimizer, name: str | None = None, **kwargs):
    """DistributedOptimizer(optimizer, name=None): a new optimizer of the same class and config
    whose every step averages the gradients of all ranks (one allreduce per dtype) before the
    ordinary update. Call keraslite.distributed.init() first and wrap before compile()."""
    from .. import optimizers
    w = _state.world("DistributedOptimizer")
    for key, value in kwargs.items():
        if key in ("device_dense", "device_sparse") and value in ("", None):
            continue  # Horovod's TensorFlow device hints: keraslite has no device strings
        raise TypeError(f"DistributedOptimizer: unsupported argument {key}={value!r}")
    opt = optimizers.get(optimizer)
    if isinstance(opt, _Distributed):
        raise ValueError("DistributedOptimizer: the optimizer is already distributed; wrap it once")
    attributes = {id(v) for v in vars(opt).values()}
    if any(id(v) not in attributes for v in opt.weights):  # slot variables made by get_updates
        raise ValueError(f"DistributedOptimizer: the {type(opt).__name__} optimizer already trained a model (it has "
                         "slot variables); wrap a fresh optimizer before compile() and copy its state with "
                         "BroadcastGlobalVariablesCallback or set_weights")
    # a copy of the optimizer, not a rebuild from its config: every hyper-parameter variable keeps
    # its exact value and dtype (a float32 learning rate stays float32 whatever floatx is now), so
    # the wrapped optimizer computes bit for bit what the plain one would
    new = object.__new__(_distributed_class(type(opt)))
    state, copies = _copied_state(vars(opt))
    new.__dict__.update(state)
    new.updates = []
    new.weights = [copies[id(v)] for v in opt.weights]
    new._distributed_name = name or f"Distributed{type(opt).__name__}"
    new._distributed_world_size = w.size
    return new


def _copied_state(state: dict) -> tuple[dict, dict]:
    """(the attributes with each variable replaced by a new one of the same dtype and value,
    {id(old variable): new variable})."""
    from .. import backend as K
    out, copies = {}, {}
    for key, value in state.items():
        if isinstance(value, K.Variable):
            copies[id(value)] = K.variable(value.numpy(), dtype=value.dtype, name=value.name)
            value = copies[id(value)]
        out[key] = value
    return out, copies


def load_model(filepath, custom_optimizers=None, custom_objects=None, compile: bool = True):
    """load_model(filepath, custom_optimizers=None, custom_objects=None, compile=True):
    keraslite.models.load_model with the saved optimizer made distributed, its state (slots and
    iterations) kept, to resume training on several ranks. `custom_optimizers` lists optimizer
    classes the file may name."""
    from ..models import load_model as _load
    _state.world("load_model")
    objects = dict(custom_objects or {})
    for cls in custom_optimizers or []:
        objects[cls.__name__] = cls
    model = _load(filepath, custom_objects=objects, compile=compile)
    opt = getattr(model, "optimizer", None)
    if opt is None or not hasattr(model, "train_function") or isinstance(opt, _Distributed):
        return model
    state = opt.get_weights()
    # the optimizer belongs to this freshly loaded model alone: it changes class in place (its
    # variables stay) and the training function is rebuilt with the allreduce
    opt.__class__ = _distributed_class(type(opt))
    model.train_function = None
    if len(state) > 1:
        model._make_train_function()
        opt.set_weights(state)
    return model

"""Subclassed models (Keras 2.2+): `class M(Model)` with its own `call`.

Such a model has no graph of layers until it first sees data: it tracks the layers (also inside
lists, tuples and dicts) and the variables assigned to its attributes, and on its first
fit/evaluate/predict/build it makes one placeholder per input (batch dimension left open), runs
`call` on them once and keeps the result as its outputs. From then on it trains exactly like a
functional model. Losses and updates of its layers are kept only when they depend on nothing but
the model's own inputs (and the learning phase): a layer called on other tensors (e.g. while
computing an output shape) leaves entries that must not enter the training function.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import backend as K
from ..backend.graph import Placeholder, Tensor, Variable, topological_order
from ..utils.generic_utils import has_arg, to_list, unpack_singleton
from .base_layer import Layer

SAVE_ERROR = ("Saving the model to HDF5 format requires the model to be a Functional model or a Sequential "
              "model. It does not work for subclassed models, because such models are defined via the body of "
              "a Python method, which isn't safely serializable. Consider using `save_weights` (and "
              "`load_weights` on a new instance of the class) instead.")
CONFIG_ERROR = ("Subclassed models (a `Model` subclass that defines `call`) are not serializable: their "
                "architecture is the body of a Python method. get_config/to_json/to_yaml/save need a Functional "
                "or Sequential model; use save_weights/load_weights for a subclassed model.")
NO_CALL_ERROR = "When subclassing the `Model` class, you should implement a `call` method."
NO_SUPER_ERROR = ("It looks like you are subclassing `Model` and you forgot to call `super(YourClass, "
                  "self).__init__()`. Always start with this line.")

# attributes the engine itself sets on a model: never tracked as the user's layers or weights
_ENGINE_ATTRS = frozenset({
    "inputs", "outputs", "optimizer", "loss", "metrics", "loss_weights", "sample_weight_mode",
    "weighted_metrics", "loss_functions", "targets", "sample_weights", "metrics_names", "metrics_tensors",
    "total_loss", "train_function", "test_function", "predict_function", "history", "stop_training",
    "input_names", "output_names", "stateful_metric_functions", "stateful_metric_names", "callback_model",
    "input_spec", "built", "name", "trainable", "stateful", "supports_masking", "dtype"})


def is_subclassed(model) -> bool:
    """True for a model whose graph is the body of its `call` (not a functional/Sequential one)."""
    d = model.__dict__
    return d.get("_is_graph_network") is False and type(model)._tracks_attributes


def _layers_in(value, out: list) -> bool:
    """Append the layers inside `value` (a layer, or nested lists/tuples/dicts of them) to
    `out`; False when `value` holds anything else (then nothing of it is tracked)."""
    if isinstance(value, Layer):
        out.append(value)
        return True
    if isinstance(value, (list, tuple)):
        return all(_layers_in(v, out) for v in value)
    if isinstance(value, dict):
        return all(_layers_in(v, out) for v in value.values())
    return False


def track(model, name: str, value) -> None:
    """Record attribute `name` if it holds layers or is a variable (called by __setattr__)."""
    d = model.__dict__
    if "_is_graph_network" not in d:
        if isinstance(value, Layer):
            raise RuntimeError(NO_SUPER_ERROR)
        return
    if not is_subclassed(model) or name in _ENGINE_ATTRS:
        return
    tracked = d.setdefault("_tracked_attrs", [])
    if isinstance(value, Variable):
        own = model._trainable_weights if getattr(value, "trainable", True) else model._non_trainable_weights
        if all(w is not value for w in own):
            own.append(value)
        return
    if name in tracked:
        return
    if isinstance(value, Layer):
        tracked.append(name)
    elif isinstance(value, (list, tuple, dict)):
        found: list = []
        # an empty public container may be filled with layers later (self.blocks = [] then append)
        if (_layers_in(value, found) and found) or (not value and not name.startswith("_")):
            tracked.append(name)


def collect_layers(model) -> list:
    """The tracked layers, in the order their attributes were first assigned (each once)."""
    d = model.__dict__
    out, seen = [], set()
    for name in d.get("_tracked_attrs", []):
        found: list = []
        if not _layers_in(d.get(name), found):
            continue  # the attribute no longer holds only layers
        for layer in found:
            if id(layer) not in seen and layer is not model:
                seen.add(id(layer))
                out.append(layer)
    return out


# ---------------------------------------------------------------------------------------------
# building

def _input_shapes(x) -> tuple[list, bool]:
    """((batch shape per input), single) from data: arrays, a list/tuple of arrays, or shapes."""
    if isinstance(x, dict):
        raise ValueError("A subclassed model takes its inputs as an array or a list of arrays, not a dict "
                         f"(got keys {sorted(x)})")
    single = not isinstance(x, (list, tuple)) or (len(x) > 0 and not hasattr(x[0], "shape")
                                                 and not isinstance(x[0], (list, tuple)))
    arrays = [x] if single else list(x)
    shapes = []
    for a in arrays:
        shape = np.shape(a)
        if len(shape) == 1:  # a vector of samples is a column (Keras 2 expands it)
            shape = shape + (1,)
        if len(shape) == 0:
            raise ValueError(f"Cannot build the subclassed model on a scalar input {a!r}: give a batch")
        shapes.append((None,) + tuple(int(d) for d in shape[1:]))
    return shapes, single


def call_kwargs(model) -> dict:
    return {"training": K.learning_phase()} if has_arg(model.call, "training") else {}


def set_inputs(model, shapes: list, single: bool) -> None:
    """Make the model's input placeholders of `shapes`, run `call` on them once and keep the
    outputs: the model is then built (Keras 2's Model._set_inputs)."""
    inputs = [K.placeholder(shape=s, dtype=K.floatx(), name=f"input_{i + 1}") for i, s in enumerate(shapes)]
    outputs = model.call(inputs[0] if single else inputs, **call_kwargs(model))
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"Model {model.name}: `call` must return a tensor or a list of tensors; got "
                            f"{type(o).__name__}")
    _refine_shapes(model, shapes, single, outs)
    model.inputs, model.outputs = inputs, outs
    model.input_names = [f"input_{i + 1}" for i in range(len(inputs))]
    model.output_names = [f"output_{i + 1}" for i in range(len(outs))]
    model._feed_input_names = list(model.input_names)
    model._feed_inputs = list(inputs)
    model._feed_input_shapes = list(shapes)
    model._build_input_shape = unpack_singleton(list(shapes)) if single else list(shapes)
    model.built = True
    # functions compiled for an earlier graph are stale
    for attr in ("train_function", "test_function", "predict_function"):
        if getattr(model, attr, None) is not None:
            setattr(model, attr, None)


def traces_call(method):
    """Marks Network.compute_output_shape, the default that traces `call` (this module sits below
    network.py and does not import it)."""
    method._traces_call = True
    return method


def _refine_shapes(model, shapes, single, outs) -> None:
    """Apply a user-defined compute_output_shape to the traced outputs (it may know dims that
    shape inference left open)."""
    if getattr(type(model).compute_output_shape, "_traces_call", False):
        return
    declared = model.compute_output_shape(shapes[0] if single else shapes)
    declared = declared if isinstance(declared, list) else [declared]
    for o, s in zip(outs, declared):
        if s is not None and len(tuple(s)) == len(o.shape):
            o.shape = tuple(a if a is not None else b for a, b in zip(tuple(s), o.shape))


def ensure_built(model, x) -> None:
    """Build on the first data seen (fit/evaluate/predict/*_on_batch)."""
    if model.inputs:
        return
    shapes, single = _input_shapes(x)
    set_inputs(model, shapes, single)


def _is_shape_list(input_shape) -> bool:
    """A list (or tuple) of shapes, one per input, rather than one shape."""
    return (isinstance(input_shape, (list, tuple)) and len(input_shape) > 0
            and all(isinstance(s, (list, tuple)) for s in input_shape))


def build(model, input_shape) -> None:
    """Model.build(input_shape) of a subclassed model: a batch shape, or a list of them."""
    if input_shape is None:
        raise ValueError("Input shape must be defined when calling build on a model subclass network.")
    if _is_shape_list(input_shape):
        shapes, single = [tuple(s) for s in input_shape], False
    else:
        shapes, single = [tuple(input_shape)], True
    for s in shapes:
        if not all(d is None or (isinstance(d, (int, np.integer)) and d > 0) for d in s):
            raise ValueError(f"build: input_shape must hold positive ints or None, got {s}")
    set_inputs(model, [tuple(None if d is None else int(d) for d in s) for s in shapes], single)


def compute_output_shape(model, input_shape):
    """Output shape(s) of a subclassed model without its own compute_output_shape: trace `call`
    on placeholders of `input_shape`."""
    multi = _is_shape_list(input_shape)
    shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
    xs = [K.placeholder(shape=s, dtype=K.floatx()) for s in shapes]
    with _scratch(model):
        out = model.call(xs if multi else xs[0], **call_kwargs(model))
    shapes_out = [K.int_shape(o) for o in to_list(out)]
    return shapes_out if isinstance(out, (list, tuple)) else shapes_out[0]


@contextlib.contextmanager
def _scratch(model):
    """A trace only for shapes: the losses and updates its layer calls add are dropped again
    (a layer's unconditional add_loss would otherwise count once more per trace)."""
    layers, stack, seen = [], [model], set()
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        layers.append(layer)
        stack.extend(getattr(layer, "_layers", None) or [])
        stack.extend(v for v in vars(layer).values() if isinstance(v, Layer))
    marks = [(l, len(l._losses), len(l._updates), len(l.__dict__.get("_added_metrics", []))) for l in layers]
    try:
        yield
    finally:
        for layer, n_losses, n_updates, n_metrics in marks:
            del layer._losses[n_losses:]
            del layer._updates[n_updates:]
            if "_added_metrics" in layer.__dict__:
                del layer.__dict__["_added_metrics"][n_metrics:]


# ---------------------------------------------------------------------------------------------
# losses and updates of the traced graph

def _depends_only_on(item, allowed: set) -> bool:
    roots = [item[1]] if isinstance(item, tuple) else [item]
    roots = [r for r in roots if isinstance(r, Tensor)]
    for t in topological_order(roots):
        if isinstance(t, Placeholder) and t.default is None and t.id not in allowed:
            return False
    return True


def relevant(model, items) -> list:
    """`items` (losses or updates) that the model's own graph can compute, each once."""
    allowed = {t.id for t in model.inputs}
    seen, out = set(), []
    for item in items:
        if id(item) in seen:
            continue
        seen.add(id(item))
        if _depends_only_on(item, allowed):
            out.append(item)
    return out

"""The symbolic graph: Tensor, Variable, Placeholder, Constant, and the op registry.

Every K function builds `Tensor` nodes. A node names a primitive op; the op's single definition
(`OpDef`) gives its shape/dtype inference (run here, when the graph is built), its evaluation (the
backend method of the same name, run by the compiler) and its gradient (the VJP rule, used by
autodiff). Values live only in Variables and in the feeds of a compiled call.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from . import config
from .aligned import aligned_copy

Shape = tuple  # of int | None

_ids = itertools.count()


@dataclass
class OpDef:
    """One primitive: how to infer its output, and how to differentiate it.

    infer(*inputs, **attrs) -> (shape, dtype), or a list of them when num_outputs > 1.
    vjp(grads, out, *inputs, **attrs) -> one gradient Tensor (or None) per input; `grads` is the
    output gradient Tensor (a list of Tensors-or-None for multi-output ops), `out` the op's output.
    A missing vjp means the op is not differentiable: it passes no gradient to its inputs.
    `elementwise` is an expression template over {0}, {1}, ... used by fusing compilers.
    `stateful` ops (random draws) receive a generator from the compiler as the attr `rng`.
    `build(node, backend)`, when given, returns the step callable instead of the backend method of
    the op's name: for ops run by keraslite itself on top of the backend (e.g. a dynamic map_fn).
    """

    name: str
    infer: Callable
    vjp: Callable | None = None
    num_outputs: int = 1
    elementwise: str | None = None
    stateful: bool = False
    build: Callable | None = None


OPS: dict[str, OpDef] = {}
# the ops that take sparse operands (backend/sparse.py); any other op refuses them at build time
SPARSE_OPS: set = set()


def defop(name: str, infer: Callable, vjp: Callable | None = None, *, num_outputs: int = 1,
          elementwise: str | None = None, stateful: bool = False, build: Callable | None = None) -> OpDef:
    """Register a primitive op definition."""
    od = OpDef(name, infer, vjp, num_outputs, elementwise, stateful, build)
    OPS[name] = od
    return od


def defvjp(name: str):
    """Decorator attaching a VJP rule to an already defined op."""
    def deco(fn):
        OPS[name].vjp = fn
        return fn
    return deco


# ----------------------------------------------------------------------------------------------
# dtypes

_DTYPE_ALIASES = {"float": "float32", "int": "int32", "double": "float64", "half": "float16"}


def canonical_dtype(dtype: Any, who: str = "dtype") -> str:
    """Normalise a dtype (string, NumPy dtype or type) to a NumPy dtype name; TypeError if unknown."""
    if dtype is None:
        return config.floatx()
    if isinstance(dtype, str):
        dtype = _DTYPE_ALIASES.get(dtype, dtype)
        if dtype.endswith("_ref"):
            dtype = dtype[:-4]
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{who}: unknown dtype {dtype!r}") from None
    if d.kind not in "biuf":
        raise TypeError(f"{who}: unsupported dtype {dtype!r} (expected a bool, int or float type)")
    return d.name


def is_float(dtype: str) -> bool:
    return np.dtype(dtype).kind == "f"


def promote(*dtypes: str) -> str:
    return np.result_type(*[np.dtype(d) for d in dtypes]).name


# ----------------------------------------------------------------------------------------------
# shapes

def shape_str(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """NumPy broadcasting of static shapes with unknown (None) dims; ValueError naming the op."""
    ndim = max(len(s) for s in shapes)
    out = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"{op}: cannot broadcast shapes " + " and ".join(shape_str(s) for s in shapes))
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def normalize_axis(axis: int, ndim: int, op: str = "op") -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % max(ndim, 1)


def normalize_axes(axis, ndim: int, op: str = "op") -> tuple:
    """None -> all axes; int or sequence -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, Tensor):
        raise TypeError(f"{op}: axis must be a Python int or list of ints, not a tensor")
    if isinstance(axis, (int, np.integer)):
        axis = [axis]
    axes = sorted({normalize_axis(a, ndim, op) for a in axis})
    return tuple(axes)


def num_elements(shape: Shape) -> int | None:
    if any(d is None for d in shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# Tensors

class Tensor:
    """A symbolic tensor: the output of one op applied to other tensors.

    `shape` is the static shape (ints, None for unknown), `dtype` a NumPy dtype name.
    """

    __array_priority__ = 1000  # NumPy defers to our operators: ndarray + Tensor -> Tensor
    sparse = False  # True for a 2-D sparse matrix (backend/sparse.py)
    custom_vjp = None  # (inputs, rule) declared by custom_gradient()

    def __init__(self, op: str, inputs: Sequence["Tensor"] = (), attrs: dict | None = None,
                 shape: Shape = (), dtype: str = "float32", name: str | None = None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs or {}
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.id = next(_ids)
        self.name = name or f"{op}_{self.id}"

    # Keras 2 code reads the static shape through this attribute.
    @property
    def _keras_shape(self) -> Shape:
        return self.shape

    @_keras_shape.setter
    def _keras_shape(self, value):
        self.shape = tuple(value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.name}' shape={shape_str(self.shape)} dtype={self.dtype}>"

    def __hash__(self):
        return self.id

    def __eq__(self, other):  # TF1 semantics: == is identity; use K.equal for elementwise
        return self is other

    def __bool__(self):
        raise TypeError(f"{self!r} has no truth value when the graph is built: use K.switch or K.equal")

    def __len__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of {self!r} is unknown")
        return self.shape[0]

    def __iter__(self):
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"cannot iterate over {self!r}: its first dimension is unknown")
        return (self[i] for i in range(self.shape[0]))

    # Operators: bound at import of the ops package (ops/operators.py) to avoid an import cycle.


class Placeholder(Tensor):
    """A graph input fed when a compiled function runs; `default` is used when it is not fed."""

    def __init__(self, shape: Shape, dtype: str, name: str | None = None, default: Any = None):
        super().__init__("placeholder", (), {}, shape, dtype, name=name or f"placeholder_{next(_ids)}")
        self.default = default


class Constant(Tensor):
    """An immutable value held on the host; each backend converts it once per compiled plan."""

    def __init__(self, value: np.ndarray, name: str | None = None):
        value = np.asarray(value)
        value.setflags(write=False)
        super().__init__("constant", (), {}, value.shape, value.dtype.name, name=name or f"constant_{next(_ids)}")
        self.value = value


class Variable(Tensor):
    """A mutable value. It lives on one backend at a time and moves (through the host) the first
    time another backend uses it, so `set_backend` can be called while variables exist."""

    def __init__(self, value: np.ndarray, name: str | None = None, constraint=None, trainable: bool = True):
        value = np.array(value, copy=True)
        super().__init__("variable", (), {}, value.shape, value.dtype.name, name=name or f"variable_{next(_ids)}")
        self._host: np.ndarray | None = value
        self._native = None
        self._backend = None
        self.constraint = constraint
        self.trainable = trainable

    def native(self, backend):
        """The value as `backend`'s native array, moving it there if it lives elsewhere."""
        if self._backend is not backend:
            host = self._host if self._backend is None else self._backend.to_numpy(self._native)
            self._native = backend.from_numpy(aligned_copy(host))  # vector loads whole cache lines
            self._backend = backend
            self._host = None
        return self._native

    def numpy(self) -> np.ndarray:
        if self._backend is None:
            return np.array(self._host, copy=True)
        return np.array(self._backend.to_numpy(self._native), copy=True)

    def check_value(self, shape, who: str = "set_value"):
        if tuple(shape) != self.shape:
            raise ValueError(f"{who}: variable '{self.name}' has shape {shape_str(self.shape)}, "
                             f"the new value has shape {shape_str(tuple(shape))}")

    def assign_host(self, value) -> None:
        """Replace the value with a host array (shape-checked, cast to the variable's dtype)."""
        value = np.asarray(value)
        self.check_value(value.shape)
        value = aligned_copy(np.asarray(value, dtype=self.dtype))
        if self._backend is None:
            self._host = value
        else:
            self._native = self._backend.from_numpy(value)

    def assign_native(self, backend, array) -> None:
        """Replace the value with a native array computed on `backend` (already shape-checked)."""
        self._native = array
        self._backend = backend
        self._host = None


class MultiOutput(Tensor):
    """The tuple result of a multi-output op; users only see its `tuple_get` children."""


def as_constant(value, dtype: str | None = None) -> Constant:
    arr = np.asarray(value)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f" and arr.dtype.name != config.floatx():
        arr = arr.astype(config.floatx())
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"cannot convert {type(value).__name__} {value!r} to a tensor")
    return Constant(arr)


def as_tensor(x, dtype: str | None = None) -> Tensor:
    """Tensors pass through; NumPy arrays and Python numbers become constants.

    Float data becomes floatx() unless `dtype` says otherwise (Keras converts NumPy input so)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tensor) for e in x):
        # a list of scalar tensors: stacked by K.stack, which ops/shape.py installs here (the graph
        # sits below the ops and does not import them)
        if _stack is None:
            raise RuntimeError("as_tensor: a list of tensors needs keraslite.backend.ops.shape imported")
        return _stack([as_tensor(e, dtype) for e in x], axis=0)
    return as_constant(x, dtype)


_stack: Callable | None = None


def set_stack(fn: Callable) -> None:
    """Install the function that turns a list of tensors into one tensor (ops/shape.py's stack)."""
    global _stack
    _stack = fn


# primitives built so far in this process, and callables waiting for a primitive's first node
# (on_first_node): a backend's cue to prepare kernels while the user is still building the model
_built: set = set()
_on_first: dict[str, list[Callable]] = {}


def on_first_node(name: str, fn: Callable[[], None]) -> None:
    """Call fn() once, when `apply` first builds a node of primitive `name`: now if one has been
    built. (The numba backend's compile workers start on a convnet's kernels at the first "conv"
    node, so that a program without one never compiles them.)"""
    if name in _built:
        fn()
    else:
        _on_first.setdefault(name, []).append(fn)


def apply(name: str, *inputs, **attrs):
    """Build the node(s) for primitive `name`: inference runs now, so errors surface at build time."""
    od = OPS[name]
    inputs = tuple(as_tensor(i) for i in inputs)
    if name not in SPARSE_OPS and any(i.sparse for i in inputs):
        raise TypeError(f"'{name}' does not take sparse tensors (only K.dot, K.concatenate, K.to_dense and "
                        "K.shape do): convert with K.to_dense first")
    inferred = od.infer(*inputs, **attrs)
    if name not in _built:
        _built.add(name)
        for fn in _on_first.pop(name, ()):
            fn()
    if od.num_outputs == 1:
        shape, dtype = inferred
        return Tensor(name, inputs, attrs, shape, dtype)
    node = MultiOutput(name, inputs, attrs, (), "tuple")
    node.out_specs = list(inferred)
    return tuple(Tensor("tuple_get", (node,), {"index": i}, s, d) for i, (s, d) in enumerate(inferred))


defop("tuple_get", lambda t, index: t.out_specs[index])


def topological_order(targets: Sequence[Tensor], stop: set | None = None) -> list[Tensor]:
    """Nodes needed for `targets`, each after its inputs; nodes in `stop` (by id) are leaves."""
    stop = stop or set()
    order, seen = [], set()
    stack = [(t, False) for t in reversed(list(targets))]
    while stack:
        node, expanded = stack.pop()
        if node.id in seen:
            continue
        if expanded or node.id in stop or not node.inputs:
            seen.add(node.id)
            order.append(node)
            continue
        stack.append((node, True))
        for inp in reversed(node.inputs):
            if inp.id not in seen:
                stack.append((inp, False))
    return order


def custom_gradient(result: Tensor, inputs: Sequence[Tensor], rule: Callable) -> Tensor:
    """Declare the gradient of a composite: `result` was built from its ancestors `inputs` by
    primitives, and rule(g, *inputs, wanted=ids) returns one gradient (or None: an input the rule
    only reads) per input for the output gradient g; the rule builds on its arguments only.
    Autodiff then calls the rule at `result` instead of differentiating the ops between (whose
    own gradients would make many small steps), so they pass no gradient; the forward pass still
    runs the composite. `wanted` holds the ids of the tensors K.gradients was asked for: a rule
    that sends the gradient past an inner tensor must not when that tensor is asked for. A graph
    copied by `substitute` keeps the declaration, its inputs mapped to their copies."""
    inputs = tuple(inputs)
    if not isinstance(result, Tensor) or not all(isinstance(i, Tensor) for i in inputs):
        raise TypeError("custom_gradient: `result` and every one of `inputs` must be graph tensors")
    if not callable(rule):
        raise TypeError(f"custom_gradient: `rule` must be callable, got {type(rule).__name__}")
    result.custom_vjp = (inputs, rule)
    return result


def substitute(targets: Sequence[Tensor], mapping: dict, rewrite: Callable | None = None) -> list[Tensor]:
    """`targets` with every tensor that is a key of `mapping` replaced by its value.

    Each node downstream of a replacement is copied with its new inputs (a shallow copy keeps
    everything a node carries: attrs, a random node's generator, a multi-output op's out_specs;
    only its inputs and identity are new); unchanged subgraphs are shared, and the original graph
    is left as it was. `rewrite(node, new_inputs)`, when given, is asked first for every node
    that has inputs and may return a replacement tensor (None: the default copy-if-changed).
    Iterative, memoised per node: deep graphs exceed Python's recursion limit."""
    memo: dict[int, Tensor] = {}
    out = []
    for target in targets:
        stack = [(target, False)]
        while stack:
            n, expanded = stack.pop()
            if n.id in memo:
                continue
            if n in mapping:
                memo[n.id] = mapping[n]
                continue
            if not n.inputs:
                memo[n.id] = n
                continue
            if not expanded:
                stack.append((n, True))
                stack.extend((i, False) for i in n.inputs if i.id not in memo)
                continue
            inputs = [memo[i.id] for i in n.inputs]
            new = rewrite(n, inputs) if rewrite is not None else None
            if new is None:
                if all(a is b for a, b in zip(inputs, n.inputs)):
                    new = n
                else:
                    new = copy.copy(n)
                    new.inputs = tuple(inputs)
                    new.id = next(_ids)
                    if n.custom_vjp is not None:  # its declared inputs are ancestors: copied already
                        declared, rule = n.custom_vjp
                        new.custom_vjp = (tuple(memo.get(i.id, i) for i in declared), rule)
            memo[n.id] = new
        out.append(memo[target.id])
    return out

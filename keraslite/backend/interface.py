"""The backend contract.

A backend is an object with a `name`, array conversion (`from_numpy`, `to_numpy`), a seeded
generator factory (`rng`) and one method per primitive op, named like the op, taking the input
arrays positionally and the op's static attributes as keywords. `ArrayBackend` implements every
primitive once against `self.xp`, the NumPy API: the reference backend is that class with
xp = numpy, the CUDA backend the same with xp = cupy, and fast backends override the hot methods.
Gradients are never a backend's business: autodiff composes them from these primitives.

Besides the primitives, the compiler (compiler.py) calls the hooks declared on `Backend` below,
always directly: `fuses_elementwise`, `fusable`, `compile_elementwise`, `batches_elementwise`
(with `compile_elementwise_batch`), `fused_form`, `running`, `prepare_plan`, `supports_sparse`
and, for the memory plan (memplan.py), `out_mode` (with `empty`). Each has a default that means
"no such feature", so a backend overrides only what it offers; tests/test_backend_protocol.py
checks every registered backend against these declarations.

Fused forms are declared here too (`PATTERNS`): chains of primitives that a backend may run as
one kernel (conv + bias, GEMM + bias + activation, categorical cross-entropy). The compiler finds
them in a graph (patterns.py) and asks the backend's `fused_form` for each match; the composite,
the primitives of the chain run one after the other, defines what the fused form must compute.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import numpy as np

from .xp import core as xcore
from .xp.ctc import CTCPrimitives
from .xp.nn_primitives import NNPrimitives
from .xp.sparse import SparsePrimitives


class Backend:
    """Protocol every backend satisfies (see the module docstring)."""

    name: str = "abstract"
    #: True when the backend compiles fused elementwise chains (`compile_elementwise`): the
    #: compiler then groups chains of elementwise ops (fusion.py) into one kernel each.
    fuses_elementwise: bool = False
    #: True when the backend holds sparse tensors (the sparse_* primitives, backend/sparse.py);
    #: a plan with a sparse tensor on a backend without it is a ValueError naming the backend.
    #: ArrayBackend answers by whether its xp has a SciPy-style sparse package.
    supports_sparse: bool = False

    # ------------------------------------------------------------------ compiler hooks
    def fusable(self, node) -> bool:
        """Whether the elementwise graph node `node` may join a fused group (asked only when
        `fuses_elementwise`); a refused node runs as its plain primitive. Default: every node."""
        return True

    def compile_elementwise(self, program) -> Callable:
        """A callable(*arrays) -> list of output arrays running the fusion.ElementwiseProgram
        `program` (inputs broadcast against the output shape, one output per program output).
        Required when `fuses_elementwise` is True; never called otherwise."""
        raise NotImplementedError(f"backend '{self.name}' declares no elementwise fusion")

    #: True when the backend runs one fused program over many independent members in one call
    #: (`compile_elementwise_batch`): the compiler then merges fused groups that are instances of
    #: one program and only feed variable updates (an optimizer's per-variable chains, batching.py)
    #: into one step. Asked only when `fuses_elementwise`.
    batches_elementwise: bool = False

    def compile_elementwise_batch(self, program, kinds: str) -> Callable:
        """A callable(*arrays, out=None) -> list of output arrays running the fusion.ElementwiseProgram
        `program` once per member, for any number of members: `arrays` holds program.n_inputs arrays
        per member, member after member; `kinds` says per input whether it has the member's shape
        ("F") or one element broadcast over it ("S"). The outputs (and `out`, when given) come
        member after member, len(program.outputs) per member. Each member's results must equal
        `compile_elementwise(program)` run on its arrays. Required when `batches_elementwise` is
        True; never called otherwise."""
        raise NotImplementedError(f"backend '{self.name}' declares no batched elementwise kernels")

    def fused_form(self, pattern: "FusedPattern", nodes: tuple) -> Callable | None:
        """A callable running the declared pattern `pattern` (one of `PATTERNS`) matched on the
        graph nodes `nodes` (the chain, producer first; every node's value is read only by the
        next one), or None (the default) when the backend has no fused form for this match.

        The callable takes `pattern.inputs(nodes)` (the first node's inputs, then each later
        node's inputs other than the chain) and returns the last node's value, with its shape and
        dtype; it must equal `pattern.composite(self, nodes)`. It may take `out=` when
        `out_mode(pattern.step_name(nodes))` says so."""
        return None

    def running(self) -> ContextManager:
        """A context manager entered around each plan run (e.g. thread settings for the run).
        Default: one that does nothing."""
        return contextlib.nullcontext()

    def prepare_plan(self, plan) -> None:
        """Called once when a new plan (compiler.Plan, its `steps` built) is made for this
        backend, before its first run: e.g. the CPU backend starts compiling the kernels the
        steps will call. Default: nothing."""
        return None

    def out_mode(self, op: str) -> str | None:
        """How the primitive `op` takes a caller-given result array; "elementwise" names the
        callables of `compile_elementwise`, "elementwise_batch" those of
        `compile_elementwise_batch` (there "inplace" lets an output be one of its own member's
        inputs, never another member's: members run on different threads at once).

        None (the default): it allocates its result. "out": it accepts `out=`, an array of the
        result's shape and dtype (a list of them for several outputs) that overlaps none of its
        inputs, fills it and returns it. "inplace": as "out", and `out` may also be one of its
        inputs of the same shape and dtype (elementwise work). A backend declaring any op also
        implements `empty`. A fused form (`fused_form`) is named by its chain's ops joined by "+" (e.g.
        "conv+add"). The compiler's memory plan (memplan.py) gives such steps pooled buffers."""
        return None

    def empty(self, shape: tuple, dtype) -> Any:
        """An uninitialised native array: the memory plan's buffers (asked only when `out_mode`
        declares an op)."""
        raise NotImplementedError(f"backend '{self.name}' declares out= primitives but no empty()")

    # ------------------------------------------------------------------ arrays

    def from_numpy(self, array: np.ndarray) -> Any:
        """The backend's native array holding a copy of (or, where safe, sharing) `array`."""
        raise NotImplementedError

    def to_numpy(self, array: Any, copy: bool = True) -> np.ndarray:
        """A host array the caller owns (copy=False allows returning `array` itself when it owns
        its memory)."""
        raise NotImplementedError

    def rng(self, seed: int):
        """A seeded random generator that the backend's random primitives accept as `rng`."""
        raise NotImplementedError

    def primitive(self, op: str, attrs: dict):
        """A callable(*arrays) evaluating `op` with its static `attrs` bound (keywords given at
        call time, such as `out=`, pass through)."""
        fn = getattr(self, op, None)
        if fn is None:
            raise NotImplementedError(f"backend '{self.name}' does not implement the primitive '{op}'")
        if not attrs:
            return fn
        return functools.partial(fn, **attrs)


class ArrayBackend(xcore.ArrayPrimitives, NNPrimitives, CTCPrimitives, SparsePrimitives, Backend):
    """Every primitive written once against `self.xp`."""

    xp: Any = np

    def from_numpy(self, array):
        return self.xp.asarray(array)

    def to_numpy(self, array, copy=True):
        if isinstance(array, np.ndarray):
            # a view may alias a variable's storage: only an array owning its memory is handed out
            return array if (not copy and array.base is None) else np.array(array, copy=True)
        return np.asarray(array)

    def rng(self, seed: int):
        return np.random.default_rng(seed)

    #: ops whose methods accept `out=` (see Backend.out_mode); subclasses declare theirs
    out_modes: dict = {}

    def out_mode(self, op):
        mode = self.out_modes.get(op)
        if mode is None or op in ("elementwise", "elementwise_batch") or "+" in op:  # compiled kernels, fused forms
            return mode
        fn = getattr(type(self), op, None)
        if fn is None:  # an elementwise primitive from the catalogue (ArrayPrimitives.__getattr__)
            return mode if xcore.catalogue_takes_out(op) else None
        # an override in a subclass that does not take `out=` keeps allocating
        return mode if _takes_out(fn) else None

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)


@functools.lru_cache(maxsize=None)
def _takes_out(fn) -> bool:
    return "out" in inspect.signature(fn).parameters


# ---------------------------------------------------------------------------------------------
# fused patterns


@dataclass(frozen=True)
class Stage:
    """One link of a pattern's chain: a node whose op is in `ops` and, after the first link, that
    reads the previous link's value (exactly once). `check(node, prev, chain)` states what the op
    names cannot (a bias is a vector along the last axis, ...); `optional` links may be left out
    at the end of a chain (the compiler tries the longest match first)."""

    ops: frozenset
    check: Callable | None = None
    optional: bool = False


@dataclass(frozen=True)
class FusedPattern:
    """A fused form the compiler may ask a backend for (`Backend.fused_form`): a chain of
    primitives in which every value but the last is read only by the next link.

    `element`: the first op returns a tuple, and the chain goes on from that element of it (the
    second stage is its `tuple_get`; the other elements may have readers of their own, later
    stages take no other inputs). The fused form then returns the whole tuple with that element
    replaced by the chain's last value; the plan runs it in the first op's place.

    `appends` (with `element`): the element's tuple_get keeps its other readers (the element is
    materialised as before) and the chain goes on from one of them; the fused form returns the
    whole tuple with the chain's last value appended (a value computed while the element is
    written, e.g. a reduction of it)."""

    name: str
    stages: tuple
    doc: str = ""
    element: int | None = None
    appends: bool = False

    @staticmethod
    def inputs(nodes) -> list:
        """The fused form's inputs: the first node's inputs, then each later node's inputs that
        are not the previous link (in the node's input order)."""
        ins = list(nodes[0].inputs)
        for prev, node in zip(nodes, nodes[1:]):
            ins.extend(i for i in node.inputs if i is not prev)
        return ins

    @staticmethod
    def step_name(nodes) -> str:
        """The plan step's name (Plan.kernels(), Backend.out_mode): the ops joined by '+'."""
        return "+".join(n.op for n in nodes)

    def composite(self, backend, nodes) -> Callable:
        """The definition: a callable taking `inputs(nodes)` that runs the chain's primitives on
        `backend` one after the other (what the fused form replaces)."""
        k = self.element
        chain = nodes if k is None else (nodes[0],) + tuple(nodes[2:])  # tuple_get: indexing
        fns = [backend.primitive(n.op, dict(n.attrs)) for n in chain]
        arities = [len(nodes[0].inputs)] + [len(n.inputs) - 1 for n in chain[1:]]
        prevs = nodes[:-1] if k is None else nodes[1:-1]
        positions = [None] + [[j for j, i in enumerate(n.inputs) if i is p][0] for p, n in zip(prevs, chain[1:])]

        def run(*arrays):
            value = first = fns[0](*arrays[:arities[0]])
            if k is not None:
                value = first[k]
            at = arities[0]
            for fn, pos, n in zip(fns[1:], positions[1:], arities[1:]):
                others = list(arrays[at:at + n])
                at += n
                value = fn(*(others[:pos] + [value] + others[pos:]))
            if k is None:
                return value
            if self.appends:
                return tuple(first) + (value,)
            return tuple(first[:k]) + (value,) + tuple(first[k + 1:])
        return run


def _vector_along_last(node, prev, chain) -> bool:
    """add(prev, b) with b a vector of prev's last dimension: a bias, result shaped as prev."""
    if len(node.inputs) != 2 or node.inputs[0] is node.inputs[1]:
        return False
    b = node.inputs[1] if node.inputs[0] is prev else node.inputs[0]
    last = prev.shape[-1] if prev.shape else None
    return (last is not None and tuple(b.shape) == (last,) and tuple(node.shape) == tuple(prev.shape)
            and prev.dtype == b.dtype == node.dtype)


def _unary(node, prev, chain) -> bool:
    return len(node.inputs) == 1


def _last_axis_sum(keepdims):
    def check(node, prev, chain):
        x = node.inputs[0]
        axes = node.attrs.get("axes")
        axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
        return (node.attrs.get("keepdims") is keepdims and x.ndim >= 1
                and tuple(a % x.ndim for a in axes if a is not None) == (x.ndim - 1,) and None not in axes)
    return check


def _renormalise(node, prev, chain) -> bool:
    """div(p, sum(p)): the probabilities divided by their sum."""
    return len(node.inputs) == 2 and node.inputs[1] is prev and node.inputs[0] is chain[0].inputs[0]


def _bound(node, prev, chain) -> bool:
    """maximum/minimum of the chain value and a scalar constant (a clip bound)."""
    if len(node.inputs) != 2 or node.inputs[0] is not prev:
        return False
    c = node.inputs[1]
    return c.op == "constant" and tuple(c.shape) == () and tuple(node.shape) == tuple(prev.shape)


def _times_target(node, prev, chain) -> bool:
    """mul of the chain value by a target of its dtype and shape; an unknown length (a model's
    target placeholder is (None, None)) is checked by the fused form when it runs."""
    other = node.inputs[1] if node.inputs[0] is prev else node.inputs[0]
    return (len(node.inputs) == 2 and other is not prev and other.dtype == prev.dtype
            and len(other.shape) == len(prev.shape) == len(node.shape)
            and all(a is None or b is None or a == b for a, b in zip(other.shape, prev.shape))
            and tuple(node.shape) == tuple(prev.shape))


def _masks_prev(node, prev, chain) -> bool:
    """relu_grad(prev, m) with m shaped and typed as prev: a gradient masked by relu's output."""
    return (len(node.inputs) == 2 and node.inputs[0] is prev and node.inputs[1] is not prev
            and tuple(node.inputs[1].shape) == tuple(prev.shape) == tuple(node.shape)
            and node.inputs[1].dtype == prev.dtype == node.dtype)


def _channel_vector(node, prev, chain) -> bool:
    """An op of x (rank >= 2, x first for sub) and a vector along x's last axis, shaped as x:
    the per-channel shift, scale or offset of batch normalisation at inference."""
    x = prev if prev is not None else node.inputs[0]
    if len(node.inputs) != 2 or x.ndim < 2 or (node.op == "sub" and node.inputs[0] is not x):
        return False
    v = node.inputs[1] if node.inputs[0] is x else node.inputs[0]
    return (v is not x and tuple(v.shape) == (x.shape[-1],) and x.shape[-1] is not None
            and tuple(node.shape) == tuple(x.shape) and x.dtype == v.dtype == node.dtype)


def _sum_over_bn_axes(node, prev, chain) -> bool:
    """sum of batch norm backward's dx over exactly the batch norm's reduction axes."""
    x = node.inputs[0]
    nd = x.ndim
    axes = node.attrs.get("axes")
    if axes is None or nd == 0:
        return False
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    bn_axes = {a % nd for a in chain[0].attrs["axes"]}
    return (len(node.inputs) == 1 and None not in axes and len(set(axes)) == len(axes)
            and {a % nd for a in axes} == bn_axes and node.dtype == x.dtype)


def _residual(node, prev, chain) -> bool:
    """add(prev, r) with r shaped and typed as prev (a residual connection's shortcut)."""
    if len(node.inputs) != 2 or node.inputs[0] is node.inputs[1]:
        return False
    r = node.inputs[1] if node.inputs[0] is prev else node.inputs[0]
    return (tuple(r.shape) == tuple(prev.shape) == tuple(node.shape) and r.dtype == prev.dtype == node.dtype
            and prev.ndim >= 1)


def _element(k):
    def check(node, prev, chain) -> bool:
        return node.attrs.get("index") == k
    return check


def _valid_max_pool(node, prev, chain) -> bool:
    """2-D max pooling of the chain value with explicit zero padding ('valid')."""
    padding = node.attrs.get("padding")
    return (len(node.inputs) == 1 and node.attrs.get("mode") == "max" and len(node.attrs.get("strides", ())) == 2
            and not isinstance(padding, str) and all(int(a) == 0 and int(b) == 0 for a, b in padding))


#: activations a GEMM epilogue may apply (elementwise catalogue ops of one input)
EPILOGUE_ACTIVATIONS = frozenset({"relu", "sigmoid", "tanh"})

# conv -> bias, then batch norm at inference's per-channel shift, scale and offset
_CONV_BIAS_STAGES = (Stage(frozenset({"conv"})), Stage(frozenset({"add"}), _vector_along_last))
_CONV_BATCHNORM_STAGES = _CONV_BIAS_STAGES + (Stage(frozenset({"sub"}), _channel_vector),
                                              Stage(frozenset({"mul"}), _channel_vector),
                                              Stage(frozenset({"add"}), _channel_vector))
_RELU_MAXPOOL_STAGES = (Stage(frozenset({"relu"}), _unary), Stage(frozenset({"pool"}), _valid_max_pool))

CONV_BIAS = FusedPattern("conv+bias", _CONV_BIAS_STAGES,
                         "a convolution (channels last) plus a per-channel bias: the sums start at the bias")
CONV_BATCHNORM_POOL = FusedPattern(
    "conv+bias+batchnorm_inference+relu+maxpool", _CONV_BATCHNORM_STAGES + _RELU_MAXPOOL_STAGES,
    "Conv2D -> BatchNormalization -> relu -> MaxPooling2D ('valid') at prediction: each block of "
    "pooled rows computed from convolution rows that never leave the thread's cache")
CONV_POOL = FusedPattern(
    "conv+bias+relu+maxpool", _CONV_BIAS_STAGES + _RELU_MAXPOOL_STAGES,
    "Conv2D(activation='relu') -> MaxPooling2D ('valid') at prediction, as conv+bias+batchnorm_"
    "inference+relu+maxpool without the batch norm")
CONV_BATCHNORM = FusedPattern(
    "conv+bias+batchnorm_inference", _CONV_BATCHNORM_STAGES + (Stage(frozenset({"relu"}), _unary, optional=True),),
    "a convolution (channels last) plus a per-channel bias, then batch normalisation at inference "
    "((y - mean) * scale + offset per channel) and optionally relu, as Conv2D -> BatchNormalization "
    "predicts: applied to each output as the convolution stores it")
GEMM_EPILOGUE = FusedPattern("gemm+bias+activation", (
    Stage(frozenset({"matmul"})),
    Stage(frozenset({"add"}), _vector_along_last),
    Stage(EPILOGUE_ACTIVATIONS, _unary, optional=True)),
    "a matrix product plus a bias along its last axis, then optionally an activation, applied "
    "to each block of rows right after it is computed")
CROSSENTROPY = FusedPattern("softmax+crossentropy", (
    Stage(frozenset({"sum"}), _last_axis_sum(True)),
    Stage(frozenset({"div"}), _renormalise),
    Stage(frozenset({"maximum"}), _bound),
    Stage(frozenset({"minimum"}), _bound),
    Stage(frozenset({"log"}), _unary),
    Stage(frozenset({"mul"}), _times_target),
    Stage(frozenset({"sum"}), _last_axis_sum(False)),
    Stage(frozenset({"neg"}), _unary)),
    "categorical cross-entropy of probabilities (a softmax's output) along the last axis, as "
    "K.categorical_crossentropy composes it: renormalise, clip, log, times target, sum, negate; "
    "one pass per row")

POOL_RELU_GRAD = FusedPattern("pool_backprop+relu_grad", (
    Stage(frozenset({"pool_backprop"})),
    Stage(frozenset({"relu_grad"}), _masks_prev)),
    "the gradient of a pooling's input times relu's gradient mask (the pool read a relu's output, "
    "as in conv -> relu -> pool): each row of the result is masked as soon as it is complete")

BATCHNORM_RELU = FusedPattern("batchnorm_train+relu", (
    Stage(frozenset({"batchnorm_train"})),
    Stage(frozenset({"tuple_get"}), _element(0)),
    Stage(frozenset({"relu"}), _unary)),
    "training-mode batch normalisation followed by relu: the normalised values are written "
    "once, already rectified (the batch statistics stay readable as the tuple's other elements)",
    element=0)

BATCHNORM_ADD_RELU = FusedPattern("batchnorm_train+add+relu", (
    Stage(frozenset({"batchnorm_train"})),
    Stage(frozenset({"tuple_get"}), _element(0)),
    Stage(frozenset({"add"}), _residual),
    Stage(frozenset({"relu"}), _unary, optional=True)),
    "training-mode batch normalisation plus a residual connection's shortcut (computed before the "
    "batch norm), then optionally relu, as ResNet's identity blocks end: written once", element=0)

BATCHNORM_INFERENCE = FusedPattern("batchnorm_inference", (
    Stage(frozenset({"sub"}), _channel_vector),
    Stage(frozenset({"mul"}), _channel_vector),
    Stage(frozenset({"add"}), _channel_vector),
    Stage(frozenset({"relu"}), _unary, optional=True)),
    "(x - mean) * scale + offset with per-channel vectors along the last axis (K.batch_normalization "
    "at inference), then optionally relu: one pass over x")

BATCHNORM_BACKWARD_SUM = FusedPattern("batchnorm_train_backward+sum", (
    Stage(frozenset({"batchnorm_train_backward"})),
    Stage(frozenset({"tuple_get"}), _element(0)),
    Stage(frozenset({"sum"}), _sum_over_bn_axes)),
    "batch norm's backward pass and the sum of its dx over the reduction axes (the gradient of a "
    "bias added before the batch norm, as conv -> bias -> BatchNormalization gives it): the sum is "
    "taken while dx is written, dx keeps its other readers", element=0, appends=True)

#: every fused form the compiler may ask a backend for, tried in this order
PATTERNS = (CONV_BATCHNORM_POOL, CONV_POOL, CONV_BATCHNORM, CONV_BIAS, GEMM_EPILOGUE, CROSSENTROPY, POOL_RELU_GRAD,
            BATCHNORM_RELU, BATCHNORM_ADD_RELU, BATCHNORM_INFERENCE, BATCHNORM_BACKWARD_SUM)

"""The elementwise catalogue: entry types, the registry, and the graph wiring of each entry.

An entry (`ElementwiseOp`) is the single definition of an elementwise primitive. Everything else
reads it:

* the graph (`graph.OPS`): shape/dtype inference from the entry's arity and dtype rule, the VJP,
  and the fusion template (`expr`), registered by `register`;
* `ArrayPrimitives` (xp/core.py): the backend method of the op's name is the entry's `array`
  formula on the backend's array module (NumPy, or CuPy on the GPU);
* the Numba generator (backends/keraslite_numba/fused.py): `expr` verbatim in the kernel body,
  with the entry's `numba` implementation imported under the name `call`;
* the CUDA generator (backends/keraslite_cuda/fused.py): operators in `expr` are translated by
  the generator; a call of `call` is emitted from the entry's `cuda` form and typed with its
  dtype rule.

The portable expression language of `expr` is Python syntax over `{0}`, `{1}`, ...: the
operators `+ - * / // % **`, comparisons, `and`/`or`/`not`, `b if c else d`, casts
`np.<dtype>(x)`, float and integer literals, and calls of the scalar functions that catalogue
entries define (`call`). An op composed from those needs no per-target code at all.
"""
from __future__ import annotations

import ast
import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..graph import OPS, Tensor, apply, as_tensor, broadcast_shapes, canonical_dtype, defop, is_float
from ..ops._util import numpy_result_dtype, operands

# ------------------------------------------------------------------------------- dtype rules


@dataclass(frozen=True)
class DtypeRule:
    """How an entry's result dtype follows from its input dtypes.

    kind "numpy": the dtype NumPy's ufunc `ufunc` gives (covers float-only functions such as sqrt,
    where integers give float64, integer-preserving ones such as abs, and promotion such as add);
    "same": the first input's dtype; "bool": always bool; "promote": NumPy's promotion of the
    inputs at `positions`; "attr": the dtype given by the attribute `attr` (cast)."""

    kind: str
    ufunc: str | None = None
    positions: tuple = ()
    attr: str | None = None

    def result(self, dtypes: tuple, attrs: dict) -> str:
        """The result dtype name for inputs of `dtypes` (graph inference)."""
        if self.kind == "numpy":
            return numpy_result_dtype(self.ufunc, *dtypes)
        if self.kind == "same":
            return dtypes[0]
        if self.kind == "bool":
            return "bool"
        if self.kind == "promote":
            return numpy_result_dtype("add", *[dtypes[i] for i in self.positions])
        return attrs[self.attr]

    def of_samples(self, *samples):
        """The result dtype for code generators, whose operands may be Python literals (weak, as
        NEP 50 treats them): `samples` are 1-element arrays or Python scalars. None when the
        rule cannot tell (only literals)."""
        if not any(isinstance(s, np.ndarray) for s in samples):
            return None
        if self.kind == "numpy":
            with np.errstate(all="ignore"):
                return np.asarray(getattr(np, self.ufunc)(*samples)).dtype
        if self.kind == "same":
            return samples[0].dtype if isinstance(samples[0], np.ndarray) else None
        if self.kind == "bool":
            return np.dtype(bool)
        if self.kind == "promote":
            return np.result_type(*[samples[i] for i in self.positions])
        return None

    def describe(self) -> str:
        return {"numpy": f"as NumPy's {self.ufunc}", "same": "the input's dtype", "bool": "bool",
                "promote": f"promotion of inputs {list(self.positions)}",
                "attr": f"the `{self.attr}` attribute"}[self.kind]


def follows_numpy(ufunc: str) -> DtypeRule:
    """The result dtype NumPy's `np.<ufunc>` gives on the input dtypes."""
    if not isinstance(getattr(np, ufunc, None), np.ufunc):
        raise ValueError(f"follows_numpy: np.{ufunc} is not a NumPy ufunc")
    return DtypeRule("numpy", ufunc=ufunc)


SAME = DtypeRule("same")
BOOL = DtypeRule("bool")


def promotes(*positions: int) -> DtypeRule:
    """NumPy's promotion of the inputs at `positions` (e.g. the two branches of `where`)."""
    return DtypeRule("promote", positions=tuple(positions))


def from_attr(name: str) -> DtypeRule:
    return DtypeRule("attr", attr=name)


# ------------------------------------------------------------------------------ target forms


@dataclass(frozen=True)
class CudaForm:
    """How the CUDA generator emits a call of an entry's scalar function.

    One C++ template per compute type (the result dtype of the entry's rule): `float` (float32;
    float16 computes in float), `double`, `integer` (any integer or bool type); None: the
    translator refuses that type and the program runs as array operations. In a template `{0}`,
    `{1}`, ... are the arguments cast to the compute type and `{T}` is its C type. `preamble`:
    the __device__ helpers the templates call (emitted after those of the functions in `needs`).
    `narrow`: cast the result back to the compute type (C promotes small integers to int)."""

    float: str | None
    double: str | None
    integer: str | None = None
    preamble: str = ""
    needs: tuple = ()
    narrow: bool = False

    def template(self, ctype: str) -> str | None:
        if ctype == "float":
            return self.float
        if ctype == "double":
            return self.double
        return self.integer


def libm(name: str) -> CudaForm:
    """A C math library function: `namef` for float, `name` for double; integer results (e.g.
    floor of an integer, which NumPy keeps integer) are the argument itself."""
    return CudaForm(float=f"{name}f({{0}})", double=f"{name}({{0}})", integer="{0}")


# ----------------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class ElementwiseOp:
    """One elementwise primitive (see the module docstring for who reads which field).

    name: the primitive (graph op and backend method). arity: number of tensor inputs.
    array(xp, *arrays, **attrs): the NumPy formula, written against the array module `xp`.
    expr: the portable scalar expression over {0}, {1}, ... (or expr(attrs) -> str).
    dtype: the DtypeRule. vjp(g, y, *inputs, **attrs) -> one gradient per input, composed of
    catalogue ops (None: not differentiable). call: the scalar function `expr` calls and this
    entry defines, if any; numba: "module:attr" of its implementation callable from Numba's
    nopython mode (default "numpy:<call>"); cuda: its CudaForm. float_inputs: the K function
    casts non-float inputs to floatx first. who: the name used in shape errors."""

    name: str
    arity: int
    array: Callable
    expr: str | Callable
    dtype: DtypeRule
    vjp: Callable | None = None
    call: str | None = None
    numba: str | None = None
    cuda: CudaForm | None = None
    float_inputs: bool = False
    doc: str = ""
    who: str | None = None

    def template(self, attrs: dict) -> str:
        return self.expr(attrs) if callable(self.expr) else self.expr

    def numba_ref(self) -> tuple[str, str]:
        """(module, attribute) of the Numba implementation of `call`."""
        ref = self.numba or f"numpy:{self.call}"
        module, _, attr = ref.partition(":")
        return module, attr

    def infer(self, *inputs, **attrs):
        if len(inputs) != self.arity:
            raise TypeError(f"{self.name}: expected {self.arity} tensor inputs, got {len(inputs)}")
        shape = inputs[0].shape
        if self.arity > 1:
            shape = broadcast_shapes(self.who or self.name, *[i.shape for i in inputs])
        return shape, self.dtype.result(tuple(i.dtype for i in inputs), attrs)


_ENTRIES: dict[str, ElementwiseOp] = {}
_FUNCTIONS: dict[str, ElementwiseOp] = {}
_state = {"version": 0}
_BUILTIN: set = set()  # keraslite's own entries (builtin.py): never unregistered


def register(name: str, *, arity: int, array: Callable, expr, dtype: DtypeRule, vjp: Callable | None = None,
             call: str | None = None, numba: str | None = None, cuda: CudaForm | None = None,
             float_inputs: bool = False, doc: str = "", who: str | None = None) -> ElementwiseOp:
    """register(name, *, arity, array, expr, dtype, vjp=None, call=None, numba=None, cuda=None,
    float_inputs=False, doc=''): add an elementwise op to the catalogue and define its primitive.

    The op then evaluates on every ArrayBackend (through `array`), differentiates (through `vjp`)
    and fuses on the Numba and CUDA backends (through `expr`). Raises ValueError/TypeError for a
    malformed entry or a name already taken, before changing anything."""
    entry = ElementwiseOp(name, arity, array, expr, dtype, vjp, call, numba, cuda, float_inputs, doc, who)
    _check(entry)
    _ENTRIES[name] = entry
    if call is not None:
        _FUNCTIONS[call] = entry
    defop(name, entry.infer, vjp, elementwise=expr)
    _state["version"] += 1
    return entry


def unregister(name: str) -> None:
    """Remove a catalogue op and its primitive (e.g. one a test registered for its duration)."""
    if name in _BUILTIN:
        raise ValueError(f"unregister: {name!r} is one of keraslite's own elementwise ops")
    entry = _ENTRIES.pop(name, None)
    if entry is None:
        raise KeyError(f"unregister: no elementwise op named {name!r}")
    if entry.call is not None:
        _FUNCTIONS.pop(entry.call, None)
    OPS.pop(name, None)
    _state["version"] += 1


def _check(e: ElementwiseOp) -> None:
    if not isinstance(e.name, str) or not e.name.isidentifier():
        raise ValueError(f"register: name must be an identifier, got {e.name!r}")
    if e.name in OPS:
        raise ValueError(f"register: an op named {e.name!r} is already defined")
    if not isinstance(e.arity, int) or isinstance(e.arity, bool) or e.arity < 1:
        raise ValueError(f"register({e.name!r}): arity must be a positive int, got {e.arity!r}")
    if not callable(e.array):
        raise TypeError(f"register({e.name!r}): array must be a callable array(xp, *arrays, **attrs)")
    if not isinstance(e.dtype, DtypeRule):
        raise TypeError(f"register({e.name!r}): dtype must be a DtypeRule (follows_numpy(...), SAME, BOOL, ...)")
    if e.vjp is not None and not callable(e.vjp):
        raise TypeError(f"register({e.name!r}): vjp must be callable or None")
    if e.cuda is not None and not isinstance(e.cuda, CudaForm):
        raise TypeError(f"register({e.name!r}): cuda must be a CudaForm")
    if not callable(e.expr):
        if not isinstance(e.expr, str):
            raise TypeError(f"register({e.name!r}): expr must be a string template or a callable(attrs)")
        try:
            text = e.expr.format(*[f"a{i}" for i in range(e.arity)])
            ast.parse(text, mode="eval")
        except (IndexError, KeyError, ValueError, SyntaxError) as err:
            raise ValueError(f"register({e.name!r}): expr {e.expr!r} is not a Python expression over "
                             f"{{0}}..{{{e.arity - 1}}}: {err}") from None
    if e.call is not None:
        if not isinstance(e.call, str) or not e.call.isidentifier():
            raise ValueError(f"register({e.name!r}): call must be an identifier, got {e.call!r}")
        if e.call in _FUNCTIONS:
            raise ValueError(f"register({e.name!r}): the scalar function {e.call!r} is already defined by "
                             f"{_FUNCTIONS[e.call].name!r}")
        module, attr = e.numba_ref()
        if not module or not attr:
            raise ValueError(f"register({e.name!r}): numba must be 'module:attribute', got {e.numba!r}")
        if e.numba is None and not hasattr(np, e.call):
            raise ValueError(f"register({e.name!r}): np.{e.call} does not exist: give numba='module:attribute'")
    elif e.numba is not None or e.cuda is not None:
        raise ValueError(f"register({e.name!r}): numba/cuda forms belong to a scalar function: give call=")


def seal_builtins() -> None:
    """Mark every entry registered so far as keraslite's own (called once by the package)."""
    _BUILTIN.update(_ENTRIES)


def lookup(name: str) -> ElementwiseOp | None:
    """The catalogue entry of primitive `name`, or None."""
    return _ENTRIES.get(name)


def scalar_function(call: str) -> ElementwiseOp | None:
    """The entry defining the scalar function `call` of the expression language, or None."""
    return _FUNCTIONS.get(call)


def entries() -> tuple:
    """Every entry, in registration order."""
    return tuple(_ENTRIES.values())


def version() -> int:
    """Changes whenever an entry is added or removed (generators cache by it)."""
    return _state["version"]


def numba_object(entry: ElementwiseOp):
    """The object the Numba generator imports for `entry.call` (for checks and tests)."""
    module, attr = entry.numba_ref()
    return getattr(importlib.import_module(module), attr)


# ---------------------------------------------------------------------------------- builders


def call(name: str, *args, **attrs) -> Tensor:
    """The node of catalogue op `name` on `args` (Python numbers take the dtype of the tensor
    they meet, as TensorFlow does; no float conversion)."""
    entry = _ENTRIES.get(name)
    if entry is None:
        raise ValueError(f"no elementwise op named {name!r}")
    if len(args) != entry.arity:
        raise TypeError(f"{name}: expected {entry.arity} arguments, got {len(args)}")
    if entry.arity == 2:
        args = operands(*args)
    return apply(name, *args, **attrs)


def _floatx(x):
    from .. import config
    x = as_tensor(x)
    if not is_float(x.dtype):
        x = apply("cast", x, dtype=config.floatx())
    return x


def function(name: str) -> Callable:
    """The K-style function of catalogue op `name`: positional tensor arguments (x) or (x, y),
    non-float inputs cast to floatx when the entry says `float_inputs`."""
    entry = _ENTRIES.get(name)
    if entry is None:
        raise ValueError(f"no elementwise op named {name!r}")

    def fn(*args, **attrs):
        e = _ENTRIES.get(name, entry)
        if len(args) != e.arity:
            raise TypeError(f"{name}: expected {e.arity} arguments, got {len(args)}")
        if e.float_inputs:
            args = tuple(_floatx(a) for a in args)
        return call(name, *args, **attrs)

    names = ["x", "y", "z"] if entry.arity <= 3 else [f"x{i}" for i in range(entry.arity)]
    params = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in names[:entry.arity]]
    fn.__signature__ = inspect.Signature(params)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = entry.doc or f"{name}: elementwise op of the catalogue."
    return fn


def cast(x, dtype) -> Tensor:
    """cast(x, dtype): x converted to `dtype` (a new tensor)."""
    x = as_tensor(x)
    dtype = canonical_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    return apply("cast", x, dtype=dtype)


def where(c, a, b) -> Tensor:
    """Elementwise `a if c else b`; numbers take the dtype of the tensor branch."""
    c = as_tensor(c)
    if c.dtype != "bool":
        c = apply("cast", c, dtype="bool")
    if isinstance(a, Tensor) or not isinstance(b, Tensor):
        a, b = operands(a, b)
    else:
        b, a = operands(b, a)
    return apply("where", c, a, b)


def pow(x, a) -> Tensor:
    """pow(x, a): elementwise x ** a (a a number or a tensor)."""
    a_, x_ = operands(a, x)
    return apply("pow", x_, a_)


def sum_to(g: Tensor, x: Tensor) -> Tensor:
    """Reduce the gradient `g` of a broadcast result to the shape (and dtype) of operand `x`
    (and cast to its dtype). Lives here because every broadcasting VJP needs it, and the graph
    ops that import the catalogue (ops/math, ops/shape) re-export it."""
    if g.shape == x.shape and None not in g.shape:
        out = g
    elif None not in x.shape and g.ndim >= x.ndim:
        lead = g.ndim - x.ndim
        axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(x.shape)
                                          if d == 1 and g.shape[i + lead] != 1)
        out = apply("sum", g, axes=axes, keepdims=True) if axes else g
        if out.shape != x.shape:
            out = apply("reshape", out, shape=x.shape)
    else:
        out = apply("sum_to_like", g, x)
    if out.dtype != x.dtype and is_float(x.dtype):
        out = cast(out, x.dtype)
    return out

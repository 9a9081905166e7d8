"""Fused elementwise chains on the GPU: an ElementwiseProgram becomes CUDA C for one
`cupy.ElementwiseKernel` per program and input dtypes.

The source generation is pure Python (no CuPy), so tests/ checks it on the CPU: the program's
Python-syntax expressions are parsed with `ast`, every intermediate gets the dtype NumPy would give
it (computed by asking NumPy itself, with literals as weak Python scalars as in NEP 50), and each
operation is emitted in that type with explicit casts. Helpers keep NumPy's semantics where C
differs: maximum/minimum propagate NaN, floor division and modulo round towards -inf, sign(NaN) is
NaN.

CuPy compiles each distinct source once and keeps the binary in its on-disk kernel cache
(~/.cupy/kernel_cache, or $CUPY_CACHE_DIR), so the kernels are cached by expression across runs.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from keraslite.backend import elementwise

# numpy dtype name -> C type used for the computation
C_TYPES = {
    "bool": "bool",
    "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
    "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
    "uint64": "unsigned long long",
    "float16": "float",  # computed in float32; stored as half by CuPy's float16 type
    "float32": "float", "float64": "double",
}
# types whose arithmetic C promotes to int: the result is cast back
_SMALL = {"bool", "int8", "int16", "uint8", "uint16"}

# helpers of the expression language's operators (C++; device code on the GPU, plain inline
# functions when tests compile the same text on the host); the scalar functions' helpers come
# from their elementwise catalogue entries (see `preamble`)
_OPERATORS = r"""
/* NumPy's floor division and modulo (npy_divmod): results round towards -inf */
__device__ __forceinline__ float kl_floordiv(float a, float b) {
    if (b == 0.0f) return a / b;
    float mod = fmodf(a, b), div = (a - mod) / b;
    if (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) div -= 1.0f;
    if (div == 0.0f) return copysignf(0.0f, a / b);
    float f = floorf(div);
    return (div - f > 0.5f) ? f + 1.0f : f;
}
__device__ __forceinline__ double kl_floordiv(double a, double b) {
    if (b == 0.0) return a / b;
    double mod = fmod(a, b), div = (a - mod) / b;
    if (mod != 0.0 && ((b < 0.0) != (mod < 0.0))) div -= 1.0;
    if (div == 0.0) return copysign(0.0, a / b);
    double f = floor(div);
    return (div - f > 0.5) ? f + 1.0 : f;
}
__device__ __forceinline__ float kl_mod(float a, float b) {
    if (b == 0.0f) return fmodf(a, b);
    float mod = fmodf(a, b);
    if (mod != 0.0f) { if ((b < 0.0f) != (mod < 0.0f)) mod += b; }
    else mod = copysignf(0.0f, b);
    return mod;
}
__device__ __forceinline__ double kl_mod(double a, double b) {
    if (b == 0.0) return fmod(a, b);
    double mod = fmod(a, b);
    if (mod != 0.0) { if ((b < 0.0) != (mod < 0.0)) mod += b; }
    else mod = copysign(0.0, b);
    return mod;
}
template <typename T> __device__ __forceinline__ T kl_floordiv(T a, T b) {
    if (b == 0) return 0;
    T q = a / b;
    return ((a % b != 0) && ((a < 0) != (b < 0))) ? (T)(q - 1) : q;
}
template <typename T> __device__ __forceinline__ T kl_mod(T a, T b) {
    if (b == 0) return 0;
    T r = a % b;
    return ((r != 0) && ((r < 0) != (b < 0))) ? (T)(r + b) : r;
}
template <typename T> __device__ __forceinline__ T kl_ipow(T a, T b) {
    if (b < 0) return (a == 1) ? (T)1 : ((a == (T)(-1)) ? ((b % 2) ? (T)(-1) : (T)1) : (T)0);
    T r = 1;
    while (b) { if (b & 1) r = (T)(r * a); a = (T)(a * a); b = (T)(b >> 1); }
    return r;
}
"""


_PREAMBLE_CACHE: dict = {}


def preamble() -> str:
    """Every helper a generated kernel may call: each catalogue scalar function's CUDA preamble
    (after those it needs), then the operators' helpers."""
    key = elementwise.version()
    text = _PREAMBLE_CACHE.get(key)
    if text is None:
        parts, done = [], set()

        def add(entry):
            if entry.call in done:
                return
            done.add(entry.call)
            for need in entry.cuda.needs:
                dep = elementwise.scalar_function(need)
                if dep is None or dep.cuda is None:
                    raise ValueError(f"the CUDA form of {entry.call}() needs {need}(), which has none")
                add(dep)
            if entry.cuda.preamble:
                parts.append(entry.cuda.preamble.strip("\n") + "\n")

        for entry in elementwise.entries():
            if entry.call is not None and entry.cuda is not None:
                add(entry)
        text = _PREAMBLE_CACHE[key] = "\n" + "".join(parts) + _OPERATORS.lstrip("\n")
    return text


def __getattr__(name):
    if name == "PREAMBLE":  # the current preamble (the catalogue may grow)
        return preamble()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class UnsupportedExpression(ValueError):
    """The program uses a construct the CUDA translator does not know; the backend then runs the
    program with array operations instead (see `evaluate_program`)."""


# ------------------------------------------------------------------------- type inference

class _Weak:
    """A Python literal: weakly typed, as NumPy 2 treats Python scalars."""

    def __init__(self, value):
        self.value = value

    def sample(self):
        return self.value


def _sample(t):
    # a 1-element array, not a 0-d one: NumPy 1.x's value-based casting treats 0-d arrays as
    # scalars (float32 0-d / 1.0 -> float64) but arrays as arrays (float32 array / 1.0 -> float32),
    # and the kernel works on arrays; NumPy 2 gives the same either way
    return t.value if isinstance(t, _Weak) else np.ones((1,), dtype=t)


def _result(fn, *types):
    """The dtype NumPy gives `fn` on values of these types (None: all weak)."""
    if all(isinstance(t, _Weak) for t in types):
        return None
    with np.errstate(all="ignore"):
        out = fn(*[_sample(t) for t in types])
    return np.asarray(out).dtype


def _ctype(dt) -> str:
    name = np.dtype(dt).name
    if name not in C_TYPES:
        raise UnsupportedExpression(f"dtype {name} has no C type in fused kernels")
    return C_TYPES[name]


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}LL"
    if isinstance(value, float):
        if value != value:
            return "(0.0 / 0.0)"
        if value in (float("inf"), float("-inf")):
            return "(1.0 / 0.0)" if value > 0 else "(-1.0 / 0.0)"
        return repr(value)
    raise UnsupportedExpression(f"literal {value!r}")


class _Emitter(ast.NodeVisitor):
    """Emits C for one expression; every visit returns (code, type) with type a numpy dtype or
    a _Weak literal."""

    def __init__(self, env: dict):
        self.env = env  # name -> (C expression, dtype)

    def cast(self, code_type, dt) -> str:
        code, t = code_type
        if isinstance(t, _Weak):
            return f"(({_ctype(dt)}){_literal(t.value)})"
        if np.dtype(t) == np.dtype(dt) or _ctype(t) == _ctype(dt):
            return code
        return f"(({_ctype(dt)}){code})"

    def finish(self, code, dt):
        """Cast back results of C's integer promotion."""
        if np.dtype(dt).name in _SMALL:
            return f"(({_ctype(dt)}){code})", np.dtype(dt)
        return code, np.dtype(dt)

    def generic_visit(self, node):
        raise UnsupportedExpression(f"unsupported syntax {type(node).__name__} in a fused expression")

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Name(self, node):
        if node.id not in self.env:
            raise UnsupportedExpression(f"unknown name {node.id!r} in a fused expression")
        code, dt = self.env[node.id]
        return code, np.dtype(dt)

    def visit_Constant(self, node):
        if isinstance(node.value, (bool, int, float)):
            return _literal(node.value), _Weak(node.value)
        raise UnsupportedExpression(f"literal {node.value!r}")

    def visit_UnaryOp(self, node):
        a = self.visit(node.operand)
        if isinstance(node.op, ast.UAdd):
            return a
        if isinstance(node.op, ast.Not):
            return f"(!{self.cast(a, np.bool_)})", np.dtype(bool)
        if isinstance(node.op, ast.USub):
            if isinstance(a[1], _Weak):
                return f"(-{a[0]})", _Weak(-a[1].value)
            dt = _result(np.negative, a[1])
            return self.finish(f"(-{self.cast(a, dt)})", dt)
        raise UnsupportedExpression(f"unary {type(node.op).__name__}")

    _BIN = {ast.Add: (np.add, "+"), ast.Sub: (np.subtract, "-"), ast.Mult: (np.multiply, "*"),
            ast.Div: (np.true_divide, "/")}

    def visit_BinOp(self, node):
        a, b = self.visit(node.left), self.visit(node.right)
        op = type(node.op)
        if op in self._BIN:
            fn, sym = self._BIN[op]
        elif op is ast.Pow:
            fn, sym = np.power, None
        elif op is ast.FloorDiv:
            fn, sym = np.floor_divide, None
        elif op is ast.Mod:
            fn, sym = np.mod, None
        else:
            raise UnsupportedExpression(f"binary {op.__name__}")
        dt = _result(fn, a[1], b[1])
        if dt is None:
            raise UnsupportedExpression("an operation between two literals")
        l, r = self.cast(a, dt), self.cast(b, dt)
        kind = dt.kind
        if sym is not None:
            return self.finish(f"({l} {sym} {r})", dt)
        if op is ast.Pow:
            if kind == "f":
                return f"{'powf' if _ctype(dt) == 'float' else 'pow'}({l}, {r})", dt
            return self.finish(f"kl_ipow({l}, {r})", dt)
        name = "kl_floordiv" if op is ast.FloorDiv else "kl_mod"
        return self.finish(f"{name}({l}, {r})", dt)

    _CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}

    def visit_Compare(self, node):
        if len(node.ops) != 1 or type(node.ops[0]) not in self._CMP:
            raise UnsupportedExpression("chained or non-numeric comparison")
        a, b = self.visit(node.left), self.visit(node.comparators[0])
        if isinstance(a[1], _Weak) and isinstance(b[1], _Weak):
            raise UnsupportedExpression("a comparison between two literals")
        dt = np.result_type(_sample(a[1]), _sample(b[1]))
        return f"({self.cast(a, dt)} {self._CMP[type(node.ops[0])]} {self.cast(b, dt)})", np.dtype(bool)

    def visit_BoolOp(self, node):
        sym = "&&" if isinstance(node.op, ast.And) else "||"
        parts = [self.cast(self.visit(v), np.bool_) for v in node.values]
        return "(" + f" {sym} ".join(parts) + ")", np.dtype(bool)

    def visit_IfExp(self, node):
        c = self.visit(node.test)
        a, b = self.visit(node.body), self.visit(node.orelse)
        if isinstance(a[1], _Weak) and isinstance(b[1], _Weak):
            raise UnsupportedExpression("a conditional between two literals")
        dt = np.result_type(_sample(a[1]), _sample(b[1]))
        return f"({self.cast(c, np.bool_)} ? {self.cast(a, dt)} : {self.cast(b, dt)})", np.dtype(dt)

    def visit_Call(self, node):
        if node.keywords:
            raise UnsupportedExpression("keyword arguments in a fused expression")
        f = node.func
        args = [self.visit(a) for a in node.args]
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            # np.float32(x), np.bool_(x): a cast
            name = "bool" if f.attr == "bool_" else f.attr
            try:
                dt = np.dtype(name)
            except TypeError:
                raise UnsupportedExpression(f"np.{f.attr}") from None
            if len(args) != 1:
                raise UnsupportedExpression(f"np.{f.attr} with {len(args)} arguments")
            code, t = args[0]
            if isinstance(t, _Weak):
                return f"(({_ctype(dt)}){_literal(t.value)})", dt
            return f"(({_ctype(dt)}){code})", dt
        if not isinstance(f, ast.Name):
            raise UnsupportedExpression("call of a non-name")
        entry = elementwise.scalar_function(f.id)
        if entry is None or entry.cuda is None:
            raise UnsupportedExpression(f"unknown function {f.id!r} in a fused expression")
        if len(args) != entry.arity:
            raise UnsupportedExpression(f"{f.id} with {len(args)} arguments")
        if all(isinstance(t, _Weak) for _, t in args):
            raise UnsupportedExpression(f"{f.id} of literals only")
        dt = entry.dtype.of_samples(*[_sample(t) for _, t in args])
        if dt is None:
            raise UnsupportedExpression(f"{f.id}: no result dtype for these arguments")
        dt = np.dtype(dt)
        ctype = _ctype(dt)
        template = entry.cuda.template(ctype)
        if template is None:
            raise UnsupportedExpression(f"{f.id} has no CUDA form for {dt.name}")
        code = template.format(*[self.cast(a, dt) for a in args], T=ctype)
        return self.finish(code, dt) if entry.cuda.narrow else (code, dt)


# --------------------------------------------------------------------------- the kernel

@dataclass(frozen=True)
class KernelSource:
    """Everything `cupy.ElementwiseKernel(in_params, out_params, operation, name, preamble=...)`
    needs, plus the inferred C type of each local."""

    in_params: str
    out_params: str
    operation: str
    name: str
    preamble: str
    local_types: tuple


def local_dtypes(program, in_dtypes) -> tuple:
    """The NumPy dtype of every local of the program, given the input dtypes."""
    return generate(program, in_dtypes).local_types


def generate(program, in_dtypes) -> KernelSource:
    """CUDA C for `program` (an ElementwiseProgram) with inputs of `in_dtypes`.

    Raises UnsupportedExpression for constructs outside the translator."""
    in_dtypes = [np.dtype(d) for d in in_dtypes]
    if len(in_dtypes) != program.n_inputs:
        raise ValueError(f"program has {program.n_inputs} inputs, got {len(in_dtypes)} dtypes")
    env = {f"a{i}": (f"a{i}", dt) for i, dt in enumerate(in_dtypes)}
    body, types = [], []
    for name, expr in program.lines:
        try:
            tree = ast.parse(expr, mode="eval")
        except SyntaxError as e:
            raise UnsupportedExpression(f"cannot parse {expr!r}: {e}") from None
        code, dt = _Emitter(env).visit(tree)
        if isinstance(dt, _Weak):
            raise UnsupportedExpression(f"a literal-only expression {expr!r}")
        dt = np.dtype(dt)
        body.append(f"const {_ctype(dt)} {name} = {code};")
        env[name] = (name, dt)
        types.append(dt.name)
    out_dtypes = [np.dtype(d) for d in program.out_dtypes]
    for j, (name, dt) in enumerate(zip(program.outputs, out_dtypes)):
        _ctype(dt)
        body.append(f"o{j} = ({_ctype(dt)}){name};")
    in_params = ", ".join(f"{dt.name} a{i}" for i, dt in enumerate(in_dtypes))
    out_params = ", ".join(f"{dt.name} o{j}" for j, dt in enumerate(out_dtypes))
    operation = "\n".join(body)
    digest = hashlib.sha1(f"{in_params}|{out_params}|{operation}".encode()).hexdigest()[:16]
    return KernelSource(in_params, out_params, operation, f"kl_fused_{digest}", preamble(), tuple(types))


# ------------------------------------------------------- array fallback (any xp, any dtype)

class _ToXp(ast.NodeTransformer):
    """Rewrites a scalar expression into array calls on `xp`."""

    def _call(self, fn, *args):
        return ast.Call(func=ast.Attribute(value=ast.Name("xp", ast.Load()), attr=fn, ctx=ast.Load()),
                        args=list(args), keywords=[])

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return self._call("where", node.test, node.body, node.orelse)

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        fn = "logical_and" if isinstance(node.op, ast.And) else "logical_or"
        out = node.values[0]
        for v in node.values[1:]:
            out = self._call(fn, out, v)
        return out

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return self._call("logical_not", node.operand)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np":
            return ast.Call(func=ast.Name("_cast", ast.Load()),
                            args=[node.args[0], ast.Constant("bool" if f.attr == "bool_" else f.attr)],
                            keywords=[])
        if isinstance(f, ast.Name):
            if elementwise.scalar_function(f.id) is not None:  # the catalogue entry's array formula
                return ast.Call(func=ast.Name("_fn_" + f.id, ast.Load()), args=node.args, keywords=[])
            return self._call(f.id, *node.args)
        return node


def evaluate_program(xp, program, arrays) -> list:
    """Run `program` with array operations of `xp` (NumPy semantics): the fallback for dtypes or
    constructs the CUDA translator does not cover, and an independent check of it in tests."""

    def _cast(x, dt):
        return xp.asarray(x).astype(dt)

    env = {"xp": xp, "_cast": _cast}
    env.update({"_fn_" + e.call: functools.partial(e.array, xp) for e in elementwise.entries() if e.call})
    env.update({f"a{i}": a for i, a in enumerate(arrays)})
    shape = np.broadcast_shapes(*[tuple(a.shape) for a in arrays]) if arrays else ()
    with np.errstate(all="ignore"):
        for name, expr in program.lines:
            tree = ast.fix_missing_locations(_ToXp().visit(ast.parse(expr, mode="eval")))
            env[name] = eval(compile(tree, "<fused>", "eval"), env)  # noqa: S307 - our own program text
        outs = []
        for name, dt in zip(program.outputs, program.out_dtypes):
            v = xp.asarray(env[name]).astype(dt)
            outs.append(xp.array(xp.broadcast_to(v, shape)))  # a fresh C-ordered array, 0-d stays 0-d
    return outs


# ------------------------------------------------------------------------ the callable

class FusedKernel:
    """Callable(*arrays) -> list of output arrays running one ElementwiseProgram with CuPy.

    One ElementwiseKernel per input dtype signature (CuPy broadcasts and handles strides). Inputs
    that are host arrays (e.g. from K.shape) are moved to the device first; programs the
    translator does not cover run through `evaluate_program`."""

    def __init__(self, program, xp, to_device=None):
        self.program = program
        self.xp = xp
        self.to_device = to_device or xp.asarray
        self._kernels: dict = {}

    def source(self, in_dtypes) -> KernelSource:
        return generate(self.program, in_dtypes)

    def _kernel(self, in_dtypes):
        key = tuple(d.name for d in in_dtypes)
        k = self._kernels.get(key)
        if k is None:
            try:
                src = generate(self.program, in_dtypes)
                if any(np.dtype(d).name == "float16" for d in list(in_dtypes) + list(self.program.out_dtypes)):
                    raise UnsupportedExpression("float16 runs through array operations")
                k = self.xp.ElementwiseKernel(src.in_params, src.out_params, src.operation, src.name,
                                              preamble=src.preamble)
            except UnsupportedExpression:
                k = False
            self._kernels[key] = k
        return k

    def __call__(self, *arrays):
        xp = self.xp
        arrays = [a if not isinstance(a, np.ndarray) and not np.isscalar(a) else self.to_device(a) for a in arrays]
        kernel = self._kernel([a.dtype for a in arrays])
        if kernel is False:
            return evaluate_program(xp, self.program, arrays)
        shape = np.broadcast_shapes(*[tuple(a.shape) for a in arrays]) if arrays else ()
        outs = [xp.empty(shape, dtype=d) for d in self.program.out_dtypes]
        if outs and outs[0].size:
            kernel(*arrays, *outs)
        return outs

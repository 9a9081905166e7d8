"""Batched elementwise kernels: one ElementwiseProgram run over many independent members (an
optimizer's per-variable update chains) in one parallel kernel call.

The compiler hands over a program and, per call, the members' arrays member-major (member 0's
inputs, member 1's inputs, ...; `out` likewise). An input is either full (the member's shape) or
a scalar (one element) in every member, as the compiler checked on the static shapes. The kernel
is compiled once per program and input/output dtypes, whatever the number of members: it reads
full arrays through their addresses (an int64 table, one row per input or output, one column per
member) and scalars from one small array per input. The parallel loop runs over tasks, chunks of
at most CHUNK elements of one member, so every thread gets contiguous, vectorisable work and a
small bias shares the call with the large matrices.

The scalar code is the one `fused.FusedKernel` writes (same expressions, imports, fastmath
flags), so each member's results are bitwise those of its own fused kernel; they differ only
from FusedKernel's NumPy path for small outputs (see fused.SMALL_THRESHOLD), where NumPy rounds
a*b+c twice and the kernel may contract it.
"""
from __future__ import annotations

import threading
import weakref
from functools import partial

import numpy as np
from numba import types
from numba.extending import intrinsic

from . import fused
from .fused import PARALLEL_THRESHOLD, FusedKernel, _header, large_kernel

# elements per task: large enough to amortise the per-task setup, small enough that a 512x512
# matrix splits across threads
CHUNK = 1 << 14


@intrinsic
def address_as(typingctx, address, like):
    """A pointer of like's dtype to the integer `address` (for numba.carray)."""
    if not isinstance(address, types.Integer) or not isinstance(like, types.Array):
        return None
    ptr = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr))

    return ptr(address, like), codegen


def _source(program, kinds: str, pattern: tuple = ()) -> str:
    """Kernel source: kernel_par/kernel_seq(tasks, ptrs, modes, <per input: scalars or witness>,
    <per output: witness>). A witness is a one-element array giving a full input's or an output's
    dtype; `ptrs[r, k]` is the address of member k's r-th full input, or for r >= the number of
    full inputs, of its output r - that number. A task (member k, first, end) is a slice of one
    member.

    `pattern`: (output, input) pairs of a member computed in place (the output is the input's
    memory). A member with modes[k] == 1 has exactly that pattern and runs a loop writing those
    outputs through the inputs' own arrays: LLVM then sees one pointer and vectorises, where
    two pointers to the same memory fail its overlap check and leave the loop scalar (several
    times slower). Every other member runs the general loop."""
    n_out = len(program.outputs)
    row = {i: r for r, i in enumerate(i for i, kind in enumerate(kinds) if kind == "F")}
    n_full = len(row)
    params = ", ".join(["tasks", "ptrs", "modes"] + [f"s{i}" if k == "S" else f"w{i}" for i, k in enumerate(kinds)]
                       + [f"v{j}" for j in range(n_out)])
    src = [_header(program), "from numba import carray",
           "from keraslite_numba.batched import address_as", ""]

    def loop(indent: str, into: dict) -> list:
        lines = []
        for j in range(n_out):
            if j not in into:
                lines.append(f"{indent}q{j} = carray(address_as(ptrs[{n_full + j}, k] + lo * v{j}.itemsize, v{j}), n)")
        # the task's slice from 0: indices known non-negative, as in fused.py's loops (no
        # wraparound code in the loop, which then vectorises)
        lines.append(f"{indent}for i in range(n):")
        for i, k in enumerate(kinds):
            if k == "F":
                lines.append(f"{indent}    x{i} = p{i}[i]")
        lines += fused.statements(program, indent + "    ")
        for j, name in enumerate(program.outputs):
            target = f"p{into[j]}" if j in into else f"q{j}"
            lines.append(f"{indent}    {target}[i] = {name}")
        return lines

    for variant, kind in (("par", "prange"), ("seq", "range")):
        flags = "parallel=True, " if variant == "par" else ""
        src.append(f"@njit({flags}cache=True, error_model='numpy', nogil=True, fastmath={{'afn', 'contract'}})")
        src.append(f"def kernel_{variant}({params}):")
        src.append(f"    for c in {kind}(tasks.shape[0]):")
        src.append("        k = tasks[c, 0]")
        src.append("        lo = tasks[c, 1]")
        src.append("        n = tasks[c, 2] - lo")
        for i, k in enumerate(kinds):
            if k == "S":
                src.append(f"        x{i} = s{i}[k]")
            else:
                src.append(f"        p{i} = carray(address_as(ptrs[{row[i]}, k] + lo * w{i}.itemsize, w{i}), n)")
        if pattern:
            src.append("        if modes[k] == 1:")
            src += loop("            ", dict(pattern))
            src.append("        else:")
            src += loop("            ", {})
        else:
            src += loop("        ", {})
        src.append("")
    return "\n".join(src)


def _load(program, kinds: str, pattern: tuple = ()):
    return fused.load_source(_source(program, kinds, pattern), "batched")


_WITNESS: dict = {}


def _witness(dtype):
    w = _WITNESS.get(dtype)
    if w is None:
        w = _WITNESS[dtype] = np.zeros(1, dtype)
    return w


# id(array) -> (weakref to it, data address) for C-contiguous ndarrays. An ndarray's data and
# layout never change while it lives (keraslite never resizes one in place), and reading
# .ctypes.data and .flags costs ~1 us per array: the ~40 arrays of an MLP's Adam step would cost
# more than the kernel launches the batch saves.
_ADDRESSES: dict = {}
_ADDRESS_LIMIT = 1 << 14


def _address(a) -> int:
    """The data address of a C-contiguous ndarray, -1 for anything else."""
    entry = _ADDRESSES.get(id(a))
    if entry is not None and entry[0]() is a:
        return entry[1]
    if type(a) is not np.ndarray or not a.flags.c_contiguous:
        return -1
    address = a.ctypes.data
    if len(_ADDRESSES) >= _ADDRESS_LIMIT:
        for key in [key for key, (ref, _) in _ADDRESSES.items() if ref() is None]:
            del _ADDRESSES[key]
        if len(_ADDRESSES) >= _ADDRESS_LIMIT:
            _ADDRESSES.clear()
    _ADDRESSES[id(a)] = (weakref.ref(a), address)
    return address


class _Tables:
    """A call's address table (ptrs[j, k]: input or output j of member k, and the same memory
    as one flat row-major vector) and scalar arrays, reused by the next call (one at a time)."""

    __slots__ = ("ptrs", "flat", "scalars", "modes")

    def __init__(self, n_rows: int, n_members: int, scalar_dtypes: dict):
        self.modes = np.zeros(n_members, np.int64)
        self.ptrs = np.zeros((n_rows, n_members), np.int64)
        self.flat = self.ptrs.reshape(-1)
        self.scalars = {i: np.zeros(n_members, dt) for i, dt in scalar_dtypes.items()}


class BatchedKernel:
    """Callable(*arrays, out=None) -> list of outputs: one program run over every member.

    `kinds`: per program input, "F" (the member's shape) or "S" (one element, broadcast).
    `arrays`: member-major, program.n_inputs per member; `out`: C-contiguous arrays, member-major,
    len(program.outputs) per member, overlapping no input (the compiler's pooled buffers). A call
    whose arrays do not fit the kernel (a shape or dtype differing from the first member's, a
    non-contiguous array, a bool dtype) runs each member through its own FusedKernel instead:
    the same results, one call per member. So does a batch small and short enough that
    FusedKernel would run every member as NumPy expressions (under fused.SMALL_THRESHOLD elements
    in all, at most fused.SMALL_MAX_OPS operations): nothing to compile for microseconds of work."""

    def __init__(self, program, kinds: str, loaded: dict):
        if len(kinds) != program.n_inputs or set(kinds) - {"F", "S"} or "F" not in kinds:
            raise ValueError(f"batched kernel: input kinds {kinds!r} do not fit a program of "
                             f"{program.n_inputs} inputs with at least one full input")
        self.program, self.kinds = program, kinds
        self._full = [i for i, k in enumerate(kinds) if k == "F"]
        self._scalar = [i for i, k in enumerate(kinds) if k == "S"]
        self._loaded = loaded  # (source key, kinds, in-place pattern) -> (par, seq), per backend
        self._single = FusedKernel(program)
        self._tasks: dict = {}
        self._tables: dict = {}
        self._parallel: set = set()  # in-place patterns whose kernel_par runs large calls from now on
        self._lock = threading.Lock()
        self._seen = None  # the last call with `out` given, for _setup's shortcut
        out_dtypes = [np.dtype(d) for d in program.out_dtypes]
        # Numba has no float16, and its bool arrays are not bytes behind a pointer
        self._out_dtypes = None if any(dt.kind == "b" or dt == np.float16 for dt in out_dtypes) else out_dtypes

    def _per_member(self, arrays, out):
        n_in, n_out = self.program.n_inputs, len(self.program.outputs)
        results = []
        for k in range(len(arrays) // n_in):
            o = None if out is None else list(out[k * n_out:(k + 1) * n_out])
            results.extend(self._single(*arrays[k * n_in:(k + 1) * n_in], out=o))
        return results

    def _kernels(self, pattern: tuple):
        key = (self.program.source_key(), self.kinds, pattern)
        pair = self._loaded.get(key)
        if pair is None:
            pair = self._loaded[key] = _load(self.program, self.kinds, pattern)
        return pair

    @staticmethod
    def _in_place(rows, full, n_members, n_out):
        """Per member, the (output, input) pairs where the output is the input's memory (the
        memory plan's in-place results); the most common non-empty one gets the fast loop."""
        n_full = len(full)
        patterns = []
        for k in range(n_members):
            ins = {rows[r * n_members + k]: full[r] for r in range(n_full)}
            patterns.append(tuple((j, ins[rows[(n_full + j) * n_members + k]]) for j in range(n_out)
                                  if rows[(n_full + j) * n_members + k] in ins))
        seen = [p for p in patterns if p]
        if not seen:
            return (), None
        common = max(set(seen), key=seen.count)
        return common, [1 if p == common else 0 for p in patterns]

    def _task_table(self, sizes: tuple):
        tasks = self._tasks.get(sizes)
        if tasks is None:
            rows = [(k, lo, min(lo + CHUNK, n)) for k, n in enumerate(sizes) for lo in range(0, n, CHUNK)]
            tasks = self._tasks[sizes] = np.array(rows, np.int64).reshape(-1, 3)
        return tasks

    def __call__(self, *arrays, out=None):
        ready = self._setup(arrays, out)
        if ready is None:
            return self._per_member(arrays, out)
        out, launch = ready
        if launch is not None:
            launch()
        return list(out)

    def prepare(self, *arrays, out):
        """The call `self(*arrays, out=out)` made ready: a callable() that only launches the
        compiled kernel (every argument checked, the kernel compiled, its tables computed), so
        that nothing can fail once it has begun writing; None when the call would run member
        by member instead (compiler.Plan then writes into fresh arrays). The caller keeps the
        arrays alive until the callable has run. Used to write update values straight into the
        variables' arrays inside the commit (keraslite/backend/inplace.py)."""
        ready = self._setup(arrays, out)
        if ready is None:
            return None
        return ready[1] or _nothing

    def _setup(self, arrays, out):
        """(out, launch) for one call, launch None when there is nothing to compute; None when
        the arrays do not fit the kernel or the batch is small (run member by member)."""
        if out is not None:
            # a plan's commit passes the same arrays at every step (the variables' own, the pooled
            # gradients, the state scalars), or views of the same memory made anew (a reshaped
            # bias gradient): the checks, address table and in-place pattern of the last call
            # hold when every array is the same object (a weak reference: a freed array's id may
            # come back on another) or has the same address, shape and dtype. Only the scalars'
            # values are read anew.
            seen = self._seen
            if seen is not None and _unchanged(seen[0], arrays, out):
                fixed, in_dtypes, n_members = seen[1]
                n_in = self.program.n_inputs
                values = {i: [arrays[k * n_in + i].item() for k in range(n_members)] for i in self._scalar}
                return out, partial(self._launch, *fixed, values, in_dtypes, n_members)
            self._seen = None
        ready = self._setup_checked(arrays, out)
        if out is not None and ready is not None and isinstance(ready[1], partial):
            a = ready[1].args  # (pair, pattern, large, tasks, rows, modes, values, in_dtypes, n_members)
            try:
                self._seen = (_record(arrays, out), (a[:6], a[7], a[8]))
            except (TypeError, AttributeError):  # a NumPy scalar (no weak references): no shortcut
                pass
        return ready

    def _setup_checked(self, arrays, out):
        program = self.program
        n_in, n_out = program.n_inputs, len(program.outputs)
        n_members = len(arrays) // n_in
        if n_members * n_in != len(arrays) or (out is not None and len(out) != n_members * n_out):
            raise ValueError(f"batched kernel: {len(arrays)} inputs and {0 if out is None else len(out)} "
                             f"outputs for a program of {n_in} inputs and {n_out} outputs")
        full, scalar = self._full, self._scalar
        in_dtypes = [getattr(a, "dtype", None) for a in arrays[:n_in]]
        out_dtypes = self._out_dtypes
        if out_dtypes is None or any(dt is None or dt.kind == "b" or dt == np.float16 for dt in in_dtypes):
            return None
        # addresses row by row (input or output j, then member k), validated on the way
        rows: list = []
        shapes = [arrays[k * n_in + full[0]].shape for k in range(n_members)]
        for i in full:
            dt = in_dtypes[i]
            for k in range(n_members):
                a = arrays[k * n_in + i]
                address = _address(a)
                if address < 0 or a.shape != shapes[k] or a.dtype != dt:
                    return None
                rows.append(address)
        values = {}
        for i in scalar:
            dt = in_dtypes[i]
            column = []
            for k in range(n_members):
                a = arrays[k * n_in + i]
                if getattr(a, "size", 0) != 1 or a.dtype != dt:
                    return None
                column.append(a.item())
            values[i] = column
        if out is None:
            out = [np.empty(shape, dt) for shape in shapes for dt in out_dtypes]
        for j, dt in enumerate(out_dtypes):
            for k in range(n_members):
                o = out[k * n_out + j]
                address = _address(o)
                if address < 0 or o.shape != shapes[k] or o.dtype != dt or not o.flags.writeable:
                    return None
                rows.append(address)
        sizes = tuple(arrays[k * n_in + full[0]].size for k in range(n_members))
        total = sum(sizes)
        if total == 0:
            return out, None
        if total < fused.SMALL_THRESHOLD and len(program.lines) <= fused.SMALL_MAX_OPS:
            # all of it would run as NumPy expressions member by member: no kernel to compile
            # for work of microseconds (e.g. scalar state updates), and the same values as before
            return None
        pattern, modes = self._in_place(rows, full, n_members, n_out)
        par, seq = self._kernels(pattern)
        return out, partial(self._launch, (par, seq), pattern, total >= PARALLEL_THRESHOLD, self._task_table(sizes),
                            rows, modes, values, in_dtypes, n_members)

    def _launch(self, pair, pattern, large, tasks, rows, modes, values, in_dtypes, n_members):
        par, seq = pair
        mine = self._lock.acquire(False)  # a concurrent call (another thread) gets its own tables
        try:
            tables = self._tables.get(n_members) if mine else None
            if tables is None:
                tables = _Tables(len(self._full) + len(self.program.outputs), n_members,
                                 {i: in_dtypes[i] for i in self._scalar})
                if mine:
                    self._tables[n_members] = tables
            tables.flat[:] = rows
            tables.modes[:] = 0 if modes is None else modes
            for i, column in values.items():
                tables.scalars[i][:] = column
            args = [tables.scalars[i] if kind == "S" else _witness(in_dtypes[i]) for i, kind in enumerate(self.kinds)]
            args += [_witness(dt) for dt in self._out_dtypes]
            call = (tasks, tables.ptrs, tables.modes, *args)
            kernel = seq
            if large:
                kernel = par if pattern in self._parallel else large_kernel((par, seq), call, self._parallel, pattern)
            # the arrays (held by the caller) outlive the call: the addresses stay valid
            kernel(*call)
        finally:
            if mine:
                self._lock.release()


def _record(arrays, out) -> list:
    """Per argument of a checked call: (weak reference, address, shape, dtype, writeable)."""
    return [(weakref.ref(a), _address(a), a.shape, a.dtype, a.flags.writeable) for a in (*arrays, *out)]


def _unchanged(record: list, arrays, out) -> bool:
    """Whether a call's arguments are those of `record` (_record), or hold the same memory
    as them with the same shape, dtype and writeability."""
    if len(record) != len(arrays) + len(out):
        return False
    for (ref, address, shape, dtype, writeable), a in zip(record, (*arrays, *out)):
        if ref() is a:
            continue
        if (type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype or a.flags.writeable != writeable
                or _address(a) != address):
            return False
    return True


def _nothing():
    """The launch of a call with nothing to compute (empty members)."""

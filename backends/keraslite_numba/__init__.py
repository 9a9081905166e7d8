"""keraslite_numba: the default CPU backend. NumPy arrays as the native type; hot primitives
replaced by Numba JIT kernels (compiled on first use, cached on disk)."""
import numpy as np

from keraslite.backend.interface import (BATCHNORM_ADD_RELU, BATCHNORM_BACKWARD_SUM, BATCHNORM_INFERENCE, BATCHNORM_RELU,
                                        CONV_BATCHNORM, CONV_BATCHNORM_POOL, CONV_BIAS, CONV_POOL,
                                        CROSSENTROPY, GEMM_EPILOGUE, POOL_RELU_GRAD, ArrayBackend)

# declared pattern -> the kernels/fused_forms.py function that builds its callable (conv + bias
# is the conv kernel's own `bias=`, in NumbaBackend.fused_form)
_FUSED_FORMS = {GEMM_EPILOGUE.name: "gemm_epilogue", CROSSENTROPY.name: "crossentropy",
                POOL_RELU_GRAD.name: "pool_relu_grad", BATCHNORM_RELU.name: "batchnorm_relu",
                BATCHNORM_INFERENCE.name: "batchnorm_inference", BATCHNORM_ADD_RELU.name: "batchnorm_add_relu",
                BATCHNORM_BACKWARD_SUM.name: "batchnorm_backward_sum", CONV_BATCHNORM.name: "conv_batchnorm",
                CONV_BATCHNORM_POOL.name: "conv_maxpool", CONV_POOL.name: "conv_maxpool"}
from keraslite.backend import graph as _graph
from keraslite.backend import registry as _registry
from keraslite.backend.aligned import aligned_empty
from keraslite.backend.xp.core import OUT_MODES
from keraslite.backend.xp.nn_primitives import drop, lift, lift_geometry, lift_kernel

from . import coldstart as _coldstart
from . import forking as _forking  # noqa: F401  (registers forked compile workers with coldstart)
from .threads import SerialBlas, set_openmp_defaults
from .warmup import compile_family as _compile_family

set_openmp_defaults()  # before Numba starts its OpenMP pool (first parallel kernel)
_coldstart.COMPILE[0] = _compile_family  # what this process compiles while it waits for a worker


def _convnet_cue() -> None:
    """The first convolution node built in this process: on a first run on this CPU, workers
    start on a convnet's common kernels while the rest of the model is built."""
    if _registry.active_name() != "numba":
        return
    try:
        _coldstart.start_background()
    except Exception:  # noqa: BLE001 - a head start only: building the model must not fail on it
        pass  # the plan's prepare() starts workers, or compiles in-process, as without it


_graph.on_first_node("conv", _convnet_cue)


# bytes: an allocation for the memory plan this large is an arena (see NumbaBackend.empty)
_TRIM_BEFORE = 16 << 20


class NumbaBackend(ArrayBackend):
    """CPU backend: ArrayBackend's NumPy primitives, with Numba kernels where they win, and
    chains of elementwise ops fused into one generated kernel each."""

    name = "numba"
    xp = np
    fuses_elementwise = True
    # primitives and fused kernels that write into the compiler's pooled buffers (interface.py)
    batches_elementwise = True
    # a batched kernel's output may take a dying input of its own member (interface.out_mode)
    out_modes = {**OUT_MODES, "elementwise": "inplace", "elementwise_batch": "inplace", **{op: "out" for op in (
        "conv", "conv_backprop_input", "conv_backprop_filter", "pool", "pool_backprop", "conv+add", "matmul+add",
        "batchnorm_train", "batchnorm_train_backward",
        "matmul+add+relu", "matmul+add+sigmoid", "matmul+add+tanh", "pool_backprop+relu_grad",
        "batchnorm_train+tuple_get+relu", "sub+mul+add", "sub+mul+add+relu", "batchnorm_train_backward+tuple_get+sum",
        "batchnorm_train+tuple_get+add", "batchnorm_train+tuple_get+add+relu",
        "conv+add+sub+mul+add", "conv+add+sub+mul+add+relu",
        "+".join(n for s in CROSSENTROPY.stages for n in s.ops))}}

    def __init__(self):
        from .memory import keep_freed_memory
        self._fused: dict = {}
        self._batched: dict = {}
        keep_freed_memory()

    def prepare_plan(self, plan):
        """Called once per new plan: on a CPU whose kernel cache lacks some of the plan's kernels,
        tell the user and compile them in worker processes meanwhile (coldstart.py)."""
        _coldstart.prepare(plan.steps)  # first: workers start before this process imports Numba
        _coldstart.install_listener()
        from .coldplan import prepare_batched
        prepare_batched(plan)  # the optimizer's update kernel, needed last in the step

    def running(self):
        """Context around one plan run: BLAS on one thread, so that only Numba's pool runs
        threads (threads.py: two spinning pools on the same cores cost milliseconds per switch)."""
        return SerialBlas()

    def empty(self, shape, dtype):
        """An uninitialised array for the memory plan. A large one (a plan's arena, allocated
        once after the first run) first hands the heap pages freed since then back to the
        kernel (memory.release_freed_memory): the first run's activations, kept mapped by
        keep_freed_memory, would otherwise stay resident beside the arena."""
        shape = tuple(shape)
        n = np.dtype(dtype).itemsize
        for d in shape:
            n *= int(d)
        if n >= _TRIM_BEFORE:
            from .memory import release_freed_memory
            release_freed_memory()
        return aligned_empty(shape, dtype)  # on a cache line: the kernels' vector stores stay whole

    def from_numpy(self, array):
        # Numba compiles read-only arrays as a separate type (seconds per kernel): hand out
        # writeable arrays only
        array = np.asarray(array)
        return array if array.flags.writeable else array.copy()

    def matmul(self, a, b, out=None):
        """a @ b; 2-D float products on BLAS split by rows over the Numba threads inside a plan
        (kernels/gemm.py)."""
        return _k("gemm").matmul(a, b, out=out)

    # ------------------------------------------------------------ reductions
    def sum(self, x, axes, keepdims, out=None):
        R = _k("reduce").leading_split(x, axes) if axes is not None else None
        if R is None:
            if type(x) is np.ndarray and (axes is None or type(axes) in (int, tuple)):
                # what np.sum calls, without its two Python layers (~2.5 us of a call: a loss
                # and a metric make several sums of tiny arrays per step)
                return np.add.reduce(x, axis=axes, dtype=np.int64 if x.dtype == np.bool_ else x.dtype, out=out,
                                     keepdims=keepdims)
            return super().sum(x, axes, keepdims, out=out)
        if out is not None:  # C-contiguous: its elements are the (C,) sums in order
            _k("reduce").sum_leading(x, R, out=out.reshape(-1))
            return out
        s = _k("reduce").sum_leading(x, R)
        k = len(set(int(a) % x.ndim for a in ((axes,) if np.ndim(axes) == 0 else axes)))
        return s.reshape(((1,) * k if keepdims else ()) + x.shape[k:])

    def softmax(self, x, axis, out=None):
        if type(x) is not np.ndarray or x.size == 0 or x.dtype.kind != "f":
            return super().softmax(x, axis, out=out)
        if out is None:  # a plan's output (not pooled): the same passes into a new array
            out = np.empty_like(x)
        # ArrayBackend.softmax's three passes into `out`, its reductions called as the ufuncs'
        # own (np.max and np.sum add ~2 us each on a batch's logits)
        np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True), out=out)
        np.exp(out, out=out)
        return np.divide(out, np.add.reduce(out, axis=axis, keepdims=True), out=out)

    def categorical_crossentropy_grad(self, g, target, output, axis, eps, softmax=False, out=None):
        if axis == output.ndim - 1 and type(output) is np.ndarray:
            result = _k("crossentropy").crossentropy_grad(g, target, output, eps, softmax, out=out)
            if result is not None:
                return result
        return super().categorical_crossentropy_grad(g, target, output, axis, eps, softmax, out=out)

    def sum_to_like(self, x, ref, out=None):
        shape = tuple(ref.shape)
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and x.shape[i + lead] != 1)
        R = _k("reduce").leading_split(x, axes) if axes else None
        if R is None:
            if not axes or type(x) is not np.ndarray:
                return super().sum_to_like(x, ref, out=out)
            # ArrayBackend.sum_to_like's keepdims sum (in x's dtype), as the ufunc's own call
            if out is None:
                return np.add.reduce(x, axis=axes, dtype=x.dtype, keepdims=True).reshape(shape)
            np.add.reduce(x, axis=axes, dtype=x.dtype, keepdims=True,
                          out=out.reshape(tuple(1 if i in axes else d for i, d in enumerate(x.shape))))
            return out
        if out is not None:
            _k("reduce").sum_leading(x, R, out=out.reshape(-1))
            return out
        return _k("reduce").sum_leading(x, R).reshape(shape)

    # ------------------------------------------------------------ nn kernels (float32/float64)
    # The conv and pool primitives are rank-generic: rank 2 runs the Numba kernels; rank 1 goes
    # to ArrayBackend, which calls these methods again as rank 2 on a unit first spatial axis
    # (xp/nn_primitives.lift), so the same kernels run; rank 3 runs the reference code. Only the
    # conv + bias fold (_conv, which ArrayBackend does not know) lifts rank 1 itself.
    def conv(self, x, w, strides, padding, dilation, groups, out=None):
        return self._conv(x, w, strides, padding, dilation, groups, out=out)

    def _conv(self, x, w, strides, padding, dilation, groups, bias=None, out=None):
        """conv, plus a (Cout,) bias where the sums start when `bias` is given (see fused_form)."""
        if len(strides) == 1:
            y = self._conv(lift(x), lift_kernel(w), groups=groups, bias=bias, out=lift(out),
                           **lift_geometry(strides=strides, padding=padding, dilation=dilation))
            return drop(y, out)
        if len(strides) != 2 or not _fast(x, w, bias):
            y = super().conv(x, w, strides, padding, dilation, groups)
            return _into(out, y if bias is None else self.add(y, bias))
        return _k("conv").conv2d(_w(x), _w(w), strides, padding, dilation, groups, bias=bias, out=out)

    # ------------------------------------------------------------ fused forms (interface.PATTERNS)
    def fused_form(self, pattern, nodes):
        """conv (1 or 2 spatial axes) + bias (the bias is where the convolution's sums start),
        matmul + bias (+ relu/sigmoid/tanh) applied to each block of rows right after its BLAS
        call, the categorical cross-entropy of probabilities in one pass per row, a 2-D pooling's
        backprop masked by relu's gradient as its rows complete, and batch norm (training mode, or
        inference's per-channel affine) writing its result rectified (kernels/fused_forms.py).
        Each saves full reads and writes of the activation."""
        from .kernels import fused_forms
        if pattern is CONV_BIAS:
            conv = nodes[0]
            attrs = dict(conv.attrs)
            if len(attrs["strides"]) > 2 or isinstance(attrs.get("padding"), str):  # 'same': resolved per call
                return None
            fn = self._conv
            return lambda x, w, b, out=None: fn(x, w, bias=b, out=out, **attrs)
        build = _FUSED_FORMS.get(pattern.name)
        return None if build is None else getattr(fused_forms, build)(self, pattern, nodes)

    def conv_backprop_input(self, g, w, input_shape, strides, padding, dilation, groups, out=None):
        if len(strides) != 2 or not _fast(g, w):  # rank 1 comes back here as rank 2 (ArrayBackend.lift)
            return super().conv_backprop_input(g, w, input_shape, strides, padding, dilation, groups, out=out)
        shape = (g.shape[0],) + tuple(input_shape)
        return _k("conv").conv2d_backprop_input(_w(g), _w(w), shape, strides, padding, dilation, groups, out=out)

    def conv_backprop_filter(self, x, g, filter_shape, strides, padding, dilation, groups, out=None):
        if len(strides) != 2 or not _fast(x, g):
            return super().conv_backprop_filter(x, g, filter_shape, strides, padding, dilation, groups, out=out)
        return _k("conv").conv2d_backprop_filter(_w(x), _w(g), tuple(filter_shape), strides, padding, dilation,
                                                 groups, out=out)

    def pool(self, x, mode, pool_size, strides, padding, out=None):
        if len(strides) != 2 or mode not in _POOL or not _fast(x):
            return super().pool(x, mode, pool_size, strides, padding, out=out)
        return getattr(_k("pool"), _POOL[mode][0])(_w(x), pool_size, strides, padding, out=out)

    def pool_backprop(self, *arrays, mode, pool_size, strides, padding, input_shape=None, out=None):
        if len(strides) != 2 or mode not in _POOL or not _fast(*arrays):
            return super().pool_backprop(*arrays, mode=mode, pool_size=pool_size, strides=strides, padding=padding,
                                         input_shape=input_shape, out=out)
        backprop = getattr(_k("pool"), _POOL[mode][1])
        if mode == "max":
            x, y, g = arrays
            return backprop(_w(x), _w(y), _w(g), pool_size, strides, padding, out=out)
        (g,) = arrays
        return backprop(_w(g), (g.shape[0],) + tuple(input_shape), pool_size, strides, padding, out=out)

    def batchnorm_train(self, x, gamma, beta, axes, epsilon, out=None):
        # the kernels need a non-empty reduction; an empty one gives NaN statistics as in NumPy
        if not _fast(x, gamma, beta) or x.size == 0:
            return super().batchnorm_train(x, gamma, beta, axes, epsilon, out=out)
        return _k("batchnorm").batchnorm_train_forward(_w(x), _w(gamma), _w(beta), axes, epsilon, out=out)

    def batchnorm_train_backward(self, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=None):
        if not _fast(x, gamma, mean, var, gy, gmean, gvar) or x.size == 0:
            return super().batchnorm_train_backward(x, gamma, mean, var, gy, gmean, gvar, axes, epsilon, out=out)
        return _k("batchnorm").batchnorm_train_backward(_w(x), _w(gamma), _w(mean), _w(var), _w(gy), _w(gmean),
                                                        _w(gvar), axes, epsilon, out=out)

    def fusable(self, node) -> bool:
        """Numba has no float16 type: float16 ops run as NumPy primitives instead of fused kernels.
        Integer powers run as NumPy too: NumPy raises for a negative integer exponent, where a
        Numba kernel crashes the process."""
        if node.op == "pow" and np.dtype(node.dtype).kind in "iub":
            return False
        return node.dtype != "float16" and all(i.dtype != "float16" for i in node.inputs)

    def compile_elementwise(self, program):
        """A callable(*arrays) -> list of outputs running `program` (cached by its source)."""
        from .fused import FusedKernel
        key = program.source_key()
        kernel = self._fused.get(key)
        if kernel is None:
            kernel = self._fused[key] = FusedKernel(program)
        return kernel

    def compile_elementwise_batch(self, program, kinds):
        """One parallel kernel running `program` over every member (batched.py); the compiled
        kernels are shared by programs of one source and input kinds."""
        from .batched import BatchedKernel
        return BatchedKernel(program, kinds, self._batched)


# the Numba pooling kernels of each mode: (forward, backprop) in kernels/pool.py
_POOL = {"max": ("max_pool2d", "max_pool2d_backprop"), "avg": ("avg_pool2d", "avg_pool2d_backprop")}


def _fast(*arrays) -> bool:
    """The Numba kernels cover float32 and float64 inputs of one dtype; others use NumPy."""
    dt = arrays[0].dtype
    return dt in (np.float32, np.float64) and all(a is None or a.dtype == dt for a in arrays)


def _into(out, y):
    """A result computed elsewhere, written into the caller's `out` when one is given."""
    if out is None:
        return y
    np.copyto(out, y)
    return out


def _w(a):
    """A writeable array (read-only ones would compile a second copy of every kernel)."""
    if a is None or a.flags.writeable:
        return a
    return a.copy()


_KERNEL_MODULES: dict = {}


def _k(name):
    """The kernel module `name`, imported on first use (an import costs cold-start time) and
    then kept: import_module's lookup is ~0.6 us, paid by every small reduction of a plan."""
    module = _KERNEL_MODULES.get(name)
    if module is None:
        import importlib
        module = _KERNEL_MODULES[name] = importlib.import_module(f"keraslite_numba.kernels.{name}")
    return module

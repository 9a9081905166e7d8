"""keraslite_numba: the default CPU backend. NumPy arrays as the native type; hot primitives
replaced by Numba JIT kernels (compiled on first use, cached on disk)."""
import numpy as np

from keraslite.backend.interface import CONV_BIAS, CROSSENTROPY, GEMM_EPILOGUE, ArrayBackend
from keraslite.backend.xp.core import OUT_MODES

from .threads import SerialBlas, set_openmp_defaults

set_openmp_defaults()  # before Numba starts its OpenMP pool (first parallel kernel)


class NumbaBackend(ArrayBackend):
    """CPU backend: ArrayBackend's NumPy primitives, with Numba kernels where they win, and
    chains of elementwise ops fused into one generated kernel each."""

    name = "numba"
    xp = np
    fuses_elementwise = True
    # primitives and fused kernels that write into the compiler's pooled buffers (interface.py)
    out_modes = {**OUT_MODES, "elementwise": "inplace", **{op: "out" for op in (
        "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "max_pool2d", "max_pool2d_backprop",
        "avg_pool2d", "avg_pool2d_backprop", "conv2d+add", "matmul+add", "matmul+add+relu", "matmul+add+sigmoid",
        "matmul+add+tanh", "+".join(n for s in CROSSENTROPY.stages for n in s.ops))}}

    def __init__(self):
        from .memory import keep_freed_memory
        self._fused: dict = {}
        keep_freed_memory()

    def running(self):
        """Context around one plan run: BLAS on one thread, so that only Numba's pool runs
        threads (threads.py: two spinning pools on the same cores cost milliseconds per switch)."""
        return SerialBlas()

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
            return super().sum(x, axes, keepdims, out=out)
        if out is not None:  # C-contiguous: its elements are the (C,) sums in order
            _k("reduce").sum_leading(x, R, out=out.reshape(-1))
            return out
        s = _k("reduce").sum_leading(x, R)
        k = len(set(int(a) % x.ndim for a in ((axes,) if np.ndim(axes) == 0 else axes)))
        return s.reshape(((1,) * k if keepdims else ()) + x.shape[k:])

    def sum_to_like(self, x, ref, out=None):
        shape = tuple(ref.shape)
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and x.shape[i + lead] != 1)
        R = _k("reduce").leading_split(x, axes) if axes else None
        if R is None:
            return super().sum_to_like(x, ref, out=out)
        if out is not None:
            _k("reduce").sum_leading(x, R, out=out.reshape(-1))
            return out
        return _k("reduce").sum_leading(x, R).reshape(shape)

    # ------------------------------------------------------------ nn kernels (float32/float64)
    def conv2d(self, x, w, strides, padding, dilation, groups, out=None):
        return self._conv2d(x, w, strides, padding, dilation, groups, out=out)

    def _conv2d(self, x, w, strides, padding, dilation, groups, bias=None, out=None):
        """conv2d, plus a (Cout,) bias where the sums start when `bias` is given (see fused_form)."""
        if not _fast(x, w, bias):
            y = super().conv2d(x, w, strides, padding, dilation, groups)
            return _into(out, y if bias is None else self.add(y, bias))
        return _k("conv").conv2d(_w(x), _w(w), strides, padding, dilation, groups, bias=bias, out=out)

    # ------------------------------------------------------------ fused forms (interface.PATTERNS)
    def fused_form(self, pattern, nodes):
        """conv2d + bias (the bias is where the convolution's sums start), matmul + bias
        (+ relu/sigmoid/tanh) applied to each block of rows right after its BLAS call, and the
        categorical cross-entropy of probabilities in one pass per row (kernels/fused_forms.py).
        Each saves full reads and writes of the activation."""
        from .kernels import fused_forms
        if pattern is CONV_BIAS:
            conv, add = nodes
            attrs = dict(conv.attrs)
            if isinstance(attrs.get("padding"), str):  # 'same' resolved per call (ops/conv.py)
                return None
            fn = self._conv2d
            return lambda x, w, b, out=None: fn(x, w, bias=b, out=out, **attrs)
        if pattern is GEMM_EPILOGUE:
            return fused_forms.gemm_epilogue(self, pattern, nodes)
        if pattern is CROSSENTROPY:
            return fused_forms.crossentropy(self, pattern, nodes)
        return None

    def conv2d_backprop_input(self, g, w, input_shape, strides, padding, dilation, groups, out=None):
        if not _fast(g, w):
            return _into(out, super().conv2d_backprop_input(g, w, input_shape, strides, padding, dilation, groups))
        shape = (g.shape[0],) + tuple(input_shape)
        return _k("conv").conv2d_backprop_input(_w(g), _w(w), shape, strides, padding, dilation, groups, out=out)

    def conv2d_backprop_filter(self, x, g, filter_shape, strides, padding, dilation, groups, out=None):
        if not _fast(x, g):
            return _into(out, super().conv2d_backprop_filter(x, g, filter_shape, strides, padding, dilation, groups))
        return _k("conv").conv2d_backprop_filter(_w(x), _w(g), tuple(filter_shape), strides, padding, dilation,
                                                 groups, out=out)

    def max_pool2d(self, x, pool_size, strides, padding, out=None):
        if not _fast(x):
            return _into(out, super().max_pool2d(x, pool_size, strides, padding))
        return _k("pool").max_pool2d(_w(x), pool_size, strides, padding, out=out)

    def max_pool2d_backprop(self, x, y, g, pool_size, strides, padding, out=None):
        if not _fast(x, y, g):
            return _into(out, super().max_pool2d_backprop(x, y, g, pool_size, strides, padding))
        return _k("pool").max_pool2d_backprop(_w(x), _w(y), _w(g), pool_size, strides, padding, out=out)

    def avg_pool2d(self, x, pool_size, strides, padding, out=None):
        if not _fast(x):
            return _into(out, super().avg_pool2d(x, pool_size, strides, padding))
        return _k("pool").avg_pool2d(_w(x), pool_size, strides, padding, out=out)

    def avg_pool2d_backprop(self, g, input_shape, pool_size, strides, padding, out=None):
        if not _fast(g):
            return _into(out, super().avg_pool2d_backprop(g, input_shape, pool_size, strides, padding))
        return _k("pool").avg_pool2d_backprop(_w(g), (g.shape[0],) + tuple(input_shape), pool_size, strides,
                                              padding, out=out)

    def batchnorm_train(self, x, gamma, beta, axes, epsilon):
        # the kernels need a non-empty reduction; an empty one gives NaN statistics as in NumPy
        if not _fast(x, gamma, beta) or x.size == 0:
            return super().batchnorm_train(x, gamma, beta, axes, epsilon)
        return _k("batchnorm").batchnorm_train_forward(_w(x), _w(gamma), _w(beta), axes, epsilon)

    def batchnorm_train_backward(self, x, gamma, mean, var, gy, gmean, gvar, axes, epsilon):
        if not _fast(x, gamma, mean, var, gy, gmean, gvar) or x.size == 0:
            return super().batchnorm_train_backward(x, gamma, mean, var, gy, gmean, gvar, axes, epsilon)
        return _k("batchnorm").batchnorm_train_backward(_w(x), _w(gamma), _w(mean), _w(var), _w(gy), _w(gmean),
                                                        _w(gvar), axes, epsilon)

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


def _k(name):
    import importlib
    return importlib.import_module(f"keraslite_numba.kernels.{name}")

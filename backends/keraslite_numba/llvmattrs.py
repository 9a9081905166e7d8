"""Per-function LLVM attributes from inside Numba kernels.

``wide_vectors()`` (call it anywhere in an njit function, it emits no code) marks the LLVM
function it is lowered into with "prefer-vector-width"="512" and "min-legal-vector-width"="512":
on AVX-512 CPUs whose default tuning prefers 256-bit vectors (LLVM's `prefer-256-bit`, e.g.
Ice/Rocket Lake), the vectorisers of that one function then use zmm registers. Other functions
keep the default. On CPUs without AVX-512 the attributes change nothing. A prange body is its
own LLVM function: call it inside the loop to reach the parallel part."""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_ATTRS = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


@intrinsic
def wide_vectors(typingctx):
    def codegen(context, builder, signature, args):
        attrs = builder.function.attributes
        for a in _ATTRS:
            set.add(attrs, a)  # string attributes: llvmlite's add() accepts only flag names
        return context.get_dummy_value()
    return types.none(), codegen


def _check_llvmlite():
    """True when llvmlite writes function attributes verbatim (as 0.4x-0.5x do)."""
    f = ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), []), "f")
    set.add(f.attributes, _ATTRS[0])
    return _ATTRS[0] in str(f)

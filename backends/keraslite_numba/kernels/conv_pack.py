"""The filter of a convolution packed into the microkernel's column panels (conv.py).

The forward kernel reads its right operand as panels of NR columns: ``wp[g*nblk + b, k, c] =
w[k, g*Cog + b*NR + c]`` (k runs over (i, j, ci); zero past Cog). Backprop input runs the same
kernel with the filter flipped and its channels swapped, so that panel is ``wp[g*nblk + b,
(i*kw + j)*Cog + co, c] = w[kh-1-i, kw-1-j, b*NR + c, g*Cog + co]`` (zero past Cig).

Both are pure data movement (the results are the same bits whichever route packs them). Large
filters are packed by one Numba kernel in one pass that writes every cell (so the array needs no
zeroing: a freed block of the same size comes back from the heap without page faults). The
NumPy route (a zeroed array, then one or two transposing copies) costs about as much as the
convolution itself on a ResNet's deep layers (5 ms for a 3x3x512x512 filter, 8 ms flipped for
a 1x1x1024x2048 one). Small filters take the NumPy route, which has nothing to compile.
"""
import numpy as np
from numba import njit, prange

from ..twins import twin

# filters of fewer elements are packed by NumPy (microseconds; no kernel to compile cold)
NUMBA_MIN = 1 << 16


@twin("conv_pack")
@njit(parallel=True, cache=True)
def _pack(w, G, flip, nr, wp):
    kh, kw, Cig, Co = w.shape
    Cog = Co // G
    cols = Cig if flip else Cog   # the panels' columns: Cig for the flipped filter
    rows = Cog if flip else Cig   # per tap (i, j): the panel rows
    nblk = wp.shape[0] // G
    zero = wp.dtype.type(0)
    for p in prange(G * nblk):
        g = p // nblk
        c0 = (p - g * nblk) * nr
        nc = min(nr, cols - c0)
        for i in range(kh):
            for j in range(kw):
                k0 = (i * kw + j) * rows
                if flip:
                    src = w[kh - 1 - i, kw - 1 - j]
                    for c in range(nc):  # reads run along co (contiguous in w)
                        srow = src[c0 + c, g * Cog:(g + 1) * Cog]
                        for r in range(rows):
                            wp[p, k0 + r, c] = srow[r]
                else:
                    src = w[i, j]
                    for r in range(rows):
                        srow = src[r, g * Cog + c0:g * Cog + c0 + nc]
                        for c in range(nc):
                            wp[p, k0 + r, c] = srow[c]
                for r in range(rows):
                    for c in range(nc, nr):
                        wp[p, k0 + r, c] = zero


def panels_shape(w_shape, groups, flip, nr) -> tuple:
    """The shape (G*nblk, K, nr) of packed_filter's result for a filter of shape w_shape."""
    kh, kw, Cig, Co = w_shape
    G = int(groups)
    cols, rows = (Cig, Co // G) if flip else (Co // G, Cig)
    return G * -(-cols // nr), kh * kw * rows, nr


def packed_filter(w, groups, flip, nr, out=None):
    """The panels (G*nblk, K, nr) of the C-contiguous filter w (kh, kw, Cig, Co) for the
    forward kernel (flip False) or for backprop input (flip True); see the module docstring.
    `out`: a C-contiguous array of that shape and w's dtype to write them into (every cell)."""
    kh, kw, Cig, Co = w.shape
    G = int(groups)
    Cog = Co // G
    cols = Cig if flip else Cog
    shape = panels_shape(w.shape, G, flip, nr)
    nblk, K = shape[0] // G, shape[1]
    if w.size >= NUMBA_MIN:
        wp = np.empty(shape, w.dtype) if out is None else out
        _pack(w, G, flip, nr, wp)
        return wp
    if flip:  # w2[i, j, co, g*Cig + ci] = w[kh-1-i, kw-1-j, ci, g*Cog + co]
        w = w[::-1, ::-1].reshape(kh, kw, Cig, G, Cog).transpose(0, 1, 4, 3, 2).reshape(kh, kw, Cog, G * Cig)
    if out is not None:
        view = out.reshape(G, nblk, K, nr)
        view[...] = 0
        for b in range(nblk):
            c1 = min(nr, cols - b * nr)
            view[:, b, :, :c1] = w.reshape(K, G, cols)[:, :, b * nr:b * nr + c1].transpose(1, 0, 2)
        return out
    wp = np.zeros((G, K, nblk * nr), w.dtype)
    wp[:, :, :cols] = w.reshape(K, G, cols).transpose(1, 0, 2)
    return np.ascontiguousarray(wp.reshape(G, K, nblk, nr).transpose(0, 2, 1, 3)).reshape(G * nblk, K, nr)

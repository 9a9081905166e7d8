"""The col2im scatter of conv.py's backprop input for few input channels: the adjoint of
im2col, adding each column of cols = g @ w^T back onto the input cells its tap read."""
from numba import njit, prange

from ..twins import twin


@twin("col2im")
@njit(parallel=True, cache=True)
def _col2im(cols, kh, kw, sh, sw, dh, dw, pt, pl, dx):
    """dx[n, oh*sh + i*dh - pt, ow*sw + j*dw - pl, c] += cols[n, oh, ow, (i*kw + j)*C + c];
    one image per parallel iteration (its windows overlap). Flat 1-D indexing: LLVM
    compiles it in far less time than the 4-D form (nearly all of whose ~3.5 s cold compile
    was LLVM)."""
    N, H, W, C = dx.shape
    Ho = cols.shape[1]
    Wo = cols.shape[2]
    K = cols.shape[3]
    zero = dx.dtype.type(0)
    for n in prange(N):
        dxn = dx[n].reshape(-1)
        cn = cols[n].reshape(-1)
        for t in range(H * W * C):
            dxn[t] = zero
        for oh in range(Ho):
            for i in range(kh):
                h = oh * sh + i * dh - pt
                if h < 0 or h >= H:
                    continue
                for ow in range(Wo):
                    cbase = (oh * Wo + ow) * K + i * kw * C
                    for j in range(kw):
                        w = ow * sw + j * dw - pl
                        if w < 0 or w >= W:
                            continue
                        do = (h * W + w) * C
                        so = cbase + j * C
                        dv = dxn[do:do + C]
                        cv = cn[so:so + C]
                        for c in range(C):
                            dv[c] += cv[c]

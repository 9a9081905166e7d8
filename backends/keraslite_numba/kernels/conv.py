"""2-D convolution (channels-last, NHWC x HWIO) and its two backprops, as Numba CPU kernels.

Every convolution here is an implicit GEMM: no im2col buffer is built. A register-blocked
microkernel (``_mkg_*``/``_mkr_*``, MR rows x NR columns of the output held in scalar
accumulators) reads its left operand straight from the (padded) input through a table of offsets
and its right operand from a small packed copy of the filter, so the only large arrays touched are
the input and the output themselves.

- forward:          y[p, co] = sum_k x[base(p) + koff[k]] * wpack[k, co]          (gather kernel)
- backprop input:   the forward kernel on g (zeros inserted for strides > 1, shifted by the
                    padding) with the filter flipped and transposed: a "full" correlation
- backprop filter:  dw[k, co] = sum_p x[base(p) + koff[k]] * g[p, co]   (reduce kernel; one
                    partial per thread, summed at the end)

Speed notes (measured on 2 AMD Zen 3 cores, see bench/kernels_numba_raw.py):
- The microkernels only vectorise with LLVM's SLP vectoriser, which Numba leaves off by default
  (``NUMBA_SLP_VECTORIZE=0``). The wrappers switch it on while a kernel compiles (``_slp``) and
  only then; with it off the same code runs 5-10x slower.
- The microkernels use ``fastmath={'contract'}`` and nothing else: multiply-adds become FMAs
  (one rounding instead of two, so results are if anything more accurate); no reassociation, no
  NaN/inf assumptions. The kernels around them use ``fastmath=False``.
- Large temporaries (the zero-padded input, the zero-inserted gradient of backprop input) live in
  per-thread scratch buffers reused across calls of the same geometry (``_scratch``): a fresh
  multi-MB allocation costs a page fault per 4 KiB (DESIGN.md, "Where speed comes from").
- The microkernels are generated code (``_microkernel_source`` below writes them; the test suite
  checks that the pasted text is current). ``cache=True`` needs them to live in this file.
"""
import collections
import contextlib
import functools
import threading

import numba
import numpy as np
from numba import njit, prange

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]

# The register tile: MR output rows x NR output columns. One tile size for every shape and dtype:
# each tile is a large function, and every kernel that calls it re-optimises it when it compiles
# (Numba links callees in as IR), so each extra tile costs seconds of cold compile time. 3x32 was
# the fastest float32 tile measured (4x16: -25%, 4x8: -50%); float64 runs it with spills (slower,
# still correct).
MR, NR = 3, 32
_VARIANTS = ((MR, NR),)


# --------------------------------------------------------------------------------------------
# microkernel generator (not run at import; kept next to its output so both change together)
# --------------------------------------------------------------------------------------------
def _gen_stores(L, ind, MR, NR):
    for r in range(MR):
        L.append(f"{ind}if nr > {r}:")
        L.append(f"{ind}    cv = C[cb[{r}]:cb[{r}] + {NR}]")
        L.append(f"{ind}    if nc == {NR}:")
        L.append(f"{ind}        if accumulate:")
        L.append(f"{ind}            " + "; ".join(f"cv[{c}] += s{r}_{c}" for c in range(NR)))
        L.append(f"{ind}        else:")
        L.append(f"{ind}            " + "; ".join(f"cv[{c}] = s{r}_{c}" for c in range(NR)))
        L.append(f"{ind}    else:")
        L.append(f"{ind}        " + "; ".join(f"tmp[{c}] = s{r}_{c}" for c in range(NR)))
        L.append(f"{ind}        for c in range(nc):")
        L.append(f"{ind}            if accumulate:")
        L.append(f"{ind}                cv[c] += tmp[c]")
        L.append(f"{ind}            else:")
        L.append(f"{ind}                cv[c] = tmp[c]")


def _gen_init(L, MR, NR):
    L.append("    z = C.dtype.type(0)")
    L.append("    " + "; ".join(f"a{r} = ab[{r}]" for r in range(MR)))
    for r in range(MR):
        L.append("    " + "; ".join(f"s{r}_{c} = z" for c in range(NR)))


def _gen_body(L, ind, MR, NR, addr, bref):
    L.append(f"{ind}" + "; ".join(f"b{c} = {bref}{c}]" for c in range(NR)))
    for r in range(MR):
        L.append(f"{ind}x = A[{addr.format(r=r)}]")
        L.append(f"{ind}" + "; ".join(f"s{r}_{c} += x * b{c}" for c in range(NR)))


def _microkernel_source():
    """Source text of the generated microkernels, exactly as pasted below."""
    out = []
    for MR, NR in _VARIANTS:
        L = ["@njit(cache=True, fastmath={'contract'})",
             f"def _mkg_{MR}x{NR}(A, ab, koff, K, B, blk, C, cb, nr, nc, accumulate, tmp):",
             f'    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[blk, k, c] for r < nr, c < nc.',
             f"",
             f"    A, ab, koff: offsets are uint64 (no negative-index wraparound code in the loop);",
             f'    B: (panels, K, {NR}) C-contiguous; tmp: scratch of length >= {NR}."""']
        _gen_init(L, MR, NR)
        L.append("    Bp = B[blk]")
        L.append("    for k in range(K):")
        L.append("        o = koff[k]")
        _gen_body(L, "        ", MR, NR, "a{r} + o", "Bp[k, ")
        _gen_stores(L, "    ", MR, NR)
        out.append("\n".join(L) + "\n")
        L = ["@njit(cache=True, fastmath={'contract'})",
             f"def _mkr_{MR}x{NR}(A, ab, rowbase, r0, r1, nk, astep, B, blk, C, cb, nr, nc,",
             f"          accumulate, tmp):",
             f'    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *',
             f"    B[row*nk + k, blk, c] for row in [r0, r1), k < nk, r < nr, c < nc.",
             f"",
             f"    A, ab, rowbase, astep: uint64; B: (pixels, blocks, {NR}) C-contiguous;",
             f'    tmp: scratch of length >= {NR}."""']
        _gen_init(L, MR, NR)
        L.append("    for row in range(r0, r1):")
        L.append("        xo = rowbase[row]")
        L.append("        Br = B[row * nk:(row + 1) * nk]")
        L.append("        for k in range(nk):")
        _gen_body(L, "            ", MR, NR, "xo + a{r}", "Br[k, blk, ")
        L.append("            xo += astep")
        _gen_stores(L, "    ", MR, NR)
        out.append("\n".join(L) + "\n")
    return "\n\n".join(out)


# ---- BEGIN GENERATED MICROKERNELS (python -c "from conv import _microkernel_source as s; print(s())")
@njit(cache=True, fastmath={'contract'})
def _mkg_3x32(A, ab, koff, K, B, blk, C, cb, nr, nc, accumulate, tmp):
    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[blk, k, c] for r < nr, c < nc.

    A, ab, koff: offsets are uint64 (no negative-index wraparound code in the loop);
    B: (panels, K, 32) C-contiguous; tmp: scratch of length >= 32."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z; s0_16 = z; s0_17 = z; s0_18 = z; s0_19 = z; s0_20 = z; s0_21 = z; s0_22 = z; s0_23 = z; s0_24 = z; s0_25 = z; s0_26 = z; s0_27 = z; s0_28 = z; s0_29 = z; s0_30 = z; s0_31 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z; s1_16 = z; s1_17 = z; s1_18 = z; s1_19 = z; s1_20 = z; s1_21 = z; s1_22 = z; s1_23 = z; s1_24 = z; s1_25 = z; s1_26 = z; s1_27 = z; s1_28 = z; s1_29 = z; s1_30 = z; s1_31 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z; s2_16 = z; s2_17 = z; s2_18 = z; s2_19 = z; s2_20 = z; s2_21 = z; s2_22 = z; s2_23 = z; s2_24 = z; s2_25 = z; s2_26 = z; s2_27 = z; s2_28 = z; s2_29 = z; s2_30 = z; s2_31 = z
    Bp = B[blk]
    for k in range(K):
        o = koff[k]
        b0 = Bp[k, 0]; b1 = Bp[k, 1]; b2 = Bp[k, 2]; b3 = Bp[k, 3]; b4 = Bp[k, 4]; b5 = Bp[k, 5]; b6 = Bp[k, 6]; b7 = Bp[k, 7]; b8 = Bp[k, 8]; b9 = Bp[k, 9]; b10 = Bp[k, 10]; b11 = Bp[k, 11]; b12 = Bp[k, 12]; b13 = Bp[k, 13]; b14 = Bp[k, 14]; b15 = Bp[k, 15]; b16 = Bp[k, 16]; b17 = Bp[k, 17]; b18 = Bp[k, 18]; b19 = Bp[k, 19]; b20 = Bp[k, 20]; b21 = Bp[k, 21]; b22 = Bp[k, 22]; b23 = Bp[k, 23]; b24 = Bp[k, 24]; b25 = Bp[k, 25]; b26 = Bp[k, 26]; b27 = Bp[k, 27]; b28 = Bp[k, 28]; b29 = Bp[k, 29]; b30 = Bp[k, 30]; b31 = Bp[k, 31]
        x = A[a0 + o]
        s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15; s0_16 += x * b16; s0_17 += x * b17; s0_18 += x * b18; s0_19 += x * b19; s0_20 += x * b20; s0_21 += x * b21; s0_22 += x * b22; s0_23 += x * b23; s0_24 += x * b24; s0_25 += x * b25; s0_26 += x * b26; s0_27 += x * b27; s0_28 += x * b28; s0_29 += x * b29; s0_30 += x * b30; s0_31 += x * b31
        x = A[a1 + o]
        s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15; s1_16 += x * b16; s1_17 += x * b17; s1_18 += x * b18; s1_19 += x * b19; s1_20 += x * b20; s1_21 += x * b21; s1_22 += x * b22; s1_23 += x * b23; s1_24 += x * b24; s1_25 += x * b25; s1_26 += x * b26; s1_27 += x * b27; s1_28 += x * b28; s1_29 += x * b29; s1_30 += x * b30; s1_31 += x * b31
        x = A[a2 + o]
        s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15; s2_16 += x * b16; s2_17 += x * b17; s2_18 += x * b18; s2_19 += x * b19; s2_20 += x * b20; s2_21 += x * b21; s2_22 += x * b22; s2_23 += x * b23; s2_24 += x * b24; s2_25 += x * b25; s2_26 += x * b26; s2_27 += x * b27; s2_28 += x * b28; s2_29 += x * b29; s2_30 += x * b30; s2_31 += x * b31
    if nr > 0:
        cv = C[cb[0]:cb[0] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7; cv[8] += s0_8; cv[9] += s0_9; cv[10] += s0_10; cv[11] += s0_11; cv[12] += s0_12; cv[13] += s0_13; cv[14] += s0_14; cv[15] += s0_15; cv[16] += s0_16; cv[17] += s0_17; cv[18] += s0_18; cv[19] += s0_19; cv[20] += s0_20; cv[21] += s0_21; cv[22] += s0_22; cv[23] += s0_23; cv[24] += s0_24; cv[25] += s0_25; cv[26] += s0_26; cv[27] += s0_27; cv[28] += s0_28; cv[29] += s0_29; cv[30] += s0_30; cv[31] += s0_31
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7; cv[8] = s0_8; cv[9] = s0_9; cv[10] = s0_10; cv[11] = s0_11; cv[12] = s0_12; cv[13] = s0_13; cv[14] = s0_14; cv[15] = s0_15; cv[16] = s0_16; cv[17] = s0_17; cv[18] = s0_18; cv[19] = s0_19; cv[20] = s0_20; cv[21] = s0_21; cv[22] = s0_22; cv[23] = s0_23; cv[24] = s0_24; cv[25] = s0_25; cv[26] = s0_26; cv[27] = s0_27; cv[28] = s0_28; cv[29] = s0_29; cv[30] = s0_30; cv[31] = s0_31
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7; tmp[8] = s0_8; tmp[9] = s0_9; tmp[10] = s0_10; tmp[11] = s0_11; tmp[12] = s0_12; tmp[13] = s0_13; tmp[14] = s0_14; tmp[15] = s0_15; tmp[16] = s0_16; tmp[17] = s0_17; tmp[18] = s0_18; tmp[19] = s0_19; tmp[20] = s0_20; tmp[21] = s0_21; tmp[22] = s0_22; tmp[23] = s0_23; tmp[24] = s0_24; tmp[25] = s0_25; tmp[26] = s0_26; tmp[27] = s0_27; tmp[28] = s0_28; tmp[29] = s0_29; tmp[30] = s0_30; tmp[31] = s0_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7; cv[8] += s1_8; cv[9] += s1_9; cv[10] += s1_10; cv[11] += s1_11; cv[12] += s1_12; cv[13] += s1_13; cv[14] += s1_14; cv[15] += s1_15; cv[16] += s1_16; cv[17] += s1_17; cv[18] += s1_18; cv[19] += s1_19; cv[20] += s1_20; cv[21] += s1_21; cv[22] += s1_22; cv[23] += s1_23; cv[24] += s1_24; cv[25] += s1_25; cv[26] += s1_26; cv[27] += s1_27; cv[28] += s1_28; cv[29] += s1_29; cv[30] += s1_30; cv[31] += s1_31
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7; cv[8] = s1_8; cv[9] = s1_9; cv[10] = s1_10; cv[11] = s1_11; cv[12] = s1_12; cv[13] = s1_13; cv[14] = s1_14; cv[15] = s1_15; cv[16] = s1_16; cv[17] = s1_17; cv[18] = s1_18; cv[19] = s1_19; cv[20] = s1_20; cv[21] = s1_21; cv[22] = s1_22; cv[23] = s1_23; cv[24] = s1_24; cv[25] = s1_25; cv[26] = s1_26; cv[27] = s1_27; cv[28] = s1_28; cv[29] = s1_29; cv[30] = s1_30; cv[31] = s1_31
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7; tmp[8] = s1_8; tmp[9] = s1_9; tmp[10] = s1_10; tmp[11] = s1_11; tmp[12] = s1_12; tmp[13] = s1_13; tmp[14] = s1_14; tmp[15] = s1_15; tmp[16] = s1_16; tmp[17] = s1_17; tmp[18] = s1_18; tmp[19] = s1_19; tmp[20] = s1_20; tmp[21] = s1_21; tmp[22] = s1_22; tmp[23] = s1_23; tmp[24] = s1_24; tmp[25] = s1_25; tmp[26] = s1_26; tmp[27] = s1_27; tmp[28] = s1_28; tmp[29] = s1_29; tmp[30] = s1_30; tmp[31] = s1_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7; cv[8] += s2_8; cv[9] += s2_9; cv[10] += s2_10; cv[11] += s2_11; cv[12] += s2_12; cv[13] += s2_13; cv[14] += s2_14; cv[15] += s2_15; cv[16] += s2_16; cv[17] += s2_17; cv[18] += s2_18; cv[19] += s2_19; cv[20] += s2_20; cv[21] += s2_21; cv[22] += s2_22; cv[23] += s2_23; cv[24] += s2_24; cv[25] += s2_25; cv[26] += s2_26; cv[27] += s2_27; cv[28] += s2_28; cv[29] += s2_29; cv[30] += s2_30; cv[31] += s2_31
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7; cv[8] = s2_8; cv[9] = s2_9; cv[10] = s2_10; cv[11] = s2_11; cv[12] = s2_12; cv[13] = s2_13; cv[14] = s2_14; cv[15] = s2_15; cv[16] = s2_16; cv[17] = s2_17; cv[18] = s2_18; cv[19] = s2_19; cv[20] = s2_20; cv[21] = s2_21; cv[22] = s2_22; cv[23] = s2_23; cv[24] = s2_24; cv[25] = s2_25; cv[26] = s2_26; cv[27] = s2_27; cv[28] = s2_28; cv[29] = s2_29; cv[30] = s2_30; cv[31] = s2_31
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7; tmp[8] = s2_8; tmp[9] = s2_9; tmp[10] = s2_10; tmp[11] = s2_11; tmp[12] = s2_12; tmp[13] = s2_13; tmp[14] = s2_14; tmp[15] = s2_15; tmp[16] = s2_16; tmp[17] = s2_17; tmp[18] = s2_18; tmp[19] = s2_19; tmp[20] = s2_20; tmp[21] = s2_21; tmp[22] = s2_22; tmp[23] = s2_23; tmp[24] = s2_24; tmp[25] = s2_25; tmp[26] = s2_26; tmp[27] = s2_27; tmp[28] = s2_28; tmp[29] = s2_29; tmp[30] = s2_30; tmp[31] = s2_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]


@njit(cache=True, fastmath={'contract'})
def _mkr_3x32(A, ab, rowbase, r0, r1, nk, astep, B, blk, C, cb, nr, nc,
          accumulate, tmp):
    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *
    B[row*nk + k, blk, c] for row in [r0, r1), k < nk, r < nr, c < nc.

    A, ab, rowbase, astep: uint64; B: (pixels, blocks, 32) C-contiguous;
    tmp: scratch of length >= 32."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z; s0_16 = z; s0_17 = z; s0_18 = z; s0_19 = z; s0_20 = z; s0_21 = z; s0_22 = z; s0_23 = z; s0_24 = z; s0_25 = z; s0_26 = z; s0_27 = z; s0_28 = z; s0_29 = z; s0_30 = z; s0_31 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z; s1_16 = z; s1_17 = z; s1_18 = z; s1_19 = z; s1_20 = z; s1_21 = z; s1_22 = z; s1_23 = z; s1_24 = z; s1_25 = z; s1_26 = z; s1_27 = z; s1_28 = z; s1_29 = z; s1_30 = z; s1_31 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z; s2_16 = z; s2_17 = z; s2_18 = z; s2_19 = z; s2_20 = z; s2_21 = z; s2_22 = z; s2_23 = z; s2_24 = z; s2_25 = z; s2_26 = z; s2_27 = z; s2_28 = z; s2_29 = z; s2_30 = z; s2_31 = z
    for row in range(r0, r1):
        xo = rowbase[row]
        Br = B[row * nk:(row + 1) * nk]
        for k in range(nk):
            b0 = Br[k, blk, 0]; b1 = Br[k, blk, 1]; b2 = Br[k, blk, 2]; b3 = Br[k, blk, 3]; b4 = Br[k, blk, 4]; b5 = Br[k, blk, 5]; b6 = Br[k, blk, 6]; b7 = Br[k, blk, 7]; b8 = Br[k, blk, 8]; b9 = Br[k, blk, 9]; b10 = Br[k, blk, 10]; b11 = Br[k, blk, 11]; b12 = Br[k, blk, 12]; b13 = Br[k, blk, 13]; b14 = Br[k, blk, 14]; b15 = Br[k, blk, 15]; b16 = Br[k, blk, 16]; b17 = Br[k, blk, 17]; b18 = Br[k, blk, 18]; b19 = Br[k, blk, 19]; b20 = Br[k, blk, 20]; b21 = Br[k, blk, 21]; b22 = Br[k, blk, 22]; b23 = Br[k, blk, 23]; b24 = Br[k, blk, 24]; b25 = Br[k, blk, 25]; b26 = Br[k, blk, 26]; b27 = Br[k, blk, 27]; b28 = Br[k, blk, 28]; b29 = Br[k, blk, 29]; b30 = Br[k, blk, 30]; b31 = Br[k, blk, 31]
            x = A[xo + a0]
            s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15; s0_16 += x * b16; s0_17 += x * b17; s0_18 += x * b18; s0_19 += x * b19; s0_20 += x * b20; s0_21 += x * b21; s0_22 += x * b22; s0_23 += x * b23; s0_24 += x * b24; s0_25 += x * b25; s0_26 += x * b26; s0_27 += x * b27; s0_28 += x * b28; s0_29 += x * b29; s0_30 += x * b30; s0_31 += x * b31
            x = A[xo + a1]
            s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15; s1_16 += x * b16; s1_17 += x * b17; s1_18 += x * b18; s1_19 += x * b19; s1_20 += x * b20; s1_21 += x * b21; s1_22 += x * b22; s1_23 += x * b23; s1_24 += x * b24; s1_25 += x * b25; s1_26 += x * b26; s1_27 += x * b27; s1_28 += x * b28; s1_29 += x * b29; s1_30 += x * b30; s1_31 += x * b31
            x = A[xo + a2]
            s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15; s2_16 += x * b16; s2_17 += x * b17; s2_18 += x * b18; s2_19 += x * b19; s2_20 += x * b20; s2_21 += x * b21; s2_22 += x * b22; s2_23 += x * b23; s2_24 += x * b24; s2_25 += x * b25; s2_26 += x * b26; s2_27 += x * b27; s2_28 += x * b28; s2_29 += x * b29; s2_30 += x * b30; s2_31 += x * b31
            xo += astep
    if nr > 0:
        cv = C[cb[0]:cb[0] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7; cv[8] += s0_8; cv[9] += s0_9; cv[10] += s0_10; cv[11] += s0_11; cv[12] += s0_12; cv[13] += s0_13; cv[14] += s0_14; cv[15] += s0_15; cv[16] += s0_16; cv[17] += s0_17; cv[18] += s0_18; cv[19] += s0_19; cv[20] += s0_20; cv[21] += s0_21; cv[22] += s0_22; cv[23] += s0_23; cv[24] += s0_24; cv[25] += s0_25; cv[26] += s0_26; cv[27] += s0_27; cv[28] += s0_28; cv[29] += s0_29; cv[30] += s0_30; cv[31] += s0_31
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7; cv[8] = s0_8; cv[9] = s0_9; cv[10] = s0_10; cv[11] = s0_11; cv[12] = s0_12; cv[13] = s0_13; cv[14] = s0_14; cv[15] = s0_15; cv[16] = s0_16; cv[17] = s0_17; cv[18] = s0_18; cv[19] = s0_19; cv[20] = s0_20; cv[21] = s0_21; cv[22] = s0_22; cv[23] = s0_23; cv[24] = s0_24; cv[25] = s0_25; cv[26] = s0_26; cv[27] = s0_27; cv[28] = s0_28; cv[29] = s0_29; cv[30] = s0_30; cv[31] = s0_31
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7; tmp[8] = s0_8; tmp[9] = s0_9; tmp[10] = s0_10; tmp[11] = s0_11; tmp[12] = s0_12; tmp[13] = s0_13; tmp[14] = s0_14; tmp[15] = s0_15; tmp[16] = s0_16; tmp[17] = s0_17; tmp[18] = s0_18; tmp[19] = s0_19; tmp[20] = s0_20; tmp[21] = s0_21; tmp[22] = s0_22; tmp[23] = s0_23; tmp[24] = s0_24; tmp[25] = s0_25; tmp[26] = s0_26; tmp[27] = s0_27; tmp[28] = s0_28; tmp[29] = s0_29; tmp[30] = s0_30; tmp[31] = s0_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7; cv[8] += s1_8; cv[9] += s1_9; cv[10] += s1_10; cv[11] += s1_11; cv[12] += s1_12; cv[13] += s1_13; cv[14] += s1_14; cv[15] += s1_15; cv[16] += s1_16; cv[17] += s1_17; cv[18] += s1_18; cv[19] += s1_19; cv[20] += s1_20; cv[21] += s1_21; cv[22] += s1_22; cv[23] += s1_23; cv[24] += s1_24; cv[25] += s1_25; cv[26] += s1_26; cv[27] += s1_27; cv[28] += s1_28; cv[29] += s1_29; cv[30] += s1_30; cv[31] += s1_31
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7; cv[8] = s1_8; cv[9] = s1_9; cv[10] = s1_10; cv[11] = s1_11; cv[12] = s1_12; cv[13] = s1_13; cv[14] = s1_14; cv[15] = s1_15; cv[16] = s1_16; cv[17] = s1_17; cv[18] = s1_18; cv[19] = s1_19; cv[20] = s1_20; cv[21] = s1_21; cv[22] = s1_22; cv[23] = s1_23; cv[24] = s1_24; cv[25] = s1_25; cv[26] = s1_26; cv[27] = s1_27; cv[28] = s1_28; cv[29] = s1_29; cv[30] = s1_30; cv[31] = s1_31
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7; tmp[8] = s1_8; tmp[9] = s1_9; tmp[10] = s1_10; tmp[11] = s1_11; tmp[12] = s1_12; tmp[13] = s1_13; tmp[14] = s1_14; tmp[15] = s1_15; tmp[16] = s1_16; tmp[17] = s1_17; tmp[18] = s1_18; tmp[19] = s1_19; tmp[20] = s1_20; tmp[21] = s1_21; tmp[22] = s1_22; tmp[23] = s1_23; tmp[24] = s1_24; tmp[25] = s1_25; tmp[26] = s1_26; tmp[27] = s1_27; tmp[28] = s1_28; tmp[29] = s1_29; tmp[30] = s1_30; tmp[31] = s1_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 32]
        if nc == 32:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7; cv[8] += s2_8; cv[9] += s2_9; cv[10] += s2_10; cv[11] += s2_11; cv[12] += s2_12; cv[13] += s2_13; cv[14] += s2_14; cv[15] += s2_15; cv[16] += s2_16; cv[17] += s2_17; cv[18] += s2_18; cv[19] += s2_19; cv[20] += s2_20; cv[21] += s2_21; cv[22] += s2_22; cv[23] += s2_23; cv[24] += s2_24; cv[25] += s2_25; cv[26] += s2_26; cv[27] += s2_27; cv[28] += s2_28; cv[29] += s2_29; cv[30] += s2_30; cv[31] += s2_31
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7; cv[8] = s2_8; cv[9] = s2_9; cv[10] = s2_10; cv[11] = s2_11; cv[12] = s2_12; cv[13] = s2_13; cv[14] = s2_14; cv[15] = s2_15; cv[16] = s2_16; cv[17] = s2_17; cv[18] = s2_18; cv[19] = s2_19; cv[20] = s2_20; cv[21] = s2_21; cv[22] = s2_22; cv[23] = s2_23; cv[24] = s2_24; cv[25] = s2_25; cv[26] = s2_26; cv[27] = s2_27; cv[28] = s2_28; cv[29] = s2_29; cv[30] = s2_30; cv[31] = s2_31
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7; tmp[8] = s2_8; tmp[9] = s2_9; tmp[10] = s2_10; tmp[11] = s2_11; tmp[12] = s2_12; tmp[13] = s2_13; tmp[14] = s2_14; tmp[15] = s2_15; tmp[16] = s2_16; tmp[17] = s2_17; tmp[18] = s2_18; tmp[19] = s2_19; tmp[20] = s2_20; tmp[21] = s2_21; tmp[22] = s2_22; tmp[23] = s2_23; tmp[24] = s2_24; tmp[25] = s2_25; tmp[26] = s2_26; tmp[27] = s2_27; tmp[28] = s2_28; tmp[29] = s2_29; tmp[30] = s2_30; tmp[31] = s2_31
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
# ---- END GENERATED MICROKERNELS


# --------------------------------------------------------------------------------------------
# parallel drivers
# --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _fwd_kernel(xf, Hp, Wp, Cx, koff, wp, G, Cig, Cog, yf, N, Ho, Wo, sh, sw, TB, bias, has_bias):
    K = wp.shape[1]
    nblk = wp.shape[0] // G
    Co = G * Cog
    M = N * Ho * Wo
    HWo = Ho * Wo
    ntiles = (M + MR - 1) // MR
    nblocks = (ntiles + TB - 1) // TB
    for blk in prange(nblocks):
        ab = np.empty(MR, np.uint64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(NR, yf.dtype)
        t0 = blk * TB
        t1 = min(t0 + TB, ntiles)
        for g in range(G):
            for cblk in range(nblk):
                co0 = cblk * NR
                nc = min(NR, Cog - co0)
                p = t0 * MR
                n = p // HWo
                oh = (p - n * HWo) // Wo
                ow = p - n * HWo - oh * Wo
                for t in range(t0, t1):
                    p0 = t * MR
                    nr = min(MR, M - p0)
                    for r in range(MR):
                        if r < nr:
                            ab[r] = ((n * Hp + oh * sh) * Wp + ow * sw) * Cx + g * Cig
                            cb[r] = (p0 + r) * Co + g * Cog + co0
                            ow += 1
                            if ow == Wo:
                                ow = 0
                                oh += 1
                                if oh == Ho:
                                    oh = 0
                                    n += 1
                        else:
                            ab[r] = ab[0]
                            cb[r] = cb[0]
                    _mkg_3x32(xf, ab, koff, K, wp, g * nblk + cblk, yf, cb, nr, nc, False, tmp)
        if has_bias:
            # a fused bias add: this block's output rows are still in cache
            for p in range(t0 * MR, min(t1 * MR, M)):
                yp = yf[p * Co:(p + 1) * Co]
                for c in range(Co):
                    yp[c] += bias[c]


@njit(parallel=True, cache=True)
def _bwd_filter_kernel(xf, rowbase, koff, astep, g3, G, Cig, Cog, Wo, part, nchunks, RB):
    K = koff.shape[0]
    nblk = g3.shape[1] // G
    R = rowbase.shape[0]
    psize = G * K * Cog
    for ch in prange(nchunks):
        ab = np.empty(MR, np.uint64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(NR, part.dtype)
        rs0 = ch * R // nchunks
        rs1 = (ch + 1) * R // nchunks
        pbase = ch * psize
        part[pbase:pbase + psize] = 0
        for rs in range(rs0, rs1, RB):
            re = min(rs + RB, rs1)
            for g in range(G):
                for cblk in range(nblk):
                    co0 = cblk * NR
                    nc = min(NR, Cog - co0)
                    for k0 in range(0, K, MR):
                        nr = min(MR, K - k0)
                        for r in range(MR):
                            kk = k0 + r if r < nr else k0
                            ab[r] = koff[kk] + np.uint64(g * Cig)
                            cb[r] = pbase + (g * K + kk) * Cog + co0
                        _mkr_3x32(xf, ab, rowbase, rs, re, Wo, astep, g3, g * nblk + cblk,
                                  part, cb, nr, nc, True, tmp)


# --------------------------------------------------------------------------------------------
# Python wrappers
# --------------------------------------------------------------------------------------------
_compiled = set()


@contextlib.contextmanager
def _slp():
    """Enable LLVM's SLP vectoriser while a kernel compiles (the microkernels need it)."""
    old = numba.config.SLP_VECTORIZE
    numba.config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba.config.SLP_VECTORIZE = old


def _run(kernel, key, *args):
    if key in _compiled:
        return kernel(*args)
    with _slp():
        res = kernel(*args)
    _compiled.add(key)
    return res


_NO_BIAS = {np.dtype(d).char: np.zeros(1, d) for d in (np.float32, np.float64)}

# tiles per parallel work item in the forward kernel (TB*MR output pixels share a B panel)
_TB = 32


def _pair(v, name):
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must have 2 entries, got {v}")
    return v


def _norm_padding(padding):
    p = tuple((int(a), int(b)) for a, b in padding)
    if len(p) != 2 or min(min(a) for a in p) < 0:
        raise ValueError(f"padding must be 2 non-negative (before, after) pairs, got {padding}")
    return p


def _geometry(in_shape, k_shape, strides, padding, dilation, groups):
    N, H, W, Cin = (int(s) for s in in_shape)
    kh, kw, Cig, Co = (int(s) for s in k_shape)
    sh, sw = _pair(strides, "strides")
    dh, dw = _pair(dilation, "dilation")
    (pt, pb), (pl, pr) = _norm_padding(padding)
    G = int(groups)
    if min(sh, sw, dh, dw, G) < 1:
        raise ValueError("strides, dilation and groups must be >= 1")
    if Cin % G or Co % G or Cin // G != Cig:
        raise ValueError(f"conv2d: input channels {Cin}, filter {k_shape} and groups={G} "
                         "do not match (need Cin % groups == 0, Cout % groups == 0, "
                         "filter in-channels == Cin // groups)")
    Hp, Wp = H + pt + pb, W + pl + pr
    Ho = (Hp - dh * (kh - 1) - 1) // sh + 1
    Wo = (Wp - dw * (kw - 1) - 1) // sw + 1
    return N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, max(Ho, 0), max(Wo, 0), G


@functools.lru_cache(maxsize=256)
def _koff(kh, kw, Cig, dh, dw, Wp, Cx):
    i, j, c = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(Cig), indexing="ij")
    t = ((i * dh * Wp + j * dw) * Cx + c).ravel().astype(np.uint64)
    t.flags.writeable = False
    return t


_scratch_tls = threading.local()


def _scratch(key, shape, dtype):
    """A zero-initialised buffer kept per thread for reuse by calls with the same ``key``.

    Callers write the same cells on every call with a given key, so cells they never write stay
    zero. Reusing the buffer saves the page faults of a fresh large allocation (DESIGN.md).
    """
    cache = getattr(_scratch_tls, "bufs", None)
    if cache is None:
        cache = _scratch_tls.bufs = collections.OrderedDict()
    key = (key, tuple(shape), np.dtype(dtype).str)
    buf = cache.get(key)
    if buf is None:
        buf = cache[key] = np.zeros(shape, dtype)
        while len(cache) > _SCRATCH_MAX:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return buf


_SCRATCH_MAX = 8


def _padded(x, pt, pl, Hp, Wp):
    N, H, W, C = x.shape
    if Hp == H and Wp == W:
        return x
    xp = _scratch(("pad", pt, pl), (N, Hp, Wp, C), x.dtype)
    xp[:, pt:pt + H, pl:pl + W, :] = x
    return xp


def _check_out(out, shape, dtype):
    if out is None:
        return np.empty(shape, dtype)
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {dtype} array of shape {tuple(shape)}")
    return out


def _float_dtype(x):
    return x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def conv2d(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1, out=None,
           bias=None):
    """y = conv2d(x, w): x (N, H, W, Cin), w (kh, kw, Cin//groups, Cout) -> (N, Ho, Wo, Cout).

    Cross-correlation (no flip) as in TensorFlow. ``padding`` is ((top, bottom), (left, right));
    padded cells are zeros. ``out`` (optional, C-contiguous) receives the result. ``bias``
    (optional, (Cout,)) is added inside the kernel, to each block of rows while it is in cache.
    """
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, w.shape, strides, padding, dilation, groups)
    y = _check_out(out, (N, Ho, Wo, Co), dt)
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=dt).reshape(-1)
        if bias.shape != (Co,):
            raise ValueError(f"conv2d: bias must have {Co} entries, got shape {bias.shape}")
    if y.size == 0:
        return y
    if Cig == 0:
        y[...] = 0 if bias is None else bias
        return y
    Cog = Co // G
    xp = _padded(x, pt, pl, Hp, Wp)
    nblk = -(-Cog // NR)
    K = kh * kw * Cig
    # wp[g*nblk + b, k, c] = w[k, g*Cog + b*NR + c]  (zero past Cog)
    wp = np.zeros((G, K, nblk * NR), dt)
    wp[:, :, :Cog] = w.reshape(K, G, Cog).transpose(1, 0, 2)
    wp = np.ascontiguousarray(wp.reshape(G, K, nblk, NR).transpose(0, 2, 1, 3))
    wp = wp.reshape(G * nblk, K, NR)
    koff = _koff(kh, kw, Cig, dh, dw, Wp, Cin)
    _run(_fwd_kernel, ("f", dt.char), xp.reshape(-1), Hp, Wp, Cin, koff, wp, G, Cig, Cog,
         y.reshape(-1), N, Ho, Wo, sh, sw, _TB, _NO_BIAS[dt.char] if bias is None else bias,
         bias is not None)
    return y


def conv2d_backprop_input(g, w, input_shape, strides=(1, 1), padding=((0, 0), (0, 0)),
                          dilation=(1, 1), groups=1, out=None):
    """Gradient of conv2d with respect to x, given g = dL/dy; returns dx of ``input_shape``.

    Computed as the forward kernel applied to g (stride 1) with the filter flipped and its in/out
    channels swapped: dx[h] = sum_i q[h + i*dh] * w[kh-1-i], where q is g with sh-1 zero rows
    inserted between its rows (likewise columns) and shifted by dh*(kh-1) - pt. For strides > 1
    the inserted zeros cost sh*sw times the arithmetic of a direct scatter; in exchange no
    separate kernel has to be compiled.
    """
    dt = _float_dtype(g)
    g = np.ascontiguousarray(g, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(input_shape, w.shape, strides, padding, dilation, groups)
    if g.shape != (N, Ho, Wo, Co):
        raise ValueError(f"conv2d_backprop_input: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, Co)}")
    dx = _check_out(out, (N, H, W, Cin), dt)
    if dx.size == 0:
        return dx
    if g.size == 0 or Cig == 0:
        dx[...] = 0
        return dx
    Cog = Co // G
    if G == 1 and 2 * Cin <= NR:
        return _backprop_input_col2im(g, w, dx, sh, sw, dh, dw, pt, pl)
    bt, bl = dh * (kh - 1) - pt, dw * (kw - 1) - pl
    Hq, Wq = H + dh * (kh - 1), W + dw * (kw - 1)
    # output rows oh land on q rows oh*sh + bt; keep those inside [0, Hq)
    oh0 = max(0, -(bt // sh)) if bt < 0 else 0
    oh1 = min(Ho, (Hq - 1 - bt) // sh + 1)
    ow0 = max(0, -(bl // sw)) if bl < 0 else 0
    ow1 = min(Wo, (Wq - 1 - bl) // sw + 1)
    if oh1 <= oh0 or ow1 <= ow0:
        dx[...] = 0
        return dx
    if (sh, sw, bt, bl, oh0, ow0, oh1, ow1, Hq, Wq) == (1, 1, 0, 0, 0, 0, Ho, Wo, Ho, Wo):
        q = g
    else:
        q = _scratch(("bin", sh, sw, bt, bl, oh0, ow0, oh1, ow1), (N, Hq, Wq, Co), dt)
        r0, c0 = oh0 * sh + bt, ow0 * sw + bl
        q[:, r0:r0 + (oh1 - oh0 - 1) * sh + 1:sh, c0:c0 + (ow1 - ow0 - 1) * sw + 1:sw, :] = \
            g[:, oh0:oh1, ow0:ow1, :]
    # w2[i, j, co, g*Cig + ci] = w[kh-1-i, kw-1-j, ci, g*Cog + co]
    w2 = w[::-1, ::-1].reshape(kh, kw, Cig, G, Cog).transpose(0, 1, 4, 3, 2)
    return conv2d(q, w2.reshape(kh, kw, Cog, G * Cig), (1, 1), ((0, 0), (0, 0)), (dh, dw), G,
                  out=dx)


@njit(parallel=True, cache=True)
def _col2im(cols, kh, kw, sh, sw, dh, dw, pt, pl, dx):
    """dx[n, oh*sh + i*dh - pt, ow*sw + j*dw - pl, c] += cols[n, oh, ow, (i*kw + j)*C + c];
    one image per parallel iteration (its windows overlap)."""
    N, H, W, C = dx.shape
    Ho = cols.shape[1]
    Wo = cols.shape[2]
    zero = dx.dtype.type(0)
    for n in prange(N):
        dxn = dx[n]
        for h in range(H):
            for w in range(W):
                for c in range(C):
                    dxn[h, w, c] = zero
        for oh in range(Ho):
            for i in range(kh):
                h = oh * sh + i * dh - pt
                if h < 0 or h >= H:
                    continue
                for ow in range(Wo):
                    cv = cols[n, oh, ow]
                    for j in range(kw):
                        w = ow * sw + j * dw - pl
                        if w < 0 or w >= W:
                            continue
                        base = (i * kw + j) * C
                        dv = dxn[h, w]
                        for c in range(C):
                            dv[c] += cv[base + c]


def _backprop_input_col2im(g, w, dx, sh, sw, dh, dw, pt, pl):
    """Backprop input for few input channels (e.g. an RGB first layer): the forward-kernel route
    would fill only Cin of the NR columns of each register tile. Instead cols = g @ w^T, one
    1x1 convolution with kh*kw*Cin output columns (nearly full tiles), then a col2im scatter."""
    kh, kw, Cin, Co = w.shape
    K = kh * kw * Cin
    N, Ho, Wo, _ = g.shape
    wt = np.ascontiguousarray(w.reshape(K, Co).T).reshape(1, 1, Co, K)
    # images per pass: the cols buffer stays under _COLS_BYTES (at least one image)
    step = max(1, min(N, _COLS_BYTES // max(1, Ho * Wo * K * g.dtype.itemsize)))
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        cols = _scratch("cols", (n1 - n0, Ho, Wo, K), g.dtype)
        conv2d(g[n0:n1], wt, out=cols)
        _col2im(cols, kh, kw, sh, sw, dh, dw, pt, pl, dx[n0:n1])
    return dx


_COLS_BYTES = 32 << 20


def conv2d_backprop_filter(x, g, filter_shape, strides=(1, 1), padding=((0, 0), (0, 0)),
                           dilation=(1, 1), groups=1, out=None):
    """Gradient of conv2d with respect to w, given g = dL/dy; returns dw of ``filter_shape``."""
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    g = np.ascontiguousarray(g, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, filter_shape, strides, padding, dilation, groups)
    if g.shape != (N, Ho, Wo, Co):
        raise ValueError(f"conv2d_backprop_filter: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, Co)}")
    dwt = _check_out(out, (kh, kw, Cig, Co), dt)
    if dwt.size == 0:
        return dwt
    if g.size == 0:
        dwt[...] = 0
        return dwt
    Cog = Co // G
    K = kh * kw * Cig
    nblk = -(-Cog // NR)
    P = N * Ho * Wo
    if Cog % NR:
        # the microkernel reads NR columns of g at a time: pad each group's columns
        g3 = np.zeros((P, G, nblk * NR), dt)
        g3[:, :, :Cog] = g.reshape(P, G, Cog)
        g3 = g3.reshape(P, G * nblk, NR)
    else:
        g3 = g.reshape(P, G * nblk, NR)
    xp = _padded(x, pt, pl, Hp, Wp)
    R = N * Ho
    rowbase = ((np.arange(N, dtype=np.uint64)[:, None] * np.uint64(Hp)
                + np.arange(Ho, dtype=np.uint64)[None, :] * np.uint64(sh))
               * np.uint64(Wp * Cin)).reshape(-1)
    nchunks = max(1, min(numba.get_num_threads(), R))
    RB = max(1, 256 // max(Wo, 1))
    part = np.empty(nchunks * G * K * Cog, dt)
    _run(_bwd_filter_kernel, ("w", dt.char), xp.reshape(-1), rowbase,
         _koff(kh, kw, Cig, dh, dw, Wp, Cin), np.uint64(sw * Cin), g3, G, Cig, Cog, Wo, part,
         nchunks, RB)
    red = part.reshape(nchunks, -1).sum(axis=0) if nchunks > 1 else part
    # red is (G, kh, kw, Cig, Cog) -> (kh, kw, Cig, G*Cog)
    dwt[...] = red.reshape(G, kh, kw, Cig, Cog).transpose(1, 2, 3, 0, 4).reshape(kh, kw, Cig, Co)
    return dwt

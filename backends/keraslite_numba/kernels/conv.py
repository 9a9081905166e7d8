"""2-D convolution (channels-last, NHWC x HWIO) and its two backprops, as Numba CPU kernels.

Every convolution here is an implicit GEMM: no im2col buffer is built. A register-blocked
microkernel (``_mkg_*``/``_mkr_*``, MR rows x NR columns of the output held in scalar
accumulators) reads its left operand straight from the (padded) input through a table of offsets
and its right operand from a small packed copy of the filter, so the only large arrays touched are
the input and the output themselves.

- forward:          y[p, co] = sum_k x[base(p) + koff[k]] * wpack[k, co]          (gather kernel)
- backprop input:   for each kernel cell (i, j): dx[base(p) + off(i,j), ci] += sum_co g[p, co] *
                    wT[i, j, co, ci]  (gather kernel in accumulate mode; one image per thread so
                    that overlapping windows never race)
- backprop filter:  dw[k, co] = sum_p x[base(p) + koff[k]] * g[p, co]   (reduce kernel; one
                    partial per thread, summed at the end)

Speed notes (measured on 2 AMD Zen 3 cores, see bench/kernels_numba_raw.py):
- The microkernels only vectorise with LLVM's SLP vectoriser, which Numba leaves off by default
  (``NUMBA_SLP_VECTORIZE=0``). The wrappers switch it on while a kernel compiles (``_slp``) and
  only then; with it off the same code runs 5-10x slower.
- The microkernels use ``fastmath={'contract'}`` and nothing else: multiply-adds become FMAs
  (one rounding instead of two, so results are if anything more accurate); no reassociation, no
  NaN/inf assumptions. The kernels around them use ``fastmath=False``.
- The microkernels are generated code (``_microkernel_source`` below writes them; the test suite
  checks that the pasted text is current). ``cache=True`` needs them to live in this file.
"""
import contextlib
import functools

import numba
import numpy as np
from numba import njit, prange

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]

# (MR, NR) register tiles. NR is the key: 32 -> 3x32, 16 -> 4x16, 8 -> 4x8 (float64 always 8).
_VARIANTS = ((4, 16), (3, 32), (4, 8))


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


def _gen_body(L, ind, MR, NR, addr):
    L.append(f"{ind}bv = B[bo:bo + {NR}]")
    L.append(f"{ind}" + "; ".join(f"b{c} = bv[{c}]" for c in range(NR)))
    for r in range(MR):
        L.append(f"{ind}x = A[{addr.format(r=r)}]")
        L.append(f"{ind}" + "; ".join(f"s{r}_{c} += x * b{c}" for c in range(NR)))


def _microkernel_source():
    """Source text of the generated microkernels, exactly as pasted below."""
    out = []
    for MR, NR in _VARIANTS:
        L = ["@njit(cache=True, fastmath={'contract'})",
             f"def _mkg_{MR}x{NR}(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp):",
             f'    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[boff + k*ldb + c], r < nr, c < nc;',
             f'    tmp is scratch of length >= NR."""']
        _gen_init(L, MR, NR)
        L.append("    bo = boff")
        L.append("    for k in range(K):")
        L.append("        o = koff[k]")
        _gen_body(L, "        ", MR, NR, "a{r} + o")
        L.append("        bo += ldb")
        _gen_stores(L, "    ", MR, NR)
        out.append("\n".join(L) + "\n")
        L = ["@njit(cache=True, fastmath={'contract'})",
             f"def _mkr_{MR}x{NR}(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc,",
             f"          accumulate, tmp):",
             f'    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *',
             f'    B[(row*nk + k)*ldb + bcol + c], row in [r0, r1), k < nk, r < nr, c < nc;',
             f'    tmp is scratch of length >= NR."""']
        _gen_init(L, MR, NR)
        L.append("    for row in range(r0, r1):")
        L.append("        xo = rowbase[row]")
        L.append("        bo = row * nk * ldb + bcol")
        L.append("        for k in range(nk):")
        _gen_body(L, "            ", MR, NR, "xo + a{r}")
        L.append("            xo += astep")
        L.append("            bo += ldb")
        _gen_stores(L, "    ", MR, NR)
        out.append("\n".join(L) + "\n")
    return "\n\n".join(out)


# ---- BEGIN GENERATED MICROKERNELS (python -c "from conv import _microkernel_source as s; print(s())")
@njit(cache=True, fastmath={'contract'})
def _mkg_4x16(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp):
    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[boff + k*ldb + c], r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]; a3 = ab[3]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z
    s3_0 = z; s3_1 = z; s3_2 = z; s3_3 = z; s3_4 = z; s3_5 = z; s3_6 = z; s3_7 = z; s3_8 = z; s3_9 = z; s3_10 = z; s3_11 = z; s3_12 = z; s3_13 = z; s3_14 = z; s3_15 = z
    bo = boff
    for k in range(K):
        o = koff[k]
        bv = B[bo:bo + 16]
        b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]; b8 = bv[8]; b9 = bv[9]; b10 = bv[10]; b11 = bv[11]; b12 = bv[12]; b13 = bv[13]; b14 = bv[14]; b15 = bv[15]
        x = A[a0 + o]
        s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15
        x = A[a1 + o]
        s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15
        x = A[a2 + o]
        s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15
        x = A[a3 + o]
        s3_0 += x * b0; s3_1 += x * b1; s3_2 += x * b2; s3_3 += x * b3; s3_4 += x * b4; s3_5 += x * b5; s3_6 += x * b6; s3_7 += x * b7; s3_8 += x * b8; s3_9 += x * b9; s3_10 += x * b10; s3_11 += x * b11; s3_12 += x * b12; s3_13 += x * b13; s3_14 += x * b14; s3_15 += x * b15
        bo += ldb
    if nr > 0:
        cv = C[cb[0]:cb[0] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7; cv[8] += s0_8; cv[9] += s0_9; cv[10] += s0_10; cv[11] += s0_11; cv[12] += s0_12; cv[13] += s0_13; cv[14] += s0_14; cv[15] += s0_15
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7; cv[8] = s0_8; cv[9] = s0_9; cv[10] = s0_10; cv[11] = s0_11; cv[12] = s0_12; cv[13] = s0_13; cv[14] = s0_14; cv[15] = s0_15
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7; tmp[8] = s0_8; tmp[9] = s0_9; tmp[10] = s0_10; tmp[11] = s0_11; tmp[12] = s0_12; tmp[13] = s0_13; tmp[14] = s0_14; tmp[15] = s0_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7; cv[8] += s1_8; cv[9] += s1_9; cv[10] += s1_10; cv[11] += s1_11; cv[12] += s1_12; cv[13] += s1_13; cv[14] += s1_14; cv[15] += s1_15
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7; cv[8] = s1_8; cv[9] = s1_9; cv[10] = s1_10; cv[11] = s1_11; cv[12] = s1_12; cv[13] = s1_13; cv[14] = s1_14; cv[15] = s1_15
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7; tmp[8] = s1_8; tmp[9] = s1_9; tmp[10] = s1_10; tmp[11] = s1_11; tmp[12] = s1_12; tmp[13] = s1_13; tmp[14] = s1_14; tmp[15] = s1_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7; cv[8] += s2_8; cv[9] += s2_9; cv[10] += s2_10; cv[11] += s2_11; cv[12] += s2_12; cv[13] += s2_13; cv[14] += s2_14; cv[15] += s2_15
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7; cv[8] = s2_8; cv[9] = s2_9; cv[10] = s2_10; cv[11] = s2_11; cv[12] = s2_12; cv[13] = s2_13; cv[14] = s2_14; cv[15] = s2_15
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7; tmp[8] = s2_8; tmp[9] = s2_9; tmp[10] = s2_10; tmp[11] = s2_11; tmp[12] = s2_12; tmp[13] = s2_13; tmp[14] = s2_14; tmp[15] = s2_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 3:
        cv = C[cb[3]:cb[3] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s3_0; cv[1] += s3_1; cv[2] += s3_2; cv[3] += s3_3; cv[4] += s3_4; cv[5] += s3_5; cv[6] += s3_6; cv[7] += s3_7; cv[8] += s3_8; cv[9] += s3_9; cv[10] += s3_10; cv[11] += s3_11; cv[12] += s3_12; cv[13] += s3_13; cv[14] += s3_14; cv[15] += s3_15
            else:
                cv[0] = s3_0; cv[1] = s3_1; cv[2] = s3_2; cv[3] = s3_3; cv[4] = s3_4; cv[5] = s3_5; cv[6] = s3_6; cv[7] = s3_7; cv[8] = s3_8; cv[9] = s3_9; cv[10] = s3_10; cv[11] = s3_11; cv[12] = s3_12; cv[13] = s3_13; cv[14] = s3_14; cv[15] = s3_15
        else:
            tmp[0] = s3_0; tmp[1] = s3_1; tmp[2] = s3_2; tmp[3] = s3_3; tmp[4] = s3_4; tmp[5] = s3_5; tmp[6] = s3_6; tmp[7] = s3_7; tmp[8] = s3_8; tmp[9] = s3_9; tmp[10] = s3_10; tmp[11] = s3_11; tmp[12] = s3_12; tmp[13] = s3_13; tmp[14] = s3_14; tmp[15] = s3_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]


@njit(cache=True, fastmath={'contract'})
def _mkr_4x16(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc,
          accumulate, tmp):
    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *
    B[(row*nk + k)*ldb + bcol + c], row in [r0, r1), k < nk, r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]; a3 = ab[3]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z
    s3_0 = z; s3_1 = z; s3_2 = z; s3_3 = z; s3_4 = z; s3_5 = z; s3_6 = z; s3_7 = z; s3_8 = z; s3_9 = z; s3_10 = z; s3_11 = z; s3_12 = z; s3_13 = z; s3_14 = z; s3_15 = z
    for row in range(r0, r1):
        xo = rowbase[row]
        bo = row * nk * ldb + bcol
        for k in range(nk):
            bv = B[bo:bo + 16]
            b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]; b8 = bv[8]; b9 = bv[9]; b10 = bv[10]; b11 = bv[11]; b12 = bv[12]; b13 = bv[13]; b14 = bv[14]; b15 = bv[15]
            x = A[xo + a0]
            s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15
            x = A[xo + a1]
            s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15
            x = A[xo + a2]
            s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15
            x = A[xo + a3]
            s3_0 += x * b0; s3_1 += x * b1; s3_2 += x * b2; s3_3 += x * b3; s3_4 += x * b4; s3_5 += x * b5; s3_6 += x * b6; s3_7 += x * b7; s3_8 += x * b8; s3_9 += x * b9; s3_10 += x * b10; s3_11 += x * b11; s3_12 += x * b12; s3_13 += x * b13; s3_14 += x * b14; s3_15 += x * b15
            xo += astep
            bo += ldb
    if nr > 0:
        cv = C[cb[0]:cb[0] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7; cv[8] += s0_8; cv[9] += s0_9; cv[10] += s0_10; cv[11] += s0_11; cv[12] += s0_12; cv[13] += s0_13; cv[14] += s0_14; cv[15] += s0_15
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7; cv[8] = s0_8; cv[9] = s0_9; cv[10] = s0_10; cv[11] = s0_11; cv[12] = s0_12; cv[13] = s0_13; cv[14] = s0_14; cv[15] = s0_15
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7; tmp[8] = s0_8; tmp[9] = s0_9; tmp[10] = s0_10; tmp[11] = s0_11; tmp[12] = s0_12; tmp[13] = s0_13; tmp[14] = s0_14; tmp[15] = s0_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7; cv[8] += s1_8; cv[9] += s1_9; cv[10] += s1_10; cv[11] += s1_11; cv[12] += s1_12; cv[13] += s1_13; cv[14] += s1_14; cv[15] += s1_15
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7; cv[8] = s1_8; cv[9] = s1_9; cv[10] = s1_10; cv[11] = s1_11; cv[12] = s1_12; cv[13] = s1_13; cv[14] = s1_14; cv[15] = s1_15
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7; tmp[8] = s1_8; tmp[9] = s1_9; tmp[10] = s1_10; tmp[11] = s1_11; tmp[12] = s1_12; tmp[13] = s1_13; tmp[14] = s1_14; tmp[15] = s1_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7; cv[8] += s2_8; cv[9] += s2_9; cv[10] += s2_10; cv[11] += s2_11; cv[12] += s2_12; cv[13] += s2_13; cv[14] += s2_14; cv[15] += s2_15
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7; cv[8] = s2_8; cv[9] = s2_9; cv[10] = s2_10; cv[11] = s2_11; cv[12] = s2_12; cv[13] = s2_13; cv[14] = s2_14; cv[15] = s2_15
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7; tmp[8] = s2_8; tmp[9] = s2_9; tmp[10] = s2_10; tmp[11] = s2_11; tmp[12] = s2_12; tmp[13] = s2_13; tmp[14] = s2_14; tmp[15] = s2_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 3:
        cv = C[cb[3]:cb[3] + 16]
        if nc == 16:
            if accumulate:
                cv[0] += s3_0; cv[1] += s3_1; cv[2] += s3_2; cv[3] += s3_3; cv[4] += s3_4; cv[5] += s3_5; cv[6] += s3_6; cv[7] += s3_7; cv[8] += s3_8; cv[9] += s3_9; cv[10] += s3_10; cv[11] += s3_11; cv[12] += s3_12; cv[13] += s3_13; cv[14] += s3_14; cv[15] += s3_15
            else:
                cv[0] = s3_0; cv[1] = s3_1; cv[2] = s3_2; cv[3] = s3_3; cv[4] = s3_4; cv[5] = s3_5; cv[6] = s3_6; cv[7] = s3_7; cv[8] = s3_8; cv[9] = s3_9; cv[10] = s3_10; cv[11] = s3_11; cv[12] = s3_12; cv[13] = s3_13; cv[14] = s3_14; cv[15] = s3_15
        else:
            tmp[0] = s3_0; tmp[1] = s3_1; tmp[2] = s3_2; tmp[3] = s3_3; tmp[4] = s3_4; tmp[5] = s3_5; tmp[6] = s3_6; tmp[7] = s3_7; tmp[8] = s3_8; tmp[9] = s3_9; tmp[10] = s3_10; tmp[11] = s3_11; tmp[12] = s3_12; tmp[13] = s3_13; tmp[14] = s3_14; tmp[15] = s3_15
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]


@njit(cache=True, fastmath={'contract'})
def _mkg_3x32(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp):
    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[boff + k*ldb + c], r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z; s0_16 = z; s0_17 = z; s0_18 = z; s0_19 = z; s0_20 = z; s0_21 = z; s0_22 = z; s0_23 = z; s0_24 = z; s0_25 = z; s0_26 = z; s0_27 = z; s0_28 = z; s0_29 = z; s0_30 = z; s0_31 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z; s1_16 = z; s1_17 = z; s1_18 = z; s1_19 = z; s1_20 = z; s1_21 = z; s1_22 = z; s1_23 = z; s1_24 = z; s1_25 = z; s1_26 = z; s1_27 = z; s1_28 = z; s1_29 = z; s1_30 = z; s1_31 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z; s2_16 = z; s2_17 = z; s2_18 = z; s2_19 = z; s2_20 = z; s2_21 = z; s2_22 = z; s2_23 = z; s2_24 = z; s2_25 = z; s2_26 = z; s2_27 = z; s2_28 = z; s2_29 = z; s2_30 = z; s2_31 = z
    bo = boff
    for k in range(K):
        o = koff[k]
        bv = B[bo:bo + 32]
        b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]; b8 = bv[8]; b9 = bv[9]; b10 = bv[10]; b11 = bv[11]; b12 = bv[12]; b13 = bv[13]; b14 = bv[14]; b15 = bv[15]; b16 = bv[16]; b17 = bv[17]; b18 = bv[18]; b19 = bv[19]; b20 = bv[20]; b21 = bv[21]; b22 = bv[22]; b23 = bv[23]; b24 = bv[24]; b25 = bv[25]; b26 = bv[26]; b27 = bv[27]; b28 = bv[28]; b29 = bv[29]; b30 = bv[30]; b31 = bv[31]
        x = A[a0 + o]
        s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15; s0_16 += x * b16; s0_17 += x * b17; s0_18 += x * b18; s0_19 += x * b19; s0_20 += x * b20; s0_21 += x * b21; s0_22 += x * b22; s0_23 += x * b23; s0_24 += x * b24; s0_25 += x * b25; s0_26 += x * b26; s0_27 += x * b27; s0_28 += x * b28; s0_29 += x * b29; s0_30 += x * b30; s0_31 += x * b31
        x = A[a1 + o]
        s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15; s1_16 += x * b16; s1_17 += x * b17; s1_18 += x * b18; s1_19 += x * b19; s1_20 += x * b20; s1_21 += x * b21; s1_22 += x * b22; s1_23 += x * b23; s1_24 += x * b24; s1_25 += x * b25; s1_26 += x * b26; s1_27 += x * b27; s1_28 += x * b28; s1_29 += x * b29; s1_30 += x * b30; s1_31 += x * b31
        x = A[a2 + o]
        s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15; s2_16 += x * b16; s2_17 += x * b17; s2_18 += x * b18; s2_19 += x * b19; s2_20 += x * b20; s2_21 += x * b21; s2_22 += x * b22; s2_23 += x * b23; s2_24 += x * b24; s2_25 += x * b25; s2_26 += x * b26; s2_27 += x * b27; s2_28 += x * b28; s2_29 += x * b29; s2_30 += x * b30; s2_31 += x * b31
        bo += ldb
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
def _mkr_3x32(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc,
          accumulate, tmp):
    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *
    B[(row*nk + k)*ldb + bcol + c], row in [r0, r1), k < nk, r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z; s0_8 = z; s0_9 = z; s0_10 = z; s0_11 = z; s0_12 = z; s0_13 = z; s0_14 = z; s0_15 = z; s0_16 = z; s0_17 = z; s0_18 = z; s0_19 = z; s0_20 = z; s0_21 = z; s0_22 = z; s0_23 = z; s0_24 = z; s0_25 = z; s0_26 = z; s0_27 = z; s0_28 = z; s0_29 = z; s0_30 = z; s0_31 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z; s1_8 = z; s1_9 = z; s1_10 = z; s1_11 = z; s1_12 = z; s1_13 = z; s1_14 = z; s1_15 = z; s1_16 = z; s1_17 = z; s1_18 = z; s1_19 = z; s1_20 = z; s1_21 = z; s1_22 = z; s1_23 = z; s1_24 = z; s1_25 = z; s1_26 = z; s1_27 = z; s1_28 = z; s1_29 = z; s1_30 = z; s1_31 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z; s2_8 = z; s2_9 = z; s2_10 = z; s2_11 = z; s2_12 = z; s2_13 = z; s2_14 = z; s2_15 = z; s2_16 = z; s2_17 = z; s2_18 = z; s2_19 = z; s2_20 = z; s2_21 = z; s2_22 = z; s2_23 = z; s2_24 = z; s2_25 = z; s2_26 = z; s2_27 = z; s2_28 = z; s2_29 = z; s2_30 = z; s2_31 = z
    for row in range(r0, r1):
        xo = rowbase[row]
        bo = row * nk * ldb + bcol
        for k in range(nk):
            bv = B[bo:bo + 32]
            b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]; b8 = bv[8]; b9 = bv[9]; b10 = bv[10]; b11 = bv[11]; b12 = bv[12]; b13 = bv[13]; b14 = bv[14]; b15 = bv[15]; b16 = bv[16]; b17 = bv[17]; b18 = bv[18]; b19 = bv[19]; b20 = bv[20]; b21 = bv[21]; b22 = bv[22]; b23 = bv[23]; b24 = bv[24]; b25 = bv[25]; b26 = bv[26]; b27 = bv[27]; b28 = bv[28]; b29 = bv[29]; b30 = bv[30]; b31 = bv[31]
            x = A[xo + a0]
            s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7; s0_8 += x * b8; s0_9 += x * b9; s0_10 += x * b10; s0_11 += x * b11; s0_12 += x * b12; s0_13 += x * b13; s0_14 += x * b14; s0_15 += x * b15; s0_16 += x * b16; s0_17 += x * b17; s0_18 += x * b18; s0_19 += x * b19; s0_20 += x * b20; s0_21 += x * b21; s0_22 += x * b22; s0_23 += x * b23; s0_24 += x * b24; s0_25 += x * b25; s0_26 += x * b26; s0_27 += x * b27; s0_28 += x * b28; s0_29 += x * b29; s0_30 += x * b30; s0_31 += x * b31
            x = A[xo + a1]
            s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7; s1_8 += x * b8; s1_9 += x * b9; s1_10 += x * b10; s1_11 += x * b11; s1_12 += x * b12; s1_13 += x * b13; s1_14 += x * b14; s1_15 += x * b15; s1_16 += x * b16; s1_17 += x * b17; s1_18 += x * b18; s1_19 += x * b19; s1_20 += x * b20; s1_21 += x * b21; s1_22 += x * b22; s1_23 += x * b23; s1_24 += x * b24; s1_25 += x * b25; s1_26 += x * b26; s1_27 += x * b27; s1_28 += x * b28; s1_29 += x * b29; s1_30 += x * b30; s1_31 += x * b31
            x = A[xo + a2]
            s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7; s2_8 += x * b8; s2_9 += x * b9; s2_10 += x * b10; s2_11 += x * b11; s2_12 += x * b12; s2_13 += x * b13; s2_14 += x * b14; s2_15 += x * b15; s2_16 += x * b16; s2_17 += x * b17; s2_18 += x * b18; s2_19 += x * b19; s2_20 += x * b20; s2_21 += x * b21; s2_22 += x * b22; s2_23 += x * b23; s2_24 += x * b24; s2_25 += x * b25; s2_26 += x * b26; s2_27 += x * b27; s2_28 += x * b28; s2_29 += x * b29; s2_30 += x * b30; s2_31 += x * b31
            xo += astep
            bo += ldb
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
def _mkg_4x8(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp):
    """C[cb[r] + c] (+)= sum_k A[ab[r] + koff[k]] * B[boff + k*ldb + c], r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]; a3 = ab[3]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z
    s3_0 = z; s3_1 = z; s3_2 = z; s3_3 = z; s3_4 = z; s3_5 = z; s3_6 = z; s3_7 = z
    bo = boff
    for k in range(K):
        o = koff[k]
        bv = B[bo:bo + 8]
        b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]
        x = A[a0 + o]
        s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7
        x = A[a1 + o]
        s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7
        x = A[a2 + o]
        s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7
        x = A[a3 + o]
        s3_0 += x * b0; s3_1 += x * b1; s3_2 += x * b2; s3_3 += x * b3; s3_4 += x * b4; s3_5 += x * b5; s3_6 += x * b6; s3_7 += x * b7
        bo += ldb
    if nr > 0:
        cv = C[cb[0]:cb[0] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 3:
        cv = C[cb[3]:cb[3] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s3_0; cv[1] += s3_1; cv[2] += s3_2; cv[3] += s3_3; cv[4] += s3_4; cv[5] += s3_5; cv[6] += s3_6; cv[7] += s3_7
            else:
                cv[0] = s3_0; cv[1] = s3_1; cv[2] = s3_2; cv[3] = s3_3; cv[4] = s3_4; cv[5] = s3_5; cv[6] = s3_6; cv[7] = s3_7
        else:
            tmp[0] = s3_0; tmp[1] = s3_1; tmp[2] = s3_2; tmp[3] = s3_3; tmp[4] = s3_4; tmp[5] = s3_5; tmp[6] = s3_6; tmp[7] = s3_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]


@njit(cache=True, fastmath={'contract'})
def _mkr_4x8(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc,
          accumulate, tmp):
    """C[cb[r] + c] (+)= sum_(row, k) A[rowbase[row] + k*astep + ab[r]] *
    B[(row*nk + k)*ldb + bcol + c], row in [r0, r1), k < nk, r < nr, c < nc;
    tmp is scratch of length >= NR."""
    z = C.dtype.type(0)
    a0 = ab[0]; a1 = ab[1]; a2 = ab[2]; a3 = ab[3]
    s0_0 = z; s0_1 = z; s0_2 = z; s0_3 = z; s0_4 = z; s0_5 = z; s0_6 = z; s0_7 = z
    s1_0 = z; s1_1 = z; s1_2 = z; s1_3 = z; s1_4 = z; s1_5 = z; s1_6 = z; s1_7 = z
    s2_0 = z; s2_1 = z; s2_2 = z; s2_3 = z; s2_4 = z; s2_5 = z; s2_6 = z; s2_7 = z
    s3_0 = z; s3_1 = z; s3_2 = z; s3_3 = z; s3_4 = z; s3_5 = z; s3_6 = z; s3_7 = z
    for row in range(r0, r1):
        xo = rowbase[row]
        bo = row * nk * ldb + bcol
        for k in range(nk):
            bv = B[bo:bo + 8]
            b0 = bv[0]; b1 = bv[1]; b2 = bv[2]; b3 = bv[3]; b4 = bv[4]; b5 = bv[5]; b6 = bv[6]; b7 = bv[7]
            x = A[xo + a0]
            s0_0 += x * b0; s0_1 += x * b1; s0_2 += x * b2; s0_3 += x * b3; s0_4 += x * b4; s0_5 += x * b5; s0_6 += x * b6; s0_7 += x * b7
            x = A[xo + a1]
            s1_0 += x * b0; s1_1 += x * b1; s1_2 += x * b2; s1_3 += x * b3; s1_4 += x * b4; s1_5 += x * b5; s1_6 += x * b6; s1_7 += x * b7
            x = A[xo + a2]
            s2_0 += x * b0; s2_1 += x * b1; s2_2 += x * b2; s2_3 += x * b3; s2_4 += x * b4; s2_5 += x * b5; s2_6 += x * b6; s2_7 += x * b7
            x = A[xo + a3]
            s3_0 += x * b0; s3_1 += x * b1; s3_2 += x * b2; s3_3 += x * b3; s3_4 += x * b4; s3_5 += x * b5; s3_6 += x * b6; s3_7 += x * b7
            xo += astep
            bo += ldb
    if nr > 0:
        cv = C[cb[0]:cb[0] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s0_0; cv[1] += s0_1; cv[2] += s0_2; cv[3] += s0_3; cv[4] += s0_4; cv[5] += s0_5; cv[6] += s0_6; cv[7] += s0_7
            else:
                cv[0] = s0_0; cv[1] = s0_1; cv[2] = s0_2; cv[3] = s0_3; cv[4] = s0_4; cv[5] = s0_5; cv[6] = s0_6; cv[7] = s0_7
        else:
            tmp[0] = s0_0; tmp[1] = s0_1; tmp[2] = s0_2; tmp[3] = s0_3; tmp[4] = s0_4; tmp[5] = s0_5; tmp[6] = s0_6; tmp[7] = s0_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 1:
        cv = C[cb[1]:cb[1] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s1_0; cv[1] += s1_1; cv[2] += s1_2; cv[3] += s1_3; cv[4] += s1_4; cv[5] += s1_5; cv[6] += s1_6; cv[7] += s1_7
            else:
                cv[0] = s1_0; cv[1] = s1_1; cv[2] = s1_2; cv[3] = s1_3; cv[4] = s1_4; cv[5] = s1_5; cv[6] = s1_6; cv[7] = s1_7
        else:
            tmp[0] = s1_0; tmp[1] = s1_1; tmp[2] = s1_2; tmp[3] = s1_3; tmp[4] = s1_4; tmp[5] = s1_5; tmp[6] = s1_6; tmp[7] = s1_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 2:
        cv = C[cb[2]:cb[2] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s2_0; cv[1] += s2_1; cv[2] += s2_2; cv[3] += s2_3; cv[4] += s2_4; cv[5] += s2_5; cv[6] += s2_6; cv[7] += s2_7
            else:
                cv[0] = s2_0; cv[1] = s2_1; cv[2] = s2_2; cv[3] = s2_3; cv[4] = s2_4; cv[5] = s2_5; cv[6] = s2_6; cv[7] = s2_7
        else:
            tmp[0] = s2_0; tmp[1] = s2_1; tmp[2] = s2_2; tmp[3] = s2_3; tmp[4] = s2_4; tmp[5] = s2_5; tmp[6] = s2_6; tmp[7] = s2_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
    if nr > 3:
        cv = C[cb[3]:cb[3] + 8]
        if nc == 8:
            if accumulate:
                cv[0] += s3_0; cv[1] += s3_1; cv[2] += s3_2; cv[3] += s3_3; cv[4] += s3_4; cv[5] += s3_5; cv[6] += s3_6; cv[7] += s3_7
            else:
                cv[0] = s3_0; cv[1] = s3_1; cv[2] = s3_2; cv[3] = s3_3; cv[4] = s3_4; cv[5] = s3_5; cv[6] = s3_6; cv[7] = s3_7
        else:
            tmp[0] = s3_0; tmp[1] = s3_1; tmp[2] = s3_2; tmp[3] = s3_3; tmp[4] = s3_4; tmp[5] = s3_5; tmp[6] = s3_6; tmp[7] = s3_7
            for c in range(nc):
                if accumulate:
                    cv[c] += tmp[c]
                else:
                    cv[c] = tmp[c]
# ---- END GENERATED MICROKERNELS


@njit(cache=True)
def _mk_gather(NR, A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp):
    if NR == 16:
        _mkg_4x16(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp)
    elif NR == 32:
        _mkg_3x32(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp)
    else:
        _mkg_4x8(A, ab, koff, K, B, boff, ldb, C, cb, nr, nc, accumulate, tmp)


@njit(cache=True)
def _mk_reduce(NR, A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc, accumulate, tmp):
    if NR == 16:
        _mkr_4x16(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc, accumulate, tmp)
    elif NR == 32:
        _mkr_3x32(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc, accumulate, tmp)
    else:
        _mkr_4x8(A, ab, rowbase, r0, r1, nk, astep, B, bcol, ldb, C, cb, nr, nc, accumulate, tmp)


@njit(cache=True)
def _mr_of(NR):
    return 3 if NR == 32 else 4


# --------------------------------------------------------------------------------------------
# parallel drivers
# --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _fwd_kernel(xf, Hp, Wp, Cx, koff, wp, K, ldb, G, Cig, Cog, yf, N, Ho, Wo, sh, sw, NR, TB):
    MR = _mr_of(NR)
    Co = G * Cog
    M = N * Ho * Wo
    HWo = Ho * Wo
    ntiles = (M + MR - 1) // MR
    nblocks = (ntiles + TB - 1) // TB
    for blk in prange(nblocks):
        ab = np.empty(MR, np.int64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(32, yf.dtype)
        t0 = blk * TB
        t1 = min(t0 + TB, ntiles)
        for g in range(G):
            for co0 in range(0, Cog, NR):
                nc = min(NR, Cog - co0)
                boff = g * K * ldb + co0
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
                    _mk_gather(NR, xf, ab, koff, K, wp, boff, ldb, yf, cb, nr, nc, False, tmp)


@njit(parallel=True, cache=True)
def _bwd_input_kernel(gf, koffg, wt, ldb, G, Cig, Cog, dxf, N, Hp, Wp, Cin, Ho, Wo,
                      sh, sw, kh, kw, dh, dw, NR):
    MR = _mr_of(NR)
    Co = G * Cog
    HWo = Ho * Wo
    img = Hp * Wp * Cin
    ntiles = (HWo + MR - 1) // MR
    for n in prange(N):
        ab = np.empty(MR, np.int64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(32, dxf.dtype)
        xb = np.empty(MR, np.int64)
        dxf[n * img:(n + 1) * img] = 0
        for g in range(G):
            for ci0 in range(0, Cig, NR):
                nc = min(NR, Cig - ci0)
                for t in range(ntiles):
                    q0 = t * MR
                    nr = min(MR, HWo - q0)
                    for r in range(MR):
                        q = q0 + r if r < nr else q0
                        oh = q // Wo
                        ow = q - oh * Wo
                        ab[r] = (n * HWo + q) * Co + g * Cog
                        xb[r] = n * img + (oh * sh * Wp + ow * sw) * Cin + g * Cig + ci0
                    for i in range(kh):
                        for j in range(kw):
                            off = (i * dh * Wp + j * dw) * Cin
                            for r in range(MR):
                                cb[r] = xb[r] + off
                            boff = ((g * kh + i) * kw + j) * Cog * ldb + ci0
                            _mk_gather(NR, gf, ab, koffg, Cog, wt, boff, ldb, dxf, cb, nr, nc, True, tmp)


@njit(parallel=True, cache=True)
def _bwd_filter_kernel(xf, rowbase, koff, K, astep, gf, ldg, gstride, G, Cig, Cog, Wo, part,
                       nchunks, RB, NR):
    MR = _mr_of(NR)
    R = rowbase.shape[0]
    psize = G * K * Cog
    for ch in prange(nchunks):
        ab = np.empty(MR, np.int64)
        cb = np.empty(MR, np.int64)
        tmp = np.empty(32, part.dtype)
        rs0 = ch * R // nchunks
        rs1 = (ch + 1) * R // nchunks
        pbase = ch * psize
        part[pbase:pbase + psize] = 0
        for rs in range(rs0, rs1, RB):
            re = min(rs + RB, rs1)
            for g in range(G):
                for co0 in range(0, Cog, NR):
                    nc = min(NR, Cog - co0)
                    for k0 in range(0, K, MR):
                        nr = min(MR, K - k0)
                        for r in range(MR):
                            kk = k0 + r if r < nr else k0
                            ab[r] = koff[kk] + g * Cig
                            cb[r] = pbase + (g * K + kk) * Cog + co0
                        _mk_reduce(NR, xf, ab, rowbase, rs, re, Wo, astep, gf, g * gstride + co0,
                                   ldg, part, cb, nr, nc, True, tmp)


@njit(parallel=True, cache=True)
def _sum_partials(part, nchunks, out):
    n = out.shape[0]
    for i in prange(n):
        s = part[i]
        for c in range(1, nchunks):
            s += part[c * n + i]
        out[i] = s


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


def _pick_nr(dtype, cols):
    if dtype.itemsize == 8:
        return 8
    if cols <= 8:
        return 8
    if cols % 32 == 0 and cols <= 32:
        return 32
    if cols % 16 == 0:
        return 16
    if cols <= 32 and cols > 16:
        return 32
    return 16


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
    t = ((i * dh * Wp + j * dw) * Cx + c).ravel().astype(np.int64)
    t.flags.writeable = False
    return t


@functools.lru_cache(maxsize=64)
def _arange(n):
    t = np.arange(n, dtype=np.int64)
    t.flags.writeable = False
    return t


def _padded(x, pt, pl, Hp, Wp):
    N, H, W, C = x.shape
    if Hp == H and Wp == W:
        return x
    xp = np.zeros((N, Hp, Wp, C), x.dtype)
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


def conv2d(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1, out=None):
    """y = conv2d(x, w): x (N, H, W, Cin), w (kh, kw, Cin//groups, Cout) -> (N, Ho, Wo, Cout).

    Cross-correlation (no flip) as in TensorFlow. ``padding`` is ((top, bottom), (left, right));
    padded cells are zeros. ``out`` (optional) receives the result.
    """
    dt = _float_dtype(x)
    x = np.ascontiguousarray(x, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(x.shape, w.shape, strides, padding, dilation, groups)
    y = _check_out(out, (N, Ho, Wo, Co), dt)
    if y.size == 0:
        return y
    if Cig == 0:
        y[...] = 0
        return y
    Cog = Co // G
    xp = _padded(x, pt, pl, Hp, Wp)
    NR = _pick_nr(dt, Cog)
    ldb = -(-Cog // NR) * NR
    K = kh * kw * Cig
    wp = np.zeros((G, K, ldb), dt)
    wp[:, :, :Cog] = w.reshape(K, G, Cog).transpose(1, 0, 2)
    koff = _koff(kh, kw, Cig, dh, dw, Wp, Cin)
    _run(_fwd_kernel, ("f", dt.char, NR), xp.reshape(-1), Hp, Wp, Cin, koff, wp.reshape(-1), K,
         ldb, G, Cig, Cog, y.reshape(-1), N, Ho, Wo, sh, sw, NR, 16)
    return y


def conv2d_backprop_input(g, w, input_shape, strides=(1, 1), padding=((0, 0), (0, 0)),
                          dilation=(1, 1), groups=1, out=None):
    """Gradient of conv2d with respect to x, given g = dL/dy; returns dx of ``input_shape``."""
    dt = _float_dtype(g)
    g = np.ascontiguousarray(g, dtype=dt)
    w = np.ascontiguousarray(w, dtype=dt)
    (N, H, W, Cin, kh, kw, Cig, Co, sh, sw, dh, dw, pt, pl, Hp, Wp, Ho, Wo,
     G) = _geometry(input_shape, w.shape, strides, padding, dilation, groups)
    if g.shape != (N, Ho, Wo, Co):
        raise ValueError(f"conv2d_backprop_input: g has shape {g.shape}, expected "
                         f"{(N, Ho, Wo, Co)}")
    padded = (Hp, Wp) != (H, W)
    dx = _check_out(out, (N, H, W, Cin), dt)
    if dx.size == 0:
        return dx
    if g.size == 0 or Cig == 0:
        dx[...] = 0
        return dx
    Cog = Co // G
    NR = _pick_nr(dt, Cig)
    ldb = -(-Cig // NR) * NR
    # wt[g, i, j, co, ci] = w[i, j, ci, g*Cog + co]
    wt = np.zeros((G, kh, kw, Cog, ldb), dt)
    wt[..., :Cig] = w.reshape(kh, kw, Cig, G, Cog).transpose(3, 0, 1, 4, 2)
    dxp = np.empty((N, Hp, Wp, Cin), dt) if padded else dx
    _run(_bwd_input_kernel, ("i", dt.char, NR), g.reshape(-1), _arange(Cog), wt.reshape(-1), ldb,
         G, Cig, Cog, dxp.reshape(-1), N, Hp, Wp, Cin, Ho, Wo, sh, sw, kh, kw, dh, dw, NR)
    if padded:
        dx[...] = dxp[:, pt:pt + H, pl:pl + W, :]
    return dx


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
    NR = _pick_nr(dt, Cog)
    if Cog % NR:
        # the microkernel reads NR columns of g at a time: pad them so no read leaves the array
        gstride = -(-Cog // NR) * NR
        gp = np.zeros((N * Ho * Wo, G, gstride), dt)
        gp[:, :, :Cog] = g.reshape(-1, G, Cog)
        g = gp
    else:
        gstride = Cog
    xp = _padded(x, pt, pl, Hp, Wp)
    R = N * Ho
    rowbase = ((np.arange(N, dtype=np.int64)[:, None] * Hp
                + np.arange(Ho, dtype=np.int64)[None, :] * sh) * (Wp * Cin)).reshape(-1)
    nchunks = max(1, min(numba.get_num_threads(), R))
    RB = max(1, 256 // max(Wo, 1))
    part = np.empty(nchunks * G * K * Cog, dt)
    _run(_bwd_filter_kernel, ("w", dt.char, NR), xp.reshape(-1), rowbase,
         _koff(kh, kw, Cig, dh, dw, Wp, Cin), K, sw * Cin, g.reshape(-1), G * gstride, gstride,
         G, Cig, Cog, Wo, part, nchunks, RB, NR)
    if nchunks > 1:
        red = np.empty(G * K * Cog, dt)
        _run(_sum_partials, ("s", dt.char), part, nchunks, red)
    else:
        red = part
    # red is (G, kh, kw, Cig, Cog) -> (kh, kw, Cig, G*Cog)
    dwt[...] = red.reshape(G, kh, kw, Cig, Cog).transpose(1, 2, 3, 0, 4).reshape(kh, kw, Cig, Co)
    return dwt

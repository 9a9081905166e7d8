"""How conv.py's forward kernel reads its right operand (in place, or packed panels) and how its
microkernel loops are emitted; numbers against float64 NumPy formulas written here."""
from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("numba")

from llvmlite import ir  # noqa: E402

from cuda_generic_helpers import ref_conv  # noqa: E402  (the grouped NumPy reference)
from keraslite_numba.kernels import conv, conv_kernels, tile  # noqa: E402


@pytest.mark.parametrize("groups, cog_panels, partial", [(1, 1, False), (1, 2, False), (2, 1, False), (3, 2, False),
                                                         (1, 1, True), (2, 1, True)])
def test_forward_reads_whole_panel_filters_in_place_and_packs_the_others(groups, cog_panels, partial):
    rng = np.random.default_rng(groups * 10 + cog_panels)
    cog = cog_panels * conv.NR - (3 if partial else 0)
    x = rng.standard_normal((2, 6, 7, 5 * groups)).astype(np.float32)
    w = rng.standard_normal((3, 2, 5, groups * cog)).astype(np.float32)
    arr, gstep, pstep, bstride = conv.right_operand(w, groups)
    if partial:
        assert arr.shape == (groups * cog_panels, 3 * 2 * 5, conv.NR) and bstride == conv.NR
    else:  # the filter itself: no copy
        assert np.shares_memory(arr, w) and (gstep, pstep, bstride) == (cog, conv.NR, groups * cog)
    got = conv.conv2d(x, w, groups=groups)
    np.testing.assert_allclose(got, ref_conv(x.astype(np.float64), w.astype(np.float64), (1, 1), ((0, 0), (0, 0)), (1, 1),
                                        groups), rtol=1e-4, atol=1e-4)
    # a read-only filter is packed (one kernel signature: the kernel takes writable arrays only)
    ro = w.copy()
    ro.flags.writeable = False
    assert not np.shares_memory(conv.right_operand(ro, groups)[0], ro)
    assert conv.conv2d(x, ro, groups=groups).tobytes() == got.tobytes(), "same sums in the same order"


def test_the_tile_follows_the_instruction_set(monkeypatch):
    assert (conv.MR, conv.NR) == tile.tile()[:2]
    for feats, want in (("+avx2,+avx512f", (9, 32, 16)), ("+avx2,-avx512f,+avx512fp16", (6, 16, 8)),
                        ("+avx2,-avx512f", (6, 16, 8))):
        monkeypatch.setenv("NUMBA_CPU_FEATURES", feats)
        tile.has_avx512.cache_clear()
        assert tile.tile() == want, feats
    tile.has_avx512.cache_clear()


def test_microkernel_loops_carry_a_self_referencing_no_unroll_loop_id():
    """An unrolled body spilled accumulators inside the inner loop (1.8x slower in some
    processes): the loops say llvm.loop.unroll.disable through a well-formed loop ID."""
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(64)]), "f")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    with conv_kernels._loop(builder, ir.Constant(ir.IntType(64), 0), fn.args[0]) as i:
        builder.add(i, i)
    builder.ret_void()
    text = str(module)
    ref = re.search(r'br label %"mk.cond", !llvm.loop (!\d+)', text)
    assert ref, text
    node = re.search(re.escape(ref.group(1)) + r" = !{ (!\d+), (!\d+) }", text)
    assert node and node.group(1) == ref.group(1), text
    assert re.search(re.escape(node.group(2)) + r' = !{ !"llvm.loop.unroll.disable" }', text), text
    from llvmlite import binding as llvm
    llvm.parse_assembly(text).verify()


def test_large_filters_are_packed(monkeypatch):
    """Past IN_PLACE_MAX elements a filter is packed (its rows too far apart to stream well):
    the same numbers either way."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 4, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, conv.NR)).astype(np.float32)
    in_place = conv.conv2d(x, w)
    assert np.shares_memory(conv.right_operand(w, 1)[0], w)
    monkeypatch.setattr(conv, "IN_PLACE_MAX", w.size - 1)
    assert not np.shares_memory(conv.right_operand(w, 1)[0], w)
    assert conv.conv2d(x, w).tobytes() == in_place.tobytes()


@pytest.mark.parametrize("groups, cog_panels, partial, threads", [(1, 5, False, 2), (2, 3, True, 2), (3, 2, False, 1),
                                                                  (1, 1, True, 2), (2, 5, True, 3)])
def test_filter_gradient_panels_grouped_per_job_give_each_panel_alone_bits(monkeypatch, groups, cog_panels, partial,
                                                                           threads):
    """conv2d_backprop_filter's jobs run several column panels per block of rows (one read of g
    per block, _panels_per_job); every cell is still one sum over the rows in order: the same
    bits as one panel per job, and the float64 formula's values. Panels of one job may belong to
    two groups; chunked rows (few panels) and panel shares (many) both."""
    import numba
    rng = np.random.default_rng(groups * 7 + cog_panels)
    cog = cog_panels * conv.NR - (5 if partial else 0)
    cig = 4
    x = rng.standard_normal((3, 9, 8, cig * groups)).astype(np.float32)
    g = rng.standard_normal((3, 7, 4, groups * cog)).astype(np.float32)
    shape = (3, 3, cig, groups * cog)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        grouped = conv.conv2d_backprop_filter(x, g, shape, (1, 2), ((0, 0), (1, 1)), groups=groups)
        monkeypatch.setattr(conv, "_panels_per_job", lambda ncols, nchunks, threads: 1)
        alone = conv.conv2d_backprop_filter(x, g, shape, (1, 2), ((0, 0), (1, 1)), groups=groups)
    finally:
        numba.set_num_threads(before)
    assert grouped.tobytes() == alone.tobytes()
    # dw[i, j, ci, G*cog] = sum over pixels of x_padded[n, h + i, 2*w + j, group's ci] * g[n, h, w, co]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (0, 0)))
    want = np.zeros(shape)
    for gi in range(groups):
        for i in range(3):
            for j in range(3):
                patch = xp[:, i:i + 7, j:j + 7:2, gi * cig:(gi + 1) * cig]  # (3, 7, 4, cig)
                want[i, j, :, gi * cog:(gi + 1) * cog] = np.einsum(
                    "nhwc,nhwo->co", patch, g[..., gi * cog:(gi + 1) * cog].astype(np.float64))
    np.testing.assert_allclose(grouped, want, rtol=1e-4, atol=1e-4)

"""Winograd F(2x2, 3x3) convolutions (kernels/conv_kernels._wino_par, conv._winograd): the
forward convolution with its epilogue and the stride-1 input gradient, against an independent
float64 NumPy sum of shifted products, against the direct kernel, across thread counts; and the
rule that picks it (conv_geometry.winograd_fits, coldstart.plan_keys); the first run's stand-in."""
import numba
import numpy as np
import pytest

pytest.importorskip("keraslite_numba")
from keraslite_numba import coldstart  # noqa: E402
from keraslite_numba.kernels import conv, conv_geometry  # noqa: E402


def _reference(x, w, pt, pl, Ho, Wo):
    """y[n, h, w, :] = sum_ij x[n, h + i - pt, w + j - pl, :] @ w[i, j] in float64, zeros outside."""
    N, H, W, C = x.shape
    xp = np.zeros((N, Ho + 2, Wo + 2, C))
    r0, c0 = max(0, -pt), max(0, -pl)
    hh, ww = min(H, Ho + 2 - pt) - r0, min(W, Wo + 2 - pl) - c0
    xp[:, pt + r0:pt + r0 + hh, pl + c0:pl + c0 + ww] = x[:, r0:r0 + hh, c0:c0 + ww]
    y = np.zeros((N, Ho, Wo, w.shape[3]))
    for i in range(3):
        for j in range(3):
            y += xp[:, i:i + Ho, j:j + Wo] @ w[i, j].astype(np.float64)
    return y


@pytest.fixture
def winograd(monkeypatch):
    monkeypatch.setattr(conv_geometry, "WINOGRAD", True)


GEOMETRIES = [  # N, H, W, Cin, Cout, padding (top, bottom), (left, right)
    (2, 17, 17, 32, 64, ((0, 0), (0, 0))),     # the tutorial's second convolution: odd output
    (3, 8, 9, 16, 48, ((1, 1), (1, 1))),       # 'same', Cout not whole 32-column panels
    (1, 12, 7, 32, 32, ((1, 1), (1, 1))),
    (2, 9, 11, 16, 16, ((2, 0), (0, 2))),      # uneven padding
    (5, 6, 6, 64, 16, ((0, 0), (0, 0))),       # output 4x4: too small, the direct kernel
]


@pytest.mark.parametrize("N,H,W,C,Co,padding", GEOMETRIES)
def test_forward_matches_an_independent_sum_and_the_direct_kernel(winograd, monkeypatch, N, H, W, C, Co, padding):
    rng = np.random.default_rng(N * H + C)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((3, 3, C, Co)).astype(np.float32)
    y = conv.conv2d(x, w, padding=padding)
    ref = _reference(x, w, padding[0][0], padding[1][0], *y.shape[1:3])
    scale = np.abs(ref).max()
    assert np.abs(y - ref).max() <= 2e-6 * scale
    fits = conv.winograd_fits(np.float32, 3, 3, 1, 1, 1, 1, 1, C, Co, *y.shape[1:3])
    assert fits == (min(y.shape[1:3]) >= 6)
    monkeypatch.setattr(conv_geometry, "WINOGRAD", False)
    direct = conv.conv2d(x, w, padding=padding)
    assert np.abs(y - direct).max() <= 2e-6 * scale
    assert (direct.tobytes() != y.tobytes()) == fits  # the other kernel ran: other roundings


@pytest.mark.parametrize("flags", [dict(bias=True), dict(affine=True), dict(bias=True, affine=True, relu=True),
                                   dict(relu=True)])
def test_the_epilogue_is_applied_as_the_separate_ops_round(winograd, flags):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 10, 10, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32) if flags.get("bias") else None
    aff = tuple(rng.standard_normal(32).astype(np.float32) for _ in range(3)) if flags.get("affine") else None
    y = conv.conv2d(x, w, padding=((1, 1), (1, 1)), bias=b, affine=aff, relu=flags.get("relu", False))
    plain = conv.conv2d(x, w, padding=((1, 1), (1, 1)))
    if b is not None:
        plain = plain + b
    if aff is not None:
        plain = (plain - aff[0]) * aff[1] + aff[2]
    if flags.get("relu"):
        plain = np.where(plain > 0, plain, plain * 0)
    assert y.tobytes() == plain.astype(np.float32).tobytes()


@pytest.mark.parametrize("N,H,W,C,Co,padding", GEOMETRIES[:4])
def test_input_gradient_matches_the_direct_kernel(winograd, monkeypatch, N, H, W, C, Co, padding):
    """dx for stride 1 is the forward convolution of g with the flipped, transposed filter: on
    the Winograd kernel when g's and x's channels are whole vectors (C, Co swap roles)."""
    rng = np.random.default_rng(C + Co)
    w = rng.standard_normal((3, 3, C, Co)).astype(np.float32)
    Ho = H + sum(padding[0]) - 2
    Wo = W + sum(padding[1]) - 2
    g = rng.standard_normal((N, Ho, Wo, Co)).astype(np.float32)
    dx = conv.conv2d_backprop_input(g, w, (N, H, W, C), padding=padding)
    flipped = w[::-1, ::-1].transpose(0, 1, 3, 2)
    ref = _reference(g, flipped, 2 - padding[0][0], 2 - padding[1][0], H, W)
    assert np.abs(dx - ref).max() <= 2e-6 * np.abs(ref).max()
    monkeypatch.setattr(conv_geometry, "WINOGRAD", False)
    direct = conv.conv2d_backprop_input(g, w, (N, H, W, C), padding=padding)
    assert np.abs(dx - direct).max() <= 2e-6 * np.abs(ref).max()


def test_float64_through_the_kernel_itself():
    """conv2d sends float32 only; the kernel is dtype-generic (warmup compiles it for float64)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 9, 8, 16))
    w = rng.standard_normal((3, 3, 16, 32))
    y = np.full((2, 9, 8, 32), np.nan)
    conv._winograd(x, w, 1, 1, y, None)
    assert np.abs(y - _reference(x, w, 1, 1, 9, 8)).max() <= 1e-12 * np.abs(y).max()
    assert not conv.winograd_fits(np.float64, 3, 3, 1, 1, 1, 1, 1, 16, 32, 9, 8)


def test_results_do_not_depend_on_the_thread_count(winograd):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 15, 13, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    before = numba.get_num_threads()
    outs = []
    try:
        for n in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            outs.append(conv.conv2d(x, w, padding=((1, 1), (1, 1))).tobytes())
    finally:
        numba.set_num_threads(before)
    assert all(o == outs[0] for o in outs)


@pytest.mark.parametrize("args", [
    (np.float64, 3, 3, 1, 1, 1, 1, 1, 32, 64, 15, 15),   # float64
    (np.float32, 3, 3, 2, 2, 1, 1, 1, 32, 64, 15, 15),   # strided
    (np.float32, 3, 3, 1, 1, 2, 2, 1, 32, 64, 15, 15),   # dilated
    (np.float32, 3, 3, 1, 1, 1, 1, 2, 32, 64, 15, 15),   # grouped
    (np.float32, 5, 5, 1, 1, 1, 1, 1, 32, 64, 15, 15),   # 5x5
    (np.float32, 3, 3, 1, 1, 1, 1, 1, 3, 64, 15, 15),    # RGB input
    (np.float32, 3, 3, 1, 1, 1, 1, 1, 32, 40, 15, 15),   # 40 output channels: not whole vectors
    (np.float32, 3, 3, 1, 1, 1, 1, 1, 32, 64, 15, 5),    # narrow output
    (np.float32, 3, 3, 1, 1, 1, 1, 1, 512, 512, 8, 8),   # transformed filter past the limit
])
def test_the_rule_sends_other_convolutions_to_the_direct_kernel(winograd, args):
    assert not conv.winograd_fits(*args)
    assert conv.winograd_fits(np.float32, 3, 3, 1, 1, 1, 1, 1, 32, 64, 15, 15)


def test_on_unless_turned_off(monkeypatch):
    import importlib
    monkeypatch.delenv("KERASLITE_WINOGRAD", raising=False)
    assert importlib.reload(conv_geometry).WINOGRAD is True
    monkeypatch.setenv("KERASLITE_WINOGRAD", "0")
    assert importlib.reload(conv_geometry).WINOGRAD is False
    monkeypatch.delenv("KERASLITE_WINOGRAD")
    importlib.reload(conv_geometry)


@pytest.mark.parametrize("N,H,W,C,Co,pt,pl,Ho,Wo", [
    (2, 17, 17, 32, 64, 0, 0, 15, 15),     # odd output: half-empty edge tiles
    (3, 8, 9, 16, 48, 1, 1, 8, 9),         # Co not whole panels
    (2, 15, 15, 64, 32, 2, 2, 17, 17),     # an input gradient's padding
    (1, 10, 12, 16, 16, -1, 3, 7, 12),     # negative and oversized padding
    (5, 6, 7, 16, 32, 1, 1, 6, 7),
])
@pytest.mark.parametrize("flags", [0, 1, 7, 6])
def test_the_first_run_stand_in_computes_the_kernel_s_bits(N, H, W, C, Co, pt, pl, Ho, Wo, flags):
    """A cold run's results are a warm run's: while a worker compiles the kernel, conv.py's
    NumPy stand-in (with the forward kernel for the products) runs in its place."""
    from keraslite_numba import twins
    rng = np.random.default_rng(N + H + C + flags)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    w = rng.standard_normal((3, 3, C, Co)).astype(np.float32)
    vecs = [rng.standard_normal(Co).astype(np.float32) for _ in range(4)]
    outs = []
    for variant in ("par", "seq"):
        ep = conv.epilogue(np.float32, Co, vecs[0] if flags & 1 else None,
                           tuple(vecs[1:]) if flags & 2 else None, bool(flags & 4))
        y = np.full((N, Ho, Wo, Co), np.nan, np.float32)
        with twins.only(variant):
            conv._winograd(x, w, pt, pl, y, ep)
        outs.append(y)
    assert np.isfinite(outs[0]).all()
    assert outs[0].tobytes() == outs[1].tobytes()
    ref = _reference(x, w, pt, pl, Ho, Wo) if flags == 0 else None
    if ref is not None:
        assert np.abs(outs[0] - ref).max() <= 2e-6 * np.abs(ref).max()


def _two_conv_training_plan(first=32):
    """The training plan's steps of Conv2D(first, 3) on 10x10x3, Conv2D(32, 3), Flatten, Dense(2)."""
    import keraslite
    from keraslite.layers import Conv2D, Dense, Flatten
    model = keraslite.models.Sequential([Conv2D(first, 3, input_shape=(10, 10, 3)), Conv2D(32, 3), Flatten(),
                                         Dense(2)])
    model.compile("sgd", "mse")
    with keraslite.use_backend("numba"):
        model.train_on_batch(np.ones((2, 10, 10, 3), np.float32), np.ones((2, 2), np.float32))
    return model.train_function.last_plan.steps


@pytest.mark.parametrize("on", [True, False])
def test_plan_keys_ask_for_the_kernel_where_it_runs(monkeypatch, on):
    monkeypatch.setattr(conv_geometry, "WINOGRAD", on)
    steps = _two_conv_training_plan()
    wino = [s.op for s in steps if s.op.startswith("conv") and conv_geometry.winograd_node(s.node, conv.NR)]
    # the second convolution (32 -> 32, output 6x6), its input and filter gradients; not the RGB one
    assert sorted(wino) == (sorted(["conv+add", "conv_backprop_input", "conv_backprop_filter"]) if on else [])
    keys = coldstart.plan_keys(steps)
    assert ("conv_wino-f" in keys) == on and ("conv_wgrad-f" in keys) == on and "conv_fwd-f" in keys


def test_a_cold_plan_asks_for_the_winograd_kernels_right_after_the_serial_twins(winograd, monkeypatch, tmp_path):
    """Their stand-ins are slow (unblocked NumPy): the workers compile them before other parallel
    kernels (coldstart.SLOW_STAND_INS), told so in the plan's "first" line."""
    steps = _two_conv_training_plan()
    told = []
    monkeypatch.setenv("KERASLITE_CACHE_DIR", str(tmp_path))
    for name, value in (("_pending", set()), ("_ready", set()), ("_helps", []), ("_paths", {}),
                        ("_start", lambda ks: coldstart._pending.update(ks)), ("_tell", told.append)):
        monkeypatch.setattr(coldstart, name, value)
    coldstart.prepare(steps)
    first = told[0].split()[1:]
    twins_ = [k for k in first if k.endswith("s")]
    assert twins_ and first[len(twins_):] == ["conv_wino-f", "conv_wgrad-f"]


def _filter_reference(x, g, pt, pl):
    N, H, W, C = x.shape
    _, Ho, Wo, Co = g.shape
    xp = np.zeros((N, Ho + 2, Wo + 2, C))
    r0, c0 = max(0, -pt), max(0, -pl)
    hh, ww = min(H, Ho + 2 - pt) - r0, min(W, Wo + 2 - pl) - c0
    xp[:, pt + r0:pt + r0 + hh, pl + c0:pl + c0 + ww] = x[:, r0:r0 + hh, c0:c0 + ww]
    dw = np.zeros((3, 3, C, Co))
    for i in range(3):
        for j in range(3):
            dw[i, j] = np.einsum("nhwc,nhwd->cd", xp[:, i:i + Ho, j:j + Wo], g.astype(np.float64))
    return dw


@pytest.mark.parametrize("N,H,W,C,Co,padding", GEOMETRIES)
def test_filter_gradient_matches_an_independent_sum_and_the_direct_kernel(winograd, monkeypatch, N, H, W, C, Co,
                                                                         padding):
    rng = np.random.default_rng(N * W + Co)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    Ho, Wo = H + sum(padding[0]) - 2, W + sum(padding[1]) - 2
    g = rng.standard_normal((N, Ho, Wo, Co)).astype(np.float32)
    dw = conv.conv2d_backprop_filter(x, g, (3, 3, C, Co), padding=padding)
    ref = _filter_reference(x, g, padding[0][0], padding[1][0])
    scale = np.abs(ref).max()
    assert np.abs(dw - ref).max() <= 4e-6 * scale
    monkeypatch.setattr(conv_geometry, "WINOGRAD", False)
    direct = conv.conv2d_backprop_filter(x, g, (3, 3, C, Co), padding=padding)
    assert np.abs(dw - direct).max() <= 4e-6 * scale
    assert (dw.tobytes() != direct.tobytes()) == (min(Ho, Wo) >= 6)


@pytest.mark.parametrize("N,H,W,C,Co,pt,pl,Ho,Wo", [
    (2, 17, 17, 32, 64, 0, 0, 15, 15),
    (3, 8, 9, 16, 48, 1, 1, 8, 9),
    (1, 10, 12, 16, 16, -1, 3, 7, 12),
    (1, 6, 6, 16, 16, 1, 1, 6, 6),     # 9 tiles: fewer than the chunks of many threads
])
def test_the_filter_gradient_stand_in_computes_the_kernel_s_bits(N, H, W, C, Co, pt, pl, Ho, Wo):
    from keraslite_numba import twins
    rng = np.random.default_rng(N + W + Co)
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    g = rng.standard_normal((N, Ho, Wo, Co)).astype(np.float32)
    before = numba.get_num_threads()
    try:
        for n in sorted({1, 2, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            outs = []
            for variant in ("par", "seq"):
                dw = np.full((3, 3, C, Co), np.nan, np.float32)
                with twins.only(variant):
                    conv._winograd_filter(x, g, pt, pl, dw)
                outs.append(dw)
            assert np.isfinite(outs[0]).all() and outs[0].tobytes() == outs[1].tobytes(), n
            ref = _filter_reference(x, g, pt, pl)
            assert np.abs(outs[0] - ref).max() <= 4e-6 * np.abs(ref).max()
    finally:
        numba.set_num_threads(before)


def test_more_chunks_than_tiles(monkeypatch):
    """A machine with more threads than a small gradient has tiles: the empty chunks add zeros,
    in the kernel and in its stand-in (the chunk count follows numba.get_num_threads())."""
    from keraslite_numba import twins
    monkeypatch.setattr(numba, "get_num_threads", lambda: 12)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 6, 6, 16)).astype(np.float32)
    g = rng.standard_normal((1, 6, 6, 32)).astype(np.float32)  # 'same': 9 tiles
    outs = []
    for variant in ("par", "seq"):
        dw = np.full((3, 3, 16, 32), np.nan, np.float32)
        with twins.only(variant):
            conv._winograd_filter(x, g, 1, 1, dw)
        outs.append(dw)
    assert outs[0].tobytes() == outs[1].tobytes()
    ref = _filter_reference(x, g, 1, 1)
    assert np.abs(outs[0] - ref).max() <= 4e-6 * np.abs(ref).max()


def test_plan_time_rule_follows_conv_py_s_order_for_few_input_channels(winograd):
    """An input gradient into 16 channels takes col2im where 2 * 16 <= the tile's columns (conv.py
    tries that route first): the plan-time rule says so, and coldstart asks for col2im."""
    steps = _two_conv_training_plan(first=16)
    bprop = [s for s in steps if s.op == "conv_backprop_input"]
    assert len(bprop) == 1
    col2im = 2 * 16 <= conv.NR
    assert conv_geometry.winograd_node(bprop[0].node, conv.NR) == (not col2im)
    assert ("col2im-f" in coldstart.plan_keys(steps)) == col2im

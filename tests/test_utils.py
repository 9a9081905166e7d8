"""keraslite.utils: to_categorical, normalize, Progbar (Keras 2 text format), Sequence, plot_model."""
import io
import time

import numpy as np
import pytest

from keraslite import utils
from keraslite.utils import Progbar, Sequence, normalize, to_categorical

# ---------------------------------------------------------------------------------------------
# to_categorical / normalize


def test_to_categorical_basic():
    got = to_categorical([0, 2, 1, 2])
    want = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]], dtype="float32")
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32


def test_to_categorical_column_vector_and_num_classes():
    y = np.array([[1], [0], [3]])
    got = to_categorical(y, num_classes=5)
    assert got.shape == (3, 5)
    np.testing.assert_array_equal(got, np.eye(5, dtype="float32")[[1, 0, 3]])
    assert to_categorical(y).shape == (3, 4)  # None -> max + 1


def test_to_categorical_higher_rank_and_dtype():
    y = np.random.default_rng(0).integers(0, 4, size=(2, 3, 5))
    got = to_categorical(y, num_classes=4, dtype="int64")
    assert got.shape == (2, 3, 5, 4) and got.dtype == np.int64
    np.testing.assert_array_equal(got.argmax(-1), y)
    np.testing.assert_array_equal(got.sum(-1), 1)
    # only a trailing axis of length 1 is dropped, and only when rank > 1
    assert to_categorical(np.zeros((2, 1, 3), int), 2).shape == (2, 1, 3, 2)
    assert to_categorical([1], 3).shape == (1, 3)


def test_to_categorical_float_labels_truncated_to_int():
    np.testing.assert_array_equal(to_categorical([1.0, 0.0]), [[0, 1], [1, 0]])


@pytest.mark.parametrize("axis, order", [(-1, 2), (0, 2), (1, 1), (-1, np.inf)])
def test_normalize(axis, order):
    x = np.random.default_rng(1).standard_normal((4, 6))
    got = normalize(x, axis=axis, order=order)
    norms = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    np.testing.assert_allclose(got, x / norms)
    np.testing.assert_allclose(np.linalg.norm(got, ord=order, axis=axis), 1.0)


def test_normalize_zero_rows_unchanged():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    # Keras 2 quirk kept: a 1-D input comes back with a leading axis of length 1
    np.testing.assert_allclose(normalize(np.array([3.0, 4.0])), [[0.6, 0.8]])


# ---------------------------------------------------------------------------------------------
# Progbar


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(time, "time", c)
    return c


class _TTY(io.StringIO):
    def isatty(self):
        return True


FULL = "=" * 30


def test_progbar_non_tty_prints_only_final_line(clock, capsys):
    bar = Progbar(target=1000)
    clock.now = 1.0
    bar.update(500, [("loss", 1.0), ("acc", 0.25)])
    assert capsys.readouterr().out == ""
    clock.now = 2.0
    bar.update(1000, [("loss", 0.0), ("acc", 0.75)])
    out = capsys.readouterr().out
    # running means weighted by the steps each value covers: (500*1 + 500*0) / 1000
    assert out == f"1000/1000 [{FULL}] - 2s 2ms/step - loss: 0.5000 - acc: 0.5000\n"


def test_progbar_add_and_time_units(clock, capsys):
    bar = Progbar(target=4)
    clock.now = 8.0
    for _ in range(4):
        bar.add(1, [("loss", 2.0)])
    assert capsys.readouterr().out == f"4/4 [{FULL}] - 8s 2s/step - loss: 2.0000\n"
    bar = Progbar(target=10)
    clock.now = 8.0 + 1e-4
    bar.add(10)
    assert capsys.readouterr().out == f"10/10 [{FULL}] - 0s 10us/step\n"


def test_progbar_small_values_use_exponent(clock, capsys):
    bar = Progbar(target=2)
    clock.now = 1.0
    bar.update(2, [("loss", 1e-4), ("big", -12.5)])
    assert capsys.readouterr().out.endswith(" - loss: 1.0000e-04 - big: -12.5000\n")


def test_progbar_stateful_metrics_not_averaged(clock, capsys):
    bar = Progbar(target=2, stateful_metrics=["auc"])
    bar.update(1, [("auc", 0.9), ("loss", 1.0)])
    clock.now = 1.0
    bar.update(2, [("auc", 0.1), ("loss", 3.0)])
    assert capsys.readouterr().out.endswith(" - auc: 0.1000 - loss: 2.0000\n")


def test_progbar_verbose2(clock, capsys):
    bar = Progbar(target=100, verbose=2)
    clock.now = 1.0
    bar.update(50, [("loss", 0.5)])
    assert capsys.readouterr().out == ""
    clock.now = 3.0
    bar.update(100, [("loss", 0.7)])
    assert capsys.readouterr().out == " - 3s - loss: 0.6000\n"


def test_progbar_verbose0_silent(clock, capsys):
    bar = Progbar(target=10, verbose=0)
    bar.update(10, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_progbar_tty_redraws_in_place(clock, monkeypatch):
    tty = _TTY()
    monkeypatch.setattr("sys.stdout", tty)
    bar = Progbar(target=1000)
    clock.now = 1.0
    bar.update(32, [("loss", 0.6931)])
    first = tty.getvalue()
    # counter right-aligned to the width of the total; int(30 * 32/1000) = 0 cells drawn
    eta = int(1.0 / 32 * (1000 - 32))
    assert first == "\r" + f"  32/1000 [{'.' * 30}] - ETA: {eta}s - loss: 0.6931"
    clock.now = 2.0
    bar.update(500, [("loss", 0.6931)])
    second = tty.getvalue()[len(first):]
    # the previous line is erased with backspaces and a carriage return
    assert second.startswith("\b" * len(first[1:]) + "\r")
    # 'ETA: 30s' became 'ETA: 2s': the shorter line is padded with a space to blank the old one
    assert second[len(first):] == f" 500/1000 [{'=' * 14}>{'.' * 15}] - ETA: 2s - loss: 0.6931 "
    clock.now = 2.01  # within `interval` of the last draw: skipped
    bar.update(600)
    assert tty.getvalue() == first + second
    clock.now = 4.0
    bar.update(1000)
    assert tty.getvalue().endswith(f"1000/1000 [{FULL}] - 4s 4ms/step - loss: 0.6931\n")


def test_progbar_eta_formats(clock, monkeypatch):
    tty = _TTY()
    monkeypatch.setattr("sys.stdout", tty)
    bar = Progbar(target=101)
    clock.now = 100.0
    bar.update(1)  # 100 s per step, 100 steps left: 10000 s
    assert tty.getvalue().endswith(" - ETA: 2:46:40")
    bar = Progbar(target=3, interval=0)
    clock.now = 200.0
    bar.update(1)  # 100 s per step, 2 left: 200 s
    assert tty.getvalue().endswith(" - ETA: 3:20")


def test_progbar_unknown_target(clock, capsys):
    bar = Progbar(target=None)
    clock.now = 1.0
    bar.update(5, [("loss", 1.0)])
    assert capsys.readouterr().out == "      5/Unknown - 1s 200ms/step - loss: 1.0000\n"


def test_progbar_unit_name(clock, capsys):
    bar = Progbar(target=5, unit_name="sample")
    clock.now = 0.5
    bar.update(5)
    assert capsys.readouterr().out == f"5/5 [{FULL}] - 0s 100ms/sample\n"


# ---------------------------------------------------------------------------------------------
# Sequence


class _Batches(Sequence):
    def __init__(self, n, batch_size):
        self.x = np.arange(n)
        self.batch_size = batch_size
        self.epochs = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index):
        return self.x[index * self.batch_size:(index + 1) * self.batch_size]

    def on_epoch_end(self):
        self.epochs += 1


def test_sequence():
    seq = _Batches(10, 4)
    assert len(seq) == 3
    batches = list(seq)
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert seq[1].tolist() == [4, 5, 6, 7]
    seq.on_epoch_end()
    assert seq.epochs == 1
    assert Sequence.use_sequence_api
    Sequence().on_epoch_end()  # the default does nothing
    with pytest.raises(NotImplementedError):
        len(Sequence())
    with pytest.raises(NotImplementedError):
        Sequence()[0]


# ---------------------------------------------------------------------------------------------
# exports and plot_model


def test_exports():
    for name in ("to_categorical", "normalize", "Progbar", "Sequence", "CustomObjectScope", "custom_object_scope",
                 "get_custom_objects", "plot_model"):
        assert hasattr(utils, name), name
    from keraslite.utils.generic_utils import Progbar as P
    from keraslite.utils.np_utils import to_categorical as tc
    assert P is Progbar and tc is to_categorical
    with utils.custom_object_scope({"thing": 1}):
        assert utils.get_custom_objects()["thing"] == 1
    assert "thing" not in utils.get_custom_objects()


class _FakeNode:
    def __init__(self, inbound_layers):
        self.inbound_layers = inbound_layers


class _FakeLayer:
    def __init__(self, name, inbound=(), input_shape=None, output_shape=None):
        self.name = name
        self._inbound_nodes = [_FakeNode(list(inbound))]
        self.input_shape = input_shape
        self.output_shape = output_shape


class InputLayer(_FakeLayer):
    pass


class Dense(_FakeLayer):
    pass


class _FakeModel:
    def __init__(self, layers):
        self.layers = layers


def test_plot_model_writes_dot(tmp_path):
    inp = InputLayer("input_1", output_shape=(None, 8))
    inp._inbound_nodes = [_FakeNode([])]
    d1 = Dense("dense_1", [inp], (None, 8), (None, 4))
    d2 = Dense("dense_2", [d1], (None, 4), (None, 1))
    path = tmp_path / "model.dot"
    utils.plot_model(_FakeModel([d1, d2]), to_file=str(path), show_shapes=True)  # Sequential-style: no InputLayer
    text = path.read_text()
    assert text.startswith("digraph G {")
    assert '"input_1: InputLayer' in text and '"dense_1: Dense' in text and '"dense_2: Dense' in text
    assert "{(None, 8)}|{(None, 4)}" in text
    assert text.count("->") == 2
    assert "n0 -> n1;" in text and "n1 -> n2;" in text
    no_names = utils.vis_utils.model_to_dot_source(_FakeModel([d1, d2]), show_layer_names=False)
    assert "dense_1" not in no_names and '"Dense"' in no_names

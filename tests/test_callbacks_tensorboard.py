"""callbacks.TensorBoard: event files read back with TensorBoard's own EventAccumulator and
compared with NumPy formulas for the values written."""
import json
import os
import struct
import sys
import zlib

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

import keraslite  # noqa: E402
from keraslite import callbacks  # noqa: E402
from keraslite.layers import Dense, Embedding, Flatten  # noqa: E402
from keraslite.models import Sequential  # noqa: E402


@pytest.fixture(autouse=True)
def _numpy_backend():
    # what TensorBoard writes does not depend on the backend; numpy compiles nothing
    with keraslite.use_backend("numpy"):
        yield


def _load(log_dir):
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={
        "scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0})
    acc.Reload()
    return acc


def _data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype("float32")
    y = rng.standard_normal((n, 2)).astype("float32")
    return x, y


def _linear_model():
    model = Sequential([Dense(2, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])
    return model


class _Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs, self.weights = [], [], []

    def on_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))
        self.weights.append([w.copy() for w in self.model.get_weights()])


def test_epoch_scalars(tmp_path):
    x, y = _data()
    model = _linear_model()
    rec = _Recorder()
    hist = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(x[:4], y[:4]),
                     callbacks=[callbacks.TensorBoard(str(tmp_path)), rec])
    acc = _load(tmp_path)
    for tag in ("loss", "mean_absolute_error" if "mean_absolute_error" in hist.history else "mae", "val_loss"):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [0, 1, 2]
        np.testing.assert_allclose([e.value for e in events], hist.history[tag], rtol=1e-6)
    assert "batch" not in acc.Tags()["scalars"] and "size" not in acc.Tags()["scalars"]


def _expected_steps(sizes_per_epoch, freq):
    """Keras 2.3's rule: samples accumulate; a batch write happens once `freq` samples have passed
    since the last one; the epoch write happens at the samples seen so far."""
    seen = last = 0
    batch_steps, epoch_steps = [], []
    for sizes in sizes_per_epoch:
        for size in sizes:
            seen += size
            if seen - last >= freq:
                batch_steps.append(seen)
                last = seen
        epoch_steps.append(seen)
    return batch_steps, epoch_steps


@pytest.mark.parametrize("update_freq, freq", [("batch", 1), (6, 6)])
def test_batch_scalars_count_samples(tmp_path, update_freq, freq):
    x, y = _data(10)
    model = _linear_model()
    rec = _Recorder()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False,
              callbacks=[callbacks.TensorBoard(str(tmp_path), update_freq=update_freq), rec])
    batch_steps, epoch_steps = _expected_steps([[4, 4, 2], [4, 4, 2]], freq)
    # the batch logs that were written, in order, interleaved with the epoch logs at the epoch's end
    expected = []
    seen = last = 0
    batch_iter = iter(rec.batches)
    for epoch_logs in rec.epochs:
        for _ in range(3):
            logs = next(batch_iter)
            seen += logs["size"]
            if seen - last >= freq:
                expected.append((seen, logs["loss"]))
                last = seen
        expected.append((seen, epoch_logs["loss"]))
    events = _load(tmp_path).Scalars("loss")
    assert sorted({e.step for e in events}) == sorted(set(batch_steps) | set(epoch_steps))
    assert [e.step for e in events] == [s for s, _ in expected]
    np.testing.assert_allclose([e.value for e in events], [v for _, v in expected], rtol=1e-6)


def _decode_png(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit grayscale PNG (filter 0 rows), decoded independently here."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", None, None
    while pos < len(data):
        length, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 0)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    assert np.all(raw[:, 0] == 0)
    return raw[:, 1:]


def _tf_image(img):
    img = np.asarray(img, np.float64)
    peak = np.abs(img).max()
    scaled = img * 255.0 / peak if img.min() >= 0 else img * 127.5 / peak + 127.5
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def test_histograms_grads_outputs_and_images(tmp_path):
    x, y = _data(10)
    xv, yv = _data(7, seed=1)
    model = _linear_model()
    rec = _Recorder()
    tb = callbacks.TensorBoard(str(tmp_path), histogram_freq=2, batch_size=3, write_grads=True, write_images=True)
    model.fit(x, y, batch_size=5, epochs=3, verbose=0, validation_data=(xv, yv), callbacks=[tb, rec])
    acc = _load(tmp_path)
    layer = model.layers[0].name
    for epoch in (0, 2):
        kernel, bias = (w.astype(np.float64) for w in rec.weights[epoch])
        for tag, value in ((f"{layer}/kernel_0", kernel), (f"{layer}/bias_0", bias)):
            h = {e.step: e.histogram_value for e in acc.Histograms(tag)}[epoch]
            assert h.num == value.size
            assert h.min == pytest.approx(value.min(), rel=1e-5) and h.max == pytest.approx(value.max(), rel=1e-5)
            assert h.sum == pytest.approx(value.sum(), rel=1e-4, abs=1e-6)
        out = xv @ kernel + bias
        h = {e.step: e.histogram_value for e in acc.Histograms(f"{layer}_out")}[epoch]
        assert h.num == out.size and h.sum == pytest.approx(out.sum(), rel=1e-4, abs=1e-5)
        # mse over n samples and 2 outputs: d/dW = 2/(2n) X^T (XW + b - Y)
        resid = out - yv
        grads = {"kernel": xv.T @ resid * 2 / resid.size, "bias": resid.sum(axis=0) * 2 / resid.size}
        for name, g in grads.items():
            h = {e.step: e.histogram_value for e in acc.Histograms(f"{layer}/{name}_0_grad")}[epoch]
            assert h.num == g.size
            assert h.sum == pytest.approx(g.sum(), rel=1e-4, abs=1e-6)
            assert h.sum_squares == pytest.approx((g ** 2).sum(), rel=1e-4, abs=1e-7)
        # kernel (3, 2): more rows than columns, so TensorFlow's rule shows its transpose
        image = {e.step: e for e in acc.Images(f"{layer}/kernel_0/image/0")}[epoch]
        assert (image.height, image.width) == (2, 3)
        np.testing.assert_array_equal(_decode_png(image.encoded_image_string), _tf_image(kernel.T))
        bias_image = {e.step: e for e in acc.Images(f"{layer}/bias_0/image/0")}[epoch]
        assert (bias_image.height, bias_image.width) == (2, 1)  # Keras: a column, [1, n, 1, 1] in NHWC
    assert sorted(e.step for e in acc.Histograms(f"{layer}/kernel_0")) == [0, 2]


def test_conv_kernel_images_one_per_output_channel():
    from keraslite.callbacks_tensorboard import weight_images
    kernel = np.arange(2 * 2 * 1 * 5, dtype=float).reshape(2, 2, 1, 5)
    images = weight_images(kernel)
    assert images.shape == (5, 2, 2)
    np.testing.assert_array_equal(images[3], kernel[:, :, 0, 3])
    assert weight_images(np.zeros((2, 2, 2, 2, 2))) is None


def test_graph_is_keras_conceptual_graph(tmp_path):
    keras_util = pytest.importorskip("tensorboard.plugins.graph.keras_util")
    model = Sequential([Dense(4, input_shape=(3,), activation="relu", name="hidden"), Dense(2, name="head")])
    model.compile("sgd", "mse")
    x, y = _data(6)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(str(tmp_path))])
    acc = _load(tmp_path)
    events = acc.Tensors("keras")
    assert acc.SummaryMetadata("keras").plugin_data.plugin_name == "graph_keras_model"
    config = json.loads(events[0].tensor_proto.string_val[0])
    assert config == json.loads(model.to_json())
    graph = keras_util.keras_model_to_graph_def(config)
    names = [node.name for node in graph.node]
    assert any("hidden" in name for name in names) and any("head" in name for name in names)

    off = tmp_path / "off"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(str(off), write_graph=False)])
    assert "keras" not in _load(off).Tags()["tensors"]


def test_embeddings_projector_files(tmp_path):
    rng = np.random.default_rng(3)
    model = Sequential([Embedding(10, 4, input_length=3, name="emb"), Flatten(), Dense(1)])
    model.compile("sgd", "mse")
    x = rng.integers(0, 10, (8, 3))
    y = rng.standard_normal((8, 1)).astype("float32")
    data = rng.integers(0, 10, (5, 3))
    meta = tmp_path / "labels.tsv"
    meta.write_text("\n".join(f"word{i}" for i in range(5)) + "\n")
    logs = tmp_path / "logs"
    rec = _Recorder()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        callbacks.TensorBoard(str(logs), embeddings_freq=1, embeddings_data=data, embeddings_metadata=str(meta)), rec])
    found = {}
    for folder, _, files in os.walk(logs):
        if "tensors.tsv" in files:
            found[os.path.relpath(folder, logs)] = folder
    assert len(found) == 2
    for epoch, folder in enumerate(sorted(found.values())):
        table = rec.weights[epoch][0]
        expected = table[data].reshape(5, -1)
        np.testing.assert_allclose(np.loadtxt(os.path.join(folder, "tensors.tsv"), ndmin=2), expected, rtol=1e-5)
        with open(os.path.join(folder, "metadata.tsv")) as handle:
            assert handle.read().split() == [f"word{i}" for i in range(5)]
    config = open(os.path.join(logs, "projector_config.pbtxt")).read()
    assert "emb" in config


def test_bad_arguments_and_missing_validation_data(tmp_path):
    for kwargs in ({"update_freq": "sometimes"}, {"update_freq": 0}, {"histogram_freq": -1},
                   {"embeddings_freq": 1.5}, {"batch_size": 0}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            callbacks.TensorBoard(str(tmp_path), **kwargs)
    x, y = _data()
    model = _linear_model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="validation_data must be provided"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(str(tmp_path), histogram_freq=1)])
    with pytest.raises(ValueError, match="embeddings_data must be provided"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(str(tmp_path), embeddings_freq=1)])
    with pytest.raises(ValueError, match="no Embedding layer"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[callbacks.TensorBoard(str(tmp_path), embeddings_freq=1, embeddings_data=x)])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not any(name.startswith("events.") for name in os.listdir(tmp_path))  # refused before writing


def test_without_tensorboardx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"keraslite\[tensorboard\]"):
        callbacks.TensorBoard(str(tmp_path))

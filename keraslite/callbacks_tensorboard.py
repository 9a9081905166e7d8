"""`callbacks.TensorBoard`: TensorBoard event files written through tensorboardX (the optional
extra `keraslite[tensorboard]`), with Keras 2.3's arguments and tag names.

What each argument does here:
- scalars: every number in the epoch logs (loss, metrics, val_*) under its own name; with
  `update_freq='batch'` or an int (samples) also the batch logs, the step then counting samples
  seen, as Keras 2.3 does (the epoch scalars then use the same step).
- `histogram_freq=n`: every n epochs, histograms of every weight (tag `dense_1/kernel_0`), of each
  layer's output on the validation data (`dense_1_out`), and with `write_grads` of the gradient
  of the total loss on the validation data for each trainable weight (`dense_1/kernel_0_grad`);
  `write_images` adds the weights as images (`dense_1/kernel_0/image/0`) under TensorFlow's
  image rules (2-D kernels one image, conv kernels one image per output channel, biases a row).
  Keras 2.3 runs these on the validation data batch by batch; here the outputs of all batches form
  one histogram and the gradient is that of the mean loss over the whole validation set.
- `write_graph`: keraslite has no TensorFlow session graph to write; it writes what TensorBoard's
  graph dashboard shows as the "conceptual graph" of a Keras model: the model's JSON config
  (tag `keras`, plugin `graph_keras_model`, the record tf.keras writes).
- `embeddings_freq=n`: every n epochs, the outputs of `embeddings_layer_names` (default: every
  `Embedding` layer) on `embeddings_data`, one row per sample, for the projector, labelled by
  `embeddings_metadata` (one file for all layers, or a dict layer name -> file; TSV, a header
  row when it has several columns).
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from . import backend as K
from .callbacks import Callback

__all__ = ["TensorBoard"]

_EXTRA = "pip install 'keraslite[tensorboard]'"


def _tensorboardx():
    try:
        import tensorboardX
    except ImportError as err:
        raise ImportError("keraslite.callbacks.TensorBoard writes its event files through tensorboardX, which is "
                          f"not installed: {_EXTRA} (or pip install tensorboardX)") from err
    return tensorboardX


def _tag(weight) -> str:
    # Keras 2 (TensorFlow) weights are named 'dense_1/kernel:0' and tagged 'dense_1/kernel_0'
    name = str(weight.name)
    return name.replace(":", "_") if ":" in name else name + "_0"


def _png(gray: np.ndarray) -> bytes:
    """A grayscale 8-bit PNG from a (height, width) uint8 array."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    height, width = gray.shape
    rows = b"".join(b"\x00" + gray[i].tobytes() for i in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """TensorFlow's rule for float images: all >= 0 scales the largest to 255; otherwise 0 maps
    to 127.5 and the largest magnitude to the ends."""
    img = np.asarray(img, dtype=np.float64)
    peak = float(np.abs(img).max()) if img.size else 0.0
    if peak == 0.0:
        return np.zeros(img.shape, np.uint8)
    if img.min() >= 0:
        scaled = img * (255.0 / peak)
    else:
        scaled = img * (127.5 / peak) + 127.5
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def weight_images(value: np.ndarray) -> np.ndarray | None:
    """Keras 2.3's images of a weight: shape (n, height, width), or None for shapes it skips."""
    img = np.squeeze(np.asarray(value))
    if img.ndim == 2:
        if img.shape[0] > img.shape[1]:
            img = img.T
        return img[None]
    if img.ndim == 3:
        if K.image_data_format() == "channels_last":
            img = np.transpose(img, (2, 0, 1))
        return img
    if img.ndim == 1:
        return img.reshape(1, img.shape[0], 1)
    return None


def _read_metadata(path: str) -> tuple[list, list | None]:
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    if lines and "\t" in lines[0]:
        return [line.split("\t") for line in lines[1:]], lines[0].split("\t")
    return lines, None


class TensorBoard(Callback):
    """TensorBoard(log_dir='./logs', histogram_freq=0, batch_size=32, write_graph=True,
    write_grads=False, write_images=False, embeddings_freq=0, embeddings_layer_names=None,
    embeddings_metadata=None, embeddings_data=None, update_freq='epoch')

    Writes TensorBoard event files to `log_dir` (see the module text for what each argument
    writes). Needs tensorboardX: `pip install 'keraslite[tensorboard]'`. `histogram_freq > 0`
    needs `validation_data` (arrays) in `fit`; `embeddings_freq > 0` needs `embeddings_data`.
    `batch_size` is the batch size used to run the model on validation and embeddings data."""

    def __init__(self, log_dir: str = "./logs", histogram_freq: int = 0, batch_size: int = 32,
                 write_graph: bool = True, write_grads: bool = False, write_images: bool = False,
                 embeddings_freq: int = 0, embeddings_layer_names=None, embeddings_metadata=None,
                 embeddings_data=None, update_freq="epoch"):
        super().__init__()
        self._tbx = _tensorboardx()
        for name, value in (("histogram_freq", histogram_freq), ("embeddings_freq", embeddings_freq)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"TensorBoard: {name} must be an int >= 0, got {value!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"TensorBoard: batch_size must be a positive int, got {batch_size!r}")
        if update_freq not in ("batch", "epoch") and (isinstance(update_freq, bool) or not isinstance(
                update_freq, (int, np.integer)) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'batch', 'epoch' or a positive int (samples), "
                             f"got {update_freq!r}")
        if embeddings_metadata is not None and not isinstance(embeddings_metadata, (str, os.PathLike, dict)):
            raise ValueError("TensorBoard: embeddings_metadata must be a file name or a dict layer name -> file name")
        if embeddings_layer_names is not None and isinstance(embeddings_layer_names, str):
            embeddings_layer_names = [embeddings_layer_names]
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.batch_size = int(batch_size)
        self.write_graph = bool(write_graph)
        self.write_grads = bool(write_grads)
        self.write_images = bool(write_images)
        self.embeddings_freq = int(embeddings_freq)
        self.embeddings_layer_names = embeddings_layer_names
        self.embeddings_metadata = embeddings_metadata
        self.embeddings_data = embeddings_data
        # Keras 2.3: 'batch' is a write after every batch, i.e. every 1 sample or more
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.samples_seen = 0
        self.samples_seen_at_last_write = 0
        self.writer = None
        self._grad_fn = self._out_fn = self._emb_fn = None
        self._out_names: list = []
        self._emb_layers: list = []

    # -- setup --------------------------------------------------------------------------------
    def set_model(self, model) -> None:
        super().set_model(model)
        self._grad_fn = self._out_fn = self._emb_fn = None

    def _write_model_config(self) -> None:
        try:
            config = self.model.to_json()
        except (NotImplementedError, AttributeError, TypeError, ValueError):
            return  # a subclassed model has no config to draw, as with tf.keras
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model", content=b"1"))
        tensor = TensorProto(dtype="DT_STRING", string_val=[config.encode("utf-8")])
        self._add(Summary(value=[Summary.Value(tag="keras", metadata=meta, tensor=tensor)]), 0)

    def _add(self, summary, step) -> None:
        self.writer._get_file_writer().add_summary(summary, step)

    def on_train_begin(self, logs=None):
        # every check before the writer opens: a refused run leaves no file and no writer thread
        if self.histogram_freq and not self.validation_data:
            raise ValueError("If printing histograms, validation_data must be provided, and cannot be a generator.")
        if self.embeddings_freq:
            if self.embeddings_data is None:
                raise ValueError("To visualize embeddings, embeddings_data must be provided.")
            self._prepare_embeddings()
        if self.writer is None:
            self.writer = self._tbx.SummaryWriter(logdir=self.log_dir)
        if self.write_graph:
            self._write_model_config()

    # -- scalars ------------------------------------------------------------------------------
    def _write_logs(self, logs: dict, index: int) -> None:
        for name, value in (logs or {}).items():
            if name in ("batch", "size", "num_steps"):
                continue
            if np.ndim(value) != 0:
                continue
            self.writer.add_scalar(name, float(value), int(index))
        self.writer.flush()

    def on_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        logs = logs or {}
        self.samples_seen += int(logs.get("size", 1))
        if self.samples_seen - self.samples_seen_at_last_write >= self.update_freq:
            self._write_logs(logs, self.samples_seen)
            self.samples_seen_at_last_write = self.samples_seen

    def on_epoch_end(self, epoch, logs=None):
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_histograms(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._write_embeddings(epoch)
        self._write_logs(logs, epoch if self.update_freq == "epoch" else self.samples_seen)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    # -- histograms and images ----------------------------------------------------------------
    def _batches(self, arrays, n):
        for start in range(0, n, self.batch_size):
            yield [a[start:start + self.batch_size] for a in arrays]

    def _write_histograms(self, epoch: int) -> None:
        model = self.model
        for layer in getattr(model, "layers", []):
            for weight in layer.weights:
                value = K.get_value(weight)
                self.writer.add_histogram(_tag(weight), value, epoch)
                if self.write_images:
                    self._write_weight_images(_tag(weight), value, epoch)
        val = list(self.validation_data)
        n_in = len(model.inputs)
        n = int(np.shape(val[0])[0])
        if self._out_fn is None:
            outs, self._out_names = [], []
            for layer in getattr(model, "layers", []):
                try:
                    out = layer.output
                except (AttributeError, ValueError):
                    continue  # shared or never-called layers have no single output
                for i, tensor in enumerate(out if isinstance(out, list) else [out]):
                    outs.append(tensor)
                    suffix = f"_out_{i}" if isinstance(out, list) else "_out"
                    self._out_names.append(layer.name + suffix)
            self._out_fn = K.function(model.inputs, outs, givens=model._phase_givens(False)) if outs else False
        if self._out_fn:
            parts = [self._out_fn(batch) for batch in self._batches(val[:n_in], n)]
            for j, name in enumerate(self._out_names):
                self.writer.add_histogram(name, np.concatenate([np.reshape(p[j], (len(p[j]), -1)) if np.ndim(p[j])
                                                                else np.reshape(p[j], (1, 1)) for p in parts]), epoch)
        if self.write_grads:
            self._write_grads(val, n, epoch)
        self.writer.flush()

    def _write_grads(self, val, n, epoch) -> None:
        model = self.model
        weights = list(getattr(model, "_collected_trainable_weights", None) or model.trainable_weights)
        if not weights:
            return
        if self._grad_fn is None:
            grads = K.gradients(model.total_loss, weights)
            self._grad_fn = K.function(model.inputs + model.targets + model.sample_weights, grads,
                                       givens=model._phase_givens(False))
        feeds = val[:len(model.inputs) + len(model.targets) + len(model.sample_weights)]
        total = None
        for batch in self._batches(feeds, n):
            size = int(np.shape(batch[0])[0])
            grads = [np.asarray(g, dtype=np.float64) * size for g in self._grad_fn(batch)]
            total = grads if total is None else [t + g for t, g in zip(total, grads)]
        for weight, g in zip(weights, total):
            self.writer.add_histogram(_tag(weight) + "_grad", g / n, epoch)

    def _write_weight_images(self, tag: str, value, epoch: int) -> None:
        from tensorboardX.proto.summary_pb2 import Summary
        images = weight_images(value)
        if images is None:
            return
        values = []
        for i, img in enumerate(images[:3]):  # tf.summary.image's max_outputs=3
            gray = _to_uint8(img)
            encoded = Summary.Image(height=gray.shape[0], width=gray.shape[1], colorspace=1,
                                    encoded_image_string=_png(gray))
            values.append(Summary.Value(tag=f"{tag}/image/{i}", image=encoded))
        self._add(Summary(value=values), epoch)

    # -- embeddings ---------------------------------------------------------------------------
    def _prepare_embeddings(self) -> None:
        from .layers.embeddings import Embedding
        model = self.model
        names = self.embeddings_layer_names
        if names:
            by_name = {layer.name: layer for layer in model.layers}
            missing = [name for name in names if name not in by_name]
            if missing:
                raise ValueError(f"TensorBoard: embeddings_layer_names {missing} are not layers of the model")
            self._emb_layers = [by_name[name] for name in names]
        else:
            self._emb_layers = [layer for layer in model.layers if isinstance(layer, Embedding)]
        if not self._emb_layers:
            raise ValueError("TensorBoard: embeddings_freq is set but the model has no Embedding layer; "
                             "name the layers to watch in embeddings_layer_names")
        data = self.embeddings_data if isinstance(self.embeddings_data, (list, tuple)) else [self.embeddings_data]
        self._emb_data = [np.asarray(d) for d in data]
        if len(self._emb_data) != len(model.inputs):
            raise ValueError(f"TensorBoard: embeddings_data holds {len(self._emb_data)} arrays, the model takes "
                             f"{len(model.inputs)} inputs")
        meta = self.embeddings_metadata
        self._emb_meta = {}
        for layer in self._emb_layers:
            path = meta.get(layer.name) if isinstance(meta, dict) else meta
            if path is not None:
                labels, header = _read_metadata(os.fspath(path))
                if len(labels) != len(self._emb_data[0]):
                    raise ValueError(f"TensorBoard: embeddings_metadata {path!r} has {len(labels)} rows, "
                                     f"embeddings_data {len(self._emb_data[0])} samples")
                self._emb_meta[layer.name] = (labels, header)
        self._emb_fn = K.function(model.inputs, [layer.output for layer in self._emb_layers],
                                  givens=model._phase_givens(False))

    def _write_embeddings(self, epoch: int) -> None:
        n = len(self._emb_data[0])
        parts = [self._emb_fn(batch) for batch in self._batches(self._emb_data, n)]
        for j, layer in enumerate(self._emb_layers):
            mat = np.concatenate([np.asarray(p[j]) for p in parts]).reshape(n, -1)
            labels, header = self._emb_meta.get(layer.name, (None, None))
            self.writer.add_embedding(mat, metadata=labels, global_step=epoch, tag=layer.name,
                                      metadata_header=header)
        self.writer.flush()

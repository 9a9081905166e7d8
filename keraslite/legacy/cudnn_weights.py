"""Convert recurrent weights between the cuDNN layers and LSTM / GRU when loading, as Keras 2 does.

Keras 2 lets a model trained with CuDNNLSTM (on a GPU) load its weights into an LSTM model (for
a CPU), and back; likewise CuDNNGRU and GRU(reset_after=True). The saved layer is recognised
from the bias shape alone (before any array is read):

* LSTM bias (4u,), CuDNNLSTM bias (8u,): input + recurrent biases. cuDNN -> LSTM sums the two
  halves; LSTM -> cuDNN puts half of each bias in each (what Keras does);
* GRU(reset_after=True) bias (2, 3u), CuDNNGRU bias (6u,): the same numbers, reshaped.
  GRU(reset_after=False) has no cuDNN counterpart (its reset gate acts before the product);
* each gate block of a cuDNN kernel holds cuDNN's buffer of the (units, rows) matrix it applies
  (see keraslite.layers.cudnn_recurrent), so a block B of LSTM/GRU's kernel becomes
  `B.T.reshape(B.shape)` and back `B.reshape(units, rows).T`; recurrent blocks are transposed.

Bidirectional layers convert their forward and backward halves separately.
"""
from __future__ import annotations

import numpy as np

__all__ = ["recurrent_weight_converter"]

_FAMILIES = {"LSTM": ("LSTM", 4), "CuDNNLSTM": ("LSTM", 4), "GRU": ("GRU", 3), "CuDNNGRU": ("GRU", 3)}


def _kind(class_name: str, layer=None) -> str | None:
    """The weight layout of a layer: 'LSTM', 'CuDNNLSTM', 'GRU(reset_after=True)', ..."""
    if class_name == "GRU":
        return "GRU(reset_after=%s)" % bool(getattr(layer, "reset_after", False))
    return class_name if class_name in _FAMILIES else None


def _saved_kind(family: str, shapes) -> str | None:
    if len(shapes) != 3 or len(shapes[1]) != 2:
        return None
    gates = 4 if family == "LSTM" else 3
    units = shapes[1][0]
    bias = tuple(shapes[2])
    if family == "LSTM":
        return {(8 * units,): "CuDNNLSTM", (4 * units,): "LSTM"}.get(bias)
    return {(6 * units,): "CuDNNGRU", (2, gates * units): "GRU(reset_after=True)",
            (gates * units,): "GRU(reset_after=False)"}.get(bias)


def _blocks(kernel: np.ndarray, gates: int, fn) -> np.ndarray:
    return np.hstack([fn(b) for b in np.hsplit(kernel, gates)])


def _from_cudnn(kernel):
    units = kernel.shape[1]
    return kernel.reshape(units, kernel.shape[0]).T


def _to_cudnn(kernel):
    return np.ascontiguousarray(kernel.T).reshape(kernel.shape)


def _convert(arrays, source: str, target: str, gates: int):
    kernel, recurrent, bias = arrays
    to_cudnn = target.startswith("CuDNN")
    kernel = _blocks(kernel, gates, _to_cudnn if to_cudnn else _from_cudnn)
    recurrent = _blocks(recurrent, gates, lambda b: b.T)
    if gates == 4:
        bias = np.tile(0.5 * bias, 2) if to_cudnn else np.sum(np.split(bias, 2), axis=0)
    else:
        bias = bias.reshape(-1) if to_cudnn else bias.reshape(2, -1)
    return [kernel, recurrent, bias]


def _single(layer, saved_shapes, target_shapes):
    kind = _kind(type(layer).__name__, layer)
    if kind is None:
        return None
    family, gates = _FAMILIES[type(layer).__name__]
    source = _saved_kind(family, saved_shapes)
    if source is None or source == kind or "GRU(reset_after=False)" in (source, kind):
        return None
    if len(target_shapes) != 3 or tuple(saved_shapes[0]) != tuple(target_shapes[0]) or \
            tuple(saved_shapes[1]) != tuple(target_shapes[1]):
        return None
    return lambda arrays: _convert(arrays, source, kind, gates)


def recurrent_weight_converter(layer, saved_shapes, target_shapes):
    """recurrent_weight_converter(layer, saved_shapes, target_shapes): a function turning the
    saved arrays into the layer's layout when the file holds the cuDNN (or plain) counterpart of
    `layer` (an LSTM/GRU/CuDNN layer, or a Bidirectional of one); None when no conversion applies
    (the shapes then decide, as for any layer)."""
    saved_shapes = [tuple(s) for s in saved_shapes]
    target_shapes = [tuple(s) for s in target_shapes]
    if saved_shapes == target_shapes:
        return None
    if type(layer).__name__ == "Bidirectional" and len(saved_shapes) == len(target_shapes) == 6:
        halves = [getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)]
        parts = [_single(h, saved_shapes[i * 3:i * 3 + 3], target_shapes[i * 3:i * 3 + 3]) if h is not None
                 else None for i, h in enumerate(halves)]
        if any(p is None for p in parts):
            return None
        return lambda arrays: parts[0](arrays[:3]) + parts[1](arrays[3:])
    return _single(layer, saved_shapes, target_shapes)

"""CTC (connectionist temporal classification): K.ctc_batch_cost, K.ctc_decode and
K.ctc_label_dense_to_sparse, over the primitives of xp/ctc.py.

The blank is the last class. As in Keras 2 (TensorFlow backend) the probabilities y_pred (N, T, C)
are turned into log(y_pred + epsilon()), which TensorFlow's CTC ops treat as unnormalised
log-probabilities (the loss normalises them with a log-softmax over the classes).
"""
from __future__ import annotations

import numpy as np

from .. import config
from ..graph import apply, as_tensor, defop, shape_str
from .math import _float, add, cast, log_, mul
from .nn import log_softmax
from .shape import expand_axes, reshape

# ---------------------------------------------------------------------------------------------
# primitives


def _check_loss_inputs(lp, labels, il, ll, who):
    if lp.ndim != 3:
        raise ValueError(f"{who}: y_pred must be (batch, time, classes), got {shape_str(lp.shape)}")
    if labels.ndim != 2:
        raise ValueError(f"{who}: y_true must be (batch, max_label_length), got {shape_str(labels.shape)}")
    for t, name in ((il, "input_length"), (ll, "label_length")):
        if t.ndim != 1:
            raise ValueError(f"{who}: {name} must be (batch,) or (batch, 1), got {shape_str(t.shape)}")


def _ctc_loss_infer(lp, labels, il, ll):
    _check_loss_inputs(lp, labels, il, ll, "ctc_batch_cost")
    return (lp.shape[0],), lp.dtype


def _ctc_loss_vjp(g, y, lp, labels, il, ll):
    grad = apply("ctc_loss_grad", lp, labels, il, ll)
    return [mul(reshape(g, (-1, 1, 1)), grad), None, None, None]


defop("ctc_loss", _ctc_loss_infer, _ctc_loss_vjp)
defop("ctc_loss_grad", lambda lp, labels, il, ll: (lp.shape, lp.dtype))


def _ctc_decode_infer(lp, il, greedy, beam_width, top_paths, merge_repeated):
    if lp.ndim != 3:
        raise ValueError(f"ctc_decode: y_pred must be (batch, time, classes), got {shape_str(lp.shape)}")
    if il.ndim != 1:
        raise ValueError(f"ctc_decode: input_length must be (batch,) or (batch, 1), got {shape_str(il.shape)}")
    paths = 1 if greedy else top_paths
    return [((paths, lp.shape[0], None), "int64"), ((lp.shape[0], paths), lp.dtype)]


defop("ctc_decode", _ctc_decode_infer, num_outputs=2)
defop("ctc_path", lambda decoded, index: ((decoded.shape[1], None), decoded.dtype))


def _dense_to_sparse_infer(labels, lengths):
    if labels.ndim != 2:
        raise ValueError(f"ctc_label_dense_to_sparse: labels must be (batch, max_len), got {shape_str(labels.shape)}")
    return [((None, 2), "int64"), ((None,), labels.dtype), ((2,), "int64")]


defop("ctc_dense_to_sparse", _dense_to_sparse_infer, num_outputs=3)


# ---------------------------------------------------------------------------------------------
# K functions


def _lengths(x, who, name):
    """(batch,) or (batch, 1) lengths -> an int32 (batch,) tensor."""
    x = as_tensor(x)
    if x.ndim == 2 and x.shape[1] == 1:
        x = reshape(x, (-1,))
    if x.ndim != 1:
        raise ValueError(f"{who}: {name} must be (batch,) or (batch, 1), got {shape_str(x.shape)}")
    return x if x.dtype == "int32" else cast(x, "int32")


def _int_labels(y_true, who):
    y_true = as_tensor(y_true)
    if y_true.ndim != 2:
        raise ValueError(f"{who}: labels must be (batch, max_label_length), got {shape_str(y_true.shape)}")
    return y_true if np.dtype(y_true.dtype).kind in "iu" else cast(y_true, "int32")


def _log_probs(y_pred, who):
    y_pred = _float(y_pred, who)
    if y_pred.ndim != 3:
        raise ValueError(f"{who}: y_pred must be (batch, time, classes), got {shape_str(y_pred.shape)}")
    return log_(add(y_pred, config.epsilon()))


def ctc_label_dense_to_sparse(labels, label_lengths):
    """ctc_label_dense_to_sparse(labels, label_lengths) -> (indices, values, dense_shape).

    keraslite has no sparse tensor type, so the sparse labels are returned as the three dense
    components of a TensorFlow SparseTensor: `indices` (M, 2) int64, the (row, column) of every
    valid label (the first label_lengths[n] entries of row n, row-major), `values` (M,) the labels
    there (dtype of `labels`), and `dense_shape` (2,) int64 = the shape of `labels`. M depends on
    the values, so it is unknown (None) in the static shapes. ctc_batch_cost takes dense labels
    directly and does not need this."""
    labels = as_tensor(labels)
    lengths = _lengths(label_lengths, "ctc_label_dense_to_sparse", "label_lengths")
    return tuple(apply("ctc_dense_to_sparse", labels, lengths))


def ctc_batch_cost(y_true, y_pred, input_length, label_length):
    """ctc_batch_cost(y_true, y_pred, input_length, label_length) -> (N, 1) CTC loss per sample.

    y_true (N, max_label_length) int labels (entries past label_length are ignored); y_pred
    (N, T, C) softmax probabilities whose last class is the blank; input_length and label_length
    (N, 1) (or (N,)). The loss is -log p(labels | y_pred) summed over all CTC alignments of the
    first input_length steps, computed on log(y_pred + epsilon()) normalised over the classes as
    TensorFlow's ctc_loss does. Impossible labellings (too long for the input) give inf (with a
    zero gradient); labels outside [0, C - 2] raise ValueError when evaluated. Differentiable
    w.r.t. y_pred (alpha-beta gradient)."""
    who = "ctc_batch_cost"
    lp = log_softmax(_log_probs(y_pred, who), axis=-1)
    labels = _int_labels(y_true, who)
    il = _lengths(input_length, who, "input_length")
    ll = _lengths(label_length, who, "label_length")
    return expand_axes(apply("ctc_loss", lp, labels, il, ll), (1,))


def ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1, merge_repeated=False):
    """ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1,
    merge_repeated=False) -> ([decoded, ...], log_probabilities).

    y_pred (N, T, C) softmax probabilities (last class = blank), input_length (N,) (or (N, 1)).
    Each decoded tensor is (N, max_len) int64, padded with -1, max_len being the longest sequence
    of that path in the batch; log_probabilities is (N, top_paths). greedy=True: the best path
    (argmax per step, repeats merged, blanks removed), one path whatever top_paths says, and, as in
    TensorFlow, the score is minus the sum of the per-step maximum log-probabilities.
    greedy=False: prefix beam search of width beam_width returning the top_paths best labellings
    and their log-probabilities (each step log-softmax normalised, as in TensorFlow); merge_repeated=True additionally merges repeated labels in the
    outputs (TensorFlow's flag). Decoding runs on the host and is not differentiable."""
    who = "ctc_decode"
    lp = _log_probs(y_pred, who)
    il = _lengths(input_length, who, "input_length")
    greedy = bool(greedy)
    beam_width, top_paths = int(beam_width), int(top_paths)
    if not greedy:
        if beam_width < 1 or top_paths < 1:
            raise ValueError(f"{who}: beam_width and top_paths must be positive, got {beam_width} and {top_paths}")
        if top_paths > beam_width:
            raise ValueError(f"{who}: top_paths ({top_paths}) must not exceed beam_width ({beam_width})")
    decoded, log_prob = apply("ctc_decode", lp, il, greedy=greedy, beam_width=beam_width,
                              top_paths=1 if greedy else top_paths, merge_repeated=bool(merge_repeated))
    paths = 1 if greedy else top_paths
    return [apply("ctc_path", decoded, index=i) for i in range(paths)], log_prob

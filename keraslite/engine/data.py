"""Input checking for fit/evaluate/predict: arrays, lists and dicts by name become one array per
model input and trained output, checked against the model before anything runs (so a bad call
never starts training), cast once to the placeholders' dtypes, and sample weights built from
`sample_weight` or `class_weight`."""
from __future__ import annotations

import numpy as np

from .. import backend as K
from ..backend.graph import shape_str
from ..utils.io_utils import HDF5Matrix


def num_samples(arrays) -> int:
    return int(arrays[0].shape[0]) if arrays else 0


def _as_list(data, names: list[str], what: str, who: str) -> list:
    if data is None:
        raise ValueError(f"{who}: no data provided for {what}; need data for each key in: {names}")
    if isinstance(data, dict):
        for key in data:
            if key not in names:
                raise ValueError(f"{who}: no {what} named \"{key}\" in the model; expected keys: {names}")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{who}: no data provided for \"{missing[0]}\". Need data for each key in: {names}")
        return [data[n] for n in names]
    if isinstance(data, (list, tuple)):
        if len(names) == 1 and len(data) != 1 and not hasattr(data[0], "shape"):
            try:
                return [np.asarray(data)]
            except ValueError as e:  # nested lists of unequal lengths
                raise ValueError(f"{who}: the {what} list cannot be read as one array ({e})") from None
        if len(data) != len(names):
            raise ValueError(f"{who}: the model expects {len(names)} {what} array(s) ({names}), but it received a "
                             f"list of {len(data)} arrays")
        return list(data)
    if len(names) != 1:
        raise ValueError(f"{who}: the model expects {len(names)} {what} arrays ({names}), but it received a single "
                         "array")
    return [data]


def _check_array(arr, expected_shape, name: str, what: str, who: str, fixed_by_data: tuple = ()) -> None:
    if len(arr.shape) != len(expected_shape):
        raise ValueError(f"Error when checking {what}: expected {name} to have {len(expected_shape)} dimensions "
                         f"({shape_str(expected_shape)}), but got array with shape {shape_str(arr.shape)} ({who})")
    for axis, (want, got) in enumerate(zip(expected_shape[1:], arr.shape[1:]), start=1):
        if want is not None and want != got:
            hint = ""
            if axis in fixed_by_data:
                # the user declared None there: say why a length is fixed and what to do
                hint = (f". Axis {axis} was declared None (any length); keraslite unrolls recurrent layers, so the "
                        f"first data this model saw fixed it to {want}: pad every sequence to one length (e.g. "
                        f"keraslite.preprocessing.sequence.pad_sequences(seqs, maxlen={want})), or build a new "
                        "model on the same layers for the other length")
            raise ValueError(f"Error when checking {what}: expected {name} to have shape "
                             f"{shape_str(expected_shape[1:])} but got array with shape {shape_str(arr.shape[1:])} "
                             f"({who}){hint}")


def _check_nan(arr, name: str, who: str) -> None:
    # isfinite().all(): no inverted copy of the batch on the common path (a third less time)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = ~np.isfinite(arr)
        idx = int(np.argwhere(bad.reshape(arr.shape[0], -1).any(axis=1))[0, 0]) if arr.ndim else 0
        kind = "NaN" if np.isnan(arr).any() else "infinite"
        raise ValueError(f"{who}: {name} contains {kind} values (first at sample {idx}); clean the data "
                         "before training")


def _is_scipy_sparse(arr) -> bool:
    from ..backend.sparse import is_scipy_sparse
    return is_scipy_sparse(arr)


def standardize_inputs(model, x, who: str, check_nan: bool = False) -> list:
    names = list(model.input_names)
    arrays = _as_list(x, names, "input", who)
    out = []
    for arr, name, tensor in zip(arrays, names, model.inputs):
        if isinstance(arr, HDF5Matrix):  # read batch by batch, never whole
            arr = arr.rows(tensor.dtype, expand=arr.ndim == 1 and tensor.ndim == 2)
            _check_array(arr, K.int_shape(tensor), name, "input", who)
            if check_nan:
                arr.check_finite(f"input '{name}'", who)
            out.append(arr)
            continue
        if tensor.sparse and _is_scipy_sparse(arr):  # Input(sparse=True): rows sliced as CSR
            _check_array(arr, K.int_shape(tensor), name, "input", who)
            arr = arr.tocsr().astype(tensor.dtype)
            if check_nan:
                _check_nan(arr.data, f"input '{name}'", who)
            out.append(arr)
            continue
        arr = np.asarray(arr)
        if arr.ndim == 1 and tensor.ndim == 2:
            arr = arr[:, None]
        _check_array(arr, K.int_shape(tensor), name, "input", who, getattr(model, "_axes_fixed_by_data", ()))
        arr = np.asarray(arr, dtype=tensor.dtype)
        if check_nan:
            _check_nan(arr, f"input '{name}'", who)
        out.append(arr)
    _check_lengths(out, names, "input", who)
    return out


def _check_lengths(arrays, names, what, who):
    counts = {int(a.shape[0]) for a in arrays}
    if len(counts) > 1:
        detail = ", ".join(f"{n}: {a.shape[0]}" for n, a in zip(names, arrays))
        raise ValueError(f"{who}: all {what} arrays should have the same number of samples. Got array shapes: "
                         f"{detail}")


def _loss_name(fn) -> str:
    from ..losses import loss_name
    return loss_name(fn)


def _no_weights(who: str):
    raise ValueError(f"{who}: sample_weight was given, but no output has a loss to weight (the model trains "
                     "on add_loss losses)")


def standardize(model, x, y, sample_weight, class_weight, who: str, check_nan: bool = False):
    """(inputs, targets, sample weights) for the trained outputs, each a list of arrays."""
    model._check_compiled(who)
    ins = standardize_inputs(model, x, who, check_nan=check_nan)
    names = [model.output_names[i] for i in model._trained]
    if y is None and not names:  # trained on add_loss losses alone
        if sample_weight is not None:
            _no_weights(who)
        return ins, [], []
    if y is None:
        raise ValueError(f"{who}: targets (y) are needed for the outputs {names}")
    if isinstance(y, dict) or len(names) > 1 or not isinstance(y, (list, tuple)) or \
            (len(y) >= 1 and hasattr(y[0], "shape")):
        ys = _as_list(y, names, "target", who)
    else:
        ys = [np.asarray(y)]
    targets = []
    for j, (arr, i) in enumerate(zip(ys, model._trained)):
        out = model.outputs[i]
        name = model.output_names[i]
        arr = np.asarray(arr)
        fn = model.loss_functions[i]
        loss_name = _loss_name(fn)
        out_shape = K.int_shape(out)
        if arr.ndim == 1 and len(out_shape) == 2:
            arr = arr[:, None]
        if loss_name == "sparse_categorical_crossentropy":
            if arr.ndim == len(out_shape) and arr.shape[-1] != 1 and out_shape[-1] != 1:
                raise ValueError(f"Error when checking target: sparse_categorical_crossentropy expects integer labels "
                                 f"of shape (N,) or (N, 1) for output '{name}', got an array of shape "
                                 f"{shape_str(arr.shape)} (one-hot targets need categorical_crossentropy)")
            expected = tuple(out_shape[:-1]) + (1,)
            _check_array(arr.reshape(arr.shape[:len(expected) - 1] + (-1,)) if arr.ndim == len(expected) - 1 else arr,
                         expected, name, "target", who)
        else:
            if (loss_name == "categorical_crossentropy" and arr.ndim >= 2 and arr.shape[-1] == 1
                    and out_shape[-1] not in (None, 1)):
                raise ValueError(f"You are passing a target array of shape {shape_str(arr.shape)} while using as loss "
                                 "`categorical_crossentropy`. `categorical_crossentropy` expects targets to be binary "
                                 "matrices (1s and 0s) of shape (samples, classes). If your targets are integer "
                                 "classes, you can convert them to the expected format via:\n```\nfrom "
                                 "keraslite.utils import to_categorical\ny_binary = to_categorical(y_int)\n```\n"
                                 "Alternatively, you can use the loss function `sparse_categorical_crossentropy` "
                                 "instead, which does expect integer targets.")
            _check_array(arr, out_shape, name, "target", who)
        arr = np.asarray(arr, dtype=out.dtype)
        if check_nan:
            _check_nan(arr, f"target '{name}'", who)
        targets.append(arr)
    weights = _sample_weights(model, targets, sample_weight, class_weight, names, who)
    _check_counts(ins, targets, weights, who)
    return ins, targets, weights


def _check_counts(ins, targets, weights, who):
    n_in = {int(a.shape[0]) for a in ins}
    n_t = {int(a.shape[0]) for a in targets}
    if len(n_t) > 1:
        raise ValueError(f"{who}: all target arrays (y) should have the same number of samples. Got array shapes: "
                         f"{[a.shape for a in targets]}")
    if n_in and n_t and n_in != n_t:
        raise ValueError(f"{who}: input arrays should have the same number of samples as target arrays. Found "
                         f"{n_in.pop()} input samples and {n_t.pop()} target samples.")
    for w, t in zip(weights, targets):
        if w.shape[0] != t.shape[0]:
            raise ValueError(f"{who}: found a sample_weight array with shape {w.shape} for an input with shape "
                             f"{t.shape}. sample_weight cannot be broadcast.")


def _sample_weights(model, targets, sample_weight, class_weight, names, who) -> list:
    n_out = len(names)
    if isinstance(sample_weight, dict):
        for key in sample_weight:
            if key not in names:
                raise ValueError(f"{who}: no output named \"{key}\" for sample_weight; expected keys: {names}")
        sws = [sample_weight.get(n) for n in names]  # Keras 2.3: an output left out is unweighted
    elif sample_weight is not None:
        sws = _as_list(sample_weight, names, "sample_weight", who) if (isinstance(sample_weight, (list, dict))
                                                                       or n_out > 1) else [sample_weight]
    else:
        sws = [None] * n_out
    if isinstance(class_weight, dict) and class_weight and all(isinstance(k, str) and k in names
                                                               for k in class_weight):
        cws = [class_weight.get(n) for n in names]  # by output name (Keras 2.3, one output too)
    elif isinstance(class_weight, (list, tuple)):
        cws = list(class_weight)
    else:
        cws = [class_weight] * n_out
    out = []
    for j, (t, sw, cw) in enumerate(zip(targets, sws, cws)):
        if isinstance(cw, dict) and not cw:  # Keras 2.3: an empty dict weighs nothing
            cw = None
        i = model._trained[j]
        temporal = model.sample_weight_modes[i] == "temporal"
        n = t.shape[0]
        if sw is not None:
            if cw is not None:
                import warnings
                warnings.warn("Found both `sample_weight` and `class_weight`: `class_weight` argument will be "
                              "ignored.")
            sw = np.asarray(sw, dtype=K.floatx())
            if temporal:
                if sw.ndim == 1 and t.ndim >= 3 and getattr(model, "_sample_weights_broadcast", False):
                    sw = np.repeat(sw[:, None], t.shape[1], axis=1)  # a tf.keras file's model: per sample
                if sw.ndim != 2:
                    raise ValueError(f"{who}: found a sample_weight array with shape {sw.shape}. In order to use "
                                     "timestep-wise sample weighting, you should pass a 2D sample_weight array.")
            elif sw.ndim != 1:
                raise ValueError(f"{who}: found a sample_weight array with shape {sw.shape}; expected a 1-D array of "
                                 f"{n} weights (use sample_weight_mode='temporal' in compile for 2-D weights)")
            if sw.shape[0] != n:
                raise ValueError(f"{who}: found {sw.shape[0]} sample weights for {n} samples")
            if not np.all(np.isfinite(sw)):
                raise ValueError(f"{who}: sample_weight contains NaN or infinite values")
            out.append(sw)
        elif cw is not None:
            if not isinstance(cw, dict):
                raise TypeError(f"{who}: class_weight must be a dict {{class index: weight}}, got {type(cw).__name__}")
            if t.ndim >= 2 and t.shape[-1] > 1:
                classes = t.reshape(-1, t.shape[-1]).argmax(axis=-1).reshape(t.shape[:-1])
            else:
                classes = t.reshape(t.shape[0], -1)[:, 0].astype(np.int64)
            present = set(np.unique(classes).tolist())
            missing = present - set(int(k) for k in cw)
            if missing:
                raise ValueError(f"{who}: `class_weight` must contain all classes in the data. The classes "
                                 f"{sorted(missing)} exist in the data but not in `class_weight`.")
            lookup = {int(k): float(v) for k, v in cw.items()}
            w = np.vectorize(lookup.__getitem__, otypes=[np.float64])(classes).astype(K.floatx())
            out.append(w if temporal or w.ndim == 1 else w.reshape(n, -1)[:, 0])
        else:
            shape = t.shape[:2] if temporal else (n,)
            out.append(np.ones(shape, dtype=K.floatx()))
    return out

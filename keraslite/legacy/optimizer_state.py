"""Optimizer state saved by name (tf.keras, tf-keras, Keras 3) put back into keraslite's order.

keraslite's optimizers keep `weights = [iterations] (+ Nadam's m_schedule) + one list per state
kind (all parameters' m, then all v, ...)`, as Keras 2.3 does; files from other releases name
each entry instead:

* tf.keras 2.11+ (tf-keras up to 2.21): `iteration:0`, `Adam/m/dense/kernel:0`, interleaved
  per variable;
* tf.keras OptimizerV2 (TF 2.0-2.10, the README's "older" files): `Adam/iter:0`,
  `Adam/dense/kernel/m:0`, one kind after the other;
* Keras 3's legacy HDF5: `adam/iteration`, `adam/learning_rate`,
  `adam/sequential_dense_kernel_momentum` (the path's '/' replaced by '_').

Entries are matched to parameters by variable path (tf.keras's RNN cell scope and wrapper prefixes
aside), else by their order within each kind, which is the order of the model's trainable
variables in every release. Names that say nothing (standalone Keras 2.2's
`training/Adam/Variable_3:0`) give None: the caller loads by position, as Keras does.
"""
from __future__ import annotations

import numpy as np

__all__ = ["optimizer_weights_in_order"]


# keraslite optimizer -> its per-parameter state kinds in `weights` order, each with the slot
# names tf.keras uses for it (OptimizerV2 and the 2.11+ optimizers).
_STATE_KINDS = {
    "SGD": [("momentum", "m")],
    "RMSprop": [("rms", "velocity")],
    "Adagrad": [("accumulator",)],
    "Adadelta": [("accum_grad", "accumulated_grad"), ("accum_var", "accumulated_delta_var")],
    "Adam": [("m",), ("v",), ("vhat",)],
    "Adamax": [("m",), ("v", "u")],
    "Nadam": [("m",), ("v",)],
}
# Keras 3 names state '<optimizer>/<variable path with _>_<slot>'
_KERAS3_SLOTS = {"SGD": [("momentum",)], "RMSprop": [("velocity",)], "Adagrad": [("accumulator",)],
                 "Adadelta": [("accumulated_grad",), ("accumulated_delta_var",)],
                 "Adam": [("momentum",), ("velocity",), ("velocity_hat",)], "Adamax": [("momentum",), ("norm",)],
                 "Nadam": [("momentum",), ("velocity",)]}
_ITERATIONS = ("iteration", "iter", "iterations")
_SCHEDULE = ("momentum_cache", "u_product")


def _parse_state_name(name: str, slots: dict, keras3: dict | None = None, nadam: bool = False):
    """'Adam/m/dense/kernel:0' (2.11+) or 'Adam/dense/kernel/m:0' (OptimizerV2) ->
    (kind index, 'dense/kernel'); iterations -> ('iterations', None); None if not recognised."""
    name = name.rpartition(":")[0] if name.rpartition(":")[2].isdigit() else name
    parts = [p for p in name.split("/") if p]
    if not parts:
        return None
    if parts[-1] in _ITERATIONS and len(parts) <= 2:
        return "iterations", None
    if (parts[-1] in _SCHEDULE and len(parts) <= 2) or (nadam and parts == ["variable"]):
        return "schedule", None  # Keras 3.x saves Nadam's product of momenta unnamed
    if parts[-1] == "learning_rate" and len(parts) <= 2:
        return "skip", None  # Keras 3 keeps the rate as a variable; the config holds it
    if len(parts) >= 3 and parts[1] in slots:
        return slots[parts[1]], "/".join(parts[2:])
    if len(parts) >= 3 and parts[-1] in slots:
        return slots[parts[-1]], "/".join(parts[1:-1])
    if len(parts) == 2 and keras3:
        for suffix in sorted(keras3, key=len, reverse=True):
            if parts[1].endswith("_" + suffix):
                return keras3[suffix], None  # the path's '/' became '_': matched by order
    return None


def _path(name: str) -> tuple:
    """A variable's path without ':0' and without tf.keras's RNN cell scope:
    'bidirectional/forward_lstm/lstm_cell/kernel:0' -> ('bidirectional', 'forward_lstm', 'kernel')."""
    parts = [p for p in str(name).split("/") if p]
    if parts and parts[-1].rpartition(":")[2].isdigit():
        parts[-1] = parts[-1].rpartition(":")[0]
    return tuple(p for i, p in enumerate(parts) if not (p.endswith("_cell") and 0 < i < len(parts) - 1))


def _same_variable(saved: tuple, mine: tuple) -> bool:
    """One path ends with the other ('bidirectional/forward_lstm/kernel' and keraslite's
    'forward_lstm/kernel'), or both name the same layer and weight."""
    n = min(len(saved), len(mine))
    return saved[-n:] == mine[-n:] or (saved[0], saved[-1]) == (mine[0], mine[-1])


def _match_by_name(entries, params, convert):
    mine = [_path(getattr(p, "name", "") or "") for p in params]
    found = {}
    for kind, var, value in entries:
        if var is None:
            return None
        hits = [i for i, m in enumerate(mine) if m and _same_variable(_path(var), m)]
        if len(hits) != 1 or (kind, hits[0]) in found:
            return None
        found[(kind, hits[0])] = convert(hits[0], value)
    return found


def _match_by_order(entries, params, convert):
    """tf.keras lists each state kind in the order of the model's trainable variables, which is
    keraslite's order too: the i-th saved entry of a kind belongs to the i-th parameter."""
    from .. import backend as K
    found, seen = {}, {}
    for kind, _, value in entries:
        i = seen.get(kind, 0)
        seen[kind] = i + 1
        value = convert(i, value) if i < len(params) else value
        if i >= len(params) or tuple(np.shape(value)) != tuple(K.int_shape(params[i])):
            return None
        found[(kind, i)] = value
    return found


def optimizer_weights_in_order(names, values, optimizer, params, convert=None):
    """optimizer_weights_in_order(names, values, optimizer, params): the saved optimizer state
    `values` (named `names`, as tf.keras saves it) in the order of keraslite's
    `optimizer.weights` for `params`, or None when the names do not say what each entry is (the
    caller then loads by position, as Keras does). Entries are matched to parameters by variable
    path, else by their order within each kind. `convert(param index, array)`, if given, turns
    a saved array into the parameter's layout (tf.keras's LocallyConnected implementation 2/3)."""
    kinds = _STATE_KINDS.get(type(optimizer).__name__)
    if kinds is None or not params:
        return None
    slots = {slot: i for i, group in enumerate(kinds) for slot in group}
    keras3 = {slot: i for i, group in enumerate(_KERAS3_SLOTS[type(optimizer).__name__]) for slot in group}
    nadam = type(optimizer).__name__ == "Nadam"
    parsed = [_parse_state_name(n, slots, keras3, nadam) for n in names]
    if any(p is None for p in parsed):
        return None
    iterations = schedule = None
    entries = []
    for (kind, var), value in zip(parsed, values):
        if kind == "iterations":
            iterations = value
        elif kind == "schedule":
            schedule = value
        elif kind != "skip":
            entries.append((kind, var, value))
    # no per-parameter entry at all (saved before the first step): the state starts at zero
    convert = convert or (lambda i, value: value)
    found = _match_by_name(entries, params, convert) if entries else {}
    if found is None:
        found = _match_by_order(entries, params, convert)
    if found is None:
        return None
    from .. import backend as K
    state = []
    for kind in range(len(kinds)):
        for i, p in enumerate(params):
            value = found.get((kind, i))
            if value is None:
                # a state the file does not hold: Adam's vhat without amsgrad (keraslite keeps (1,)
                # placeholders), or a parameter the optimizer had not updated yet
                shape = (1,) if (kinds[kind] == ("vhat",) and not getattr(optimizer, "amsgrad", False)) \
                    else tuple(K.int_shape(p))
                value = np.zeros(shape, dtype=K.dtype(p))
            state.append(value)
    it = np.asarray(0 if iterations is None else iterations).astype("int64").reshape(())
    head = [it]
    if type(optimizer).__name__ == "Nadam":
        if schedule is None:  # tf.keras 2.11+ does not save it: rebuilt from the step count
            return optimizer._fill_keras22([it] + state)
        head.append(np.asarray(schedule).reshape(()))
    return head + state

"""The batch loops behind fit/evaluate/predict and their generator forms (Keras 2's
training_arrays / training_generator). Each step is one call of a compiled function."""
from __future__ import annotations

import numpy as np

from ..distributed import sharding as _dist
from ..utils.generic_utils import to_list, unpack_singleton


def make_batches(size: int, batch_size: int) -> list[tuple[int, int]]:
    n = (size + batch_size - 1) // batch_size
    return [(i * batch_size, min(size, (i + 1) * batch_size)) for i in range(n)]


def _slice(arrays, index):
    return [a[index] for a in arrays]


def _callback_list(model, callbacks, verbose, count_mode="samples"):
    from .. import callbacks as cbks
    model.history = cbks.History()
    # metric objects report running values: the loggers keep their last value, not a batch average
    names = list(getattr(model, "stateful_metric_names", []) or [])
    stateful = names + ["val_" + n for n in names]
    base = [cbks.BaseLogger(stateful_metrics=stateful)]
    if verbose:
        base.append(cbks.ProgbarLogger(count_mode=count_mode, stateful_metrics=stateful))
    cl = cbks.CallbackList(_dist.rank_filter(base + list(callbacks or [])) + [model.history])
    cl.set_model(getattr(model, "callback_model", None) or model)
    return cl


def _batch_shuffle(index_array, batch_size):
    batch_count = int(len(index_array) / batch_size)
    last = index_array[batch_count * batch_size:]
    index_array = index_array[:batch_count * batch_size].reshape((batch_count, batch_size))
    np.random.shuffle(index_array)
    return np.append(index_array.flatten(), last)


def fit_loop(model, f, ins, out_labels, batch_size, epochs, verbose, callbacks, val_f, val_ins, shuffle,
             initial_epoch):
    n = int(ins[0].shape[0])
    do_validation = val_f is not None and val_ins is not None and len(val_ins) and val_ins[0].shape[0] > 0
    # several ranks (keraslite.distributed): the same loop everywhere, rank 0 prints
    _dist.check_loop(model, "fit", callbacks, samples=n, batch_size=batch_size, epochs=epochs,
                     initial_epoch=initial_epoch, shuffle=shuffle, validation=bool(do_validation))
    verbose = _dist.verbosity(verbose)
    if do_validation and verbose:
        print(f"Train on {n} samples, validate on {val_ins[0].shape[0]} samples")
    cl = _callback_list(model, callbacks, verbose)
    callback_metrics = list(out_labels) + (["val_" + l for l in out_labels] if do_validation else [])
    cl.set_params({"batch_size": batch_size, "epochs": epochs, "steps": None,
                   "samples": _dist.local_samples(model, n, batch_size), "verbose": verbose,
                   "do_validation": bool(do_validation), "metrics": callback_metrics})
    model.stop_training = False
    for cb in cl.callbacks:
        cb.validation_data = val_ins if do_validation else None
    cl.on_train_begin()
    index_array = np.arange(n)
    for epoch in range(initial_epoch, epochs):
        _reset_metrics(model)
        cl.on_epoch_begin(epoch)
        epoch_logs: dict = {}
        if shuffle == "batch":
            index_array = _batch_shuffle(index_array, _dist.global_batch_size(model, batch_size))
        elif shuffle:
            np.random.shuffle(index_array)
        index_array = _dist.shared_order(model, index_array, shuffle)
        # this rank's part of each batch (all of it in a single process)
        for batch_index, (start, end) in enumerate(_dist.fit_batches(model, n, batch_size)):
            batch_ids = index_array[start:end]
            # consecutive unshuffled batches are views: no copy
            batch = [a[start:end] for a in ins] if not shuffle else _slice(ins, batch_ids)
            batch_logs = {"batch": batch_index, "size": len(batch_ids)}
            cl.on_batch_begin(batch_index, batch_logs)
            outs = to_list(f(batch))
            for label, o in zip(out_labels, outs):
                batch_logs[label] = float(o) if np.ndim(o) == 0 else o
            cl.on_batch_end(batch_index, batch_logs)
            if _dist.stop(model):
                break
        if do_validation:
            val_outs = test_loop(val_f, val_ins, batch_size=batch_size, verbose=0, model=model)
            for label, o in zip(out_labels, val_outs):
                epoch_logs["val_" + label] = o
        cl.on_epoch_end(epoch, epoch_logs)
        if _dist.stop(model):
            break
    cl.on_train_end()
    return model.history


def _progbar(n, verbose):
    if verbose != 1:
        return None
    from ..utils import Progbar
    return Progbar(target=n)


def _reset_metrics(model) -> None:
    reset = getattr(model, "reset_metrics", None)
    if reset is not None:
        reset()


def _stateful_indices(model) -> set:
    """Positions (in [loss] + metrics) of the metric objects' outputs: running values."""
    if model is None:
        return set()
    stateful = set(getattr(model, "stateful_metric_names", []) or [])
    return {i for i, name in enumerate(getattr(model, "metrics_names", [])) if name in stateful}


def _final(value):
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value


def test_loop(f, ins, batch_size, verbose=0, model=None) -> list:
    """Batch means weighted by batch size; the outputs of metric objects (when `model` is given:
    their states are reset first) are running values, so their last value is the result."""
    n = int(ins[0].shape[0])
    progbar = _progbar(n, verbose)
    totals = None
    stateful = _stateful_indices(model)
    if model is not None:
        _reset_metrics(model)
    for start, end in make_batches(n, batch_size):
        outs = to_list(f([a[start:end] for a in ins]))
        size = end - start
        if totals is None:
            totals = [0.0] * len(outs)
        for i, o in enumerate(outs):
            if i in stateful:
                totals[i] = _final(o)
            else:
                totals[i] += float(o) * size
        if progbar is not None:
            progbar.update(end)
    if totals is None:
        raise ValueError("evaluate: no samples to evaluate")
    return [t if i in stateful else t / n for i, t in enumerate(totals)]


def predict_loop(f, ins, batch_size, verbose=0) -> list:
    n = int(ins[0].shape[0])
    progbar = _progbar(n, verbose)
    results = None
    for start, end in make_batches(n, batch_size):
        outs = to_list(f([a[start:end] for a in ins]))
        if results is None:
            results = [np.empty((n,) + o.shape[1:], dtype=o.dtype) for o in outs]
        for r, o in zip(results, outs):
            r[start:end] = o
        if progbar is not None:
            progbar.update(end)
    if results is None:
        raise ValueError("predict: no samples to predict")
    return results


# ---------------------------------------------------------------------------------------------
# generators

def _is_sequence(g) -> bool:
    from ..utils.data_utils import Sequence
    return isinstance(g, Sequence)


def _steps(generator, steps, who):
    if steps is None:
        if _is_sequence(generator):
            return len(generator)
        raise ValueError(f"{who}: `steps` (or steps_per_epoch) is required when the generator is not a "
                         "keraslite.utils.Sequence")
    return int(steps)


def _iterate(generator):
    if _is_sequence(generator):
        def gen():
            while True:
                for i in range(len(generator)):
                    yield generator[i]
                generator.on_epoch_end()
        return gen()
    return iter(generator)


def _unpack(item, who):
    if not isinstance(item, tuple) or len(item) not in (2, 3):
        raise ValueError(f"{who}: output of generator should be a tuple (x, y, sample_weight) or (x, y). "
                         f"Found: {type(item).__name__}")
    return item if len(item) == 3 else (item[0], item[1], None)


def fit_generator(model, generator, steps_per_epoch, epochs, verbose, callbacks, validation_data, validation_steps,
                  class_weight, shuffle, initial_epoch):
    steps = _steps(generator, steps_per_epoch, "fit_generator")
    steps_per_epoch = _dist.generator_steps(model, generator, steps_per_epoch, steps, _is_sequence(generator))
    val_is_gen = validation_data is not None and (hasattr(validation_data, "__next__") or _is_sequence(validation_data))
    if val_is_gen:
        validation_steps = _steps(validation_data, validation_steps, "fit_generator (validation)")
    _dist.check_loop(model, "fit_generator", callbacks, steps=steps_per_epoch, epochs=epochs,
                     initial_epoch=initial_epoch, validation=validation_data is not None)
    verbose = _dist.verbosity(verbose)
    # several ranks: each takes its own items of the stream (a Sequence: by index)
    it = _dist.shard_iterator(model, generator, _iterate(generator), _is_sequence(generator))
    first = _unpack(next(it), "fit_generator")
    model._build_if_needed(first[0])
    model._make_train_function()
    out_labels = list(model.metrics_names)
    cl = _callback_list(model, callbacks, verbose, count_mode="steps")
    do_validation = validation_data is not None
    cl.set_params({"epochs": epochs, "steps": steps_per_epoch, "verbose": verbose, "do_validation": do_validation,
                   "metrics": out_labels + (["val_" + l for l in out_labels] if do_validation else [])})
    model.stop_training = False
    cl.on_train_begin()
    pending = first
    for epoch in range(initial_epoch, epochs):
        _reset_metrics(model)
        cl.on_epoch_begin(epoch)
        epoch_logs: dict = {}
        for step in range(steps_per_epoch):
            item = pending if pending is not None else _unpack(next(it), "fit_generator")
            pending = None
            x, y, sw = item
            batch_logs = {"batch": step, "size": int(np.shape(to_list(x)[0])[0])}
            cl.on_batch_begin(step, batch_logs)
            outs = to_list(model.train_on_batch(x, y, sample_weight=sw, class_weight=class_weight,
                                                reset_metrics=False))
            for label, o in zip(out_labels, outs):
                batch_logs[label] = o
            cl.on_batch_end(step, batch_logs)
            if _dist.stop(model):
                break
        if do_validation:
            if val_is_gen:
                val_outs = to_list(evaluate_generator(model, validation_data, validation_steps, 0))
            else:
                vx, vy = validation_data[0], validation_data[1]
                vsw = validation_data[2] if len(validation_data) == 3 else None
                val_outs = to_list(model.evaluate(vx, vy, sample_weight=vsw, verbose=0))
            for label, o in zip(out_labels, val_outs):
                epoch_logs["val_" + label] = o
        cl.on_epoch_end(epoch, epoch_logs)
        if _dist.stop(model):
            break
    cl.on_train_end()
    return model.history


def evaluate_generator(model, generator, steps, verbose):
    steps = _steps(generator, steps, "evaluate_generator")
    it = _iterate(generator)
    totals, count = None, 0
    _reset_metrics(model)
    stateful = None
    for _ in range(steps):
        x, y, sw = _unpack(next(it), "evaluate_generator")
        outs = to_list(model.test_on_batch(x, y, sample_weight=sw, reset_metrics=False))
        if stateful is None:
            stateful = _stateful_indices(model)
        size = int(np.shape(to_list(x)[0] if not isinstance(x, dict) else next(iter(x.values())))[0])
        totals = [0.0] * len(outs) if totals is None else totals
        for i, o in enumerate(outs):
            if i in stateful:
                totals[i] = _final(o)
            else:
                totals[i] += float(o) * size
        count += size
    if not count:
        raise ValueError("evaluate_generator: the generator yielded no samples")
    return unpack_singleton([t if i in stateful else t / count for i, t in enumerate(totals)])


def predict_generator(model, generator, steps, verbose):
    steps = _steps(generator, steps, "predict_generator")
    it = _iterate(generator)
    results = None
    for _ in range(steps):
        item = next(it)
        x = item[0] if isinstance(item, tuple) and len(item) in (2, 3) else item
        outs = to_list(model.predict_on_batch(x))
        results = [[] for _ in outs] if results is None else results
        for r, o in zip(results, outs):
            r.append(o)
    if results is None:
        raise ValueError("predict_generator: the generator yielded nothing")
    return unpack_singleton([np.concatenate(r) for r in results])

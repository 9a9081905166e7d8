"""The batch loops behind fit/evaluate/predict and their generator forms (Keras 2's
training_arrays / training_generator). Each step is one call of a compiled function."""
from __future__ import annotations

import contextlib
import itertools

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
             initial_epoch, steps_per_epoch=None, validation_steps=None, validation_freq=1):
    """Batches of `batch_size` samples, or (steps_per_epoch given, batch_size None) the whole
    arrays once per step, as Keras 2.3 does for arrays with steps."""
    n = int(ins[0].shape[0])
    do_validation = val_f is not None and val_ins is not None and len(val_ins) and val_ins[0].shape[0] > 0
    # several ranks (keraslite.distributed): the same loop everywhere, rank 0 prints
    _dist.check_loop(model, "fit", callbacks, samples=n, batch_size=batch_size, epochs=epochs,
                     initial_epoch=initial_epoch, shuffle=shuffle, validation=bool(do_validation),
                     steps=steps_per_epoch)
    verbose = _dist.verbosity(verbose)
    if do_validation and verbose and steps_per_epoch is None:
        print(f"Train on {n} samples, validate on {val_ins[0].shape[0]} samples")
    cl = _callback_list(model, callbacks, verbose, count_mode="samples" if steps_per_epoch is None else "steps")
    callback_metrics = list(out_labels) + (["val_" + l for l in out_labels] if do_validation else [])
    cl.set_params({"batch_size": batch_size, "epochs": epochs, "steps": steps_per_epoch,
                   "samples": _dist.local_samples(model, n, batch_size) if steps_per_epoch is None else None,
                   "verbose": verbose,
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
        if steps_per_epoch is not None:
            _fit_steps(model, f, ins, out_labels, steps_per_epoch, cl)
        elif shuffle == "batch":
            index_array = _batch_shuffle(index_array, _dist.global_batch_size(model, batch_size))
        elif shuffle:
            np.random.shuffle(index_array)
        if steps_per_epoch is None:
            index_array = _dist.shared_order(model, index_array, shuffle)
        # this rank's part of each batch (all of it in a single process)
        batches = _dist.fit_batches(model, n, batch_size) if steps_per_epoch is None else []
        for batch_index, (start, end) in enumerate(batches):
            batch_ids = index_array[start:end]
            # consecutive unshuffled batches are views: no copy
            batch = [a[start:end] for a in ins] if not shuffle else _slice(ins, batch_ids)
            if _train_batch(model, f, batch, out_labels, cl, batch_index, len(batch_ids)):
                break
        if do_validation and _validate_now(epoch, validation_freq):
            val_outs = test_loop(val_f, val_ins, batch_size=batch_size, verbose=0, model=model, steps=validation_steps)
            for label, o in zip(out_labels, val_outs):
                epoch_logs["val_" + label] = o
        cl.on_epoch_end(epoch, epoch_logs)
        if _dist.stop(model):
            break
    cl.on_train_end()
    return model.history


def _fit_steps(model, f, ins, out_labels, steps, cl) -> None:
    for step in range(steps):
        if _train_batch(model, f, ins, out_labels, cl, step, 1):
            break


def _train_batch(model, f, batch, out_labels, cl, index: int, size: int) -> bool:
    """One training step on `batch` between the callbacks' batch hooks (its outputs logged under
    `out_labels`); True when training must stop."""
    batch_logs = {"batch": index, "size": size}
    cl.on_batch_begin(index, batch_logs)
    outs = to_list(f(batch))
    for label, o in zip(out_labels, outs):
        batch_logs[label] = float(o) if np.ndim(o) == 0 else o
    cl.on_batch_end(index, batch_logs)
    return _dist.stop(model)


def _progbar(n, verbose):
    if verbose != 1:
        return None
    from ..utils.generic_utils import Progbar
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


def test_loop(f, ins, batch_size, verbose=0, model=None, steps=None) -> list:
    """Batch means weighted by batch size; the outputs of metric objects (when `model` is given:
    their states are reset first) are running values, so their last value is the result. With
    `steps` (batch_size None) the whole arrays are fed `steps` times and the means are per step."""
    n = int(ins[0].shape[0])
    progbar = _progbar(n if steps is None else steps, verbose)
    totals = None
    stateful = _stateful_indices(model)
    if model is not None:
        _reset_metrics(model)
    batches = make_batches(n, batch_size) if steps is None else [(0, n)] * steps
    for k, (start, end) in enumerate(batches):
        outs = to_list(f([a[start:end] for a in ins] if steps is None else ins))
        size = end - start if steps is None else 1
        if totals is None:
            totals = [0.0] * len(outs)
        for i, o in enumerate(outs):
            if i in stateful:
                totals[i] = _final(o)
            else:
                totals[i] += float(o) * size
        if progbar is not None:
            progbar.update(end if steps is None else k + 1)
    if totals is None:
        raise ValueError("evaluate: no samples to evaluate")
    count = n if steps is None else steps
    return [t if i in stateful else t / count for i, t in enumerate(totals)]


def predict_loop(f, ins, batch_size, verbose=0, steps=None) -> list:
    """Outputs batch by batch; with `steps` (batch_size None) the whole arrays are fed `steps`
    times and the outputs of the steps are concatenated, as in Keras 2.3."""
    if steps is not None:
        progbar = _progbar(steps, verbose)
        per_step = []
        for step in range(steps):
            per_step.append(to_list(f(ins)))
            if progbar is not None:
                progbar.update(step + 1)
        return [np.concatenate([outs[i] for outs in per_step]) for i in range(len(per_step[0]))]
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
# generators (batch_stream.BatchStream reads them; its `with` stops every worker)

def _unpack(item, who):
    if not isinstance(item, tuple) or len(item) not in (2, 3):
        raise ValueError(f"{who}: output of generator should be a tuple (x, y, sample_weight) or (x, y). "
                         f"Found: {type(item).__name__}")
    return item if len(item) == 3 else (item[0], item[1], None)


def _batch_size(x) -> int:
    first = next(iter(x.values())) if isinstance(x, dict) else to_list(x)[0]
    return int(np.shape(first)[0])


def _validate_now(epoch: int, validation_freq) -> bool:
    """Keras 2.3's validation_freq: an int N (every N-th epoch) or the 1-based epochs to run."""
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, (bool, np.bool_)):
        if validation_freq < 1:
            raise ValueError("`validation_freq` can not be less than 1.")
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set)):
        return (epoch + 1) in validation_freq
    raise ValueError(f"`validation_freq` must be an Integer or `collections.Container` (e.g. list, tuple, etc.). "
                     f"Found {validation_freq!r}")


def fit_generator(model, generator, steps_per_epoch, epochs, verbose, callbacks, validation_data, validation_steps,
                  class_weight, shuffle, initial_epoch, workers=1, use_multiprocessing=False, max_queue_size=10,
                  validation_freq=1, validation_workers=None, until_exhausted=False):
    """until_exhausted (fit on a generator, tf.keras): steps_per_epoch=None means an epoch ends
    when the generator does."""
    from . import batch_stream as da
    validation_workers = workers if validation_workers is None else validation_workers
    # several ranks (keraslite.distributed): each reads its own items (a Sequence: by index)
    generator = _dist.shard_source(model, generator, steps_per_epoch)
    if not (until_exhausted and steps_per_epoch is None and not da.is_sequence(generator)):
        steps_per_epoch = da.steps_for(generator, steps_per_epoch, "fit_generator", "steps_per_epoch")
    val_is_gen = da.is_generator_like(validation_data)
    if val_is_gen:
        validation_steps = da.steps_for(validation_data, validation_steps, "fit_generator", "validation_steps")
    elif validation_data is not None and (not isinstance(validation_data, (list, tuple))
                                          or len(validation_data) not in (2, 3)):
        raise ValueError("`validation_data` should be a tuple `(val_x, val_y, val_sample_weight)` or "
                         f"`(val_x, val_y)`. Found: {validation_data!r}")
    do_validation = validation_data is not None
    if do_validation:
        _validate_now(0, validation_freq)  # a bad validation_freq fails before any work
    _dist.check_loop(model, "fit_generator", callbacks, steps=steps_per_epoch, epochs=epochs,
                     initial_epoch=initial_epoch, validation=do_validation)
    verbose = _dist.verbosity(verbose)
    with da.BatchStream(generator, workers, use_multiprocessing, max_queue_size, shuffle=bool(shuffle)) as stream, \
            contextlib.ExitStack() as val_streams:
        try:
            first = _unpack(stream.next(), "fit_generator")
        except da.OutOfData:
            raise ValueError("fit_generator: the generator yielded no batches") from None
        model._build_if_needed(first[0])
        model._make_train_function()
        out_labels = list(model.metrics_names)
        cl = _callback_list(model, callbacks, verbose, count_mode="steps")
        cl.set_params({"epochs": epochs, "steps": steps_per_epoch, "verbose": verbose,
                       "do_validation": do_validation,
                       "metrics": out_labels + (["val_" + l for l in out_labels] if do_validation else [])})
        model.stop_training = False
        val_stream = None
        cl.on_train_begin()
        pending = first
        for epoch in range(initial_epoch, epochs):
            _reset_metrics(model)
            cl.on_epoch_begin(epoch)
            epoch_logs: dict = {}
            steps_done = 0
            for step in range(steps_per_epoch) if steps_per_epoch is not None else itertools.count():
                try:
                    item = pending if pending is not None else _unpack(stream.next(), "fit_generator")
                except da.OutOfData:
                    if steps_per_epoch is not None or not steps_done:
                        da.warn_out_of_data(None if steps_per_epoch is None else steps_per_epoch * epochs, "fit")
                        model.stop_training = True
                    break
                pending = None
                x, y, sw = item
                batch_logs = {"batch": step, "size": _batch_size(x)}
                cl.on_batch_begin(step, batch_logs)
                outs = to_list(model.train_on_batch(x, y, sample_weight=sw, class_weight=class_weight,
                                                    reset_metrics=False))
                for label, o in zip(out_labels, outs):
                    batch_logs[label] = o
                cl.on_batch_end(step, batch_logs)
                steps_done += 1
                if _dist.stop(model):
                    break
            if not steps_done:
                break
            if do_validation and _validate_now(epoch, validation_freq):
                if val_is_gen:
                    if val_stream is None:  # one stream for all epochs: no batch is skipped between them
                        val_stream = val_streams.enter_context(da.BatchStream(
                            validation_data, validation_workers, use_multiprocessing, max_queue_size))
                    val_outs = _evaluate_stream(model, val_stream, validation_steps, 0, "fit (validation)")
                else:
                    vx, vy = validation_data[0], validation_data[1]
                    vsw = validation_data[2] if len(validation_data) == 3 else None
                    val_outs = model.evaluate(vx, vy, sample_weight=vsw, verbose=0)
                for label, o in zip(out_labels, to_list(val_outs)):
                    epoch_logs["val_" + label] = o
            cl.on_epoch_end(epoch, epoch_logs)
            if _dist.stop(model):
                break
        cl.on_train_end()
    return model.history


def _open_steps(generator, steps, until_exhausted, who):
    from . import batch_stream as da
    if steps is None and until_exhausted and not da.is_sequence(generator):
        return None
    return da.steps_for(generator, steps, who)


def evaluate_generator(model, generator, steps, verbose, workers=1, use_multiprocessing=False, max_queue_size=10,
                       until_exhausted=False):
    from . import batch_stream as da
    steps = _open_steps(generator, steps, until_exhausted, "evaluate_generator")
    with da.BatchStream(generator, workers, use_multiprocessing, max_queue_size) as stream:
        return _evaluate_stream(model, stream, steps, verbose, "evaluate")


def _evaluate_stream(model, stream, steps, verbose, who):
    """Batch means weighted by batch size over `steps` batches (None: until the data ends)."""
    from . import batch_stream as da
    totals, count, done = None, 0, 0
    _reset_metrics(model)
    stateful = None
    progbar = _progbar(steps, verbose) if steps else None
    while steps is None or done < steps:
        try:
            x, y, sw = _unpack(stream.next(), who)
        except da.OutOfData:
            if steps is not None:
                da.warn_out_of_data(steps, who)
            break
        outs = to_list(model.test_on_batch(x, y, sample_weight=sw, reset_metrics=False))
        if stateful is None:
            stateful = _stateful_indices(model)
        size = _batch_size(x)
        totals = [0.0] * len(outs) if totals is None else totals
        for i, o in enumerate(outs):
            if i in stateful:
                totals[i] = _final(o)
            else:
                totals[i] += float(o) * size
        count += size
        done += 1
        if progbar is not None:
            progbar.update(done)
    if not count:
        raise ValueError(f"{who}: the generator yielded no samples")
    return unpack_singleton([t if i in stateful else t / count for i, t in enumerate(totals)])


def predict_generator(model, generator, steps, verbose, workers=1, use_multiprocessing=False, max_queue_size=10,
                      until_exhausted=False):
    from . import batch_stream as da
    steps = _open_steps(generator, steps, until_exhausted, "predict_generator")
    results, done = None, 0
    progbar = _progbar(steps, verbose) if steps else None
    with da.BatchStream(generator, workers, use_multiprocessing, max_queue_size) as stream:
        while steps is None or done < steps:
            try:
                item = stream.next()
            except da.OutOfData:
                if steps is not None:
                    da.warn_out_of_data(steps, "predict")
                break
            x = item[0] if isinstance(item, tuple) and len(item) in (2, 3) else item
            outs = to_list(model.predict_on_batch(x))
            results = [[] for _ in outs] if results is None else results
            for r, o in zip(results, outs):
                r.append(o)
            done += 1
            if progbar is not None:
                progbar.update(done)
    if results is None:
        raise ValueError("predict_generator: the generator yielded nothing")
    return unpack_singleton([np.concatenate(r) for r in results])

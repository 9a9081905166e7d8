"""Model: a Network that trains. compile() builds the train, test and predict functions once (each
a single compiled plan specialised on the learning phase); fit/evaluate/predict only slice and
feed batches (see data.py for the input checks and loops.py for the batch loops)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import backend as K
from ..backend.graph import Placeholder
from ..backend.specialize import specialize
from ..serialization import _register_layer_classes
from ..utils.generic_utils import to_list, unpack_singleton
from . import arguments
from . import data as data_utils
from . import data_adapters, loops, subclassed
from .network import Network

_FIT_KWARGS = {"steps_per_epoch", "validation_steps", "validation_freq", "max_queue_size", "workers",
               "use_multiprocessing"}


class Model(Network):
    """Model(inputs, outputs, name=None): a functional model with compile/fit/evaluate/predict."""

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer, loss=None, metrics=None, loss_weights=None, sample_weight_mode=None,
                weighted_metrics=None, target_tensors=None, **kwargs) -> None:
        """compile(optimizer, loss=None, metrics=None, loss_weights=None, sample_weight_mode=None,
        weighted_metrics=None, target_tensors=None, **kwargs): configure training."""
        from .. import losses as losses_mod
        from .. import optimizers
        for kw in kwargs:
            if kw not in ("givens",):
                raise TypeError(f"compile: invalid keyword argument {kw!r}")
        if not self.inputs and (getattr(self, "_stack", None) or subclassed.is_subclassed(self)):
            self._compile_pending = (optimizer, loss, metrics, loss_weights, sample_weight_mode, weighted_metrics,
                                     target_tensors, kwargs)
            self.optimizer = optimizers.get(optimizer)
            self.loss = loss
            self.metrics = metrics or []
            self.loss_weights = loss_weights
            self.sample_weight_mode = sample_weight_mode
            return
        self._compile_pending = None
        if target_tensors is not None:
            raise ValueError("compile: target_tensors is not supported by keraslite; feed targets to fit")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss or {}
        self.metrics = metrics or []
        self.loss_weights = loss_weights
        self.sample_weight_mode = sample_weight_mode
        self.weighted_metrics = weighted_metrics
        n_out = len(self.outputs)

        # one loss function per output (None: that output is not trained)
        if isinstance(loss, dict):
            for name in loss:
                if name not in self.output_names:
                    raise ValueError(f"Unknown entry in loss dictionary: \"{name}\". Only expected the following "
                                     f"keys: {self.output_names}")
            loss_functions = [losses_mod.get(loss[n]) if n in loss else None for n in self.output_names]
        elif isinstance(loss, (list, tuple)):
            if len(loss) != n_out:
                raise ValueError(f"When passing a list as loss, it should have one entry per model output. The model "
                                 f"has {n_out} outputs, but you passed loss={loss}")
            loss_functions = [losses_mod.get(l) for l in loss]
        else:
            # no loss: Keras 2 trains on the losses the layers added (add_loss), and fit takes no y
            loss_functions = [losses_mod.get(loss)] * n_out if loss is not None else [None] * n_out
        self.loss_functions = loss_functions

        if loss_weights is None:
            weights = [1.0] * n_out
        elif isinstance(loss_weights, dict):
            for name in loss_weights:
                if name not in self.output_names:
                    raise ValueError(f"Unknown entry in loss_weights dictionary: \"{name}\". Only expected the "
                                     f"following keys: {self.output_names}")
            weights = [float(loss_weights.get(n, 1.0)) for n in self.output_names]
        elif isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != n_out:
                raise ValueError(f"When passing a list as loss_weights, it should have one entry per model output. "
                                 f"The model has {n_out} outputs, but you passed loss_weights={loss_weights}")
            weights = [float(w) for w in loss_weights]
        else:
            raise TypeError("Could not interpret loss_weights argument: " + str(loss_weights) + " - expected a list "
                            "of dicts.")
        self._loss_weights_list = weights

        modes = sample_weight_mode if isinstance(sample_weight_mode, (list, tuple)) else \
            [sample_weight_mode.get(n) for n in self.output_names] if isinstance(sample_weight_mode, dict) else \
            [sample_weight_mode] * n_out
        for m in modes:
            if m not in (None, "temporal"):
                raise ValueError(f"compile: sample_weight_mode must be None or 'temporal', got {m!r}")
        self.sample_weight_modes = list(modes)

        # targets and sample weights of the trained outputs
        self._trained = [i for i in range(n_out) if loss_functions[i] is not None]
        self.targets, self.sample_weights = [], []
        total_loss = None
        self.metrics_names = ["loss"]
        self.metrics_tensors = []
        self._output_losses = []
        for i in self._trained:
            out = self.outputs[i]
            name = self.output_names[i]
            target = K.placeholder(ndim=out.ndim, dtype=out.dtype, name=name + "_target")
            sw = K.placeholder(ndim=2 if modes[i] == "temporal" else 1, dtype=K.floatx(),
                               name=name + "_sample_weights")
            self.targets.append(target)
            self.sample_weights.append(sw)
            per_sample = losses_mod.per_sample_function(loss_functions[i])(target, out)
            mask = _output_mask(out, per_sample)
            if mask is not None:
                # Keras 2.3 folds the output mask into the sample weights: masked steps count 0
                per_sample = per_sample * mask
            reduction = getattr(loss_functions[i], "reduction", "sum_over_batch_size")
            if reduction == "none":
                raise ValueError(f"compile: the loss for output '{name}' has reduction='none'; training needs a "
                                 "scalar loss ('sum_over_batch_size' or 'sum')")
            if reduction == "sum" and per_sample.ndim:
                output_loss = K.sum(per_sample * _expand_to(sw, per_sample))
            else:
                output_loss = _weighted_mean(per_sample, sw)
            self._output_losses.append(output_loss)
            if len(self.outputs) > 1:
                self.metrics_tensors.append(output_loss)
                self.metrics_names.append(name + "_loss")
            term = output_loss * weights[i] if weights[i] != 1.0 else output_loss
            total_loss = term if total_loss is None else total_loss + term
        for reg in self.losses:
            total_loss = reg if total_loss is None else total_loss + reg
        if total_loss is None:
            raise ValueError("The model cannot be compiled because it has no loss to optimize: give `loss` to "
                             "compile, or add losses to the model with add_loss.")
        self.total_loss = total_loss

        # stateful metric objects (keras.metrics.Metric): their update ops join the train and test
        # functions, their post-update results are outputs; reset by the loops (reset_metrics)
        self._metric_updates = []
        self.stateful_metric_functions = []
        self.stateful_metric_names = []
        self._compile_metrics(metrics, weighted_metrics)
        self._compile_added_metrics()
        self._function_kwargs = kwargs
        self.train_function = None
        self.test_function = None
        self.predict_function = None
        self._collected_trainable_weights = self.trainable_weights

    def _per_output_metrics(self, metrics) -> list:
        """The metrics given to compile as one list per model output."""
        n_out = len(self.outputs)
        if metrics is None:
            return [[] for _ in range(n_out)]
        if isinstance(metrics, dict):
            for name in metrics:
                if name not in self.output_names:
                    raise ValueError(f"Unknown entry in metrics dictionary: \"{name}\". Only expected the following "
                                     f"keys: {self.output_names}")
            return [to_list(metrics.get(n, [])) for n in self.output_names]
        if isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) for m in metrics) \
                and len(metrics) == n_out:
            return [list(m) for m in metrics]
        return [to_list(metrics)] * n_out

    def _compile_metrics(self, metrics, weighted_metrics) -> None:
        # Keras 2 order: output by output, each output's metrics then its weighted metrics
        per_output = self._per_output_metrics(metrics)
        per_output_weighted = self._per_output_metrics(weighted_metrics)
        for j, i in enumerate(self._trained):
            for m in per_output[i]:
                self._compile_metric(m, i, j, weighted=False)
            for m in per_output_weighted[i]:
                self._compile_metric(m, i, j, weighted=True)

    def _compile_metric(self, m, i: int, j: int, weighted: bool) -> None:
        """Add metric `m` for model output i (trained output j) to metrics_names/metrics_tensors."""
        from .. import metrics as metrics_mod
        n_out = len(self.outputs)
        out = self.outputs[i]
        if weighted and not isinstance(m, metrics_mod.Metric):
            # Keras 2.3: a weighted metric is the running sum(w * value) / sum(w) over the epoch
            # (a function that already reduces over the batch gives one unweighted value per batch)
            display, fn = metrics_mod.resolve_metric(m, K.int_shape(out), self.loss_functions[i])
            if K.ndim(fn(self.targets[j], out)) > 0:
                m = metrics_mod.MeanMetricWrapper(fn, name=display)
        if isinstance(m, metrics_mod.Metric):
            if any(m is o for o in self.stateful_metric_functions):
                m = type(m).from_config(m.get_config())  # one state per use
            display = m.name
            value = self._compile_metric_object(m, j, out, weighted)
            stateful = True
        else:
            display, fn = metrics_mod.resolve_metric(m, K.int_shape(out), self.loss_functions[i])
            value = fn(self.targets[j], out)
            mask = _output_mask(out, value)
            if mask is not None:  # a masked mean: masked steps neither count nor dilute
                value = K.sum(value * mask) / K.maximum(K.sum(mask), K.epsilon())
            else:
                value = _weighted_mean(value, self.sample_weights[j]) if weighted else K.mean(value)
            stateful = False
        name = ("weighted_" if weighted else "") + display
        if n_out > 1:
            name = self.output_names[i] + "_" + name
        base, k = name, 1
        while name in self.metrics_names:
            name = f"{base}_{k}"
            k += 1
        self.metrics_names.append(name)
        self.metrics_tensors.append(value)
        if stateful:
            self.stateful_metric_names.append(name)

    def _compile_added_metrics(self) -> None:
        """The metrics of add_metric (the model's and its layers'), after compile's: each a
        running mean over the batches (or the metric object's own state), first of a name wins."""
        from .. import metrics as metrics_mod
        from .base_layer import Layer
        seen, stack, found = set(), [self], []
        while stack:
            layer = stack.pop(0)
            if id(layer) in seen or not isinstance(layer, Layer):
                continue
            seen.add(id(layer))
            added = layer.__dict__.get("_added_metrics", [])
            tracked = layer.__dict__.get("_tracked_metrics", [])
            # metric objects assigned as attributes come first, in assignment order
            rank = {id(m): i for i, m in enumerate(tracked)}
            found += sorted(added, key=lambda item: rank.get(id(item[2]), len(tracked)))
            stack += list(layer._layers)
        for name, value, obj in found:
            if name in self.metrics_names:
                continue
            if obj is None:
                obj = metrics_mod.Mean(name=name)
                updates = [u if isinstance(u, K.Tensor) else K.update(*u) for u in to_list(obj.update_state(value))]
                value = obj.updated_result(updates)
            else:
                updates = list(getattr(obj, "last_updates", []))
            self._metric_updates.extend(updates)
            self.stateful_metric_functions.append(obj)
            self.metrics_names.append(name)
            self.metrics_tensors.append(value)
            self.stateful_metric_names.append(name)

    def _compile_metric_object(self, metric, j: int, out, weighted: bool):
        """Add a Metric object's update ops for output `out` (trained output j) and return its
        result after the update (the running value over the batches so far)."""
        sample_weight = self.sample_weights[j] if weighted else None
        mask = getattr(out, "_keras_mask", None)
        if mask is not None:  # masked steps do not count (Keras 2.3 passes the mask as weights)
            mask = K.cast(mask, K.floatx())
            sample_weight = mask if sample_weight is None else mask * _expand_to(sample_weight, mask)
        updates = [u if isinstance(u, K.Tensor) else K.update(*u)
                   for u in to_list(metric.update_state(self.targets[j], out, sample_weight=sample_weight))]
        self._metric_updates.extend(updates)
        self.stateful_metric_functions.append(metric)
        return metric.updated_result(updates)

    def reset_metrics(self) -> None:
        """reset_metrics(): reset the state of the stateful metric objects given to compile."""
        for m in getattr(self, "stateful_metric_functions", []):
            m.reset_states()

    def _check_compiled(self, what: str) -> None:
        if getattr(self, "_compile_pending", None):
            raise RuntimeError(f"{what}: the model is not built yet")
        if not hasattr(self, "train_function"):
            raise RuntimeError(f"You must compile your model before using it (model.{what}).")

    # ------------------------------------------------------------------ functions
    def _phase_givens(self, training: bool) -> dict:
        lp = K.learning_phase()
        givens = dict(self._function_kwargs.get("givens", {})) if hasattr(self, "_function_kwargs") else {}
        if isinstance(lp, Placeholder):
            givens[lp] = bool(training)
        return givens

    def _make_train_function(self):
        self._check_compiled("fit")
        if self.train_function is None:
            givens = self._phase_givens(True)
            outputs = [self.total_loss] + self.metrics_tensors
            layer_updates = [u if isinstance(u, K.Tensor) else K.update(*u) for u in self.updates]
            layer_updates += list(getattr(self, "_metric_updates", []))
            # specialise on the training phase before differentiating, so the gradient graph never
            # contains the inference branches (moving statistics, identity dropout)
            spec = specialize(outputs + layer_updates, givens)
            outputs, layer_updates = spec[:len(outputs)], spec[len(outputs):]
            params = self._collected_trainable_weights
            updates = self.optimizer.get_updates(loss=outputs[0], params=params) if params else []
            self.train_function = K.function(self.inputs + self.targets + self.sample_weights, outputs,
                                             updates=list(updates) + layer_updates, name="train_function")
        return self.train_function

    def _make_test_function(self):
        self._check_compiled("evaluate")
        if self.test_function is None:
            # stateful layers (RNN states) advance on every call, as in Keras 2
            self.test_function = K.function(self.inputs + self.targets + self.sample_weights,
                                            [self.total_loss] + self.metrics_tensors,
                                            updates=list(self.state_updates) + list(getattr(self, "_metric_updates", [])),
                                            name="test_function", givens=self._phase_givens(False))
        return self.test_function

    def _make_predict_function(self):
        if getattr(self, "predict_function", None) is None:
            givens = self._phase_givens(False)
            self.predict_function = K.function(self.inputs, self.outputs, updates=self.state_updates,
                                               name="predict_function", givens=givens)
        return self.predict_function

    def _build_if_needed(self, x) -> None:
        if hasattr(self, "_ensure_built") and (not self.inputs or not self._is_graph_network):
            self._ensure_built(x)
            pending = getattr(self, "_compile_pending", None)
            if pending:
                optimizer, loss, metrics, loss_weights, swm, wm, tt, kwargs = pending
                self._compile_pending = None
                self.compile(self.optimizer, loss, metrics, loss_weights, swm, wm, tt, **kwargs)

    # ------------------------------------------------------------------ training
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, **kwargs):
        """fit(x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
        validation_split=0., validation_data=None, shuffle=True, class_weight=None,
        sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None) -> History"""
        if "nb_epoch" in kwargs:
            warnings.warn("The `nb_epoch` argument in `fit` has been renamed `epochs`.")
            epochs = kwargs.pop("nb_epoch")
        for kw in kwargs:
            if kw not in _FIT_KWARGS:
                raise TypeError(f"Unrecognized keyword arguments: {kw!r}")
        validation_freq = kwargs.get("validation_freq", 1)
        batch_size = arguments.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                   validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                                   steps_per_epoch, validation_steps, validation_freq)
        if data_adapters.is_generator_like(x):
            return data_adapters.fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                                     validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                                     steps_per_epoch, validation_steps, kwargs)
        if data_adapters.is_generator_like(validation_data):
            return data_adapters.fit_arrays(self, x, y, batch_size, epochs, verbose, callbacks, validation_data,
                                            shuffle, class_weight, sample_weight, initial_epoch, validation_steps,
                                            kwargs)
        self._build_if_needed(x)
        ins, targets, weights = data_utils.standardize(self, x, y, sample_weight, class_weight, "fit",
                                                       check_nan=True)
        do_validation = False
        val_ins = None
        if validation_data is not None:  # a 2- or 3-tuple (arguments.fit checked it)
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
            v_ins, v_targets, v_weights = data_utils.standardize(self, vx, vy, vsw, None, "validation_data",
                                                                 check_nan=True)
            val_ins = v_ins + v_targets + v_weights
            do_validation = True
        elif validation_split and 0. < validation_split < 1.:
            n = data_utils.num_samples(ins)
            split_at = int(n * (1. - validation_split))
            all_arrays = ins + targets + weights
            val_ins = [a[split_at:] for a in all_arrays]
            train_arrays = [a[:split_at] for a in all_arrays]
            ins, targets, weights = (train_arrays[:len(ins)], train_arrays[len(ins):len(ins) + len(targets)],
                                     train_arrays[len(ins) + len(targets):])
            do_validation = True
        fit_ins = ins + targets + weights
        f = self._make_train_function()
        val_f = self._make_test_function() if do_validation else None
        return loops.fit_loop(self, f, fit_ins, out_labels=list(self.metrics_names), batch_size=batch_size,
                              epochs=epochs, verbose=verbose, callbacks=callbacks, val_f=val_f, val_ins=val_ins,
                              shuffle=shuffle, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                              validation_steps=validation_steps, validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None, **kwargs):
        """evaluate(x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None)
        -> loss, or [loss, metrics...] in metrics_names order."""
        for kw in kwargs:
            if kw not in ("callbacks", "max_queue_size", "workers", "use_multiprocessing"):
                raise TypeError(f"Unrecognized keyword arguments: {kw!r}")
        batch_size = arguments.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, kwargs.get("callbacks"))
        if data_adapters.is_generator_like(x):
            return data_adapters.evaluate(self, x, y, batch_size, verbose, sample_weight, steps, kwargs)
        self._build_if_needed(x)
        ins, targets, weights = data_utils.standardize(self, x, y, sample_weight, None, "evaluate")
        f = self._make_test_function()
        outs = loops.test_loop(f, ins + targets + weights, batch_size=batch_size, verbose=verbose, model=self,
                               steps=steps, callbacks=kwargs.get("callbacks"))
        return unpack_singleton(outs)

    def predict(self, x, batch_size=None, verbose=0, steps=None, **kwargs):
        """predict(x, batch_size=None, verbose=0, steps=None) -> array (list for several outputs)."""
        for kw in kwargs:
            if kw not in ("callbacks", "max_queue_size", "workers", "use_multiprocessing"):
                raise TypeError(f"Unrecognized keyword arguments: {kw!r}")
        batch_size = arguments.predict(self, x, batch_size, verbose, steps, kwargs.get("callbacks"))
        if data_adapters.is_generator_like(x):
            return data_adapters.predict(self, x, batch_size, verbose, steps, kwargs)
        self._build_if_needed(x)
        ins = data_utils.standardize_inputs(self, x, "predict")
        f = self._make_predict_function()
        outs = loops.predict_loop(f, ins, batch_size=batch_size, verbose=verbose, steps=steps,
                                  callbacks=kwargs.get("callbacks"), model=self)
        return unpack_singleton(outs)

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, reset_metrics=True):
        """train_on_batch(x, y, sample_weight=None, class_weight=None, reset_metrics=True): one
        update; loss or [loss, metrics...]. Metric objects report their value including this batch
        and are reset afterwards unless reset_metrics=False (then they keep accumulating)."""
        arguments.on_batch(self, "train_on_batch", x, y, sample_weight, class_weight)
        self._build_if_needed(x)
        ins, targets, weights = data_utils.standardize(self, x, y, sample_weight, class_weight, "train_on_batch",
                                                       check_nan=True)
        outs = self._make_train_function()(ins + targets + weights)
        if reset_metrics:
            self.reset_metrics()
        return unpack_singleton([o.item() if o.ndim == 0 else o for o in outs])

    def test_on_batch(self, x, y, sample_weight=None, reset_metrics=True):
        """test_on_batch(x, y, sample_weight=None, reset_metrics=True): loss or [loss, metrics...]
        on one batch (metric objects: as in train_on_batch)."""
        arguments.on_batch(self, "test_on_batch", x, y, sample_weight)
        self._build_if_needed(x)
        ins, targets, weights = data_utils.standardize(self, x, y, sample_weight, None, "test_on_batch")
        outs = self._make_test_function()(ins + targets + weights)
        if reset_metrics:
            self.reset_metrics()
        return unpack_singleton([o.item() if o.ndim == 0 else o for o in outs])

    def predict_on_batch(self, x):
        """predict_on_batch(x): the outputs for one batch."""
        arguments.on_batch(self, "predict_on_batch", x)
        self._build_if_needed(x)
        ins = data_utils.standardize_inputs(self, x, "predict_on_batch")
        return unpack_singleton(self._make_predict_function()(ins))

    # ------------------------------------------------------------------ generators
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, class_weight=None, max_queue_size=10, workers=1,
                      use_multiprocessing=False, shuffle=True, initial_epoch=0, **kwargs):
        """fit_generator(generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
        validation_data=None, validation_steps=None, class_weight=None, max_queue_size=10,
        workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0, validation_freq=1) -> History"""
        _no_other_kwargs("fit_generator", kwargs, ("validation_freq",))
        validation_freq = kwargs.get("validation_freq", 1)
        arguments.generator("fit_generator", generator, steps_per_epoch, "steps_per_epoch", epochs, initial_epoch,
                            verbose, callbacks, validation_data, validation_steps, class_weight, shuffle,
                            max_queue_size, workers, use_multiprocessing, validation_freq, model=self)
        return loops.fit_generator(self, generator, steps_per_epoch, epochs, verbose, callbacks, validation_data,
                                   validation_steps, class_weight, shuffle, initial_epoch, workers,
                                   use_multiprocessing, max_queue_size, validation_freq)

    def evaluate_generator(self, generator, steps=None, max_queue_size=10, workers=1, use_multiprocessing=False,
                           verbose=0, **kwargs):
        """evaluate_generator(generator, steps=None, max_queue_size=10, workers=1,
        use_multiprocessing=False, verbose=0)"""
        _no_other_kwargs("evaluate_generator", kwargs, ("callbacks",))
        arguments.generator("evaluate_generator", generator, steps, verbose_value=verbose,
                            callbacks_value=kwargs.get("callbacks"), max_queue_size=max_queue_size, workers=workers,
                            use_multiprocessing=use_multiprocessing, model=self)
        return loops.evaluate_generator(self, generator, steps, verbose, workers, use_multiprocessing, max_queue_size,
                                        callbacks=kwargs.get("callbacks"))

    def predict_generator(self, generator, steps=None, max_queue_size=10, workers=1, use_multiprocessing=False,
                          verbose=0, **kwargs):
        """predict_generator(generator, steps=None, max_queue_size=10, workers=1,
        use_multiprocessing=False, verbose=0)"""
        _no_other_kwargs("predict_generator", kwargs, ("callbacks",))
        arguments.generator("predict_generator", generator, steps, verbose_value=verbose,
                            callbacks_value=kwargs.get("callbacks"), max_queue_size=max_queue_size, workers=workers,
                            use_multiprocessing=use_multiprocessing, model=self)
        return loops.predict_generator(self, generator, steps, verbose, workers, use_multiprocessing, max_queue_size,
                                       callbacks=kwargs.get("callbacks"))

    # ------------------------------------------------------------------ saving
    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """save(filepath, overwrite=True, include_optimizer=True): architecture, weights and
        optimizer state in one HDF5 file."""
        if subclassed.is_subclassed(self):
            raise NotImplementedError(subclassed.SAVE_ERROR)
        from ..saving import save_model
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """save_weights(filepath, overwrite=True): the weights in HDF5."""
        from ..saving import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, by_name: bool = False, skip_mismatch: bool = False, reshape: bool = False,
                     allow_nonfinite: bool = False):
        """load_weights(filepath, by_name=False, skip_mismatch=False, reshape=False,
        allow_nonfinite=False): inf/nan weights are refused unless allow_nonfinite=True."""
        from ..saving import load_weights
        return load_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch, reshape=reshape,
                            allow_nonfinite=allow_nonfinite)


def _no_other_kwargs(who: str, kwargs: dict, allowed) -> None:
    for kw in kwargs:
        if kw not in allowed:
            raise TypeError(f"{who}: unrecognized keyword argument {kw!r}")


def _expand_to(weights, values):
    weights = K.cast(weights, values.dtype)
    while weights.ndim < values.ndim:
        weights = K.expand_dims(weights, -1)
    return weights


def _output_mask(output, per_sample):
    """The output's mask (e.g. from Embedding(mask_zero=True) through an RNN with
    return_sequences) as floats shaped like the per-sample values, or None."""
    mask = getattr(output, "_keras_mask", None)
    if mask is None or per_sample.ndim == 0:
        return None
    mask = K.cast(mask, per_sample.dtype)
    if mask.ndim > per_sample.ndim:
        mask = K.mean(mask, axis=list(range(per_sample.ndim, mask.ndim)))
    return mask


def _weighted_mean(per_sample, weights):
    """Keras 2.3's reduction: mean over the batch of sample-weighted per-sample values (axes
    beyond the weights' rank are averaged first)."""
    extra = per_sample.ndim - weights.ndim
    if extra > 0:
        per_sample = K.mean(per_sample, axis=list(range(weights.ndim, per_sample.ndim)))
    elif per_sample.ndim == 0:
        return per_sample
    return K.mean(per_sample * K.cast(weights, per_sample.dtype))


# layer configs may name it (keraslite.serialization's table of keraslite's own classes)
_register_layer_classes({"Model": Model})

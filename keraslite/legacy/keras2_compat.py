"""Translate what the Keras 2 line writes (Keras 2.2/2.3, tf.keras 2.x, tf-keras up to 2.21) into
keraslite's configurations, before anything is deserialised.

Model files from tf.keras spell some things differently from Keras 2.3; each translation here
maps a spelling onto the keraslite object with the same Keras semantics, and refuses (ValueError
naming the layer, key and value) anything whose semantics keraslite does not have:

* initializers by class (`GlorotUniform`, `HeNormal`, ...) become `VarianceScaling` with the
  same scale/mode/distribution; the `module`/`registered_name` keys tf-keras 2.13+ writes go;
* dtype policies (`{'class_name': 'Policy', 'config': {'name': 'float32'}}`) become dtype names;
* `Functional` is `Model`; layer keys whose value is the Keras 2.3 behaviour (`groups=1`,
  `ragged=False`, `time_major=False`, BatchNormalization's `fused`, ...) are dropped, any other
  value is an error;
* optimizer configs (`Custom>Adam`, OptimizerV2 `name`/`decay`, the 2.11+ optimizer keys) map
  onto keraslite's optimizers, metrics saved as `MeanMetricWrapper` keep their function
  (optimizer state saved by name is put in order by keraslite.legacy.optimizer_state);
* the legacy HDF5 files Keras 3 writes (`model.save('m.h5')`) are read too: their nodes
  (`{'args': [...], 'kwargs': {...}}`) become Keras 2's node lists.

Only names that keraslite exports are produced: nothing here imports or resolves anything else.
Where a tf.keras optimizer's rule differs from Keras 2.3's, the loaded optimizer is given the
option that follows the file (RMSprop/Adagrad `epsilon_in_sqrt`, the 2.11+ Nadam's schedule), so
training goes on as it would have in tf.keras.
"""
from __future__ import annotations

import os
import sys
import warnings
import zipfile


__all__ = ["translate_model_config", "translate_training_config", "check_not_foreign_format",
           "foreign_hdf5_hint"]

_META_KEYS = ("module", "registered_name", "build_config", "compile_config", "shared_object_id")

# tf.keras initializer classes -> (scale, mode, distribution) of VarianceScaling
_VARIANCE_SCALING = {
    "GlorotUniform": (1.0, "fan_avg", "uniform"), "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
    "HeUniform": (2.0, "fan_in", "uniform"), "HeNormal": (2.0, "fan_in", "truncated_normal"),
    "LecunUniform": (1.0, "fan_in", "uniform"), "LecunNormal": (1.0, "fan_in", "truncated_normal"),
}
_INITIALIZER_RENAMES = {"ZerosV2": "Zeros", "OnesV2": "Ones", "ConstantV2": "Constant",
                        "RandomNormalV2": "RandomNormal", "RandomUniformV2": "RandomUniform",
                        "TruncatedNormalV2": "TruncatedNormal", "VarianceScalingV2": "VarianceScaling",
                        "OrthogonalV2": "Orthogonal", "IdentityV2": "Identity"}
_MODEL_CLASSES = {"Functional": "Model"}

# Layer keys written by tf.keras whose given value means exactly Keras 2.3's behaviour: dropped
# when they hold it, an error otherwise. (class name or '*', key) -> accepted values.
_NEUTRAL_KEYS = {
    ("*", "groups"): (1,),
    ("*", "ragged"): (False,),
    ("*", "time_major"): (False,),
    ("*", "keepdims"): (False,),  # global pooling (tf.keras 2.6+)
    # memory layouts of the same maths (implementation 2's and 3's kernels: keraslite.legacy.local_weights)
    ("LocallyConnected1D", "implementation"): (1, 2, 3),
    ("LocallyConnected2D", "implementation"): (1, 2, 3),
    ("GaussianNoise", "seed"): None,  # which random numbers, not the distribution
    ("GaussianDropout", "seed"): None,
    ("*", "zero_output_for_mask"): (False,),  # True (zeros at masked steps) is not Keras 2.3's rule
    ("InputLayer", "optional"): (False,),
    ("Embedding", "sparse"): (False,),
    ("BatchNormalization", "fused"): (None, True, False),  # an implementation choice, same maths
    ("BatchNormalization", "renorm"): (False,),
    ("BatchNormalization", "renorm_clipping"): (None,),
    ("BatchNormalization", "renorm_momentum"): None,  # any value: unused without renorm
    ("BatchNormalization", "virtual_batch_size"): (None,),
    ("BatchNormalization", "adjustment"): (None,),
    ("BatchNormalization", "synchronized"): (False, True),  # one replica: identical
    # Keras 3 (its legacy HDF5 files): quantisation and LoRA off, the RNG seed of RNN dropout
    ("*", "quantization_config"): (None,),
    ("*", "lora_rank"): (None,),
    ("*", "lora_alpha"): None,
}
for _rnn in ("SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell"):
    _NEUTRAL_KEYS[(_rnn, "seed")] = None

# Layers only TensorFlow can rebuild: say so instead of 'Unknown layer'.
_TF_ONLY_LAYERS = {"TFOpLambda": "a TensorFlow op applied to Keras tensors",
                   "SlicingOpLambda": "tensor slicing applied to Keras tensors",
                   "TensorFlowOpLayer": "a TensorFlow op applied to Keras tensors"}


# Layers tf.keras added after Keras 2.3 (keraslite follows 2.3): named in the error, not 'Unknown'.
_TF_KERAS_LAYERS = frozenset((
    "LayerNormalization", "GroupNormalization", "UnitNormalization", "SyncBatchNormalization",
    "MultiHeadAttention", "Attention", "AdditiveAttention", "EinsumDense", "Conv1DTranspose",
    "DepthwiseConv1D", "Identity", "Rescaling", "Resizing", "CenterCrop", "Normalization", "Discretization",
    "CategoryEncoding", "Hashing", "HashedCrossing", "StringLookup", "IntegerLookup", "TextVectorization",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomCrop",
    "RandomHeight", "RandomWidth", "RandomBrightness", "SpectralNormalization"))


def _strip_meta(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in _META_KEYS}


def _is_serialized(obj) -> bool:
    return isinstance(obj, dict) and "class_name" in obj and "config" in obj


# ---------------------------------------------------------------------------------------------
# objects inside layer configs


def _initializer(obj, where: str):
    if not _is_serialized(obj):
        return obj
    obj = _strip_meta(obj)
    name = _INITIALIZER_RENAMES.get(obj["class_name"], obj["class_name"])
    config = dict(obj["config"] or {})
    config.pop("dtype", None)  # tf.keras 1.x initializers carry a dtype; the layer decides it
    for key in ("input_axes", "output_axes"):  # Keras 3: None means Keras 2's fans
        if key in config and config[key] is None:
            del config[key]
    if name in _VARIANCE_SCALING:
        scale, mode, distribution = _VARIANCE_SCALING[name]
        unknown = set(config) - {"seed"}
        if unknown:
            raise ValueError(f"{where}: initializer {name} with unexpected arguments {sorted(unknown)}")
        return {"class_name": "VarianceScaling",
                "config": {"scale": scale, "mode": mode, "distribution": distribution, "seed": config.get("seed")}}
    return {"class_name": name, "config": config}


def _regularizer(obj, where: str):
    if not _is_serialized(obj):
        return obj
    obj = _strip_meta(obj)
    name, config = obj["class_name"], dict(obj["config"] or {})
    if name in ("L1", "L2"):  # tf.keras classes: one coefficient named after the class
        key = name.lower()
        value = config.pop(key, None)
        if config:
            raise ValueError(f"{where}: regularizer {name} with unexpected arguments {sorted(config)}")
        return {"class_name": "L1L2", "config": {"l1": float(value or 0.0) if key == "l1" else 0.0,
                                                 "l2": float(value or 0.0) if key == "l2" else 0.0}}
    if name == "L1L2":
        config = {"l1": float(config.get("l1") or 0.0), "l2": float(config.get("l2") or 0.0)}
    return {"class_name": name, "config": config}


def _constraint(obj, where: str):
    return _strip_meta(obj) if _is_serialized(obj) else obj


def _activation(obj, where: str, custom: frozenset = frozenset()):
    if _is_serialized(obj):
        raise ValueError(f"{where}: the activation is a serialized object ({obj.get('class_name')}); keraslite "
                         "reads activations by name (e.g. 'relu')")
    if isinstance(obj, str) and obj not in custom:
        from .. import activations
        try:
            activations.deserialize(obj)
        except ValueError:
            raise ValueError(f"{where}: activation {obj!r} is not one of Keras 2.3's, which keraslite has "
                             f"({', '.join(sorted(activations._MODULE_OBJECTS))}); pass an implementation in "
                             f"custom_objects={{{obj!r}: fn}}") from None
    return obj


_MIXED = ("mixed_float16", "mixed_bfloat16")


def _dtype(obj, where: str):
    """A tf.keras dtype policy -> the dtype name of the layer's variables."""
    if isinstance(obj, str) and obj in _MIXED:
        obj = {"name": obj}
    if not isinstance(obj, dict):
        return obj
    config = obj.get("config") if _is_serialized(obj) else obj
    name = (config or {}).get("name")
    if not isinstance(name, str):
        raise ValueError(f"{where}: cannot read the dtype policy {obj!r}")
    if name in _MIXED:
        warnings.warn(f"{where}: dtype policy {name!r}: keraslite has no mixed precision; the layer computes in "
                      "float32 (its variables' dtype)")
        return "float32"
    return name


_OBJECT_KEYS = (("_initializer", _initializer), ("_regularizer", _regularizer), ("_constraint", _constraint))


def _mirror(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in ("name", "go_backwards")}


def _bidirectional(out: dict, where: str) -> dict:
    """Keras 3 (and a tf.keras model given an explicit backward layer) saves `backward_layer`;
    keraslite's Bidirectional, like Keras 2.2, builds the mirror of `layer` itself: accepted when
    the saved one is that mirror."""
    backward = out.pop("backward_layer", None)
    if backward is None:
        return out
    forward = out.get("layer") or {}
    fc, bc = forward.get("config") or {}, backward.get("config") or {}
    if backward.get("class_name") != forward.get("class_name") or _mirror(fc) != _mirror(bc) or \
            bool(bc.get("go_backwards")) == bool(fc.get("go_backwards")):
        raise ValueError(f"{where}: a backward_layer that is not the mirror of the forward layer is not "
                         "supported by keraslite")
    return out


def _layer_config(class_name: str, config: dict, where: str, custom: frozenset, parent: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if key == "zero_output_for_mask" and parent == "Bidirectional":
            continue  # Keras 2 sets it on the layers Bidirectional wraps: the wrapper's own rule
        rule = False if (class_name, key) == ("Bidirectional", "zero_output_for_mask") else \
            _NEUTRAL_KEYS.get((class_name, key), _NEUTRAL_KEYS.get(("*", key), False))  # a keraslite option
        if rule is not False:
            if rule is None or any(value is v or (type(value) is type(v) and value == v) for v in rule):
                continue
            raise ValueError(f"{where}: {key}={value!r} is not supported by keraslite (Keras 2.3 has no such "
                             f"option; only {key}={rule[0]!r} can be loaded)")
        if key == "dtype":
            value = _dtype(value, where)
        elif key in ("layer", "backward_layer", "cell") and _is_serialized(value):
            value = _layer(value, f"{where}, {key}", custom, parent=class_name)
        elif key in ("cells", "layers") and isinstance(value, list):
            value = [_layer(v, f"{where}, {key}[{i}]", custom) if _is_serialized(v) else v
                     for i, v in enumerate(value)]
        elif key in ("activation", "recurrent_activation"):
            value = _activation(value, f"{where}, {key}", custom)
        else:
            for suffix, fn in _OBJECT_KEYS:
                if key.endswith(suffix) or key == suffix[1:]:
                    value = fn(value, f"{where}, {key}")
                    break
        out[key] = value
    if class_name == "BatchNormalization" and isinstance(out.get("axis"), list):
        axis = out["axis"]
        if len(axis) != 1:
            raise ValueError(f"{where}: BatchNormalization over several axes {axis} is not supported (Keras 2.3 "
                             "normalizes over one axis)")
        out["axis"] = axis[0]
    if class_name == "Bidirectional":
        out = _bidirectional(out, where)
    return out


def _history(obj, out: list) -> None:
    """The [layer, node, tensor] of every Keras 3 '__keras_tensor__' inside obj, in order."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            out.append(list(obj["config"]["keras_history"]))
            return
        for v in obj.values():
            _history(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _history(v, out)


def _inbound_nodes(nodes, where: str):
    """Keras 3's nodes ({'args': [...], 'kwargs': {...}}) in Keras 2's form: a list of
    [layer, node, tensor, kwargs] entries per call; initial states and constants join the list,
    as Keras 2 records them."""
    if not isinstance(nodes, list):
        return nodes
    out = []
    for node in nodes:
        if not isinstance(node, dict):
            out.append(node)
            continue
        entries: list = []
        _history(node.get("args", []), entries)
        kwargs = {}
        for key, value in (node.get("kwargs") or {}).items():
            if key == "training" or value is None:
                continue  # the learning phase decides, as in Keras 2
            if key in ("initial_state", "constants"):
                _history(value, entries)
                continue
            found: list = []
            _history(value, found)
            if found:
                raise ValueError(f"{where}: a tensor passed as the keyword {key!r} cannot be rebuilt by keraslite")
            kwargs[key] = value
        if entries:
            entries[0] = entries[0] + [kwargs]
        out.append(entries)
    return out


def _layer(obj: dict, where: str, custom: frozenset, parent: str = "") -> dict:
    obj = _strip_meta(obj)
    class_name = obj["class_name"]
    if class_name == "Sequential" and isinstance(obj.get("config"), list):  # Keras 2.2: a bare list
        obj = dict(obj, config={"layers": obj["config"]})
    if class_name in custom or not isinstance(obj.get("config"), dict):
        return obj
    config = obj["config"]
    name = config.get("name", "?")
    here = f"layer {name!r} ({class_name})" if not where else f"{where}: layer {name!r} ({class_name})"
    if class_name in _TF_ONLY_LAYERS:
        raise ValueError(f"{here} is {_TF_ONLY_LAYERS[class_name]}; only TensorFlow can rebuild it. In Keras, "
                         "wrap that computation in a layer keraslite has (or rebuild the model in keraslite and "
                         "load the weights with load_weights(by_name=True))")
    if class_name in _TF_KERAS_LAYERS:
        # keraslite.layers is loaded by whoever deserializes (no import here: it would be a cycle)
        layers = sys.modules.get(__name__.split(".")[0] + ".layers")
        if not hasattr(layers, class_name):
            raise ValueError(f"{here}: {class_name} is a tf.keras layer that Keras 2.3, and so keraslite, does not "
                             f"have. Offer an implementation (custom_objects={{{class_name!r}: cls}}), or rebuild the "
                             "model without it and load the other layers' weights with load_weights(by_name=True)")
    class_name = _MODEL_CLASSES.get(class_name, class_name)
    out = dict(obj, class_name=class_name)
    if "inbound_nodes" in out:
        out["inbound_nodes"] = _inbound_nodes(out["inbound_nodes"], here)
    if class_name in ("Model", "Sequential"):
        new = dict(config)
        layers = config.get("layers")
        if isinstance(layers, list):
            new["layers"] = [_layer(l, here, custom) if _is_serialized(l) else l for l in layers]
        for key in ("input_layers", "output_layers"):
            coords = new.get(key)
            # tf.keras writes one [name, node, tensor] triple, not a list, for a model built on a
            # single tensor
            if isinstance(coords, list) and len(coords) == 3 and isinstance(coords[0], str):
                new[key] = [coords]
        out["config"] = new
    else:
        out["config"] = _layer_config(class_name, config, here, custom, parent)
    return out


def translate_model_config(config: dict, custom_objects=None) -> dict:
    """translate_model_config(config, custom_objects=None): a `{'class_name', 'config'}` model
    (or layer) configuration written by any Keras 2 release, rewritten into keraslite's
    spelling. Classes named in custom_objects are left untouched. A keraslite configuration
    comes back unchanged. ValueError names the layer and the option keraslite cannot honour."""
    if not _is_serialized(config):
        return config
    custom = frozenset(custom_objects or ())
    tf2 = _written_by_tf2(config)
    config = _layer(config, "", custom)
    if tf2:
        _tf2_rules(config)
    return config


# Keys only tf.keras (TF 2.x) and Keras 3 write into layer configs
_TF2_MARKS = ("groups", "ragged", "registered_name", "time_major", "keepdims", "zero_output_for_mask")


def _written_by_tf2(obj) -> bool:
    """Whether a model config comes from tf.keras 2.x / tf-keras / Keras 3 rather than standalone
    Keras 2.2/2.3 (which writes none of these marks)."""
    if isinstance(obj, dict):
        if obj.get("class_name") in ("Functional", "Policy", "DTypePolicy", "__keras_tensor__"):
            return True
        if any(k in obj for k in _TF2_MARKS):
            return True
        return any(_written_by_tf2(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_written_by_tf2(v) for v in obj)
    return False


written_by_tf2 = _written_by_tf2


def _tf2_rules(obj) -> None:
    """Layers whose computation in TensorFlow 2 differs from Keras 2.3's get the keraslite option
    that reproduces it: bilinear UpSampling2D samples with half-pixel centres (tf.image.resize);
    StackedRNNCells list their states in the stack's order."""
    if isinstance(obj, list):
        for v in obj:
            _tf2_rules(v)
    elif isinstance(obj, dict):
        config = obj.get("config")
        if obj.get("class_name") == "UpSampling2D" and isinstance(config, dict) and \
                config.get("interpolation") == "bilinear":
            config.setdefault("half_pixel_centers", True)
        if obj.get("class_name") == "StackedRNNCells" and isinstance(config, dict):
            config.setdefault("reverse_state_order", False)  # tf.keras lists states in stack order
        if obj.get("class_name") == "Bidirectional" and isinstance(config, dict):
            config.setdefault("zero_output_for_mask", True)  # tf.keras zeroes masked steps' outputs
        for v in obj.values():
            _tf2_rules(v)


# ---------------------------------------------------------------------------------------------
# training configuration


_OPTIMIZERS = ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam")
# tf.keras keys that carry no behaviour when they hold these values (None: any value)
_OPTIMIZER_NEUTRAL = {"name": None, "jit_compile": None, "is_legacy_optimizer": None, "use_ema": (False,),
                      "ema_momentum": None, "ema_overwrite_frequency": None, "weight_decay": (None, 0, 0.0),
                      "global_clipnorm": (None,), "clipnorm": (None,), "clipvalue": (None,),
                      "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,)}
_OPTIMIZER_SPECIFIC = {"RMSprop": {"momentum": (0, 0.0), "centered": (False,)},
                       "Adagrad": {"initial_accumulator_value": None}}


def _tf_keras_rule(canonical: str, config: dict) -> dict:
    """Options that make a keraslite optimizer follow the update rule of the tf.keras optimizer
    that wrote the file: RMSprop (every tf.keras) and the 2.11+ Adagrad add epsilon inside the
    square root; the 2.11+ Nadam's momentum schedule is beta_1*(1 - 0.5*0.96^t), i.e.
    schedule_decay=1."""
    new = config.get("is_legacy_optimizer") is False or "use_ema" in config or "weight_decay" in config
    if canonical == "RMSprop" or (canonical == "Adagrad" and new):
        return {"epsilon_in_sqrt": True}
    if canonical == "Nadam" and new:
        return {"schedule_decay": 1.0}
    return {}


def _optimizer_config(obj, where: str):
    if not _is_serialized(obj):
        return obj
    obj = _strip_meta(obj)
    name = str(obj["class_name"])
    tf_keras = name.startswith("Custom>")
    name = name.split(">", 1)[1] if tf_keras else name
    config = dict(obj["config"] or {})
    if name.endswith("LossScaleOptimizer") and _is_serialized(config.get("inner_optimizer")):
        # mixed precision's loss scaling only guards float16 gradients; keraslite trains in float32
        warnings.warn(f"{where}: LossScaleOptimizer: keraslite trains in float32 and uses its inner optimizer "
                      f"({config['inner_optimizer'].get('class_name')}) without loss scaling")
        return _optimizer_config(config["inner_optimizer"], where)
    # tf.keras optimizers (OptimizerV2 and the 2.11+ ones) write 'name'; Keras 2.3 does not. Their
    # clipnorm clips each gradient on its own (keraslite's clipnorm_per_variable), Keras 2.3's the
    # global norm.
    tf_keras = tf_keras or "name" in config or "is_legacy_optimizer" in config
    canonical = {n.lower(): n for n in _OPTIMIZERS}.get(name.lower())
    if canonical is None:
        raise ValueError(f"{where}: the optimizer {name!r} is not one keraslite has ({', '.join(_OPTIMIZERS)}); "
                         "load the model with compile=False and compile it with a keraslite optimizer")
    out = _tf_keras_rule(canonical, config) if tf_keras else {}
    if (config.get("is_legacy_optimizer") is False or "use_ema" in config) and \
            (config.get("clipnorm") or config.get("global_clipnorm")) and config.get("clipvalue"):
        # the 2.11+ optimizers apply only the first of clipnorm, global_clipnorm, clipvalue
        config = dict(config, clipvalue=None)
    for key, value in config.items():
        if key == "decay" and canonical == "Nadam" and tf_keras:
            # tf.keras's OptimizerV2 Nadam saves Keras 2.3's schedule_decay as 'decay'
            out["schedule_decay"] = value
            continue
        rule = _OPTIMIZER_SPECIFIC.get(canonical, {}).get(key, _OPTIMIZER_NEUTRAL.get(key, False))
        if key == "global_clipnorm" and value is not None:
            out["clipnorm"] = float(value)  # the global norm: keraslite's clipnorm
            continue
        if key == "clipnorm" and value is not None:
            out[key] = value
            if tf_keras:  # tf.keras clips each gradient to the norm on its own
                out["clipnorm_per_variable"] = True
            continue
        if key == "clipvalue" and value is not None:
            out[key] = value
            continue
        if key == "initial_accumulator_value" and value:
            warnings.warn(f"{where}: Adagrad's initial_accumulator_value={value} is not a Keras 2.3 option; "
                          "accumulators restored from the file carry it, fresh ones start at 0")
            continue
        if rule is not False:
            if rule is None or value in rule:
                continue
            raise ValueError(f"{where}: optimizer {name} with {key}={value!r} cannot be reproduced by keraslite "
                             "(Keras 2.3 optimizers have no such option); load the model with compile=False and "
                             "compile it yourself")
        if key in ("learning_rate", "lr") and isinstance(value, dict):
            raise ValueError(f"{where}: the learning rate is a schedule ({value.get('class_name')}); keraslite "
                             "optimizers take a number (use a LearningRateScheduler callback); load the model "
                             "with compile=False")
        out[key] = value
    return {"class_name": canonical, "config": out}


# tf.keras keys of loss and metric objects that hold Keras 2.3's behaviour at these values
_LOSS_NEUTRAL = {("*", "axis"): (-1,), ("*", "fn"): None, ("*", "ignore_class"): (None,)}
_METRIC_NEUTRAL = {("*", "ignore_class"): (None,), ("CategoricalCrossentropy", "axis"): (-1,),
                   ("BinaryCrossentropy", "axis"): (-1,), ("AUC", "multi_label"): (False,),
                   ("AUC", "num_labels"): (None,), ("AUC", "label_weights"): (None,),
                   ("AUC", "from_logits"): (False,), ("MeanIoU", "ignore_class"): (None,),
                   ("MeanIoU", "sparse_y_true"): (True,), ("MeanIoU", "sparse_y_pred"): (True,),
                   ("MeanIoU", "axis"): (-1,), ("SensitivityAtSpecificity", "class_id"): (None,),
                   ("SpecificityAtSensitivity", "class_id"): (None,)}


# tf.keras's names of Keras 2.3 loss/metric functions (its aliases, and the __name__ it saves
# inside a MeanMetricWrapper)
_FUNCTION_RENAMES = {"log_cosh": "logcosh", "kl_divergence": "kullback_leibler_divergence", "huber": "huber_loss"}


def _objects(obj, where: str, what: str, neutral: dict):
    """Loss or metric entries (a name, an object config, or lists/dicts of them per output)."""
    if isinstance(obj, list):  # tf.keras writes [null] for an output without (weighted) metrics
        return [_objects(v, where, what, neutral) for v in obj if v is not None]
    if isinstance(obj, dict) and not _is_serialized(obj):
        return {k: _objects(v, f"{where}, output {k!r}", what, neutral) for k, v in obj.items()}
    if isinstance(obj, str):
        return _FUNCTION_RENAMES.get(obj, obj)
    if not _is_serialized(obj):
        return obj
    obj = _strip_meta(obj)
    name = obj["class_name"]
    config = {}
    for key, value in (obj["config"] or {}).items():
        rule = neutral.get((name, key), neutral.get(("*", key), False))
        if rule is not False:
            if rule is None or any(value is v or (type(value) is type(v) and value == v) for v in rule):
                continue
            raise ValueError(f"{where}: {what} {name} with {key}={value!r} is not supported by keraslite")
        config[key] = value
    if name == "MeanMetricWrapper" and isinstance(config.get("fn"), dict):
        raise ValueError(f"{where}: metric {config.get('name')!r} wraps a serialized function object")
    if name == "MeanMetricWrapper" and isinstance(config.get("fn"), str):
        config["fn"] = _FUNCTION_RENAMES.get(config["fn"], config["fn"])
        if what == "metric" and config["fn"] in ("cosine_similarity", "cosine_proximity"):
            # tf.keras's cosine metric is the similarity (Keras 2.3's cosine_proximity its negative)
            return {"class_name": "CosineSimilarity", "config": {k: v for k, v in config.items() if k != "fn"}}
    return {"class_name": name, "config": config}


def _unprefixed(metrics, output_names):
    """tf.keras names a multi-output model's metric objects '<output>_<metric>' in the file;
    keraslite adds the output's name itself (Keras 2.3's naming), so the prefix is dropped."""
    if not isinstance(metrics, list) or len(output_names or ()) < 2 or len(metrics) != len(output_names):
        return metrics
    out = []
    for prefix, group in zip(output_names, metrics):
        group = list(group) if isinstance(group, list) else [group]
        for i, m in enumerate(group):
            name = m.get("config", {}).get("name") if isinstance(m, dict) else None
            if isinstance(name, str) and name.startswith(f"{prefix}_"):
                group[i] = {"class_name": m["class_name"], "config": dict(m["config"], name=name[len(prefix) + 1:])}
        out.append(group)
    return out


def translate_training_config(training_config: dict, where: str = "the file", output_names=None) -> dict:
    """translate_training_config(training_config, where, output_names=None): the
    `training_config` of a Keras 2 file (any release) in keraslite's spelling: optimizer, loss and
    metrics (named as keraslite names them for the model's `output_names`)."""
    if not isinstance(training_config, dict):
        return training_config
    out = dict(training_config)
    if "optimizer_config" in out:
        out["optimizer_config"] = _optimizer_config(out["optimizer_config"], where)
    if "loss" in out:
        out["loss"] = _objects(out["loss"], where, "loss", _LOSS_NEUTRAL)
    for key in ("metrics", "weighted_metrics"):
        if out.get(key) is not None:
            out[key] = _unprefixed(_objects(out[key], where, "metric", _METRIC_NEUTRAL), output_names)
    return out


# ---------------------------------------------------------------------------------------------
# files that are not Keras 2 HDF5


def check_not_foreign_format(path: str, what: str, error=ValueError) -> None:
    """check_not_foreign_format(path, what, error=ValueError): raise `error` when `path` is a
    TensorFlow SavedModel folder or a Keras 3 `.keras` archive, saying what it is and how to get
    a file keraslite reads."""
    if os.path.isdir(path):
        marks = [m for m in ("saved_model.pb", "saved_model.pbtxt", "keras_metadata.pb", "fingerprint.pb")
                 if os.path.exists(os.path.join(path, m))]
        if marks:
            raise error(f"Cannot {what}: {path!r} is a TensorFlow SavedModel folder (it has {marks[0]}), not a "
                        "Keras HDF5 file; keraslite cannot read SavedModels. In TensorFlow, load it "
                        "(tf.keras.models.load_model) and save it as HDF5: model.save('model.h5') (or "
                        "save_format='h5'), then load that file")
        return
    base = os.path.basename(path)
    if base in ("saved_model.pb", "saved_model.pbtxt"):
        raise error(f"Cannot {what}: {path!r} is the graph of a TensorFlow SavedModel, not a Keras HDF5 file; in "
                    "TensorFlow load the SavedModel folder and save it with model.save('model.h5')")
    if os.path.isfile(path) and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                members = set(z.namelist())
        except (OSError, zipfile.BadZipFile):
            members = set()
        if "config.json" in members or "model.weights.h5" in members or path.endswith(".keras"):
            raise error(f"Cannot {what}: {path!r} is a Keras 3 '.keras' archive (a zip with config.json and "
                        "model.weights.h5), not a Keras 2 HDF5 file; keraslite reads Keras 2 files. In Keras 3 "
                        "save the model in the legacy HDF5 format, model.save('model.h5'), or its weights with "
                        "model.save_weights and rebuild the architecture in keraslite")
        raise error(f"Cannot {what}: {path!r} is a zip archive, not a Keras HDF5 file")


def foreign_hdf5_hint(f) -> str:
    """foreign_hdf5_hint(h5py_file): a sentence naming the HDF5 layout Keras 3 writes
    (`.weights.h5`: groups 'layers'/'vars'), else ''."""
    try:
        keys = set(f.keys())
    except Exception:  # a corrupt file: the caller's message stands alone
        return ""
    if "layers" in keys or "vars" in keys or "_layer_checkpoint_dependencies" in keys:
        return (". It looks like a Keras 3 weights file ('.weights.h5', weights under 'layers/<name>/vars'), "
                "which keraslite cannot map onto Keras 2 layers; in Keras 3 save a legacy HDF5 file with "
                "model.save('model.h5') instead")
    return ""

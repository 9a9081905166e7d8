"""What a config may name, and how names become objects: the one resolution policy of keraslite.

Every entry point that reads a config (load_model, model_from_json/yaml/config, from_config,
layers.deserialize and the deserialisers of initializers, regularizers, constraints, losses,
metrics, optimizers and activations, and Lambda's functions) resolves names here. A config may
name only

* objects the caller offers: `custom_objects=`, a `CustomObjectScope`, `get_custom_objects()`, or
  classes and functions registered with `@register_keras_serializable(package, name)`;
* keraslite's own public classes and functions (each family's table of names, and for Lambda
  functions, public functions defined in keraslite modules or the backend `K` namespace).

Anything else is a ValueError naming the layer, the function and the module, saying how to offer
it. `safe_mode=False` (load_model, model_from_*, `SafeModeScope(False)`, or process-wide
`enable_unsafe_deserialization()`) lets Lambda configs name functions of modules that are already
imported, as Keras 2 did; Python bytecode (Keras 2's marshalled lambdas) is never run.
"""
from __future__ import annotations

import contextvars
import inspect
import re
import sys
from typing import Any, Callable

from .saving_checks import check_model_config

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "serialize_keras_object", "deserialize_keras_object",
           "SafeModeScope", "in_safe_mode", "enable_unsafe_deserialization", "resolve_function", "serialize_layer",
           "deserialize_layer", "layer_class"]

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
# registered key ('Package>name') -> object, and object -> key
_REGISTERED: dict[str, Any] = {}
_REGISTERED_NAMES: dict[int, str] = {}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------------------------
# what the caller offers


class CustomObjectScope:
    """with CustomObjectScope({'name': obj}): names resolved by deserialisation inside the block."""

    def __init__(self, *args: dict):
        self.custom_objects = args
        self.backup: dict | None = None

    def __enter__(self):
        self.backup = dict(_GLOBAL_CUSTOM_OBJECTS)
        for objects in self.custom_objects:
            _GLOBAL_CUSTOM_OBJECTS.update(objects or {})
        return self

    def __exit__(self, *exc):
        _GLOBAL_CUSTOM_OBJECTS.clear()
        _GLOBAL_CUSTOM_OBJECTS.update(self.backup or {})


def custom_object_scope(*args: dict) -> CustomObjectScope:
    """custom_object_scope(*args): a CustomObjectScope."""
    return CustomObjectScope(*args)


def get_custom_objects() -> dict:
    """get_custom_objects(): the global dict of custom objects (mutable, Keras 2)."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """register_keras_serializable(package='Custom', name=None): a decorator that lets configs
    name a class or function, as 'package>name' or as plain `name` (default: its __name__)."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>', got {package!r}")

    def decorator(obj):
        registered = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(registered, str) or not registered:
            raise ValueError(f"register_keras_serializable: cannot find a name for {obj!r}; pass name=")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_keras_serializable: class {obj.__name__} must define get_config() to be "
                             "serialisable")
        key = f"{package}>{registered}"
        previous = _REGISTERED.get(key)
        if previous is not None and previous is not obj:
            raise ValueError(f"register_keras_serializable: {key!r} is already registered to {previous!r}")
        _REGISTERED[key] = obj
        _REGISTERED_NAMES[id(obj)] = key
        return obj

    return decorator


def offered_names(custom_objects: dict | None = None) -> set:
    """offered_names(custom_objects=None): every name the caller offers (custom_objects, the
    custom-object scope, the registry, as 'package>name' and as name)."""
    names = set(custom_objects or {}) | set(_GLOBAL_CUSTOM_OBJECTS) | set(_REGISTERED)
    return names | {key.split(">", 1)[1] for key in _REGISTERED}


def get_registered_name(obj) -> str:
    """get_registered_name(obj): 'package>name' for a registered object, else its __name__."""
    return _REGISTERED_NAMES.get(id(obj)) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects: dict | None = None):
    """get_registered_object(name, custom_objects=None, module_objects=None): the object `name`
    resolves to (custom_objects, the custom-object scope, the registry, then module_objects), or
    None."""
    if not isinstance(name, str):
        return None
    for source in (custom_objects or {}, _GLOBAL_CUSTOM_OBJECTS):
        if name in source:
            return source[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    if ">" not in name:
        hits = [obj for key, obj in _REGISTERED.items() if key.split(">", 1)[1] == name]
        if len(hits) == 1:
            return hits[0]
    return (module_objects or {}).get(name)


# ---------------------------------------------------------------------------------------------
# safe mode

_SAFE_MODE: contextvars.ContextVar = contextvars.ContextVar("keraslite_safe_mode", default=None)
_safe_mode_default = True


class SafeModeScope:
    """with SafeModeScope(safe_mode): deserialisation inside the block uses `safe_mode` (None:
    the process default)."""

    def __init__(self, safe_mode: bool | None = True):
        if safe_mode is not None and not isinstance(safe_mode, bool):
            raise TypeError(f"safe_mode must be True, False or None, got {safe_mode!r}")
        self.safe_mode = safe_mode
        self._token = None

    def __enter__(self):
        value = self.safe_mode if self.safe_mode is not None else _SAFE_MODE.get()
        self._token = _SAFE_MODE.set(value)
        return self

    def __exit__(self, *exc):
        _SAFE_MODE.reset(self._token)


def in_safe_mode() -> bool:
    """in_safe_mode(): whether configs may name only offered objects and keraslite's own."""
    value = _SAFE_MODE.get()
    return _safe_mode_default if value is None else value


def enable_unsafe_deserialization() -> None:
    """enable_unsafe_deserialization(): process-wide safe_mode=False (Keras 3's switch): Lambda
    configs may name functions of any imported module. Only for files you trust."""
    global _safe_mode_default
    _safe_mode_default = False


def _disable_unsafe_deserialization() -> None:
    global _safe_mode_default
    _safe_mode_default = True


# ---------------------------------------------------------------------------------------------
# classes and functions by {'class_name', 'config'}


def serialize_keras_object(instance) -> Any:
    """A JSON-able description: {'class_name', 'config'} for objects with get_config, else the
    function's __name__."""
    if instance is None:
        return None
    if hasattr(instance, "get_config"):
        return {"class_name": instance.__class__.__name__, "config": instance.get_config()}
    if hasattr(instance, "__name__"):
        return instance.__name__
    raise ValueError(f"Cannot serialize {instance!r}: it has neither get_config() nor __name__")


def _offer_hint(name: str) -> str:
    return (f"If you trust it, offer it: custom_objects={{{name!r}: obj}} (or a CustomObjectScope, "
            "get_custom_objects(), or @keraslite.serialization.register_keras_serializable())")


def _unknown(printable_module_name: str, name) -> ValueError:
    if not isinstance(name, str):
        return ValueError(f"Unknown {printable_module_name}: {name!r} (a name must be a string)")
    return ValueError(f"Unknown {printable_module_name}: {name}. A config may name only keraslite's own "
                      f"{printable_module_name}s and objects you offer. " + _offer_hint(name))


def deserialize_keras_object(identifier, module_objects: dict | None = None, custom_objects: dict | None = None,
                             printable_module_name: str = "object") -> Any:
    """deserialize_keras_object(identifier, module_objects=None, custom_objects=None,
    printable_module_name='object'): resolve a config dict ({'class_name', 'config'}) or a name
    through custom_objects, the custom-object scope, the registry and `module_objects` (the
    family's own table of keraslite names); ValueError for anything else."""
    module_objects = module_objects or {}
    custom_objects = custom_objects or {}
    if isinstance(identifier, dict):
        if "class_name" not in identifier or "config" not in identifier:
            raise ValueError(f"Improper config format for {printable_module_name}: {identifier!r:.300}")
        class_name = identifier["class_name"]
        cls = get_registered_object(class_name, custom_objects, module_objects)
        if cls is None:
            raise _unknown(printable_module_name, class_name)
        config = identifier["config"]
        if not isinstance(config, dict):
            raise ValueError(f"{printable_module_name} {class_name!r}: 'config' should be a JSON object, got "
                             f"{type(config).__name__}")
        bad = [k for k in config if not isinstance(k, str) or k.startswith("__")]
        if bad:
            raise ValueError(f"{printable_module_name} {class_name!r}: invalid argument names in its config: "
                             f"{bad[:5]!r}")
        if hasattr(cls, "from_config"):
            if "custom_objects" in _parameters(cls.from_config):
                merged = dict(_GLOBAL_CUSTOM_OBJECTS)
                merged.update(custom_objects)
                return cls.from_config(config, custom_objects=merged)
            with CustomObjectScope(custom_objects):
                return cls.from_config(config)
        if not callable(cls):
            raise ValueError(f"{printable_module_name} {class_name!r} resolves to {cls!r}, which is not callable")
        with CustomObjectScope(custom_objects):
            return cls(**config)
    if isinstance(identifier, str):
        obj = get_registered_object(identifier, custom_objects, module_objects)
        if obj is None:
            raise _unknown(printable_module_name, identifier)
        return obj
    raise ValueError(f"Could not interpret serialized {printable_module_name}: {identifier!r:.300}")


# ---------------------------------------------------------------------------------------------
# layers and models by {'class_name', 'config'}

# keraslite's own layer classes by name, the `module_objects` of layer configs. Filled by the
# modules that define them as they are imported (keraslite.layers its layers, keraslite.engine
# Model and Sequential), so that the engine, the container layers and saving resolve nested layer
# configs here without importing keraslite.layers: the layers import the engine, not the reverse.
_LAYER_CLASSES: dict[str, type] = {}


def _register_layer_classes(classes: dict) -> None:
    """Add keraslite's own layer classes (name -> class) to the names layer configs may use; a
    class defined outside keraslite is refused (callers offer theirs through custom_objects)."""
    for name, cls in classes.items():
        owner = getattr(cls, "__module__", "") or ""
        if not (inspect.isclass(cls) and isinstance(name, str) and _is_keraslite_module(owner)):
            raise ValueError(f"only keraslite's own layer classes are registered here, not {name!r}: {cls!r}; offer "
                             "yours through custom_objects or @register_keras_serializable()")
        _LAYER_CLASSES[name] = cls


def layer_class(name: str):
    """layer_class(name): keraslite's own layer or model class called `name`, or None."""
    return _LAYER_CLASSES.get(name)


def serialize_layer(layer) -> dict:
    """serialize_layer(layer): {'class_name': type name, 'config': layer.get_config()}."""
    return {"class_name": layer.__class__.__name__, "config": layer.get_config()}


def deserialize_layer(config, custom_objects: dict | None = None, safe_mode: bool | None = None):
    """deserialize_layer(config, custom_objects=None, safe_mode=None): a layer (or Model /
    Sequential) from serialize_layer()'s dict; class names resolve through custom_objects, the
    custom-object scope, the registry and keraslite's layer classes. Dimensions are checked first.
    keraslite.layers.deserialize is this function."""
    if "Sequential" not in _LAYER_CLASSES or "Dense" not in _LAYER_CLASSES:
        # both register themselves on import: keraslite.layers imports keraslite.engine
        raise RuntimeError("keraslite.layers is not imported yet: `import keraslite.layers` before deserialising "
                           "layers")
    check_model_config(config, offered_names(custom_objects))
    with SafeModeScope(safe_mode):
        return deserialize_keras_object(config, module_objects=dict(_LAYER_CLASSES), custom_objects=custom_objects,
                                        printable_module_name="layer")


def _parameters(fn) -> dict:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------
# functions by (module, name): Lambda layers

# Where the functions a Lambda config may name live: keraslite's tensor functions (the K namespace
# is defined in backend.ops and backend.autodiff) and the public families. Settings, files, the
# registry, callbacks, the engine and the backend plumbing are not here: a model file has no
# business calling them. From applications only lower-case tensor functions (preprocess_input,
# the functions their Lambda layers wrap): model builders and decode_predictions download files.
_FUNCTION_HOMES = ("keraslite.backend.ops", "keraslite.backend.autodiff", "keraslite.activations",
                   "keraslite.losses", "keraslite.metrics", "keraslite.layers", "keraslite.initializers",
                   "keraslite.regularizers", "keraslite.constraints", "keraslite.utils.np_utils",
                   "keraslite.applications")
_APPLICATION_FUNCTION = re.compile(r"^(?!decode_predictions$|build_|make_)[a-z][a-z0-9_]*$")
_SETTER = re.compile(r"^(set_|clear_|reset_|load_|save_|enable_|disable_|register_|plot_|write_|export_|"
                     r"download|get_file|dump|batch_set_value$|manual_variable_initialization$)")


def _in(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _is_keraslite_module(module: str) -> bool:
    head = module.split(".", 1)[0]
    return head == "keraslite" or head.startswith("keraslite_")


def _keraslite_function(name: str, module: str | None):
    """The keraslite public function `name` of `module` (None: the backend K namespace), or a
    string saying why it is refused."""
    if not _IDENTIFIER.match(name) or name.startswith("_"):
        return f"{name!r} is not a public name (no dotted paths, no '_' names)"
    if _SETTER.match(name):
        return f"{name!r} changes settings, files or the process, which a model file may not do"
    if module is None:
        module = "keraslite.backend"
    elif isinstance(module, str) and module.split(".")[0] in ("keras", "tensorflow") and "keras" in module.split("."):
        # a Keras 2 file naming a Keras function: keraslite's function of the same name
        parts = module.split(".")
        rest = parts[parts.index("keras") + 1:]
        module = "keraslite.backend" if not rest or rest[0] == "backend" else ".".join(["keraslite"] + rest)
    if not all(_IDENTIFIER.match(p) and not p.startswith("_") for p in module.split(".")):
        return f"module {module!r} is not a public keraslite module"
    if not _is_keraslite_module(module):
        return f"module {module!r} is not part of keraslite"
    if module != "keraslite.backend" and not _in(module, _FUNCTION_HOMES):
        return f"functions of {module!r} are not among those a model file may name"
    if module.startswith("keraslite.applications") and not _APPLICATION_FUNCTION.match(name):
        return ("from keraslite.applications a model file may name only tensor functions (preprocess_input, "
                "the blocks' Lambda functions), not model builders or downloaders")
    mod = sys.modules.get(module)
    if mod is None:
        try:
            import importlib
            mod = importlib.import_module(module)
        except ImportError:
            return f"there is no keraslite module {module!r}"
    try:
        obj = inspect.getattr_static(mod, name)
    except AttributeError:
        return f"keraslite module {module!r} has no public function {name!r}"
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if inspect.ismodule(obj) or not callable(obj):
        return f"{module}.{name} is not a function"
    owner = getattr(obj, "__module__", None) or ""
    if not isinstance(owner, str) or not _is_keraslite_module(owner):
        return f"{module}.{name} is {owner or 'an outside'}'s object, not keraslite's"
    if not _in(owner, _FUNCTION_HOMES):
        return f"{module}.{name} is defined in {owner!r}, whose functions a model file may not name"
    public = getattr(mod, "__all__", None)
    if module != "keraslite.backend" and public is not None and name not in public:
        return f"{name!r} is not among the public names of {module!r}"
    return obj


def _imported_module_function(name: str, module: str | None):
    """safe_mode=False: Keras 2's rule, attributes of an already-imported module."""
    if module is None:
        return f"the config gives no module for {name!r}"
    mod = sys.modules.get(module)
    if mod is None:
        return f"the module {module!r} that defines {name!r} is not imported"
    obj = mod
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return f"no function {name!r} was found in module {module!r}"
    if not callable(obj):
        return f"{module}.{name} is not callable"
    return obj


def _marshal_name_tokens(name: str) -> tuple:
    """The byte strings by which marshal writes `name` (short ASCII, with or without interning
    and the reference flag; or UTF-8 with a 4-byte length)."""
    raw = name.encode("utf-8")
    tokens = []
    if len(raw) < 256 and name.isascii():
        tokens += [bytes([t, len(raw)]) + raw for t in (0x7A, 0x5A, 0xFA, 0xDA)]
    tokens += [bytes([t]) + len(raw).to_bytes(4, "little") + raw for t in (0x75, 0x74, 0xF5, 0xF4, 0x61, 0x41,
                                                                            0xE1, 0xC1)]
    return tuple(tokens)


def _offered_for_bytecode(stored, custom_objects: dict | None, where: str, what: str):
    """Keras 2 saves every Python function of a Lambda as marshalled bytecode (func_dump:
    [base64 code, defaults, closure]). keraslite never unmarshals it; it only looks, in the raw
    bytes, for the name of a function the caller offered through custom_objects (or the
    custom-object scope). Exactly one offered function must be named there: it is used."""
    import base64
    import binascii
    code = stored[0] if isinstance(stored, (list, tuple)) and stored else stored
    if not isinstance(code, str):
        return None
    try:
        raw = base64.b64decode(code.encode("ascii"), validate=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    offered = dict(_GLOBAL_CUSTOM_OBJECTS)
    offered.update(custom_objects or {})
    hits = {}
    for key, obj in offered.items():
        if not callable(obj) or isinstance(obj, type):
            continue
        names = {key, getattr(obj, "__name__", None)} - {None}
        if any(token in raw for n in names if isinstance(n, str) and n for token in _marshal_name_tokens(n)):
            hits[key] = obj
    if len(hits) > 1:
        raise ValueError(f"{where}: its {what} is stored as Python bytecode that names several functions offered in "
                         f"custom_objects ({', '.join(sorted(hits))}); keraslite never runs bytecode and cannot tell "
                         "which one it is: offer only the Lambda's own function")
    return next(iter(hits.values()), None)


def resolve_function(name, module, custom_objects: dict | None = None, *, function_type: str = "function",
                     layer_name=None, what: str = "function", safe_mode: bool | None = None) -> Callable:
    """resolve_function(name, module, custom_objects=None, *, function_type='function',
    layer_name=None, what='function', safe_mode=None): the function a Lambda config names. Offered
    objects first, then keraslite's public functions; with safe_mode=False also functions of
    imported modules. Bytecode is never run. ValueError naming the layer, function and module."""
    where = f"Lambda layer {layer_name!r}"
    if not isinstance(name, str):
        offered = _offered_for_bytecode(name, custom_objects, where, what)
        if offered is not None:
            return offered
        raise ValueError(f"{where}: its {what} is stored as Python bytecode, which keraslite never runs (no "
                         "pickle/marshal). Pass the function itself through custom_objects={name: fn} with a config "
                         "naming it, or rebuild the layer in code.")
    if module is not None and not isinstance(module, str):
        raise ValueError(f"{where}: the module of its {what} should be a string, got {module!r:.100}")
    short = name.rsplit(".", 1)[-1]
    for key in (name, short):
        obj = get_registered_object(key, custom_objects)
        if obj is not None:
            return obj
    safe = in_safe_mode() if safe_mode is None else safe_mode
    if function_type != "function":
        reason = (f"it wraps {name!r}, a lambda, local function or callable object, which keraslite cannot rebuild "
                  "from a config because it never runs serialised Python code")
    else:
        found = _keraslite_function(name, module)
        if not isinstance(found, str):
            return found
        reason = found
        if not safe:
            found = _imported_module_function(name, module)
            if not isinstance(found, str):
                return found
            reason = found
    mode = ("" if not safe or function_type != "function" else
            " (or, for a file you trust, safe_mode=False to allow functions of modules you have imported)")
    raise ValueError(f"{where}: refusing to load its {what} {name!r} of module {module!r}: {reason}. A model "
                     "file may name only keraslite's public functions and objects you offer. "
                     f"{_offer_hint(short)}{mode}.")

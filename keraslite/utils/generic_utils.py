"""Serialisation of Keras objects by name, the custom-object scope, and the progress bar.

Every configurable family (layers, initializers, regularizers, constraints, activations, losses,
metrics, optimizers) resolves identifiers through `deserialize_keras_object`, so `custom_objects`
and `CustomObjectScope` work the same everywhere, as in Keras 2.
"""
from __future__ import annotations

import inspect
import re
import sys
import time
from typing import Any, Callable

import numpy as np

from keraslite.backend import compile_clock

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}


class CustomObjectScope:
    """with CustomObjectScope({'name': obj}): names resolved by deserialisation inside the block."""

    def __init__(self, *args: dict):
        self.custom_objects = args
        self.backup: dict | None = None

    def __enter__(self):
        self.backup = dict(_GLOBAL_CUSTOM_OBJECTS)
        for objects in self.custom_objects:
            _GLOBAL_CUSTOM_OBJECTS.update(objects)
        return self

    def __exit__(self, *exc):
        _GLOBAL_CUSTOM_OBJECTS.clear()
        _GLOBAL_CUSTOM_OBJECTS.update(self.backup or {})


def custom_object_scope(*args: dict) -> CustomObjectScope:
    """custom_object_scope(*args): a CustomObjectScope."""
    return CustomObjectScope(*args)


def get_custom_objects() -> dict:
    """get_custom_objects(): the global dict of custom objects (mutable)."""
    return _GLOBAL_CUSTOM_OBJECTS


def to_snake_case(name: str) -> str:
    """Keras 2's rule: 'MaxPooling2D' -> 'max_pooling2d', 'LeakyReLU' -> 'leaky_re_lu'."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    if insecure[0] != "_":
        return insecure
    return "private" + insecure


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


def deserialize_keras_object(identifier, module_objects: dict | None = None, custom_objects: dict | None = None,
                             printable_module_name: str = "object") -> Any:
    """Resolve a config dict ({'class_name', 'config'}) or a name through custom_objects, the
    custom-object scope and module_objects; ValueError naming the unknown identifier."""
    module_objects = module_objects or {}
    custom_objects = custom_objects or {}

    def lookup(name):
        if name in custom_objects:
            return custom_objects[name]
        if name in _GLOBAL_CUSTOM_OBJECTS:
            return _GLOBAL_CUSTOM_OBJECTS[name]
        return module_objects.get(name)

    if isinstance(identifier, dict):
        if "class_name" not in identifier or "config" not in identifier:
            raise ValueError(f"Improper config format for {printable_module_name}: {identifier!r}")
        class_name = identifier["class_name"]
        cls = lookup(class_name)
        if cls is None:
            raise ValueError(f"Unknown {printable_module_name}: {class_name}")
        config = identifier["config"]
        if hasattr(cls, "from_config"):
            sig = inspect.signature(cls.from_config)
            if "custom_objects" in sig.parameters:
                merged = dict(_GLOBAL_CUSTOM_OBJECTS)
                merged.update(custom_objects)
                return cls.from_config(config, custom_objects=merged)
            with CustomObjectScope(custom_objects):
                return cls.from_config(config)
        with CustomObjectScope(custom_objects):
            return cls(**config)
    if isinstance(identifier, str):
        obj = lookup(identifier)
        if obj is None:
            raise ValueError(f"Unknown {printable_module_name}: {identifier}")
        return obj
    raise ValueError(f"Could not interpret serialized {printable_module_name}: {identifier!r}")


def has_arg(fn: Callable, name: str, accept_all: bool = False) -> bool:
    """True if `fn` takes an argument `name` (or **kwargs when accept_all)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    if name in sig.parameters:
        return True
    return accept_all and any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


def to_list(x) -> list:
    """A list from a single object or a list/tuple."""
    if isinstance(x, list):
        return x
    if isinstance(x, tuple):
        return list(x)
    return [x]


def unpack_singleton(x):
    """The element of a one-element list, else x."""
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


# ---------------------------------------------------------------------------------------------
# Progress bar (Keras 2's text format, see LAYERS_OPTIMIZERS.md section 6)


def _format_value(avg) -> str:
    return " %.4f" % avg if abs(avg) > 1e-3 else " %.4e" % avg


class Progbar:
    """Progbar(target, width=30, verbose=1, interval=0.05, stateful_metrics=None, unit_name='step').

    `target` is the total number of steps (None if unknown). Values passed to `update` are shown as
    running means weighted by the number of steps each covers; names in `stateful_metrics` are shown
    as given. verbose=1 draws `seen/target [===>....] - ETA: 3s - loss: 0.6931`, redrawn in place on a
    terminal; when stdout is not a terminal (a log file, a pipe) only the finished line is written,
    so logs hold one line per bar. verbose=2 writes only ` - 2s - loss: 0.6931` at the end.
    """

    def __init__(self, target: int | None, width: int = 30, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics=None, unit_name: str = "step"):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics) if stateful_metrics else set()
        stdout = sys.stdout
        self._dynamic_display = ((hasattr(stdout, "isatty") and stdout.isatty())
                                 or "ipykernel" in sys.modules)
        self._total_width = 0
        self._seen_so_far = 0
        # name -> [weighted sum, weight]; a dict keeps the order in which names first appear
        self._values: dict[str, list] = {}
        self._start = time.time()
        self._compiled_at_start = compile_clock.total()
        self._last_update = 0.0

    def update(self, current: int, values=None) -> None:
        """update(current, values=None): `current` steps done; `values` a list of (name, value)."""
        values = list(values.items()) if isinstance(values, dict) else (values or [])
        steps = current - self._seen_so_far
        for name, value in values:
            if name in self.stateful_metrics:
                # shown as is: a mean over one value keeps the same number formatting
                self._values[name] = [value, 1]
            elif name in self._values:
                self._values[name][0] += value * steps
                self._values[name][1] += steps
            else:
                self._values[name] = [value * steps, steps]
        self._seen_so_far = current

        now = time.time()
        finished = self.target is not None and current >= self.target
        if self.verbose == 1:
            if not finished and self.target is not None and now - self._last_update < self.interval:
                return
            # Off a terminal a redraw cannot overwrite, so only the final line (or, with an unknown
            # target, every update) is written.
            if self._dynamic_display or finished or self.target is None:
                self._write_bar(current, now, finished)
        elif self.verbose == 2 and (self.target is None or finished):
            info = " - %.0fs" % (now - self._start) + self._values_text() + "\n"
            self._write(info)
        self._last_update = now

    def add(self, n: int, values=None) -> None:
        """add(n, values=None): advance by n steps."""
        self.update(self._seen_so_far + n, values)

    # -- helpers -------------------------------------------------------------------------------

    @staticmethod
    def _write(text: str) -> None:
        out = sys.stdout  # looked up each time, so redirection (pytest's capsys) is honoured
        out.write(text)
        out.flush()

    def _values_text(self) -> str:
        text = ""
        for name, (total, count) in self._values.items():
            avg = float(np.mean(total / max(1, count)))
            text += " - %s:" % name + _format_value(avg)
        return text

    def _write_bar(self, current: int, now: float, finished: bool) -> None:
        prev_total_width = self._total_width
        prefix = ("\b" * prev_total_width + "\r") if self._dynamic_display else ""

        if self.target is not None:
            digits = int(np.floor(np.log10(self.target))) + 1 if self.target > 0 else 1
            bar = "%*d/%d [" % (digits, current, self.target)
            progress = float(current) / self.target if self.target > 0 else 1.0
            filled = min(int(self.width * progress), self.width)
            if filled > 0:
                bar += "=" * (filled - 1) + ("=" if finished else ">")
            bar += "." * (self.width - filled) + "]"
        else:
            bar = "%7d/Unknown" % current
        self._total_width = len(bar)

        time_per_unit = (now - self._start) / current if current else 0.0
        if self.target is not None and not finished:
            # kernel compilation (first steps of a first run) does not recur: left out of the rate
            compiling = compile_clock.total() - self._compiled_at_start
            eta = max(0.0, now - self._start - compiling) / current * (self.target - current) if current else 0.0
            if eta > 3600:
                eta_text = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_text = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_text = "%ds" % eta
            info = " - ETA: %s" % eta_text
        else:
            info = " - %.0fs" % (now - self._start)
            if time_per_unit >= 1:
                info += " %.0fs/%s" % (time_per_unit, self.unit_name)
            elif time_per_unit >= 1e-3:
                info += " %.0fms/%s" % (time_per_unit * 1e3, self.unit_name)
            else:
                info += " %.0fus/%s" % (time_per_unit * 1e6, self.unit_name)
        info += self._values_text()

        self._total_width += len(info)
        if prev_total_width > self._total_width:
            info += " " * (prev_total_width - self._total_width)  # blank the rest of a longer old line
        if finished or (self.target is None and not self._dynamic_display):
            info += "\n"
        self._write(prefix + bar + info)


def get_instance(identifier, deserialize: Callable, what: str):
    """The shared `get(identifier)` of initializers, regularizers and constraints: None -> None; a
    config dict or a name (an instance with default arguments, as Keras 2) through `deserialize`;
    a callable passes through; anything else is a ValueError naming `what`."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {what} identifier: {identifier!r}")

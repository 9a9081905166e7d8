"""Keras 2's generic utilities: the custom-object scope and deserialisation (re-exported from
keraslite.serialization, where the policy of what a config may name lives), has_arg, to_list and
the progress bar.
"""
from __future__ import annotations

import inspect
import re
import sys
import time
from typing import Any, Callable

import numpy as np

from keraslite.backend import compile_clock

# The name-resolution policy lives in keraslite.serialization; these are its Keras 2 names.
from ..serialization import (_GLOBAL_CUSTOM_OBJECTS, CustomObjectScope, custom_object_scope,  # noqa: F401
                             deserialize_keras_object, get_custom_objects, register_keras_serializable,
                             serialize_keras_object)


def to_snake_case(name: str) -> str:
    """Keras 2's rule: 'MaxPooling2D' -> 'max_pooling2d', 'LeakyReLU' -> 'leaky_re_lu'."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    if insecure[0] != "_":
        return insecure
    return "private" + insecure


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

"""TensorFlow plumbing of the Keras 2 backend, with keraslite's behaviour made explicit.

keraslite has no TensorFlow session or graph object: K functions build keraslite Tensors, and
values come from K.eval / K.get_value / K.function. Variables are initialised when created, and a
compiled function orders its steps by data dependencies, applying updates after the outputs.
"""
from __future__ import annotations

import contextlib
import warnings

from ..graph import Tensor

_NO_SESSION = ("keraslite has no TensorFlow session or graph: tensors are keraslite graph nodes evaluated by "
               "keraslite itself. Use K.eval(x) or K.get_value(variable) to read a value, K.set_value to write "
               "one, and K.function(inputs, outputs, updates) to run a graph repeatedly.")


def get_session():
    """get_session(): raises RuntimeError; keraslite has no TensorFlow session (use K.eval,
    K.get_value / K.set_value or K.function instead)."""
    raise RuntimeError("get_session: " + _NO_SESSION)


def set_session(session):
    """set_session(session): accepted and ignored, with a UserWarning (keraslite has no TensorFlow
    session)."""
    warnings.warn("set_session: keraslite has no TensorFlow session; the session passed is ignored.",
                  UserWarning, stacklevel=2)


def get_graph():
    """get_graph(): raises RuntimeError; keraslite has no TensorFlow graph object (its graph is the
    Tensors themselves: use K.function to evaluate them)."""
    raise RuntimeError("get_graph: " + _NO_SESSION)


def symbolic(func):
    """symbolic(func): decorator returning func unchanged (every keraslite K call is symbolic)."""
    return func


def eager(func):
    """eager(func): decorator returning func unchanged (keraslite has no eager mode to switch to)."""
    return func


def is_symbolic(x) -> bool:
    """is_symbolic(x): True for keraslite Tensors (placeholders, variables, op outputs)."""
    return isinstance(x, Tensor)


def v1_variable_initialization():
    """v1_variable_initialization(): a no-op; keraslite variables are initialised when created."""
    return None


@contextlib.contextmanager
def control_dependencies(control_inputs):
    """control_dependencies(control_inputs): a context manager accepted only with no control inputs
    (None or empty). keraslite orders computation by data dependencies alone and applies updates
    after the outputs, so it cannot make ops run after arbitrary other ops: non-empty control_inputs
    raise NotImplementedError on entry. Express the dependency through data instead (use the value)
    or pass updates to K.function."""
    if control_inputs is not None:
        inputs = list(control_inputs) if isinstance(control_inputs, (list, tuple)) else [control_inputs]
        if inputs:
            raise NotImplementedError(
                "control_dependencies: keraslite orders computation by data dependencies only (updates are "
                f"applied after the outputs), so control dependencies on {len(inputs)} input(s) cannot be "
                "honoured; make the dependency a data dependency, or pass the updates to K.function.")
    yield

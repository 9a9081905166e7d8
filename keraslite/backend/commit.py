"""All-or-nothing commits of new variable values.

A training step computes every new value first (compiler.Plan) and only then swaps them in. The
swap is a loop of reference assignments, and Python runs a SIGINT handler between any two
bytecodes, so a Ctrl-C landing in that loop would leave some variables (weights, optimizer slots,
`iterations`) one step ahead of the others. `swap_in` holds SIGINT back for the length of the loop
and delivers it right after, so the step is either wholly applied or not at all.

It runs every step, so it is kept cheap: the C-level `_signal` functions (the `signal` module's
wrappers convert to enums and cost ~10x more), nothing at all off the main thread (Python runs
signal handlers on the main thread only, so another thread's loop is never cut by one), and the
handler is swapped only when there is something to commit.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

try:  # CPython's C module behind `signal`: the same functions without the enum conversions
    import _signal as _sig
except ImportError:  # pragma: no cover - other interpreters
    import signal as _sig

SIGINT = int(_sig.SIGINT)
_SIG_IGN = _sig.SIG_IGN
_SIG_DFL = _sig.SIG_DFL
_MAIN_ID = threading.main_thread().ident
_get_ident = threading.get_ident

# how many SIGINTs were held back until a commit finished (read by tests and diagnostics)
deferred_count = 0


class _Held:
    """The temporary SIGINT handler: remembers that the signal came (and where)."""

    __slots__ = ("frame", "hit")

    def __init__(self):
        self.hit = False
        self.frame = None

    def __call__(self, signum, frame):
        self.hit = True
        self.frame = frame


_HELD = _Held()


def swap_in(pending: Sequence[tuple[Any, Any]], assign: Callable[[Any, Any], None]) -> None:
    """Call assign(target, value) for every pair with SIGINT held back until all are done.

    A SIGINT arriving meanwhile is delivered once the last assignment is made, to whatever
    handler was installed before (KeyboardInterrupt with Python's default one)."""
    if not pending:
        return
    if _get_ident() != _MAIN_ID:
        for target, value in pending:
            assign(target, value)
        return
    old = _sig.getsignal(SIGINT)
    if old is None or old is _HELD or old == _SIG_IGN:
        # None: a handler installed outside Python, which could not be put back; _HELD: inside a
        # commit already (another signal's handler committing); SIG_IGN: nothing to hold back
        for target, value in pending:
            assign(target, value)
        return
    held = _HELD  # one instance: only the main thread gets here, and nested commits stop above
    held.hit = False
    _sig.signal(SIGINT, held)
    try:
        for target, value in pending:
            assign(target, value)
    finally:
        _sig.signal(SIGINT, old)
    if held.hit:
        frame, held.frame = held.frame, None
        _deliver(old, frame)


def _deliver(handler, frame) -> None:
    global deferred_count
    deferred_count += 1
    if handler == _SIG_DFL:  # the default action (terminate): let the OS take it now
        _sig.raise_signal(SIGINT)
        return
    handler(SIGINT, frame)  # Python's default_int_handler raises KeyboardInterrupt here

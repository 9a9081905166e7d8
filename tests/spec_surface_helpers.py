"""Shared helpers of the tests/test_spec_surface*.py modules: the tolerance, signature readers
and the autouse fixture that starts each test from a fresh session.
"""
import inspect

import pytest

from keraslite import backend as K


EPS = 1e-7


def defaults(fn) -> dict:
    """{argument: default} of a callable (classes: their __init__), without self/**kwargs."""
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        out[name] = p.default if p.default is not inspect.Parameter.empty else "<required>"
    return out


def arg_names(fn) -> list:
    return list(defaults(fn))


@pytest.fixture(autouse=True)
def _fresh_session():
    K.clear_session()
    yield

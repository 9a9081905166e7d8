"""Shared fixtures: every backend test runs once per backend usable on this machine.

A test module opts in with ``pytestmark = pytest.mark.usefixtures("kbackend")`` (or by taking
``kbackend`` as an argument). New backends join by registering: nothing here names them.
"""
import numpy as np
import pytest

import keraslite
from keraslite.backend import config as _config


def _usable_backends():
    return keraslite.available_backends()


@pytest.fixture(params=_usable_backends())
def kbackend(request):
    """Run the test with each usable backend active; yields the backend's name."""
    with keraslite.use_backend(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _restore_config():
    """Tests may change floatx, epsilon, data format or the learning phase: undo it."""
    saved = _config.snapshot()
    yield
    _config.restore(saved)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)

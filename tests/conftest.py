"""Shared fixtures: every backend test runs once per backend usable on this machine.

A test module opts in with ``pytestmark = pytest.mark.usefixtures("kbackend")`` (or by taking
``kbackend`` as an argument). New backends join by registering: nothing here names them.
"""
import os

# no background compile workers in test processes (and the subprocesses they start): tests
# that exercise the workers ask for them explicitly (tests/test_coldstart.py)
os.environ.setdefault("KERASLITE_COMPILE_WORKERS", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keraslite  # noqa: E402
from keraslite.backend import config as _config  # noqa: E402


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


@pytest.fixture
def loopback_server(tmp_path):
    """A tests/loopback_http.py LoopbackServer on 127.0.0.1 serving the empty folder tmp_path/www
    (`loopback_server.url(name)`, `.write(name, data)`, `.hits`), shut down after the test."""
    from loopback_http import LoopbackServer
    folder = tmp_path / "www"
    folder.mkdir()
    with LoopbackServer(str(folder)) as srv:
        yield srv


# ---------------------------------------------------------------------------------------------
# hypothesis profiles for the property-based K tests (tests/test_k_properties_*.py). On CI
# (CI=true) a fixed, derandomised example budget keeps the suite reproducible and bounded;
# elsewhere 'dev' draws fresh examples. HYPOTHESIS_PROFILE=name selects one explicitly.
try:
    import os as _os

    from hypothesis import HealthCheck as _HealthCheck
    from hypothesis import settings as _hsettings
except ImportError:  # hypothesis is in the `test` extra; other tests run without it
    _hsettings = None

if _hsettings is not None:
    # kbackend and the config fixture are function-scoped on purpose: one backend for all of a
    # test's examples; examples do not mutate what the fixtures set up
    _suppress = [_HealthCheck.function_scoped_fixture, _HealthCheck.too_slow]
    _hsettings.register_profile("ci", max_examples=40, derandomize=True, deadline=None, database=None,
                                suppress_health_check=_suppress, print_blob=True)
    _hsettings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=_suppress,
                                print_blob=True)
    # a long hunt, by hand: HYPOTHESIS_PROFILE=thorough
    _hsettings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=_suppress,
                                print_blob=True)
    _hsettings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE")
                            or ("ci" if _os.environ.get("CI", "").lower() == "true" else "dev"))


def pytest_terminal_summary(terminalreporter):
    """Report how many property-test examples ran (the K property suite's budget)."""
    import sys
    props = sys.modules.get("k_props")
    if props is not None and props.COUNTER["examples"]:
        terminalreporter.write_line(f"K property tests: {props.COUNTER['examples']} hypothesis examples run")

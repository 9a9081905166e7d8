"""The exported conformance suite (keraslite.testing) on every usable backend, and its coverage:
every primitive registered with `defop` has a row."""
import os
import subprocess
import sys
import textwrap

import pytest

from keraslite.backend.graph import OPS, defop
from keraslite.testing import CHECKS, Skip, check_form, coverage, forms, run_check, table
from keraslite.testing.table import flag_mismatches, missing_rows, registered_primitives, stale_rows

ROWS = table()


def test_every_primitive_has_a_row():
    missing = missing_rows()
    assert not missing, f"primitives without a row in keraslite.testing: {missing}"
    assert len(registered_primitives()) == len(OPS) > 0


def test_every_primitive_named_in_the_sources_has_a_row():
    """defop("name", ...) anywhere in keraslite (even in a module nothing has imported yet)."""
    import re

    import keraslite
    root = os.path.dirname(keraslite.__file__)
    named = set()
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(folder, f), encoding="utf-8") as handle:
                    named |= set(re.findall(r'defop\(\s*"([a-z0-9_]+)"', handle.read()))
    assert len(named) > 40  # the literal defop("...") sites (47 at issue 13: 79 primitives, some defined in loops)
    assert sorted(named - set(ROWS)) == []


def test_no_row_names_an_unregistered_primitive():
    assert not stale_rows()


def test_differentiable_flags_agree_with_the_registry():
    assert not flag_mismatches()


def test_a_new_primitive_without_a_row_is_reported():
    defop("conformance_probe_op", lambda x: (x.shape, x.dtype))
    try:
        assert "conformance_probe_op" in missing_rows()
    finally:
        del OPS["conformance_probe_op"]
    assert "conformance_probe_op" not in missing_rows()


def test_backend_implements_every_primitive(kbackend):
    problems = [p for p in coverage(kbackend) if p[0] == "implements"]
    assert not problems, problems


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("op", list(ROWS))
def test_row(op, check, kbackend):
    try:
        run_check(check, ROWS[op], kbackend)
    except Skip as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("form", list(forms()))
def test_fused_form(form, kbackend):
    note = check_form(forms()[form], kbackend)
    if kbackend == "numba":  # numba declares every form: each must be taken
        assert note == "fused kernel taken", f"numba declares {form} but did not fuse it"


def test_integer_pow_with_a_negative_exponent_raises(kbackend):
    """Found by the conformance table: the fused Numba kernel crashed the process here."""
    import numpy as np

    from keraslite import backend as K
    x = K.placeholder(shape=(2,), dtype="int32")
    f = K.function([x], [K.pow(x, -1) + 1])
    with pytest.raises(ValueError, match="negative integer powers"):
        f([np.array([2, 3], dtype="int32")])


def test_rows_are_deterministic():
    from keraslite.testing.checks import seeded
    row = ROWS["conv"]
    a = row.samples(seeded(row, "float32"), "float32")
    b = row.samples(seeded(row, "float32"), "float32")
    for sa, sb in zip(a, b):
        for x, y in zip(sa.args, sb.args):
            assert (x == y).all()


def _cli(*args, code=None):
    cmd = [sys.executable, "-m", "keraslite.testing", *args] if code is None else [sys.executable, "-c", code, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_cli_passes_on_a_correct_backend():
    out = _cli("numpy", "--ops", "tanh,K.softsign,conv2d+bias")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tanh" in out.stdout and "3 ops:" in out.stdout and "0 failed" in out.stdout


def test_cli_fails_on_a_wrong_third_party_backend():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import keraslite
        from keraslite.backend.interface import ArrayBackend
        from keraslite.testing import main

        class Broken(ArrayBackend):
            name = "broken"
            def tanh(self, x):
                return np.tanh(x) * 1.001   # wrong forward (and so a wrong gradient)
            def sum(self, x, axes, keepdims):
                return np.sum(x, axis=axes, keepdims=keepdims)[..., None]   # wrong shape
        keraslite.register_backend("broken", Broken)
        sys.exit(main(sys.argv[1:]))
    """)
    out = _cli("broken", "--ops", "tanh,sum", code=code)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL tanh [forward]" in out.stdout and "FAIL sum [shape]" in out.stdout


def test_cli_rejects_unknown_backends_and_rows():
    assert _cli("no_such_backend").returncode == 2
    assert _cli("numpy", "--ops", "no_such_row").returncode == 2

"""keraslite.testing: the op conformance suite, exported so that any backend can be checked.

An OpInfo table holds one row per primitive (every `defop` registration, keyed by its name) and
per composite K function ('K.<name>'): how to build the op, an independent NumPy formula, input
samples (size-0 and size-1 axes included where the op allows, deterministic seeds), dtypes,
tolerances per dtype and a differentiable flag. Generic checks run every row on a backend:

* forward against the formula;
* the VJP against central finite differences in float64;
* the compiler's fused plan against the unfused one (plus the declared fused forms);
* the inferred static shape and dtype against the computed array.

Run it with ``python -m keraslite.testing <backend>`` (exit status 1 on any failure), or from
Python with ``run_conformance(backend)``. A primitive registered without a row is a failure.
"""
from .checks import CHECKS, Skip, run_check
from .fused_forms import FusedForm, check_form, forms
from .opinfo import GRAD_TOLERANCE, TOLERANCES, OpInfo, Sample
from .runner import Report, coverage, main, run_conformance
from .table import composite_rows, missing_rows, primitive_rows, registered_primitives, stale_rows, table

__all__ = ["CHECKS", "GRAD_TOLERANCE", "TOLERANCES", "FusedForm", "OpInfo", "Report", "Sample", "Skip",
           "check_form", "composite_rows", "coverage", "forms", "main", "missing_rows", "primitive_rows",
           "registered_primitives", "run_check", "run_conformance", "stale_rows", "table"]

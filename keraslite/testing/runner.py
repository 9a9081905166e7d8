"""The conformance runner: every row's checks on one backend, the coverage checks, the fused
forms, and a per-op summary. Used by `python -m keraslite.testing <backend>`; needs no pytest."""
from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback
from dataclasses import dataclass, field

from .checks import CHECKS, Skip, run_check
from .fused_forms import check_form, forms
from .table import flag_mismatches, missing_rows, registered_primitives, stale_rows, table

# primitives the compiler evaluates itself (no backend method needed)
COMPILER_OPS = {"tuple_get", "update"}


@dataclass
class Result:
    op: str
    check: str
    status: str          # "ok", "skip" or "FAIL"
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    backend: str
    results: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return [r for r in self.results if r.status == "FAIL"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self, verbose: bool = False) -> str:
        """One line per op (a column per check), then every failure in full."""
        by_op: dict = {}
        for r in self.results:
            by_op.setdefault(r.op, {})[r.check] = r
        checks = list(CHECKS)
        width = max([len(op) for op in by_op] + [10])
        lines = [f"keraslite conformance on backend '{self.backend}'",
                 f"{'op':<{width}}  " + "  ".join(f"{c:<7}" for c in checks) + "  other"]
        for op, rs in by_op.items():
            cells = [f"{rs[c].status if c in rs else '-':<7}" for c in checks]
            other = [f"{c}={r.status}" + (f" ({r.detail})" if r.status != "FAIL" and r.detail else "")
                     for c, r in rs.items() if c not in checks]
            lines.append(f"{op:<{width}}  " + "  ".join(cells) + ("  " + " ".join(other) if other else ""))
            if verbose:
                lines += [f"    {c}: {r.detail}" for c, r in rs.items() if r.detail and r.status != "FAIL"]
        n = {s: sum(1 for r in self.results if r.status == s) for s in ("ok", "skip", "FAIL")}
        lines.append(f"{len(by_op)} ops: {n['ok']} checks passed, {n['skip']} skipped, {n['FAIL']} failed")
        for r in self.failures:
            lines.append(f"\nFAIL {r.op} [{r.check}]\n{r.detail}")
        return "\n".join(lines)


def _run(report: Report, op: str, check: str, fn) -> None:
    start = time.perf_counter()
    sink = io.StringIO()  # print_tensor and friends write here, not over the summary
    try:
        with contextlib.redirect_stdout(sink):
            detail = fn()
        status = "ok"
    except Skip as e:
        status, detail = "skip", str(e)
    except AssertionError as e:
        status, detail = "FAIL", str(e)
    except Exception:
        status, detail = "FAIL", traceback.format_exc(limit=6)
    report.results.append(Result(op, check, status, detail or "", time.perf_counter() - start))


def coverage(backend_name: str) -> list:
    """(check, problem) pairs: primitives without a row, rows for no primitive, differentiable
    flags that disagree with the registry, primitives the backend does not implement."""
    from ..backend.graph import OPS
    from ..backend.registry import get_backend_object
    problems = [("row", f"the primitive '{m}' has no row in keraslite.testing") for m in missing_rows()]
    problems += [("row", f"the row '{s}' names no registered primitive") for s in stale_rows()]
    problems += [("flag", m) for m in flag_mismatches()]
    backend = get_backend_object(backend_name)
    for name in sorted(registered_primitives()):
        if name in COMPILER_OPS or OPS[name].build is not None:
            continue
        if not callable(getattr(backend, name, None)):
            problems.append(("implements", f"backend '{backend_name}' has no method for the primitive '{name}'"))
    return problems


def run_conformance(backend: str, ops=None, checks=CHECKS, include_forms: bool = True) -> Report:
    """run_conformance(backend, ops=None, checks=CHECKS): run the table on a registered backend
    (name or alias); `ops` limits the rows (exact names). Returns a Report (`.ok`, `.summary()`)."""
    from ..backend.registry import get_backend_object, resolve_name, use_backend
    name = resolve_name(backend)
    get_backend_object(name)  # raises BackendUnavailableError with the reason
    report = Report(name)
    rows = table()
    unknown = sorted(set(ops or ()) - set(rows) - set(forms()))
    if unknown:
        raise ValueError(f"keraslite.testing: no rows named {unknown}")
    with use_backend(name):
        if ops is None:
            problems = coverage(name)
            _run(report, "(coverage)", "coverage", lambda: _raise_problems(problems))
        for op, row in rows.items():
            if ops is not None and op not in ops:
                continue
            for check in checks:
                _run(report, op, check, lambda c=check, r=row: run_check(c, r, name))
        if include_forms:
            for fname, form in forms().items():
                if ops is None or fname in ops:
                    _run(report, fname, "fused form", lambda f=form: check_form(f, name))
    return report


def _raise_problems(problems) -> str:
    if problems:
        raise AssertionError("\n".join(f"[{kind}] {msg}" for kind, msg in problems))
    return "every primitive has a row and a backend method"


def main(argv=None) -> int:
    """The command line: `python -m keraslite.testing BACKEND [--ops a,b] [--checks forward,vjp] [-v]`."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m keraslite.testing",
                                     description="Run keraslite's op conformance suite against a backend.")
    parser.add_argument("backend", help="a registered backend name or alias (numba, numpy, cuda, ...)")
    parser.add_argument("--ops", help="comma-separated row names to run (default: every row)")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated subset of {','.join(CHECKS)}")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each passing check's detail")
    args = parser.parse_args(argv)
    if args.list:
        for op, row in table().items():
            kind = "primitive" if row.primitive else "composite"
            print(f"{op:<36} {kind:<9} dtypes={','.join(row.dtypes)} differentiable={row.differentiable}")
        return 0
    checks = tuple(c.strip() for c in args.checks.split(",") if c.strip())
    bad = [c for c in checks if c not in CHECKS]
    if bad:
        parser.error(f"unknown checks {bad}; expected a subset of {list(CHECKS)}")
    ops = [o.strip() for o in args.ops.split(",")] if args.ops else None
    try:
        report = run_conformance(args.backend, ops=ops, checks=checks)
    except (ValueError, RuntimeError) as e:
        print(f"python -m keraslite.testing: {e}", file=sys.stderr)
        return 2
    print(report.summary(verbose=args.verbose))
    return 0 if report.ok else 1

"""Machine description and Markdown tables for the benchmark harness (parent side, no frameworks)."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def cpu_model_and_flags() -> tuple[str, dict[str, bool]]:
    """The CPU's model name and whether it has AVX2 / AVX-512F, from /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                if model and flags and key == "flags":
                    break
    except OSError:
        pass
    return model, {flag: flag in flags for flag in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16")}


def machine_info(threads: int, keep_coretype: bool, isa: str = "host") -> dict:
    model, flags = cpu_model_and_flags()
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if isa != "host":
        coretype_note = "'Haswell' for the benchmark children (--isa avx2)"
    elif coretype is None:
        coretype_note = "not set"
    elif keep_coretype:
        coretype_note = f"{coretype!r}, kept for the benchmark children (--keep-openblas-coretype)"
    else:
        coretype_note = f"{coretype!r} here; unset for the benchmark children only"
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu_model": model, "cpu_flags": flags,
            "logical_cpus": os.cpu_count(), "allowed_cpus": allowed, "threads": threads,
            "python": platform.python_version(), "platform": platform.platform(),
            "openblas_coretype": coretype_note, "isa": isa,
            "loadavg_start": os.getloadavg() if hasattr(os, "getloadavg") else None}


def fmt_value(v: float, digits: int) -> str:
    return f"{v:,.{digits}f}"


def fmt_stat(s: dict | None, digits: int) -> str:
    """median (min-max) over rounds; just the value for one round."""
    if not s:
        return "failed"
    med = fmt_value(s["median"], digits)
    if s["n"] == 1:
        return med
    return f"{med} ({fmt_value(s['min'], digits)}–{fmt_value(s['max'], digits)})"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine_section(report: dict) -> str:
    m = report["machine"]
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["cpu_flags"].items())
    load = lambda l: " / ".join(f"{x:.2f}" for x in l) if l else "?"  # noqa: E731
    pin = ("every child pinned to CPUs " + str(m["allowed_cpus"][:m["threads"]])
           if m["allowed_cpus"] and m["threads"] < len(m["allowed_cpus"]) else "no pinning needed")
    return "\n".join([
        "## Machine and method", "",
        f"- {m['date_utc']}; CPU: {m['cpu_model']}; {m['logical_cpus']} logical CPUs; {flags}",
        *([f"- **instruction set held to AVX2 for every contender** (--isa avx2: AVX-512 off in Numba, "
           "PyTorch/oneDNN/MKL, OpenBLAS, NumPy and XLA), emulating a machine of this kind without AVX-512"]
          if m.get("isa", "host") != "host" else []),
        f"- {m['threads']} thread(s) for every contender ({pin}); Python {m['python']}; {m['platform']}",
        f"- OPENBLAS_CORETYPE: {m['openblas_coretype']}",
        f"- load average (1/5/15 min) at start {load(m['loadavg_start'])}, at end {load(m.get('loadavg_end'))}; "
        f"run took {m.get('wall_s', 0) / 60:.1f} min",
        f"- {report['rounds']} round(s); each contender runs in its own fresh process, the order rotated by one "
        "per round; figures are medians over rounds (min–max); ratios are between medians of this run",
    ])


def blas_line(entries: list[dict]) -> str:
    parts = []
    for e in entries:
        if "error" in e:
            parts.append(e["error"])
            continue
        arch = f" {e['architecture']}" if e.get("architecture") else ""
        parts.append(f"{e.get('internal_api', '?')}{arch} {e.get('version') or ''} "
                     f"{e.get('num_threads', '?')} thr ({e.get('file', '')})".replace("  ", " "))
    return "; ".join(parts) or "none loaded"


def frameworks_section(report: dict) -> str:
    """One row per contender: framework versions, threads and the BLAS kernels its process loaded."""
    seen: dict[str, dict] = {}
    for w in report["workloads"].values():
        for c, results in w["runs"].items():
            for r in results:
                if "error" not in r and c not in seen:
                    seen[c] = r
    rows = []
    for c, r in seen.items():
        fw = r["frameworks"]
        versions = ", ".join(f"{k} {fw[k]}" for k in ("keraslite", "numpy", "numba", "torch", "jax", "keras")
                             if k in fw)
        threads = ", ".join(f"{k.replace('_threads', '')} {fw[k]}" for k in ("numba_threads", "torch_threads")
                            if k in fw)
        extra = []
        if "torch_cpu_capability" in fw:
            extra.append(f"torch CPU capability {fw['torch_cpu_capability']}, BLAS {fw.get('torch_blas')}")
        if "numba_threading_layer" in fw:
            extra.append(f"Numba layer {fw['numba_threading_layer']}")
        if "jax_devices" in fw:
            extra.append(f"jax devices {fw['jax_devices']}")
        rows.append([c, versions, threads or "-", blas_line(r["blas"]), "; ".join(extra) or "-"])
    return "## Frameworks and BLAS (threadpoolctl, in each contender's process)\n\n" + table(
        ["contender", "versions", "threads", "BLAS / OpenMP libraries loaded", "notes"], rows)


def _ratio(a: dict | None, b: dict | None, higher_is_better: bool) -> str:
    """Speed ratio of keraslite's median (a) to a peer's (b): > 1 means keraslite faster."""
    if not (a and b and a["median"] and b["median"]):
        return "-"
    return f"{(a['median'] / b['median'] if higher_is_better else b['median'] / a['median']):.2f}×"


def _pairs(contenders: list[str], workload) -> list[tuple[str, str]]:
    mine = [c for c in contenders if c.startswith("keraslite-")]
    peers = [c for c in contenders if not c.startswith("keraslite-")]
    variants = workload.keraslite_variants != ("",)  # e.g. cold against warm, once
    return [(k, p) for i, k in enumerate(mine) for p in peers + (mine[i + 1:] if variants else [])]


RATIO_NOTE = ("Ratios of medians, same run (speed: > 1 means keraslite faster; memory: keraslite's peak RSS / "
              "the peer's, < 1 means keraslite uses less):")


def workload_section(name: str, w: dict, workload) -> str:
    s, cs = w["summary"], w["contenders"]
    out = [f"## {name}: {w['title']}", ""]
    pairs = _pairs(cs, workload)
    if workload.by_metric:
        header = ["case", *cs, *[f"{k} vs {p}" for k, p in pairs]]
        rows = [[m.label] + [fmt_stat(s[c].get(m.key), m.digits) for c in cs]
                + [_ratio(s[k].get(m.key), s[p].get(m.key), m.higher_is_better) for k, p in pairs]
                for m in workload.metrics]
        rows.append(["peak RSS MiB"] + [fmt_stat(s[c].get("rss_peak_mb"), 0) for c in cs]
                    + [_ratio(s[k].get("rss_peak_mb"), s[p].get("rss_peak_mb"), True) for k, p in pairs])
        out += [table(header, rows), "", RATIO_NOTE.replace("Ratios", "Ratio columns: ratios")]
    else:
        header = ["contender"] + [m.label for m in workload.metrics] + ["peak RSS MiB", "RSS before model MiB"]
        rows = [[c] + [fmt_stat(s[c].get(m.key), m.digits) for m in workload.metrics]
                + [fmt_stat(s[c].get("rss_peak_mb"), 0), fmt_stat(s[c].get("rss_before_model_mb"), 0)] for c in cs]
        out.append(table(header, rows))
        ratio_rows = [[k, p] + [_ratio(s[k].get(m.key), s[p].get(m.key), m.higher_is_better)
                                for m in workload.metrics]
                      + [_ratio(s[k].get("rss_peak_mb"), s[p].get("rss_peak_mb"), True)] for k, p in pairs]
        if ratio_rows:
            out += ["", RATIO_NOTE, ""]
            out.append(table(["keraslite", "vs", *[m.label for m in workload.metrics], "peak RSS ratio"],
                             ratio_rows))
    errors = [f"- {c}: {err}" for c in cs for err in s[c]["errors"]]
    if errors:
        out += ["", "Failed runs:", *errors]
    notes = [(c, n) for c in cs for r in w["runs"][c][:1] if "error" not in r for n in r["notes"]]
    if notes:
        out += ["", "Notes (first round):", "```", *[f"{c}: {n}" for c, n in notes], "```"]
    return "\n".join(out)


def render(report: dict, workloads: dict) -> str:
    parts = [machine_section(report), frameworks_section(report)]
    for name, w in report["workloads"].items():
        parts.append(workload_section(name, w, workloads[name]))
    return "\n\n".join(parts) + "\n"


def write_outputs(report: dict, text: str, out: str) -> None:
    """All results as JSON at `out`; the Markdown tables beside it (same name, .md)."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str))
    path.with_suffix(".md").write_text(text)
    print(f"# wrote {path} and {path.with_suffix('.md')}")

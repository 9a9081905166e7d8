"""Every benchmark in one run: the tutorial convnet, the MLP, the tutorial ResNet50 and the cold
first step, each contender in its own fresh process, alternating, rounds outermost (so that a
noisy minute hits every workload alike). Prints Markdown tables and, with --out, writes them
beside a JSON file of every measurement.

Check that every contender runs (tiny sizes, one round; also fills keraslite's kernel caches):
    python bench/run_all.py --quick
The full measurement (about 8-10 minutes on 2 quiet cores with PyTorch and Keras 3/jax installed):
    python bench/run_all.py --rounds 3 --out bench/results.json
Add the kernel micro-benchmarks with --kernels (not part of the default run).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convmodel  # noqa: E402
import first_step  # noqa: E402
import mlp  # noqa: E402
import resnet50  # noqa: E402
from _harness import add_common_args, run_workloads  # noqa: E402

WORKLOADS = {"convnet": convmodel.WORKLOAD, "mlp": mlp.WORKLOAD, "resnet50": resnet50.WORKLOAD,
             "first_step": first_step.WORKLOAD}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--kernels", action="store_true",
                    help="also run bench/kernels.py and bench/kernels_numba_raw.py (op-level micro-benchmarks)")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    workloads = [WORKLOADS[n] for n in names]
    if args.kernels:
        import kernels
        import kernels_numba_raw
        workloads += [kernels.WORKLOAD, kernels_numba_raw.WORKLOAD]
    run_workloads(workloads, args)


if __name__ == "__main__":
    main()

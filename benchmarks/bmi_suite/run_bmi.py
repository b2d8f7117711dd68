"""Run bmi's own estimators on the suite's CSV samples (run in bmi's virtualenv).

Each (task, seed, estimator) cell appends one JSON line to ``--results``; cells already
there are skipped, so a stopped run resumes. Estimators are bmi's with its defaults,
KSG with k = 10.

    .venv-bmi/bin/python benchmarks/bmi_suite/run_bmi.py --tasks runs/bmi-tasks \
        --results benchmarks/bmi_suite/cells/bmi.jsonl --estimators ksg,cca
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from cells import append_cell, pending


def make_estimators() -> dict:
    """bmi's estimators by our short name, each built with bmi's defaults."""
    from bmi import estimators as E

    return {
        "ksg": lambda: E.KSGEnsembleFirstEstimator(neighborhoods=(10,)),
        "cca": lambda: E.CCAMutualInformationEstimator(),
        "infonce": lambda: E.InfoNCEEstimator(verbose=False),
        "nwj": lambda: E.NWJEstimator(verbose=False),
        "dv": lambda: E.DonskerVaradhanEstimator(verbose=False),
        "mine": lambda: E.MINEEstimator(verbose=False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=Path, required=True, help="folder written by tasks.py")
    parser.add_argument("--results", type=Path, required=True, help="JSON lines to append to")
    parser.add_argument("--estimators", default="ksg,cca,infonce,nwj,dv,mine")
    parser.add_argument("--only", default="", help="regular expression on task ids")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--shard", default="0/1", help="i/n: every n-th task from the i-th")
    args = parser.parse_args()
    factories = make_estimators()
    names = [n for n in args.estimators.split(",") if n]
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise SystemExit(f"unknown estimator(s) {unknown}; choose from {sorted(factories)}")
    estimators = [f"bmi-{n}" for n in names]
    cells = pending(
        args.tasks, args.results, estimators, args.only, args.rows, args.seeds, args.shard
    )
    for task, seed, x, y, name in cells:
        start = time.perf_counter()
        try:
            mi, error = float(factories[name.removeprefix("bmi-")]().estimate(x, y)), None
        except Exception as exc:  # a peer's failure is a result, not a stop
            mi, error = float("nan"), f"{type(exc).__name__}: {exc}"[:300]
        row = {
            "task": task["id"],
            "seed": seed,
            "estimator": name,
            "mi": mi if np.isfinite(mi) else None,
            "seconds": round(time.perf_counter() - start, 3),
            "error": error,
        }
        append_cell(args.results, row, task["mi_true"])


if __name__ == "__main__":
    main()

"""Run bmi's own estimators on the suite's CSV samples (run in bmi's virtualenv).

Each (task, seed, estimator) cell appends one JSON line to ``--results``; cells already
there are skipped, so a stopped run resumes. Estimators are bmi's with its defaults
(KSG with neighbourhoods 5 and 10 as in bmi's benchmark reports k = 10).

    .venv-bmi/bin/python benchmarks/bmi_suite/run_bmi.py --tasks runs/bmi-tasks \
        --results runs/bmi-tasks/bmi.jsonl --estimators ksg,cca
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd


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


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) arrays of one of bmi's CSV files (columns X0.. then Y0..)."""
    frame = pd.read_csv(path)
    x = frame[[c for c in frame.columns if c.startswith("X")]].to_numpy()
    y = frame[[c for c in frame.columns if c.startswith("Y")]].to_numpy()
    return x, y


def done_cells(results: Path) -> set[tuple[str, int, str]]:
    if not results.exists():
        return set()
    cells = set()
    for line in results.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            cells.add((row["task"], row["seed"], row["estimator"]))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=Path, required=True, help="folder written by tasks.py")
    parser.add_argument("--results", type=Path, required=True, help="JSON lines to append to")
    parser.add_argument("--estimators", default="ksg,cca,infonce,nwj,dv,mine")
    parser.add_argument("--only", default="", help="regular expression on task ids")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    factories = make_estimators()
    names = [n for n in args.estimators.split(",") if n]
    unknown = [n for n in names if n not in factories]
    if unknown:
        raise SystemExit(f"unknown estimator(s) {unknown}; choose from {sorted(factories)}")
    listing = json.loads((args.tasks / "tasks.json").read_text())
    done = done_cells(args.results)
    for task in listing:
        if args.only and not re.search(args.only, task["id"]):
            continue
        for seed in (int(s) for s in args.seeds.split(",")):
            x, y = read_sample(args.tasks / task["id"] / f"{args.rows}-{seed}.csv")
            for name in names:
                if (task["id"], seed, name) in done:
                    continue
                start = time.perf_counter()
                try:
                    mi, error = float(factories[name]().estimate(x, y)), None
                except Exception as exc:  # a peer's failure is a result, not a stop
                    mi, error = float("nan"), f"{type(exc).__name__}: {exc}"[:300]
                row = {
                    "task": task["id"],
                    "seed": seed,
                    "estimator": f"bmi-{name}",
                    "mi": mi if np.isfinite(mi) else None,
                    "seconds": round(time.perf_counter() - start, 3),
                    "error": error,
                }
                with args.results.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                print(
                    f"{task['id']:55s} s{seed} {name:8s} {mi:8.3f} "
                    f"(true {task['mi_true']:.3f}) {row['seconds']:.1f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""Run infomax's ``estimate_mi`` on the suite's CSV samples (run in infomax's virtualenv).

Each (task, seed, estimator) cell appends one JSON line to ``--results``; cells already
there are skipped, so a stopped run resumes. ``default`` is ``estimate_mi`` with every
option at its default; ``ksg`` is infomax's k-NN reference (``bound="ksg"``).

    .venv/bin/python benchmarks/bmi_suite/run_infomax.py --tasks runs/bmi-tasks \
        --results runs/bmi-tasks/infomax.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import infomax

ESTIMATORS: dict[str, dict[str, Any]] = {
    "default": {},
    "ksg": {"bound": "ksg"},
}


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) arrays of one of bmi's CSV files (columns X0.. then Y0..)."""
    with path.open() as handle:
        rows = list(csv.reader(handle))
    header, values = rows[0], np.asarray(rows[1:], dtype=np.float64)
    x_cols = [i for i, name in enumerate(header) if name.startswith("X")]
    y_cols = [i for i, name in enumerate(header) if name.startswith("Y")]
    return values[:, x_cols], values[:, y_cols]


def done_cells(results: Path) -> set[tuple[str, int, str]]:
    if not results.exists():
        return set()
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {(r["task"], r["seed"], r["estimator"]) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=Path, required=True, help="folder written by tasks.py")
    parser.add_argument("--results", type=Path, required=True, help="JSON lines to append to")
    parser.add_argument("--estimators", default="default,ksg")
    parser.add_argument("--only", default="", help="regular expression on task ids")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [n for n in args.estimators.split(",") if n]
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
                result = infomax.estimate_mi(x, y, seed=seed, **ESTIMATORS[name])
                row = {
                    "task": task["id"],
                    "seed": seed,
                    "estimator": f"infomax-{name}",
                    "mi": float(result.mi),
                    "stderr": float(result.stderr),
                    "ci90": list(getattr(result, "ci90", None) or []) or None,
                    "seconds": round(time.perf_counter() - start, 3),
                }
                with args.results.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                print(
                    f"{task['id']:55s} s{seed} {name:8s} {row['mi']:8.3f} "
                    f"(true {task['mi_true']:.3f}) {row['seconds']:.1f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()

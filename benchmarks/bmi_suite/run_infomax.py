"""Run infomax's ``estimate_mi`` on the suite's CSV samples (run in infomax's virtualenv).

Each (task, seed, estimator) cell appends one JSON line to ``--results``; cells already
there are skipped, so a stopped run resumes. ``default`` is ``estimate_mi`` with every
option at its default; ``repeats3`` is the default repeated on 3 fresh splits (its interval
covers retraining); ``ksg`` is infomax's k-NN reference (``bound="ksg"``).

    .venv/bin/python benchmarks/bmi_suite/run_infomax.py --tasks runs/bmi-tasks \
        --results benchmarks/bmi_suite/cells/infomax.jsonl
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from cells import append_cell, pending

import infomax

ESTIMATORS: dict[str, dict[str, Any]] = {
    "default": {},
    "repeats3": {"repeats": 3},
    "ksg": {"bound": "ksg"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=Path, required=True, help="folder written by tasks.py")
    parser.add_argument("--results", type=Path, required=True, help="JSON lines to append to")
    parser.add_argument("--estimators", default="default,ksg")
    parser.add_argument("--only", default="", help="regular expression on task ids")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--shard", default="0/1", help="i/n: every n-th task from the i-th")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [f"infomax-{n}" for n in args.estimators.split(",") if n]
    cells = pending(args.tasks, args.results, names, args.only, args.rows, args.seeds, args.shard)
    for task, seed, x, y, name in cells:
        start = time.perf_counter()
        options = ESTIMATORS[name.removeprefix("infomax-")]
        result = infomax.estimate_mi(x, y, seed=seed, progress=False, **options)
        row = {
            "task": task["id"],
            "seed": seed,
            "estimator": name,
            "mi": float(result.mi),
            "stderr": float(result.stderr),
            "ci90": None if result.ci90 is None else list(result.ci90),
            "heldout_estimate": result.info.get("heldout_estimate"),
            "training_readout": result.info.get("training_readout"),
            "critic": result.info.get("critic"),
            "critic_candidates": result.info.get("critic_candidates"),
            "critic_steps": result.info.get("critic_steps"),
            "blend": result.info.get("blend"),
            "start": result.info.get("start"),
            "start_shrinkage": result.info.get("start_shrinkage"),
            "warnings": result.info.get("warnings", []),
            "seconds": round(time.perf_counter() - start, 3),
            "threads": args.threads,
        }
        append_cell(args.results, row, task["mi_true"])


if __name__ == "__main__":
    main()

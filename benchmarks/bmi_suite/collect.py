"""Collect the bmi suite's JSON lines into one result file and print its tables.

Reads ``tasks.json`` written by ``tasks.py`` and the JSON lines of ``run_bmi.py`` and
``run_infomax.py``; writes ``benchmarks/results/bmi_suite.json`` (every cell, and per
task and per family the mean estimate, |error| and wall time of each estimator) and
prints the tables. Per task, |error| is ``|mean over seeds - true MI|``; "within" is
``|error| <= max(0.1 nats, 10% of the true MI)``.

    python benchmarks/bmi_suite/collect.py --tasks runs/bmi-tasks \
        --results runs/bmi-tasks/bmi.jsonl runs/bmi-tasks/infomax.jsonl \
        --json benchmarks/results/bmi_suite.json

``--seeds 0`` keeps only those seeds' cells, so that estimators run on different numbers
of seeds so far are compared on the same rows. ``--gaussian-limit`` adds each task's
large-sample Gaussian MI (what CCA converges to; ``gaussian_limit.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _record import write_result  # noqa: E402


def tolerance(true_mi: float) -> float:
    """The accuracy goal of a task: max(0.1 nats, 10% of its true MI)."""
    return max(0.1, 0.1 * true_mi)


#: The estimator the suite is run for; the others are bmi's.
INFOMAX = "infomax-default"
#: How much further from the truth than the closest bmi estimator a task may be (nats).
BEHIND_MARGIN = 0.05


def behind_closest(per_task: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tasks on which infomax is more than :data:`BEHIND_MARGIN` further from the truth
    than the closest of bmi's estimators: id, infomax's |error|, that estimator and its."""
    behind = []
    for entry in per_task:
        if INFOMAX not in entry:
            continue
        others = [
            (entry[name]["abs_error"], name)
            for name, value in entry.items()
            if isinstance(value, dict) and name.startswith("bmi-")
        ]
        if not others:
            continue
        error, name = min(others)
        if entry[INFOMAX]["abs_error"] > error + BEHIND_MARGIN:
            behind.append(
                {
                    "id": entry["id"],
                    "infomax_error": entry[INFOMAX]["abs_error"],
                    "closest": name,
                    "closest_error": error,
                }
            )
    return behind


def summarise(tasks: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-task and per-family summaries of every estimator's cells."""
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_cell[(row["task"], row["estimator"])].append(row)
    estimators = sorted({row["estimator"] for row in rows})
    per_task = []
    for task in tasks:
        keys = ("id", "family", "dim_x", "dim_y", "mi_true", "gaussian_limit")
        entry: dict[str, Any] = {k: task[k] for k in keys if k in task}
        for name in estimators:
            cells = [r for r in by_cell.get((task["id"], name), []) if r["mi"] is not None]
            if not cells:
                continue
            mean = sum(r["mi"] for r in cells) / len(cells)
            entry[name] = {
                "mean": mean,
                "abs_error": abs(mean - task["mi_true"]),
                "within": abs(mean - task["mi_true"]) <= tolerance(task["mi_true"]),
                "seeds": len(cells),
                "seconds": _mean_seconds(cells),
            }
        per_task.append(entry)
    per_family: dict[str, dict[str, Any]] = {}
    for family in dict.fromkeys(t["family"] for t in tasks):
        members = [e for e in per_task if e["family"] == family]
        summary: dict[str, Any] = {"tasks": len(members)}
        for name in estimators:
            done = [e[name] for e in members if name in e]
            if not done:
                continue
            closest = sum(
                1
                for e in members
                if name in e
                and e[name]["abs_error"]
                <= min(e[o]["abs_error"] for o in estimators if o in e) + 1e-12
            )
            summary[name] = {
                "tasks_done": len(done),
                "mean_abs_error": sum(d["abs_error"] for d in done) / len(done),
                "within": sum(d["within"] for d in done),
                "closest": closest,
            }
        per_family[family] = summary
    coverage = interval_coverage(tasks, rows)
    timing = {}
    for name in estimators:
        ran = _with_most_threads([r for r in rows if r["estimator"] == name and "seconds" in r])
        timed = sorted((r["seconds"], r["task"]) for r in ran)
        if timed:
            timing[name] = {
                "cells": len(timed),
                "median_seconds": timed[len(timed) // 2][0],
                "max_seconds": timed[-1][0],
                "slowest_task": timed[-1][1],
                "over_60_seconds": sum(seconds > 60.0 for seconds, _ in timed),
                "threads": [ran[0]["threads"]] if ran[0].get("threads") else [],
            }
    return {
        "estimators": estimators,
        "per_task": per_task,
        "behind_closest": behind_closest(per_task),
        "per_family": per_family,
        "coverage": coverage,
        "timing": timing,
    }


def _with_most_threads(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cells run with the most threads: runs with fewer were run for their estimates,
    beside other work, so their wall times are not the suite's."""
    most = max((r.get("threads", 0) for r in cells), default=0)
    return [r for r in cells if r.get("threads", 0) == most]


def _mean_seconds(cells: list[dict[str, Any]]) -> float:
    """Mean wall time of the cells run with the most threads."""
    timed = [r["seconds"] for r in _with_most_threads(cells)]
    return sum(timed) / len(timed)


def interval_coverage(tasks: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per estimator: its cells with a 90% interval, and how many hold the true MI.

    ``covered_symmetric`` counts the same intervals with the upper side mirrored from the
    lower one about the held-out estimate (``h -/+ (h - low)``, ``h`` the row's
    ``heldout_estimate``, else its ``mi``): infomax's interval without its raise to the
    training rows' read-out, the reference the raise is measured against.
    """
    truth = {task["id"]: task["mi_true"] for task in tasks}
    coverage = {}
    for name in sorted({row["estimator"] for row in rows}):
        cells = [r for r in rows if r["estimator"] == name and r.get("ci90") and r["task"] in truth]
        if cells:
            inside = sum(r["ci90"][0] <= truth[r["task"]] <= r["ci90"][1] for r in cells)
            mirrored = sum(
                r["ci90"][0] <= truth[r["task"]] <= 2 * _centre(r) - r["ci90"][0] for r in cells
            )
            coverage[name] = {"cells": len(cells), "covered": inside, "covered_symmetric": mirrored}
    return coverage


def _centre(row: dict[str, Any]) -> float:
    """The estimate an interval is built on: the held-out one where the row has it, nats."""
    heldout = row.get("heldout_estimate")
    return row["mi"] if heldout is None else heldout


def _read_rows(paths: list[Path], seeds: str) -> list[dict[str, Any]]:
    rows = [
        json.loads(line) for path in paths for line in path.read_text().splitlines() if line.strip()
    ]
    if seeds:
        keep = {int(s) for s in seeds.split(",")}
        rows = [row for row in rows if row["seed"] in keep]
    for row in rows:
        if row.get("mi") is not None and not math.isfinite(row["mi"]):
            row["mi"] = None
    return rows


def family_table(summary: dict[str, Any]) -> str:
    """Markdown: per family, each estimator's mean |error| / within / closest."""
    names = summary["estimators"]
    lines = ["| family | tasks | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    for family, entry in summary["per_family"].items():
        cells = []
        for name in names:
            s = entry.get(name)
            cells.append(
                ""
                if s is None
                else f"{s['mean_abs_error']:.3f} ({s['within']}/{s['tasks_done']}, {s['closest']})"
            )
        lines.append(f"| {family} | {entry['tasks']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=Path, required=True)
    parser.add_argument("--results", type=Path, nargs="+", required=True)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--coverage-only",
        type=Path,
        nargs="*",
        default=[],
        help="results of estimators run on part of the suite: counted for interval coverage, "
        "left out of the tables",
    )
    parser.add_argument(
        "--seeds", default="", help="comma-separated seeds to keep (default: every seed run)"
    )
    parser.add_argument(
        "--gaussian-limit",
        type=Path,
        default=None,
        help="JSON lines of gaussian_limit.py: each task's large-sample Gaussian MI",
    )
    args = parser.parse_args()
    tasks = json.loads((args.tasks / "tasks.json").read_text())
    if args.gaussian_limit:
        limits = [json.loads(line) for line in args.gaussian_limit.read_text().splitlines()]
        by_task = {row["task"]: row for row in limits}
        for task in tasks:
            if task["id"] in by_task:
                task["gaussian_limit"] = by_task[task["id"]]["gaussian_mi"]
                task["gaussian_limit_rows"] = by_task[task["id"]]["rows"]
    rows = _read_rows(args.results, args.seeds)
    summary = summarise(tasks, rows)
    # Estimators run on part of the suite so far: their intervals' coverage only.
    summary["coverage"] |= interval_coverage(tasks, _read_rows(args.coverage_only, args.seeds))
    print("mean |error| in nats (tasks within max(0.1, 10%) / tasks run, tasks closest)")
    print(family_table(summary))
    for name, entry in summary["coverage"].items():
        held = f"{entry['covered']}/{entry['cells']}"
        mirrored = f"{entry['covered_symmetric']}/{entry['cells']}"
        print(
            f"{name}: the 90% interval holds the truth in {held} cells "
            f"({mirrored} with the upper side mirrored from the lower)"
        )
    if args.json:
        write_result(args.json, {"tasks": tasks, "cells": rows, **summary})


if __name__ == "__main__":
    main()

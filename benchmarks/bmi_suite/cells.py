"""What the suite's runners share: reading a sample, and resumable JSON lines of cells.

Standard library and NumPy only, so that both virtualenvs (bmi's and infomax's) import it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def read_sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) arrays (float64) of one of bmi's CSV files (columns X0.. then Y0..)."""
    with path.open() as handle:
        rows = list(csv.reader(handle))
    header, values = rows[0], np.asarray(rows[1:], dtype=np.float64)
    x_cols = [i for i, name in enumerate(header) if name.startswith("X")]
    y_cols = [i for i, name in enumerate(header) if name.startswith("Y")]
    return values[:, x_cols], values[:, y_cols]


def done_cells(results: Path) -> set[tuple[str, int, str]]:
    """(task, seed, estimator) of every cell already in ``results``."""
    if not results.exists():
        return set()
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {(r["task"], r["seed"], r["estimator"]) for r in rows}


def pending(
    tasks: Path,
    results: Path,
    names: list[str],
    only: str,
    rows: int,
    seeds: str,
    shard: str = "0/1",
) -> Iterator[tuple[dict[str, Any], int, np.ndarray, np.ndarray, str]]:
    """(task, seed, x, y, estimator) of every cell not yet in ``results``, task by task.

    ``names`` are the estimators' names as written to ``results``; ``only`` is a regular
    expression on task ids (empty: all); ``shard`` ``"i/n"`` keeps every n-th task from the
    i-th, so n processes (one per shard, each with its own results file) share the suite.
    """
    index, count = (int(part) for part in shard.split("/"))
    listing = json.loads((tasks / "tasks.json").read_text())[index::count]
    done = done_cells(results)
    for task in listing:
        if only and not re.search(only, task["id"]):
            continue
        for seed in (int(s) for s in seeds.split(",")):
            todo = [n for n in names if (task["id"], seed, n) not in done]
            if not todo:
                continue
            x, y = read_sample(tasks / task["id"] / f"{rows}-{seed}.csv")
            for name in todo:
                yield task, seed, x, y, name


def append_cell(results: Path, row: dict[str, Any], true_mi: float) -> None:
    """Append one cell's JSON line to ``results`` and print it."""
    with results.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(
        f"{row['task']:55s} s{row['seed']} {row['estimator']:16s} "
        f"{row['mi'] if row['mi'] is not None else float('nan'):8.3f} "
        f"(true {true_mi:.3f}) {row['seconds']:.1f} s",
        flush=True,
    )

"""Write bmi's task samples as CSV files (run in bmi's virtualenv, see setup.sh).

All 40 tasks of bmi's v1 benchmark, each wrapped in ``transform_rescale`` as bmi's own
workflow does, and the v2 mixture tasks, at ``--rows`` rows for each of ``--seeds``.
Layout: ``OUT/<task_id>/<rows>-<seed>.csv`` (bmi's ``save_sample``: columns X0.. Y0..)
and ``OUT/tasks.json`` with each task's id, name, family, dimensions and true MI (nats).

    .venv-bmi/bin/python benchmarks/bmi_suite/tasks.py --out runs/bmi-tasks
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bmi.benchmark import task_list
from bmi.benchmark.tasks import mixtures
from bmi.benchmark.tasks.scaling import transform_rescale

V1_FAMILIES = {
    "1-dim": task_list.ONE_DIM_TASKS,
    "embedding": task_list.EMBEDDINGS_TASKS,
    "multinormal": task_list.MULTINORMAL_TASKS,
    "student": task_list.STUDENT_TASKS,
    "transformed": task_list.TRANSFORMED_TASKS,
}


def mixture_tasks() -> list:
    """bmi's v2 mixture tasks with their default parameters."""
    return [
        mixtures.task_x(),
        mixtures.task_ai(),
        mixtures.task_waves(),
        mixtures.task_galaxy(),
        mixtures.task_concentric_multinormal(dim_x=3),
        mixtures.task_concentric_multinormal(dim_x=5),
        mixtures.task_multinormal_sparse_w_inliers(dim_x=5, dim_y=5),
    ]


def all_tasks() -> list[tuple[str, object]]:
    """(family, task) for every task of the suite, v1 rescaled, then the mixtures."""
    tasks = [
        (family, transform_rescale(task)) for family, group in V1_FAMILIES.items() for task in group
    ]
    return tasks + [("mixtures", task) for task in mixture_tasks()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    listing = []
    for family, task in all_tasks():
        start = time.perf_counter()
        folder = args.out / task.id
        folder.mkdir(exist_ok=True)
        for seed in seeds:
            path = folder / f"{args.rows}-{seed}.csv"
            if not path.exists():
                task.save_sample(path, n_samples=args.rows, seed=seed)
        entry = {
            "id": task.id,
            "name": task.name,
            "family": family,
            "dim_x": task.dim_x,
            "dim_y": task.dim_y,
            "mi_true": float(task.mutual_information),
        }
        listing.append(entry)
        print(
            f"{task.id:60s} {family:12s} I={entry['mi_true']:.3f} "
            f"({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    (args.out / "tasks.json").write_text(json.dumps(listing, indent=1) + "\n")
    print(f"{len(listing)} tasks x {len(seeds)} seeds -> {args.out}")


if __name__ == "__main__":
    main()

"""The large-sample value of CCA's estimate on each task (run in bmi's virtualenv).

CCA reports the MI of the Gaussian with the sample's covariance. On 5,000 rows that
value is biased upward by about ``d_x d_y / (2 N)`` nats (its covariance is fitted to the
rows it reads), so on a wide task CCA can look closer to the truth than the Gaussian
part of the dependence is. This script samples ``--rows`` rows of each task (a seed of
its own, not one of the suite's) and writes the Gaussian MI of their covariance: what
CCA converges to, the linear part of the dependence.

    .venv-bmi/bin/python benchmarks/bmi_suite/gaussian_limit.py \
        --results benchmarks/bmi_suite/cells/gaussian_limit.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tasks import all_tasks  # noqa: E402


def gaussian_mi(x: np.ndarray, y: np.ndarray) -> float:
    """MI of the Gaussian with the covariance of the rows (n, d_x), (n, d_y): nats."""
    corr = np.corrcoef(np.concatenate([x, y], axis=1), rowvar=False)
    d = x.shape[1]
    logdet = [np.linalg.slogdet(m)[1] for m in (corr[:d, :d], corr[d:, d:], corr)]
    return float(0.5 * (logdet[0] + logdet[1] - logdet[2]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="JSON lines to append to")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--only", default="", help="regular expression on task ids")
    args = parser.parse_args()
    done = set()
    if args.results.exists():
        done = {json.loads(line)["task"] for line in args.results.read_text().splitlines()}
    for _, task in all_tasks():
        if task.id in done or (args.only and not re.search(args.only, task.id)):
            continue
        start = time.perf_counter()
        x, y = (np.asarray(a, dtype=np.float64) for a in task.sample(args.rows, seed=args.seed))
        row = {
            "task": task.id,
            "rows": args.rows,
            "seed": args.seed,
            "gaussian_mi": gaussian_mi(x, y),
            "seconds": round(time.perf_counter() - start, 3),
        }
        with args.results.open("a") as out:
            out.write(json.dumps(row) + "\n")
        print(f"{task.id:60s} {row['gaussian_mi']:.4f} ({row['seconds']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()

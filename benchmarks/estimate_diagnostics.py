"""Where does ``estimate_mi`` lose nats? Its trained critic against a task's exact log ratio.

Runs :func:`infomax.estimate_mi` with its defaults on a ground-truth task (the
Student-t by default, the one task short of the 5% goal), then scores fresh
rows of the same task with the kept critic (:meth:`MIEstimate.scores`) and
compares them with the exact log density ratio on the same rows:

* the DV value of both critics on the fresh rows (what the read-out would give);
* the pointwise error ``f - f*`` of the DV-normalised critic on the positive pairs
  (mean and standard deviation; a DV deficit of about half its variance is
  expected);
* how much of each partition the top negative pairs carry (is it tail-dominated?);
* the positive-pair error by quantile of ``|x|`` (where does the critic go wrong?).

Usage::

    .venv/bin/python benchmarks/estimate_diagnostics.py [--task student-t] [--rows 7500]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.special import logsumexp


def _log_mean_exp(values: np.ndarray) -> float:
    return float(logsumexp(values) - np.log(values.size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="student-t", choices=("student-t", "gaussian"))
    parser.add_argument("--samples", type=int, default=50_000, help="rows given to estimate_mi")
    parser.add_argument("--rows", type=int, default=7500, help="fresh rows scored afterwards")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)

    import torch

    from infomax import distributions as D
    from infomax import estimate_mi

    torch.set_num_threads(args.threads)
    if args.task == "student-t":
        task = D.student_t(dim=5, dof=3.0, mi=2.0)
    else:
        task = D.correlated_gaussian(dim=20, mi=10.0)
    x, y = task.sample(args.samples, seed=0)
    start = time.perf_counter()
    result = estimate_mi(x, y, progress=False)
    seconds = time.perf_counter() - start
    xf, yf = task.sample(args.rows, seed=1)
    trained = result.scores(xf, yf)
    exact = task.log_density_ratio(torch.from_numpy(xf), torch.from_numpy(yf)).double().numpy()
    off = ~np.eye(args.rows, dtype=bool)
    out: dict[str, object] = {
        "task": task.label,
        "true_mi": task.mi,
        "estimate": result.mi,
        "stderr": result.stderr,
        "seconds": seconds,
    }
    normalised = {}
    for name, scores in (("trained", trained), ("exact", exact)):
        shifted = scores - _log_mean_exp(scores[off])
        normalised[name] = shifted
        partition = np.sort(np.exp(shifted[off]))[::-1]
        out[name] = {
            "dv_on_fresh_rows": float(np.diag(shifted).mean()),
            "partition_share_top100": float(partition[:100].sum() / partition.sum()),
            "partition_share_top10000": float(partition[:10000].sum() / partition.sum()),
        }
    error = np.diag(normalised["trained"]) - np.diag(normalised["exact"])
    out["positive_error_mean"] = float(error.mean())
    out["positive_error_std"] = float(error.std())
    radius = np.linalg.norm(xf, axis=1)
    edges = np.quantile(radius, [0.0, 0.5, 0.9, 0.99, 1.0])
    by_radius = []
    for lo, hi, label in zip(
        edges[:-1], edges[1:], ("0-50%", "50-90%", "90-99%", "99-100%"), strict=True
    ):
        rows = (radius >= lo) & (radius <= hi)
        by_radius.append(
            {"quantile": label, "rows": int(rows.sum()), "error": float(error[rows].mean())}
        )
    out["error_by_x_norm"] = by_radius

    print(
        f"{task.label}: true MI {task.mi:.3f}, estimate {result.mi:.3f} ± {result.stderr:.3f} "
        f"({seconds:.0f} s)"
    )
    for name in ("trained", "exact"):
        row = out[name]
        assert isinstance(row, dict)
        print(
            f"{name:>8} critic on {args.rows} fresh rows: DV {row['dv_on_fresh_rows']:.3f}, "
            f"top 100 / 10,000 negatives carry {row['partition_share_top100']:.1%} / "
            f"{row['partition_share_top10000']:.1%} of the partition"
        )
    print(
        f"positive-pair error of the trained critic: mean {error.mean():.3f}, "
        f"std {error.std():.3f} nats (half its variance: {error.var() / 2:.3f})"
    )
    print(
        "error by |x| quantile: "
        + ", ".join(f"{r['quantile']} {r['error']:.2f}" for r in by_radius)
    )
    if args.json_out:
        with open(args.json_out, "w") as handle:
            json.dump(out, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

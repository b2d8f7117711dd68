"""``estimate_cmi`` against known conditional MI: zero (two kinds) and a Gaussian closed form.

Tasks (10,000 rows each):

* ``nonlinear-zero``: z ~ N(0, 1), y = z^2 + 0.1 e, x ~ N(0, 1) independent of both:
  I(x; y | z) = 0, and p(y | z) is far from linear-Gaussian.
* ``common-cause-zero``: x = z + e_x, y = z + e_y (3 coordinates each): x and y are
  dependent (0.43 nats) but I(x; y | z) = 0.
* ``gaussian``: z, x independent N(0, I_2), y = 0.8 [z, x] + 0.6 e: I(x; y | z) =
  -log(1 - 0.64) = 1.02 nats.

Each conditional estimator runs with ``estimate_mi(x, y, given=z, conditional=...)``
(the computation behind ``estimate_cmi``), so ``--estimators is,bo,var`` measures the
``var`` rows too, which ``estimate_cmi`` does not offer (they cost about ten times as
much: every row scores its own K samples of q). The result file is rewritten after
every cell, and cells already in it are kept, so a stopped run resumes.

Usage::

    python benchmarks/estimate_cmi.py [--seeds 0,1] [--estimators is,bo] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _record import RESULTS, read_result, write_result
from infomax import estimate_mi


def tasks(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """name -> (x, y, z, true I(x; y | z) in nats)."""
    rng = np.random.default_rng(seed)
    z1 = rng.standard_normal((n, 1))
    nonlinear = (rng.standard_normal((n, 1)), z1**2 + 0.1 * rng.standard_normal((n, 1)), z1, 0.0)
    z3 = rng.standard_normal((n, 3))
    common = (z3 + rng.standard_normal((n, 3)), z3 + rng.standard_normal((n, 3)), z3, 0.0)
    z2, x2 = rng.standard_normal((n, 2)), rng.standard_normal((n, 2))
    y2 = 0.8 * np.concatenate([z2, x2], 1) + 0.6 * rng.standard_normal((n, 4))
    gaussian = (x2, y2, z2, -math.log(1 - 0.64))
    return {"nonlinear-zero": nonlinear, "common-cause-zero": common, "gaussian": gaussian}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--estimators", default="is,bo", help="conditional estimators")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "estimate_cmi.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    rows: list[dict[str, Any]] = read_result(out)["results"] if out.exists() else []
    done = {(row["task"], row["seed"], row["conditional"]) for row in rows}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for name, (x, y, z, truth) in tasks(args.rows, seed).items():
            for conditional in args.estimators.split(","):
                if (name, seed, conditional) in done:
                    continue
                start = time.perf_counter()
                result = estimate_mi(
                    x, y, given=z, conditional=conditional, seed=seed, progress=False
                )
                term = result.terms[-1]
                rows.append(
                    {
                        "task": name,
                        "seed": seed,
                        "conditional": conditional,
                        "truth": truth,
                        "cmi": term["mi"],
                        "heldout_cmi": term.get("heldout_mi"),
                        "training_readout": term.get("training_readout"),
                        "stderr": term["stderr"],
                        "ci90": term.get("ci90"),
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(rows[-1], flush=True)
                write_result(out, {"rows": args.rows, "results": rows})


if __name__ == "__main__":
    main()

"""DEMI with analytically optimal critics: how much does the chain rule recover?

On the ``dim``-dimensional coordinate-wise correlated Gaussian (``x ~ N(0, I)``,
``y = rho x + sqrt(1 - rho^2) eps``) with every coordinate carrying ``MI / dim``
nats, ``x`` is split into ``n`` nested prefixes of equal width, so each
chain-rule term carries ``MI / n``. With the optimal critics
(``psi* = log p(y | x') / p(y)``, ``phi* = log p(y | x) / p(y | x')``) and no
training, each batch of ``K`` pairs gives:

* ``infonce``: InfoNCE of the full optimal critic (the ``n = 1`` chain);
* ``oracle``: InfoNCE(psi*_1) + conditional InfoNCE terms with ``K - 1``
  negatives per row drawn from the exact ``p(y | x_{k-1})``;
* ``is``: InfoNCE(psi*_1) + ``I_IS`` terms (in-batch negatives weighted by
  ``psi*`` of the previous prefix);
* ``bo``: InfoNCE(psi*_1) + ``I_BO`` terms (telescopes to ``infonce`` exactly);
* ``ess``: the mean effective sample size of the ``I_IS`` weights.

Batches are drawn until every reported mean has a standard error below the
target. Usage::

    python benchmarks/demi_optimal_critics.py --mi 10 20 30 --batch 64 128 \\
        --views 1 2 4 5 --json demi_optimal_critics.json
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from _record import write_result
from infomax.bench.demi_optimal import optimal_markdown, optimal_setting


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mi", type=float, nargs="+", default=[10.0, 20.0, 30.0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--views", type=int, nargs="+", default=[1, 2, 4, 5])
    parser.add_argument("--dim", type=int, default=20)
    parser.add_argument("--target-stderr", type=float, default=0.03)
    parser.add_argument("--min-batches", type=int, default=100, help="batches per round")
    parser.add_argument("--max-batches", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=str, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    for n in args.views:
        if n < 1 or args.dim % n:
            parser.error(f"--views {n} must divide --dim {args.dim}")
    torch.set_num_threads(1)
    rows: list[dict[str, float]] = []
    start = time.perf_counter()
    for mi in args.mi:
        for batch in args.batch:
            rows += optimal_setting(
                mi,
                batch,
                args.views,
                args.dim,
                args.target_stderr,
                args.min_batches,
                args.max_batches,
                args.seed,
            )
            print(
                f"# MI={mi:g} K={batch} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr
            )
    print(optimal_markdown(rows))
    if args.json:
        write_result(args.json, {"args": vars(args), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

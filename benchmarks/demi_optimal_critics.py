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
import json
import math
import sys
import time

import numpy as np
import torch

from infomax.bounds import infonce
from infomax.conditional import (
    GaussianOracle,
    boosted_conditional_infonce,
    conditional_infonce,
    importance_sampled_infonce,
    optimal_critic_scores,
    optimal_phi_scores,
    optimal_psi_scores,
)

METHODS = ("infonce", "oracle", "is", "bo")


def rho_for_mi(mi_per_coordinate: float) -> float:
    """Correlation whose coordinate pair carries ``mi_per_coordinate`` nats."""
    return math.sqrt(-math.expm1(-2.0 * mi_per_coordinate))


def chain_estimates(
    x: torch.Tensor,
    y: torch.Tensor,
    rho: torch.Tensor,
    n_views: int,
    oracles: dict[int, GaussianOracle],
    generator: torch.Generator,
) -> dict[str, float]:
    """Chain totals of every method on one batch (nats) and the mean I_IS ESS.

    Args:
        x: (K, dim) batch of ``x``.
        y: (K, dim) paired batch of ``y``.
        rho: (dim,) correlations.
        n_views: number of equal-width nested prefixes.
        oracles: exact samplers of ``p(y | x[:p])`` by prefix width ``p``.
        generator: random generator for the oracle negatives.

    Returns:
        ``{"infonce", "oracle", "is", "bo", "ess"}``; ``ess`` is NaN for ``n = 1``.
    """
    batch, dim = x.shape
    widths = [dim * k // n_views for k in range(1, n_views + 1)]
    full = infonce(optimal_psi_scores(x, y, rho, dim)).item()
    first = infonce(optimal_psi_scores(x, y, rho, widths[0])).item()
    totals = {"infonce": full, "oracle": first, "is": first, "bo": first}
    ess = []
    for prev, cur in zip(widths, widths[1:], strict=False):
        psi, phi = optimal_critic_scores(x, y, rho, prev, cur)
        estimate, weights_ess = importance_sampled_infonce(phi, psi)
        totals["is"] += estimate.item()
        ess.append(weights_ess.item())
        totals["bo"] += boosted_conditional_infonce(phi, psi).item()
        negatives = oracles[prev].sample(x[:, :prev], batch - 1, generator=generator)
        candidates = torch.cat([y[:, None, :], negatives], dim=1)
        totals["oracle"] += conditional_infonce(optimal_phi_scores(x, candidates, rho, prev, cur))
    totals["oracle"] = float(totals["oracle"])
    totals["ess"] = float(np.mean(ess)) if ess else math.nan
    return totals


def run_setting(
    mi: float,
    batch: int,
    views: list[int],
    dim: int,
    target_stderr: float,
    min_batches: int,
    max_batches: int,
    seed: int,
) -> list[dict[str, float]]:
    """Average every method over batches until all standard errors are below target."""
    rho_value = rho_for_mi(mi / dim)
    rho = torch.full((dim,), rho_value, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    prefixes = {dim * k // n for n in views for k in range(1, n)}
    oracles = {p: GaussianOracle(rho, p) for p in prefixes}
    records: dict[int, list[dict[str, float]]] = {n: [] for n in views}
    drawn = 0
    while True:
        for _ in range(min_batches):
            x = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
            eps = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
            y = rho * x + torch.sqrt(1.0 - rho.square()) * eps
            for n in views:
                records[n].append(chain_estimates(x, y, rho, n, oracles, generator))
        drawn += min_batches
        worst = max(
            np.std([r[m] for r in records[n]], ddof=1) / math.sqrt(drawn)
            for n in views
            for m in METHODS
        )
        if worst < target_stderr or drawn >= max_batches:
            break
    rows = []
    for n in views:
        row: dict[str, float] = {"mi": mi, "batch": batch, "views": n, "batches": drawn}
        for m in METHODS:
            values = np.array([r[m] for r in records[n]])
            row[m] = float(values.mean())
            row[f"{m}_stderr"] = float(values.std(ddof=1) / math.sqrt(drawn))
        ess = np.array([r["ess"] for r in records[n]])
        row["ess"] = float(ess.mean()) if n > 1 else math.nan
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    """The results as a markdown table."""
    header = (
        "| MI | K | log K | n | InfoNCE (n=1) | oracle chain | I_IS chain | I_BO chain | "
        "I_IS ESS | max stderr | batches |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for r in rows:
        ess = "—" if math.isnan(r["ess"]) else f"{r['ess']:.1f}"
        stderr = max(r[f"{m}_stderr"] for m in METHODS)
        lines.append(
            f"| {r['mi']:g} | {r['batch']:d} | {math.log(r['batch']):.2f} | {r['views']:d} | "
            f"{r['infonce']:.2f} | {r['oracle']:.2f} | {r['is']:.2f} | {r['bo']:.2f} | "
            f"{ess} | {stderr:.3f} | {r['batches']:d} |"
        )
    return "\n".join(lines)


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
            rows += run_setting(
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
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

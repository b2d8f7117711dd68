"""DEMI's estimators with the analytically optimal critics on the synthetic Gaussian.

The ceiling each trained estimator of :mod:`infomax.bench.demi` can aim at: on
the task of Sordoni et al. (2021), section 5.1 (``x ~ N(0, I)``,
``y = rho x + sqrt(1 - rho^2) eps`` coordinate-wise, ``x`` split into ``n``
nested prefixes of equal width), every chain-rule term is evaluated with its
optimal critic (:mod:`infomax.distributions`) and averaged over fresh batches.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from infomax.bounds import (
    boosted_conditional_infonce,
    conditional_infonce,
    importance_sampled_infonce,
    infonce,
)
from infomax.distributions import (
    gaussian_pairs,
    optimal_critic_scores,
    optimal_phi_scores,
    optimal_psi_scores,
    rho_from_mi,
)
from infomax.samplers import GaussianOracle

__all__ = ["OPTIMAL_METHODS", "chain_estimates", "optimal_markdown", "optimal_setting"]

#: Chain totals :func:`optimal_setting` reports (``infonce`` is the n = 1 value).
OPTIMAL_METHODS = ("infonce", "oracle", "is", "bo")


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


def optimal_setting(
    mi: float,
    batch: int,
    views: list[int],
    dim: int,
    target_stderr: float,
    min_batches: int,
    max_batches: int,
    seed: int,
) -> list[dict[str, float]]:
    """Average every method's chain total over batches until all standard errors are below target.

    Args:
        mi: true I(x; y), nats, spread equally over the ``dim`` coordinates.
        batch: K, the batch size.
        views: numbers of nested sub-views n to evaluate (1: InfoNCE only).
        dim: width of x and y.
        target_stderr: stop once every method's standard error is below this, nats.
        min_batches: batches drawn per round (float64, fresh each).
        max_batches: stop after at least this many batches regardless.
        seed: seeds the batches and the oracle's negatives.

    Returns:
        One row per n: ``mi``, ``batch``, ``views``, ``batches``, and for each of
        :data:`OPTIMAL_METHODS` its mean chain total and ``<method>_stderr``
        (nats), and ``ess``, the mean I_IS effective sample size (NaN for n = 1).
    """
    rho = torch.full((dim,), float(rho_from_mi(mi / dim)[0]), dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    prefixes = {dim * k // n for n in views for k in range(1, n)}
    oracles = {p: GaussianOracle(rho, p) for p in prefixes}
    records: dict[int, list[dict[str, float]]] = {n: [] for n in views}
    drawn = 0
    while True:
        for _ in range(min_batches):
            x, y = gaussian_pairs(batch, rho, generator=generator, dtype=torch.float64)
            for n in views:
                records[n].append(chain_estimates(x, y, rho, n, oracles, generator))
        drawn += min_batches
        worst = max(
            np.std([r[m] for r in records[n]], ddof=1) / math.sqrt(drawn)
            for n in views
            for m in OPTIMAL_METHODS
        )
        if worst < target_stderr or drawn >= max_batches:
            break
    rows = []
    for n in views:
        row: dict[str, float] = {"mi": mi, "batch": batch, "views": n, "batches": drawn}
        for m in OPTIMAL_METHODS:
            values = np.array([r[m] for r in records[n]])
            row[m] = float(values.mean())
            row[f"{m}_stderr"] = float(values.std(ddof=1) / math.sqrt(drawn))
        ess = np.array([r["ess"] for r in records[n]])
        row["ess"] = float(ess.mean()) if n > 1 else math.nan
        rows.append(row)
    return rows


def optimal_markdown(rows: list[dict[str, float]]) -> str:
    """Rows of :func:`optimal_setting` as a markdown table."""
    header = (
        "| MI | K | log K | n | InfoNCE (n=1) | oracle chain | I_IS chain | I_BO chain | "
        "I_IS ESS | max stderr | batches |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for r in rows:
        ess = "—" if math.isnan(r["ess"]) else f"{r['ess']:.1f}"
        stderr = max(r[f"{m}_stderr"] for m in OPTIMAL_METHODS)
        lines.append(
            f"| {r['mi']:g} | {r['batch']:d} | {math.log(r['batch']):.2f} | {r['views']:d} | "
            f"{r['infonce']:.2f} | {r['oracle']:.2f} | {r['is']:.2f} | {r['bo']:.2f} | "
            f"{ess} | {stderr:.3f} | {r['batches']:d} |"
        )
    return "\n".join(lines)

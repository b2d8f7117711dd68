"""DEMI on the synthetic Gaussian: trained critics against the analytically optimal ones.

The task of Sordoni et al. (2021), section 5.1: ``x, y`` in ``R^dim`` (20 by
default), ``x ~ N(0, I)``, ``y = rho x + sqrt(1 - rho^2) eps`` coordinate-wise,
every coordinate pair carrying ``MI / dim`` nats. ``x`` is split into ``n``
nested prefixes of equal width, so each chain-rule term
``I(x_k; y | x_{k-1})`` carries ``MI / n`` nats and an InfoNCE-style term
capped at ``log K`` can still recover it when ``MI / n < log K``.

:func:`run_demi` trains, for each cell (MI, batch K, n), plain InfoNCE
(``n = 1``) and DEMI with every conditional estimator (``is``, ``bo``,
``var``, ``oracle``) with the same critic family and the same number of
steps on fresh batches, then evaluates each on fresh held-out batches. Each
cell is reported next to the value the same estimator reaches with the
analytically optimal critics (:func:`~infomax.bench.demi_optimal.optimal_setting`),
which is the ceiling training can aim at.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomax.bench.demi_optimal import optimal_setting
from infomax.distributions import gaussian_pairs, rho_from_mi
from infomax.jsonable import write_json_atomic
from infomax.minimise import minimise
from infomax.numerics import flush_denormals
from infomax.objectives import LOW_ESS, DecomposedObjective
from infomax.progress import Progress
from infomax.samplers import GaussianOracle

__all__ = [
    "ESTIMATORS",
    "format_demi_table",
    "merge_demi_results",
    "run_demi",
    "save_demi",
    "train_cell",
]

#: Conditional estimators compared by the benchmark (``infonce`` is the n = 1 baseline).
ESTIMATORS = ("oracle", "is", "bo", "var")


@flush_denormals()  # sharp critics otherwise slow down on subnormal floats
def train_cell(
    mi: float,
    batch: int,
    n_views: int,
    estimator: str,
    *,
    dim: int = 20,
    steps: int = 2000,
    lr: float = 5e-4,
    eval_batches: int = 64,
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    shared_critics: bool = False,
    seed: int = 0,
    curve_every: int = 0,
) -> dict[str, Any]:
    """Train one estimator on one cell and evaluate it on fresh batches.

    Args:
        mi: true I(x; y), nats.
        batch: K, the batch size (negatives per positive + 1).
        n_views: number of equal-width nested prefixes (1: plain InfoNCE).
        estimator: ``infonce`` (n = 1) or one of :data:`ESTIMATORS`.
        dim: width of x and y; must be divisible by ``n_views``.
        steps: Adam steps, a fresh batch each.
        lr: Adam learning rate.
        eval_batches: held-out batches for the estimate.
        hidden: hidden widths of every separable critic.
        embed_dim: embedding width of every separable critic.
        shared_critics: one network for all terms instead of one per term.
        seed: seeds the initialisation and the data.
        curve_every: if positive, estimate on a fresh batch every this many
            steps and return the ``curve`` of ``(step, nats)`` pairs.

    Returns:
        Dict with the estimate ``mi_hat`` and ``stderr`` (nats), the per-term
        means, the mean ESS of the importance weights (``is``), the wall time.
    """
    if dim % n_views:
        raise ValueError(f"n_views={n_views} must divide dim={dim}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rho = torch.full((dim,), float(rho_from_mi(mi / dim)[0]))
    widths = [dim * k // n_views for k in range(1, n_views)]
    objective = DecomposedObjective(
        dim,
        dim,
        widths,
        conditional="is" if estimator == "infonce" else estimator,
        critic="separable",
        shared_critics=shared_critics,
        oracle=(lambda p: GaussianOracle(rho, p)) if estimator == "oracle" else None,
        critic_kwargs={"hidden": tuple(hidden), "embed_dim": embed_dim},
    )
    start = time.perf_counter()
    if estimator == "var":
        # q(y | x') starts at its closed-form maximum-likelihood fit on a fresh sample
        # (a third of the rows the critics see in training, at most 20,000).
        fit_rows = max(4 * dim, min(20_000, steps * batch // 3))
        objective.fit_samplers(*gaussian_pairs(fit_rows, rho, generator=generator))
    curve: list[tuple[int, float]] = []

    def batch_loss(_: int) -> torch.Tensor:
        return objective.training_loss(*gaussian_pairs(batch, rho, generator=generator))

    def record(step: int, _: torch.Tensor) -> None:
        if curve_every and step % curve_every == 0:
            x, y = gaussian_pairs(batch, rho, generator=generator)
            curve.append((step, float(objective.estimate_terms(x, y).sum())))

    minimise(torch.optim.Adam(objective.parameters(), lr=lr), batch_loss, steps, after_step=record)
    train_seconds = time.perf_counter() - start
    objective.train(False)
    terms, ess = [], []
    for _ in range(eval_batches):
        x, y = gaussian_pairs(batch, rho, generator=generator)
        terms.append(objective.estimate_terms(x, y))
        if estimator == "is" and n_views > 1:
            diag = objective.diagnostics(x, y)
            ess.append(np.mean([v for k, v in diag.items() if k.startswith("ess/")]))
    per_batch = torch.stack(terms).double()
    totals = per_batch.sum(dim=1)
    return {
        "mi": mi,
        "batch": batch,
        "views": n_views,
        "estimator": estimator,
        "mi_hat": float(totals.mean()),
        "stderr": float(totals.std() / math.sqrt(eval_batches)),
        "terms": [float(t) for t in per_batch.mean(dim=0)],
        "term_names": objective.term_names,
        "ess": float(np.mean(ess)) if ess else math.nan,
        "train_seconds": train_seconds,
        "steps": steps,
        "curve": curve,
    }


def run_demi(
    mis: Sequence[float] = (10.0, 20.0, 30.0),
    batches: Sequence[int] = (64, 128),
    views: Sequence[int] = (1, 2, 4, 5),
    estimators: Sequence[str] = ESTIMATORS,
    *,
    steps: int = 2000,
    dim: int = 20,
    seed: int = 0,
    optimal_batches: int = 100,
    out: Path | None = None,
    progress: bool | None = None,
    resume: bool = False,
    shared_critics: bool = False,
) -> dict[str, Any]:
    """The full synthetic table: trained InfoNCE and DEMI next to their optimal-critic values.

    With ``out``, ``demi.json`` is rewritten after every cell (``"complete":
    false`` until the last), so an interrupted run keeps what it finished;
    ``resume=True`` then reuses the cells of an existing ``out/demi.json``
    trained with the same ``steps``, ``dim``, ``seed`` and ``shared_critics`` instead of training
    them again.

    Args:
        mis: true MI values, nats.
        batches: batch sizes K.
        views: numbers of sub-views n (n = 1 is plain InfoNCE).
        estimators: conditional estimators for n > 1.
        steps: training steps per cell.
        dim: width of x and y.
        seed: seed of every cell.
        optimal_batches: batches averaged for the optimal-critic values.
        out: directory for ``demi.json`` (:func:`save_demi`).
        progress: progress bar (None: only on a terminal).
        resume: reuse finished cells of ``out/demi.json`` (see above).
        shared_critics: one critic network for all chain-rule terms (see
            :class:`infomax.objectives.DecomposedObjective`) instead of one per term.

    Returns:
        JSON-ready dict: ``config`` and ``rows`` (one per trained cell, with
        ``optimal``: the same estimator's value with the optimal critics).
    """
    for name in estimators:
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    for n in views:
        if n < 1 or dim % n:
            raise ValueError(f"each number of sub-views must divide dim={dim}, got {n}")
    cells = [
        (mi, k, n, est)
        for mi in mis
        for k in batches
        for n in views
        for est in (("infonce",) if n == 1 else tuple(estimators))
    ]
    optimal: dict[tuple[float, int, int], dict[str, float]] = {}
    for mi in mis:
        for k in batches:
            for row in optimal_setting(
                mi, k, list(views), dim, 0.05, optimal_batches, optimal_batches, seed
            ):
                optimal[(mi, k, int(row["views"]))] = row
    config = {
        "mis": list(mis),
        "batches": list(batches),
        "views": list(views),
        "estimators": list(estimators),
        "steps": steps,
        "dim": dim,
        "seed": seed,
        "shared_critics": shared_critics,
    }
    done = _finished_cells(Path(out) / "demi.json", config) if resume and out is not None else {}
    rows: list[dict[str, Any]] = []
    with Progress(len(cells), "demi", enabled=progress, lines=True) as bar:
        for mi, k, n, est in cells:
            row = done.get((mi, k, n, est))
            if row is None:
                row = train_cell(
                    mi, k, n, est, dim=dim, steps=steps, seed=seed, shared_critics=shared_critics
                )
                reference = optimal[(mi, k, n)]
                # With q exact (a linear Gaussian is the right family here), I_VAR is the oracle.
                key = {
                    "infonce": "infonce",
                    "oracle": "oracle",
                    "is": "is",
                    "bo": "bo",
                    "var": "oracle",
                }.get(est)
                row["optimal"] = reference[key] if key else math.nan
                row["optimal_ess"] = reference["ess"] if est == "is" else math.nan
                row["log_k"] = math.log(k)
            rows.append(row)
            bar.update(mi=mi, K=k, views=n, est=est, value=row["mi_hat"])
            if out is not None and len(rows) < len(cells):
                save_demi({"config": config, "rows": rows, "complete": False}, Path(out))
    result = {"config": config, "rows": rows, "complete": True}
    if out is not None:
        save_demi(result, Path(out))
    return result


def save_demi(result: dict[str, Any], out: Path) -> None:
    """Write ``out/demi.json`` (strict JSON: NaN becomes ``null``), replacing it atomically.

    The figure is separate: :func:`infomax.bench.plots.plot_demi`.
    """
    write_json_atomic(out / "demi.json", result)


#: Settings every cell of one table must share (results from before
#: ``shared_critics`` existed used separate critics).
_SAME_SETTINGS = ("steps", "dim", "seed", "shared_critics")


def _setting(config: dict[str, Any], key: str) -> Any:
    return config.get(key, False if key == "shared_critics" else None)


def _cell_key(row: dict[str, Any]) -> tuple[float, int, int, str]:
    return (float(row["mi"]), int(row["batch"]), int(row["views"]), str(row["estimator"]))


def _finished_cells(
    path: Path, config: dict[str, Any]
) -> dict[tuple[float, int, int, str], dict[str, Any]]:
    """Cells of an earlier ``demi.json`` that a run with ``config`` may reuse."""
    if not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    same = all(_setting(earlier["config"], key) == config[key] for key in _SAME_SETTINGS)
    return {_cell_key(row): row for row in earlier["rows"]} if same else {}


def merge_demi_results(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One table from several :func:`run_demi` results (e.g. pieces run in parallel).

    Rows are keyed by (MI, K, n, estimator); a later result's row replaces an
    earlier one's. The merged ``config`` lists the union of each setting, and
    ``steps``, ``dim``, ``seed`` and ``shared_critics`` must agree, since cells
    trained differently do not belong in one table.

    Args:
        results: dicts as returned by :func:`run_demi` (or read from ``demi.json``).

    Returns:
        A result dict in the same format, rows sorted by MI, K, n and estimator.

    Raises:
        ValueError: no results, or results trained with different settings.
    """
    if not results:
        raise ValueError("nothing to merge")
    first = results[0]["config"]
    for result in results[1:]:
        for key in _SAME_SETTINGS:
            if _setting(result["config"], key) != _setting(first, key):
                raise ValueError(
                    f"cannot merge results with different {key}: "
                    f"{_setting(first, key)} and {_setting(result['config'], key)}"
                )
    rows = {_cell_key(row): row for result in results for row in result["rows"]}
    order = {name: i for i, name in enumerate(("infonce", *ESTIMATORS))}
    keys = sorted(rows, key=lambda k: (k[0], k[1], k[2], order.get(k[3], len(order))))
    config = {
        "mis": sorted({k[0] for k in keys}),
        "batches": sorted({k[1] for k in keys}),
        "views": sorted({k[2] for k in keys}),
        "estimators": [e for e in ESTIMATORS if any(k[3] == e for k in keys)],
        **{key: _setting(first, key) for key in _SAME_SETTINGS},
    }
    complete = all(result.get("complete", True) for result in results)
    return {"config": config, "rows": [rows[k] for k in keys], "complete": complete}


def _absent(value: float | None) -> bool:
    """No value: NaN in a fresh result, ``null`` (None) in one read back from JSON."""
    return value is None or math.isnan(value)


def format_demi_table(result: dict[str, Any]) -> str:
    """A markdown table: one row per cell, trained estimate ± stderr next to the optimal value."""
    lines = [
        "| true MI | K | log K | n | estimator | trained (nats) | optimal critic | ESS | flag |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        ess = "" if _absent(r["ess"]) else f"{r['ess']:.1f}"
        flags = []
        if r["mi_hat"] > r["mi"] + r["stderr"] + 0.3:
            flags.append("above true MI")
        if not _absent(r["ess"]) and r["ess"] < LOW_ESS:
            flags.append("low ESS")
        opt = "" if _absent(r["optimal"]) else f"{r['optimal']:.2f}"
        lines.append(
            f"| {r['mi']:g} | {r['batch']} | {r['log_k']:.2f} | {r['views']} | {r['estimator']} | "
            f"{r['mi_hat']:.2f} ± {r['stderr']:.2f} | {opt} | {ess} | {', '.join(flags)} |"
        )
    return "\n".join(lines)

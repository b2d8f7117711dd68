"""The MI "staircase" benchmark of Poole et al. (2019) and Song & Ermon (2020).

Pairs ``(x, y)`` are 20-dimensional correlated Gaussians, ``x ~ N(0, I)`` and
``y = rho x + sqrt(1 - rho^2) eps`` with ``rho = sqrt(1 - exp(-2 I / 20))`` so
that ``I(x; y) = I`` nats exactly. The true MI steps through 2, 4, 6, 8, 10
nats; a fresh batch is drawn at every optimiser step, and one critic per bound
is trained continuously across the stages (all of them as one stacked model,
:mod:`infomax.bench.stacked`). With ``cubic=True`` the critic sees ``y ** 3``
instead of ``y`` (an invertible map, so the MI is unchanged). The number
reported at each step is the bound evaluated on that step's training batch, as
in the original protocol. Estimates stay on the device in a preallocated
(steps, M) tensor; nothing synchronises per step.

The run uses the process as it finds it (torch threads, allocator); the
``infomax bench staircase`` command chooses those (:mod:`infomax.bench.process`).

Example:
    >>> from infomax.bench.staircase import format_table, run_staircase
    >>> result = run_staircase(["infonce", "smile"], steps_per_stage=200)  # doctest: +SKIP
    >>> print(format_table(result))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.bench.protocol import (
    BASELINE_HIDDEN,
    DEFAULT_BOUNDS,
    DIM,
    EMBED_DIM,
    HIDDEN,
    INTERPOLATED_ALPHA,
    MINE_MOMENTUM,
    SMILE_TAU,
    check_choices,
)
from infomax.bench.stacked import StackedStaircase, compute_dtype
from infomax.distributions import gaussian_pairs, rho_from_mi
from infomax.jsonable import to_jsonable, write_json_atomic
from infomax.progress import Progress

__all__ = [
    "JSON_HISTORY_LIMIT",
    "format_table",
    "load_history",
    "result_to_json",
    "run_staircase",
    "save_history",
    "save_staircase",
]

#: Values kept in the JSON file's per-step history at most (bounds x steps).
JSON_HISTORY_LIMIT = 20_000


def _summarise(values: Tensor) -> dict[str, Any]:
    finite = torch.isfinite(values)
    nonfinite = int((~finite).sum())
    if nonfinite:
        return {"mean": None, "std": None, "nonfinite": nonfinite}
    return {
        "mean": float(values.mean()),
        "std": float(values.std()) if values.numel() > 1 else 0.0,
        "nonfinite": 0,
    }


def run_staircase(
    bounds: Sequence[str] = DEFAULT_BOUNDS,
    critic: str = "separable",
    steps_per_stage: int = 4000,
    batch_size: int = 64,
    cubic: bool = False,
    stages: Sequence[float] = (2, 4, 6, 8, 10),
    lr: float = 5e-4,
    seed: int = 0,
    out: Path | None = None,
    progress: bool | None = None,
    precision: str = "float32",
) -> dict:
    """Train one critic per bound through the MI staircase and summarise the estimates.

    Args:
        bounds: bound names from :data:`~infomax.bench.protocol.BOUND_CHOICES` (or one
            comma-separated string).
        critic: ``separable`` (``g(x) . h(y)``) or ``concat`` (MLP on ``[x; y]``).
        steps_per_stage: optimiser steps at each true-MI value.
        batch_size: ``B``; InfoNCE cannot exceed ``log B`` nats.
        cubic: feed the critic ``y ** 3`` instead of ``y``.
        stages: true MI of each stage, nats.
        lr: Adam learning rate.
        seed: seeds the initial weights (``seed``) and the data (``seed + 1``);
            the caller's global RNG state is left untouched.
        out: directory for ``staircase.json`` and ``staircase_history.npz``
            (:func:`save_staircase`); nothing is written when ``None``. The
            figure is separate: :func:`infomax.bench.plots.plot_staircase`.
        progress: progress bar on stderr; ``None`` means only on a terminal.
        precision: ``float32`` (default), or ``bfloat16``: mixed precision for the
            critics' hidden layers (:class:`~infomax.bench.stacked.StackedCritic`),
            faster for the concat critic on a CPU with bfloat16 units (BENCHMARKS.md,
            section "Staircase speed: all bounds stacked vs a plain loop").

    It runs with the caller's torch threads (``torch.get_num_threads()``,
    recorded in the result's config) and changes no process setting.

    Returns:
        A JSON-ready dict (see :func:`result_to_json` for what goes to disk)::

            {"benchmark": "staircase",
             "config": {...every argument and protocol constant...},
             "true_mi": [2.0, 4.0, ...],          # per stage, nats
             "log_batch_size": 4.159,             # InfoNCE's cap, nats
             "summary_window": 1000,              # last quarter of each stage, steps
             "steps_per_second": ...,             # whole run; one step trains every bound
             "seconds": ...,
             "bounds": {"infonce": {"stages": [{"true_mi": 2.0, "mean": ...,
                                                "std": ..., "nonfinite": 0}, ...]},
                        ...},
             "history": {"infonce": [per-step estimates, nats], ...}}

        ``mean``/``std`` are over the last quarter of the stage's steps; they
        are ``None`` (with ``nonfinite`` > 0) where the bound diverged to
        inf/NaN in that window.
    """
    names = check_choices(bounds, critic)
    if steps_per_stage < 1:
        raise ValueError(f"steps_per_stage must be >= 1, got {steps_per_stage}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2, got {batch_size}")
    stage_mis = [float(mi) for mi in stages]
    if not stage_mis:
        raise ValueError("stages must list at least one true-MI value")
    for mi in stage_mis:
        if mi < 0:
            raise ValueError(f"mutual information must be >= 0 nats, got {mi}")
    compute_dtype(precision)  # validates

    result = _run(
        names, critic, steps_per_stage, batch_size, cubic, stage_mis, lr, seed, progress,
        precision=precision,
    )  # fmt: skip
    if out is not None:
        save_staircase(result, Path(out))
    return result


def save_staircase(result: dict, out: Path) -> None:
    """Write ``out/staircase.json`` (:func:`result_to_json`) and ``out/staircase_history.npz``."""
    write_json_atomic(out / "staircase.json", result_to_json(result))
    save_history(result, out / "staircase_history.npz")


def save_history(result: dict, path: Path) -> None:
    """Write the per-step estimates, (steps,) float32 per bound, to a compressed ``.npz``.

    :func:`load_history` reads them back, e.g. to re-plot a finished run with
    :func:`infomax.bench.plots.plot_staircase` when the JSON file left them out.
    """
    arrays = {
        name: np.asarray(values, dtype=np.float32) for name, values in result["history"].items()
    }
    np.savez_compressed(path, **arrays)


def load_history(path: Path) -> dict[str, list[float]]:
    """Per-step estimates written by :func:`save_history`: ``{bound: [nats, ...]}``."""
    with np.load(path) as data:
        return {name: data[name].astype(float).tolist() for name in data.files}


def _run(
    names: tuple[str, ...],
    critic: str,
    steps_per_stage: int,
    batch_size: int,
    cubic: bool,
    stage_mis: list[float],
    lr: float,
    seed: int,
    progress: bool | None,
    device: torch.device | str = "cpu",
    precision: str = "float32",
) -> dict[str, Any]:
    rhos = rho_from_mi(np.asarray(stage_mis) / DIM).tolist()
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG as it was
        torch.manual_seed(seed)
        # .to keeps the parameters' identity (the optimiser holds them)
        model = StackedStaircase(names, critic, lr, precision=precision).to(device)
    generator = torch.Generator(device).manual_seed(seed + 1)
    total = steps_per_stage * len(stage_mis)
    history = torch.empty(total, len(names), device=device)  # filled without synchronising
    bar = Progress(total, f"staircase {critic}", enabled=progress)
    show_every = max(total // 200, 1)

    start = time.perf_counter()
    step = 0
    for rho in rhos:
        for _ in range(steps_per_stage):
            x, y = gaussian_pairs(
                batch_size, rho, DIM, cubic=cubic, one_draw=True, generator=generator, device=device
            )
            history[step] = model.step(x, y)
            step += 1
            if bar.enabled and step % show_every == 0:
                bar.update(show_every, **dict(zip(names, history[step - 1].tolist(), strict=True)))
    history = history.cpu()  # waits for the device
    seconds = time.perf_counter() - start
    if bar.enabled:
        bar.update(total - bar.count)
    bar.close()

    window = max(steps_per_stage // 4, 1)
    per_bound: dict[str, Any] = {}
    for m, name in enumerate(names):
        stage_rows = []
        for s, mi in enumerate(stage_mis):
            end = (s + 1) * steps_per_stage
            stage_rows.append({"true_mi": mi, **_summarise(history[end - window : end, m])})
        per_bound[name] = {"stages": stage_rows}

    result: dict[str, Any] = {
        "benchmark": "staircase",
        "config": {
            "bounds": list(names),
            "critic": critic,
            "steps_per_stage": steps_per_stage,
            "batch_size": batch_size,
            "cubic": cubic,
            "stages": stage_mis,
            "lr": lr,
            "seed": seed,
            "dim": DIM,
            "hidden": list(HIDDEN),
            "embed_dim": EMBED_DIM if critic == "separable" else None,
            "baseline_hidden": list(BASELINE_HIDDEN),
            "smile_tau": SMILE_TAU,
            "interpolated_alpha": INTERPOLATED_ALPHA,
            "mine_momentum": MINE_MOMENTUM,
            "torch_version": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "precision": precision,
        },
        "true_mi": stage_mis,
        "log_batch_size": math.log(batch_size),
        "summary_window": window,
        "steps_per_second": total / seconds,
        "seconds": seconds,
        "bounds": per_bound,
        "history": {name: history[:, m].tolist() for m, name in enumerate(names)},
    }
    return result


def result_to_json(result: dict, include_history: bool | None = None) -> dict:
    """The part of a :func:`run_staircase` result that goes to disk / stdout.

    Args:
        result: as returned by :func:`run_staircase`.
        include_history: keep the per-step estimates; ``None`` keeps them only
            when there are at most :data:`JSON_HISTORY_LIMIT` values in all.

    Returns:
        A strict-JSON copy (:func:`infomax.jsonable.to_jsonable`: non-finite
        values become ``null``).
    """
    out = {k: v for k, v in result.items() if k != "history"}
    history = result.get("history", {})
    size = sum(len(v) for v in history.values())
    if include_history or (include_history is None and size <= JSON_HISTORY_LIMIT):
        out["history"] = history
    return to_jsonable(out)


def format_table(result: dict) -> str:
    """A plain-text table: one row per bound, one column per stage (mean ± std, nats).

    Args:
        result: as returned by :func:`run_staircase` (or read back from its JSON).

    Returns:
        The table, with the true MI as the header row and a footer giving the
        window, ``log B`` and the speed.
    """
    true_mi = result["true_mi"]
    names = list(result["bounds"])
    label = max(12, *(len(n) for n in names))
    rows: list[tuple[str, list[str]]] = []
    for name in names:
        cells = []
        for row in result["bounds"][name]["stages"]:
            if row["mean"] is None:
                cells.append("diverged")
            else:
                cells.append(f"{row['mean']:.2f} ± {row['std']:.2f}")
        rows.append((name, cells))
    cell = 2 + max([13, *(len(c) for _, cells in rows for c in cells)])
    header = f"{'true MI':<{label}}" + "".join(f"{mi:>{cell}.1f}" for mi in true_mi)
    lines = [header, "-" * len(header)]
    for name, cells in rows:
        lines.append(f"{name:<{label}}" + "".join(f"{c:>{cell}}" for c in cells))
    config = result["config"]
    lines.append(
        f"mean ± std over the last {result['summary_window']} of {config['steps_per_stage']} "
        f"steps per stage (nats); {config['critic']} critic, B = {config['batch_size']} "
        f"(log B = {result['log_batch_size']:.2f})"
        + (", cubic" if config["cubic"] else "")
        + f"; {result['steps_per_second']:.1f} steps/s"
    )
    return "\n".join(lines)

"""The benchmarks' figures, written as PNG files with matplotlib.

matplotlib is an optional dependency (``pip install 'infomax[plot]'``): every
command prints its table first and then calls :func:`plot_or_skip`, which
draws the figure when matplotlib imports and otherwise prints one line saying
why there is none.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "PLOT_SKIPPED",
    "have_matplotlib",
    "plot_demi",
    "plot_demo",
    "plot_or_skip",
    "plot_staircase",
]

#: Printed instead of a figure when matplotlib is missing.
PLOT_SKIPPED = "plot skipped: matplotlib is not installed (pip install 'infomax[plot]')"


def have_matplotlib() -> bool:
    """Whether ``import matplotlib`` succeeds."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_or_skip(
    plot: Callable[[dict[str, Any], Path], None],
    result: dict[str, Any],
    path: Path,
    note: TextIO | None = None,
) -> bool:
    """Draw ``plot(result, path)`` if matplotlib is installed, else print :data:`PLOT_SKIPPED`.

    Args:
        plot: one of this module's ``plot_*`` functions.
        result: what it draws.
        path: the PNG file to write.
        note: where the skip line goes (default ``sys.stderr``, so that a JSON
            result on stdout stays parseable).

    Returns:
        Whether the figure was written.
    """
    if not have_matplotlib():
        print(PLOT_SKIPPED, file=sys.stderr if note is None else note)
        return False
    plot(result, path)
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ema(values: Sequence[float], weight: float) -> list[float]:
    smoothed: list[float] = []
    state = math.nan
    for value in values:
        if not math.isfinite(value):
            smoothed.append(math.nan)
            continue
        state = value if math.isnan(state) else (1.0 - weight) * state + weight * value
        smoothed.append(state)
    return smoothed


def plot_staircase(result: dict, path: Path) -> None:
    """Save a figure of estimate vs step: one panel per bound.

    Each panel shows the raw per-step estimates (light), their exponential
    moving average (dark), the true MI as a staircase and ``log B`` dashed.

    Args:
        result: as returned by :func:`infomax.bench.staircase.run_staircase` (needs ``history``).
        path: where to write the PNG.
    """
    plt = _pyplot()

    names = list(result["bounds"])
    history = result["history"]
    steps_per_stage = result["config"]["steps_per_stage"]
    true_mi = result["true_mi"]
    total = steps_per_stage * len(true_mi)
    columns = min(4, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.4 * columns, 2.9 * rows), sharex=True, sharey=True, squeeze=False
    )
    stair_x = [s * steps_per_stage for s in range(len(true_mi))] + [total]
    stair_y = [*true_mi, true_mi[-1]]
    top = max(true_mi) + 2.0
    steps = list(range(total))
    ema_weight = 1.0 / min(100.0, max(steps_per_stage / 20.0, 1.0))  # time constant <= 100 steps
    for ax, name in zip(axes.flat, names, strict=False):
        values = history[name]
        clipped = [min(max(v, -2.0), top) if math.isfinite(v) else math.nan for v in values]
        ax.plot(steps, clipped, color="tab:blue", alpha=0.25, linewidth=0.5, label="per step")
        ax.plot(
            steps, _ema(values, ema_weight), color="tab:blue", linewidth=1.2, label="moving average"
        )
        ax.step(stair_x, stair_y, where="post", color="black", linewidth=1.0, label="true MI")
        ax.axhline(
            result["log_batch_size"], color="tab:red", linestyle="--", linewidth=0.8, label="log B"
        )
        ax.set_title(name)
        ax.set_ylim(-1.0, top)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("MI (nats)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    config = result["config"]
    fig.suptitle(
        f"MI staircase: {config['critic']} critic, B = {config['batch_size']}"
        + (", cubic" if config["cubic"] else ""),
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06 / rows, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_demi(result: dict[str, Any], path: Path) -> None:
    """Estimated vs true MI per estimator and n, with the log K and n log K lines."""
    plt = _pyplot()

    rows = result["rows"]
    batches = sorted({r["batch"] for r in rows})
    fig, axes = plt.subplots(1, len(batches), figsize=(6 * len(batches), 4.5), squeeze=False)
    mis = sorted({r["mi"] for r in rows})
    for ax, k in zip(axes[0], batches, strict=True):
        ax.plot(mis, mis, "k-", lw=1, label="true MI")
        ax.axhline(math.log(k), color="gray", ls="--", lw=1, label=f"log K = {math.log(k):.2f}")
        for n in sorted({r["views"] for r in rows if r["views"] > 1}):
            ax.axhline(n * math.log(k), color="gray", ls=":", lw=0.8)
            ax.text(mis[0], n * math.log(k), f" {n} log K", va="bottom", fontsize=7, color="gray")
        for est, marker in (
            ("infonce", "o"),
            ("oracle", "s"),
            ("is", "^"),
            ("bo", "v"),
            ("var", "D"),
        ):
            for n in sorted({r["views"] for r in rows}):
                pts = [
                    r for r in rows if r["batch"] == k and r["estimator"] == est and r["views"] == n
                ]
                if not pts:
                    continue
                ax.errorbar(
                    [p["mi"] for p in pts],
                    [p["mi_hat"] for p in pts],
                    yerr=[p["stderr"] for p in pts],
                    marker=marker,
                    ls="-",
                    lw=0.8,
                    ms=4,
                    label=f"{est} n={n}" if est != "infonce" else "InfoNCE",
                )
        ax.set_title(f"K = {k}")
        ax.set_xlabel("true MI (nats)")
        ax.set_ylabel("estimate (nats)")
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_demo(result: dict[str, Any], path: Path) -> None:
    """The demo's estimates during training against the true MI, ``log K`` and ``n log K``.

    Args:
        result: ``true_mi`` (nats), ``batch`` (K), ``views`` (n) and ``runs``: a
            list of ``{"label", "mi_hat", "curve"}`` with ``curve`` a list of
            ``(step, nats)`` pairs.
        path: where to write the PNG.
    """
    plt = _pyplot()
    true_mi, batch, views = result["true_mi"], result["batch"], result["views"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in result["runs"]:
        steps, values = zip(*run["curve"], strict=True)
        ax.plot(steps, values, label=f"{run['label']}: {run['mi_hat']:.1f} nats")
    ax.axhline(true_mi, color="k", lw=1, label=f"true MI = {true_mi:g}")
    ax.axhline(math.log(batch), color="gray", ls="--", lw=1, label="log K")
    ax.axhline(views * math.log(batch), color="gray", ls=":", lw=1, label=f"{views} log K")
    ax.set_xlabel("training step")
    ax.set_ylabel("estimate on a fresh batch (nats)")
    ax.set_title(f"InfoNCE vs DEMI, 20-dim Gaussian, K = {batch}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""An interval that covers retraining: the whole estimate repeated on fresh splits.

The standard error of one estimate measures its held-out read-out only: the
critic, the split and the checkpoint are taken as given. Repeating the whole
pipeline with other split and training seeds, on the same rows, lets the
estimates' own spread measure all of that at once: which rows trained, which
chose the checkpoint, which read out, and where training went.

That spread cannot see the one error every repeat shares: the ``N`` rows
themselves are a sample, and a sample whose pairs happen to be a little less
dependent than the population reads low on every split (with the exact
critic too). That part is the read-out's sampling variance at ``N`` rows
rather than at a repeat's ``n`` test rows: each repeat's squared standard
error times ``n / N``, averaged. The reported standard error adds the two,
``sqrt(s^2 / r + mean_k(se_k^2) n / N)`` for ``r`` repeats of spread ``s``,
and the interval is Student's t with ``r - 1`` degrees of freedom on it. The
interval is built on the repeats' held-out estimates; its upper end is raised, as
a single estimate's is (:mod:`infomax.bracket`), by the repeats' mean excess of
the training rows' read-out over the held-out one: the held-out read-out of a
fitted critic understates what its family can reach. The point estimate is the
mean of the repeats' own (:func:`infomax.bracket.midpoint`). It
still cannot see a bias every repeat shares (a critic family that misses part
of the dependence).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from infomax.result import MIEstimate
from infomax.validation import InputError

__all__ = ["repeated_estimate"]


def repeated_estimate(
    estimate: Callable[..., MIEstimate], repeats: int, seed: int, **kwargs: Any
) -> MIEstimate:
    """Run ``estimate(seed=..., split_seed=..., **kwargs)`` ``repeats`` times and pool.

    Repeat ``r`` uses ``seed + r`` for both the split and the training; the
    first repeat is the single estimate with ``seed``.

    Args:
        estimate: the single estimate (:func:`infomax.estimate_mi`).
        repeats: how many (at least 2).
        seed: the first repeat's seed.
        **kwargs: passed to every repeat.

    Returns:
        The first repeat's result with ``mi`` the mean over repeats,
        ``info["heldout_estimate"]`` the mean of their held-out estimates, ``stderr``
        the pooled one above of those (the repeats' spread and the rows' sampling
        error), ``interval`` the t interval on it (its upper end raised by the
        repeats' mean training-read-out excess), and ``info["repeats"]`` each
        repeat's ``mi``, ``heldout_estimate`` and ``stderr``.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise InputError(f"repeats must be an integer, 2 or more to repeat, got {repeats!r}")
    if kwargs.get("split_seed") is not None:
        raise InputError("repeats draws a fresh split for each repeat; do not pass split_seed")
    kwargs.pop("split_seed", None)
    runs = [estimate(seed=seed + r, split_seed=seed + r, **kwargs) for r in range(repeats)]
    t90 = float(stats.t.ppf(0.95, repeats - 1))
    total = _pool(
        [(run.mi, run.info.get("heldout_estimate", run.mi), run.stderr) for run in runs],
        [run.info.get("training_readout") for run in runs],
        runs,
        t90,
    )
    each = [  # before runs[0] becomes the pooled result
        {
            "mi": run.mi,
            "heldout_estimate": run.info.get("heldout_estimate", run.mi),
            "stderr": run.stderr,
        }
        for run in runs
    ]
    pooled = runs[0]
    pooled.mi, pooled.stderr, pooled.interval = total["mi"], total["stderr"], total["ci90"]
    pooled.info["heldout_estimate"] = total["heldout"]
    pooled.info["training_readout"] = total["training_readout"]
    pooled.info["repeats"] = each
    pooled.info["seconds"] = sum(run.info.get("seconds", 0.0) for run in runs)
    warnings = [w for run in runs for w in run.info.get("warnings", [])]
    pooled.info["warnings"] = list(dict.fromkeys(warnings))
    for k, term in enumerate(pooled.terms):
        term_runs = [run.terms[k] for run in runs]
        term_pool = _pool(
            [(t["mi"], t.get("heldout_mi", t["mi"]), t["stderr"]) for t in term_runs],
            [t.get("training_readout") for t in term_runs],
            runs,
            t90,
        )
        term["mi"], term["stderr"] = term_pool["mi"], term_pool["stderr"]
        term["heldout_mi"] = term_pool["heldout"]
        term["training_readout"] = term_pool["training_readout"]
        term["ci90"] = list(term_pool["ci90"])
    return pooled


def _pool(
    estimates: list[tuple[float, float, float]],
    trained: list[float | None],
    runs: list[MIEstimate],
    t90: float,
) -> dict[str, Any]:
    """One quantity (the total or a term) pooled over the repeats.

    Args:
        estimates: per repeat ``(mi, held-out estimate, stderr)``, nats.
        trained: per repeat the training rows' read-out (None: not measured), nats.
        runs: the repeats, for :func:`_pooled_stderr`.
        t90: Student's t 95% quantile with ``r - 1`` degrees of freedom.

    Returns:
        ``mi`` (the mean estimate), ``heldout`` (the mean held-out estimate), ``stderr``
        (:func:`_pooled_stderr` of the held-out estimates), ``training_readout`` (the
        mean given) and ``ci90``: the t interval on the held-out mean, its upper end
        raised by the mean training-read-out excess; nats.
    """
    values, heldout, stderrs = (np.array(column) for column in zip(*estimates, strict=True))
    stderr = _pooled_stderr(heldout, list(stderrs), runs)
    centre = float(heldout.mean())
    excess = _mean_excess(trained, heldout)
    return {
        "mi": float(values.mean()),
        "heldout": centre,
        "stderr": stderr,
        "training_readout": _mean_given(trained),
        "ci90": (centre - t90 * stderr, centre + t90 * stderr + excess),
    }


def _mean_given(values: list[float | None]) -> float | None:
    """The mean of the values that are not None (None: there are none)."""
    given = [v for v in values if v is not None]
    return float(np.mean(given)) if given else None


def _mean_excess(trained: list[float | None], values: np.ndarray) -> float:
    """Mean over repeats of ``max(0, training read-out - held-out estimate)``, nats (0: none)."""
    gaps = [max(0.0, t - v) for t, v in zip(trained, values, strict=True) if t is not None]
    return float(np.mean(gaps)) if gaps else 0.0


def _pooled_stderr(values: np.ndarray, stderrs: list[float], runs: list[MIEstimate]) -> float:
    """``sqrt(spread^2 / r + mean(se^2 n / N))`` nats: the repeats' spread plus the rows' own error.

    Args:
        values: (r,) the repeats' estimates.
        stderrs: each repeat's read-out standard error (NaN where it has none: left out).
        runs: the repeats, for their test rows ``n_heldout`` and ``info["rows"]`` (``N``).
    """
    spread = float(values.var(ddof=1)) / len(values)
    shares = [
        se**2 * run.n_heldout / run.info["rows"]
        for se, run in zip(stderrs, runs, strict=True)
        if math.isfinite(se) and run.info.get("rows")
    ]
    return math.sqrt(spread + (float(np.mean(shares)) if shares else 0.0))

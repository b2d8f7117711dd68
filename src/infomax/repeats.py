"""An interval that covers retraining: the whole estimate repeated on fresh splits.

The standard error of one estimate measures its held-out read-out only: the
critic, the split and the checkpoint are taken as given. Repeating the whole
pipeline with other split and training seeds, on the same rows, lets the
estimates' own spread measure all of it at once: which rows trained, which
chose the checkpoint, which read out, and where training went. The
interval is Student's t on that spread: with ``r`` repeats,
``mean -/+ t_{0.95, r - 1} s / sqrt(r)``. It still cannot see a bias every
repeat shares (a critic family that misses part of the dependence).
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
        The first repeat's result with ``mi`` the mean over repeats, ``stderr`` the
        repeats' standard deviation over ``sqrt(repeats)``, ``interval`` the t
        interval above, and ``info["repeats"]`` each repeat's ``mi`` and ``stderr``.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise InputError(f"repeats must be an integer, 2 or more to repeat, got {repeats!r}")
    if kwargs.get("split_seed") is not None:
        raise InputError("repeats draws a fresh split for each repeat; do not pass split_seed")
    kwargs.pop("split_seed", None)
    runs = [estimate(seed=seed + r, split_seed=seed + r, **kwargs) for r in range(repeats)]
    values = np.array([run.mi for run in runs])
    each = [{"mi": run.mi, "stderr": run.stderr} for run in runs]
    pooled = runs[0]
    mean = float(values.mean())
    stderr = float(values.std(ddof=1) / math.sqrt(repeats))
    half = float(stats.t.ppf(0.95, repeats - 1)) * stderr
    pooled.mi, pooled.stderr = mean, stderr
    pooled.interval = (mean - half, mean + half)
    pooled.info["repeats"] = each
    pooled.info["seconds"] = sum(run.info.get("seconds", 0.0) for run in runs)
    warnings = [w for run in runs for w in run.info.get("warnings", [])]
    pooled.info["warnings"] = list(dict.fromkeys(warnings))
    if pooled.terms:
        term_values_all = np.array([[term["mi"] for term in run.terms] for run in runs])
        for k, term in enumerate(pooled.terms):
            term_values = term_values_all[:, k]
            term["mi"] = float(term_values.mean())
            term["stderr"] = float(term_values.std(ddof=1) / math.sqrt(repeats))
    return pooled

"""Mean correlation coefficient (MCC): how well features recover known sources.

Nonlinear ICA identifies sources only up to permutation and, per component,
an invertible scalar map; TCL's theorem says more precisely that the
features ``h(x)`` and the sources' sufficient statistics ``q(s)`` satisfy
``q(s) = A h(x) + b``. Two read-outs follow:

* :func:`mcc`: the absolute Pearson correlation between each estimate and
  the source matched to it, matched one-to-one to maximise the sum
  (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`), averaged.
* :func:`linear_mcc`: the theorem's check. The affine map ``A, b`` is fitted by
  least squares on one part of the rows and the MCC of its predictions is
  read on the other part, so a map that overfits is not rewarded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from infomax.validation import InputError

__all__ = ["MCCResult", "correlation_matrix", "linear_mcc", "mcc"]


@dataclass(frozen=True)
class MCCResult:
    """A matched mean correlation.

    Attributes:
        mcc: mean over sources of the matched absolute correlation, in [0, 1].
        correlations: ``(n,)`` matched absolute correlation per true source.
        assignment: ``(n,)`` index of the estimate matched to each true source.
    """

    mcc: float
    correlations: np.ndarray
    assignment: np.ndarray


def _check(estimates: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    estimates = np.asarray(estimates, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if estimates.ndim != 2 or truth.ndim != 2:
        raise InputError(
            f"estimates and sources must be (rows, columns) arrays, got shapes "
            f"{estimates.shape} and {truth.shape}"
        )
    if len(estimates) != len(truth):
        raise InputError(
            f"estimates have {len(estimates)} rows but the sources {len(truth)}; pass the same rows"
        )
    if len(truth) < 3:
        raise InputError(f"MCC needs at least 3 rows, got {len(truth)}")
    if estimates.shape[1] < truth.shape[1]:
        raise InputError(
            f"{estimates.shape[1]} estimates cannot be matched one-to-one to "
            f"{truth.shape[1]} sources; pass at least as many estimate columns"
        )
    if not (np.isfinite(estimates).all() and np.isfinite(truth).all()):
        raise InputError("estimates or sources hold NaN or inf")
    return estimates, truth


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlations between the columns of ``a`` and of ``b``.

    Args:
        a: ``(T, m)`` array.
        b: ``(T, n)`` array.

    Returns:
        ``(m, n)`` correlations; a constant column correlates 0 with everything.
    """
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    norm_a = np.linalg.norm(a, axis=0)
    norm_b = np.linalg.norm(b, axis=0)
    scale = np.outer(norm_a, norm_b)
    return np.divide(a.T @ b, scale, out=np.zeros_like(scale), where=scale > 0)


def mcc(estimates: np.ndarray, truth: np.ndarray) -> MCCResult:
    """Mean absolute correlation after the best one-to-one matching.

    Args:
        estimates: ``(T, m)`` estimated components, ``m >= n``.
        truth: ``(T, n)`` true sources (or their sufficient statistics).

    Returns:
        The :class:`MCCResult`; permuted, rescaled, sign-flipped sources give 1.
    """
    estimates, truth = _check(estimates, truth)
    similarity = np.abs(correlation_matrix(estimates, truth))
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    order = np.argsort(cols)
    correlations = similarity[rows[order], cols[order]]
    return MCCResult(float(correlations.mean()), correlations, rows[order])


def linear_mcc(
    features: np.ndarray,
    truth: np.ndarray,
    *,
    fit_fraction: float = 0.5,
    seed: int = 0,
) -> MCCResult:
    """MCC of an affine map of the features fitted on other rows.

    ``truth ~ features @ A.T + b`` is fitted by least squares on a random
    ``fit_fraction`` of the rows; the MCC of the predictions is measured on the
    remaining rows.

    Args:
        features: ``(T, m)`` features ``h(x)``.
        truth: ``(T, n)`` sufficient statistics ``q(s)``.
        fit_fraction: share of rows the map is fitted on, in (0, 1).
        seed: seed of the split.

    Returns:
        The :class:`MCCResult` on the held-out rows.
    """
    features, truth = _check(features, truth)
    if not 0 < fit_fraction < 1:
        raise InputError(f"fit_fraction must be in (0, 1), got {fit_fraction}")
    order = np.random.default_rng(seed).permutation(len(truth))
    n_fit = int(round(fit_fraction * len(truth)))
    if n_fit <= features.shape[1] or len(truth) - n_fit < 3:
        raise InputError(
            f"{len(truth)} rows are too few to fit a {features.shape[1]}-feature map and test it"
        )
    fit, test = order[:n_fit], order[n_fit:]
    design = np.hstack([features, np.ones((len(features), 1))])
    coefficients, *_ = np.linalg.lstsq(design[fit], truth[fit], rcond=None)
    return mcc(design[test] @ coefficients, truth[test])

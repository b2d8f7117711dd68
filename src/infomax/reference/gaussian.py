"""The Gaussian closed form: the MI of the Gaussian with the data's covariance (CCA)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy import special

from infomax.reference.arrays import prepare
from infomax.result import MIEstimate
from infomax.validation import InputError

__all__ = ["gaussian"]


def _wishart_logdet_bias(dim: int, dof: int) -> float:
    """``E[log det S] - log det Sigma`` for the unbiased sample covariance of ``dof + 1`` rows.

    ``(N - 1) S ~ Wishart(N - 1, Sigma)`` and ``E log det W = log det Sigma + d log 2 +
    sum_{i=1}^d psi((nu - i + 1) / 2)`` with ``nu = N - 1``.
    """
    i = np.arange(1, dim + 1)
    return float(dim * math.log(2.0 / dof) + special.digamma((dof - i + 1) / 2.0).sum())


def _check_full_rank(corr: np.ndarray, what: str) -> float:
    """``log det`` of a correlation matrix, or a clear error when it is (near) singular."""
    eigenvalues = np.linalg.eigvalsh(corr)
    if eigenvalues[0] < 1e-10 * corr.shape[0]:
        raise InputError(what)
    return float(np.log(eigenvalues).sum())


def gaussian(x: Any, y: Any, *, bias_correction: bool = True) -> MIEstimate:
    """MI of the Gaussian with the data's covariance, ``0.5 (log det S_x S_y / det S)``, nats.

    Equivalently ``-0.5 sum_k log(1 - r_k^2)`` over the canonical correlations ``r_k`` of
    ``x`` and ``y`` (CCA). Computed from correlation matrices in float64 (MI is invariant to
    rescaling columns). Exact, up to sampling error, only for jointly Gaussian data; for
    anything else it measures the linear (second-order) dependence only, and is neither an
    upper nor a lower bound on the true MI in general.

    Args:
        x: (N, d_x) samples (array, tensor or nested list; 1-d is one column).
        y: (N, d_y) samples paired row by row with ``x``.
        bias_correction: subtract the plug-in estimator's expected excess for Gaussian data
            (the Wishart ``E log det`` terms, about ``d_x d_y / (2N)`` nats), so that the
            estimate is unbiased for jointly Gaussian data to first order.

    Returns:
        :class:`MIEstimate` with ``bound="gaussian"``. ``stderr`` is the nonparametric
        delta-method (influence-function) standard error: the estimate's gradient with
        respect to the covariance, ``G = 0.5 (blockdiag(S_x^-1, S_y^-1) - S^-1)``, gives each
        sample the influence ``z_i^T G z_i``; their standard deviation over ``sqrt(N)``
        (valid for non-Gaussian data too), combined in quadrature with the spread of the
        estimate under independence, ``sqrt(2 d_x d_y) / (2N)`` (``2 N I ~ chi^2_{d_x d_y}``),
        where the first-order term vanishes. ``info`` holds the ``canonical_correlations``,
        the ``bias_correction`` subtracted (nats) and ``seconds``.

    Raises:
        InputError (a ValueError): mismatched rows, NaN/inf, constant columns, no more rows
        than ``d_x + d_y + 1``, linearly dependent (e.g. duplicated) columns within ``x`` or
        ``y``, or ``y`` an exact linear function of ``x`` (infinite Gaussian MI).
    """
    start = time.perf_counter()
    xa, ya = prepare(x, y, 2, "")
    n, d_x = xa.shape
    d_y = ya.shape[1]
    if n <= d_x + d_y + 1:
        raise InputError(
            f"too few samples for the Gaussian estimate: {n} rows, need more than "
            f"d_x + d_y + 1 = {d_x + d_y + 1} for a full-rank covariance"
        )
    z = np.hstack([xa, ya])
    z -= z.mean(axis=0)
    z /= z.std(axis=0)
    corr = (z.T @ z) / n
    corr = 0.5 * (corr + corr.T)
    logdet_x = _check_full_rank(
        corr[:d_x, :d_x],
        "the columns of x are linearly dependent (duplicated or collinear columns): "
        "drop the redundant ones",
    )
    logdet_y = _check_full_rank(
        corr[d_x:, d_x:],
        "the columns of y are linearly dependent (duplicated or collinear columns): "
        "drop the redundant ones",
    )
    logdet_z = _check_full_rank(
        corr,
        "the joint covariance of (x, y) is singular: some combination of y is an exact "
        "linear function of x, so the Gaussian MI is infinite",
    )
    mi = 0.5 * (logdet_x + logdet_y - logdet_z)
    correction = 0.0
    if bias_correction:
        dof = n - 1
        correction = 0.5 * (
            _wishart_logdet_bias(d_x, dof)
            + _wishart_logdet_bias(d_y, dof)
            - _wishart_logdet_bias(d_x + d_y, dof)
        )
    # Influence of each sample on the plug-in estimate: z_i^T G z_i (up to a constant).
    grad = -np.linalg.inv(corr)
    grad[:d_x, :d_x] += np.linalg.inv(corr[:d_x, :d_x])
    grad[d_x:, d_x:] += np.linalg.inv(corr[d_x:, d_x:])
    influence = 0.5 * np.einsum("ni,ij,nj->n", z, grad, z)
    variance = influence.var(ddof=1) / n + (2.0 * d_x * d_y) / (2.0 * n) ** 2
    # Canonical correlations: singular values of L_x^-1 C_xy L_y^-T.
    lx = np.linalg.cholesky(corr[:d_x, :d_x])
    ly = np.linalg.cholesky(corr[d_x:, d_x:])
    whitened = np.linalg.solve(lx, np.linalg.solve(ly, corr[:d_x, d_x:].T).T)
    canonical = np.linalg.svd(whitened, compute_uv=False)
    return MIEstimate(
        mi=float(mi - correction),
        stderr=float(math.sqrt(variance)),
        bound="gaussian",
        n_train=0,
        n_heldout=n,
        info={
            "canonical_correlations": [float(r) for r in canonical],
            "bias_correction": float(correction),
            "seconds": time.perf_counter() - start,
        },
    )

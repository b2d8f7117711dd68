"""Elliptical copulas in normal scores: the Student-t start of :func:`infomax.estimate_mi`.

After :class:`~infomax.preprocess.RankTransform`, every column is a standard
normal score ``u``, and a Gaussian copula's log density ratio is a quadratic
form of ``u`` (the quadratic critic's warm start). A Student-t copula, the
usual model of dependence with heavy, joint tails, is the next member of the
same (elliptical) family: map each score to ``s = T_nu^{-1}(Phi(u))`` (the
Student-t quantile of its rank) and the log density ratio of the pair is,
with ``d = d_x + d_y`` and ``R`` the copula's correlation matrix,

    log p(x, y) / (p(x) p(y)) = c - (nu + d)/2 log(1 + s^T R^{-1} s / nu)
                                  + (nu + d_x)/2 log(1 + s_x^T R_xx^{-1} s_x / nu)
                                  + (nu + d_y)/2 log(1 + s_y^T R_yy^{-1} s_y / nu)

(the per-column quantile maps cancel between joint and marginals). It tends to
the Gaussian copula's ratio as ``nu -> inf``. In the normal scores this ratio
grows like ``exp(u^2 / (2 nu))`` in the tails, which an MLP of ``u`` cannot
extrapolate from the few training rows out there; as a fixed term of the
critic it costs one matmul per score matrix.

For each ``nu``, ``R`` is fitted by the t likelihood on all rows
(:func:`fit_student_t_correlation`), and :func:`infomax.estimate_mi` picks
``nu`` on its validation rows. :func:`elliptical_correlation` (Kendall's tau,
``R_ij = sin(pi tau_ij / 2)`` for every elliptical copula whatever ``nu`` is;
Lindskog, McNeil & Schmock, 2003) is the ``nu``-free alternative: exact in
expectation but costly (``d^2`` per row pair), so it uses a subset of rows.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

__all__ = [
    "StudentTCopulaRatio",
    "elliptical_correlation",
    "fit_student_t_correlation",
    "keep_invertible",
    "kendall_tau",
    "student_t_scores",
]

#: Normal scores beyond this are clamped before the quantile map. The rank
#: transform of ``n`` rows never exceeds ``Phi^{-1}(1 - 0.5/n)`` (5.3 at 10^7 rows).
SCORE_LIMIT = 6.0


def kendall_tau(z: np.ndarray, max_rows: int = 3000, seed: int = 0, chunk: int = 128) -> np.ndarray:
    """Kendall's tau between every two columns of ``z``, on at most ``max_rows`` rows.

    ``tau_ij`` is the mean over row pairs ``(a, b)`` of
    ``sign(z_ai - z_bi) sign(z_aj - z_bj)``; the signs of a chunk of rows
    against all rows form one matrix, and one matmul per chunk sums them for
    every column pair. Ties count zero (tau-a).

    Args:
        z: (N, d) rows; only the order within each column matters.
        max_rows: rows used (a seeded random subset above it; the standard error
            of each tau is about ``0.8 / sqrt(max_rows)``).
        seed: seeds the subset.
        chunk: rows per matmul.

    Returns:
        (d, d) float64 matrix, ones on the diagonal for non-constant columns.
    """
    z = np.asarray(z)
    if z.shape[0] > max_rows:
        z = z[np.random.default_rng(seed).choice(z.shape[0], max_rows, replace=False)]
    # Only the order matters: compare ranks (exact in float32 below 2^24 rows).
    rows = torch.from_numpy(stats.rankdata(z, axis=0).astype(np.float32))
    n, d = rows.shape
    total = torch.zeros(d, d, dtype=torch.float64)
    for start in range(0, n, chunk):
        # Signs are exactly representable in float32, and so are the per-chunk sums.
        signs = torch.sign(rows[start : start + chunk, None, :] - rows[None, :, :]).reshape(-1, d)
        total += (signs.T @ signs).double()
    return (total / (n * (n - 1))).numpy()


def elliptical_correlation(z: np.ndarray, max_rows: int = 3000, floor: float = 1e-3) -> np.ndarray:
    """The correlation matrix ``R`` of an elliptical copula fitted to ``z``: ``sin(pi tau / 2)``.

    The matrix of elementwise estimates need not be positive definite; its
    eigenvalues are raised to at least ``floor`` and the diagonal rescaled to 1.

    Args:
        z: (N, d) rows.
        max_rows: rows for Kendall's tau (:func:`kendall_tau`).
        floor: smallest eigenvalue kept.

    Returns:
        (d, d) float64 correlation matrix.
    """
    corr = np.sin(0.5 * math.pi * kendall_tau(z, max_rows=max_rows))
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    corr = (vectors * np.maximum(values, floor)) @ vectors.T
    scale = 1.0 / np.sqrt(np.diag(corr))
    return corr * scale[:, None] * scale[None, :]


#: Points of the tabulated quantile map on ``[-SCORE_LIMIT, SCORE_LIMIT]``.
GRID = 4801


@functools.lru_cache(maxsize=32)
def _quantile_table(dof: float) -> Tensor:
    """(GRID,) float64 values of ``T_dof^{-1}(Phi(u))`` on an even grid of ``u``.

    Computed in the nearer tail (``isf`` of the smaller tail probability) for accuracy.
    """
    from scipy import special

    knots = np.linspace(-SCORE_LIMIT, SCORE_LIMIT, GRID)
    upper = stats.t.isf(special.ndtr(-np.abs(knots)), dof)
    return torch.from_numpy(np.sign(knots) * upper)


def _interpolate(table: Tensor, u: Tensor) -> Tensor:
    """Linear interpolation of ``table`` (on the even ``u`` grid) at ``u``, in ``u``'s dtype."""
    step = 2 * SCORE_LIMIT / (table.numel() - 1)
    position = (u.clamp(-SCORE_LIMIT, SCORE_LIMIT) + SCORE_LIMIT) / step
    low = position.floor().clamp(max=table.numel() - 2)
    index = low.long()
    table = table.to(u.dtype)
    return torch.lerp(table[index], table[index + 1], position - low)


def student_t_scores(u: Tensor, dof: float) -> Tensor:
    """``s = T_dof^{-1}(Phi(u))`` elementwise: normal scores to Student-t scores, any shape."""
    return _interpolate(_quantile_table(float(dof)), u)


#: Smallest eigenvalue :func:`keep_invertible` leaves a correlation matrix.
MIN_EIGENVALUE = 1e-6


def keep_invertible(correlation: Tensor, floor: float = MIN_EIGENVALUE) -> Tensor:
    """``correlation`` (d, d), shrunk toward the identity just enough that its smallest
    eigenvalue is at least ``floor``; returned unchanged when it already is.

    Duplicated or collinear columns make a sample correlation singular; the
    convex combination ``(1 - a) R + a I`` keeps the unit diagonal and lifts
    every eigenvalue ``l`` to ``(1 - a) l + a``.
    """
    smallest = float(torch.linalg.eigvalsh(correlation).min())
    if smallest >= floor:
        return correlation
    weight = (floor - smallest) / (1.0 - smallest)
    eye = torch.eye(correlation.shape[0], dtype=correlation.dtype)
    return (1.0 - weight) * correlation + weight * eye


def fit_student_t_correlation(
    u: Tensor | np.ndarray,
    dof: float,
    start: np.ndarray | None = None,
    iterations: int = 200,
    tol: float = 1e-6,
) -> np.ndarray:
    """Correlation of a Student-t copula with known ``dof`` by its likelihood, on all rows.

    With ``s = T_dof^{-1}(Phi(u))`` the rows are multivariate t with unit-scale
    margins, and the scatter matrix's likelihood equations are the fixed
    point ``S = mean_i w_i s_i s_i^T`` with ``w_i = (dof + d) / (dof + s_i^T
    S^{-1} s_i)``; each sweep is two ``(N, d) x (d, d)`` products and is
    rescaled to unit diagonal (so the result approximates the maximum-likelihood
    correlation under the copula's unit margins). It uses every row, where Kendall's tau
    (:func:`elliptical_correlation`) affordably uses a few thousand, which is
    noisy when ``d`` is large.

    Args:
        u: (N, d) normal scores (the rank-transformed rows).
        dof: degrees of freedom.
        start: (d, d) starting correlation (default: identity).
        iterations: most fixed-point sweeps.
        tol: stop when no entry of the correlation moves by more than this.

    Returns:
        (d, d) float64 correlation matrix.
    """
    scores = student_t_scores(torch.as_tensor(u, dtype=torch.float64), dof)
    n, d = scores.shape
    scatter = torch.eye(d, dtype=torch.float64) if start is None else torch.as_tensor(start)
    scatter = keep_invertible(scatter.to(torch.float64))
    for _ in range(iterations):
        q = torch.linalg.solve(scatter, scores.T).T.mul(scores).sum(1).clamp(min=0)
        weights = (dof + d) / (dof + q)
        updated = (scores * weights[:, None]).T @ scores / n
        scale = updated.diagonal().rsqrt()
        updated = keep_invertible(updated * scale[:, None] * scale[None, :])
        change = float((updated - scatter).abs().max())
        scatter = updated
        if change < tol:
            break
    return scatter.numpy()


class StudentTCopulaRatio(nn.Module):
    """Log density ratio ``log p(x, y) / (p(x) p(y))`` of a Student-t copula, in normal scores.

    A fixed (untrained) term: the correlation and ``dof`` are set at
    construction. Scores are exact log ratios in nats, constants included.

    Args:
        correlation: (d_x + d_y, d_x + d_y) copula correlation matrix ``R`` of
            ``[x; y]`` (:func:`fit_student_t_correlation`).
        x_dim: width of ``x`` (the first ``x_dim`` rows / columns of ``R``).
        dof: degrees of freedom ``nu`` (> 0).
    """

    def __init__(self, correlation: np.ndarray, x_dim: int, dof: float) -> None:
        super().__init__()
        if dof <= 0:
            raise ValueError(f"dof must be positive, got {dof}")
        corr = np.asarray(correlation, dtype=np.float64)
        d = corr.shape[0]
        if corr.shape != (d, d) or not 0 < x_dim < d:
            raise ValueError(f"correlation of shape {corr.shape} does not fit x_dim {x_dim}")
        self.dof, self.x_dim, self.y_dim = float(dof), x_dim, d - x_dim
        joint = np.linalg.inv(corr)
        buffers = {
            "joint_xx": joint[:x_dim, :x_dim],
            "joint_yy": joint[x_dim:, x_dim:],
            "joint_xy": joint[:x_dim, x_dim:],
            "marginal_x": np.linalg.inv(corr[:x_dim, :x_dim]),
            "marginal_y": np.linalg.inv(corr[x_dim:, x_dim:]),
        }
        for name, value in buffers.items():
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32))
        nu, dx, dy = self.dof, x_dim, d - x_dim
        log_det = lambda m: float(np.linalg.slogdet(m)[1])  # noqa: E731
        self.constant = (
            math.lgamma((nu + d) / 2)
            + math.lgamma(nu / 2)
            - math.lgamma((nu + dx) / 2)
            - math.lgamma((nu + dy) / 2)
            - 0.5 * log_det(corr)
            + 0.5 * log_det(corr[:x_dim, :x_dim])
            + 0.5 * log_det(corr[x_dim:, x_dim:])
        )
        self.register_buffer("table", _quantile_table(self.dof).to(torch.float32))

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, y_dim={self.y_dim}, dof={self.dof:g}"

    def quantile(self, u: Tensor) -> Tensor:
        """``s = T_nu^{-1}(Phi(u))`` by linear interpolation of the table: (..., d) -> (..., d)."""
        return _interpolate(self.table, u)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y) normal scores. Returns: (B, M) log ratios, nats."""
        sx, sy = self.quantile(x), self.quantile(y)
        nu = self.dof
        a = ((sx @ self.joint_xx) * sx).sum(1)
        b = ((sy @ self.joint_yy) * sy).sum(1)
        joint = (a[:, None] + b[None, :] + 2 * (sx @ self.joint_xy) @ sy.T).clamp(min=0)
        qx = ((sx @ self.marginal_x) * sx).sum(1)
        qy = ((sy @ self.marginal_y) * sy).sum(1)
        d = self.x_dim + self.y_dim
        return (
            self.constant
            - 0.5 * (nu + d) * torch.log1p(joint / nu)
            + 0.5 * (nu + self.x_dim) * torch.log1p(qx / nu)[:, None]
            + 0.5 * (nu + self.y_dim) * torch.log1p(qy / nu)[None, :]
        )

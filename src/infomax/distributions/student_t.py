"""The joint multivariate Student-t task of the bmi benchmark."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import special
from torch import Tensor

from infomax.distributions.base import (
    Task,
    _check_dim,
    _resolve_mi_per_dim,
    rho_from_mi,
)


def _f(v: float) -> float:
    return float(special.gammaln(v / 2.0) - (v / 2.0) * special.digamma(v / 2.0))


def student_t_mi_correction(dof: float, x_dim: int, y_dim: int) -> float:
    """MI a multivariate Student-t carries beyond its dispersion matrix's Gaussian MI.

    For ``(x, y) ~ t_nu(0, Sigma)`` (x of width ``m``, y of width ``n``) the marginals are
    ``t_nu`` with the corresponding blocks of ``Sigma``, and the entropy of a ``d``-variate
    ``t_nu(0, Sigma)`` is ``0.5 log det Sigma + (d/2) log(nu pi) + log Gamma(nu/2)
    - log Gamma((nu+d)/2) + ((nu+d)/2) (psi((nu+d)/2) - psi(nu/2))``. In
    ``H(x) + H(y) - H(x, y)`` the ``log det`` terms give the Gaussian MI of ``Sigma`` and the
    rest collects into, with ``f(v) = log Gamma(v/2) - (v/2) psi(v/2)``,

        ``c(nu, m, n) = f(nu) + f(nu + m + n) - f(nu + m) - f(nu + n)``,

    which is positive (the shared scale makes ``x`` and ``y`` dependent even when ``Sigma``
    is block-diagonal) and vanishes as ``nu -> inf`` (like ``m n / (2 nu^2)``; for
    ``nu >= 50`` it is evaluated with Stirling's series to avoid cancellation).

    Args:
        dof: degrees of freedom ``nu > 0``.
        x_dim: width ``m`` of ``x``.
        y_dim: width ``n`` of ``y``.

    Returns:
        ``c`` in nats.
    """
    if not (math.isfinite(dof) and dof > 0):
        raise ValueError(f"dof must be a positive finite number, got {dof!r}")
    m, n = _check_dim(x_dim, "x_dim"), _check_dim(y_dim, "y_dim")
    if dof < 50.0:
        return _f(dof) + _f(dof + m + n) - _f(dof + m) - _f(dof + n)

    # The four f terms grow like -v/2 and cancel to O(m n / nu^2): use Stirling's series,
    # f(v) = -z - 0.5 log z + const + 1/(6z) - 1/(90 z^3) + 1/(210 z^5) + O(z^-7), z = v / 2,
    # whose linear and constant parts cancel exactly (error < 1e-13 for nu >= 50).
    def series(v: float) -> float:
        z = v / 2.0
        return 1.0 / (6.0 * z) - 1.0 / (90.0 * z**3) + 1.0 / (210.0 * z**5)

    log_part = -0.5 * math.log1p(-m * n / ((dof + m) * (dof + n)))
    return log_part + series(dof) + series(dof + m + n) - series(dof + m) - series(dof + n)


class StudentTTask(Task):
    """Joint multivariate Student-t ``(x, y) ~ t_nu(0, Sigma)`` with a shared scale.

    ``(x, y) = (g_x, g_y) / sqrt(u / nu)`` with ``(g_x, g_y)`` Gaussian of covariance
    ``Sigma = [[I, R], [R, I]]``, ``R = diag(rho)``, and ``u ~ chi^2_nu`` shared by all
    coordinates. ``mi = -0.5 sum_k log(1 - rho_k^2) + student_t_mi_correction(nu, d, d)``.

    Args:
        dispersion_mi_per_dim: (d,) Gaussian MI of each dispersion coordinate pair, nats.
        dof: degrees of freedom ``nu > 0``.
        params: parameters for :attr:`Task.label`.

    Attributes:
        dof: degrees of freedom.
        rho: (d,) dispersion correlations.
        dispersion_mi: Gaussian MI of ``Sigma``, nats.
        correction: ``mi - dispersion_mi``, nats.
    """

    def __init__(
        self, dispersion_mi_per_dim: np.ndarray, dof: float, params: dict[str, Any] | None = None
    ) -> None:
        shares = np.asarray(dispersion_mi_per_dim, dtype=np.float64)
        d = shares.size
        correction = student_t_mi_correction(dof, d, d)
        super().__init__("student_t", float(shares.sum()) + correction, d, d, params)
        self.dof = float(dof)
        self.rho = rho_from_mi(shares)
        self.noise_var = np.exp(-2.0 * shares)
        self.dispersion_mi = float(shares.sum())
        self.correction = correction
        nu, m = self.dof, d
        # log t_{2d}(Q) - log t_d(Qx) - log t_d(Qy) without the quadratic forms; the
        # (d/2) log(nu pi) terms cancel and the marginal dispersions are identities.
        self._const = (
            math.lgamma((nu + 2 * m) / 2)
            + math.lgamma(nu / 2)
            - 2 * math.lgamma((nu + m) / 2)
            - 0.5 * float(np.log(self.noise_var).sum())
        )
        self._rho_t = torch.from_numpy(self.rho)
        self._var_t = torch.from_numpy(self.noise_var)

    def _sample_latent(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        gx = rng.standard_normal((n, self.x_dim))
        gy = self.rho * gx + np.sqrt(self.noise_var) * rng.standard_normal((n, self.y_dim))
        scale = np.sqrt(rng.chisquare(self.dof, size=(n, 1)) / self.dof)
        return gx / scale, gy / scale

    def _combine(self, q_joint: Tensor, q_x: Tensor, q_y: Tensor) -> Tensor:
        nu, m = self.dof, self.x_dim
        return (
            self._const
            - 0.5 * (nu + 2 * m) * torch.log1p(q_joint / nu)
            + 0.5 * (nu + m) * torch.log1p(q_x / nu)
            + 0.5 * (nu + m) * torch.log1p(q_y / nu)
        )

    def _latent_log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        inv_var = 1.0 / self._var_t
        q_joint = (
            ((x**2) @ inv_var)[:, None]
            + ((y**2) @ inv_var)[None, :]
            - 2.0 * (x * (self._rho_t * inv_var)) @ y.T
        )
        q_joint = q_joint.clamp_min(0.0)  # rounding can push the expanded form below zero
        return self._combine(q_joint, (x**2).sum(1)[:, None], (y**2).sum(1)[None, :])

    def _latent_log_ratio_diagonal(self, x: Tensor, y: Tensor) -> Tensor:
        q_x, q_y = (x**2).sum(1), (y**2).sum(1)
        q_joint = ((y - self._rho_t * x) ** 2 / self._var_t).sum(1) + q_x
        return self._combine(q_joint, q_x, q_y)


def student_t(
    dim: int = 2,
    dof: float = 5.0,
    mi: float | None = None,
    *,
    dispersion_mi: float | None = None,
) -> StudentTTask:
    """Joint multivariate Student-t of the bmi benchmark (heavy tails, shared scale).

    The dispersion matrix is ``[[I, diag(rho)], [diag(rho), I]]`` with equal ``rho`` on the
    ``dim`` coordinate pairs. Give either the total target ``mi`` (default 1.0 nats when
    neither is given), and ``rho`` is solved for, or the dispersion's Gaussian MI
    ``dispersion_mi`` (``0`` gives the pure shared-scale dependence), and the total is
    ``dispersion_mi + student_t_mi_correction(dof, dim, dim)``.

    Args:
        dim: width of ``x`` and of ``y``.
        dof: degrees of freedom ``nu > 0`` (small is heavy-tailed; ``nu -> inf`` is Gaussian).
        mi: target total MI, nats; must be at least the shared-scale correction.
        dispersion_mi: Gaussian MI of the dispersion matrix, nats (instead of ``mi``).

    Returns:
        A :class:`StudentTTask`. E.g. ``dim=2, dof=5``: correction 0.0508 nats.
    """
    d = _check_dim(dim)
    correction = student_t_mi_correction(dof, d, d)
    if mi is not None and dispersion_mi is not None:
        raise ValueError("give mi or dispersion_mi, not both")
    if dispersion_mi is None:
        target = 1.0 if mi is None else float(mi)
        if not math.isfinite(target) or target < correction:
            raise ValueError(
                f"a Student-t with dof={dof} and dim={d} carries at least {correction:.6g} nats "
                f"through its shared scale; ask for mi >= that, got {mi!r}"
            )
        dispersion_mi = target - correction
        params: dict[str, Any] = {"dim": d, "dof": dof, "mi": round(target, 6)}
    else:
        params = {"dim": d, "dof": dof, "dispersion_mi": dispersion_mi}
    shares = _resolve_mi_per_dim(d, dispersion_mi, None, d, 0.0)
    return StudentTTask(shares, dof, params)

"""Ground-truth tasks: joint distributions of ``(x, y)`` with closed-form mutual information.

Every task is a :class:`Task` with

- ``mi``: the true mutual information ``I(x; y)`` in nats;
- ``sample(n, seed)``: ``n`` i.i.d. pairs as float32 arrays ``(n, x_dim)`` and ``(n, y_dim)``;
- ``log_density_ratio(x, y)``: the *pairwise* matrix
  ``S[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j))``, shape ``(B, M)``, float64. This is the
  analytically optimal critic (for TUBA/JSD; NWJ's optimum is ``S + 1`` and InfoNCE's is
  ``S`` plus any function of ``x``), and its diagonal averages to ``mi``;
- ``log_density_ratio_diagonal(x, y)``: only the aligned pairs ``S[i, i]``, shape ``(N,)``,
  without building the matrix (use it for Monte-Carlo checks on many samples).

Tasks (see :data:`TASKS`, :func:`get_task`):

- ``correlated_gaussian``: ``x ~ N(0, I_d)``, ``y_k = rho_k x_k + sqrt(1 - rho_k^2) eps_k``,
  so coordinate pair ``k`` carries ``-0.5 log(1 - rho_k^2)`` nats and the pairs are
  independent: ``I(x; y)`` is the sum of the per-coordinate shares, and so is the MI of any
  sub-view ``x_S`` with ``y`` (:meth:`GaussianTask.subview_mi`), which is what chain-rule
  (DEMI) tests need.
- ``cubic``: the same with ``y -> y ** 3``.
- ``half_cube`` and ``asinh``: the same with ``t -> t sqrt(|t|)`` and ``t -> asinh(t)`` applied
  to every coordinate of both ``x`` and ``y`` (the bmi benchmark's transformed Gaussians).
- ``student_t``: the joint multivariate Student-t of the bmi benchmark, whose shared random
  scale adds dependence beyond the dispersion matrix's correlation.

Per-coordinate invertible transforms leave MI and the log density ratio unchanged (the
Jacobians cancel between the joint and the product of marginals), so a transformed task's
``log_density_ratio`` inverts the transforms and evaluates the latent Gaussian's ratio.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special
from torch import Tensor

__all__ = [
    "TASKS",
    "GaussianTask",
    "StudentTTask",
    "Task",
    "Transform",
    "asinh",
    "correlated_gaussian",
    "cubic",
    "gaussian_log_density_ratio",
    "get_task",
    "half_cube",
    "optimal_critic_scores",
    "optimal_phi_scores",
    "optimal_psi_scores",
    "rho_from_mi",
    "student_t",
    "student_t_mi_correction",
]

#: Largest MI per coordinate pair (nats) a task accepts. The residual ``y - rho x`` has
#: standard deviation ``exp(-I_k)``; beyond ~12 nats it drowns in float32 rounding of ``y``.
MAX_MI_PER_DIM = 12.0


@dataclass(frozen=True)
class Transform:
    """An invertible map of the rows of ``x`` or ``y``: per coordinate, or the spiral's rotation.

    Attributes:
        name: short name (``identity``, ``cube``, ``half_cube``, ``asinh``, ``spiral``).
        forward: latent -> observed, on float64 NumPy arrays of shape (N, d).
        inverse: observed -> latent, on float64 torch tensors of shape (N, d).
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[Tensor], Tensor]


IDENTITY = Transform("identity", lambda t: t, lambda s: s)
CUBE = Transform("cube", lambda t: t**3, lambda s: torch.sign(s) * s.abs().pow(1.0 / 3.0))
HALF_CUBE = Transform(
    "half_cube",
    lambda t: t * np.sqrt(np.abs(t)),
    lambda s: torch.sign(s) * s.abs().pow(2.0 / 3.0),
)
ASINH = Transform("asinh", np.arcsinh, torch.sinh)


def spiral_transform(speed: float) -> Transform:
    """bmi's spiral: rotate the first two coordinates by ``speed * |t|^2`` radians.

    A rotation keeps ``|t|``, so the inverse rotates back by the same angle.
    It mixes coordinates by an amount that depends on the radius, so the
    per-coordinate copula of a spiralled Gaussian is neither Gaussian nor
    elliptical, while MI is unchanged (an invertible map of ``x`` alone).

    Args:
        speed: radians per unit of squared norm.
    """

    def forward(t: np.ndarray) -> np.ndarray:
        angle = speed * (t**2).sum(1)
        out = t.copy()
        out[:, 0] = np.cos(angle) * t[:, 0] - np.sin(angle) * t[:, 1]
        out[:, 1] = np.sin(angle) * t[:, 0] + np.cos(angle) * t[:, 1]
        return out

    def inverse(s: Tensor) -> Tensor:
        angle = -speed * (s**2).sum(1)
        first = torch.cos(angle) * s[:, 0] - torch.sin(angle) * s[:, 1]
        second = torch.sin(angle) * s[:, 0] + torch.cos(angle) * s[:, 1]
        return torch.cat([first[:, None], second[:, None], s[:, 2:]], 1)

    return Transform("spiral", forward, inverse)


def _as_float64_tensor(a: Tensor | np.ndarray, name: str, dim: int) -> Tensor:
    t = torch.as_tensor(a).detach().to(device="cpu", dtype=torch.float64)
    if t.dim() != 2 or t.shape[1] != dim:
        raise ValueError(f"{name} must have shape (N, {dim}), got {tuple(t.shape)}")
    return t


class Task(ABC):
    """A joint distribution of ``(x, y)`` with known mutual information.

    Subclasses provide the latent distribution; the base class applies the per-coordinate
    transforms (forward when sampling, inverse before evaluating the density ratio) and
    checks shapes.

    Attributes:
        name: registry name of the task family (a key of :data:`TASKS`).
        mi: true mutual information ``I(x; y)``, nats.
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        params: the parameters the task was built with (for reports).
        x_transform: per-coordinate map from the latent ``x`` to the observed one.
        y_transform: the same for ``y``.
    """

    def __init__(
        self,
        name: str,
        mi: float,
        x_dim: int,
        y_dim: int,
        params: dict[str, Any] | None = None,
        x_transform: Transform = IDENTITY,
        y_transform: Transform = IDENTITY,
    ) -> None:
        self.name = name
        self.mi = float(mi)
        self.x_dim = int(x_dim)
        self.y_dim = int(y_dim)
        self.params = dict(params or {})
        self.x_transform = x_transform
        self.y_transform = y_transform

    @property
    def label(self) -> str:
        """``name(param=value, ...)``, e.g. ``cubic(dim=20, mi=6.0)``."""
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def __repr__(self) -> str:
        return (
            f"<Task {self.label}: I = {self.mi:.4f} nats, x_dim={self.x_dim}, y_dim={self.y_dim}>"
        )

    def sample(
        self, n: int, seed: int | np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. pairs.

        Args:
            n: number of pairs (positive).
            seed: an integer seed, a NumPy ``Generator`` (advanced in place) or ``None``
                (fresh entropy). The same integer seed gives the same arrays.

        Returns:
            ``(x, y)``: float32 arrays of shapes ``(n, x_dim)`` and ``(n, y_dim)``.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        x, y = self._sample_latent(int(n), rng)
        x = self.x_transform.forward(x).astype(np.float32)
        y = self.y_transform.forward(y).astype(np.float32)
        return x, y

    def _latent(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        xt = self.x_transform.inverse(_as_float64_tensor(x, "x", self.x_dim))
        yt = self.y_transform.inverse(_as_float64_tensor(y, "y", self.y_dim))
        return xt, yt

    def log_density_ratio(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> Tensor:
        """Pairwise log density ratio, the optimal critic.

        Args:
            x: (B, x_dim) observed ``x`` (tensor or array, any float dtype, any device).
            y: (M, y_dim) observed ``y``.

        Returns:
            (B, M) float64 CPU tensor, ``S[i, j] = log p(x_i, y_j) / (p(x_i) p(y_j))`` in
            nats. For ``B == M`` paired samples it is a score matrix for
            :mod:`infomax.bounds` with the positives on the diagonal.
        """
        xt, yt = self._latent(x, y)
        return self._latent_log_ratio(xt, yt)

    def log_density_ratio_diagonal(self, x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> Tensor:
        """Log density ratio of aligned pairs, the diagonal of :meth:`log_density_ratio`.

        Its mean over samples of the joint is a Monte-Carlo estimate of ``mi``.

        Args:
            x: (N, x_dim) observed ``x``.
            y: (N, y_dim) observed ``y``, row ``i`` paired with ``x[i]``.

        Returns:
            (N,) float64 CPU tensor, ``log p(x_i, y_i) / (p(x_i) p(y_i))`` in nats.
        """
        xt, yt = self._latent(x, y)
        if xt.shape[0] != yt.shape[0]:
            raise ValueError(
                f"x and y must have the same number of rows, got {xt.shape[0]} and {yt.shape[0]}"
            )
        return self._latent_log_ratio_diagonal(xt, yt)

    @abstractmethod
    def _sample_latent(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Latent samples, float64 ``(n, x_dim)``, ``(n, y_dim)``."""

    @abstractmethod
    def _latent_log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        """Pairwise latent log ratio, float64 (B, x_dim), (M, y_dim) -> (B, M)."""

    @abstractmethod
    def _latent_log_ratio_diagonal(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned latent log ratio, float64 (N, x_dim), (N, y_dim) -> (N,)."""


def rho_from_mi(mi_per_dim: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Correlation carrying a given MI in a bivariate standard Gaussian.

    Inverts ``I = -0.5 log(1 - rho^2)``: ``rho = sqrt(1 - exp(-2 I))``.

    Args:
        mi_per_dim: scalar or (d,) MI per coordinate pair, nats, non-negative.

    Returns:
        (d,) float64 array of correlations in ``[0, 1)`` (a scalar input gives shape (1,)).
    """
    mi_k = np.atleast_1d(np.asarray(mi_per_dim, dtype=np.float64))
    return np.sqrt(-np.expm1(-2.0 * mi_k))


def _check_dim(dim: int, name: str = "dim") -> int:
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise ValueError(f"{name} must be a positive integer, got {dim!r}")
    return int(dim)


def _resolve_mi_per_dim(
    dim: int | None,
    mi: float | None,
    mi_per_dim: Sequence[float] | np.ndarray | None,
    default_dim: int,
    default_mi: float,
) -> np.ndarray:
    """Per-coordinate MI shares (d,) from ``dim`` and ``mi`` or an explicit ``mi_per_dim``."""
    if mi_per_dim is None:
        d = _check_dim(default_dim if dim is None else dim)
        total = default_mi if mi is None else float(mi)
        if not math.isfinite(total) or total < 0:
            raise ValueError(f"mi must be a finite non-negative number of nats, got {mi!r}")
        shares = np.full(d, total / d)
    else:
        shares = np.asarray(mi_per_dim, dtype=np.float64)
        if shares.ndim != 1 or shares.size == 0:
            raise ValueError(f"mi_per_dim must be a non-empty 1-d array, got shape {shares.shape}")
        if not np.all(np.isfinite(shares)) or np.any(shares < 0):
            raise ValueError("mi_per_dim must hold finite non-negative numbers of nats")
        if dim is not None and _check_dim(dim) != shares.size:
            raise ValueError(f"dim={dim} disagrees with len(mi_per_dim)={shares.size}")
        if mi is not None and not math.isclose(
            float(mi), shares.sum(), rel_tol=1e-9, abs_tol=1e-12
        ):
            raise ValueError(f"mi={mi} disagrees with sum(mi_per_dim)={shares.sum()}")
    if np.any(shares > MAX_MI_PER_DIM):
        raise ValueError(
            f"at most {MAX_MI_PER_DIM} nats per coordinate pair are supported (float32 samples "
            f"cannot resolve more), got max {shares.max():.3g}; spread the MI over more dimensions"
        )
    return shares


class GaussianTask(Task):
    """Coordinate-wise correlated standard Gaussians, optionally transformed per coordinate.

    Latent ``x ~ N(0, I_d)`` and ``y_k = rho_k x_k + sqrt(1 - rho_k^2) eps_k`` with
    ``eps ~ N(0, I_d)``; then ``x -> x_transform(x)``, ``y -> y_transform(y)``.

    Args:
        name: registry name.
        mi_per_dim: (d,) MI of each coordinate pair, nats.
        params: parameters for :attr:`Task.label`.
        x_transform: per-coordinate map applied to ``x``.
        y_transform: per-coordinate map applied to ``y``.

    Attributes:
        mi_per_dim: (d,) MI share of each coordinate pair, nats; sums to ``mi``.
        rho: (d,) correlation of each latent coordinate pair.
        noise_var: (d,) ``1 - rho^2`` computed as ``exp(-2 I_k)`` (exact even as rho -> 1).
    """

    def __init__(
        self,
        name: str,
        mi_per_dim: np.ndarray,
        params: dict[str, Any] | None = None,
        x_transform: Transform = IDENTITY,
        y_transform: Transform = IDENTITY,
    ) -> None:
        shares = np.asarray(mi_per_dim, dtype=np.float64)
        d = shares.size
        super().__init__(name, float(shares.sum()), d, d, params, x_transform, y_transform)
        self.mi_per_dim = shares
        self.rho = rho_from_mi(shares)
        self.noise_var = np.exp(-2.0 * shares)
        rho_t = torch.from_numpy(self.rho)
        var_t = torch.from_numpy(self.noise_var)
        self._rho_t = rho_t
        self._var_t = var_t
        # S[i, j] = mi - sum_k a_k (x_ik^2 + y_jk^2) + sum_k b_k x_ik y_jk
        self._a = rho_t**2 / (2.0 * var_t)
        self._b = rho_t / var_t

    def subview_mi(self, coords: Sequence[int] | np.ndarray) -> float:
        """``I(x_S; y)`` for the sub-view of ``x`` made of coordinates ``S``, nats.

        The coordinate pairs are independent, so this is ``sum_{k in S} mi_per_dim[k]``; the
        chain-rule term ``I(x_k; y | x_S)`` for ``k`` not in ``S`` is ``mi_per_dim[k]``.

        Args:
            coords: indices into ``range(x_dim)`` (duplicates are counted once).

        Returns:
            MI in nats.
        """
        idx = np.unique(np.asarray(coords, dtype=np.int64))
        if idx.size and (idx.min() < 0 or idx.max() >= self.x_dim):
            raise ValueError(f"coords must lie in [0, {self.x_dim}), got {list(idx)}")
        return float(self.mi_per_dim[idx].sum())

    def _sample_latent(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((n, self.x_dim))
        eps = rng.standard_normal((n, self.y_dim))
        y = self.rho * x + np.sqrt(self.noise_var) * eps
        return x, y

    def _latent_log_ratio(self, x: Tensor, y: Tensor) -> Tensor:
        quad_x = (x**2) @ self._a  # (B,)
        quad_y = (y**2) @ self._a  # (M,)
        cross = (x * self._b) @ y.T  # (B, M)
        return self.mi - quad_x[:, None] - quad_y[None, :] + cross

    def _latent_log_ratio_diagonal(self, x: Tensor, y: Tensor) -> Tensor:
        # log p(y | x) - log p(y), coordinate-wise; the residual form avoids cancellation.
        residual = (y - self._rho_t * x) ** 2 / (2.0 * self._var_t)
        return self.mi - residual.sum(dim=1) + 0.5 * (y**2).sum(dim=1)


def correlated_gaussian(
    dim: int | None = None,
    mi: float | None = None,
    *,
    mi_per_dim: Sequence[float] | np.ndarray | None = None,
) -> GaussianTask:
    """Correlated standard Gaussians: ``y_k = rho_k x_k + sqrt(1 - rho_k^2) eps_k``.

    Args:
        dim: width of ``x`` and of ``y`` (default 20).
        mi: total MI, nats (default 2.0), split equally: ``rho = sqrt(1 - exp(-2 mi / dim))``.
            ``mi=0`` gives independent ``x`` and ``y``.
        mi_per_dim: (d,) MI share of each coordinate pair instead of ``dim``/``mi`` (which,
            if also given, must agree with it).

    Returns:
        A :class:`GaussianTask` with ``mi = sum(mi_per_dim)`` nats.
    """
    shares = _resolve_mi_per_dim(dim, mi, mi_per_dim, 20, 2.0)
    return GaussianTask("correlated_gaussian", shares, _params(shares, mi_per_dim))


def cubic(
    dim: int | None = None,
    mi: float | None = None,
    *,
    mi_per_dim: Sequence[float] | np.ndarray | None = None,
) -> GaussianTask:
    """:func:`correlated_gaussian` with ``y -> y ** 3`` (same MI).

    Args:
        dim: width of ``x`` and ``y`` (default 20).
        mi: total MI, nats (default 2.0).
        mi_per_dim: (d,) per-coordinate shares instead of ``dim``/``mi``.

    Returns:
        A :class:`GaussianTask` whose ``y`` is cubed.
    """
    shares = _resolve_mi_per_dim(dim, mi, mi_per_dim, 20, 2.0)
    return GaussianTask("cubic", shares, _params(shares, mi_per_dim), y_transform=CUBE)


def half_cube(
    dim: int | None = None,
    mi: float | None = None,
    *,
    mi_per_dim: Sequence[float] | np.ndarray | None = None,
) -> GaussianTask:
    """:func:`correlated_gaussian` with ``t -> t sqrt(|t|)`` on every coordinate of x and y.

    Args:
        dim: width of ``x`` and ``y`` (default 20).
        mi: total MI, nats (default 2.0).
        mi_per_dim: (d,) per-coordinate shares instead of ``dim``/``mi``.

    Returns:
        A :class:`GaussianTask` (bmi's "half-cube" transformed Gaussian).
    """
    shares = _resolve_mi_per_dim(dim, mi, mi_per_dim, 20, 2.0)
    return GaussianTask("half_cube", shares, _params(shares, mi_per_dim), HALF_CUBE, HALF_CUBE)


def asinh(
    dim: int | None = None,
    mi: float | None = None,
    *,
    mi_per_dim: Sequence[float] | np.ndarray | None = None,
) -> GaussianTask:
    """:func:`correlated_gaussian` with ``asinh`` on every coordinate of ``x`` and ``y``.

    Args:
        dim: width of ``x`` and ``y`` (default 20).
        mi: total MI, nats (default 2.0).
        mi_per_dim: (d,) per-coordinate shares instead of ``dim``/``mi``.

    Returns:
        A :class:`GaussianTask` (bmi's "asinh" transformed Gaussian, lighter tails).
    """
    shares = _resolve_mi_per_dim(dim, mi, mi_per_dim, 20, 2.0)
    return GaussianTask("asinh", shares, _params(shares, mi_per_dim), ASINH, ASINH)


def spiral(dim: int = 5, mi: float = 2.0, speed: float = 1.0 / 3.0) -> GaussianTask:
    """:func:`correlated_gaussian` with ``x`` spiralled (:func:`spiral_transform`), same MI.

    The one ground-truth task here whose copula is not elliptical: after the
    rank transform, neither the Gaussian nor the Student-t start of
    :func:`infomax.estimate_mi` represents it, so the trained critic has to.

    Args:
        dim: width of ``x`` and ``y`` (at least 2).
        mi: total MI, nats, split equally over the coordinate pairs.
        speed: rotation in radians per unit of ``|x|^2`` (``E|x|^2 = dim``).

    Returns:
        A :class:`GaussianTask` whose ``x`` is spiralled.
    """
    d = _check_dim(dim)
    if d < 2:
        raise ValueError(f"the spiral rotates two coordinates; dim must be at least 2, got {d}")
    shares = _resolve_mi_per_dim(d, mi, None, d, 2.0)
    params = {"dim": d, "mi": mi, "speed": round(speed, 6)}
    return GaussianTask("spiral", shares, params, x_transform=spiral_transform(speed))


def _params(shares: np.ndarray, mi_per_dim: object) -> dict[str, Any]:
    if mi_per_dim is not None:
        return {"mi_per_dim": [round(float(s), 6) for s in shares]}
    return {"dim": shares.size, "mi": round(float(shares.sum()), 6)}


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


# ---------------------------------------------------------------------------
# Analytically optimal critics of the coordinate-wise correlated Gaussian
# ---------------------------------------------------------------------------


def gaussian_log_density_ratio(x: Tensor, y: Tensor, rho: Tensor, start: int, stop: int) -> Tensor:
    """``sum_{start <= d < stop} log N(y_d; rho_d x_d, 1 - rho_d^2) - log N(y_d; 0, 1)``.

    The per-coordinate log density ratio ``log p(y_d | x_d) / p(y_d)`` of the
    correlated Gaussian, summed over a range of coordinates. ``x`` and ``y``
    broadcast against each other.

    Args:
        x: (..., >= stop) values of ``x``.
        y: (..., >= stop) values of ``y``.
        rho: (d,) correlations.
        start: first coordinate.
        stop: one past the last coordinate.

    Returns:
        The broadcast shape of ``x[..., 0]`` and ``y[..., 0]``, nats.
    """
    rho = torch.as_tensor(rho, dtype=x.dtype, device=x.device)[start:stop]
    xs, ys = x[..., start:stop], y[..., start:stop]
    var = 1.0 - rho.square()
    return (-0.5 * torch.log(var) - (ys - rho * xs).square() / (2.0 * var) + 0.5 * ys.square()).sum(
        dim=-1
    )


def _pairs(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    if x.dim() != 2:
        raise ValueError(f"x must be (B, d), got shape {tuple(x.shape)}")
    if y.dim() == 2:  # every x_i against every y_j: (B, M)
        return x[:, None, :], y[None, :, :]
    if y.dim() == 3 and y.shape[0] == x.shape[0]:  # x_i against its own candidates: (B, K)
        return x[:, None, :], y
    raise ValueError(f"y must be (M, d) or (B, K, d) with B = {x.shape[0]}, got {tuple(y.shape)}")


def optimal_psi_scores(x: Tensor, y: Tensor, rho: Tensor, prefix: int) -> Tensor:
    """Optimal unconditional critic ``psi*(x', y) = log p(y | x') / p(y)``, ``x' = x[:, :prefix]``.

    Args:
        x: (B, d) full ``x`` (only the first ``prefix`` columns are read).
        y: (M, d) shared candidates, or (B, K, d) candidates per row.
        rho: (d,) correlations.
        prefix: width of the sub-view.

    Returns:
        (B, M) score matrix, or (B, K) per-row scores, nats.
    """
    return gaussian_log_density_ratio(*_pairs(x, y), rho, 0, prefix)


def optimal_phi_scores(x: Tensor, y: Tensor, rho: Tensor, prefix_prev: int, prefix: int) -> Tensor:
    """Optimal conditional critic ``phi*(x, y) = log p(y | x[:prefix]) / p(y | x[:prefix_prev])``.

    Args:
        x: (B, d) full ``x``.
        y: (M, d) shared candidates, or (B, K, d) candidates per row.
        rho: (d,) correlations.
        prefix_prev: width of the conditioning sub-view ``x'``.
        prefix: width of the sub-view ``x``, ``> prefix_prev``.

    Returns:
        (B, M) score matrix, or (B, K) per-row scores, nats.
    """
    if not 0 <= prefix_prev < prefix:
        raise ValueError(f"need 0 <= prefix_prev < prefix, got {prefix_prev} and {prefix}")
    return gaussian_log_density_ratio(*_pairs(x, y), rho, prefix_prev, prefix)


def optimal_critic_scores(
    x: Tensor, y: Tensor, rho: Tensor, prefix_prev: int, prefix: int
) -> tuple[Tensor, Tensor]:
    """Both optimal critics of the step ``x[:prefix_prev] ⊂ x[:prefix]``.

    Args:
        x: (B, d) full ``x``.
        y: (M, d) or (B, K, d).
        rho: (d,) correlations.
        prefix_prev: width of ``x'``.
        prefix: width of ``x``.

    Returns:
        ``(psi, phi)``: ``psi*(x', y) = log p(y | x') / p(y)`` and
        ``phi*(x, y) = log p(y | x) / p(y | x')``, each (B, M) or (B, K), nats.
    """
    return optimal_psi_scores(x, y, rho, prefix_prev), optimal_phi_scores(
        x, y, rho, prefix_prev, prefix
    )


#: Task factories by name; each returns a :class:`Task`.
TASKS: dict[str, Callable[..., Task]] = {
    "correlated_gaussian": correlated_gaussian,
    "cubic": cubic,
    "half_cube": half_cube,
    "asinh": asinh,
    "student_t": student_t,
    "spiral": spiral,
}


def get_task(name: str, **kwargs: Any) -> Task:
    """Build a task by name, e.g. ``get_task("cubic", dim=20, mi=6.0)``.

    Args:
        name: a key of :data:`TASKS`.
        **kwargs: passed to the factory.

    Returns:
        The :class:`Task`.
    """
    try:
        factory = TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}"
        ) from None
    return factory(**kwargs)

"""Tasks' shared parts: transforms, the :class:`Task` base class, MI shares."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

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


def _params(shares: np.ndarray, mi_per_dim: object) -> dict[str, Any]:
    if mi_per_dim is not None:
        return {"mi_per_dim": [round(float(s), 6) for s in shares]}
    return {"dim": shares.size, "mi": round(float(shares.sum()), 6)}

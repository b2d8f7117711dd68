"""Correlated Gaussian tasks (and their transforms), their optimal critics, and the sampler.

:class:`GaussianTask` samples with NumPy, one seed per call; :func:`gaussian_pairs`
draws the same distribution on torch from a ``torch.Generator``, on any device, for
loops that draw a fresh batch at every optimiser step (the benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.distributions.base import (
    ASINH,
    CUBE,
    HALF_CUBE,
    IDENTITY,
    Task,
    Transform,
    _check_dim,
    _params,
    _resolve_mi_per_dim,
    rho_from_mi,
    spiral_transform,
)


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


def _transformed_gaussian(
    name: str, x_transform: Transform, y_transform: Transform, summary: str, returns: str
) -> Callable[..., GaussianTask]:
    """A task factory: :func:`correlated_gaussian` with per-coordinate transforms (same MI)."""

    def factory(
        dim: int | None = None,
        mi: float | None = None,
        *,
        mi_per_dim: Sequence[float] | np.ndarray | None = None,
    ) -> GaussianTask:
        shares = _resolve_mi_per_dim(dim, mi, mi_per_dim, 20, 2.0)
        return GaussianTask(name, shares, _params(shares, mi_per_dim), x_transform, y_transform)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"""{summary}

    Args:
        dim: width of ``x`` and ``y`` (default 20).
        mi: total MI, nats (default 2.0).
        mi_per_dim: (d,) per-coordinate shares instead of ``dim``/``mi``.

    Returns:
        A :class:`GaussianTask` {returns}.
    """
    return factory


cubic = _transformed_gaussian(
    "cubic",
    IDENTITY,
    CUBE,
    ":func:`correlated_gaussian` with ``y -> y ** 3`` (same MI).",
    "whose ``y`` is cubed",
)
half_cube = _transformed_gaussian(
    "half_cube",
    HALF_CUBE,
    HALF_CUBE,
    ":func:`correlated_gaussian` with ``t -> t sqrt(|t|)`` on every coordinate of x and y.",
    '(bmi\'s "half-cube" transformed Gaussian)',
)
asinh = _transformed_gaussian(
    "asinh",
    ASINH,
    ASINH,
    ":func:`correlated_gaussian` with ``asinh`` on every coordinate of ``x`` and ``y``.",
    '(bmi\'s "asinh" transformed Gaussian, lighter tails)',
)


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


def gaussian_pairs(
    batch_size: int,
    rho: float | Tensor,
    dim: int | None = None,
    *,
    cubic: bool = False,
    one_draw: bool = False,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw ``x ~ N(0, I)`` and ``y = rho x + sqrt(1 - rho^2) eps`` (``y ** 3`` if cubic) on torch.

    Coordinate pair ``k`` carries ``-0.5 log(1 - rho_k^2)`` nats (:func:`rho_from_mi`
    inverts it).

    Args:
        batch_size: ``B``.
        rho: one correlation for every coordinate (a float, with ``dim``), or a
            (dim,) tensor of per-coordinate correlations, each in ``[0, 1)``.
        dim: width of ``x`` and ``y``; only with a float ``rho``.
        cubic: apply ``y -> y ** 3`` (an invertible map: the MI is unchanged).
        one_draw: draw ``x`` and ``eps`` as one (B, 2 dim) normal tensor (the
            staircase's random stream) instead of two (B, dim) ones, x first.
        generator: random generator, on ``device``.
        dtype: of the samples (default: torch's default dtype).
        device: where to sample.

    Returns:
        ``x`` (B, dim) and ``y`` (B, dim).
    """
    if isinstance(rho, Tensor):
        if dim is not None and dim != rho.shape[0]:
            raise ValueError(f"dim={dim} disagrees with rho of shape {tuple(rho.shape)}")
        dim = rho.shape[0]
        noise_scale: float | Tensor = torch.sqrt(1.0 - rho.square())
    else:
        if dim is None:
            raise ValueError("a float rho needs dim")
        noise_scale = math.sqrt(1.0 - rho * rho)
    draw = {"generator": generator, "dtype": dtype, "device": device}
    if one_draw:
        noise = torch.randn(batch_size, 2 * dim, **draw)
        x, eps = noise[:, :dim], noise[:, dim:]
    else:
        x = torch.randn(batch_size, dim, **draw)
        eps = torch.randn(batch_size, dim, **draw)
    y = rho * x + noise_scale * eps
    if cubic:
        y = y**3
    return x, y

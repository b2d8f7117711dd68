"""Conditional samplers ``q(y | x')``: the negatives of DEMI's ``I_VAR`` (and its oracle).

:func:`infomax.bounds.conditional_infonce` needs, for each row, negatives
from ``p(y | x')``. :class:`ConditionalGaussian` learns one; :class:`GaussianOracle`
is the exact one of the coordinate-wise correlated Gaussian
(:func:`infomax.distributions.correlated_gaussian`), for tests and benchmarks.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax.critics import mlp

__all__ = ["ConditionalGaussian", "ConditionalSampler", "GaussianOracle"]

_LOG_2PI = math.log(2.0 * math.pi)


class ConditionalSampler(nn.Module, ABC):
    """Interface of a conditional density ``q(y | x')`` that can be sampled.

    Implementations: :class:`ConditionalGaussian` (learned) and
    :class:`GaussianOracle` (exact, for the correlated Gaussian). A normalising
    flow can implement the same two methods.
    """

    @abstractmethod
    def log_prob(self, x_prime: Tensor, y: Tensor) -> Tensor:
        """Log density ``log q(y | x')``, nats.

        Args:
            x_prime: (B, d_x') conditioning sub-view.
            y: (B, d_y), or (B, K, d_y) candidates per row.

        Returns:
            (B,) or (B, K).
        """

    @abstractmethod
    def sample(self, x_prime: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``k`` samples ``y ~ q(y | x'_i)`` for every row.

        Args:
            x_prime: (B, d_x').
            k: samples per row.
            generator: optional random generator.

        Returns:
            (B, k, d_y).
        """


def _broadcast_rows(per_row: Tensor, y: Tensor) -> Tensor:
    """Align a (B, d) per-row tensor with y of shape (B, d) or (B, K, d)."""
    if y.dim() == 3:
        return per_row[:, None, :]
    if y.dim() == 2:
        return per_row
    raise ValueError(f"y must be (B, d_y) or (B, K, d_y), got shape {tuple(y.shape)}")


class ConditionalGaussian(ConditionalSampler):
    """Learned diagonal Gaussian ``q(y | x') = N(mu(x'), diag(exp(log_var)))``.

    ``mu`` is linear (``A x' + b``) with ``hidden=()``, or a small MLP; the
    log-variance is one learned vector (homoscedastic). Fit it by maximum
    likelihood: add :meth:`nll` to the training loss.

    Args:
        x_dim: width of the conditioning sub-view ``x'``.
        y_dim: width of ``y``.
        hidden: hidden widths of the mean network (``()`` for linear).
        activation: non-linearity of the mean network.
    """

    def __init__(
        self, x_dim: int, y_dim: int, hidden: Sequence[int] = (), activation: str = "relu"
    ) -> None:
        super().__init__()
        if x_dim < 1 or y_dim < 1:
            raise ValueError(f"x_dim and y_dim must be positive, got {x_dim} and {y_dim}")
        self.x_dim, self.y_dim = x_dim, y_dim
        self.mean = mlp(x_dim, hidden, y_dim, activation)
        self.log_var = nn.Parameter(torch.zeros(y_dim))

    def log_prob(self, x_prime: Tensor, y: Tensor) -> Tensor:
        """Args: x_prime (B, d_x'), y (B, d_y) or (B, K, d_y). Returns: (B,) or (B, K), nats."""
        mean = _broadcast_rows(self.mean(x_prime), y)
        squared = (y - mean).square() * torch.exp(-self.log_var)
        return -0.5 * (squared + self.log_var + _LOG_2PI).sum(dim=-1)

    def nll(self, x_prime: Tensor, y: Tensor) -> Tensor:
        """Mean negative log-likelihood ``-mean_i log q(y_i | x'_i)`` (scalar, nats)."""
        return -self.log_prob(x_prime, y).mean()

    @property
    def linear(self) -> bool:
        """Whether the mean is one linear map (then :meth:`fit` has a closed form)."""
        return len(self.mean) == 1

    @torch.no_grad()
    def fit(self, x_prime: Tensor, y: Tensor, ridge: float = 1e-6) -> None:
        """Set a linear ``q`` to its maximum-likelihood value on a sample, in closed form.

        The mean is the least-squares regression of ``y`` on ``[x', 1]`` (with a
        small ridge, relative to the Gram matrix's scale), the variance the mean
        squared residual per coordinate. Gradient steps at a critic's learning
        rate take thousands of steps to get there, and a too-wide ``q`` makes
        I_VAR overestimate (its negatives are then easy to tell from real ``y``).

        Args:
            x_prime: (N, d_x') sample of the conditioning view.
            y: (N, d_y) paired sample of ``y``.

        Raises:
            ValueError: a mean network with hidden layers (fit it by :meth:`nll`).
        """
        if not self.linear:
            raise ValueError("a closed-form fit needs the linear mean (hidden=())")
        if x_prime.shape[0] != y.shape[0] or x_prime.shape[0] <= x_prime.shape[1] + 1:
            raise ValueError(
                f"fit needs more paired rows than x' has columns: {x_prime.shape[0]} rows of "
                f"{x_prime.shape[1]} columns against {y.shape[0]}"
            )
        layer = self.mean[0]
        assert isinstance(layer, nn.Linear)
        xs = torch.cat([x_prime, x_prime.new_ones(x_prime.shape[0], 1)], 1).double()
        gram = xs.T @ xs
        gram += ridge * gram.diagonal().mean() * torch.eye(gram.shape[0], dtype=gram.dtype)
        coef = torch.linalg.solve(gram, xs.T @ y.double())  # (d_x' + 1, d_y)
        residual = y.double() - xs @ coef
        layer.weight.copy_(coef[:-1].T)
        layer.bias.copy_(coef[-1])
        self.log_var.copy_(residual.square().mean(0).clamp_min(1e-12).log())

    def sample(self, x_prime: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Args: x_prime (B, d_x'), k. Returns: (B, k, d_y), reparameterised."""
        mean = self.mean(x_prime)
        noise = torch.randn(
            mean.shape[0], k, self.y_dim, generator=generator, dtype=mean.dtype, device=mean.device
        )
        return mean[:, None, :] + torch.exp(0.5 * self.log_var) * noise


class GaussianOracle(ConditionalSampler):
    """Exact ``p(y | x')`` of the coordinate-wise correlated Gaussian.

    ``x ~ N(0, I_d)`` and ``y = rho * x + sqrt(1 - rho^2) * eps`` coordinate by
    coordinate, so ``I(x_d; y_d) = -0.5 log(1 - rho_d^2)``. Conditioning on the
    prefix ``x' = x[:, :prefix]`` gives ``y_d | x' ~ N(rho_d x_d, 1 - rho_d^2)``
    for ``d < prefix`` and ``N(0, 1)`` otherwise.

    Args:
        rho: (d,) correlations, each in ``(-1, 1)``; kept in their floating
            dtype (float64 for lists and arrays) and cast to the dtype of ``x'`` on use.
        prefix: width of the conditioning prefix, ``0 <= prefix <= d``
            (``0`` gives the marginal ``p(y)``).
    """

    def __init__(self, rho: Sequence[float] | Tensor, prefix: int) -> None:
        super().__init__()
        if isinstance(rho, Tensor) and rho.is_floating_point():
            rho_t = rho.detach().flatten().clone()
        else:
            rho_t = torch.as_tensor(rho, dtype=torch.float64).flatten().clone()
        if rho_t.numel() == 0:
            raise ValueError("rho must hold at least one correlation")
        if not bool((rho_t.abs() < 1).all()):
            raise ValueError("every rho must lie strictly inside (-1, 1)")
        if not 0 <= prefix <= rho_t.numel():
            raise ValueError(f"prefix must lie in [0, {rho_t.numel()}], got {prefix}")
        self.register_buffer("rho", rho_t)
        self.prefix = prefix
        self.dim = rho_t.numel()

    def conditional_mi(self, stop: int | None = None) -> float:
        """Closed form ``I(x[:stop]; y | x[:prefix])`` in nats (``stop=None``: all of ``x``)."""
        stop = self.dim if stop is None else stop
        if not self.prefix <= stop <= self.dim:
            raise ValueError(f"stop must lie in [{self.prefix}, {self.dim}], got {stop}")
        rho = self.rho[self.prefix : stop].double()
        return float(-0.5 * torch.log1p(-rho.square()).sum())

    def _moments(self, x_prime: Tensor) -> tuple[Tensor, Tensor]:
        if x_prime.dim() != 2 or x_prime.shape[1] != self.prefix:
            raise ValueError(
                f"x_prime must be (B, {self.prefix}) for prefix {self.prefix}, got shape "
                f"{tuple(x_prime.shape)}"
            )
        rho = self.rho.to(x_prime)
        mean = torch.zeros(x_prime.shape[0], self.dim, dtype=x_prime.dtype, device=x_prime.device)
        mean[:, : self.prefix] = rho[: self.prefix] * x_prime
        var = torch.ones(self.dim, dtype=x_prime.dtype, device=x_prime.device)
        var[: self.prefix] = 1.0 - rho[: self.prefix].square()
        return mean, var

    def log_prob(self, x_prime: Tensor, y: Tensor) -> Tensor:
        """Args: x_prime (B, prefix), y (B, d) or (B, K, d). Returns: (B,) or (B, K), nats."""
        mean, var = self._moments(x_prime)
        mean = _broadcast_rows(mean, y)
        return -0.5 * ((y - mean).square() / var + torch.log(var) + _LOG_2PI).sum(dim=-1)

    def sample(self, x_prime: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """Args: x_prime (B, prefix), k. Returns: (B, k, d) draws of ``p(y | x')``."""
        mean, var = self._moments(x_prime)
        noise = torch.randn(
            mean.shape[0], k, self.dim, generator=generator, dtype=mean.dtype, device=mean.device
        )
        return mean[:, None, :] + var.sqrt() * noise

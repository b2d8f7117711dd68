"""DEMI: conditional contrastive bounds and the chain-rule decomposition of MI.

Decomposed Estimation of Mutual Information (Sordoni et al., ICML 2021) splits
one view into nested sub-views ``x_1 ⊂ x_2 ⊂ ... ⊂ x_n = x`` and applies the
chain rule::

    I(x; y) = I(x_1; y) + sum_{k=2..n} I(x_k; y | x_{k-1}).

Each term carries a fraction of the total, so each contrastive estimate stays
below its own ``log K`` ceiling instead of the whole chain sharing one.

The conditional terms ``I(x; y | x')`` with ``x' ⊂ x`` use a conditional critic
``phi(x', x, y)``; since ``x'`` is part of ``x`` it is simply a critic of
``(x, y)``. Its optimum is ``phi* = log p(y | x) / p(y | x')`` (up to a
function of ``x``). The exact conditional InfoNCE bound needs negatives from
``p(y | x')``, which is rarely available; this module implements it together
with its practical approximations:

* :func:`conditional_infonce` — the bound itself, negatives from ``p(y | x')``
  (an oracle, or a learned ``q(y | x')``: ``I_VAR``).
* :func:`importance_sampled_infonce` — ``I_IS``: negatives are the other
  ``y_j`` of the batch (from ``p(y)``), reweighted towards ``p(y | x'_i)`` with
  self-normalised importance weights from the unconditional critic
  ``psi(x', y) ≈ log p(y | x') / p(y)``.
* :func:`boosted_infonce` / :func:`boosted_conditional_infonce` — ``I_BO``:
  InfoNCE of the boosted critic ``psi + phi`` with negatives from ``p(y)``.
* :class:`ConditionalGaussian` — a learned ``q(y | x')`` for ``I_VAR``.
* :class:`GaussianOracle` and :func:`optimal_critic_scores` — the exact
  ``p(y | x')`` and the analytically optimal critics of the coordinate-wise
  correlated Gaussian, for tests and benchmarks.
* :class:`DecomposedObjective` — the chain-rule assembly: critics per
  sub-view, a training loss and per-term estimates.

Conventions are those of :mod:`infomax.bounds`: ``S[i, j] = f(x_i, y_j)``,
positives on the diagonal, every value in nats, everything in log space.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.bounds import infonce
from infomax.critics import BilinearCritic, ConcatCritic, SeparableCritic, make_critic, mlp

__all__ = [
    "CONDITIONAL_ESTIMATORS",
    "ConditionalGaussian",
    "ConditionalSampler",
    "DecomposedObjective",
    "GaussianOracle",
    "boosted_conditional_infonce",
    "boosted_infonce",
    "conditional_infonce",
    "gaussian_log_density_ratio",
    "importance_sampled_infonce",
    "optimal_critic_scores",
    "optimal_phi_scores",
    "optimal_psi_scores",
    "score_candidates",
]

#: Names of the conditional estimators :class:`DecomposedObjective` accepts.
CONDITIONAL_ESTIMATORS: tuple[str, ...] = ("is", "bo", "var", "oracle")
#: Below this mean effective sample size of its importance weights, an I_IS term is flagged.
LOW_ESS = 3.0

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Bounds on score matrices
# ---------------------------------------------------------------------------


def _check_square_pair(phi_scores: Tensor, psi_scores: Tensor) -> int:
    if phi_scores.dim() != 2 or phi_scores.shape[0] != phi_scores.shape[1]:
        raise ValueError(
            "phi_scores must be a square (B, B) score matrix with positives on the diagonal, "
            f"got shape {tuple(phi_scores.shape)}"
        )
    if psi_scores.shape != phi_scores.shape:
        raise ValueError(
            f"psi_scores must have the shape of phi_scores {tuple(phi_scores.shape)}, "
            f"got {tuple(psi_scores.shape)}"
        )
    batch = phi_scores.shape[0]
    if batch < 2:
        raise ValueError("a score matrix needs at least 2 samples (one positive, one negative)")
    return batch


def conditional_infonce(scores: Tensor) -> Tensor:
    """Conditional InfoNCE lower bound on ``I(x; y | x')``, ``<= log K``.

    Row ``i`` holds the critic ``phi(x_i, .)`` on ``K`` candidates: column 0 is
    the positive ``y_i`` and columns ``1..K-1`` are negatives
    ``y_ik ~ p(y | x'_i)`` drawn for that row. The value is
    ``mean_i [S_i0 - logsumexp_k S_ik] + log K``. With the negatives from the
    true conditional it is a lower bound on ``I(x; y | x')``; with negatives
    from a learned ``q(y | x')`` (``I_VAR``) it is one only as far as
    ``q`` matches ``p(y | x')``.

    Args:
        scores: (B, K) scores, ``K >= 2``, positive in column 0.

    Returns:
        Scalar tensor, nats. Never exceeds ``log K`` whatever the scores.
    """
    if scores.dim() != 2:
        raise ValueError(
            "conditional_infonce takes (B, K) scores with the positive in column 0, got shape "
            f"{tuple(scores.shape)}"
        )
    if scores.shape[1] < 2:
        raise ValueError(
            f"conditional_infonce needs at least one negative per row (K >= 2), got K = "
            f"{scores.shape[1]}"
        )
    if scores.shape[0] < 1:
        raise ValueError("conditional_infonce got an empty batch")
    n_candidates = scores.shape[1]
    return (scores[:, 0] - torch.logsumexp(scores, dim=1)).mean() + math.log(n_candidates)


def importance_sampled_infonce(phi_scores: Tensor, psi_scores: Tensor) -> tuple[Tensor, Tensor]:
    """``I_IS``: conditional InfoNCE with importance-weighted in-batch negatives.

    The negatives of row ``i`` are the other ``y_j`` of the batch, drawn from
    ``p(y)``. The weights ``w_ij = softmax_{j != i} psi_scores[i, j]`` turn them
    into a self-normalised importance sample of ``p(y | x'_i)``, since the
    unconditional critic ``psi(x', y)`` estimates ``log p(y | x') / p(y)`` up to
    a function of ``x'``. With ``K = B`` the per-row value is::

        S_ii - log( (1/K) (e^{S_ii} + (K - 1) sum_{j != i} w_ij e^{S_ij}) )

    computed with ``logsumexp``/``logaddexp``. The weights are detached: no
    gradient reaches ``psi`` through them.

    This is not a bound at finite ``K``: when the weights degenerate (effective
    sample size near 1) the one or few heavily weighted ``y_j`` are a poor
    stand-in for ``p(y | x'_i)`` and the estimate overshoots. Each row is still
    at most ``log K``. With ``psi = 0`` (uniform weights) it is exactly
    :func:`infomax.bounds.infonce` of ``phi_scores``.

    Args:
        phi_scores: (B, B) conditional critic ``phi(x_i, y_j)``.
        psi_scores: (B, B) unconditional critic ``psi(x'_i, y_j)`` of the
            previous sub-view.

    Returns:
        ``(estimate, ess)``: the mean estimate (scalar, nats) and the mean
        effective sample size of the weights (scalar, detached), where
        ``ESS_i = 1 / sum_j w_ij^2`` lies in ``[1, K - 1]``.
    """
    batch = _check_square_pair(phi_scores, psi_scores)
    diagonal = torch.eye(batch, dtype=torch.bool, device=phi_scores.device)
    log_weights = torch.log_softmax(psi_scores.detach().masked_fill(diagonal, -math.inf), dim=1)
    log_weights = log_weights.masked_fill(diagonal, -math.inf)
    weighted_negatives = torch.logsumexp(
        (log_weights + phi_scores).masked_fill(diagonal, -math.inf), dim=1
    )
    positives = phi_scores.diagonal()
    log_partition = torch.logaddexp(positives, weighted_negatives + math.log(batch - 1))
    estimate = (positives - log_partition).mean() + math.log(batch)
    ess = torch.exp(-torch.logsumexp(2.0 * log_weights, dim=1)).mean()
    return estimate, ess


def boosted_infonce(phi_scores: Tensor, psi_scores: Tensor) -> Tensor:
    """InfoNCE of the boosted critic ``psi + phi``, negatives from ``p(y)``.

    The boosted critic scores ``(x', x, y) = (x, y)`` against ``p(y)``, so this
    is a lower bound on ``I(x, x'; y) = I(x; y)``, hence ``<= log B``. See
    :func:`boosted_conditional_infonce` for the conditional term.

    Args:
        phi_scores: (B, B) conditional critic ``phi(x_i, y_j)``.
        psi_scores: (B, B) unconditional critic ``psi(x'_i, y_j)``.

    Returns:
        Scalar tensor, nats, ``<= log B``.
    """
    _check_square_pair(phi_scores, psi_scores)
    return infonce(psi_scores + phi_scores)


def boosted_conditional_infonce(phi_scores: Tensor, psi_scores: Tensor) -> Tensor:
    """``I_BO`` estimate of ``I(x; y | x')``: ``InfoNCE(psi + phi) - InfoNCE(psi)``.

    The chain rule ``I(x; y | x') = I(x; y) - I(x'; y)`` with both terms
    replaced by InfoNCE. Consequence: a chain of ``I_BO`` terms telescopes.
    With ``psi_k = psi_{k-1} + phi_k`` (which is what the optimal critics
    satisfy) the total ``InfoNCE(psi_1) + sum_k I_BO`` is exactly one InfoNCE
    of the full critic, and can never exceed ``log B``: the decomposition then
    buys no estimation headroom. It remains a useful *training* signal (for
    representation learning): the gradient of ``InfoNCE(psi + phi)`` asks
    ``phi`` to explain what ``psi`` misses.

    Args:
        phi_scores: (B, B) conditional critic ``phi(x_i, y_j)``.
        psi_scores: (B, B) unconditional critic ``psi(x'_i, y_j)``.

    Returns:
        Scalar tensor, nats, in ``[-log B, log B]``.
    """
    return boosted_infonce(phi_scores, psi_scores) - infonce(psi_scores)


# ---------------------------------------------------------------------------
# Conditional samplers q(y | x')
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Analytically optimal critics of the correlated Gaussian
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


# ---------------------------------------------------------------------------
# Critics on per-row candidates
# ---------------------------------------------------------------------------


def score_candidates(critic: nn.Module, x: Tensor, candidates: Tensor) -> Tensor:
    """Scores of each ``x_i`` against its own candidates ``y_ik``.

    A critic's ``forward`` scores every ``x_i`` against one shared set of
    ``y``; conditional InfoNCE needs per-row candidates instead. Separable,
    bilinear and concatenation critics are evaluated in one batched pass; any
    other critic falls back to one call per row.

    Args:
        critic: a critic module, ``critic(x, y) -> (B, M)``.
        x: (B, d_x).
        candidates: (B, K, d_y).

    Returns:
        (B, K) scores ``f(x_i, y_ik)``.
    """
    if candidates.dim() != 3 or candidates.shape[0] != x.shape[0]:
        raise ValueError(
            f"candidates must be (B, K, d_y) with B = {x.shape[0]}, got {tuple(candidates.shape)}"
        )
    batch, k, y_dim = candidates.shape
    flat = candidates.reshape(batch * k, y_dim)
    if isinstance(critic, SeparableCritic):
        gx, hy = critic.embed(x, flat)
        return torch.einsum("be,bke->bk", gx, hy.reshape(batch, k, -1)) / critic.temperature
    if isinstance(critic, BilinearCritic):
        left = critic.g(x) @ critic.weight
        return torch.einsum("be,bke->bk", left, critic.h(flat).reshape(batch, k, -1))
    if isinstance(critic, ConcatCritic):
        return critic.pairwise(x.repeat_interleave(k, dim=0), flat).reshape(batch, k)
    return torch.cat([critic(x[i : i + 1], candidates[i]) for i in range(batch)], dim=0)


# ---------------------------------------------------------------------------
# The chain-rule assembly
# ---------------------------------------------------------------------------


def _view_name(width: int, x_dim: int) -> str:
    return "x" if width == x_dim else f"x[:{width}]"


class DecomposedObjective(nn.Module):
    """DEMI's chain rule over nested prefixes, with one critic per term.

    With prefix widths ``subviews = [w_1 < ... < w_{n-1}]`` and ``w_n = x_dim``,
    the terms are ``I(x[:w_1]; y)`` (plain InfoNCE of an unconditional critic
    ``psi_1``) and ``I(x[:w_k]; y | x[:w_{k-1}])`` for ``k = 2..n``, each with a
    conditional critic ``phi_k`` of ``(x[:w_k], y)`` and the estimator named by
    ``conditional``:

    * ``"is"`` — :func:`importance_sampled_infonce` with weights from the
      unconditional critic ``psi_{k-1}``; every ``psi_1..psi_{n-1}`` is
      trained by InfoNCE. ``phi_k`` is trained on the ``I_IS`` value.
    * ``"bo"`` — :func:`boosted_conditional_infonce` on the running boosted
      critic ``b_k = psi_1 + phi_2 + ... + phi_k``: ``phi_k`` is trained on
      ``InfoNCE(b_{k-1}.detach() + phi_k)``, so it learns what the earlier
      critics miss, and the term is ``InfoNCE(b_k) - InfoNCE(b_{k-1})``. The
      chain telescopes to ``InfoNCE(b_n) <= log B`` (see
      :func:`boosted_conditional_infonce`).
    * ``"var"`` — :func:`conditional_infonce` with negatives from a learned
      :class:`ConditionalGaussian` ``q_k(y | x[:w_{k-1}])``, fitted by maximum
      likelihood: in closed form by :meth:`fit_samplers` before training (a
      linear ``q``), then by its NLL, which is added to the loss (the samples
      are detached).
    * ``"oracle"`` — :func:`conditional_infonce` with negatives from
      ``oracle(w_{k-1})``, an exact sampler of ``p(y | x[:w_{k-1}])``.

    ``var`` and ``oracle`` draw ``num_negatives`` (default ``B - 1``) negatives
    per row, so their terms are ``<= log(num_negatives + 1)`` like the
    in-batch ones are ``<= log B``; their estimates are random given the batch.

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        subviews: prefix widths ``0 < w_1 < ... < w_{n-1} < x_dim``; ``[]``
            gives plain InfoNCE of ``(x, y)``.
        conditional: ``"is"``, ``"bo"``, ``"var"`` or ``"oracle"``.
        critic: critic name for :func:`infomax.critics.make_critic`.
        shared_critics: one critic network for every term, fed the prefix
            zero-padded to ``x_dim`` and a one-hot of the critic's slot (each
            (role, sub-view) pair — ``psi`` of ``x_k`` or ``phi`` of ``x_k`` —
            gets its own slot, since ``psi_k`` and ``phi_k`` of the same prefix
            are different functions). Otherwise one network per term.
        oracle: for ``conditional="oracle"``, a callable ``prefix -> sampler``
            of ``p(y | x[:, :prefix])``, e.g. ``lambda p: GaussianOracle(rho, p)``.
        critic_kwargs: extra keyword arguments of the critics.
        num_negatives: negatives per row for ``var``/``oracle`` (default ``B - 1``).
        sampler_kwargs: extra keyword arguments of :class:`ConditionalGaussian`
            (``hidden``, ``activation``) for ``var``.

    Attributes:
        term_names: one readable name per term, e.g.
            ``["I(x[:5]; y)", "I(x[:10]; y | x[:5])", "I(x; y | x[:10])"]``.
        widths: the prefix widths including ``x_dim``.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        subviews: list[int],
        conditional: str = "is",
        critic: str = "separable",
        shared_critics: bool = False,
        oracle: Callable[[int], ConditionalSampler] | None = None,
        critic_kwargs: dict[str, Any] | None = None,
        *,
        num_negatives: int | None = None,
        sampler_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if x_dim < 1 or y_dim < 1:
            raise ValueError(f"x_dim and y_dim must be positive, got {x_dim} and {y_dim}")
        subviews = [int(w) for w in subviews]
        for w in subviews:
            if not 0 < w < x_dim:
                raise ValueError(
                    f"every sub-view width must satisfy 0 < w < x_dim = {x_dim} (x itself is the "
                    f"implicit last view), got subviews {subviews}"
                )
        if any(b <= a for a, b in zip(subviews, subviews[1:], strict=False)):
            raise ValueError(f"subviews must be strictly increasing prefix widths, got {subviews}")
        if conditional not in CONDITIONAL_ESTIMATORS:
            raise ValueError(
                f"unknown conditional estimator {conditional!r}; choose one of "
                f"{', '.join(CONDITIONAL_ESTIMATORS)}"
            )
        if conditional == "oracle" and oracle is None:
            raise ValueError(
                "conditional='oracle' needs oracle=<callable prefix -> ConditionalSampler>"
            )
        if num_negatives is not None and num_negatives < 1:
            raise ValueError(f"num_negatives must be positive, got {num_negatives}")
        self.x_dim, self.y_dim = x_dim, y_dim
        self.conditional = conditional
        self.shared_critics = shared_critics
        self.num_negatives = num_negatives
        self.widths: list[int] = [*subviews, x_dim]
        n_views = len(self.widths)
        self.term_names: list[str] = [f"I({_view_name(self.widths[0], x_dim)}; y)"] + [
            f"I({_view_name(self.widths[k], x_dim)}; y | {_view_name(self.widths[k - 1], x_dim)})"
            for k in range(1, n_views)
        ]
        # Which unconditional critics are needed: psi_{k-1} for every I_IS term; I_BO
        # boosts the running sum psi_1 + phi_2 + ... and needs only psi_1.
        if conditional == "is" and n_views > 1:
            self._psi_views = list(range(n_views - 1))
        else:
            self._psi_views = [0]
        self._phi_views = list(range(1, n_views))
        self._slots = {("psi", k): s for s, k in enumerate(self._psi_views)}
        self._slots.update(
            {("phi", k): len(self._psi_views) + s for s, k in enumerate(self._phi_views)}
        )
        kwargs = dict(critic_kwargs or {})
        if shared_critics:
            self.shared_critic = make_critic(critic, x_dim + len(self._slots), y_dim, **kwargs)
        else:
            self.psi_critics = nn.ModuleDict(
                {
                    str(k): make_critic(critic, self.widths[k], y_dim, **kwargs)
                    for k in self._psi_views
                }
            )
            self.phi_critics = nn.ModuleDict(
                {
                    str(k): make_critic(critic, self.widths[k], y_dim, **kwargs)
                    for k in self._phi_views
                }
            )
        self.samplers = nn.ModuleDict()
        if conditional == "var":
            for k in self._phi_views:
                self.samplers[str(k)] = ConditionalGaussian(
                    self.widths[k - 1], y_dim, **(sampler_kwargs or {})
                )
        elif conditional == "oracle":
            assert oracle is not None
            for k in self._phi_views:
                sampler = oracle(self.widths[k - 1])
                if not isinstance(sampler, ConditionalSampler):
                    raise TypeError(
                        f"oracle({self.widths[k - 1]}) must return a ConditionalSampler, got "
                        f"{type(sampler).__name__}"
                    )
                self.samplers[str(k)] = sampler

    @property
    def n_terms(self) -> int:
        """Number of chain-rule terms ``n``."""
        return len(self.widths)

    # -- critics ------------------------------------------------------------

    def _critic_input(self, role: str, k: int, x: Tensor) -> tuple[nn.Module, Tensor]:
        width = self.widths[k]
        prefix = x[:, :width]
        if not self.shared_critics:
            table = self.psi_critics if role == "psi" else self.phi_critics
            return table[str(k)], prefix
        one_hot = x.new_zeros(x.shape[0], len(self._slots))
        one_hot[:, self._slots[(role, k)]] = 1.0
        return self.shared_critic, torch.cat([F.pad(prefix, (0, self.x_dim - width)), one_hot], 1)

    def _scores(self, role: str, k: int, x: Tensor, y: Tensor) -> Tensor:
        critic, inputs = self._critic_input(role, k, x)
        return critic(inputs, y)

    def _candidate_scores(self, role: str, k: int, x: Tensor, candidates: Tensor) -> Tensor:
        critic, inputs = self._critic_input(role, k, x)
        return score_candidates(critic, inputs, candidates)

    def _check_batch(self, x: Tensor, y: Tensor) -> int:
        if x.dim() != 2 or x.shape[1] != self.x_dim:
            raise ValueError(f"x must be (B, {self.x_dim}), got shape {tuple(x.shape)}")
        if y.dim() != 2 or y.shape[1] != self.y_dim:
            raise ValueError(f"y must be (B, {self.y_dim}), got shape {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must pair up: {x.shape[0]} rows against {y.shape[0]}")
        if x.shape[0] < 2:
            raise ValueError("a contrastive estimate needs a batch of at least 2 pairs")
        return x.shape[0]

    # -- the terms ----------------------------------------------------------

    def _evaluate(
        self, x: Tensor, y: Tensor, train: bool
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        """Training objective (to maximise), per-term estimates and diagnostics."""
        batch = self._check_batch(x, y)
        psi = {k: self._scores("psi", k, x, y) for k in self._psi_views}
        psi_infonce = {k: infonce(scores) for k, scores in psi.items()}
        objective = torch.stack(list(psi_infonce.values())).sum()
        estimates = [psi_infonce[0]]
        diagnostics: dict[str, Tensor] = {}
        for k in self._psi_views[1:]:
            diagnostics[f"infonce/{_view_name(self.widths[k], self.x_dim)}"] = psi_infonce[k]
        boosted_scores, previous_boosted = psi[0], psi_infonce[0]
        for k in self._phi_views:
            name = self.term_names[k]
            if self.conditional == "is":
                phi = self._scores("phi", k, x, y)
                estimate, ess = importance_sampled_infonce(phi, psi[k - 1])
                objective = objective + estimate
                diagnostics[f"ess/{name}"] = ess
            elif self.conditional == "bo":
                # Boost the running critic psi_1 + phi_2 + ... + phi_{k-1}, so the chain
                # telescopes to InfoNCE of the full boosted critic and stays <= log B.
                phi = self._scores("phi", k, x, y)
                base = boosted_scores.detach()
                boosted = boosted_infonce(phi, base)
                objective = objective + boosted
                estimate = boosted - previous_boosted.detach()
                boosted_scores, previous_boosted = base + phi, boosted
                diagnostics[f"boosted_infonce/{name}"] = boosted
            else:
                sampler = self.samplers[str(k)]
                x_prev = x[:, : self.widths[k - 1]]
                if self.conditional == "var":
                    assert isinstance(sampler, ConditionalGaussian)
                    nll = sampler.nll(x_prev, y)
                    objective = objective - nll
                    diagnostics[f"nll/{name}"] = nll
                with torch.no_grad():
                    negatives = sampler.sample(x_prev, self.num_negatives or batch - 1)
                candidates = torch.cat([y[:, None, :], negatives.to(y)], dim=1)
                estimate = conditional_infonce(self._candidate_scores("phi", k, x, candidates))
                objective = objective + estimate
            estimates.append(estimate)
        return objective, estimates, diagnostics

    def fit_samplers(self, x: Tensor, y: Tensor) -> int:
        """For ``var``: fit every linear ``q_k`` to a sample in closed form (maximum likelihood).

        Call it once before training, on the training rows (or a large fresh
        sample); the NLL in the loss keeps refining ``q`` afterwards. Samplers
        with hidden layers are left to the loss.

        Args:
            x: (N, x_dim) sample of ``x``.
            y: (N, y_dim) paired sample of ``y``.

        Returns:
            The number of samplers fitted.
        """
        fitted = 0
        for key, sampler in self.samplers.items():
            if isinstance(sampler, ConditionalGaussian) and sampler.linear:
                sampler.fit(x[:, : self.widths[int(key) - 1]], y)
                fitted += 1
        return fitted

    def training_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Scalar loss to minimise: minus the sum of every critic's training objective.

        The sum covers InfoNCE of each needed unconditional critic ``psi``, the
        conditional objective of each ``phi_k``, and (``var``) minus the NLL of
        each ``q_k``.

        Args:
            x: (B, x_dim) batch of ``x``.
            y: (B, y_dim) paired batch of ``y``.

        Returns:
            Scalar tensor.
        """
        objective, _, _ = self._evaluate(x, y, train=True)
        return -objective

    def estimate_terms(self, x: Tensor, y: Tensor) -> Tensor:
        """Each chain-rule term's estimate on this batch (no gradient).

        Args:
            x: (B, x_dim).
            y: (B, y_dim).

        Returns:
            (n_terms,) tensor, nats, ordered as :attr:`term_names`. Their sum
            estimates ``I(x; y)``.
        """
        with torch.no_grad():
            _, estimates, _ = self._evaluate(x, y, train=False)
            return torch.stack(estimates)

    def warnings(self, diagnostics: dict[str, float]) -> list[str]:
        """Plain-language warnings from averaged :meth:`diagnostics`.

        I_IS is not a bound at finite batch size: when the importance weights
        put nearly all their mass on one or two negatives (mean effective
        sample size below :data:`LOW_ESS`), its term can overestimate.

        Args:
            diagnostics: averaged output of :meth:`diagnostics`.

        Returns:
            One message per term whose estimate should not be trusted.
        """
        out = []
        for key, value in diagnostics.items():
            if key.startswith("ess/") and value < LOW_ESS:
                out.append(
                    f"{key[4:]}: the importance weights have an effective sample size of "
                    f"{value:.1f} (< {LOW_ESS:g}), so this I_IS term may overestimate; use a "
                    "larger batch, finer sub-views, or --conditional bo (a lower bound)"
                )
        return out

    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Per-term diagnostics on this batch (no gradient).

        Keys: ``ess/<term>`` (mean effective sample size of the ``I_IS``
        weights, in ``[1, B - 1]``), ``boosted_infonce/<term>`` (``I_BO``: the
        InfoNCE of ``psi_{k-1} + phi_k``, nats), ``nll/<term>`` (``I_VAR``: NLL
        of ``q_k``, nats), ``infonce/<view>`` (InfoNCE of the auxiliary
        unconditional critics ``psi_k``, ``k >= 2``, nats) and ``log_batch``.

        Args:
            x: (B, x_dim).
            y: (B, y_dim).

        Returns:
            Dict of floats.
        """
        with torch.no_grad():
            _, _, diagnostics = self._evaluate(x, y, train=False)
        out = {key: float(value) for key, value in diagnostics.items()}
        out["log_batch"] = math.log(x.shape[0])
        return out

"""A critic for one column against one column: the log copula density on a grid.

With one column on each side, the log density ratio ``log p(x, y) / (p(x) p(y))``
is the log copula density ``log c(u, v)`` at ``u = F_X(x)``, ``v = F_Y(y)``: a
function on the unit square, which a table of values at ``G x G`` knots,
interpolated bilinearly, approximates to any resolution. Unlike the MLP
critics it needs no smoothness beyond the knot spacing, so it follows
dependence with sharp edges (additive uniform noise puts all the mass in a band
and none outside it) that a smooth critic blurs over a whole band's width.

The scores are ``f(x, y) = a(u)^T T b(v)`` with ``a``, ``b`` the ``G`` hat
functions of the knots (each point's two nearest knots, weighted linearly), so
the critic is separable with embeddings ``a(u)^T T`` and ``b(v)``: the
all-pairs read-out scores it with one matmul like the others. Its inputs are
expected in normal scores (``estimate_mi``'s rank transform), mapped to the unit
square by the normal CDF; any other monotone scale works with a less even grid.

:meth:`CopulaGridCritic.fit_counts` sets the table to the plug-in estimate, the
log ratio of the training rows' (hat-weighted) counts in each cell to the
counts independence would give, each with ``smoothing`` added; ``estimate_mi``
chooses the knots and the smoothing on its validation rows
(:func:`infomax.warm_start.grid_start`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomax.critics.base import Critic

__all__ = ["CopulaGridCritic", "hat_weights"]


def hat_weights(z: Tensor, knots: int) -> Tensor:
    """Hat-function weights of normal scores on ``knots`` evenly spaced knots in ``[0, 1]``.

    Args:
        z: (N, 1) or (N,) values in normal scores.
        knots: number of knots ``G`` (at least 2).

    Returns:
        (N, G) weights, each row non-negative with sum 1 (at most two non-zero).
    """
    position = torch.special.ndtr(z.reshape(-1)) * (knots - 1)
    grid = torch.arange(knots, dtype=position.dtype, device=position.device)
    return (1 - (position[:, None] - grid).abs()).clamp(min=0)


class CopulaGridCritic(Critic):
    """``f(x, y) = a(Phi(x))^T T b(Phi(y))``: a ``G x G`` table of log copula density values.

    Args:
        x_dim: width of ``x``; must be 1.
        y_dim: width of ``y``; must be 1.
        knots: knots ``G`` per side (the table is ``G x G``, zero: independence).
    """

    def __init__(self, x_dim: int, y_dim: int, knots: int = 32) -> None:
        super().__init__()
        if x_dim != 1 or y_dim != 1:
            raise ValueError(
                f"the grid critic takes one column on each side, got {x_dim} and {y_dim}"
            )
        if knots < 2:
            raise ValueError(f"knots must be at least 2, got {knots}")
        self.table = nn.Parameter(torch.zeros(knots, knots))

    @property
    def knots(self) -> int:
        """Knots per side, ``G``."""
        return self.table.shape[0]

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings ``a(u)^T T`` (B, G) of ``x`` (B, 1) and ``b(v)`` (M, G) of ``y`` (M, 1)."""
        return hat_weights(x, self.knots) @ self.table, hat_weights(y, self.knots)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, 1), y (M, 1). Returns: scores (B, M), nats."""
        gx, hy = self.embed(x, y)
        return gx @ hy.T

    @torch.no_grad()
    def fit_counts(self, x: Tensor, y: Tensor, knots: int, smoothing: float) -> None:
        """Set the table to ``log((C + s) / (E + s))``, the plug-in log copula density.

        ``C`` (G, G) holds the training pairs' hat-weighted counts per knot pair and
        ``E`` the counts of the same rows under independence (the outer product of
        ``C``'s margins over the row count); ``s`` keeps empty cells finite, and
        the larger it is the more the table is pulled towards 0 (independence)
        where counts are few.

        Args:
            x, y: (N, 1) paired training rows in normal scores.
            knots: knots per side ``G`` (the table is rebuilt at this size).
            smoothing: ``s``, pseudo-counts added to every cell (> 0).
        """
        if smoothing <= 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        a, b = hat_weights(x.double(), knots), hat_weights(y.double(), knots)
        counts = a.T @ b
        expected = torch.outer(a.sum(0), b.sum(0)) / x.shape[0]
        table = torch.log((counts + smoothing) / (expected + smoothing))
        device = self.table.device
        self.table = nn.Parameter(table.to(device=device, dtype=self.table.dtype))

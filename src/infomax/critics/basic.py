"""The plain critics: separable, bilinear and concatenated.

A critic maps ``x`` of shape ``(B, d_x)`` and ``y`` of shape ``(B, d_y)`` to a
score matrix ``S`` of shape ``(B, B)`` with ``S[i, j] = f(x_i, y_j)``, the
input of every function in :mod:`infomax.bounds`. Each critic builds the full
matrix in one batched pass: a matmul for separable and bilinear critics, one
broadcast MLP over all ``B * B`` pairs for the concatenated critic.

The defaults have hidden non-linear layers, so they can represent the log
density ratio of a correlated Gaussian, which is quadratic in ``(x, y)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax.critics.base import ACTIVATIONS, Critic, mlp

__all__ = ["BilinearCritic", "ConcatCritic", "SeparableCritic"]


class SeparableCritic(Critic):
    """``f(x, y) = g(x) . h(y) / temperature`` with MLPs ``g`` and ``h``.

    One matmul gives the whole ``(B, B)`` matrix. With ``cosine=True`` the
    embeddings are L2-normalised first (SimCLR's NT-Xent critic).

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        hidden: hidden widths of each MLP.
        embed_dim: width of the embeddings ``g(x)``, ``h(y)``.
        activation: non-linearity name.
        cosine: normalise the embeddings before the dot product.
        temperature: divides the scores.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (256, 256),
        embed_dim: int = 32,
        activation: str = "relu",
        cosine: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.g = mlp(x_dim, hidden, embed_dim, activation)
        self.h = mlp(y_dim, hidden, embed_dim, activation)
        self.cosine = cosine
        self.temperature = temperature

    def _encode(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        gx, hy = self.g(x), self.h(y)
        if self.cosine:
            gx = nn.functional.normalize(gx, dim=-1)
            hy = nn.functional.normalize(hy, dim=-1)
        return gx, hy

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings ``g(x) / temperature`` (B, e) and ``h(y)`` (M, e)."""
        gx, hy = self._encode(x, y)
        return gx / self.temperature, hy

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        gx, hy = self._encode(x, y)
        return gx @ hy.T / self.temperature

    def score_candidates(self, x: Tensor, candidates: Tensor) -> Tensor:
        """Args: x (B, d_x), candidates (B, K, d_y). Returns: (B, K), one einsum."""
        batch, k, y_dim = candidates.shape
        gx, hy = self._encode(x, candidates.reshape(batch * k, y_dim))
        return torch.einsum("be,bke->bk", gx, hy.reshape(batch, k, -1)) / self.temperature


class BilinearCritic(Critic):
    """``f(x, y) = g(x)^T W h(y)``; with ``hidden=()`` the encoders are linear maps.

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        hidden: hidden widths of the encoders ``g`` and ``h``.
        embed_dim: embedding width.
        activation: non-linearity name.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (256,),
        embed_dim: int = 32,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.g = mlp(x_dim, hidden, embed_dim, activation)
        self.h = mlp(y_dim, hidden, embed_dim, activation)
        self.weight = nn.Parameter(torch.eye(embed_dim) + 0.01 * torch.randn(embed_dim, embed_dim))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        return self.g(x) @ self.weight @ self.h(y).T

    def score_candidates(self, x: Tensor, candidates: Tensor) -> Tensor:
        """Args: x (B, d_x), candidates (B, K, d_y). Returns: (B, K), one einsum."""
        batch, k, y_dim = candidates.shape
        left = self.g(x) @ self.weight
        hy = self.h(candidates.reshape(batch * k, y_dim)).reshape(batch, k, -1)
        return torch.einsum("be,bke->bk", left, hy)


class ConcatCritic(Critic):
    """``f(x, y) = MLP([x; y])`` evaluated on every pair without a Python loop.

    The first layer splits as ``W [x; y] + b = W_x x + (W_y y + b)``: both parts
    are computed once per sample, ``(B, h)`` and ``(M, h)``, and broadcast to
    the ``(B, M, h)`` pre-activations, so the widest layer costs a sum instead
    of a ``(B * M, d_x + d_y)`` matmul. The remaining layers run on the
    flattened ``B * M`` pairs in one pass.

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        hidden: hidden widths (at least one layer).
        activation: non-linearity name.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if len(hidden) == 0:
            raise ValueError("ConcatCritic needs at least one hidden layer")
        self.x_in = nn.Linear(x_dim, hidden[0])
        self.y_in = nn.Linear(y_dim, hidden[0], bias=False)
        # Match nn.Linear's default init for the combined (d_x + d_y)-wide input layer.
        bound = 1.0 / math.sqrt(x_dim + y_dim)
        for weight in (self.x_in.weight, self.y_in.weight):
            nn.init.uniform_(weight, -bound, bound)
        nn.init.uniform_(self.x_in.bias, -bound, bound)
        self.activation = ACTIVATIONS[activation]()
        self.rest = mlp(hidden[0], hidden[1:], 1, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        hidden = self.activation(self.x_in(x)[:, None, :] + self.y_in(y)[None, :, :])
        return self.rest(hidden).squeeze(-1)

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """Scores of aligned pairs only: x (B, d_x), y (B, d_y) -> (B,)."""
        return self.rest(self.activation(self.x_in(x) + self.y_in(y))).squeeze(-1)

    def score_candidates(self, x: Tensor, candidates: Tensor) -> Tensor:
        """Args: x (B, d_x), candidates (B, K, d_y). Returns: (B, K), one pass over the pairs."""
        batch, k, y_dim = candidates.shape
        flat = candidates.reshape(batch * k, y_dim)
        return self.pairwise(x.repeat_interleave(k, dim=0), flat).reshape(batch, k)

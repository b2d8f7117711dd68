"""Critics: modules that turn a batch of pairs into a score matrix.

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

__all__ = [
    "CRITICS",
    "BilinearCritic",
    "ConcatCritic",
    "SeparableCritic",
    "make_critic",
    "mlp",
]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "relu"
) -> nn.Sequential:
    """A plain MLP ``in_dim -> hidden... -> out_dim`` with ``activation`` between layers."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class SeparableCritic(nn.Module):
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

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Embeddings ``g(x)`` (B, e) and ``h(y)`` (M, e)."""
        gx, hy = self.g(x), self.h(y)
        if self.cosine:
            gx = nn.functional.normalize(gx, dim=-1)
            hy = nn.functional.normalize(hy, dim=-1)
        return gx, hy

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        gx, hy = self.embed(x, y)
        return gx @ hy.T / self.temperature


class BilinearCritic(nn.Module):
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


class ConcatCritic(nn.Module):
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
        self.activation = _ACTIVATIONS[activation]()
        self.rest = mlp(hidden[0], hidden[1:], 1, activation)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        hidden = self.activation(self.x_in(x)[:, None, :] + self.y_in(y)[None, :, :])
        return self.rest(hidden).squeeze(-1)

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """Scores of aligned pairs only: x (B, d_x), y (B, d_y) -> (B,)."""
        return self.rest(self.activation(self.x_in(x) + self.y_in(y))).squeeze(-1)


CRITICS: dict[str, type[nn.Module]] = {
    "separable": SeparableCritic,
    "bilinear": BilinearCritic,
    "concat": ConcatCritic,
}


def make_critic(name: str, x_dim: int, y_dim: int, **kwargs: object) -> nn.Module:
    """Build a critic by name (``separable``, ``bilinear``, ``concat``)."""
    try:
        cls = CRITICS[name]
    except KeyError:
        raise ValueError(
            f"unknown critic {name!r}; choose one of {', '.join(sorted(CRITICS))}"
        ) from None
    return cls(x_dim, y_dim, **kwargs)  # type: ignore[arg-type]

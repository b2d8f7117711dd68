"""A weighted sum of critics, ``f(x, y) = sum_k w_k f_k(x, y)``: :mod:`infomax.blend`'s blends."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from infomax.critics.base import Critic

__all__ = ["MixedCritic"]


class MixedCritic(Critic):
    """``f(x, y) = sum_k w_k f_k(x, y)``: a weighted sum of critics (an ensemble).

    Separable where every member is: the embeddings are the members' side by
    side, ``x``'s scaled by the weights; the members' non-separable terms add
    with the same weights.

    Args:
        critics: the members (each maps x (B, d_x), y (M, d_y) to scores (B, M)).
        weights: one weight per member.
    """

    def __init__(self, critics: Sequence[nn.Module], weights: Sequence[float]) -> None:
        super().__init__()
        if len(critics) != len(weights) or not critics:
            raise ValueError("a mixed critic needs one weight per member, and a member")
        self.members = nn.ModuleList(critics)
        self.weights = [float(w) for w in weights]

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor] | None:
        """The members' embeddings side by side (x's scaled by the weights), or None."""
        gx, hy = [], []
        for member, weight in zip(self.members, self.weights, strict=True):
            if not isinstance(member, Critic) or member.scored_by_forward:
                return None
            pairs = member.embed(x, y)
            if pairs is None:
                return None
            gx.append(weight * pairs[0])
            hy.append(pairs[1])
        return torch.cat(gx, dim=1), torch.cat(hy, dim=1)

    def pair_term(self) -> Callable[[Tensor, Tensor], Tensor] | None:
        """The members' non-separable terms, weighted and summed (None: none has one)."""
        terms = [
            (weight, member.pair_term())
            for member, weight in zip(self.members, self.weights, strict=True)
            if isinstance(member, Critic) and member.pair_term() is not None
        ]
        if not terms:
            return None
        return lambda x, y: sum(weight * term(x, y) for weight, term in terms)  # type: ignore[misc]

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M)."""
        return sum(  # type: ignore[return-value]
            weight * member(x, y) for member, weight in zip(self.members, self.weights, strict=True)
        )

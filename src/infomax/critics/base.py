"""The critic base class: a score matrix, and a declaration of how to score all pairs.

A critic maps ``x`` (B, d_x) and ``y`` (M, d_y) to scores ``S`` (B, M),
``S[i, j] = f(x_i, y_j)`` in nats, the input of every bound in
:mod:`infomax.bounds`. Beyond ``forward``, a :class:`Critic` declares its
structure, and the code that needs more than one batch's scores reads the
declaration instead of probing the critic:

* :meth:`Critic.embed` — embeddings ``gx`` (B, e), ``hy`` (M, e) whose dot
  products are the separable part of the scores (None: not separable);
* :meth:`Critic.pair_term` — a non-separable term added to those dot products
  (None: there is none).

From these the base class derives :meth:`Critic.pair_scorer` (the all-pairs
read-out's blocks of rows against every column, :mod:`infomax.bounds.all_pairs`)
and :meth:`Critic.score_candidates` (each ``x_i`` against its own candidates,
DEMI's conditional InfoNCE). A subclass that redefines ``forward`` without
redefining :meth:`embed` is scored through ``forward`` (in row blocks), since
the inherited embeddings no longer give its scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

__all__ = ["ACTIVATIONS", "Critic", "PairScorer", "mlp", "score_candidates"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}
#: Rows per square block when positives are scored through ``forward``.
_SQUARE = 1024


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: str | Callable[[], nn.Module] = "relu",
) -> nn.Sequential:
    """A plain MLP ``in_dim -> hidden... -> out_dim`` with ``activation`` between layers.

    Args:
        in_dim: input width.
        hidden: widths of the hidden ``Linear -> activation`` layers (may be empty).
        out_dim: width of the last ``Linear`` (no activation after it).
        activation: a name in :data:`ACTIVATIONS`, or a factory of the activation module
            (e.g. ``functools.partial(nn.LeakyReLU, 0.2)``), called once per hidden layer.
    """
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        activation = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


@dataclass
class PairScorer:
    """Scores of N held-out rows against all N columns, a block of rows at a time.

    Attributes:
        rows: ``rows(start, stop)`` returns the (stop - start, N) scores of rows
            ``start:stop`` against every column (a fresh tensor the caller may modify).
        positives: (N,) scores of the paired rows (the full matrix's diagonal).
    """

    rows: Callable[[int, int], Tensor]
    positives: Tensor


class Critic(nn.Module):
    """Base class of critics: ``forward(x (B, d_x), y (M, d_y)) -> scores (B, M)``.

    Subclasses implement ``forward`` and, where it holds, :meth:`embed` and
    :meth:`pair_term`; they may override :meth:`score_candidates` with a
    faster batched form of the same arithmetic.
    """

    #: Whether scores must come from ``forward`` even though :meth:`embed` is declared
    #: (set for subclasses that redefine ``forward`` but not :meth:`embed`).
    scored_by_forward: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__ or "embed" in cls.__dict__:
            cls.scored_by_forward = "forward" in cls.__dict__ and "embed" not in cls.__dict__

    def embed(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor] | None:
        """Embeddings ``gx`` (B, e) and ``hy`` (M, e) with ``gx @ hy.T`` the separable scores.

        Returns None for a critic that is not separable (the default).
        """
        return None

    def pair_term(self) -> Callable[[Tensor, Tensor], Tensor] | None:
        """A fixed, non-separable term ``(x (B, d_x), y (M, d_y)) -> (B, M)`` added to
        :meth:`embed`'s dot products, or None (the default)."""
        return None

    @torch.no_grad()
    def pair_scorer(self, x: Tensor, y: Tensor) -> PairScorer | None:
        """How the all-pairs read-out scores (N, d) held-out rows; None where not separable.

        Separable critics are scored from embeddings computed once (one matmul
        per block, plus the fixed :meth:`pair_term`); a subclass scored by
        ``forward`` is scored in blocks of rows against all columns.
        """
        pairs = self.embed(x, y)
        if pairs is None:
            return None
        squares = range(0, x.shape[0], _SQUARE)  # positives of a generic term: square blocks
        if self.scored_by_forward:
            positives = torch.cat(
                [self(x[a : a + _SQUARE], y[a : a + _SQUARE]).diagonal() for a in squares]
            )
            return PairScorer(lambda a, b: self(x[a:b], y), positives)
        gx, hy = pairs
        term = self.pair_term()
        if term is None:
            return PairScorer(lambda a, b: gx[a:b] @ hy.T, (gx * hy).sum(1))
        positives = (gx * hy).sum(1) + torch.cat(
            [term(x[a : a + _SQUARE], y[a : a + _SQUARE]).diagonal() for a in squares]
        )
        return PairScorer(lambda a, b: gx[a:b] @ hy.T + term(x[a:b], y), positives)

    def score_candidates(self, x: Tensor, candidates: Tensor) -> Tensor:
        """Scores of each ``x_i`` (B, d_x) against its own candidates (B, K, d_y): (B, K).

        One einsum of the embeddings for a separable critic without a pair
        term; otherwise one ``forward`` call per row.
        """
        batch, k, y_dim = candidates.shape
        if not self.scored_by_forward and self.pair_term() is None:
            pairs = self.embed(x, candidates.reshape(batch * k, y_dim))
            if pairs is not None:
                gx, hy = pairs
                return torch.einsum("be,bke->bk", gx, hy.reshape(batch, k, -1))
        return torch.cat([self(x[i : i + 1], candidates[i]) for i in range(batch)], dim=0)


def score_candidates(critic: nn.Module, x: Tensor, candidates: Tensor) -> Tensor:
    """Scores of each ``x_i`` against its own candidates ``y_ik``.

    A critic's ``forward`` scores every ``x_i`` against one shared set of
    ``y``; conditional InfoNCE needs per-row candidates instead. A
    :class:`Critic` scores them as it declares (:meth:`Critic.score_candidates`);
    any other module is called once per row.

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
    if isinstance(critic, Critic):
        return critic.score_candidates(x, candidates)
    return torch.cat([critic(x[i : i + 1], candidates[i]) for i in range(x.shape[0])], dim=0)

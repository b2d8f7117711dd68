"""Critics: modules that turn a batch of pairs into a score matrix.

A critic maps ``x`` of shape ``(B, d_x)`` and ``y`` of shape ``(M, d_y)`` to a
score matrix ``S`` of shape ``(B, M)`` with ``S[i, j] = f(x_i, y_j)``, the
input of every function in :mod:`infomax.bounds`. Each critic builds the full
matrix in one batched pass: a matmul for separable and bilinear critics, one
broadcast MLP over all ``B * M`` pairs for the concatenated critic. Every
critic derives from :class:`Critic` and declares how it scores all pairs
(:mod:`infomax.critics.base`).

* :mod:`~infomax.critics.base` — :class:`Critic`, :class:`PairScorer`, :func:`mlp`.
* :mod:`~infomax.critics.basic` — separable, bilinear, concatenated critics.
* :mod:`~infomax.critics.quadratic` — the quadratic critic of ``estimate_mi``.
* :mod:`~infomax.critics.grid` — a table of log copula density values, one column a side.
* :mod:`~infomax.critics.mixed` — a weighted sum of critics (an ensemble).

A new critic is a :class:`Critic` subclass in its own module (or in
``basic``), added to :data:`CRITICS`.
"""

from __future__ import annotations

from torch import nn

from infomax.critics.base import Critic, PairScorer, mlp, score_candidates
from infomax.critics.basic import BilinearCritic, ConcatCritic, SeparableCritic
from infomax.critics.grid import CopulaGridCritic
from infomax.critics.mixed import MixedCritic
from infomax.critics.quadratic import QuadraticSeparableCritic

__all__ = [
    "CRITICS",
    "BilinearCritic",
    "ConcatCritic",
    "CopulaGridCritic",
    "Critic",
    "MixedCritic",
    "PairScorer",
    "QuadraticSeparableCritic",
    "SeparableCritic",
    "make_critic",
    "mlp",
    "score_candidates",
]

CRITICS: dict[str, type[Critic]] = {
    "separable": SeparableCritic,
    "bilinear": BilinearCritic,
    "concat": ConcatCritic,
    "grid": CopulaGridCritic,
}


def make_critic(name: str, x_dim: int, y_dim: int, **kwargs: object) -> nn.Module:
    """Build a critic by name (``separable``, ``bilinear``, ``concat``, ``grid``).

    :class:`QuadraticSeparableCritic` is the single-bound estimator's critic
    (``estimate_mi(critic="quadratic")``), built there; it is not offered to DEMI's terms.
    """
    try:
        cls = CRITICS[name]
    except KeyError:
        raise ValueError(
            f"unknown critic {name!r}; choose one of {', '.join(sorted(CRITICS))}"
        ) from None
    return cls(x_dim, y_dim, **kwargs)  # type: ignore[arg-type]

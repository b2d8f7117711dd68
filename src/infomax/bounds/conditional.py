"""DEMI's conditional contrastive bounds on ``I(x; y | x')``, with ``x' ⊂ x``.

The conditional critic ``phi(x', x, y)`` is a critic of ``(x, y)`` (``x'`` is
part of ``x``); its optimum is ``phi* = log p(y | x) / p(y | x')`` up to a
function of ``x``. The exact bound needs negatives from ``p(y | x')``
(:func:`conditional_infonce`, with an oracle or a learned sampler of
:mod:`infomax.samplers`: ``I_VAR``); :func:`importance_sampled_infonce`
(``I_IS``) and :func:`boosted_conditional_infonce` (``I_BO``) are its
practical approximations with in-batch negatives from ``p(y)``.

Conventions are those of :mod:`infomax.bounds.contrastive`: ``S[i, j] = f(x_i, y_j)``,
positives on the diagonal, every value in nats, everything in log space.
Reference: Sordoni et al., ICML 2021 (DEMI).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infomax.bounds.contrastive import infonce
from infomax.bounds.scores import check_scores

__all__ = [
    "boosted_conditional_infonce",
    "boosted_infonce",
    "conditional_infonce",
    "importance_sampled_infonce",
]


def _check_square_pair(phi_scores: Tensor, psi_scores: Tensor) -> int:
    batch = check_scores(phi_scores, "phi_scores")
    if psi_scores.shape != phi_scores.shape:
        raise ValueError(
            f"psi_scores must have the shape of phi_scores {tuple(phi_scores.shape)}, "
            f"got {tuple(psi_scores.shape)}"
        )
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

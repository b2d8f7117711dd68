"""Helpers on ``(B, B)`` score matrices shared by the bounds."""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["check_scores", "log_mean_exp_offdiagonal", "offdiagonal_mask"]


def check_scores(scores: Tensor, name: str = "score matrix") -> int:
    """Check a (B, B) score matrix with B >= 2 and return B; a ValueError names ``name``."""
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(
            f"{name} must be square (B, B) with positives on the diagonal, got shape "
            f"{tuple(scores.shape)}"
        )
    batch = scores.shape[0]
    if batch < 2:
        raise ValueError("a score matrix needs at least 2 samples (one positive, one negative)")
    return batch


def offdiagonal_mask(batch: int, device: torch.device) -> Tensor:
    """(B, B) boolean mask of the negative (off-diagonal) pairs."""
    return ~torch.eye(batch, dtype=torch.bool, device=device)


def log_mean_exp_offdiagonal(scores: Tensor) -> Tensor:
    """``log mean_{i != j} exp(scores[i, j])`` over all off-diagonal entries.

    Args:
        scores: (B, B) score matrix.

    Returns:
        Scalar tensor: the log of the mean of ``exp`` over the ``B (B - 1)``
        negative pairs, computed with ``logsumexp``.
    """
    batch = check_scores(scores)
    negatives = scores.masked_fill(~offdiagonal_mask(batch, scores.device), -math.inf)
    return torch.logsumexp(negatives.reshape(-1), dim=0) - math.log(batch * (batch - 1))

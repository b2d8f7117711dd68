"""The default estimator's training objective, symmetric InfoNCE plus DV, with its own gradient.

:func:`contrastive_dv_objective` is evaluated once per training step on a
``(B, B)`` score matrix, and written with autograd it costs six passes of
``exp`` over the matrix (three ``logsumexp`` forward, their softmaxes again
backward) plus a masked copy for the DV partition. Its gradient has a closed
form in the row-, column- and globally-normalised weights of the negatives,
so :class:`_ContrastiveDV` exponentiates the negatives twice (once scaled by
each row's largest negative, once by each column's), keeps both, and builds
the gradient from them with two broadcasts. The value is the same as the
autograd composition of :func:`~infomax.bounds.infonce` and
:func:`~infomax.bounds.dv` to float rounding (a test checks value and
gradient in float64).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from infomax.bounds.scores import check_scores

__all__ = ["contrastive_dv_objective"]


class _ContrastiveDV(torch.autograd.Function):
    """Value and hand-written gradient of :func:`contrastive_dv_objective`."""

    @staticmethod
    def forward(ctx: Any, scores: Tensor, dv_weight: float) -> Tensor:
        batch = scores.shape[0]
        diagonal = scores.diagonal()
        eye = torch.eye(batch, dtype=torch.bool, device=scores.device)
        negatives = scores.masked_fill(eye, -math.inf)
        floor = torch.finfo(scores.dtype).min  # a row of -inf negatives stays finite
        row_max = negatives.amax(dim=1).clamp(min=floor)
        col_max = negatives.amax(dim=0).clamp(min=floor)
        row_weights = torch.exp(negatives - row_max[:, None])  # 0 on the diagonal
        col_weights = torch.exp(negatives - col_max[None, :])
        row_negative_lse = row_max + torch.log(row_weights.sum(dim=1))
        col_negative_lse = col_max + torch.log(col_weights.sum(dim=0))
        row_lse = torch.logaddexp(diagonal, row_negative_lse)
        col_lse = torch.logaddexp(diagonal, col_negative_lse)
        total_lse = torch.logsumexp(row_negative_lse, dim=0)
        infonce = 0.5 * ((diagonal - row_lse).mean() + (diagonal - col_lse).mean())
        partition = total_lse - math.log(batch * (batch - 1))
        value = infonce + dv_weight * (diagonal.mean() - partition)
        ctx.dv_weight = dv_weight
        ctx.save_for_backward(
            row_weights, col_weights, row_max, col_max, row_lse, col_lse, total_lse,
            row_negative_lse, col_negative_lse,
        )  # fmt: skip
        return value

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        (
            row_weights, col_weights, row_max, col_max, row_lse, col_lse, total_lse,
            row_negative_lse, col_negative_lse,
        ) = ctx.saved_tensors  # fmt: skip
        batch = row_weights.shape[0]
        weight = ctx.dv_weight
        # Negative (i, j): -(1/2B) e^{S_ij - row_lse_i} - (1/2B) e^{S_ij - col_lse_j}
        # - w e^{S_ij - total_lse}, each a saved weight times a per-row or per-column factor.
        per_row = -0.5 / batch * torch.exp(row_max - row_lse) - weight * torch.exp(
            row_max - total_lse
        )
        per_col = -0.5 / batch * torch.exp(col_max - col_lse)
        grad = row_weights * per_row[:, None] + col_weights * per_col[None, :]
        # Positive i: (1/2B)(1 - softmax_ii) for the row and the column, + w / B;
        # 1 - softmax_ii is the negatives' share, computed as such (no cancellation).
        row_share = torch.exp(row_negative_lse - row_lse)
        col_share = torch.exp(col_negative_lse - col_lse)
        grad.diagonal().copy_(0.5 / batch * (row_share + col_share) + weight / batch)
        return grad * grad_output, None


def contrastive_dv_objective(scores: Tensor, dv_weight: float = 0.1) -> Tensor:
    """Training objective of ``contrastive_dv`` (maximise it), nats-like.

    Symmetric InfoNCE (each ``x_i`` picks ``y_i`` from its row, each ``y_j``
    picks ``x_j`` from its column) plus the DV estimate of the batch. The
    InfoNCE terms are low-variance and their optimum is the log density ratio
    up to a row constant ``c(x)`` (rows) and a column constant ``d(y)``
    (columns), so together up to one global constant, which the DV read-out
    ignores; the DV term pushes down, with weight ``e^{S_ij}``, exactly the
    negatives scored too high, which the all-pairs DV read-out is most
    sensitive to.

    Args:
        scores: (B, B) score matrix, ``B >= 2``.
        dv_weight: weight of the DV term.

    Returns:
        Scalar tensor: ``(infonce_rows + infonce_columns) / 2 + dv_weight * dv``.
    """
    check_scores(scores)
    return _ContrastiveDV.apply(scores, dv_weight)

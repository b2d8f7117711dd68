"""Bounds on sets of positive and negative scores, for scores that are not one (B, B) matrix.

The functions of :mod:`infomax.bounds.contrastive` read a square score matrix
whose diagonal holds the positives. Some critics score other sets: DIM's local
critic scores each image's global vector against every location of every image,
a ``(B, B, L)`` tensor whose positives are ``(B, L)`` and whose negatives of row
``i`` are the ``(B - 1) L`` locations of the other images; NDM's discriminator
scores joint rows and column-shuffled rows. These are the same bounds written
on such sets:

* ``positive``: the scores of pairs from the joint distribution, any shape
  (for InfoNCE, (B, L): ``L`` positives for each of ``B`` rows);
* ``negative``: the scores of pairs from the product of the marginals, any
  shape (for InfoNCE, (B, N): row ``i``'s ``N`` negatives).

Each function returns ``(objective, estimate)``: the scalar to maximise (with
its gradient) and the detached MI estimate in nats, as a registered bound's
:meth:`~infomax.bounds.registry.Bound.samples` does. On a (B, B) matrix cut into
its diagonal and off-diagonal entries they agree with the matrix forms to
rounding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["dv_samples", "infonce_samples", "jsd_samples", "log_mean_exp"]


def log_mean_exp(values: Tensor) -> Tensor:
    """``log mean exp(values)`` over every entry, scalar, computed with ``logsumexp``."""
    return torch.logsumexp(values.flatten(), 0) - math.log(values.numel())


def infonce_samples(positive: Tensor, negative: Tensor) -> tuple[Tensor, Tensor]:
    """InfoNCE: each positive of row ``i`` against the ``N`` negatives of row ``i``.

    Args:
        positive: (B, L) scores, ``L`` positives per row.
        negative: (B, N) scores, the negatives each positive of the row competes with.

    Returns:
        ``(objective, estimate)``: the mean log-softmax of the positives (InfoNCE
        less its constant ``log(1 + N)``, the same gradient) and the estimate
        ``log(1 + N) + objective`` (detached), nats, never above ``log(1 + N)``.
    """
    log_negatives = torch.logsumexp(negative, dim=1, keepdim=True)  # (B, 1)
    log_softmax = positive - torch.logaddexp(positive, log_negatives)
    objective = log_softmax.mean()
    return objective, math.log(1 + negative.shape[1]) + objective.detach()


def dv_samples(positive: Tensor, negative: Tensor) -> tuple[Tensor, Tensor]:
    """Donsker-Varadhan: ``mean(positive) - log mean exp(negative)``, maximised and reported.

    Returns:
        ``(objective, estimate)``: the DV value and the same value detached, nats.
    """
    value = positive.mean() - log_mean_exp(negative)
    return value, value.detach()


def jsd_samples(positive: Tensor, negative: Tensor) -> tuple[Tensor, Tensor]:
    """The f-GAN Jensen-Shannon objective, read out as TUBA with a zero baseline.

    Returns:
        ``(objective, estimate)``: ``-mean softplus(-positive) - mean softplus(negative)``
        (not MI; its maximiser is the log density ratio) and the estimate
        ``1 + mean(positive) - mean exp(negative)`` (detached), nats.
    """
    objective = -F.softplus(-positive).mean() - F.softplus(negative).mean()
    with torch.no_grad():
        estimate = 1 + positive.mean() - log_mean_exp(negative).exp()
    return objective, estimate

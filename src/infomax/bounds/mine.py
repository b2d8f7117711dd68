"""MINE (Belghazi et al. 2018): the DV bound trained with a moving-average partition."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from infomax.bounds.scores import log_mean_exp_offdiagonal

__all__ = ["MovingAveragePartition", "mine"]


class MovingAveragePartition(nn.Module):
    """MINE's bias-corrected DV: an exponential moving average of the partition.

    The DV partition ``Z = E_{p(x)p(y)}[e^f]`` enters the bound as ``log Z``;
    its minibatch gradient ``grad Z_batch / Z_batch`` is biased. MINE replaces
    the denominator with a moving average ``Z_ema``. The state is kept in log
    space. Call the module on a score matrix; ``forward`` returns the DV value
    (nats) and, in training mode, carries the corrected gradient.

    Args:
        momentum: weight of the newest batch in the average (MINE uses 0.01).
    """

    def __init__(self, momentum: float = 0.01) -> None:
        super().__init__()
        if not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must lie in (0, 1], got {momentum}")
        self.momentum = momentum
        self.register_buffer("log_partition", torch.tensor(math.nan))

    def forward(self, scores: Tensor) -> Tensor:
        """Args: scores (B, B). Returns: scalar, the DV value in nats, with MINE's gradient."""
        log_batch_partition = log_mean_exp_offdiagonal(scores)
        value = scores.diagonal().mean() - log_batch_partition
        if not self.training:
            return value
        with torch.no_grad():
            current = log_batch_partition.detach()
            if torch.isnan(self.log_partition):
                self.log_partition.copy_(current)
            else:
                self.log_partition.copy_(
                    torch.logaddexp(
                        self.log_partition + math.log1p(-self.momentum)
                        if self.momentum < 1
                        else torch.tensor(-math.inf),
                        current + math.log(self.momentum),
                    )
                )
        # d/dtheta of exp(log Z_batch - log Z_ema) = grad Z_batch / Z_ema.
        surrogate = scores.diagonal().mean() - (log_batch_partition - self.log_partition).exp()
        return surrogate + (value - surrogate).detach()


def mine(scores: Tensor, partition: MovingAveragePartition) -> Tensor:
    """MINE: the DV value with the moving-average gradient held by ``partition``."""
    return partition(scores)

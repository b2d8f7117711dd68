"""Contrastive Predictive Coding (van den Oord et al., 2018) on sequences.

An encoder ``g_enc`` maps each observation ``x_t`` to ``z_t``; a GRU
``g_ar`` summarises ``z_1..z_t`` into a context ``c_t``; for each prediction
step ``k`` a bilinear map ``W_k`` scores ``f_k(c_t, z) = z^T W_k c_t``. The
InfoNCE loss of step ``k`` asks ``c_t`` to pick the true ``z_{t+k}`` out of
every ``z`` of the batch (all sequences, all time steps), so its MI estimate
``log(B T) - loss_k`` is at most ``log(B T)`` nats. The GRU runs forward
only: ``c_t`` never sees ``x_{t+1}`` or later (tested).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infomax.distributed import gather
from infomax.methods.base import Method, MethodOutput
from infomax.validation import InputError

__all__ = ["CPCSequence", "cpc_step_losses"]


def cpc_step_losses(
    context: torch.Tensor, z: torch.Tensor, predictors: nn.ModuleList
) -> list[torch.Tensor]:
    """InfoNCE loss of each prediction step.

    Args:
        context: (B, T, C) contexts ``c_t``.
        z: (B, T, Z) encodings ``z_t``, the candidates.
        predictors: ``predictors[k - 1]`` maps C -> Z for step ``k``.

    Returns:
        One scalar per step ``k = 1..K`` (nats): the mean over ``(b, t)`` with
        ``t + k < T`` of ``-log softmax`` of the true ``z_{b, t+k}`` among all
        ``B T`` encodings.
    """
    batch, length, _ = z.shape
    if len(predictors) >= length:
        raise InputError(f"{len(predictors)} prediction steps need sequences longer than {length}")
    candidates = z.reshape(batch * length, -1)  # (B T, Z)
    losses = []
    for k, predictor in enumerate(predictors, start=1):
        predictions = predictor(context[:, : length - k]).reshape(-1, z.shape[-1])  # (B (T-k), Z)
        logits = predictions @ candidates.T  # (B (T-k), B T)
        rows = torch.arange(batch, device=z.device).repeat_interleave(length - k) * length
        steps = torch.arange(length - k, device=z.device).repeat(batch) + k
        losses.append(F.cross_entropy(logits, rows + steps))
    return losses


class _StepEncoder(nn.Module):
    """The per-step encoder ``g_enc``: an MLP applied to every ``x_t``."""

    def __init__(self, input_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)
        )
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CPCSequence(Method):
    """CPC on (B, T, D) sequences.

    Args:
        input_dim: D, the size of each observation.
        hidden: width of ``g_enc``.
        z_dim: size of ``z_t``.
        context_dim: size of ``c_t`` (the GRU's state).
        steps: number of prediction steps K.

    Shapes:
        input of :meth:`forward`: (B, T, D) float.
        :attr:`MethodOutput.features`: (B T, context_dim) detached contexts,
        row ``b T + t`` for ``c_{b, t}`` (the online probe's input).
        :attr:`MethodOutput.metrics`: ``mi_k1 .. mi_kK`` (nats) per step.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int = 128,
        z_dim: int = 32,
        context_dim: int = 64,
        steps: int = 4,
    ) -> None:
        if steps < 1:
            raise InputError(f"steps must be at least 1, got {steps}")
        super().__init__(_StepEncoder(input_dim, hidden, z_dim), None, probe_layer="context")
        self.input_dim = int(input_dim)
        self.gru = nn.GRU(z_dim, context_dim, batch_first=True)
        self.predictors = nn.ModuleList(
            nn.Linear(context_dim, z_dim, bias=False) for _ in range(steps)
        )

    def contexts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(c, z)``: contexts (B, T, context_dim) and encodings (B, T, z_dim) of (B, T, D)."""
        if x.ndim != 3 or x.shape[2] != self.input_dim:
            raise InputError(
                f"CPC expects sequences (B, T, {self.input_dim}), got {tuple(x.shape)}"
            )
        z = self.encoder(x.float())
        c, _ = self.gru(z)
        return c, z

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """Mean InfoNCE over the prediction steps on one batch (B, T, D)."""
        c, z = self.contexts(views[0])
        features = c.reshape(-1, c.shape[-1]).detach()
        c, z = gather(c), gather(z)  # the global batch under torchrun
        losses = cpc_step_losses(c, z, self.predictors)
        cap = math.log(z.shape[0] * z.shape[1])
        metrics = {f"mi_k{k}": cap - loss.detach() for k, loss in enumerate(losses, start=1)}
        return MethodOutput(torch.stack(losses).mean(), metrics, features)

"""The minibatch gradient loop: compute one batch's loss, step the optimiser, repeat.

The small training loops of the package are this loop with their own batches:
NDM's discriminator (:mod:`infomax.evaluation.measures`), the linear and MLP
probes (:mod:`infomax.evaluation.classifier`), the two-modality encoders
(:mod:`infomax.pair.train`), word2vec, TCL, and the DEMI benchmark's cells. Each
caller draws its batch inside ``batch_loss``, so the random stream, and hence every
number, is its own. The estimators' early-stopping loop (:mod:`infomax.fit`) and
the representation-learning loop (:mod:`infomax.train.loop`) add validation,
checkpoints and multi-process gradients around the same step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["minimise"]


def minimise(
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[int], Tensor],
    steps: int,
    *,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    after_step: Callable[[int, Tensor], None] | None = None,
) -> None:
    """Take ``steps`` optimiser steps, each on the scalar ``batch_loss(step)``.

    Every step: ``loss = batch_loss(step)``, clear the gradients, back-propagate,
    ``optimizer.step()``, then ``schedule.step()`` if given, then
    ``after_step(step, loss)`` if given (logging, curves, running totals).

    Args:
        optimizer: steps the parameters the loss depends on (its state persists
            across calls, so an epoch loop may call this once per epoch).
        batch_loss: step number (1 to ``steps``) -> scalar loss to minimise; it
            draws its own minibatch.
        steps: number of optimiser steps.
        schedule: a learning-rate schedule stepped after every optimiser step.
        after_step: called with the step number and the (attached) loss.
    """
    for step in range(1, steps + 1):
        loss = batch_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if after_step is not None:
            after_step(step, loss)

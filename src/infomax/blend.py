"""After the race: the winning critic blended with another candidate, where the blend reads higher.

Critics of different families trained on the same rows miss different parts of
the dependence: on a spiral (a Gaussian rotated by an angle that grows with the
radius) the quadratic critic keeps the Gaussian part and the separable MLP some
of the rotation. The DV read-out is concave in the critic,
``DV((1 - w) f + w g) >= (1 - w) DV(f) + w DV(g)``, so a blend of two critics
reads at least the weighted mean of their read-outs, and above both where each
holds what the other lacks.

:func:`blend` reads out ``(1 - w) f + w g`` (:class:`~infomax.critics.MixedCritic`)
on the validation rows, for the winner ``f``, every other candidate ``g`` and
every ``w`` of :data:`BLEND_WEIGHTS`: the read-out that chose each checkpoint and
the race's winner. The best blend replaces the winner only where it reads more
than :data:`~infomax.race.RACE_TIE` nats above it; the test rows, which no choice
saw, then read out whichever critic is kept. On large data the blends are read on
the first :data:`BLEND_ROWS` validation rows (a random subset: the split is random)
against the winner alone on the same rows, since the all-pairs read-out costs the
square of the rows read and the choice is between two critics on the same pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from infomax.bounds.all_pairs import all_pairs_dv_stacked
from infomax.critics import Critic, MixedCritic
from infomax.fit import Training, heldout_terms
from infomax.objectives import CriticObjective
from infomax.race import RACE_TIE

__all__ = ["BLEND_ROWS", "BLEND_WEIGHTS", "blend"]

#: Weights ``w`` of the other candidate tried in each blend ``(1 - w) f + w g``.
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)
#: Validation rows the blends are read on, at most.
BLEND_ROWS = 2000


def blend(
    trainings: Mapping[str, Training],
    winner: str,
    x_val: Tensor,
    y_val: Tensor,
    eval_batch_size: int,
    tie: float = RACE_TIE,
    max_rows: int = BLEND_ROWS,
) -> dict[str, Any] | None:
    """Replace the winner's critic by its best blend with another candidate, if one reads higher.

    Args:
        trainings: the race's candidates, each finished (holding its best checkpoint).
        winner: the name of the race's winner; its objective's critic is replaced
            by the blend where one is kept.
        x_val, y_val: (N, d_x), (N, d_y) the validation rows the race read.
        eval_batch_size: batch size of a batched validation read-out.
        tie: nats by which a blend must read above the winner's best validation value.
        max_rows: with more validation rows than this, the blends and the winner
            alone are read on the first ``max_rows`` of them.

    Returns:
        ``{"critic": the other candidate, "weight": w, "validation": the blend's
        validation estimate (nats): with more than ``max_rows`` validation rows, the
        winner's plus the blend's gain over it on the rows read}``, or None where
        the winner is kept alone (no
        blend reads more than ``tie`` above it, or the candidates are not single
        critics under one bound).
    """
    objective = trainings[winner].objective
    if not isinstance(objective, CriticObjective):
        return None
    alone = objective.critic
    baseline = trainings[winner].best_value
    shift = 0.0  # the winner's full validation value less its value on the rows read
    if x_val.shape[0] > max_rows:
        x_val, y_val = x_val[:max_rows], y_val[:max_rows]
        with torch.no_grad():
            subset = float(heldout_terms(objective, x_val, y_val, eval_batch_size)[0].sum())
        shift, baseline = baseline - subset, subset
    best: tuple[float, str, float] = (baseline + tie, "", 0.0)
    for name, training in trainings.items():
        other = training.objective
        if name == winner or not isinstance(other, CriticObjective):
            continue
        values = _stacked_values(objective, other.critic, x_val, y_val)
        for k, weight in enumerate(BLEND_WEIGHTS):
            if values is not None:
                value = float(values[k])
            else:
                objective.critic = MixedCritic([alone, other.critic], [1 - weight, weight]).eval()
                value = float(heldout_terms(objective, x_val, y_val, eval_batch_size)[0].sum())
                objective.critic = alone
            if math.isfinite(value) and value > best[0]:
                best = (value, name, weight)
    value, name, weight = best
    if not name:
        objective.critic = alone
        return None
    mixed = MixedCritic([alone, trainings[name].objective.critic], [1 - weight, weight])
    objective.critic = mixed.eval()
    return {"critic": name, "weight": weight, "validation": value + shift}


def _stacked_values(
    objective: CriticObjective, other: nn.Module, x_val: Tensor, y_val: Tensor
) -> Tensor | None:
    """The validation read-out of every blend with ``other``: (len(BLEND_WEIGHTS),) nats.

    The all-pairs read-out of ``(1 - w) f + w g`` from one pass over the rows that
    scores each block of ``f`` and ``g`` once (:func:`all_pairs_dv_stacked`), as
    :func:`~infomax.fit.heldout_terms` would read each blend's :class:`MixedCritic`;
    None where that read-out does not apply (a bound without a DV estimate, or a
    critic that declares no pair scorer), and the blends are read one by one.
    """
    critic = objective.critic
    if not objective.bound.dv_readout or not isinstance(critic, Critic):
        return None
    if not isinstance(other, Critic):
        return None
    first, second = critic.pair_scorer(x_val, y_val), other.pair_scorer(x_val, y_val)
    if first is None or second is None:
        return None
    w = torch.tensor(BLEND_WEIGHTS, dtype=first.positives.dtype)[:, None, None]

    def block(start: int, stop: int) -> Tensor:
        return (1 - w) * first.rows(start, stop)[None] + w * second.rows(start, stop)[None]

    positives = (1 - w[:, :, 0]) * first.positives[None] + w[:, :, 0] * second.positives[None]
    caps = positives.max(dim=1).values if objective.cap_negatives else None
    return all_pairs_dv_stacked(block, x_val.shape[0], caps)

"""The objective :func:`infomax.estimate_mi` trains, built from its options."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from infomax.objectives.base import Objective
from infomax.objectives.critic import CriticObjective, CriticSpec
from infomax.objectives.decomposed import DecomposedObjective

__all__ = ["build_objective"]


def build_objective(
    critic: CriticSpec,
    xt: Tensor,
    yt: Tensor,
    train_idx: np.ndarray,
    *,
    bound: str,
    subviews: Sequence[int] | Sequence[Callable[[Tensor], Tensor]] | None,
    conditional: str,
    critic_kwargs: dict[str, Any] | None,
    bound_kwargs: dict[str, Any],
) -> Objective:
    """The objective of one critic: a single bound, or DEMI's chain rule over ``subviews``."""
    if subviews is None:
        return CriticObjective(
            xt.shape[1],
            yt.shape[1],
            bound=bound,
            critic=critic,
            critic_kwargs=critic_kwargs,
            **bound_kwargs,
        )
    # The quadratic critic is for the single-bound read-out; DEMI's terms use separable
    # critics by default.
    objective = DecomposedObjective(
        xt.shape[1],
        yt.shape[1],
        list(subviews),
        conditional=conditional,
        critic="separable" if critic == "quadratic" else critic,
        critic_kwargs=critic_kwargs,
    )
    # I_VAR: start each q(y | x') at its maximum-likelihood fit on the training rows.
    objective.fit_samplers(xt[train_idx], yt[train_idx])
    return objective

"""Estimators the training loop fits: the :class:`Objective` base and its two kinds.

* :mod:`~infomax.objectives.base` — :class:`Objective`: every hook the loop and the
  read-outs call, with defaults.
* :mod:`~infomax.objectives.critic` — :class:`CriticObjective`: one critic, one bound.
* :mod:`~infomax.objectives.decomposed` — :class:`DecomposedObjective`: DEMI's chain rule.
* :mod:`~infomax.objectives.build` — :func:`build_objective`: the one ``estimate_mi`` trains.
"""

from infomax.objectives.base import Objective
from infomax.objectives.build import build_objective
from infomax.objectives.critic import REFERENCE_BOUNDS, CriticObjective, CriticSpec, build_critic
from infomax.objectives.decomposed import CONDITIONAL_ESTIMATORS, LOW_ESS, DecomposedObjective

__all__ = [
    "CONDITIONAL_ESTIMATORS",
    "LOW_ESS",
    "REFERENCE_BOUNDS",
    "CriticObjective",
    "CriticSpec",
    "DecomposedObjective",
    "Objective",
    "build_critic",
    "build_objective",
]

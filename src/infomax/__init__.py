"""infomax: mutual-information estimation and contrastive representation learning.

The top-level names are imported lazily, so ``import infomax`` (and the
``infomax`` command's ``--help``) does not pay for importing torch.
"""

from __future__ import annotations

from infomax.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "estimate_mi": "infomax.estimate",
    "estimate_cmi": "infomax.estimate",
    "MIEstimate": "infomax.result",
    "BOUNDS": "infomax.bounds",
    "infonce": "infomax.bounds",
    "nwj": "infomax.bounds",
    "tuba": "infomax.bounds",
    "dv": "infomax.bounds",
    "jsd": "infomax.bounds",
    "smile": "infomax.bounds",
    "interpolated": "infomax.bounds",
    "Bound": "infomax.bounds",
    "make_bound": "infomax.bounds",
    "Critic": "infomax.critics",
    "SeparableCritic": "infomax.critics",
    "BilinearCritic": "infomax.critics",
    "ConcatCritic": "infomax.critics",
    "make_critic": "infomax.critics",
    "QuadraticSeparableCritic": "infomax.critics",
    "DecomposedObjective": "infomax.objectives",
    "get_task": "infomax.distributions",
    "InputError": "infomax.validation",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""infomax: mutual-information estimation and contrastive representation learning.

The top-level names are imported lazily, so ``import infomax`` (and the
``infomax`` command's ``--help``) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'infomax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

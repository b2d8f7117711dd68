"""infomax: mutual-information estimation and contrastive representation learning.

The top-level names are imported lazily, so ``import infomax`` (and the
``infomax`` command's ``--help``) does not pay for importing torch.
"""

from __future__ import annotations

from infomax.lazy import lazy_exports

__version__ = "0.1.0"

#: Each module and the public names it lends this package.
_EXPORTS = {
    "infomax.estimate": ("estimate_mi", "estimate_cmi"),
    "infomax.result": ("MIEstimate",),
    "infomax.bounds": (
        "BOUNDS",
        "infonce",
        "nwj",
        "tuba",
        "dv",
        "jsd",
        "smile",
        "interpolated",
        "Bound",
        "make_bound",
    ),
    "infomax.critics": (
        "Critic",
        "SeparableCritic",
        "BilinearCritic",
        "ConcatCritic",
        "make_critic",
        "QuadraticSeparableCritic",
    ),
    "infomax.objectives": ("DecomposedObjective",),
    "infomax.distributions": ("get_task",),
    "infomax.validation": ("InputError",),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

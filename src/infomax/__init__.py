"""infomax: mutual-information estimation and contrastive representation learning."""

from infomax.bounds import BOUNDS, dv, infonce, interpolated, jsd, nwj, smile, tuba
from infomax.critics import BilinearCritic, ConcatCritic, SeparableCritic, make_critic
from infomax.result import MIEstimate

__all__ = [
    "BOUNDS",
    "BilinearCritic",
    "ConcatCritic",
    "MIEstimate",
    "SeparableCritic",
    "dv",
    "infonce",
    "interpolated",
    "jsd",
    "make_critic",
    "nwj",
    "smile",
    "tuba",
]
__version__ = "0.1.0"

"""The first home of :mod:`infomax.evaluation`, kept so older scripts keep importing.

New code imports from :mod:`infomax.evaluation`; every name here is the same object.
"""

from __future__ import annotations

from infomax.evaluation import *  # noqa: F403
from infomax.evaluation import __all__ as __all__

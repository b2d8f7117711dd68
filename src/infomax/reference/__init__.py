"""Non-neural reference estimators of mutual information: KSG and the Gaussian closed form.

Both return an :class:`~infomax.result.MIEstimate` computed on all ``N`` rows (nothing is
trained: ``n_train = 0``, ``n_heldout = N``). They are the baselines the neural bounds are
compared against, and each is trustworthy only in its own regime:

- :func:`ksg` (Kraskov, Stoegbauer & Grassberger 2004, estimator 1) is consistent for any
  continuous distribution and nearly unbiased in low dimension at low MI, but its bias is
  strongly *negative* when the dimension or the MI is high: k-nearest-neighbour balls cannot
  resolve a density ratio of ``e^{I}`` with ``N`` samples once ``I`` approaches ``log N``, and
  in 20+ dimensions neighbours are far apart even at moderate MI. Expect it to report a
  fraction of the truth there (see BENCHMARKS.md).
- :func:`gaussian` is the MI of the Gaussian with the same covariance as the data,
  ``0.5 (log det S_x + log det S_y - log det S)``. It is exact (up to sampling error) for
  jointly Gaussian data and otherwise measures only linear dependence: it is *not* a bound
  on the true MI in general. It is blind to non-linear dependence (``y = x^2`` gives ~0) and
  changes under non-linear per-coordinate transforms that leave the true MI unchanged.

Reference: A. Kraskov, H. Stoegbauer, P. Grassberger, "Estimating mutual information",
Phys. Rev. E 69, 066138 (2004).
"""

from __future__ import annotations

from typing import Any

from infomax.reference.gaussian import gaussian
from infomax.reference.knn import AUTO_JITTER, KDTREE_MAX_JOINT_DIM, ksg
from infomax.result import MIEstimate
from infomax.validation import InputError

__all__ = [
    "AUTO_JITTER",
    "KDTREE_MAX_JOINT_DIM",
    "KSG_OPTIONS",
    "gaussian",
    "ksg",
    "reference_estimate",
]

#: The options of :func:`ksg` that ``estimate_mi(bound="ksg", ...)`` passes on.
KSG_OPTIONS = ("k", "jitter", "marginal_norm", "algorithm")


def reference_estimate(bound: str, x: Any, y: Any, **options: Any) -> MIEstimate:
    """``estimate_mi(x, y, bound=...)`` for ``ksg`` (with :data:`KSG_OPTIONS`) or ``gaussian``.

    The arrays are validated here and read at their own precision.

    Raises:
        InputError: an option the estimator does not take.
    """
    allowed = KSG_OPTIONS if bound == "ksg" else ()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"{bound} takes no option {', '.join(unknown)}"
            + (f"; its options: {', '.join(allowed)}" if allowed else "")
        )
    return ksg(x, y, **options) if bound == "ksg" else gaussian(x, y)

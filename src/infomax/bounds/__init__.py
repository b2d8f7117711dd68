"""Variational bounds on mutual information, and the registry that names them.

* :mod:`infomax.bounds.registry` — :class:`Bound`, :data:`BOUNDS` (name ->
  bound class), :func:`make_bound`: each bound's reported estimate, training
  objective, state and options, read by ``estimate_mi``, the benchmarks and
  the CLI.
* :mod:`infomax.bounds.contrastive` — the bounds on a ``(B, B)`` score matrix
  (InfoNCE, NWJ, TUBA, DV, MINE, JSD, SMILE, interpolated, ``contrastive_dv``)
  and their registry entries. **A new bound goes there**: its function and a
  registered :class:`Bound` subclass, plus a test in ``tests/test_bounds.py``.
* :mod:`infomax.bounds.samples` — InfoNCE, DV and JSD on sets of positive and
  negative scores that are not one square matrix (DIM's (B, B, L) local scores,
  NDM's discriminator), served through :meth:`Bound.samples`.
* :mod:`infomax.bounds.mine` — MINE's moving-average partition;
  :mod:`infomax.bounds.scores` — helpers on score matrices.
* :mod:`infomax.bounds.conditional` — DEMI's conditional bounds.
* :mod:`infomax.bounds.all_pairs` — the DV read-out over all held-out pairs.
"""

from infomax.bounds.all_pairs import all_pairs_dv, all_pairs_dv_blocks, all_pairs_readout
from infomax.bounds.conditional import (
    boosted_conditional_infonce,
    boosted_infonce,
    conditional_infonce,
    importance_sampled_infonce,
)
from infomax.bounds.contrastive import (
    contrastive_dv_objective,
    dv,
    infonce,
    interpolated,
    jsd,
    jsd_objective,
    nwj,
    smile,
    smile_objective,
    tuba,
)
from infomax.bounds.mine import MovingAveragePartition, mine
from infomax.bounds.registry import (
    BASELINE_HIDDEN,
    BOUNDS,
    Bound,
    bound_names,
    describe,
    make_baseline,
    make_bound,
    register,
)
from infomax.bounds.scores import log_mean_exp_offdiagonal

__all__ = [
    "BASELINE_HIDDEN",
    "BOUNDS",
    "Bound",
    "MovingAveragePartition",
    "all_pairs_dv",
    "all_pairs_dv_blocks",
    "all_pairs_readout",
    "boosted_conditional_infonce",
    "boosted_infonce",
    "bound_names",
    "conditional_infonce",
    "contrastive_dv_objective",
    "describe",
    "dv",
    "importance_sampled_infonce",
    "infonce",
    "interpolated",
    "jsd",
    "jsd_objective",
    "log_mean_exp_offdiagonal",
    "make_baseline",
    "make_bound",
    "mine",
    "nwj",
    "register",
    "smile",
    "smile_objective",
    "tuba",
]

"""Parametric warm starts of the quadratic critic: candidates, never the deciders.

The critic starts at the log density ratio of a copula fitted to the
(rank-transformed) training rows, and that start is the first checkpoint
candidate of :class:`infomax.fit.Training`: a later checkpoint better on the
validation rows replaces it. The candidates are a Gaussian copula (the
quadratic part set to the fitted Gaussian's log ratio) and Student-t copulas
of several degrees of freedom (a fixed :class:`~infomax.copula.StudentTCopulaRatio`
term, its correlation fitted by the t likelihood); the validation rows choose.

Why: a large MI needs large coefficients, which Adam reaches only at about
``lr`` per step, so from zero it takes many steps to get there; and heavy,
joint tails are what a smooth MLP of normal scores cannot learn from a finite
sample. Training still decides: the MLP residual and the quadratic part move
wherever the data's copula is neither.

The grid critic (:class:`~infomax.critics.CopulaGridCritic`, one column a side)
starts at its plug-in table instead (:func:`grid_start`), the knots and the
smoothing chosen on the validation rows the same way.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.copula import fit_student_t_correlation
from infomax.critics import CopulaGridCritic, QuadraticSeparableCritic
from infomax.fit import heldout_terms
from infomax.objectives import CriticObjective

__all__ = [
    "INITS",
    "MAX_ELLIPTICAL_DIM",
    "SHRINKAGES",
    "STUDENT_T_DOFS",
    "STUDENT_T_MARGIN",
    "GRID_KNOTS",
    "GRID_SMOOTHING",
    "grid_start",
    "warm_start",
]


#: Warm starts of the quadratic critic (``init``).
INITS = ("elliptical", "gaussian", None)
#: Shrinkages ``s`` of the fitted copula correlation, ``R -> (R + s I) / (1 + s)``, tried by
#: ``init="elliptical"``. A correlation of ``d^2 / 2`` entries fitted to ``n`` rows carries
#: sampling noise that the read-out pays for on held-out rows (about ``d_x d_y / (2 n)``
#: nats for the cross block); shrinking trades it for a bias, and the validation rows choose.
SHRINKAGES = (1e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Degrees of freedom of the Student-t copula starts tried by ``init="elliptical"``.
STUDENT_T_DOFS = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0)
#: Nats by which a Student-t start must beat the Gaussian one on the validation rows. The
#: quadratic model and the MLP train freely from the Gaussian start, while the t term stays
#: fixed, so a t start that is only slightly ahead can end below the Gaussian one after
#: training where the copula is neither (BENCHMARKS.md).
STUDENT_T_MARGIN = 0.1
#: Widest ``[x; y]`` for which ``init="elliptical"`` tries the t copulas; wider data starts
#: from the Gaussian copula. Each t candidate costs a likelihood fit (``d^2`` per row and
#: sweep) and a validation read-out.
MAX_ELLIPTICAL_DIM = 256


#: Knots per side tried by :func:`grid_start`, from the coarsest up.
GRID_KNOTS = (8, 12, 16, 24, 32, 48, 64, 96)
#: Pseudo-counts per cell tried by :func:`grid_start` at each number of knots.
GRID_SMOOTHING = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def warm_start(
    objective: CriticObjective,
    init: str | None,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    eval_batch_size: int,
) -> dict[str, Any]:
    """Start a quadratic critic as ``init`` says; other critics keep their initialisation.

    ``gaussian``: :meth:`~infomax.critics.QuadraticSeparableCritic.init_gaussian`.
    ``elliptical``: the best elliptical copula on the validation rows. Candidates:
    the Gaussian copula with each shrinkage of :data:`SHRINKAGES` (from the least up,
    stopping after two successive falls of the validation estimate), then Student-t
    copulas with the ``dof`` of :data:`STUDENT_T_DOFS`, each with the correlation its
    ``dof``'s likelihood gives on the training rows
    (:func:`~infomax.copula.fit_student_t_correlation`, started from the normal
    scores' correlation) at the least shrinkage. Each is read out on the
    validation rows as the checkpoints are. The ``dof`` are tried from the
    largest down and the search stops after two successive falls of the
    validation estimate; the best ``dof``'s correlation then gets its own
    shrinkage, searched as the Gaussian one's. The best t start is kept if it beats the Gaussian one
    by more than :data:`STUDENT_T_MARGIN` nats, else the Gaussian start; and the
    critic as built (zero: no start, ``"none"``) is kept when no copula beats it,
    as when many more columns than rows make the fitted copula meaningless.

    Args:
        objective: the single-bound objective.
        init: ``elliptical``, ``gaussian`` or None (no warm start).
        x_train, y_train: (N, d_x), (N, d_y) preprocessed training rows.
        x_val, y_val: validation rows that choose among the candidates.
        eval_batch_size: batch size of a batched validation read-out.

    Returns:
        The start's description for the result's ``info`` (empty: no warm start):
        ``{"start": "none" | "gaussian" | "student_t", "start_dof": ...,
        "start_shrinkage": ..., "start_candidates": {name: validation estimate}}``.
    """
    if init is None:
        return {}
    if isinstance(objective.critic, CopulaGridCritic):
        return grid_start(objective, x_train, y_train, x_val, y_val, eval_batch_size)
    if not isinstance(objective.critic, QuadraticSeparableCritic):
        return {}
    if init == "gaussian":
        objective.critic.init_gaussian(x_train, y_train)
        return {"start": "gaussian"}
    critic = objective.critic
    assert isinstance(critic, QuadraticSeparableCritic)

    def value() -> float:
        terms = heldout_terms(objective, x_val, y_val, eval_batch_size)[0]
        result = float(terms.sum())
        return result if math.isfinite(result) else -math.inf

    at_zero = copy.deepcopy(critic.state_dict())
    scores = {"none": value()}  # the critic as built: the quadratic model and residual at zero
    shrinkage = _choose_shrinkage(
        lambda s: critic.init_gaussian(x_train, y_train, shrinkage=s), value, scores, "gaussian"
    )
    gaussian = f"gaussian shrinkage {shrinkage:g}"
    t_start: tuple[str, np.ndarray, float, float] | None = None  # (name, correlation, dof, s)
    if x_train.shape[1] + y_train.shape[1] <= MAX_ELLIPTICAL_DIM:
        rows = torch.cat([x_train, y_train], 1)
        # The fixed point converges from any start; the normal scores' correlation is a
        # cheap one (Kendall's tau, exact for the copula, costs d^2 per row pair).
        start = np.corrcoef(rows.double().numpy().T)
        fits: dict[float, np.ndarray] = {}
        previous, falls = -math.inf, 0
        for dof in sorted(STUDENT_T_DOFS, reverse=True):  # from nearly Gaussian to heavy tails
            fits[dof] = fit_student_t_correlation(rows, dof, start=start)
            critic.init_student_t(_shrunk(fits[dof], SHRINKAGES[0]), dof)
            scores[f"student_t dof {dof:g}"] = current = value()
            falls = falls + 1 if current < previous else 0
            previous = current
            if falls == 2:  # two successive falls: past the best dof
                break
        dof = max(fits, key=lambda d: scores[f"student_t dof {d:g}"])
        # The best dof's own shrinkage: a Gaussian start far from a t copula's log ratio
        # reads best at heavy shrinkage, which would flatten a t start fitted well.
        t_shrinkage = _choose_shrinkage(
            lambda s: critic.init_student_t(_shrunk(fits[dof], s), dof),
            value,
            scores,
            f"student_t dof {dof:g}",
        )
        name = f"student_t dof {dof:g} shrinkage {t_shrinkage:g}"
        t_start = (name, _shrunk(fits[dof], t_shrinkage), dof, t_shrinkage)
    best = max(scores, key=scores.__getitem__)
    info: dict[str, Any] = {"start_candidates": scores}
    best_t = -math.inf if t_start is None else scores[t_start[0]]
    if best == "none":
        critic.load_state_dict(at_zero)
        info.update(start="none")
    elif best_t < scores[gaussian] + STUDENT_T_MARGIN:
        critic.init_gaussian(x_train, y_train, shrinkage=shrinkage)
        info.update(start="gaussian", start_shrinkage=shrinkage)
    else:
        assert t_start is not None
        _, correlation, dof, t_shrinkage = t_start
        critic.init_student_t(correlation, dof)
        info.update(start="student_t", start_dof=dof, start_shrinkage=t_shrinkage)
    return info


def grid_start(
    objective: CriticObjective,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    eval_batch_size: int,
) -> dict[str, Any]:
    """Set a grid critic to the plug-in table whose knots and smoothing read best on validation.

    Every pair of :data:`GRID_KNOTS` and :data:`GRID_SMOOTHING` is fitted to the
    training rows (:meth:`~infomax.critics.CopulaGridCritic.fit_counts`) and read out on
    the validation rows as the checkpoints are; the knots are tried from the
    coarsest up and the search stops after two successive falls of the best value
    at a number of knots (finer tables then only fit more noise).

    Args:
        objective: a single-bound objective whose critic is a
            :class:`~infomax.critics.CopulaGridCritic`.
        x_train, y_train: (N, 1), (N, 1) preprocessed training rows.
        x_val, y_val: validation rows that choose the table.
        eval_batch_size: batch size of a batched validation read-out.

    Returns:
        ``{"grid_knots": G, "grid_smoothing": s}``, the table chosen.
    """
    critic = objective.critic
    assert isinstance(critic, CopulaGridCritic)
    best: tuple[float, int, float] = (-math.inf, GRID_KNOTS[0], GRID_SMOOTHING[-1])
    previous, falls = -math.inf, 0
    for knots in GRID_KNOTS:
        at_knots = -math.inf
        for smoothing in GRID_SMOOTHING:
            critic.fit_counts(x_train, y_train, knots, smoothing)
            value = float(heldout_terms(objective, x_val, y_val, eval_batch_size)[0].sum())
            value = value if math.isfinite(value) else -math.inf
            at_knots = max(at_knots, value)
            if value > best[0]:
                best = (value, knots, smoothing)
        falls = falls + 1 if at_knots < previous else 0
        previous = at_knots
        if falls == 2:
            break
    _, knots, smoothing = best
    critic.fit_counts(x_train, y_train, knots, smoothing)
    return {"grid_knots": knots, "grid_smoothing": smoothing}


def _shrunk(correlation: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(R + s I) / (1 + s)``: a correlation matrix pulled towards the identity."""
    return (correlation + shrinkage * np.eye(len(correlation))) / (1 + shrinkage)


def _choose_shrinkage(
    start: Callable[[float], None],
    value: Callable[[], float],
    scores: dict[str, float],
    label: str,
) -> float:
    """The shrinkage of :data:`SHRINKAGES` whose start reads highest on validation.

    ``start(s)`` sets the critic to a copula start with shrinkage ``s``. Tried from
    the least shrinkage up, stopping after two successive falls; each candidate's
    validation estimate goes into ``scores`` as ``"{label} shrinkage {s}"``.
    """
    best, best_value = SHRINKAGES[0], -math.inf
    previous, falls = -math.inf, 0
    for shrinkage in SHRINKAGES:
        start(shrinkage)
        scores[f"{label} shrinkage {shrinkage:g}"] = current = value()
        if current > best_value:
            best, best_value = shrinkage, current
        falls = falls + 1 if current < previous else 0
        previous = current
        if falls == 2:
            break
    return best

"""The result object every estimator returns."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["Z90", "MIEstimate"]

#: The standard normal's 95% quantile: a two-sided 90% interval is ``mi -/+ Z90 stderr``.
Z90 = 1.6448536269514722


@dataclass
class MIEstimate:
    """An MI estimate on held-out data.

    Attributes:
        mi: the estimate, nats.
        stderr: its standard error, nats (over held-out batches or bootstrap).
        bound: name of the estimator (``infonce``, ``smile``, ``ksg``, ...).
        n_train: samples used to fit the critic (0 for closed-form estimators).
        n_heldout: samples the estimate was computed on.
        history: per-step training estimates (nats), empty where nothing trains.
        heldout_curve: ``(step, heldout estimate)`` pairs measured during training
            (step 0 is the critic before training).
        terms: per-term estimates of a chain-rule (DEMI) decomposition; empty
            for a single-term estimate. Each is a dict with at least ``mi``,
            ``stderr`` and ``name``.
        info: extra diagnostics (elapsed seconds, best step, warnings, ...).

    A single-bound neural estimate also keeps its trained critic: see
    :meth:`scores`.
    """

    mi: float
    stderr: float
    bound: str
    n_train: int
    n_heldout: int
    history: list[float] = field(default_factory=list)
    heldout_curve: list[tuple[int, float]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    scorer: Callable[[Any, Any], np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: A 90% interval set by whoever computed a better one than ``mi -/+ Z90 stderr``
    #: (:mod:`infomax.bracket`, :func:`infomax.repeats.repeated_estimate`); :attr:`ci90`
    #: reports it.
    interval: tuple[float, float] | None = field(default=None, repr=False)

    @property
    def ci90(self) -> tuple[float, float] | None:
        """The 90% interval of the estimate, nats.

        :func:`~infomax.estimate_mi` sets it (:mod:`infomax.bracket`): from the held-out
        read-out ``info["heldout_estimate"]`` minus ``1.645 stderr`` (its sampling
        variance, each row's influence through its row and its column of negatives) up
        to the larger of it and the same read-out on the training rows, plus ``1.645
        stderr``; the training rows' read-out overstates what the critic's family
        reaches as the held-out one understates it, and ``mi`` lies between them.
        With ``estimate_mi(repeats=r)`` it is the t interval of the
        ``r`` repeats (their spread plus the rows' sampling error), which covers
        retraining too (:mod:`infomax.repeats`), its upper end raised the same way.
        Neither sees a bias of a critic family that cannot express the dependence.
        Where nothing set it: ``mi -/+ 1.645 stderr``. None without a standard error,
        and for the estimators that fit nothing (KSG's standard error is a rough
        guide, not an interval).
        """
        if self.interval is not None:
            return self.interval
        if self.n_train == 0 or not math.isfinite(self.stderr):
            return None
        return (self.mi - Z90 * self.stderr, self.mi + Z90 * self.stderr)

    @property
    def mi_bits(self) -> float:
        """The estimate in bits."""
        return self.mi / math.log(2)

    def to_dict(self, include_curves: bool = False) -> dict[str, Any]:
        """A JSON-ready dict; the training curves only when asked for."""
        out = {
            f.name: copy.deepcopy(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("scorer", "interval")
        }
        out["mi_bits"] = self.mi_bits
        out["ci90"] = None if self.ci90 is None else list(self.ci90)
        if not include_curves:
            out.pop("history")
            out.pop("heldout_curve")
        return out

    def scores(self, x: Any, y: Any) -> np.ndarray:
        """The trained critic's scores of new rows: every ``x_i`` against every ``y_j``.

        The rows are preprocessed exactly as the training rows were (e.g. the
        rank transform fitted on them). For a critic trained with a DV-type
        bound (the default), ``f - log mean_{i != j} exp(f_ij)`` over held-out
        negatives estimates the pointwise log density ratio
        ``log p(x, y) / (p(x) p(y))``; the diagonal of ``scores(x, y)`` on
        paired rows is then a per-sample dependence score.

        Args:
            x: (N, d_x) rows (array-like).
            y: (M, d_y) rows.

        Returns:
            (N, M) float64 scores, nats up to an additive constant.

        Raises:
            ValueError: the estimator has no single critic (closed-form
                references, DEMI decompositions), or the widths do not match.
        """
        if self.scorer is None:
            raise ValueError(
                f"the {self.bound} estimate keeps no critic to score with "
                "(only single-bound neural estimates do)"
            )
        return self.scorer(x, y)

    def __str__(self) -> str:
        return (
            f"I = {self.mi:.3f} ± {self.stderr:.3f} nats ({self.mi_bits:.3f} bits) "
            f"[{self.bound}, {self.n_heldout} held-out samples]"
        )

"""Variational bounds on mutual information, computed from a score matrix.

Every function here takes a score matrix ``scores`` of shape ``(B, B)`` with
``scores[i, j] = f(x_i, y_j)``: the critic evaluated on every pairing of a
batch of ``B`` paired samples, positives ``(x_i, y_i)`` on the diagonal and
the ``B * (B - 1)`` off-diagonal entries standing in for samples from the
product of marginals ``p(x) p(y)``. Every function returns a scalar tensor in
nats and works in log space (``logsumexp``): raw scores are never
exponentiated.

Each bound is also registered (:mod:`infomax.bounds.registry`) by a small
:class:`~infomax.bounds.registry.Bound` class next to its function: that class
names it, pairs its estimate with its training objective and holds its state.

Where the number a bound *reports* differs from the objective that *trains*
the critic (JSD, SMILE, MINE), two functions are provided:
``<name>_objective`` (maximise it) and ``<name>`` (the MI estimate). The
training surrogates carry the estimate's value and the objective's gradient
where that is how the method is defined (SMILE, MINE).

References: Poole et al. 2019 "On variational bounds of mutual information";
Song & Ermon 2020 "Understanding the limitations of variational mutual
information estimators" (SMILE); Belghazi et al. 2018 (MINE); Nowozin et al.
2016 (f-GAN); van den Oord et al. 2018 (InfoNCE).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from infomax.bounds.contrastive_dv import contrastive_dv_objective
from infomax.bounds.mine import MovingAveragePartition
from infomax.bounds.registry import Bound, register, register_function
from infomax.bounds.samples import dv_samples, infonce_samples, jsd_samples
from infomax.bounds.scores import check_scores, log_mean_exp_offdiagonal, offdiagonal_mask

__all__ = [
    "contrastive_dv_objective",
    "dv",
    "infonce",
    "interpolated",
    "jsd",
    "jsd_objective",
    "nwj",
    "smile",
    "smile_objective",
    "tuba",
]


def infonce(scores: Tensor) -> Tensor:
    """InfoNCE (CPC) lower bound, ``<= log B``.

    ``mean_i [ S_ii - log (1/B) sum_j exp(S_ij) ]``: each ``x_i`` must pick its
    own ``y_i`` out of the ``B`` candidates in its row.

    Args:
        scores: (B, B) score matrix.

    Returns:
        Scalar tensor, nats. Never exceeds ``log B`` whatever the critic.
    """
    batch = check_scores(scores)
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(batch)


def tuba(scores: Tensor, log_baseline: Tensor | float = 0.0) -> Tensor:
    """TUBA lower bound with a baseline ``a(x_i) = exp(log_baseline[i])``.

    ``1 + mean_i [S_ii - log a_i] - mean_{i != j} exp(S_ij - log a_i)``. With
    ``log_baseline = 0`` this is the bound whose optimal critic is exactly the
    log density ratio ``log p(x, y) / p(x) p(y)``; NWJ is the special case
    ``log a = 1`` (see :func:`nwj`).

    Args:
        scores: (B, B) score matrix.
        log_baseline: (B,) per-row log baseline (a learned function of
            ``x_i``) or a scalar.

    Returns:
        Scalar tensor, nats.
    """
    check_scores(scores)
    if isinstance(log_baseline, Tensor) and log_baseline.dim() == 1:
        log_baseline = log_baseline[:, None]
    shifted = scores - log_baseline
    return 1.0 + shifted.diagonal().mean() - log_mean_exp_offdiagonal(shifted).exp()


def nwj(scores: Tensor) -> Tensor:
    """NWJ lower bound (MINE-f, f-divergence bound): TUBA with ``log a = 1``.

    ``mean_i S_ii - e^{-1} mean_{i != j} exp(S_ij)``. Optimal critic
    ``1 + log p(x, y) / p(x) p(y)``. Unbiased but high-variance at large MI.

    Args:
        scores: (B, B) score matrix.

    Returns:
        Scalar tensor, nats.
    """
    return tuba(scores, 1.0)


def dv(scores: Tensor) -> Tensor:
    """Donsker-Varadhan estimate ``mean_i S_ii - log mean_{i != j} exp(S_ij)``.

    The DV bound itself is tight, but the plug-in estimate of its partition
    term is biased at finite ``B``, so this is not a strict lower bound.

    Args:
        scores: (B, B) score matrix.

    Returns:
        Scalar tensor, nats.
    """
    return scores.diagonal().mean() - log_mean_exp_offdiagonal(scores)


def jsd_objective(scores: Tensor) -> Tensor:
    """f-GAN Jensen-Shannon objective used to *train* a critic (not MI).

    ``mean_i -softplus(-S_ii) - mean_{i != j} softplus(S_ij)``; its maximiser is
    ``S = log p(x, y) / p(x) p(y)``.

    Args:
        scores: (B, B) score matrix.

    Returns:
        Scalar tensor (not in nats of MI).
    """
    batch = check_scores(scores)
    positive = -F.softplus(-scores.diagonal()).mean()
    negative = F.softplus(scores).masked_select(offdiagonal_mask(batch, scores.device)).mean()
    return positive - negative


def jsd(scores: Tensor) -> Tensor:
    """MI read out from a JSD-trained critic: ``1 + mean S_ii - mean_{i != j} e^{S_ij}``.

    The JSD critic's optimum is the log density ratio itself, so the right
    read-out is TUBA with a zero log-baseline (:func:`tuba`), not NWJ's
    ``S - 1`` shift (which would be low by ``1/e`` at the optimum).

    Args:
        scores: (B, B) score matrix of a critic trained with :func:`jsd_objective`.

    Returns:
        Scalar tensor, nats.
    """
    return tuba(scores, 0.0)


def smile(scores: Tensor, tau: float | None = 5.0) -> Tensor:
    """SMILE estimate: DV with the partition term's scores clipped to ``[-tau, tau]``.

    Args:
        scores: (B, B) score matrix.
        tau: clipping threshold; ``None`` gives plain :func:`dv`.

    Returns:
        Scalar tensor, nats.
    """
    clipped = scores if tau is None else scores.clamp(-tau, tau)
    return scores.diagonal().mean() - log_mean_exp_offdiagonal(clipped)


def smile_objective(scores: Tensor, tau: float | None = 5.0) -> Tensor:
    """SMILE training surrogate: value of :func:`smile`, gradient of :func:`jsd_objective`.

    Args:
        scores: (B, B) score matrix.
        tau: clipping threshold.

    Returns:
        Scalar tensor whose value is the SMILE estimate (nats) and whose
        gradient is the JSD objective's.
    """
    objective = jsd_objective(scores)
    return objective + (smile(scores, tau) - objective).detach()


def interpolated(scores: Tensor, log_baseline: Tensor | float, alpha: float) -> Tensor:
    """Poole et al.'s interpolated bound ``I_alpha`` between InfoNCE and TUBA.

    For each row ``i`` the baseline is ``alpha * m_i + (1 - alpha) * a(x_i)``
    with ``m_i`` the leave-one-out mean of ``exp(S_i.)`` over the batch
    (InfoNCE's multi-sample baseline) and ``a`` a learned single-sample baseline.
    ``alpha = 1`` gives an InfoNCE-like bound capped at ``log(B / alpha)``;
    ``alpha -> 0`` gives TUBA. Intermediate values trade bias for variance.

    Args:
        scores: (B, B) score matrix.
        log_baseline: (B,) per-row log baseline ``log a(x_i)``, or a scalar.
        alpha: interpolation weight in ``(0, 1]``.

    Returns:
        Scalar tensor, nats.

    Note:
        The leave-one-out baselines are built from a ``(B, B, B)`` tensor
        (memory ``B^3`` floats: 1 MiB at B = 64, 0.5 GiB at B = 512).
    """
    batch = check_scores(scores)
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must lie in (0, 1], got {alpha}")
    log_baseline_t = torch.as_tensor(log_baseline, dtype=scores.dtype, device=scores.device)
    if log_baseline_t.dim() == 0:
        log_baseline_t = log_baseline_t.expand(batch)
    # Leave-one-out log-mean-exp: loo[i, j] = log mean_{k != j} exp(S_ik).
    # Subtracting exp(S_ij) from the row sum is unstable in log space, so mask instead.
    mask = torch.eye(batch, dtype=torch.bool, device=scores.device)
    expanded = scores[:, None, :].expand(batch, batch, batch)  # [i, j, k] = S_ik
    loo = torch.logsumexp(expanded.masked_fill(mask[None], -math.inf), dim=2) - math.log(batch - 1)
    log_alpha, log_one_minus = math.log(alpha), (math.log1p(-alpha) if alpha < 1 else -math.inf)
    interp = torch.logaddexp(loo + log_alpha, log_baseline_t[:, None] + log_one_minus)
    # Marginal term: negatives of row i scored against the baseline built without the positive.
    marginal = log_mean_exp_offdiagonal(scores - interp.diagonal()[:, None]).exp()
    # Joint term: the positive against baselines that include it and leave out one negative.
    joint = (scores.diagonal()[:, None] - interp).masked_select(~mask).mean()
    return 1.0 + joint - marginal


# ---------------------------------------------------------------------------
# The registry entries: name -> (estimate, training objective, state)
# ---------------------------------------------------------------------------


@register
class ContrastiveDV(Bound):
    """Symmetric InfoNCE + DV training (:func:`contrastive_dv_objective`), DV read-out."""

    name = "contrastive_dv"
    summary = "default: InfoNCE + DV training, DV over all test pairs"
    dv_readout = True
    objective_is_estimate = False
    options = {"dv_weight": 0.1}
    dv_weight: float

    def estimate(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        return dv(scores)

    def objective(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        return contrastive_dv_objective(scores, self.dv_weight)


register_function("infonce", infonce, "CPC, at most log B", samples=infonce_samples)
register_function("nwj", nwj, "f-divergence bound")
register_function("tuba", tuba, "learned baseline", needs_baseline=True)
register_function("dv", dv, "Donsker-Varadhan", dv_readout=True, samples=dv_samples)


@register
class MINE(Bound):
    """DV reported; trained with the moving-average gradient of :class:`MovingAveragePartition`."""

    name = "mine"
    summary = "DV with a moving-average gradient"
    dv_readout = True
    options = {"momentum": 0.01}
    momentum: float

    def __init__(self, **options: float) -> None:
        super().__init__(**options)
        self.partition = MovingAveragePartition(self.momentum)

    def estimate(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        return dv(scores)

    def objective(self, scores: Tensor, log_baseline: Tensor | None = None) -> Tensor:
        return self.partition(scores)


register_function(
    "jsd", jsd, "Jensen-Shannon training", objective=jsd_objective, samples=jsd_samples
)
# SMILE's objective carries the estimate's value with JSD's gradient.
register_function(
    "smile", smile, "clipped DV", objective=smile_objective, objective_is_estimate=True,
    options={"tau": 5.0},
)  # fmt: skip
register_function(
    "interpolated", interpolated, "between InfoNCE and TUBA", needs_baseline=True,
    options={"alpha": 0.01},
)  # fmt: skip

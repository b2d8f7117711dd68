"""The DV estimate over all ``N (N - 1)`` negative pairs of held-out rows.

At a large MI the DV partition ``E_{p(x)p(y)} e^f`` is carried by the rare
negative pairs that nearly match, a fraction about ``e^{-I}`` of them. A batch
of ``B`` rows has too few (InfoNCE cannot exceed ``log B``; DV on a batch is
noisy), while ``N`` held-out rows give ``N^2`` pairs. The read-out scores them
``chunk`` rows at a time, never holding the ``N x N`` matrix, from what the
critic declares about itself (:meth:`infomax.critics.Critic.pair_scorer`).
It applies to the bounds whose estimate is the DV estimate
(:attr:`infomax.bounds.Bound.dv_readout`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = [
    "all_pairs_dv",
    "all_pairs_dv_blocks",
    "all_pairs_dv_stacked",
    "all_pairs_readout",
    "dv_influence",
]


@torch.no_grad()
def all_pairs_dv(
    gx: Tensor, hy: Tensor, groups: int | None = None, chunk: int = 1024, cap: float | None = None
) -> tuple[float, Tensor]:
    """DV estimate over all ``N (N - 1)`` negative pairs of a separable critic.

    ``mean_i S_ii - log mean_{i != j} exp(S_ij)`` with ``S = gx @ hy.T``,
    computed ``chunk`` rows at a time (never the whole ``N x N`` matrix). The
    partition of a large MI is carried by the rare negatives that nearly
    match (a fraction about ``e^{-I}`` of them), so it needs many more than the
    ``B`` negatives per row that a batch offers: InfoNCE-style per-row
    normalisation cannot exceed ``log N``, the global partition over ``N^2``
    pairs can.

    Args:
        gx: (N, e) embeddings of the held-out ``x`` rows.
        hy: (N, e) embeddings of their paired ``y`` rows.
        groups: number of row groups for the standard error (None: each row its own).
        chunk: rows per matmul.
        cap: if given, negative pairs' scores are clipped to at most ``cap``
            (see :func:`all_pairs_dv_blocks`).

    Returns:
        ``(estimate, per_group)``: the all-pairs DV (nats) and (groups,) linearised
        estimates of row groups (:func:`all_pairs_dv_blocks`); their spread gives
        the standard error.
    """
    return all_pairs_dv_blocks(
        lambda start, stop: gx[start:stop] @ hy.T, gx.shape[0], groups=groups, chunk=chunk, cap=cap
    )


@torch.no_grad()
def all_pairs_dv_blocks(
    block: Callable[[int, int], Tensor],
    n: int,
    groups: int | None = None,
    chunk: int = 1024,
    cap: float | None = None,
) -> tuple[float, Tensor]:
    """:func:`all_pairs_dv` of any critic whose score rows come in blocks.

    Args:
        block: ``block(start, stop)`` returns the (stop - start, N) scores of
            rows ``start:stop`` against every column; the diagonal of the full
            matrix holds the positive pairs.
        n: number of rows ``N``.
        groups: number of row groups for the standard error. None (default): each
            row its own group, the delta-method standard error from every row's
            influence (:func:`dv_influence`). A few groups give a standard error with
            few degrees of freedom, whose own spread makes ``+/- 1.645`` of it hold the
            estimate's mean less often than 90%.
        chunk: rows per block.
        cap: if given, every negative pair's score is clipped to at most
            ``cap`` before the partition. :func:`all_pairs_readout` passes the
            highest positive score of the same rows: under the true log ratio
            ``r``, negatives above every positive carry about ``1/N`` of the
            partition (``E_q[e^r; r > t] = P_p(r > t)``), so the clip costs an
            exact critic about ``1/N`` nats, while it keeps a few negatives
            that a trained critic scores far too high from deciding the
            estimate.

    Returns:
        ``(estimate, per_group)`` as :func:`all_pairs_dv`: the groups' values are the
        estimate plus the mean influence of their rows (:func:`dv_influence`), so
        their spread over ``sqrt(groups)`` is the delta-method standard error with
        both the row and the column side of every pair.
    """
    diagonal = torch.empty(n, dtype=torch.float64)
    row_lse = torch.empty(n, dtype=torch.float64)
    col_lse = torch.full((n,), -math.inf, dtype=torch.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        scores = block(start, stop)
        rows = torch.arange(stop - start)
        diagonal[start:stop] = scores[rows, rows + start].double()
        scores[rows, rows + start] = -math.inf
        if cap is not None:
            scores = scores.clamp(max=cap)
        row_lse[start:stop] = torch.logsumexp(scores, dim=1).double()
        col_lse = torch.logaddexp(col_lse, torch.logsumexp(scores, dim=0).double())
    total_lse = torch.logsumexp(row_lse, dim=0)
    estimate = float(diagonal.mean() - (total_lse - math.log(n * (n - 1))))
    influence = dv_influence(diagonal, row_lse, col_lse, total_lse)
    if groups is None or groups >= n:
        return estimate, (estimate + influence).float()
    groups = max(1, groups)
    per_group = torch.stack([estimate + influence[g].mean() for g in torch.arange(n).chunk(groups)])
    return estimate, per_group.float()


@torch.no_grad()
def all_pairs_dv_stacked(
    block: Callable[[int, int], Tensor],
    n: int,
    caps: Tensor | None = None,
    chunk: int = 256,
) -> Tensor:
    """The all-pairs DV estimates of ``K`` critics over the same rows, one pass over the rows.

    What :func:`all_pairs_dv_blocks` gives each critic (without the standard error),
    for critics that share the cost of their scores: blends of two critics
    (:mod:`infomax.blend`) score every block of each critic once for all weights.

    Args:
        block: ``block(start, stop)`` returns the (K, stop - start, N) scores of rows
            ``start:stop`` against every column, one matrix per critic; the diagonal
            of each full matrix holds the positive pairs.
        n: number of rows ``N``.
        caps: (K,) each critic's clip of its negative scores (:func:`all_pairs_dv_blocks`'s
            ``cap``), or None for no clip.
        chunk: rows per block.

    Returns:
        (K,) the estimates, nats.
    """
    positive_sum: Tensor | float = 0.0
    total: Tensor | None = None
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        scores = block(start, stop)
        rows = torch.arange(stop - start)
        positive_sum = positive_sum + scores[:, rows, rows + start].double().sum(1)
        scores[:, rows, rows + start] = -math.inf
        if caps is not None:
            scores = torch.minimum(scores, caps.to(scores.dtype)[:, None, None])
        lse = torch.logsumexp(scores.flatten(1), dim=1).double()
        total = lse if total is None else torch.logaddexp(total, lse)
    assert total is not None and isinstance(positive_sum, Tensor)
    return positive_sum / n - (total - math.log(n * (n - 1)))


def dv_influence(diagonal: Tensor, row_lse: Tensor, col_lse: Tensor, total_lse: Tensor) -> Tensor:
    """Each held-out row's influence on the all-pairs DV estimate: (N,), nats.

    The partition ``R = mean_{i != j} e^{S_ij}`` is a U-statistic of order two: row
    ``i`` enters through its own row of negatives (``x_i`` against every other
    ``y``) and its column (``y_i`` against every other ``x``). Its first-order
    (Hajek) projection gives row ``i`` the influence ``(r_i + c_i - 2 R) / R``
    on ``log R``, with ``r_i``, ``c_i`` its row and column means; so
    ``psi_i = (S_ii - mean S_kk) - (r_i + c_i - 2 R) / R``, and
    ``Var(estimate) ~ Var(psi) / N``. Counting rows only misses the column side.

    Args:
        diagonal: (N,) positive scores ``S_ii``.
        row_lse: (N,) ``logsumexp_{j != i} S_ij``.
        col_lse: (N,) ``logsumexp_{j != i} S_ji``.
        total_lse: ``logsumexp`` over all negatives.
    """
    n = diagonal.shape[0]
    relative_row = torch.exp(row_lse - total_lse + math.log(n))  # r_i / R
    relative_col = torch.exp(col_lse - total_lse + math.log(n))  # c_i / R
    return (diagonal - diagonal.mean()) - (relative_row + relative_col - 2.0)


@torch.no_grad()
def all_pairs_readout(
    critic: nn.Module, x: Tensor, y: Tensor, groups: int | None = None, cap_negatives: bool = True
) -> tuple[float, Tensor] | None:
    """:func:`all_pairs_dv_blocks` of a critic over (N, d) held-out rows, or None.

    The critic's :meth:`~infomax.critics.Critic.pair_scorer` says how to score
    blocks of rows against all columns and what the positives' scores are;
    critics that declare none (and modules that are not a
    :class:`~infomax.critics.Critic`) return None: score them in batches.

    Args:
        critic: the critic.
        x: (N, d_x) held-out rows.
        y: (N, d_y) their paired rows.
        groups: row groups for the standard error (None: each row its own).
        cap_negatives: clip negatives at the highest positive score (the
            ``cap`` of :func:`all_pairs_dv_blocks`).

    Returns:
        ``(estimate, per_group (groups,))`` in nats, or None.
    """
    from infomax.critics import Critic

    scorer = critic.pair_scorer(x, y) if isinstance(critic, Critic) else None
    if scorer is None:
        return None
    cap = float(scorer.positives.max()) if cap_negatives else None
    return all_pairs_dv_blocks(scorer.rows, x.shape[0], groups, cap=cap)

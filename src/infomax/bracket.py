"""One estimate from two read-outs: the held-out one below, the training rows' above.

A critic fitted on training rows and read out on held-out rows understates the
best value its family can reach: it is the fitted critic, not the best one, read
on rows it never saw. Read out on the rows it was fitted to, it overstates that
value: those rows are the ones it was chosen for. The best value of the family
lies between the two in expectation wherever training fits the critic to its
rows at least as well as the family's best critic fits them (to first order the
held-out shortfall and the training excess are equal, as in AIC's optimism);
training stopped early, or on an objective other than the read-out, can leave
the training read-out short of that value too. The gap between them
grows with how much the critic fitted its own rows' noise: little for a
quadratic critic on a few columns, tenths of a nat on dozens of columns.

So :func:`bracket` runs the interval from the held-out estimate minus
``Z90`` standard errors up to the larger of the two read-outs plus ``Z90``
standard errors. The training read-out uses disjoint subsets of the training
rows of the test set's size, so that both read-outs carry the same small-sample
bias of the all-pairs DV read-out. Neither side can see dependence the critic's
family cannot express at all: there the interval still sits below the truth.

The point estimate (:func:`midpoint`) is the held-out read-out raised half-way
toward the training read-out, the two gaps being equal to first order. That
argument fails where the critic fitted mostly noise: a quadratic critic on dozens
of independent columns and a few hundred rows reads a few hundredths of a nat
below zero held out and tenths of a nat above it on its training rows. So the
raise is capped by how far the held-out read-out clears zero (``mi - Z90 se``):
where it cannot tell the data from independent, the estimate stays the held-out
read-out, a lower bound in expectation, and only the interval reaches up.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from infomax.fit import heldout_terms
from infomax.objectives import Objective
from infomax.result import Z90

__all__ = ["MAX_SUBSETS", "MAX_TRAINING_ROWS", "bracket", "midpoint", "training_readout"]

#: At most this many disjoint training subsets are read out (their mean is taken).
MAX_SUBSETS = 4
#: ... and at most this many training rows in all (but always one subset), so that on
#: large data the training read-out costs no more than one test read-out at the cap.
MAX_TRAINING_ROWS = 30_000


@torch.no_grad()
def training_readout(
    objective: Objective, x_train: Tensor, y_train: Tensor, n_rows: int, batch_size: int
) -> Tensor:
    """The held-out read-out applied to the training rows: (n_terms,) nats.

    Args:
        objective: the trained estimator (its best checkpoint, eval mode).
        x_train, y_train: (N_train, d_x), (N_train, d_y) the rows it was trained on,
            in random order.
        n_rows: the test set's size; each subset read out has this many rows (all the
            training rows where there are fewer).
        batch_size: as :func:`infomax.fit.heldout_terms` (batched read-outs).

    Returns:
        The mean over up to :data:`MAX_SUBSETS` disjoint subsets (at most
        :data:`MAX_TRAINING_ROWS` rows in all) of the read-out, term by term (one term
        for a single bound).
    """
    n_train = x_train.shape[0]
    n_rows = max(1, min(n_rows, n_train))
    count = max(1, min(MAX_SUBSETS, n_train // n_rows, MAX_TRAINING_ROWS // n_rows))
    values = [
        heldout_terms(
            objective,
            x_train[k * n_rows : (k + 1) * n_rows],
            y_train[k * n_rows : (k + 1) * n_rows],
            min(batch_size, n_rows),
        )[0]
        for k in range(count)
    ]
    return torch.stack(values).mean(dim=0)


def midpoint(mi: float, stderr: float, training_value: float) -> float:
    """The point estimate ``mi + min(max(0, t - mi) / 2, max(0, mi - Z90 se))``, nats.

    Half-way from the held-out estimate ``mi`` to the training read-out ``t`` (never
    below ``mi``), the raise at most the margin by which ``mi`` clears zero at the 90%
    level; ``mi`` itself where the standard error is not finite.

    Args:
        mi: the held-out estimate, nats.
        stderr: its standard error, nats.
        training_value: the same read-out on the training rows (:func:`training_readout`).
    """
    if not math.isfinite(stderr):
        return mi
    return mi + min(max(0.0, training_value - mi) / 2, max(0.0, mi - Z90 * stderr))


def bracket(mi: float, stderr: float, training_value: float) -> tuple[float, float]:
    """The 90% interval ``(mi - Z90 se, max(mi, training_value) + Z90 se)``, nats.

    Args:
        mi: the held-out estimate, nats.
        stderr: its standard error, nats.
        training_value: the same read-out on the training rows (:func:`training_readout`).
    """
    return (mi - Z90 * stderr, max(mi, training_value) + Z90 * stderr)

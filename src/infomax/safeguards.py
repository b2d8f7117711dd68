"""Safeguards of :func:`infomax.estimate_mi` on awkward data.

Small samples get a training batch they can hold (:func:`auto_batch_size`), and an
estimate outside what the read-out can report faithfully comes with a warning
(:func:`range_warnings`).
"""

from __future__ import annotations

import math

from infomax.validation import InputError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MIN_AUTO_BATCH",
    "auto_batch_size",
    "check_width",
    "min_rows",
    "range_warnings",
    "readout_cap",
]

#: The training batch of :func:`infomax.estimate_mi` where the rows allow it.
DEFAULT_BATCH_SIZE = 512

#: The smallest training batch :func:`auto_batch_size` chooses on small data.
MIN_AUTO_BATCH = 8


def min_rows(batch_size: int, heldout: float) -> int:
    """Rows ``estimate_mi`` needs for a training batch and an evaluation batch per held-out set.

    Each held-out set (validation and test, ``heldout / 2`` of the rows each) needs
    one evaluation batch of ``min(batch_size, 256)`` rows (the all-pairs read-out
    uses every held-out row, whatever their number), and the training rows one batch.
    """
    held_rows = min(batch_size, 256)
    needed = batch_size + math.ceil(2 * held_rows / heldout) if 0 < heldout < 1 else 0
    return max(needed, 2 * batch_size + 2)


def auto_batch_size(n_rows: int, heldout: float) -> int:
    """The default training batch for ``n_rows`` rows: :data:`DEFAULT_BATCH_SIZE` where they
    allow it, else the largest batch (at least :data:`MIN_AUTO_BATCH`) that
    :func:`min_rows` allows."""
    batch = DEFAULT_BATCH_SIZE
    while batch > MIN_AUTO_BATCH and min_rows(batch, heldout) > n_rows:
        batch -= 1
    return batch


def check_width(columns: int, train_rows: int) -> None:
    """Refuse data with at least as many columns (x and y together) as training rows.

    There the training pairs are separable by a linear critic and the fitted
    copulas are singular, so the held-out estimate measures over-fitting, not
    dependence (it was tens of thousands of nats below zero).

    Raises:
        InputError: naming both numbers and the fixes.
    """
    if columns >= train_rows:
        raise InputError(
            f"X and Y have {columns} columns in all for {train_rows} training rows: a critic "
            "can tell every training pair apart, so the estimate would mean nothing; reduce "
            f"the columns (e.g. PCA) or give more rows (more than {columns} to train on)"
        )


def range_warnings(mi: float, cap: float | None) -> list[str]:
    """Warnings for an estimate (nats) outside what the read-out can report faithfully.

    MI is never negative, so a negative estimate means the critic found no
    dependence that holds on the test rows. A read-out cannot exceed its cap
    (``log N(N-1)`` for the all-pairs DV over ``N`` test rows, ``log B`` for
    InfoNCE over batches of ``B``); within a nat of it the true MI may be higher.
    """
    out = []
    if mi < 0:
        out.append(
            f"the estimate is negative ({mi:.3f} nats) and MI never is: the critic found no "
            "dependence that holds on the test rows (the MI is about 0, or there are too few "
            "rows for this many columns)"
        )
    if cap is not None and math.isfinite(mi) and mi > cap - 1.0:
        out.append(
            f"the estimate ({mi:.2f} nats) is within a nat of the read-out's cap ({cap:.2f} "
            "nats): the true MI may be higher; give more rows"
        )
    return out


def readout_cap(all_pairs_rows: int | None, infonce_batch: int | None) -> float | None:
    """The most a read-out can report, nats: ``log N(N-1)`` for the all-pairs DV over
    ``N`` test rows, ``log B`` for InfoNCE over batches of ``B``; None for other read-outs."""
    if all_pairs_rows is not None:
        return math.log(all_pairs_rows * (all_pairs_rows - 1))
    if infonce_batch is not None:
        return math.log(infonce_batch)
    return None

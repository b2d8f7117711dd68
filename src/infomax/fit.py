"""The one training loop of the MI estimators: split, train, validate, keep the best.

:func:`split_rows` draws the training, validation and test rows;
:func:`train_objective` trains an :class:`~infomax.objectives.Objective` with Adam
on fresh minibatches, estimates on the validation rows every ``eval_every``
steps (:func:`heldout_terms`), keeps the best checkpoint (the start included)
and stops after ``patience`` evaluations without improvement, at ``steps``,
or after ``max_seconds``. Reporting on test rows that neither trained the
critic nor chose the checkpoint keeps the estimate honest: a critic that
memorises its training pairs looks informative on them and nowhere else.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from infomax.distributed import all_reduce_gradients, is_distributed
from infomax.numerics import flush_denormals
from infomax.objectives import Objective
from infomax.progress import Progress
from infomax.result import MIEstimate
from infomax.validation import InputError

__all__ = [
    "MAX_TEST_ROWS",
    "MAX_VALIDATION_ROWS",
    "batched_terms",
    "heldout_terms",
    "split_rows",
    "summarise",
    "train_objective",
]


#: Validation rows at most (they only choose the checkpoint); rows beyond train the critic.
#: The all-pairs read-out costs ``rows^2`` score evaluations, every ``eval_every`` steps.
MAX_VALIDATION_ROWS = 10_000
#: Test rows at most (read out once, for the reported estimate); rows beyond train.
MAX_TEST_ROWS = 30_000


def split_rows(
    n: int,
    heldout: float,
    seed: int,
    max_validation: int | None = None,
    max_test: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (train, validation, test) row indices.

    The held-out rows split evenly in two; the validation half keeps at most
    ``max_validation`` rows (default :data:`MAX_VALIDATION_ROWS`), the test half
    at most ``max_test`` (default :data:`MAX_TEST_ROWS`); the rest train.
    """
    if not 0.0 < heldout < 1.0:
        raise InputError(f"heldout must be a fraction in (0, 1), got {heldout}")
    val_cap = MAX_VALIDATION_ROWS if max_validation is None else max_validation
    test_cap = MAX_TEST_ROWS if max_test is None else max_test
    perm = np.random.default_rng(seed).permutation(n)
    n_heldout = int(round(n * heldout))
    n_val = n_heldout // 2
    val, test = perm[:n_val], perm[n_val:n_heldout]
    train = np.concatenate([perm[n_heldout:], val[val_cap:], test[test_cap:]])
    return train, val[:val_cap], test[:test_cap]


@torch.no_grad()
def batched_terms(
    objective: Objective, x: Tensor, y: Tensor, batch_size: int
) -> tuple[Tensor, list[dict[str, float]]]:
    """Per-batch term estimates on disjoint batches: (n_batches, n_terms), plus diagnostics.

    The diagnostics list holds one dict per batch (:meth:`Objective.diagnostics`).
    """
    n_batches = x.shape[0] // batch_size
    rows, diags = [], []
    for b in range(n_batches):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        rows.append(objective.estimate_terms(x[sl], y[sl]))
        diags.append(objective.diagnostics(x[sl], y[sl]))
    return torch.stack(rows), diags


@torch.no_grad()
def heldout_terms(
    objective: Objective, x: Tensor, y: Tensor, batch_size: int
) -> tuple[Tensor, Tensor, list[dict[str, float]], str]:
    """Held-out estimate (n_terms,), the rows its standard error comes from, diagnostics, read-out.

    All pairs of the held-out rows where the objective supports it
    (``all_pairs_terms``), else disjoint batches of ``batch_size`` rows.
    """
    result = objective.all_pairs_terms(x, y)
    if result is not None:
        return result[0], result[1], [], "all-pairs"
    per_batch, diags = batched_terms(objective, x, y, batch_size)
    return per_batch.mean(dim=0), per_batch, diags, "batches"


@flush_denormals()  # sharp critics otherwise slow down on subnormal floats
def train_objective(
    objective: Objective,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    *,
    batch_size: int,
    eval_batch_size: int,
    steps: int,
    lr: float,
    eval_every: int,
    patience: int,
    seed: int,
    max_seconds: float | None = None,
    progress: bool | None = None,
    lr_schedule: str = "constant",
) -> dict[str, Any]:
    """Train ``objective`` with Adam, keep the checkpoint best on the validation rows.

    Args:
        objective: the estimator module.
        x_train, y_train: (N_train, d_x), (N_train, d_y) training rows.
        x_val, y_val: validation rows used for early stopping.
        batch_size: training minibatch size.
        eval_batch_size: batch size of the validation estimate.
        steps: maximum optimiser steps.
        lr: Adam learning rate (the peak one for ``lr_schedule="cosine"``).
        eval_every: steps between validation estimates.
        patience: evaluations without improvement before stopping.
        seed: seeds the minibatch order.
        max_seconds: wall-clock budget for training (None: no limit).
        progress: draw a progress bar (None: only on a terminal).
        lr_schedule: ``constant``, or ``cosine`` (decay from ``lr`` to 0 over ``steps``).

    Returns:
        A dict with ``history`` (per-step training estimate, nats, summed over
        terms), ``heldout_curve`` ((step, validation estimate) pairs),
        ``best_step``, ``steps_run`` and ``seconds``. The objective is left
        holding the best checkpoint, in eval mode.
    """
    distributed = is_distributed()
    if distributed:
        if not objective.supports_distributed:
            raise InputError(
                f"{type(objective).__name__} cannot be trained with several processes yet; "
                "run it in one process"
            )
        rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        if batch_size % world_size:
            raise InputError(
                f"batch_size {batch_size} is the global batch and must divide among "
                f"{world_size} processes"
            )
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(objective.parameters(), lr=lr)
    n_train = x_train.shape[0]
    history = torch.empty(steps)
    curve: list[tuple[int, float]] = []
    best_value, best_step = -math.inf, 0
    best_state = copy.deepcopy(objective.state_dict())
    stale = 0
    start = time.perf_counter()
    order = torch.randperm(n_train, generator=generator)
    cursor = 0
    step = 0

    def validation_value() -> float:
        objective.train(False)
        terms, _, _, _ = heldout_terms(objective, x_val, y_val, eval_batch_size)
        return float(terms.sum())

    # The starting point is a candidate too (a warm-started critic may already be good).
    if math.isfinite(initial := validation_value()):
        best_value = initial
        curve.append((0, initial))
    with Progress(steps, "estimate", enabled=progress) as bar:
        for step in range(1, steps + 1):
            if cursor + batch_size > n_train:
                order = torch.randperm(n_train, generator=generator)
                cursor = 0
            idx = order[cursor : cursor + batch_size]
            cursor += batch_size
            if lr_schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))
            objective.train()
            if distributed:  # every process has the data; each takes its share of the batch
                idx = idx[rank::world_size]
            loss = objective.training_loss(x_train[idx], y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if distributed:
                all_reduce_gradients(objective)
            optimizer.step()
            history[step - 1] = -loss.detach()
            if step % eval_every == 0 or step == steps:
                value = validation_value()
                curve.append((step, value))
                if value > best_value:
                    best_value, best_step, stale = value, step, 0
                    best_state = copy.deepcopy(objective.state_dict())
                else:
                    stale += 1
                bar.update(
                    eval_every if step % eval_every == 0 else step % eval_every, heldout=value
                )
                if not math.isfinite(value) and step > eval_every:
                    break
                if stale >= patience:
                    break
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    break
    objective.load_state_dict(best_state)
    objective.train(False)
    return {
        "history": history[:step].tolist(),
        "heldout_curve": curve,
        "best_step": best_step,
        "steps_run": step,
        "seconds": time.perf_counter() - start,
    }


def summarise(
    objective: Objective,
    per_batch: Tensor,
    diags: list[dict[str, float]],
    fitted: dict[str, Any],
    *,
    name: str,
    n_train: int,
    n_heldout: int,
    extra: dict[str, Any],
    estimate: Tensor | None = None,
) -> MIEstimate:
    """Estimate per term and in total, standard error across held-out batches or groups.

    ``estimate`` (n_terms,) overrides the mean of ``per_batch`` (the all-pairs
    read-out, whose value is not the mean of its row groups' values).
    """
    n_batches = per_batch.shape[0]

    def stderr(values: Tensor) -> float:
        return (
            float(values.std(unbiased=True) / math.sqrt(n_batches)) if n_batches > 1 else math.nan
        )

    totals = per_batch.sum(dim=1)
    if estimate is None:
        estimate = per_batch.mean(dim=0)
    terms = []
    if per_batch.shape[1] > 1:
        for k, term_name in enumerate(objective.term_names):
            terms.append(
                {"name": term_name, "mi": float(estimate[k]), "stderr": stderr(per_batch[:, k])}
            )
    info: dict[str, Any] = {
        "seconds": fitted["seconds"],
        "best_step": fitted["best_step"],
        "steps_run": fitted["steps_run"],
        "heldout_batches": n_batches,
        **extra,
    }
    if diags and diags[0]:
        keys = diags[0].keys()
        info["diagnostics"] = {k: float(np.mean([d[k] for d in diags])) for k in keys}
    info["warnings"] = objective.warnings(info.get("diagnostics", {}))
    if not math.isfinite(float(estimate.sum())):
        info["warnings"].append(
            "the estimate is not finite: the critic diverged; try a lower lr or another bound"
        )
    return MIEstimate(
        mi=float(estimate.sum()),
        stderr=stderr(totals),
        bound=name,
        n_train=n_train,
        n_heldout=n_heldout,
        history=fitted["history"],
        heldout_curve=fitted["heldout_curve"],
        terms=terms,
        info=info,
    )

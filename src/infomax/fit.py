"""The one training loop of the MI estimators: split, train, validate, keep the best.

:func:`split_rows` draws the training, validation and test rows;
:class:`Training` trains an :class:`~infomax.objectives.Objective` with Adam
on fresh minibatches, estimates on the validation rows every ``eval_every``
steps (:func:`heldout_terms`), keeps the best checkpoint (the start included)
and stops after ``patience`` evaluations without improvement, at ``steps``,
or after ``max_seconds``; it advances one validation interval at a time, so
that :mod:`infomax.race` can run several side by side, and
:func:`train_objective` runs one to the end. Reporting on test rows that neither trained the
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
    "Training",
    "adam",
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


def adam(parameters: Any, lr: float) -> torch.optim.Adam:
    """Adam, fused (one kernel for all parameters) where every parameter allows it.

    The estimators' critics are small, so the per-parameter loop of the plain
    implementation costs a sizeable share of a CPU training step.
    """
    params = list(parameters)
    fusable = bool(params) and all(
        p.dtype.is_floating_point and p.device.type in ("cpu", "cuda") for p in params
    )
    return torch.optim.Adam(params, lr=lr, fused=fusable or None)


class Training:
    """One objective's training run, advanced one validation interval at a time.

    :func:`train_objective` runs it to the end; :func:`infomax.race.race` advances
    several side by side and stops the ones that cannot catch up. Adam on fresh
    minibatches (the training rows reshuffled each pass), the validation
    estimate every ``eval_every`` steps, the best checkpoint kept (the start
    included: a warm-started critic may already be good); it stops after
    ``patience`` evaluations without improvement, at ``steps``, after
    ``max_seconds`` of its own training time, or on a non-finite validation
    value.

    Args:
        objective: the estimator module.
        x_train, y_train: (N_train, d_x), (N_train, d_y) training rows.
        x_val, y_val: validation rows that choose the checkpoint.
        batch_size: training minibatch size.
        eval_batch_size: batch size of the validation estimate.
        steps: maximum optimiser steps.
        lr: Adam learning rate (the peak one for ``lr_schedule="cosine"``).
        eval_every: steps between validation estimates.
        patience: evaluations without improvement before stopping.
        seed: seeds the minibatch order.
        max_seconds: wall-clock budget for training (None: no limit).
        lr_schedule: ``constant``, or ``cosine`` (decay from ``lr`` to 0 over ``steps``).
        bar: a progress bar to advance by the steps run (None: none).
        label: shown on ``bar`` before the validation value (a racing candidate's name).

    Attributes:
        curve: (step, validation estimate in nats) pairs so far, the start's first.
        best_value: the best validation estimate so far, nats (-inf before any finite one).
        best_step: the step of the best checkpoint (0: the start).
        step: optimiser steps run so far.
        done: whether training has stopped.
    """

    def __init__(
        self,
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
        lr_schedule: str = "constant",
        bar: Progress | None = None,
        label: str = "",
    ) -> None:
        self.distributed = is_distributed()
        self.rank, self.world_size = 0, 1
        if self.distributed:
            if not objective.supports_distributed:
                raise InputError(
                    f"{type(objective).__name__} cannot be trained with several processes yet; "
                    "run it in one process"
                )
            self.rank = torch.distributed.get_rank()
            self.world_size = torch.distributed.get_world_size()
            if batch_size % self.world_size:
                raise InputError(
                    f"batch_size {batch_size} is the global batch and must divide among "
                    f"{self.world_size} processes"
                )
        self.objective = objective
        self.x_train, self.y_train, self.x_val, self.y_val = x_train, y_train, x_val, y_val
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.steps, self.lr, self.eval_every, self.patience = steps, lr, eval_every, patience
        self.max_seconds, self.lr_schedule = max_seconds, lr_schedule
        self.bar, self.label = bar, label
        self.generator = torch.Generator().manual_seed(seed)
        self.optimizer = adam(objective.parameters(), lr)
        self.history = torch.empty(steps)
        self.curve: list[tuple[int, float]] = []
        self.best_value, self.best_step = -math.inf, 0
        self.best_state = copy.deepcopy(objective.state_dict())
        self.stale = 0
        self.step = 0
        self.seconds = 0.0
        self.done = steps < 1
        self.order = torch.randperm(x_train.shape[0], generator=self.generator)
        self.cursor = 0
        started = time.perf_counter()
        with flush_denormals():
            initial = self._validation_value()
        if math.isfinite(initial):
            self.best_value = initial
            self.curve.append((0, initial))
        self.seconds += time.perf_counter() - started

    def _validation_value(self) -> float:
        self.objective.train(False)
        terms, _, _, _ = heldout_terms(self.objective, self.x_val, self.y_val, self.eval_batch_size)
        return float(terms.sum())

    def _train_step(self) -> None:
        n_train = self.x_train.shape[0]
        if self.cursor + self.batch_size > n_train:
            self.order = torch.randperm(n_train, generator=self.generator)
            self.cursor = 0
        idx = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        self.step += 1
        if self.lr_schedule == "cosine":
            decay = 0.5 * (1.0 + math.cos(math.pi * (self.step - 1) / self.steps))
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr * decay
        self.objective.train()
        if self.distributed:  # every process has the data; each takes its share of the batch
            idx = idx[self.rank :: self.world_size]
        loss = self.objective.training_loss(self.x_train[idx], self.y_train[idx])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.distributed:
            all_reduce_gradients(self.objective)
        self.optimizer.step()
        self.history[self.step - 1] = -loss.detach()

    def advance(self) -> float:
        """Train up to the next validation estimate and return it (nats); sets :attr:`done`."""
        if self.done:
            raise RuntimeError("this training run has stopped")
        started = time.perf_counter()
        first = self.step
        with flush_denormals():  # sharp critics otherwise slow down on subnormal floats
            self._train_step()
            while self.step % self.eval_every and self.step < self.steps:
                self._train_step()
            value = self._validation_value()
        self.curve.append((self.step, value))
        if value > self.best_value:
            self.best_value, self.best_step, self.stale = value, self.step, 0
            self.best_state = copy.deepcopy(self.objective.state_dict())
        else:
            self.stale += 1
        self.seconds += time.perf_counter() - started
        if self.bar is not None:
            self.bar.update(self.step - first, **{f"{self.label}heldout": value})
        self.done = (
            self.step >= self.steps
            or self.stale >= self.patience
            or (not math.isfinite(value) and self.step > self.eval_every)
            or (self.max_seconds is not None and self.seconds > self.max_seconds)
        )
        return value

    def stop(self) -> None:
        """Stop before the end (a racing candidate that cannot catch up); the bar skips ahead."""
        if not self.done and self.bar is not None:
            self.bar.update(self.steps - self.step)
        self.done = True

    @property
    def remaining_evaluations(self) -> int:
        """Validation estimates still to come if training runs to ``steps``."""
        return 0 if self.done else math.ceil((self.steps - self.step) / self.eval_every)

    def finish(self) -> dict[str, Any]:
        """Stop, load the best checkpoint (eval mode) and return what :func:`summarise` needs.

        Returns:
            A dict with ``history`` (per-step training estimate, nats, summed
            over terms), ``heldout_curve`` ((step, validation estimate) pairs),
            ``best_step``, ``steps_run`` and ``seconds``.
        """
        self.done = True
        self.objective.load_state_dict(self.best_state)
        self.objective.train(False)
        return {
            "history": self.history[: self.step].tolist(),
            "heldout_curve": self.curve,
            "best_step": self.best_step,
            "steps_run": self.step,
            "seconds": self.seconds,
        }


def train_objective(
    objective: Objective,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    *,
    steps: int,
    progress: bool | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train ``objective`` to the end (:class:`Training`), keep the checkpoint best on validation.

    Args:
        objective, x_train, y_train, x_val, y_val, steps: as :class:`Training`.
        progress: draw a progress bar (None: only on a terminal).
        **options: the rest of :class:`Training`'s options (``batch_size``,
            ``eval_batch_size``, ``lr``, ``eval_every``, ``patience``, ``seed``, ...).

    Returns:
        :meth:`Training.finish`'s dict. The objective is left holding the best
        checkpoint, in eval mode.
    """
    with Progress(steps, "estimate", enabled=progress) as bar:
        training = Training(
            objective, x_train, y_train, x_val, y_val, steps=steps, bar=bar, **options
        )
        while not training.done:
            training.advance()
        return training.finish()


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

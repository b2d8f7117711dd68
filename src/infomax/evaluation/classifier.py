"""The Adam loop behind the linear and MLP probes: standardize, fit, choose the epoch, score."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.evaluation.checks import check_positive, check_probe_data, feature_stats, pick_device
from infomax.evaluation.result import ProbeResult
from infomax.minimise import minimise
from infomax.progress import Progress
from infomax.validation import InputError

__all__ = ["ProbeTraining", "fit_classifier"]

_EVAL_CHUNK = 4096  # rows per forward pass when a probe scores a whole split


@dataclass(frozen=True)
class ProbeTraining:
    """How the linear and MLP probes train their classifier (options of both).

    Attributes:
        epochs: passes over the training rows (at least; see ``min_steps``).
        batch_size: rows per Adam step (the short last batch of an epoch is dropped).
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty.
        val_fraction: fraction of training rows held out to choose the epoch.
        min_steps: the fewest Adam steps, whatever the number of rows.
    """

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    min_steps: int = 1000

    def __post_init__(self) -> None:
        check_positive(self.epochs, "epochs", integer=True)
        check_positive(self.batch_size, "batch_size", integer=True)
        check_positive(self.lr, "lr")
        if self.weight_decay < 0:
            raise InputError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.val_fraction < 1:
            raise InputError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.min_steps < 0:
            raise InputError(f"min_steps must be >= 0, got {self.min_steps!r}")

    @classmethod
    def options(cls) -> tuple[str, ...]:
        """The settings' names, in order."""
        return tuple(f.name for f in fields(cls))


@torch.no_grad()
def _score(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    mean: Tensor,
    std: Tensor,
    device: torch.device,
    rows: Tensor | None = None,
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` (eval mode) on ``x[rows]``."""
    model.eval()
    index = torch.arange(x.shape[0]) if rows is None else rows
    correct, loss = 0, 0.0
    for start in range(0, index.numel(), _EVAL_CHUNK):
        idx = index[start : start + _EVAL_CHUNK]
        xb = (x[idx].to(device) - mean) / std
        yb = y[idx].to(device)
        logits = model(xb)
        correct += int((logits.argmax(dim=1) == yb).sum())
        loss += float(F.cross_entropy(logits, yb, reduction="sum"))
    count = max(index.numel(), 1)
    return correct / count, loss / count


def fit_classifier(
    name: str,
    make_model: Callable[[int, int], nn.Module],
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    **training: Any,
) -> ProbeResult:
    """Train ``make_model(F, classes)`` with Adam on standardized features (see linear_probe).

    ``training`` holds :class:`ProbeTraining` settings (checked after the data).
    """
    started = time.perf_counter()
    xtr, ytr, xte, yte, n_classes = check_probe_data(train_x, train_y, test_x, test_y)
    settings = ProbeTraining(**training)
    lr, weight_decay, val_fraction = settings.lr, settings.weight_decay, settings.val_fraction
    dev = pick_device(device, xtr)
    n, n_features = xtr.shape
    mean, std = (t.to(dev) for t in feature_stats(xtr))
    ytr_dev = ytr.to(dev)

    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator)
    n_val = int(round(n * val_fraction))
    if n_val < 10 or n - n_val < 2:
        n_val = 0  # too few rows to choose an epoch on: train on all, keep the last epoch
    val_rows, fit_rows = order[:n_val], order[n_val:]
    n_fit = fit_rows.numel()
    batch = min(int(settings.batch_size), n_fit)
    per_epoch = n_fit // batch  # the short last batch is dropped (BatchNorm needs 2 rows)
    epochs = max(int(settings.epochs), math.ceil(settings.min_steps / per_epoch))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = make_model(n_features, n_classes).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        best: tuple[float, float] = (-1.0, -math.inf)
        best_state: dict[str, Tensor] | None = None
        best_epoch = epochs
        val_accuracy: float | None = None
        shuffled = fit_rows
        losses: list[float] = []

        def batch_loss(b: int) -> Tensor:
            idx = shuffled[(b - 1) * batch : b * batch]
            xb = (xtr[idx].to(dev) - mean) / std
            return F.cross_entropy(model(xb), ytr_dev[idx.to(dev)])

        def record(_: int, loss: Tensor) -> None:
            losses.append(loss.item())

        with Progress(epochs, f"{name} probe", enabled=progress) as bar:
            for epoch in range(1, epochs + 1):
                model.train()
                shuffled = fit_rows[torch.randperm(n_fit, generator=generator)]
                losses.clear()
                minimise(optimizer, batch_loss, per_epoch, after_step=record)
                total = sum(losses)
                if n_val:
                    acc, val_loss = _score(model, xtr, ytr, mean, std, dev, val_rows)
                    if (acc, -val_loss) > best:
                        best, best_epoch = (acc, -val_loss), epoch
                        best_state = copy.deepcopy(model.state_dict())
                    bar.update(loss=total / per_epoch, val=acc)
                else:
                    bar.update(loss=total / per_epoch)
        if best_state is not None:
            model.load_state_dict(best_state)
            val_accuracy = best[0]
    train_accuracy, _ = _score(model, xtr, ytr, mean, std, dev, fit_rows)
    accuracy, test_loss = _score(model, xte, yte, mean, std, dev)
    return ProbeResult(
        accuracy=accuracy,
        probe=name,
        layer="features",
        n_train=n,
        n_test=int(xte.shape[0]),
        seconds=time.perf_counter() - started,
        train_accuracy=train_accuracy,
        n_features=int(n_features),
        n_classes=n_classes,
        seed=int(seed),
        settings={
            "epochs": epochs,
            "steps": epochs * per_epoch,
            "batch_size": batch,
            "lr": lr,
            "weight_decay": weight_decay,
            "val_fraction": val_fraction if n_val else 0.0,
            "n_val": n_val,
            "epoch": best_epoch,
            "val_accuracy": val_accuracy,
            "test_loss": test_loss,
        },
    )

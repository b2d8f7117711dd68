"""Input checks shared by the probes and measures: features, labels, settings."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infomax.validation import InputError

__all__ = [
    "as_features",
    "as_labels",
    "check_positive",
    "check_probe_data",
    "feature_stats",
    "pick_device",
]


def as_features(x: Any, name: str) -> Tensor:
    tensor = torch.as_tensor(x)
    if tensor.ndim != 2:
        raise InputError(f"{name} must be a (N, F) matrix, got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise InputError(f"{name} must hold real numbers, got {tensor.dtype}")
    tensor = tensor.to(torch.float32).contiguous()
    # A column sum is NaN/inf when any entry is (or, rarely, when it overflows): one cheap pass
    # first, the exact row-wise check only then.
    if not bool(torch.isfinite(tensor.sum(dim=0)).all()):
        bad = torch.cat(
            [
                ~torch.isfinite(tensor[start : start + 4096]).all(dim=1)
                for start in range(0, tensor.shape[0], 4096)
            ]
        )
        rows = torch.nonzero(bad).flatten()
        if rows.numel():
            raise InputError(
                f"{name} has {rows.numel()} rows with NaN or inf (first at row {int(rows[0])})"
            )
    return tensor


def as_labels(y: Any, n: int, name: str) -> Tensor:
    labels = torch.as_tensor(y)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise InputError(f"{name} must have shape ({n},), got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InputError(f"{name} must be integer class indices, got {labels.dtype}")
    labels = labels.to(torch.int64)
    if bool((labels < 0).any()):
        raise InputError(
            f"{name} has {int((labels < 0).sum())} unlabeled rows (label -1); probes need "
            "a labeled train and test split"
        )
    return labels


def check_probe_data(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any
) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    xtr = as_features(train_x, "train features")
    xte = as_features(test_x, "test features")
    if xtr.shape[1] != xte.shape[1]:
        raise InputError(
            f"train and test features must have the same width: {xtr.shape[1]} vs {xte.shape[1]}"
        )
    if xtr.shape[0] < 2:
        raise InputError(f"a probe needs at least 2 training rows, got {xtr.shape[0]}")
    ytr = as_labels(train_y, xtr.shape[0], "train labels")
    yte = as_labels(test_y, xte.shape[0], "test labels")
    n_classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    if n_classes < 2:
        raise InputError("the labels name a single class; a probe needs at least 2")
    return xtr, ytr, xte, yte, n_classes


def check_positive(value: float, name: str, integer: bool = False) -> None:
    ok = value > 0 and (not integer or float(value).is_integer())
    if not ok:
        kind = "a positive int" if integer else "positive"
        raise InputError(f"{name} must be {kind}, got {value!r}")


def pick_device(device: str | torch.device | None, like: Tensor) -> torch.device:
    return like.device if device is None else torch.device(device)


def feature_stats(x: Tensor, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """Per-column mean and standard deviation of (N, F) ``x``, float32 (F,) each.

    Two passes over row chunks (float32 within a chunk, float64 across
    chunks; no full-size copy). A constant column, or one whose spread is
    below float32's resolution at its mean, gets std 1, so standardizing maps
    it to (about) 0 rather than dividing by 0.
    """
    n = x.shape[0]
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    for start in range(0, n, chunk):
        total += x[start : start + chunk].sum(dim=0)
    mean = (total / n).float()
    squares = torch.zeros_like(total)
    for start in range(0, n, chunk):
        squares += (x[start : start + chunk] - mean).square().sum(dim=0)
    std = (squares / max(n - 1, 1)).sqrt().float()
    flat = std <= 1e-5 * mean.abs()
    std = torch.where(flat | (std == 0), torch.ones_like(std), std)
    return mean, std

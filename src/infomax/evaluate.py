"""Frozen-encoder probes and representation measures.

A trained encoder is judged by how much a simple classifier fit on its frozen
features can do (the *probe*), as in the Deep InfoMax paper (Hjelm et al.,
2019) and the contrastive-learning papers that followed:

=========  ==================================================================
probe      what it is
=========  ==================================================================
linear     multinomial logistic regression on standardized features (Adam)
mlp        DIM's probe: Linear(F, 200), BatchNorm, ReLU, Dropout(0.1), Linear
knn        weighted 200-nearest neighbours on cosine similarity (InstDisc)
=========  ==================================================================

Entry points, from the most to the least packaged:

- :func:`evaluate_run`: the encoder of a training run folder (or a randomly
  initialised one of the same shape, the usual baseline) on a data set's
  train and test splits;
- :func:`evaluate_encoder`: any encoder on two :class:`ImageDataset` splits;
  :func:`evaluate_pixels`: the raw-pixel baseline;
- :func:`extract_features` then :func:`run_probe`: features and a probe
  separately (e.g. to try several probes on one set of features).

Representation measures from the DIM paper work on features directly:
:func:`neural_dependency_measure` (NDM, how far the coordinates of a
representation are from independent) and :func:`representation_mi` (a lower
bound on I(X; E(X)) with :func:`infomax.estimate_mi`).

Example:
    >>> from infomax.evaluate import evaluate_run, format_probe  # doctest: +SKIP
    >>> result = evaluate_run("runs/dim-cifar10", "cifar10", probe="linear")  # doctest: +SKIP
    >>> print(format_probe(result))  # doctest: +SKIP
    linear probe on conv: ...% test accuracy (train ...%), 50000 train / 10000 test, ... s
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.nets.base import LAYERS
from infomax.progress import Progress
from infomax.validation import InputError

if TYPE_CHECKING:
    from infomax.data import ImageDataset
    from infomax.result import MIEstimate

__all__ = [
    "PROBES",
    "ProbeResult",
    "evaluate_encoder",
    "evaluate_pixels",
    "evaluate_run",
    "extract_features",
    "format_probe",
    "knn_probe",
    "linear_probe",
    "mlp_probe",
    "neural_dependency_measure",
    "pixel_features",
    "probe_to_json",
    "recalibrate_batchnorm",
    "representation_mi",
    "run_probe",
]

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
_EVAL_CHUNK = 4096  # rows per forward pass when a probe scores a whole split


@dataclass
class ProbeResult:
    """How well a probe fit on training features classifies test features.

    Attributes:
        accuracy: fraction of test rows classified correctly, in [0, 1].
        probe: the probe's name ("linear", "mlp", "knn").
        layer: what was probed: an encoder layer name, "pixels", or
            "features" for features given directly.
        n_train: training rows (including any held out to choose the epoch).
        n_test: test rows.
        seconds: wall time; for :func:`run_probe` the probe's, for the
            ``evaluate_*`` functions feature extraction plus probe (both also
            in ``info``).
        train_accuracy: accuracy on the rows the probe was fit on (None for
            knn, which has no fit to score).
        n_features: feature width F.
        n_classes: number of classes (largest label + 1).
        seed: seed of the probe's initialisation and batch order.
        settings: the probe's settings and training facts (epochs, learning
            rate, chosen epoch, ``k``, ...).
        info: where the features came from (run folder, data, encoder, ...).
    """

    accuracy: float
    probe: str
    layer: str
    n_train: int
    n_test: int
    seconds: float
    train_accuracy: float | None = None
    n_features: int = 0
    n_classes: int = 0
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- checks


def _as_features(x: Any, name: str) -> Tensor:
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


def _as_labels(y: Any, n: int, name: str) -> Tensor:
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


def _check_probe_data(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any
) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
    xtr = _as_features(train_x, "train features")
    xte = _as_features(test_x, "test features")
    if xtr.shape[1] != xte.shape[1]:
        raise InputError(
            f"train and test features must have the same width: {xtr.shape[1]} vs {xte.shape[1]}"
        )
    if xtr.shape[0] < 2:
        raise InputError(f"a probe needs at least 2 training rows, got {xtr.shape[0]}")
    ytr = _as_labels(train_y, xtr.shape[0], "train labels")
    yte = _as_labels(test_y, xte.shape[0], "test labels")
    n_classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    if n_classes < 2:
        raise InputError("the labels name a single class; a probe needs at least 2")
    return xtr, ytr, xte, yte, n_classes


def _positive(value: float, name: str, integer: bool = False) -> None:
    ok = value > 0 and (not integer or float(value).is_integer())
    if not ok:
        kind = "a positive int" if integer else "positive"
        raise InputError(f"{name} must be {kind}, got {value!r}")


def _device(device: str | torch.device | None, like: Tensor) -> torch.device:
    return like.device if device is None else torch.device(device)


# --------------------------------------------------------------------------- probes


def _feature_stats(x: Tensor, chunk: int = 1024) -> tuple[Tensor, Tensor]:
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


def _fit_classifier(
    name: str,
    make_model: Callable[[int, int], nn.Module],
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    val_fraction: float,
    min_steps: int,
    device: str | torch.device | None,
    progress: bool | None,
) -> ProbeResult:
    """Train ``make_model(F, classes)`` with Adam on standardized features (see linear_probe)."""
    started = time.perf_counter()
    xtr, ytr, xte, yte, n_classes = _check_probe_data(train_x, train_y, test_x, test_y)
    _positive(epochs, "epochs", integer=True)
    _positive(batch_size, "batch_size", integer=True)
    _positive(lr, "lr")
    if weight_decay < 0:
        raise InputError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if min_steps < 0:
        raise InputError(f"min_steps must be >= 0, got {min_steps!r}")
    dev = _device(device, xtr)
    n, n_features = xtr.shape
    mean, std = (t.to(dev) for t in _feature_stats(xtr))
    ytr_dev = ytr.to(dev)

    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator)
    n_val = int(round(n * val_fraction))
    if n_val < 10 or n - n_val < 2:
        n_val = 0  # too few rows to choose an epoch on: train on all, keep the last epoch
    val_rows, fit_rows = order[:n_val], order[n_val:]
    n_fit = fit_rows.numel()
    batch = min(int(batch_size), n_fit)
    per_epoch = n_fit // batch  # the short last batch is dropped (BatchNorm needs 2 rows)
    epochs = max(int(epochs), math.ceil(min_steps / per_epoch))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = make_model(n_features, n_classes).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        best: tuple[float, float] = (-1.0, -math.inf)
        best_state: dict[str, Tensor] | None = None
        best_epoch = epochs
        val_accuracy: float | None = None
        with Progress(epochs, f"{name} probe", enabled=progress) as bar:
            for epoch in range(1, epochs + 1):
                model.train()
                shuffled = fit_rows[torch.randperm(n_fit, generator=generator)]
                total = 0.0
                for b in range(per_epoch):
                    idx = shuffled[b * batch : (b + 1) * batch]
                    xb = (xtr[idx].to(dev) - mean) / std
                    loss = F.cross_entropy(model(xb), ytr_dev[idx.to(dev)])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.item()
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


def linear_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    val_fraction: float = 0.1,
    min_steps: int = 1000,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> ProbeResult:
    """Multinomial logistic regression on standardized features.

    Every feature is standardized with the mean and standard deviation of the
    training features (constant features become 0); each minibatch is
    standardized as it is drawn, so no standardized copy of the (possibly
    50,000 x 4,096) matrix is made. The classifier is one ``nn.Linear(F, C)``
    trained on the cross-entropy with Adam.

    Epoch selection: ``val_fraction`` of the training rows (10%) are held out;
    the probe is fit on the rest, and the weights of the epoch with the best
    held-out accuracy (ties: lower held-out loss) are kept. With
    ``val_fraction=0`` (or fewer than 10 held-out rows) all rows are used and
    the last epoch is kept. The test rows are never used to choose anything.

    Small training sets get more epochs, so the probe always takes at least
    ``min_steps`` Adam steps (30 epochs of 196 steps for 50,000 rows; 167 of
    6 steps for the 1,437 digits). 50,000 x 4,096 features take about 10 s
    per 30 epochs on one CPU core.

    Args:
        train_x: (N, F) training features (tensor or array).
        train_y: (N,) integer labels, 0..C-1.
        test_x: (M, F) test features.
        test_y: (M,) labels.
        seed: seeds the initialisation, the held-out split and the batch order.
        epochs: passes over the training rows (at least; see ``min_steps``).
        batch_size: rows per Adam step (the short last batch of an epoch is dropped).
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty.
        val_fraction: fraction of training rows held out to choose the epoch.
        min_steps: the fewest Adam steps, whatever the number of rows.
        device: where to train (default: the features' device).
        progress: a progress bar per epoch (None: only on a terminal).

    Returns:
        :class:`ProbeResult` with ``layer="features"`` (:func:`run_probe` fills it in).

    Raises:
        InputError: features or labels of the wrong shape, NaN/inf, unlabeled
            rows (-1), or bad settings.
    """
    return _fit_classifier(
        "linear",
        lambda f, c: nn.Linear(f, c),
        train_x,
        train_y,
        test_x,
        test_y,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        val_fraction=val_fraction,
        min_steps=min_steps,
        device=device,
        progress=progress,
    )


def mlp_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    seed: int = 0,
    hidden: int = 200,
    dropout: float = 0.1,
    epochs: int = 30,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    val_fraction: float = 0.1,
    min_steps: int = 1000,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> ProbeResult:
    """The DIM paper's non-linear probe on standardized features.

    ``Linear(F, hidden) -> BatchNorm1d -> ReLU -> Dropout(dropout) -> Linear(hidden, C)``,
    trained exactly like :func:`linear_probe` (same standardization, Adam,
    epoch selection on held-out training rows, ``min_steps``).

    Args:
        train_x: (N, F) training features.
        train_y: (N,) integer labels, 0..C-1.
        test_x: (M, F) test features.
        test_y: (M,) labels.
        seed: seeds the initialisation, dropout, the held-out split and the batch order.
        hidden: hidden units (200 in the paper).
        dropout: dropout probability (0.1 in the paper).
        epochs: passes over the training rows (at least; see ``min_steps``).
        batch_size: rows per Adam step.
        lr: Adam learning rate.
        weight_decay: Adam's L2 penalty.
        val_fraction: fraction of training rows held out to choose the epoch.
        min_steps: the fewest Adam steps, whatever the number of rows.
        device: where to train (default: the features' device).
        progress: a progress bar per epoch (None: only on a terminal).

    Returns:
        :class:`ProbeResult` with ``layer="features"``.

    Raises:
        InputError: bad features, labels or settings.
    """
    _positive(hidden, "hidden", integer=True)
    if batch_size < 2:
        raise InputError(f"the mlp probe's BatchNorm needs batch_size >= 2, got {batch_size!r}")
    if not 0 <= dropout < 1:
        raise InputError(f"dropout must be in [0, 1), got {dropout!r}")

    def make(f: int, c: int) -> nn.Module:
        return nn.Sequential(
            nn.Linear(f, int(hidden)),
            nn.BatchNorm1d(int(hidden)),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(int(hidden), c),
        )

    result = _fit_classifier(
        "mlp",
        make,
        train_x,
        train_y,
        test_x,
        test_y,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        val_fraction=val_fraction,
        min_steps=min_steps,
        device=device,
        progress=progress,
    )
    result.settings = {"hidden": int(hidden), "dropout": dropout, **result.settings}
    return result


@torch.no_grad()
def knn_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    seed: int = 0,
    k: int = 200,
    temperature: float = 0.1,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> ProbeResult:
    """Weighted k-nearest-neighbour classification on cosine similarity (the InstDisc recipe).

    Features are L2-normalised; each test row's ``k`` most similar training
    rows vote for their class with weight ``exp(similarity / temperature)``;
    the class with the largest summed weight wins. Test rows are processed in
    chunks so the (chunk, N) similarity block stays near 64 MiB.
    Deterministic (``seed`` is recorded only). Cost: one (M, F) x (F, N)
    product, about 4e12 flops for 10,000 x 50,000 x 4,096 (a minute or two on
    one CPU core).

    Args:
        train_x: (N, F) training features.
        train_y: (N,) integer labels, 0..C-1.
        test_x: (M, F) test features.
        test_y: (M,) labels.
        seed: recorded in the result (nothing is random).
        k: neighbours (capped at N).
        temperature: softness of the vote weights.
        chunk_size: test rows per similarity block (default: about 2**24 / N).
        device: where to compute (default: the features' device).
        progress: a progress bar over the chunks (None: only on a terminal).

    Returns:
        :class:`ProbeResult` with ``train_accuracy=None``.

    Raises:
        InputError: bad features, labels or settings.
    """
    started = time.perf_counter()
    xtr, ytr, xte, yte, n_classes = _check_probe_data(train_x, train_y, test_x, test_y)
    _positive(k, "k", integer=True)
    _positive(temperature, "temperature")
    dev = _device(device, xtr)
    n = xtr.shape[0]
    kk = min(int(k), n)
    chunk = int(chunk_size) if chunk_size else max(1, 2**24 // n)
    _positive(chunk, "chunk_size", integer=True)
    bank = F.normalize(xtr.to(dev), dim=1)
    bank_labels = ytr.to(dev)
    correct = 0
    chunks = math.ceil(xte.shape[0] / chunk)
    with Progress(chunks, "knn probe", enabled=progress) as bar:
        for start in range(0, xte.shape[0], chunk):
            query = F.normalize(xte[start : start + chunk].to(dev), dim=1)
            sims, idx = (query @ bank.T).topk(kk, dim=1)
            weights = (sims / temperature).exp()
            votes = torch.zeros(query.shape[0], n_classes, device=dev)
            votes.scatter_add_(1, bank_labels[idx], weights)
            correct += int((votes.argmax(dim=1) == yte[start : start + chunk].to(dev)).sum())
            bar.update()
    return ProbeResult(
        accuracy=correct / xte.shape[0],
        probe="knn",
        layer="features",
        n_train=int(n),
        n_test=int(xte.shape[0]),
        seconds=time.perf_counter() - started,
        train_accuracy=None,
        n_features=int(xtr.shape[1]),
        n_classes=n_classes,
        seed=int(seed),
        settings={"k": kk, "temperature": temperature, "chunk_size": chunk},
    )


#: Probe names accepted by :func:`run_probe`, and the functions behind them.
PROBES: dict[str, Callable[..., ProbeResult]] = {
    "linear": linear_probe,
    "mlp": mlp_probe,
    "knn": knn_probe,
}


def _probe_options(probe: str) -> list[str]:
    params = inspect.signature(PROBES[probe]).parameters.values()
    return [p.name for p in params if p.kind == p.KEYWORD_ONLY and p.name != "seed"]


def _check_probe_name(probe: str, options: dict[str, Any]) -> None:
    if probe not in PROBES:
        raise InputError(f"unknown probe {probe!r}; use one of {', '.join(PROBES)}")
    allowed = _probe_options(probe)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(
            f"probe {probe!r} has no option {unknown[0]!r}; its options are {', '.join(allowed)}"
        )


def run_probe(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    probe: str = "linear",
    seed: int = 0,
    layer: str = "features",
    **options: Any,
) -> ProbeResult:
    """Fit a probe on training features and score it on test features.

    Args:
        train_features: (N, F) float features (tensor or array).
        train_labels: (N,) integer labels, 0..C-1.
        test_features: (M, F) features of the test rows.
        test_labels: (M,) labels.
        probe: a name in :data:`PROBES`: "linear", "mlp" or "knn".
        seed: seeds the probe (initialisation, held-out split, batch order).
        layer: recorded as :attr:`ProbeResult.layer`.
        **options: the probe's settings (see :func:`linear_probe`,
            :func:`mlp_probe`, :func:`knn_probe`), e.g. ``epochs=10`` or ``k=20``.

    Returns:
        The :class:`ProbeResult`.

    Raises:
        InputError: an unknown probe or option, or bad features or labels.

    Example:
        >>> x = torch.cat([torch.randn(100, 5) - 3, torch.randn(100, 5) + 3])
        >>> y = torch.arange(2).repeat_interleave(100)
        >>> run_probe(x, y, x, y, probe="knn", k=10).accuracy
        1.0
    """
    _check_probe_name(probe, options)
    result = PROBES[probe](
        train_features, train_labels, test_features, test_labels, seed=seed, **options
    )
    return replace(result, layer=layer)


# --------------------------------------------------------------------------- features


class _Flatten(nn.Module):
    """The identity encoder of :func:`pixel_features`: (B, C, H, W) -> (B, C*H*W)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


def _check_layer(layer: str) -> None:
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; use one of {', '.join(LAYERS)}")


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    dataset: ImageDataset,
    layer: str = "conv",
    batch_size: int = 500,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
) -> tuple[Tensor, Tensor]:
    """Features of every image of ``dataset`` at one layer of a frozen encoder.

    The images, in data-set order, are normalised as ``(x / 255 - mean) / std``
    (``Augment("none")``, no randomness) and encoded in eval mode without
    gradients; the encoder's train/eval mode is restored afterwards.

    Args:
        encoder: returns an :class:`~infomax.nets.EncoderOutput` (or a plain
            tensor, which is flattened and ``layer`` ignored).
        dataset: the images (C, H, W must be what the encoder takes).
        layer: "conv", "local", "fc" or "y" (see :meth:`EncoderOutput.layer`).
        batch_size: images per forward pass.
        mean: per-channel mean in [0, 1] units (default: the data set's own).
        std: per-channel standard deviation (default: the data set's own).
        device: where to run the encoder (the encoder is moved there).
        progress: a progress bar (None: only on a terminal).

    Returns:
        features: float32 (N, F) on the CPU.
        labels: int64 (N,) (-1 for unlabeled images).

    Raises:
        InputError: an unknown layer, an empty data set, or images the
            encoder cannot take.
    """
    from infomax.data import Augment

    if not isinstance(encoder, _Flatten):
        _check_layer(layer)
    _positive(batch_size, "batch_size", integer=True)
    n = len(dataset)
    if n == 0:
        raise InputError(f"{dataset.name} ({dataset.split}) has no images")
    _, h, w = dataset.image_shape
    augment = Augment(
        "none",
        size=(h, w),
        mean=dataset.mean if mean is None else mean,
        std=dataset.std if std is None else std,
    ).to(device)
    was_training = encoder.training
    encoder.to(device).eval()
    features: Tensor | None = None
    labels = torch.from_numpy(np.asarray(dataset.labels, dtype=np.int64).copy())
    loader = dataset.loader(
        min(int(batch_size), n), shuffle=False, drop_last=False, device=device, dtype=torch.uint8
    )
    try:
        with Progress(len(loader), f"features ({layer})", enabled=progress) as bar:
            row = 0
            for batch in loader:
                out = encoder(augment(batch.images))
                feats = out.flatten(1) if isinstance(out, Tensor) else out.layer(layer)
                if features is None:
                    features = torch.empty(n, feats.shape[1], dtype=torch.float32)
                features[row : row + feats.shape[0]] = feats.float().cpu()
                row += feats.shape[0]
                bar.update()
    finally:
        encoder.train(was_training)
    assert features is not None
    return features, labels


def pixel_features(
    dataset: ImageDataset,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    batch_size: int = 2000,
) -> tuple[Tensor, Tensor]:
    """Normalised raw pixels as features: float32 (N, C*H*W) and int64 labels (N,).

    Normalisation as in :func:`extract_features` (default: the data set's mean and std).
    """
    return extract_features(
        _Flatten(), dataset, layer="pixels", batch_size=batch_size, mean=mean, std=std
    )


@torch.no_grad()
def recalibrate_batchnorm(
    encoder: nn.Module,
    dataset: ImageDataset,
    batch_size: int = 500,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> int:
    """Recompute every BatchNorm's running statistics on ``dataset``; leaves the encoder in eval.

    A randomly initialised encoder's running mean and variance are 0 and 1,
    far from the statistics of its activations; evaluated as is, its
    features are badly scaled. Here each BatchNorm's statistics are reset and
    re-estimated as the plain average over full, shuffled batches of the
    whole data set (``momentum=None``, a cumulative average), with only the
    BatchNorm layers in train mode (no dropout) and no gradients. Weights are
    unchanged. The momentum of each layer is restored afterwards.

    Args:
        encoder: the encoder; moved to ``device``.
        dataset: images to compute the statistics on (the training split).
        batch_size: images per batch (capped at the data set's size).
        mean: per-channel mean for normalising (default: the data set's).
        std: per-channel standard deviation (default: the data set's).
        device: where to run.
        seed: seeds the batch order (a class-sorted order would shrink the
            per-batch variances).

    Returns:
        The number of BatchNorm layers recalibrated.
    """
    from infomax.data import Augment

    _positive(batch_size, "batch_size", integer=True)
    norms = [m for m in encoder.modules() if isinstance(m, _BATCHNORMS) and m.track_running_stats]
    encoder.to(device).eval()
    if not norms:
        return 0
    if len(dataset) < 2:
        raise InputError("recalibrating BatchNorm needs at least 2 images")
    _, h, w = dataset.image_shape
    augment = Augment(
        "none",
        size=(h, w),
        mean=dataset.mean if mean is None else mean,
        std=dataset.std if std is None else std,
    ).to(device)
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    try:
        loader = dataset.loader(
            min(int(batch_size), len(dataset)),
            shuffle=True,
            drop_last=True,
            seed=seed,
            device=device,
            dtype=torch.uint8,
        )
        for batch in loader:
            encoder(augment(batch.images))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        encoder.eval()
    return len(norms)


# --------------------------------------------------------------------------- evaluation


def _check_labeled(data: ImageDataset) -> None:
    if not data.has_labels:
        raise InputError(
            f"{data.name} ({data.split}) has no labels; probes need a labeled train and test split"
        )


def _check_splits(train_data: ImageDataset, test_data: ImageDataset) -> None:
    _check_labeled(train_data)
    _check_labeled(test_data)
    if train_data.image_shape != test_data.image_shape:
        raise InputError(
            f"the train and test images differ in shape: {train_data.image_shape} vs "
            f"{test_data.image_shape} (C, H, W)"
        )
    if train_data.classes and test_data.classes and train_data.classes != test_data.classes:
        raise InputError(
            f"the train and test splits have different classes ({len(train_data.classes)} vs "
            f"{len(test_data.classes)}: {train_data.classes[:3]} vs {test_data.classes[:3]} ...)"
        )


def _check_fits(encoder: nn.Module, data: ImageDataset) -> None:
    c, h, w = data.image_shape
    channels = getattr(encoder, "in_channels", None)
    size = getattr(encoder, "image_size", None)
    if channels is not None and int(channels) != c:
        raise InputError(
            f"the encoder takes {channels}-channel images but {data.name} ({data.split}) has "
            f"{c} channel{'s' if c != 1 else ''}"
        )
    if size is not None and tuple(size) != (h, w):
        raise InputError(
            f"the encoder takes {size[0]}x{size[1]} images but {data.name} ({data.split}) has "
            f"{h}x{w}; load it with size={tuple(size)}"
        )


def _summary_info(train_data: ImageDataset, test_data: ImageDataset) -> dict[str, Any]:
    return {
        "data": str(train_data.name),
        "split_train": train_data.split,
        "split_test": test_data.split,
        "image_shape": list(train_data.image_shape),
    }


def evaluate_encoder(
    encoder: nn.Module,
    train_data: ImageDataset,
    test_data: ImageDataset,
    probe: str = "linear",
    layer: str = "conv",
    batch_size: int = 500,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    recalibrate: bool = False,
    progress: bool | None = None,
    **probe_options: Any,
) -> ProbeResult:
    """Probe a frozen encoder: features of both splits at ``layer``, then :func:`run_probe`.

    Args:
        encoder: the encoder (its mode is restored; with ``recalibrate`` it
            is left in eval mode with new BatchNorm statistics).
        train_data: the labeled split the probe is fit on.
        test_data: the labeled split it is scored on.
        probe: "linear", "mlp" or "knn".
        layer: "conv", "local", "fc" or "y".
        batch_size: images per forward pass.
        mean: per-channel normalisation mean in [0, 1] units, used for both
            splits (default: the training split's).
        std: per-channel standard deviation (default: the training split's).
        device: where to run the encoder and the probe.
        seed: seeds the probe (and the batch order of ``recalibrate``).
        recalibrate: first recompute the BatchNorm statistics on the
            training images (:func:`recalibrate_batchnorm`), e.g. for a
            randomly initialised encoder.
        progress: progress bars (None: only on a terminal).
        **probe_options: the probe's settings (see :func:`run_probe`).

    Returns:
        The :class:`ProbeResult`; ``seconds`` covers features and probe.

    Raises:
        InputError: an unknown probe, option or layer; unlabeled data; images
            the encoder cannot take (channels or size).
    """
    started = time.perf_counter()
    _check_probe_name(probe, probe_options)
    _check_layer(layer)
    _check_splits(train_data, test_data)
    _check_fits(encoder, train_data)
    mean = train_data.mean if mean is None else mean
    std = train_data.std if std is None else std
    if recalibrate:
        recalibrate_batchnorm(encoder, train_data, batch_size, mean, std, device, seed)
    common = {"batch_size": batch_size, "mean": mean, "std": std, "device": device}
    xtr, ytr = extract_features(encoder, train_data, layer, progress=progress, **common)
    xte, yte = extract_features(encoder, test_data, layer, progress=progress, **common)
    feature_seconds = time.perf_counter() - started
    result = run_probe(
        xtr, ytr, xte, yte, probe, seed, layer, device=device, progress=progress, **probe_options
    )
    info = {
        **_summary_info(train_data, test_data),
        "encoder": type(encoder).__name__,
        "recalibrated": bool(recalibrate),
        "mean": [float(v) for v in np.atleast_1d(mean)],
        "std": [float(v) for v in np.atleast_1d(std)],
        "feature_seconds": feature_seconds,
        "probe_seconds": result.seconds,
    }
    return replace(result, seconds=time.perf_counter() - started, info=info)


def evaluate_pixels(
    train_data: ImageDataset,
    test_data: ImageDataset,
    probe: str = "linear",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    **probe_options: Any,
) -> ProbeResult:
    """The raw-pixel baseline: a probe on normalised, flattened images (C*H*W features).

    Args:
        train_data: the labeled split the probe is fit on.
        test_data: the labeled split it is scored on.
        probe: "linear", "mlp" or "knn".
        mean: per-channel mean used for both splits (default: the training split's).
        std: per-channel standard deviation (default: the training split's).
        seed: seeds the probe.
        device: where to run the probe.
        progress: progress bars (None: only on a terminal).
        **probe_options: the probe's settings.

    Returns:
        The :class:`ProbeResult` with ``layer="pixels"``.

    Raises:
        InputError: an unknown probe or option, unlabeled data, or splits of
            different image shapes.
    """
    started = time.perf_counter()
    _check_probe_name(probe, probe_options)
    _check_splits(train_data, test_data)
    mean = train_data.mean if mean is None else mean
    std = train_data.std if std is None else std
    xtr, ytr = pixel_features(train_data, mean, std)
    xte, yte = pixel_features(test_data, mean, std)
    feature_seconds = time.perf_counter() - started
    result = run_probe(
        xtr, ytr, xte, yte, probe, seed, "pixels", device=device, progress=progress,
        **probe_options,
    )  # fmt: skip
    info = {
        **_summary_info(train_data, test_data),
        "encoder": None,
        "feature_seconds": feature_seconds,
        "probe_seconds": result.seconds,
    }
    return replace(result, seconds=time.perf_counter() - started, info=info)


def _run_data_source(config: dict[str, Any], run_dir: str | os.PathLike[str]) -> str:
    data = config.get("data")
    if isinstance(data, dict):
        data = data.get("source") or data.get("name")
    if not isinstance(data, str) or not data:
        raise InputError(f"the config of {run_dir} names no data source; pass the data to probe")
    return data


def evaluate_run(
    run_dir: str | os.PathLike[str],
    data: str | os.PathLike[str] | None = None,
    probe: str = "linear",
    layer: str = "conv",
    split_train: str = "train",
    split_test: str = "test",
    batch_size: int = 500,
    device: str | torch.device = "cpu",
    seed: int = 0,
    random_init: bool = False,
    pixels: bool = False,
    progress: bool | None = None,
    **probe_options: Any,
) -> ProbeResult:
    """Probe the encoder of a training run folder on a data set's train and test splits.

    The splits are loaded with ``load_dataset(data, split, size=<the run's
    image_size>)`` and normalised with the run's ``mean`` and ``std`` (those
    the encoder was trained with).

    Args:
        run_dir: the run folder (``config.json`` and ``checkpoint.pt``).
        data: a data source for :func:`~infomax.data.load_dataset` (default:
            the run config's ``data``).
        probe: "linear", "mlp" or "knn".
        layer: "conv", "local", "fc" or "y".
        split_train: the split the probe is fit on.
        split_test: the split it is scored on.
        batch_size: images per forward pass.
        device: where to run the encoder and the probe.
        seed: seeds the probe and, with ``random_init``, the encoder's initialisation.
        random_init: probe a randomly initialised encoder of the run's
            architecture instead of the trained one (the checkpoint is not
            read), with its BatchNorm statistics recomputed on the training
            images (:func:`recalibrate_batchnorm`): the usual baseline.
        pixels: probe the normalised raw pixels instead (the raw-pixel
            baseline at the run's image size; the checkpoint is not read).
        progress: progress bars (None: only on a terminal).
        **probe_options: the probe's settings (see :func:`run_probe`).

    Returns:
        The :class:`ProbeResult`; ``info`` names the run folder and the data.

    Raises:
        CheckpointError: a missing or bad run folder or checkpoint.
        InputError: an unknown probe, option or layer; unlabeled data; data
            whose channels do not fit the encoder.
        DataError: data that cannot be loaded (or lacks a split).
    """
    from infomax.checkpoint import build_encoder, load_encoder, read_config
    from infomax.data import load_dataset

    _check_probe_name(probe, probe_options)
    if not pixels:
        _check_layer(layer)
    config = read_config(run_dir)
    if pixels or random_init:
        encoder = None
    else:
        encoder, config = load_encoder(run_dir, map_location=device)
    source = os.fspath(data) if data is not None else _run_data_source(config, run_dir)
    size = tuple(int(s) for s in config["image_size"])
    train_data = load_dataset(source, split_train, size=size)
    test_data = load_dataset(source, split_test, size=size)
    _check_splits(train_data, test_data)
    channels = int(config["in_channels"])
    if train_data.image_shape[0] != channels:
        raise InputError(
            f"the run's encoder takes {channels}-channel images but {source} "
            f"({split_train}) has {train_data.image_shape[0]}"
        )
    mean = config.get("mean") or train_data.mean
    std = config.get("std") or train_data.std
    options = {"seed": seed, "progress": progress, **probe_options}
    if pixels:
        result = evaluate_pixels(train_data, test_data, probe, mean, std, device=device, **options)
    else:
        if encoder is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                encoder = build_encoder(config)
        result = evaluate_encoder(
            encoder, train_data, test_data, probe, layer, batch_size, mean, std, device,
            recalibrate=random_init, **options,
        )  # fmt: skip
    result.info = {
        "run_dir": os.fspath(run_dir),
        "method": config.get("method"),
        "encoder_name": config.get("encoder"),
        "random_init": bool(random_init and not pixels),
        "pixels": bool(pixels),
        **result.info,
        "data": source,
    }
    return result


# --------------------------------------------------------------------------- measures


def _shuffle_columns(y: Tensor, generator: torch.Generator) -> Tensor:
    """``y`` (B, D) with each column permuted independently across the rows."""
    order = torch.rand(y.shape, generator=generator).argsort(dim=0)
    return y.gather(0, order.to(y.device))


def neural_dependency_measure(
    y: Any,
    *,
    steps: int = 1000,
    batch_size: int = 256,
    hidden: int = 256,
    lr: float = 1e-3,
    heldout: float = 0.3,
    shuffles: int = 10,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> float:
    """The DIM paper's neural dependency measure (NDM) of a representation, in nats.

    NDM is ``KL(p(y) || prod_d p(y_d))``, the total correlation of the
    representation's coordinates: 0 when they are independent, larger the
    more they depend on each other. It is estimated as in Hjelm et al. (2019,
    section 4): a discriminator ``T`` (an MLP with two hidden layers of
    ``hidden`` ReLU units) learns to tell rows of ``y`` from rows of a copy
    whose every column is shuffled independently across the batch (a sample
    of the product of the marginals), trained with the logistic
    (Jensen-Shannon) loss, whose optimum ``T`` is the log density ratio. The
    estimate is the Donsker-Varadhan bound read out on held-out rows never
    used in training::

        NDM = mean_i T(y_i) - log mean_j exp T(y~_j)

    with ``y~`` ``shuffles`` column-shuffled copies of the held-out rows. It
    is a lower bound on the KL (up to noise): about 0, possibly slightly
    negative, for independent coordinates. Columns are standardized with the
    training rows' statistics first (KL is invariant to that).

    Args:
        y: (N, D) representation, D >= 2 (tensor or array).
        steps: Adam steps of the discriminator.
        batch_size: rows per step (and as many shuffled rows).
        hidden: width of the discriminator's hidden layers.
        lr: Adam learning rate.
        heldout: fraction of rows held out for the read-out.
        shuffles: column-shuffled copies of the held-out rows in the read-out.
        seed: seeds the split, the discriminator and the shuffles.
        device: where to train (default: ``y``'s device).

    Returns:
        The NDM estimate in nats.

    Raises:
        InputError: fewer than 2 columns, too few rows, NaN/inf, or bad settings.
    """
    x = _as_features(y, "y")
    n, d = x.shape
    if d < 2:
        raise InputError(f"NDM needs a representation of at least 2 columns, got {d}")
    _positive(steps, "steps", integer=True)
    _positive(batch_size, "batch_size", integer=True)
    _positive(hidden, "hidden", integer=True)
    _positive(shuffles, "shuffles", integer=True)
    if not 0 < heldout < 1:
        raise InputError(f"heldout must be in (0, 1), got {heldout!r}")
    n_held = int(round(n * heldout))
    if n_held < 10 or n - n_held < 10:
        raise InputError(
            f"NDM needs at least 10 training and 10 held-out rows; got {n} rows with "
            f"heldout={heldout}"
        )
    dev = _device(device, x)
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator)
    train, held = x[order[n_held:]], x[order[:n_held]]
    mean, std = _feature_stats(train)
    train = ((train - mean) / std).to(dev)
    held = ((held - mean) / std).to(dev)
    batch = min(int(batch_size), train.shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        critic = nn.Sequential(
            nn.Linear(d, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        ).to(dev)
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    for _ in range(int(steps)):
        rows = torch.randint(train.shape[0], (batch,), generator=generator).to(dev)
        joint = train[rows]
        marginal = _shuffle_columns(joint, generator)
        loss = F.softplus(-critic(joint)).mean() + F.softplus(critic(marginal)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        positive = critic(held).mean()
        negative = torch.cat(
            [critic(_shuffle_columns(held, generator)).flatten() for _ in range(int(shuffles))]
        )
        log_mean_exp = torch.logsumexp(negative, dim=0) - math.log(negative.numel())
    return float(positive - log_mean_exp)


def representation_mi(
    images_flat: Any,
    y: Any,
    *,
    components: int = 64,
    y_components: int | None = None,
    seed: int = 0,
    **estimate_options: Any,
) -> MIEstimate:
    """A lower-bound estimate of I(X; E(X)) between images and their representation, nats.

    The images are reduced to their first ``components`` principal components
    (``torch.pca_lowrank``, centred) and :func:`infomax.estimate_mi` estimates
    the MI between those and ``y``. The number is a lower bound on
    I(X; E(X)) twice over: the PCA is a function of X, so by the data
    processing inequality I(PCA(X); Y) <= I(X; Y), and the estimator itself
    reports a variational lower bound on held-out rows. For a deterministic
    encoder of continuous images the true value is unbounded; what this
    measures is how much of the images' dominant variation the
    representation keeps, as far as the critic can tell from N samples.

    Constant columns of ``y`` (e.g. dead ReLU units) are dropped first.

    Args:
        images_flat: (N, P) flattened, normalised images (or (N, C, H, W),
            flattened here).
        y: (N, D) their representations.
        components: principal components of the images kept (capped at N and P).
        y_components: if given, ``y`` is PCA-reduced to this many components
            too (useful for wide layers such as the 4,096 conv features).
        seed: seeds the PCA's random projection and the estimator.
        **estimate_options: passed to :func:`infomax.estimate_mi` (``steps``,
            ``batch_size``, ``bound``, ...); the default ``batch_size`` of 512
            needs about 2,200 rows.

    Returns:
        The :class:`~infomax.result.MIEstimate`; ``info`` also holds
        ``pca_components`` and ``explained_variance`` (fraction of the
        images' variance the components keep).

    Raises:
        InputError: mismatched rows, NaN/inf, a constant ``y``, or the
            estimator's own checks (too few rows, ...).
    """
    from infomax.estimate import estimate_mi

    x = torch.as_tensor(images_flat)
    if x.ndim > 2:
        x = x.flatten(1)
    x = _as_features(x, "images_flat")
    z = _as_features(y, "y")
    if x.shape[0] != z.shape[0]:
        raise InputError(
            f"images_flat and y must have the same number of rows: {x.shape[0]} vs {z.shape[0]}"
        )
    _positive(components, "components", integer=True)
    keep = z.std(dim=0) > 0
    if not bool(keep.any()):
        raise InputError("every column of y is constant; it carries no information")
    z = z[:, keep]
    x_pca, explained = _pca(x, components, seed)
    if y_components is not None:
        _positive(y_components, "y_components", integer=True)
        z, _ = _pca(z, y_components, seed)
    result = estimate_mi(x_pca.numpy(), z.numpy(), seed=seed, **estimate_options)
    result.info["pca_components"] = int(x_pca.shape[1])
    result.info["explained_variance"] = explained
    result.info["y_columns"] = int(z.shape[1])
    return result


def _pca(x: Tensor, components: int, seed: int) -> tuple[Tensor, float]:
    """Scores of ``x`` (N, P) on its first ``q`` principal components, and their variance share."""
    q = min(int(components), x.shape[0], x.shape[1])
    centred = x - x.mean(dim=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        _, _, v = torch.pca_lowrank(centred, q=q, center=False, niter=4)
    scores = centred @ v[:, :q]
    total = float(centred.square().sum())
    explained = float(scores.square().sum()) / total if total > 0 else 0.0
    return scores.contiguous(), explained


# --------------------------------------------------------------------------- reporting


def format_probe(result: ProbeResult) -> str:
    """One line for people, e.g. ``linear probe on conv: 64.0% test accuracy (train 70.0%),
    50000 train / 10000 test, 63.1 s``."""
    train = (
        f" (train {100 * result.train_accuracy:.2f}%)" if result.train_accuracy is not None else ""
    )
    what = "random-init " if result.info.get("random_init") else ""
    return (
        f"{result.probe} probe on {what}{result.layer}: {100 * result.accuracy:.2f}% test "
        f"accuracy{train}, {result.n_train} train / {result.n_test} test, {result.seconds:.1f} s"
    )


def probe_to_json(result: ProbeResult) -> dict[str, Any]:
    """A JSON-ready dict of every field of ``result`` (``accuracy``, ``probe``, ``layer``,
    ``n_train``, ``n_test``, ``seconds``, ``train_accuracy``, ``settings``, ``info``, ...)."""
    out = asdict(result)
    return _jsonable(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, Tensor):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

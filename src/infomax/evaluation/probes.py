"""Frozen-feature probes: linear, the DIM paper's MLP, weighted kNN, and :func:`run_probe`.

=========  ==================================================================
probe      what it is
=========  ==================================================================
linear     multinomial logistic regression on standardized features (Adam)
mlp        DIM's probe: Linear(F, 200), BatchNorm, ReLU, Dropout(0.1), Linear
knn        weighted 200-nearest neighbours on cosine similarity (InstDisc)
=========  ==================================================================
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomax.evaluation.checks import check_positive, check_probe_data, pick_device
from infomax.evaluation.classifier import ProbeTraining, fit_classifier
from infomax.evaluation.result import ProbeResult
from infomax.progress import Progress
from infomax.validation import InputError

__all__ = ["PROBES", "check_probe_name", "knn_probe", "linear_probe", "mlp_probe", "run_probe"]


def linear_probe(
    train_x: Any, train_y: Any, test_x: Any, test_y: Any, **options: Any
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
    6 steps for the 1,437 digits).

    Args:
        train_x: (N, F) training features (tensor or array).
        train_y: (N,) integer labels, 0..C-1.
        test_x: (M, F) test features.
        test_y: (M,) labels.
        **options: ``seed`` (0: seeds the initialisation, dropout, the held-out
            split and the batch order), ``device`` (where to train; default: the
            features' device), ``progress`` (a progress bar per epoch; None: only on
            a terminal), and the training settings of
            :class:`~infomax.evaluation.classifier.ProbeTraining`: ``epochs``,
            ``batch_size``, ``lr``, ``weight_decay``, ``val_fraction``, ``min_steps``.

    Returns:
        :class:`ProbeResult` with ``layer="features"`` (:func:`run_probe` fills it in).

    Raises:
        InputError: features or labels of the wrong shape, NaN/inf, unlabeled
            rows (-1), or bad settings.
    """
    return fit_classifier("linear", nn.Linear, train_x, train_y, test_x, test_y, **options)


def mlp_probe(
    train_x: Any,
    train_y: Any,
    test_x: Any,
    test_y: Any,
    *,
    hidden: int = 200,
    dropout: float = 0.1,
    **options: Any,
) -> ProbeResult:
    """The DIM paper's non-linear probe on standardized features.

    ``Linear(F, hidden) -> BatchNorm1d -> ReLU -> Dropout(dropout) -> Linear(hidden, C)``,
    trained exactly like :func:`linear_probe` (same standardization, Adam,
    epoch selection on held-out training rows, ``min_steps``).

    Args:
        train_x, train_y, test_x, test_y: as for :func:`linear_probe`.
        hidden: hidden units (200 in the paper).
        dropout: dropout probability (0.1 in the paper).
        **options: :func:`linear_probe`'s options (``seed``, ``device``,
            ``progress`` and the training settings).

    Returns:
        :class:`ProbeResult` with ``layer="features"``.

    Raises:
        InputError: bad features, labels or settings.
    """
    check_positive(hidden, "hidden", integer=True)
    batch_size = options.get("batch_size", ProbeTraining.batch_size)
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

    result = fit_classifier("mlp", make, train_x, train_y, test_x, test_y, **options)
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
    product, about 4e12 flops for 10,000 x 50,000 x 4,096.

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
    xtr, ytr, xte, yte, n_classes = check_probe_data(train_x, train_y, test_x, test_y)
    check_positive(k, "k", integer=True)
    check_positive(temperature, "temperature")
    dev = pick_device(device, xtr)
    n = xtr.shape[0]
    kk = min(int(k), n)
    chunk = int(chunk_size) if chunk_size else max(1, 2**24 // n)
    check_positive(chunk, "chunk_size", integer=True)
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
    """A probe's options: its own, the training settings if it trains, where it runs."""
    params = list(inspect.signature(PROBES[probe]).parameters.values())
    if params[-1].kind == params[-1].VAR_KEYWORD:  # a classifier probe: fit_classifier's too
        params += inspect.signature(fit_classifier).parameters.values()
    own = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    trains = any(p.kind == p.VAR_KEYWORD for p in params)
    run = ("device", "progress")
    return [
        *(name for name in own if name not in ("seed", *run)),
        *(ProbeTraining.options() if trains else ()),
        *run,
    ]


def check_probe_name(probe: str, options: dict[str, Any]) -> None:
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
    check_probe_name(probe, options)
    result = PROBES[probe](
        train_features, train_labels, test_features, test_labels, seed=seed, **options
    )
    return replace(result, layer=layer)

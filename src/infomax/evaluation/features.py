"""Features of a frozen encoder (or raw pixels) for every image of a data set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from infomax.evaluation.checks import check_positive
from infomax.nets.base import LAYERS
from infomax.progress import Progress
from infomax.validation import InputError

if TYPE_CHECKING:
    from infomax.data import ImageDataset

__all__ = ["check_layer", "extract_features", "pixel_features", "recalibrate_batchnorm"]

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class _Flatten(nn.Module):
    """The identity encoder of :func:`pixel_features`: (B, C, H, W) -> (B, C*H*W)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


def _normalise(
    dataset: ImageDataset,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    device: str | torch.device,
) -> nn.Module:
    """``uint8 (B, C, H, W) -> (x / 255 - mean) / std``, no randomness (the data set's own
    mean and std where none are given)."""
    from infomax.data import Augment

    _, h, w = dataset.image_shape
    return Augment(
        "none",
        size=(h, w),
        mean=dataset.mean if mean is None else mean,
        std=dataset.std if std is None else std,
    ).to(device)


def check_layer(layer: str) -> None:
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
    if not isinstance(encoder, _Flatten):
        check_layer(layer)
    check_positive(batch_size, "batch_size", integer=True)
    n = len(dataset)
    if n == 0:
        raise InputError(f"{dataset.name} ({dataset.split}) has no images")
    augment = _normalise(dataset, mean, std, device)
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
    check_positive(batch_size, "batch_size", integer=True)
    norms = [m for m in encoder.modules() if isinstance(m, _BATCHNORMS) and m.track_running_stats]
    encoder.to(device).eval()
    if not norms:
        return 0
    if len(dataset) < 2:
        raise InputError("recalibrating BatchNorm needs at least 2 images")
    augment = _normalise(dataset, mean, std, device)
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

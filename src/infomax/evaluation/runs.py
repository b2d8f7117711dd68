"""Probe an encoder, a run folder's encoder, or raw pixels on a train and a test split."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from infomax.evaluation.features import (
    check_layer,
    extract_features,
    pixel_features,
    recalibrate_batchnorm,
)
from infomax.evaluation.probes import check_probe_name, run_probe
from infomax.evaluation.result import ProbeResult
from infomax.validation import InputError, heldout_count

if TYPE_CHECKING:
    from infomax.data import ImageDataset

__all__ = ["evaluate_encoder", "evaluate_pixels", "evaluate_run", "load_splits", "split_rows"]


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
    check_probe_name(probe, probe_options)
    check_layer(layer)
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
    check_probe_name(probe, probe_options)
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


def split_rows(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint train and test row indices of ``n`` rows: a seeded shuffle, then a cut.

    Args:
        n: rows.
        test_fraction: the share of rows in the test part, in (0, 1).
        seed: seeds the shuffle (the same seed, the same split).

    Returns:
        train_rows, test_rows: sorted int64 indices; together every row once.

    Raises:
        InputError: a fraction outside (0, 1), or one that leaves either part
            with fewer than 2 rows.
    """
    n_test = heldout_count(
        n, test_fraction, name="test_fraction", minimum=2, parts=("test", "training"),
        unit="images",
    )  # fmt: skip
    order = np.random.default_rng([int(seed), 0x7E57]).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def load_splits(
    source: str,
    size: tuple[int, int] | None,
    split_train: str = "train",
    split_test: str = "test",
    test_fraction: float | None = None,
    seed: int = 0,
) -> tuple[ImageDataset, ImageDataset]:
    """The probe's training and test images of ``source``.

    With ``test_fraction``, both come from ``split_train`` (e.g. a flat
    ``root/<class>/`` folder, which has no test split): a seeded share of its
    images is the test part (:func:`split_rows`), the rest the training part.

    Raises:
        DataError: data that cannot be loaded, or a missing test split (the
            message suggests ``test_fraction``).
    """
    from infomax.data import DataError, load_dataset

    train_data = load_dataset(source, split_train, size=size)
    if test_fraction is None:
        try:
            return train_data, load_dataset(source, split_test, size=size)
        except DataError as exc:
            if f"no {split_test!r} split" not in str(exc):
                raise
            raise DataError(
                f"{exc}; to hold out a seeded share of its images as the test split, pass "
                "test_fraction (infomax eval --test-fraction 0.2)"
            ) from None
    train_rows, test_rows = split_rows(len(train_data), test_fraction, seed)
    tag = f"{split_train}[{test_fraction:g} held out, seed {seed}]"
    return (
        replace(train_data, images=train_data.images[train_rows],
                labels=train_data.labels[train_rows], split=f"{tag} train"),
        replace(train_data, images=train_data.images[test_rows],
                labels=train_data.labels[test_rows], split=f"{tag} test"),
    )  # fmt: skip


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
    test_fraction: float | None = None,
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
        test_fraction: for data without a test split (a flat ``root/<class>/``
            folder): hold out this share of ``split_train``'s images, chosen
            by ``seed``, as the test split; the probe is fit on the rest
            (see :func:`load_splits`).
        **probe_options: the probe's settings (see :func:`run_probe`).

    Returns:
        The :class:`ProbeResult`; ``info`` names the run folder and the data.

    Raises:
        CheckpointError: a missing or bad run folder or checkpoint.
        InputError: an unknown probe, option or layer; unlabeled data; data
            whose channels do not fit the encoder.
        DataError: data that cannot be loaded (or lacks a split).
    """
    from infomax.distributed import check_device
    from infomax.train.run_folder import build_encoder, load_encoder, read_run_config

    check_probe_name(probe, probe_options)
    if not pixels:
        check_layer(layer)
    check_device(device)
    config = read_run_config(run_dir)
    if config.image_size is None or config.in_channels is None:
        raise InputError(
            f"{run_dir} trained {config.method!r} on sequences; eval probes image encoders"
        )
    if pixels or random_init:
        encoder = None
    else:
        encoder, config = load_encoder(run_dir, map_location=device)
    source = os.fspath(data) if data is not None else config.data
    size = (int(config.image_size[0]), int(config.image_size[1]))
    train_data, test_data = load_splits(source, size, split_train, split_test, test_fraction, seed)
    _check_splits(train_data, test_data)
    channels = int(config.in_channels)
    if train_data.image_shape[0] != channels:
        raise InputError(
            f"the run's encoder takes {channels}-channel images but {source} "
            f"({split_train}) has {train_data.image_shape[0]}"
        )
    mean = config.mean or train_data.mean
    std = config.std or train_data.std
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
        "method": config.method,
        "encoder_name": config.encoder,
        "random_init": bool(random_init and not pixels),
        "pixels": bool(pixels),
        **result.info,
        "data": source,
        "test_fraction": test_fraction,
    }
    return result

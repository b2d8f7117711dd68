"""The DIM paper's representation measures of a training run folder's encoder."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import torch

from infomax.evaluation.features import extract_features, pixel_features
from infomax.evaluation.measures import neural_dependency_measure, representation_mi
from infomax.evaluation.runs import load_splits

__all__ = ["RepresentationMeasures", "measure_run"]


@dataclass(frozen=True)
class RepresentationMeasures:
    """Measures of a representation ``y = E(x)`` on ``n`` images.

    Attributes:
        mi: InfoNCE lower bound on I(X; E(X)), nats, with the images reduced to
            ``mi_components`` principal components.
        mi_stderr: its standard error over held-out batches, nats (NaN with one batch).
        mi_components: principal components of the images kept.
        ndm: the neural dependency measure of ``y``, nats.
        n: images measured.
    """

    mi: float
    mi_stderr: float
    mi_components: int
    ndm: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        """The measures as a plain dict of the attributes above (for JSON)."""
        return asdict(self)


def measure_run(
    run_dir: str | os.PathLike[str],
    data: str | None = None,
    *,
    random_init: bool = False,
    seed: int = 0,
    device: str = "cpu",
    test_fraction: float | None = None,
    components: int = 64,
    progress: bool | None = None,
) -> RepresentationMeasures:
    """I(X; E(X)) and the NDM of the run's output ``y`` on its data's training split.

    The training split, because the measures describe the representation and the
    estimator wants samples. I(X; E(X)) is InfoNCE's bound (capped at the log of its
    evaluation batch, but stable, where DV-type read-outs of a deterministic map swing
    by nats on a few thousand images) between the images' first ``components``
    principal components and ``y`` (:func:`representation_mi`).

    Args:
        run_dir: a run folder written by ``infomax train`` (an image encoder).
        data: the data source (default: the run's).
        random_init: measure a randomly initialised encoder of the run's shape,
            seeded by ``seed`` through torch's global generator (the checkpoint is not read).
        seed: seeds the split, the PCA, the estimator and the NDM.
        device: where to run the encoder.
        test_fraction: for data without a test split: the share held out (and not measured),
            as :func:`load_splits` chooses it.
        components: principal components of the images kept for I(X; E(X)).
        progress: progress bars (None: only on a terminal).

    Returns:
        The :class:`RepresentationMeasures`.

    Raises:
        CheckpointError: a missing or bad run folder or checkpoint.
        InputError: a run trained on sequences, or bad data for the estimator.
        DataError: data that cannot be loaded.
    """
    from infomax.train.run_folder import build_encoder, load_encoder, read_run_config
    from infomax.validation import InputError

    if random_init:
        config = read_run_config(run_dir)
        torch.manual_seed(seed)
        encoder = build_encoder(config).eval()
    else:
        encoder, config = load_encoder(run_dir, map_location=device)
    if config.image_size is None:
        raise InputError(f"{run_dir} trained {config.method!r} on sequences; it has no images")
    images, _ = load_splits(
        data or config.data, (config.image_size[0], config.image_size[1]),
        test_fraction=test_fraction, seed=seed,
    )  # fmt: skip
    y, _ = extract_features(
        encoder, images, "y", mean=config.mean, std=config.std, device=device, progress=progress
    )
    pixels, _ = pixel_features(images, mean=config.mean, std=config.std)
    batch = max(16, min(512, len(y) // 10))
    estimate = representation_mi(
        pixels, y, components=components, seed=seed, batch_size=batch, bound="infonce",
        progress=progress,
    )  # fmt: skip
    return RepresentationMeasures(
        mi=estimate.mi,
        mi_stderr=estimate.stderr,
        mi_components=components,
        ndm=neural_dependency_measure(y, seed=seed),
        n=len(y),
    )

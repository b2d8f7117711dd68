"""The data-dependent parts of a run: the data, the method around its encoder, the loader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from infomax.distributed import World
from infomax.train.config import TrainConfig
from infomax.train.run_folder import RunConfig, build_encoder
from infomax.validation import InputError

__all__ = ["Setup", "setup_run"]


@dataclass
class Setup:
    """What :func:`setup_run` builds.

    Attributes:
        method: the method module (encoder inside).
        loader: ``loader(device, world)`` -> a loader with ``len()`` and
            ``epoch(epoch, start)``.
        num_classes: label classes (0: unlabeled, no online probe).
        probe_features: width of the features the online probe reads.
        run_config: what ``config.json`` records.
    """

    method: Any
    loader: Any
    num_classes: int
    probe_features: int
    run_config: RunConfig


def setup_run(config: TrainConfig, world_size: int, progress: bool | None) -> Setup:
    """Load the data of ``config`` and build its method (images, or "cpc-seq" sequences)."""
    if config.method == "cpc-seq":
        return _setup_sequences(config, world_size)
    return _setup_images(config, world_size, progress)


def _setup_images(config: TrainConfig, world_size: int, progress: bool | None) -> Setup:
    from infomax.data import load_dataset
    from infomax.methods import METHOD_ENCODERS, make_method

    dataset = load_dataset(config.data, "train", size=config.image_size, progress=progress)
    channels, height, width = dataset.image_shape
    run_config = RunConfig(
        method=config.method,
        data=config.data,
        encoder=config.encoder or METHOD_ENCODERS.get(config.method, "dim-conv"),
        train=config,
        out_dim=config.out_dim,
        encoder_options=config.encoder_options,
        in_channels=channels,
        image_size=[height, width],
        mean=[float(v) for v in dataset.mean],
        std=[float(v) for v in dataset.std],
        classes=list(dataset.classes),
        num_images=len(dataset),
        world_size=world_size,
    )
    encoder = build_encoder(run_config)
    method = make_method(
        config.method, encoder, image_size=(height, width), mean=dataset.mean, std=dataset.std,
        augment=config.augment, **config.method_options,
    )  # fmt: skip
    with torch.no_grad():
        encoder.eval()
        probe_features = encoder(torch.zeros(1, channels, height, width)).layer(method.probe_layer)
        encoder.train()

    def loader(device: torch.device, world: World) -> Any:
        return dataset.loader(
            config.batch_size // world.world_size, shuffle=True, drop_last=True,
            seed=config.seed, device=device, dtype=torch.uint8, rank=world.rank,
            world_size=world.world_size,
        )  # fmt: skip

    classes = dataset.num_classes if dataset.has_labels else 0
    return Setup(method, loader, classes, int(probe_features.shape[1]), run_config)


def _setup_sequences(config: TrainConfig, world_size: int) -> Setup:
    from infomax.data.sequences import load_sequences
    from infomax.methods import check_option_types
    from infomax.methods.cpc import CPCSequence

    data = load_sequences(config.data, seed=config.seed)
    known = {"hidden", "z_dim", "context_dim", "steps"}
    unknown = sorted(set(config.method_options) - known)
    if unknown:
        raise InputError(
            f"method 'cpc-seq' has no option {unknown[0]!r}; its options are "
            f"{', '.join(sorted(known))}"
        )
    check_option_types("method 'cpc-seq'", CPCSequence.__init__, config.method_options)
    method = CPCSequence(data.input_dim, **config.method_options)
    context_dim = int(method.gru.hidden_size)

    def loader(device: torch.device, world: World) -> Any:
        return data.loader(
            config.batch_size // world.world_size, shuffle=True, seed=config.seed, device=device,
            rank=world.rank, world_size=world.world_size,
        )  # fmt: skip

    run_config = RunConfig(
        method=config.method,
        data=config.data,
        encoder="cpc-seq",
        train=config,
        input_dim=int(data.input_dim),
        length=int(data.x.shape[1]),
        num_sequences=len(data),
        num_classes=int(data.num_classes),
        world_size=world_size,
    )
    classes = data.num_classes if data.has_labels else 0
    return Setup(method, loader, classes, context_dim, run_config)

"""The run folder's ``config.json``: a typed, versioned :class:`RunConfig`, read and written here.

A training run writes into one folder::

    RUN_DIR/config.json       RunConfig: what was trained (method, data, encoder, settings)
    RUN_DIR/checkpoint.pt     the latest state (weights, optimisers, RNG, step): infomax.checkpoint
    RUN_DIR/metrics.jsonl     one JSON object per logged step
    RUN_DIR/summary.json      what the last invocation did (steps, time, why it stopped)
    RUN_DIR/tensorboard/      the same metrics for TensorBoard (when installed)

:func:`read_run_config` is the only reader of ``config.json`` and
:func:`write_run_config` the only writer. Files of older versions are
brought up to date by :func:`migrate_run_config`, one explicit step per
version:

=======  ==============================================================
version  what changed
=======  ==============================================================
(none)   the first files: no ``version``; ``data`` sometimes a dict
         ``{"source": ..., "name": ...}``; relative data paths
2        ``version`` recorded; ``data`` always a string, absolute when
         it names a path; ``train.wall_minutes``
=======  ==============================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infomax.checkpoint import CheckpointError, load_checkpoint
from infomax.jsonable import write_json_atomic
from infomax.train.config import TrainConfig
from infomax.validation import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "RUN_CONFIG_VERSION",
    "RunConfig",
    "build_encoder",
    "load_encoder",
    "migrate_run_config",
    "read_run_config",
    "write_run_config",
]

#: The version of ``config.json`` this code writes.
RUN_CONFIG_VERSION = 2


@dataclass
class RunConfig:
    """The schema of ``config.json``: the settings and what training found out about the data.

    Attributes:
        method: the method's name (``train.method``).
        data: the data source (``train.data``; absolute when it is a path).
        encoder: the encoder's name ("cpc-seq" for sequences).
        train: the settings the run was started (or last resumed) with.
        out_dim: size of the encoder's output ``y``.
        encoder_options: keyword arguments of the encoder.
        in_channels: image channels (None for sequences).
        image_size: [height, width] of the images the encoder takes.
        mean: per-channel mean of the training images, in [0, 1] units.
        std: per-channel standard deviation.
        classes: class names (empty when unlabeled).
        num_images: training images.
        input_dim: sequences: features per time step.
        length: sequences: time steps.
        num_sequences: sequences: how many.
        num_classes: sequences: label classes (0 when unlabeled).
        world_size: processes that trained it.
        version: :data:`RUN_CONFIG_VERSION` for files written now.
    """

    method: str
    data: str
    encoder: str
    train: TrainConfig
    out_dim: int = 64
    encoder_options: dict[str, Any] = field(default_factory=dict)
    in_channels: int | None = None
    image_size: list[int] | None = None
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    num_images: int | None = None
    input_dim: int | None = None
    length: int | None = None
    num_sequences: int | None = None
    num_classes: int | None = None
    world_size: int = 1
    version: int = RUN_CONFIG_VERSION

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` object."""
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> RunConfig:
        """A :class:`RunConfig` from a ``config.json`` object of the current version.

        Raises:
            InputError: a missing or unknown key, or a value of the wrong type.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InputError(f"unknown key {unknown[0]!r}")
        missing = [name for name in ("method", "data", "encoder", "train") if name not in value]
        if missing:
            raise InputError(f"no {missing[0]!r}")
        if not isinstance(value["train"], dict):
            raise InputError("'train' is not an object")
        try:
            config = cls(**{**value, "train": TrainConfig.from_json(value["train"])})
        except TypeError as exc:
            raise InputError(str(exc)) from None
        for name, kind in (("method", str), ("data", str), ("encoder", str), ("version", int)):
            if not isinstance(getattr(config, name), kind):
                raise InputError(f"{name!r} must be a {kind.__name__}")
        return config


def migrate_run_config(value: dict[str, Any]) -> dict[str, Any]:
    """A ``config.json`` object of any version, brought to :data:`RUN_CONFIG_VERSION`.

    Raises:
        InputError: a version newer than this code knows, or not an object.
    """
    if not isinstance(value, dict):
        raise InputError("it is not a JSON object")
    value = dict(value)
    version = value.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise InputError(f"unknown version {version!r}")
    if version > RUN_CONFIG_VERSION:
        raise InputError(
            f"it was written by a newer infomax (config version {version}, this one reads up "
            f"to {RUN_CONFIG_VERSION}); upgrade infomax"
        )
    if version == 1:
        data = value.get("data")
        if isinstance(data, dict):
            data = data.get("source") or data.get("name")
        value["data"] = data
        train = dict(value.get("train") or {"method": value.get("method"), "data": data})
        train["data"] = data
        value["train"] = train
        value["version"] = 2
    return value


def read_run_config(run_dir: str | os.PathLike[str]) -> RunConfig:
    """The :class:`RunConfig` of a run folder (older files migrated).

    Raises:
        CheckpointError: no such folder, no ``config.json``, or one that is not
            valid JSON or not a run config (the file named, with the fault).
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise CheckpointError(f"no run folder at {run}")
    path = run / "config.json"
    if not path.is_file():
        raise CheckpointError(
            f"{run} is not a run folder: it has no config.json (train into it with "
            "infomax train --out, or pass the folder infomax train wrote)"
        )
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "repair it or train into a new folder"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is unreadable: {exc}") from None
    try:
        return RunConfig.from_json(migrate_run_config(raw))
    except InputError as exc:
        raise CheckpointError(f"{path} is not an infomax run config: {exc}") from None


def write_run_config(run_dir: str | os.PathLike[str], config: RunConfig) -> Path:
    """Write ``config`` to ``run_dir/config.json`` atomically; returns the path."""
    return write_json_atomic(Path(run_dir) / "config.json", config.to_json())


def build_encoder(config: RunConfig) -> nn.Module:
    """A fresh (randomly initialised) encoder as described by a run config."""
    from infomax.nets import make_encoder

    if config.in_channels is None or config.image_size is None:
        raise CheckpointError(
            f"the run trained {config.encoder!r}, which has no image encoder to build"
        )
    return make_encoder(
        config.encoder,
        in_channels=int(config.in_channels),
        image_size=(int(config.image_size[0]), int(config.image_size[1])),
        out_dim=int(config.out_dim),
        **config.encoder_options,
    )


def load_encoder(
    run_dir: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, RunConfig]:
    """The trained encoder of a run folder, in eval mode, and the run's config.

    The weights are those of the method module's ``encoder.`` prefix in
    ``checkpoint.pt``.

    Raises:
        CheckpointError: a missing or bad run folder or checkpoint, or weights
            that do not fit the encoder the config describes.
    """
    config = read_run_config(run_dir)
    state = load_checkpoint(Path(run_dir) / "checkpoint.pt", map_location=map_location)
    weights = {
        key.removeprefix("encoder."): value
        for key, value in state.get("model", {}).items()
        if key.startswith("encoder.")
    }
    encoder = build_encoder(config)
    try:
        encoder.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"the checkpoint in {run_dir} does not fit its config's encoder: {first}"
        ) from None
    return encoder.to(map_location).eval(), config

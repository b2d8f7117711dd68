"""What a training run is asked to do: :class:`TrainConfig`, its checks, and resume rules."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from infomax.validation import InputError

__all__ = ["MAY_DIFFER_ON_RESUME", "TrainConfig", "merge_for_resume", "resolve_data"]

#: Settings a resumed run may change: budgets, logging and where it runs. Anything
#: else would train a different model than the checkpoint holds.
MAY_DIFFER_ON_RESUME = frozenset(
    {
        "epochs",
        "minutes",
        "wall_minutes",
        "max_steps",
        "log_every",
        "checkpoint_minutes",
        "threads",
        "device",
    }
)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved in ``config.json`` under ``train``).

    Attributes:
        method: a name of :data:`infomax.methods.METHODS`, or "cpc-seq".
        data: a data source for :func:`infomax.data.load_dataset` (an
            existing path is stored absolute, so the run can be evaluated
            from any directory).
        encoder: a name of :data:`infomax.nets.ENCODERS` (None: "dim-conv", or the
            encoder the method needs, e.g. "patch-dim" for "cpc").
        epochs: passes over the data (None: no epoch limit).
        minutes: budget of training time in minutes: the time spent in
            optimiser steps (making views, forward, backward, update), summed
            over every part of a resumed run. Loading and decoding the data,
            building the model, checkpoints and logging are not counted.
        wall_minutes: wall-clock budget of this invocation in minutes,
            counted from the call to :func:`~infomax.train.train` (data
            loading included); not carried over to a resumed part.
        max_steps: optimiser-step budget (None: none).
        batch_size: images per step (the global batch under torchrun).
        lr: Adam learning rate of the method.
        weight_decay: Adam weight decay.
        seed: seeds the weights, the views and the data order.
        image_size: resize images to this side (None: keep their size).
        out_dim: size of the encoder's output ``y``.
        augment: augmentation preset replacing the method's default.
        method_options: keyword arguments of the method (e.g. ``estimator``).
        encoder_options: keyword arguments of the encoder.
        probe: train an online linear probe when the data has labels.
        probe_lr: the online probe's Adam learning rate.
        log_every: steps between log lines.
        checkpoint_minutes: wall-clock minutes between checkpoints (besides
            the one at the end and on a signal); stretched when writing one
            takes long, so that checkpoints cost at most about 2% of the time.
        threads: torch CPU threads (None: torch's default).
        device: "cpu", "cuda", "cuda:1", "mps".
        precision: "fp32", or "bf16" (autocast: bfloat16 matmuls and convolutions).
    """

    method: str
    data: str
    encoder: str | None = None
    epochs: int | None = None
    minutes: float | None = None
    wall_minutes: float | None = None
    max_steps: int | None = None
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    image_size: int | None = None
    out_dim: int = 64
    augment: str | None = None
    method_options: dict[str, Any] = field(default_factory=dict)
    encoder_options: dict[str, Any] = field(default_factory=dict)
    probe: bool = True
    probe_lr: float = 1e-3
    log_every: int = 50
    checkpoint_minutes: float = 5.0
    threads: int | None = None
    device: str = "cpu"
    precision: str = "fp32"

    def check(self) -> None:
        """Raise :class:`InputError` on a setting that cannot work."""
        budgets = (self.epochs, self.minutes, self.wall_minutes, self.max_steps)
        if all(budget is None for budget in budgets):
            raise InputError("give a budget: epochs, minutes, wall_minutes or max_steps")
        for name in ("epochs", "max_steps", "batch_size", "log_every", "out_dim"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if self.batch_size < 2:
            raise InputError(f"batch_size must be at least 2 (negatives), got {self.batch_size}")
        for name in ("minutes", "wall_minutes", "lr", "checkpoint_minutes", "probe_lr"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise InputError(f"{name} must be positive, got {value!r}")
        if self.precision not in ("fp32", "bf16"):
            raise InputError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TrainConfig:
        """The config saved as ``value`` (unknown keys are an error naming the first)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InputError(f"unknown training setting {unknown[0]!r}")
        return cls(**value)


def resolve_data(data: str) -> str:
    """``data`` made absolute when it names an existing path (``file.npz:key`` included).

    Built-in names ("digits", "cifar10", "markov") stay as they are unless a
    file of that name exists in the working directory.
    """
    path = Path(data)
    if path.exists():
        return os.fspath(path.resolve())
    head, sep, tail = data.rpartition(":")
    if sep and head and Path(head).exists():
        return f"{os.fspath(Path(head).resolve())}:{tail}"
    return data


#: Flag names of the settings, for messages of the command line.
_FLAGS = {
    "max_steps": "--steps",
    "method_options": "--option",
    "encoder_options": "--encoder-option",
    "probe": "--no-probe",
}


def _flag(name: str) -> str:
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def merge_for_resume(saved: TrainConfig, changes: dict[str, Any], where: str) -> TrainConfig:
    """The saved config with ``changes`` applied, refusing any that would train something else.

    Args:
        saved: the run's configuration from its ``config.json``.
        changes: settings given again (names of :class:`TrainConfig`); those in
            :data:`MAY_DIFFER_ON_RESUME` replace the saved values, any other
            must equal the saved value (``method_options`` and
            ``encoder_options`` option by option).
        where: the run folder, for messages.

    Raises:
        InputError: a setting that contradicts the saved one, naming the flag.
    """
    updates: dict[str, Any] = {}
    for name, value in changes.items():
        old = getattr(saved, name)
        if name in MAY_DIFFER_ON_RESUME:
            updates[name] = value
            continue
        if name in ("method_options", "encoder_options"):
            for key, item in value.items():
                if key not in old or old[key] != item:
                    shown = f"{key}={old[key]!r}" if key in old else f"no {key}"
                    raise InputError(
                        f"cannot resume {where}: it was trained with {shown} in {_flag(name)}, "
                        f"not {key}={item!r}; drop the flag (a resumed run reads its settings "
                        "from config.json) or train into a new --out folder"
                    )
            continue
        if name == "data":
            value, old = resolve_data(value), resolve_data(old)
        if value != old:
            raise InputError(
                f"cannot resume {where}: it was trained with {_flag(name)} {old!r}, not "
                f"{value!r}; drop the flag (a resumed run reads its settings from config.json) "
                "or train into a new --out folder"
            )
    return replace(saved, **updates)

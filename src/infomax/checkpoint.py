"""Run folders and checkpoints: atomic writes, safe loads, the encoder of a run.

A training run writes into one folder::

    RUN_DIR/config.json       what was trained (method, encoder, data, settings)
    RUN_DIR/checkpoint.pt     the latest state (weights, optimizers, RNG, step)
    RUN_DIR/metrics.jsonl     one JSON object per logged step
    RUN_DIR/tensorboard/      the same metrics for TensorBoard (when installed)

``checkpoint.pt`` is written to a temporary file in the same folder and moved
into place with :func:`os.replace`, so a run killed mid-write leaves the
previous checkpoint intact. It is read with ``torch.load(weights_only=True)``:
only tensors and plain containers, so a checkpoint from elsewhere cannot run
code.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from infomax.validation import InputError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "load_checkpoint",
    "load_encoder",
    "read_config",
    "save_checkpoint",
    "write_json_atomic",
]

#: Version tag stored in every checkpoint; a checkpoint without it is not ours.
CHECKPOINT_FORMAT = "infomax-checkpoint-1"


class CheckpointError(InputError):
    """A checkpoint or run folder that cannot be used (missing, truncated, foreign)."""


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], value: dict[str, Any]) -> None:
    """Write ``value`` as indented JSON to ``path`` atomically."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    _atomic_write(Path(path), lambda handle: handle.write(text.encode()))


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain containers) to ``path`` atomically.

    The format tag :data:`CHECKPOINT_FORMAT` is added under ``"format"``.
    """
    payload = {"format": CHECKPOINT_FORMAT, **state}
    _atomic_write(Path(path), lambda handle: torch.save(payload, handle))


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, safely.

    Raises:
        CheckpointError: the file is missing, truncated or corrupt, holds
            anything but tensors and plain containers, or is not an infomax
            checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise CheckpointError(
            f"{path} holds objects other than tensors and plain containers, so it is not "
            f"loaded (weights_only=True): {first}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is truncated or corrupt: {first}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an infomax checkpoint (no {CHECKPOINT_FORMAT} tag)")
    return state


def read_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config.json`` of a run folder.

    Raises:
        CheckpointError: the folder or its config is missing or unreadable.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise CheckpointError(f"no run folder at {run}")
    path = run / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{run} is not a run folder: it has no config.json") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is unreadable: {exc}") from None
    if not isinstance(config, dict) or "encoder" not in config:
        raise CheckpointError(f"{path} is not an infomax run config")
    return config


def build_encoder(config: dict[str, Any]) -> nn.Module:
    """A fresh (randomly initialised) encoder as described by a run config."""
    from infomax.nets import make_encoder

    return make_encoder(
        config["encoder"],
        in_channels=int(config["in_channels"]),
        image_size=tuple(config["image_size"]),
        out_dim=int(config["out_dim"]),
        **config.get("encoder_options", {}),
    )


def load_encoder(
    run_dir: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """The trained encoder of a run folder, in eval mode, and the run's config.

    The weights are those of the method module's ``encoder.`` prefix in
    ``checkpoint.pt``.

    Raises:
        CheckpointError: a missing or bad run folder or checkpoint, or weights
            that do not fit the encoder the config describes.
    """
    config = read_config(run_dir)
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

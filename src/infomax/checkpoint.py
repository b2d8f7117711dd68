"""Checkpoints: atomic writes and safe loads of ``RUN_DIR/checkpoint.pt``.

The run folder's other files are described in :mod:`infomax.train.run_folder`.
``checkpoint.pt`` is written to a temporary file in the same folder and moved
into place with :func:`os.replace`, so a run killed mid-write leaves the
previous checkpoint intact. It is read with ``torch.load(weights_only=True)``:
only tensors and plain containers, so a checkpoint from elsewhere cannot run
code.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from infomax.validation import InputError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
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
        InputError: ``map_location`` names a device this machine cannot use.
        CheckpointError: the file is missing, truncated or corrupt, holds
            anything but tensors and plain containers, or is not an infomax
            checkpoint.
    """
    from infomax.distributed import check_device

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if not callable(map_location) and not isinstance(map_location, dict):
        check_device(map_location)  # a device this build lacks reads as a corrupt file
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

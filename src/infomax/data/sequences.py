"""Sequence data for CPC: a built-in hidden Markov task and users' (N, T, D) arrays.

The built-in ``markov`` task has known latent structure: a hidden Markov
chain over ``states`` states that stays put with probability ``stay`` (else
jumps to a uniformly random other state) emits, at each step, the state's
fixed random mean vector (D dims) plus Gaussian noise. The latent state is
the label a probe should read from CPC's context ``c_t``; the chain forgets
its state geometrically (``(stay - (1 - stay) / (S - 1)) ** k`` after k
steps), so the MI between ``c_t`` and ``z_{t+k}`` falls with ``k``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infomax.data.errors import DataError
from infomax.data.loader import Batch

__all__ = ["SequenceData", "SequenceLoader", "load_sequences", "markov_sequences"]


def markov_sequences(
    n: int = 4096,
    length: int = 32,
    states: int = 8,
    dim: int = 16,
    stay: float = 0.9,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample the hidden Markov task.

    Args:
        n: number of sequences.
        length: steps per sequence.
        states: number of hidden states.
        dim: observation dimension.
        stay: probability of keeping the state at each step.
        noise: standard deviation of the observation noise (the state means
            have unit-variance coordinates, fixed by ``seed``).
        seed: seeds the state means and the sequences.

    Returns:
        ``(x, s)``: observations float32 (n, length, dim) and hidden states
        int64 (n, length).
    """
    if states < 2 or not 0 <= stay <= 1 or n < 1 or length < 2 or dim < 1:
        raise DataError(
            f"bad Markov task: states={states} (>= 2), stay={stay} (in [0, 1]), n={n}, "
            f"length={length} (>= 2), dim={dim}"
        )
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(states, dim))
    s = np.empty((n, length), dtype=np.int64)
    s[:, 0] = rng.integers(states, size=n)
    for t in range(1, length):
        jump = rng.random(n) >= stay
        shift = rng.integers(1, states, size=n)  # a different state, uniformly
        s[:, t] = np.where(jump, (s[:, t - 1] + shift) % states, s[:, t - 1])
    x = means[s] + noise * rng.normal(size=(n, length, dim))
    return x.astype(np.float32), s


@dataclass
class SequenceData:
    """Sequences with optional per-step labels.

    Attributes:
        x: float32 (N, T, D).
        labels: int64 (N, T), -1 where unknown.
        num_classes: number of label values (0 when unlabeled).
        name: where the data came from.
    """

    x: np.ndarray
    labels: np.ndarray
    num_classes: int
    name: str

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def has_labels(self) -> bool:
        return self.num_classes > 0 and bool((self.labels >= 0).all())

    @property
    def input_dim(self) -> int:
        return int(self.x.shape[2])

    def loader(self, batch_size: int, **options: Any) -> SequenceLoader:
        """A :class:`SequenceLoader` over these sequences; ``options`` are its keywords."""
        return SequenceLoader(self, batch_size, **options)

    def split(self, fraction: float, seed: int = 0) -> tuple[SequenceData, SequenceData]:
        """A random (train, test) split of the sequences, ``fraction`` of them in the test part."""
        order = np.random.default_rng(seed).permutation(len(self))
        cut = int(round(len(self) * (1 - fraction)))
        parts = order[:cut], order[cut:]
        return tuple(  # type: ignore[return-value]
            SequenceData(self.x[p], self.labels[p], self.num_classes, self.name) for p in parts
        )


class SequenceLoader:
    """Shuffled mini-batches of sequences; epoch ``e``'s order depends only on ``(seed, e)``.

    Yields :class:`~infomax.data.loader.Batch` with ``images`` the float32
    sequences (B, T, D) and ``labels`` (B, T). The last partial batch is dropped.
    With ``world_size`` processes, process ``rank`` takes every ``world_size``-th
    sequence of the epoch's order, so step ``b`` of all processes together
    covers the sequences of one ``world_size * batch_size`` batch.
    """

    def __init__(
        self,
        data: SequenceData,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        device: str | torch.device = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size * world_size > len(data):
            raise DataError(f"batch_size {batch_size} is larger than the {len(data)} sequences")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.device = torch.device(device)
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return len(self.data) // (self.batch_size * self.world_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        n = len(self.data)
        order = (
            np.random.default_rng([self.seed, int(epoch)]).permutation(n)
            if self.shuffle
            else np.arange(n)
        )
        order = order[: len(self) * self.batch_size * self.world_size][self.rank :: self.world_size]
        for b in range(start, len(self)):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            x = torch.from_numpy(self.data.x[index]).to(self.device)
            labels = torch.from_numpy(self.data.labels[index]).to(self.device)
            yield Batch(x, labels)


def load_sequences(source: str | os.PathLike[str], seed: int = 0) -> SequenceData:
    """Load sequences: ``"markov"`` (the built-in task, default settings) or a ``.npy``/``.npz``.

    A file holds float (N, T, D) observations; an ``.npz`` may add per-step
    integer labels (N, T) under ``labels`` (observations under ``x``).

    Raises:
        DataError: a missing file, a wrong shape, non-finite values, or labels
            that do not match.
    """
    text = os.fspath(source)
    if text == "markov" and not Path(text).exists():
        x, s = markov_sequences(seed=seed)
        return SequenceData(x, s, int(s.max()) + 1, "markov")
    path = Path(text)
    if not path.is_file():
        raise DataError(f"no sequence file {path} (and not the built-in 'markov')")
    labels = None
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive:
                    raise DataError(f"{path} has no array 'x' (it has {', '.join(archive.files)})")
                x = archive["x"]
                labels = archive.get("labels", None)
        else:
            x = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{path} is not a numeric array file: {exc}") from None
    if x.ndim != 3 or x.shape[1] < 2:
        raise DataError(f"{path}: sequences must be (N, T, D) with T >= 2, got {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{path}: sequences must be numeric, got {x.dtype}")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x).all(axis=(1, 2))
    if bad.any():
        raise DataError(f"{path}: {int(bad.sum())} sequences hold NaN or inf")
    if labels is None:
        return SequenceData(x, np.full(x.shape[:2], -1, np.int64), 0, text)
    if labels.shape != x.shape[:2] or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: labels must be integers of shape {x.shape[:2]}, got {labels.shape}"
        )
    labels = labels.astype(np.int64)
    return SequenceData(x, labels, int(labels.max()) + 1, text)

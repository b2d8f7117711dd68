"""Mini-batches straight from the cached uint8 array, with no per-image Python.

A batch is one fancy-indexing gather from the (memory-mapped) array, one
``torch.from_numpy``, one transfer to the device (as uint8: a quarter of the
bytes of float32) and one conversion there. The shuffle order of epoch ``e``
depends only on ``(seed, e)``, so a resumed run can restart mid-epoch at
batch ``start`` and see exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch

from infomax.data.errors import DataError

__all__ = ["Batch", "BatchLoader"]


class Batch(NamedTuple):
    """One mini-batch.

    Attributes:
        images: (B, C, H, W), float in [0, 1] or uint8 (the loader's ``dtype``).
        labels: int64 (B,); -1 for unlabeled images.
    """

    images: torch.Tensor
    labels: torch.Tensor


class BatchLoader:
    """Shuffled mini-batches from a uint8 (N, H, W, C) image array.

    Iterating the loader runs the next epoch (0, 1, 2, ...); :meth:`epoch`
    runs a given epoch from a given batch.

    Args:
        images: uint8 (N, H, W, C), e.g. :attr:`ImageDataset.images` (memory-mapped).
        labels: (N,) integer labels; None gives -1 for every image.
        batch_size: images per batch.
        shuffle: a new random order each epoch (else index order).
        drop_last: skip the last, smaller batch of an epoch.
        seed: seed of the shuffle order.
        device: where batches are put.
        dtype: ``torch.float32`` (or another float type) for images scaled to
            [0, 1], or ``torch.uint8`` for raw values (convert on the device,
            e.g. with :class:`~infomax.data.augment.Augment`).
        rank: this process's rank in distributed training.
        world_size: number of processes; each gets a disjoint, equal share of
            every epoch's order.
        pin_memory: pin host batches before a non-blocking copy to a GPU.

    Raises:
        DataError: bad shapes or a batch size the data cannot fill.

    Example:
        >>> loader = BatchLoader(np.zeros((10, 8, 8, 1), np.uint8), batch_size=4)
        >>> [tuple(b.images.shape) for b in loader]
        [(4, 1, 8, 8), (4, 1, 8, 8)]
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        batch_size: int = 256,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        rank: int = 0,
        world_size: int = 1,
        pin_memory: bool = False,
    ) -> None:
        if images.ndim != 4 or images.dtype != np.uint8:
            raise DataError(
                f"images must be uint8 (N, H, W, C), got {images.dtype} {tuple(images.shape)}"
            )
        n = int(images.shape[0])
        if labels is None:
            labels = np.full(n, -1, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (n,):
            raise DataError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise DataError(f"batch_size must be a positive int, got {batch_size!r}")
        if not (0 <= rank < world_size):
            raise DataError(f"rank must be in 0..{world_size - 1}, got {rank}")
        if dtype != torch.uint8 and not dtype.is_floating_point:
            raise DataError(f"dtype must be torch.uint8 or a float type, got {dtype}")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = int(seed)
        self.device = torch.device(device)
        self.dtype = dtype
        self.rank = rank
        self.world_size = world_size
        self.pin_memory = pin_memory and self.device.type == "cuda"
        self.per_rank = n // world_size
        if len(self) == 0:
            raise DataError(
                f"batch_size {batch_size} is larger than the {self.per_rank} images each process "
                "gets, and drop_last=True leaves no batch"
            )
        self._next_epoch = 0

    def __len__(self) -> int:
        """Batches per epoch (for this rank)."""
        if self.drop_last:
            return self.per_rank // self.batch_size
        return -(-self.per_rank // self.batch_size)

    def indices(self, epoch: int) -> np.ndarray:
        """This rank's image indices for ``epoch``, in batch order (int64, (per_rank,))."""
        n = len(self.images)
        if self.shuffle:
            order = np.random.default_rng([self.seed, int(epoch)]).permutation(n)
        else:
            order = np.arange(n)
        return order[: self.per_rank * self.world_size][self.rank :: self.world_size]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """The batches of ``epoch``, beginning at batch ``start``."""
        order = self.indices(epoch)
        for b in range(start, len(self)):
            # Not sorted: the data set is stored class by class, and a batch in index order
            # would be too (a trap for anything that splits a batch).
            yield self._gather(order[b * self.batch_size : (b + 1) * self.batch_size])

    def __iter__(self) -> Iterator[Batch]:
        epoch = self._next_epoch
        self._next_epoch += 1
        return self.epoch(epoch)

    def _gather(self, index: np.ndarray) -> Batch:
        host = torch.from_numpy(self.images[index]).permute(0, 3, 1, 2)
        labels = torch.from_numpy(self.labels[index])
        if self.pin_memory:
            host, labels = host.pin_memory(), labels.pin_memory()
        x = host.to(self.device, non_blocking=self.pin_memory).contiguous()
        y = labels.to(self.device, non_blocking=self.pin_memory)
        if self.dtype != torch.uint8:
            x = x.to(self.dtype).div_(255.0)
        return Batch(x, y)

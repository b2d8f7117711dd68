"""Image data: sources, the decoded-array cache, batch loading and batch-wise views.

- :func:`load_dataset` reads an image folder, a tar archive of one, the
  official CIFAR-10/100 archives or scikit-learn's digits into an
  :class:`ImageDataset`: a uint8 (N, H, W, C) array, decoded once and
  memory-mapped from the cache afterwards, with labels and class names.
- :class:`BatchLoader` yields shuffled (B, C, H, W) batches from that array.
- :class:`Augment` makes random views of a batch on its device (kornia).

Names are imported on first use, so ``import infomax.data`` is cheap (kornia
and Pillow load only when views are made or images decoded).

Example:
    >>> from infomax.data import Augment, load_dataset  # doctest: +SKIP
    >>> data = load_dataset("cifar10-jpg.tar.gz", split="train")  # doctest: +SKIP
    >>> augment = Augment("simclr", size=32, mean=data.mean, std=data.std)  # doctest: +SKIP
    >>> for images, labels in data.loader(batch_size=256, dtype=torch.uint8):  # doctest: +SKIP
    ...     view1, view2 = augment.views(images)
"""

from __future__ import annotations

from infomax.lazy import lazy_exports

_EXPORTS = {
    "load_dataset": "infomax.data.dataset",
    "ImageDataset": "infomax.data.dataset",
    "BUILTIN_SOURCES": "infomax.data.dataset",
    "BatchLoader": "infomax.data.loader",
    "Batch": "infomax.data.loader",
    "Augment": "infomax.data.augment",
    "AugmentConfig": "infomax.data.augment",
    "PRESETS": "infomax.data.augment",
    "DataError": "infomax.data.errors",
    "cache_root": "infomax.data.cache",
    "download_cifar": "infomax.data.cifar",
    "parse_cifar_batch": "infomax.data.cifar",
    "read_cifar_archive": "infomax.data.cifar",
    "CIFAR": "infomax.data.cifar",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

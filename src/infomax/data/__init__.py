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

#: Each module and the public names it lends this package.
_EXPORTS = {
    "infomax.data.dataset": ("load_dataset", "ImageDataset", "BUILTIN_SOURCES"),
    "infomax.data.loader": ("BatchLoader", "Batch"),
    "infomax.data.augment": ("Augment", "AugmentConfig", "PRESETS"),
    "infomax.data.errors": ("DataError",),
    "infomax.data.cache": ("cache_root",),
    "infomax.data.cifar": ("download_cifar", "parse_cifar_batch", "read_cifar_archive", "CIFAR"),
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)

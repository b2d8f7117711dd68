"""Image data sets as one cached uint8 array: folders, tar archives, CIFAR, digits.

:func:`load_dataset` turns a source into an :class:`ImageDataset`: every
image decoded once into a uint8 (N, H, W, C) array, saved in the cache
(:mod:`infomax.data.cache`) and memory-mapped on later loads, with int64
labels and class names.

Sources:

- a folder ``root/<class>/<image>`` (labels from the sorted class-folder
  names; images may sit deeper inside a class folder), or a flat folder of
  images (unlabeled: every label -1, no classes);
- a ``.tar`` / ``.tar.gz`` / ``.tar.bz2`` / ``.tar.xz`` archive holding such a
  folder, read member by member (never unpacked to disk); a single top-level
  folder in the archive (``cifar10/...``) is its root;
- a folder or archive with ``train/`` and ``test/`` folders at its root: each
  is a split, chosen with ``split=``;
- ``"cifar10"`` / ``"cifar100"`` (the official python archives, downloaded
  with a checksum when missing), the path of such an archive, or an unpacked
  ``cifar-10-batches-py`` folder;
- ``"digits"``: scikit-learn's 8x8 grey digits (not cached; it loads in ms).

The cache key is the source's content identity: for a folder, the sorted list
of its image files with their sizes and modification times; for an archive,
its path, size and modification time and a hash of its member list (name,
size, mtime of each); for CIFAR, the archive's verified checksum. Any change
makes a new entry (and removes the stale one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from infomax.data.cache import EntryWriter, cache_key, cache_root, channel_stats, load_entry
from infomax.data.cifar import CIFAR, download_cifar, read_cifar_archive, read_cifar_folder
from infomax.data.decode import decode_images
from infomax.data.digits import load_digits_arrays, resize_images
from infomax.data.errors import DataError
from infomax.data.layout import Plan, Size, as_size, folder_plan, slug, tar_plan
from infomax.data.tar import TarListing, is_tar, list_tar

if TYPE_CHECKING:
    from infomax.data.loader import BatchLoader

__all__ = ["BUILTIN_SOURCES", "ImageDataset", "load_dataset"]

#: Names :func:`load_dataset` understands besides paths.
BUILTIN_SOURCES = ("digits", "cifar10", "cifar100")


@dataclass
class ImageDataset:
    """Decoded images with labels.

    Attributes:
        images: uint8 (N, H, W, C), usually memory-mapped read-only from the cache.
        labels: int64 (N,); -1 for unlabeled images.
        classes: class names; ``labels`` index into it (empty when unlabeled).
        name: where the data came from (a path or a built-in name).
        split: "train", "test" (or "all" for digits).
        mean: per-channel mean of the pixels, in [0, 1] units.
        std: per-channel standard deviation, in [0, 1] units.
        cache_path: the cache entry folder (None when not cached).
        from_cache: this load found the entry in the cache (nothing was decoded).
        seconds: how long this load took.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    name: str
    split: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    cache_path: Path | None = None
    from_cache: bool = False
    seconds: float = field(default=0.0, compare=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        cached = f", cache={str(self.cache_path)!r}" if self.cache_path else ""
        return (
            f"ImageDataset({self.name!r}, split={self.split!r}, n={len(self)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes}{cached})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W), the shape of one image as the encoders see it."""
        _, h, w, c = self.images.shape
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        """Number of classes (0 when unlabeled)."""
        return len(self.classes)

    @property
    def has_labels(self) -> bool:
        """Every image has a label (none is -1)."""
        return bool(len(self.labels)) and bool((self.labels >= 0).all())

    def loader(self, batch_size: int, **options: Any) -> BatchLoader:
        """A :class:`~infomax.data.loader.BatchLoader` over this data set; ``options`` are
        its keywords (``shuffle``, ``drop_last``, ``seed``, ``device``, ``dtype``, ...)."""
        from infomax.data.loader import BatchLoader

        return BatchLoader(self.images, self.labels, batch_size, **options)


def _entry(
    root: Path,
    label: str,
    identity: dict[str, Any],
    fill: Callable[[EntryWriter], tuple[np.ndarray, np.ndarray, dict[str, Any]]],
) -> tuple[Path, bool]:
    """The cache entry of ``identity`` under ``root``, and whether it was there already.

    A missing entry is made: ``fill(writer)`` decodes the images (into
    ``writer``'s array or its own) and returns them with their labels and meta
    data, which the entry keeps with ``identity`` and the decoding time.
    """
    final = root / "datasets" / f"{label}-{cache_key(identity)}"
    if load_entry(final) is not None:
        return final, True
    started = time.perf_counter()
    with EntryWriter(final) as writer:
        images, labels, meta = fill(writer)
        meta |= {"identity": identity, "decode_seconds": round(time.perf_counter() - started, 3)}
        writer.commit(images, labels, meta)
    return final, False


def _build(plan: Plan, name: str, split: str, root: Path, **decode: Any) -> tuple[Path, bool]:
    """The cache entry of a folder or tar ``plan``; ``decode``: :func:`decode_images`' options."""

    def fill(writer: EntryWriter) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        images, stats = decode_images(
            plan.items(),
            total=len(plan.layout.files),
            allocate=writer.allocate,
            describe=plan.describe,
            desc=f"decoding {slug(name)} ({split})",
            **decode,
        )
        if stats.grey:
            images = writer.keep_first_channel(images)
        meta = {
            "source": name,
            "source_id": plan.source_id,
            "kind": plan.kind,
            "split": split,
            "classes": plan.layout.classes,
            "workers": stats.workers,
        }
        return images, plan.layout.labels, meta

    return _entry(root, f"{slug(name)}-{split}", plan.identity, fill)


def _cifar_entry(
    name: str, split: str, root: Path, size: tuple[int, int] | None, source: Path, archive: bool
) -> tuple[Path, bool]:
    """The cache entry of a CIFAR split from its ``archive`` (or the unpacked ``source`` folder)."""
    spec = CIFAR[name]
    opts = {"size": size}
    if archive:
        stat = source.stat()
        identity = {"kind": "cifar", "name": name, "path": str(source), "size_bytes": stat.st_size}
        identity |= {"mtime_ns": stat.st_mtime_ns, "split": split, **opts}
    else:
        identity = {"kind": "cifar-folder", "name": name, "path": str(source), "split": split}
        identity |= {
            f: (source / f).stat().st_mtime_ns for f in spec.file_md5 if (source / f).exists()
        }
        identity |= opts

    def fill(writer: EntryWriter) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        read = read_cifar_archive if archive else read_cifar_folder
        images, labels, classes = read(source, name, split)
        if size is not None:
            images = resize_images(images, size)
        out = writer.allocate(images.shape)
        out[:] = images
        meta = {
            "source": str(source),
            "source_id": f"cifar:{source}:{split}:{opts}",
            "kind": "cifar",
            "split": split,
            "classes": classes,
        }
        return out, labels, meta

    return _entry(root, f"{name}-{split}", identity, fill)


def _find_cifar_folder(path: Path) -> tuple[str, Path] | None:
    for name, spec in CIFAR.items():
        for candidate in (path / spec.folder, path):
            if (candidate / spec.meta).is_file() and (candidate / spec.test[0]).is_file():
                return name, candidate
    return None


def _cifar_in_listing(listing: TarListing) -> str | None:
    names = {m.name for m in listing.members if m.is_file}
    for name, spec in CIFAR.items():
        if f"{spec.folder}/{spec.meta}" in names and f"{spec.folder}/{spec.test[0]}" in names:
            return name
    return None


_LISTINGS: dict[tuple[str, int, int, int], TarListing] = {}


def _listing(path: Path) -> TarListing:
    """List an archive once per process (per path, size, mtime and inode)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _LISTINGS:
        if len(_LISTINGS) >= 4:
            _LISTINGS.clear()
        _LISTINGS[key] = list_tar(path)
    return _LISTINGS[key]


def load_dataset(
    source: str | os.PathLike[str],
    split: str = "train",
    *,
    size: Size | None = None,
    mode: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    download: bool = True,
) -> ImageDataset:
    """Load an image data set, decoding it into the cache on first use.

    Args:
        source: a folder, a tar archive, "cifar10", "cifar100" or "digits"
            (see the module docstring for the layouts).
        split: "train" or "test" for sources with ``train/`` and ``test/``
            folders (and CIFAR); for a folder or archive without them, "train"
            means all of its images. digits also has "all".
        size: resize every image to this (height, width) (an int: square);
            None keeps the images' own size, which must then be the same for all.
        mode: "auto" (all-grey data keeps one channel, anything else RGB),
            "RGB" or "L" (grey).
        cache_dir: the cache folder; None: ``$INFOMAX_CACHE`` or ``~/.cache/infomax``.
        workers: decoding processes; None: every core this process may use.
        progress: show a progress bar (None: only on a terminal).
        download: fetch a missing CIFAR archive (needs internet access).

    Returns:
        The data set; ``images`` is memory-mapped from the cache.

    Raises:
        DataError: an unknown source, an unreadable or corrupt image (named),
            a folder without images (named), images of different sizes (two
            named), a split the source lacks, a CIFAR file with the wrong checksum.

    Example:
        >>> data = load_dataset("cifar10-jpg.tar.gz", split="test")  # doctest: +SKIP
        >>> data.images.shape, data.classes[:2]  # doctest: +SKIP
        ((10000, 32, 32, 3), ['airplane', 'automobile'])
    """
    started = time.perf_counter()
    pair = as_size(size)
    if mode not in ("auto", "RGB", "L"):
        raise DataError(f"unknown image mode {mode!r}; use 'auto', 'RGB' or 'L'")
    text = os.fspath(source)
    root = cache_root(cache_dir)
    path = Path(text).expanduser()

    if text.lower() == "digits" and not path.exists():
        images, labels, classes = load_digits_arrays(split)
        if mode == "RGB":
            images = np.repeat(images, 3, axis=-1)
        if pair is not None:
            images = resize_images(images, pair)
        mean, std = channel_stats(images)
        return ImageDataset(
            images, labels, classes, "digits", split, tuple(mean), tuple(std),
            seconds=time.perf_counter() - started,
        )  # fmt: skip

    if text.lower() in CIFAR and not path.exists():
        name = text.lower()
        archive = root / "downloads" / CIFAR[name].filename
        if not archive.is_file():
            if not download:
                raise DataError(f"{archive} is missing; pass download=True or copy it there")
            archive = download_cifar(name, root / "downloads", progress=progress)
        entry, hit = _cifar_entry(name, split, root, pair, archive, archive=True)
    elif path.is_dir():
        found = _find_cifar_folder(path)
        if found is not None:
            entry, hit = _cifar_entry(found[0], split, root, pair, found[1], archive=False)
        else:
            opts = {"split": split, "mode": mode, "size": pair}
            plan = folder_plan(path.resolve(), split, opts)
            entry, hit = _build(
                plan, text, split, root, mode=mode, size=pair, workers=workers, progress=progress
            )
    elif is_tar(path):
        listing = _listing(path)
        cifar_name = _cifar_in_listing(listing)
        if cifar_name is not None:
            entry, hit = _cifar_entry(cifar_name, split, root, pair, path.resolve(), archive=True)
        else:
            opts = {"split": split, "mode": mode, "size": pair}
            plan = tar_plan(path.resolve(), listing, split, opts)
            entry, hit = _build(
                plan, text, split, root, mode=mode, size=pair, workers=workers, progress=progress
            )
    elif path.exists():
        raise DataError(f"{path} is neither a folder of images nor a tar archive of one")
    else:
        raise DataError(
            f"unknown data source {text!r}: no such file or folder, and not one of the "
            f"built-in names {', '.join(BUILTIN_SOURCES)}"
        )

    loaded = load_entry(entry)
    if loaded is None:
        raise DataError(f"the cache entry {entry} is unreadable; delete it and load again")
    meta = loaded.meta
    return ImageDataset(
        images=loaded.images,
        labels=loaded.labels,
        classes=list(meta["classes"]),
        name=text,
        split=split,
        mean=tuple(meta["mean"]),
        std=tuple(meta["std"]),
        cache_path=entry,
        from_cache=hit,
        seconds=time.perf_counter() - started,
    )

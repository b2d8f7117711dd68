"""The on-disk cache of decoded datasets.

Each entry is a folder ``<cache>/datasets/<name>-<key>/`` holding

- ``images.npy``: uint8 (N, H, W, C), opened memory-mapped (``mmap_mode="r"``),
- ``labels.npy``: int64 (N,), -1 for unlabeled images,
- ``meta.json``: class names, channel statistics, where the data came from.

``<key>`` is a hash of the source's content identity (see
:func:`infomax.data.dataset.load_dataset`), so a changed source gets a new
entry and the stale one is removed. An entry is built in a temporary folder
beside it and moved into place with one ``os.replace``: a killed run leaves no
half-written entry, and two processes building the same entry do not collide.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CACHE_VERSION",
    "CachedArrays",
    "EntryWriter",
    "cache_key",
    "cache_root",
    "channel_stats",
    "load_entry",
]

#: Bump when the entry format or decoding changes, so old entries are not reused.
CACHE_VERSION = 1
_IMAGES, _LABELS, _META = "images.npy", "labels.npy", "meta.json"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$INFOMAX_CACHE``, else ``~/.cache/infomax``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("INFOMAX_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "infomax"


def cache_key(identity: dict[str, Any]) -> str:
    """A 20-hex-digit hash of a JSON-serialisable identity (with :data:`CACHE_VERSION`)."""
    text = json.dumps({"cache_version": CACHE_VERSION, **identity}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def channel_stats(
    images: np.ndarray, max_images: int = 10_000, chunk: int = 4096
) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of a uint8 (N, H, W, C) array, in [0, 1] units.

    Computed from the histogram of the 256 levels of each channel over at most
    ``max_images`` evenly spaced images (all of them when N <= max_images).
    """
    step = max(-(-len(images) // max_images), 1)
    images = images[::step]
    channels = images.shape[-1]
    counts = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(images), chunk):
        block = np.asarray(images[start : start + chunk]).reshape(-1, channels)
        for c in range(channels):
            counts[c] += np.bincount(block[:, c], minlength=256)
    levels = np.arange(256, dtype=np.float64) / 255.0
    total = np.maximum(counts.sum(axis=1), 1)
    mean = counts @ levels / total
    var = np.maximum(counts @ levels**2 / total - mean**2, 0.0)
    return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in np.sqrt(var)]


@dataclass
class CachedArrays:
    """A loaded cache entry.

    Attributes:
        images: uint8 (N, H, W, C), memory-mapped read-only.
        labels: int64 (N,).
        meta: the entry's ``meta.json``.
        path: the entry folder.
    """

    images: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]
    path: Path


def load_entry(path: Path) -> CachedArrays | None:
    """Open an entry; None when it is missing or does not match its ``meta.json``."""
    try:
        meta = json.loads((path / _META).read_text())
        images = np.load(path / _IMAGES, mmap_mode="r")
        labels = np.load(path / _LABELS)
    except (OSError, ValueError):
        return None
    if (
        meta.get("cache_version") != CACHE_VERSION
        or images.dtype != np.uint8
        or list(images.shape) != meta.get("shape")
        or labels.shape != (images.shape[0],)
    ):
        return None
    return CachedArrays(images, labels.astype(np.int64, copy=False), meta, path)


class EntryWriter:
    """Builds one entry in a temporary folder; :meth:`commit` moves it into place.

    Use as a context manager: leaving it without a commit (an error, Ctrl-C)
    deletes the temporary folder.

    Args:
        final: the entry folder to create.
    """

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))

    def __enter__(self) -> EntryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def allocate(self, shape: tuple[int, ...]) -> np.ndarray:
        """A zeroed uint8 array of ``shape``, memory-mapped onto the entry's ``images.npy``."""
        return np.lib.format.open_memmap(self.tmp / _IMAGES, mode="w+", dtype=np.uint8, shape=shape)

    def keep_first_channel(self, images: np.ndarray) -> np.ndarray:
        """Rewrite ``images.npy`` with channel 0 only (for all-grey data); return the new array."""
        grey = np.lib.format.open_memmap(
            self.tmp / "grey.npy", mode="w+", dtype=np.uint8, shape=(*images.shape[:-1], 1)
        )
        for start in range(0, len(images), 4096):
            grey[start : start + 4096] = images[start : start + 4096, ..., :1]
        grey.flush()
        del images
        os.replace(self.tmp / "grey.npy", self.tmp / _IMAGES)
        return grey

    def commit(self, images: np.ndarray, labels: np.ndarray, meta: dict[str, Any]) -> Path:
        """Write labels and metadata, then move the entry into place; return its folder.

        ``meta`` gains ``shape``, ``count``, ``mean``, ``std``, ``created`` and
        ``cache_version``. Other entries with the same ``meta["source_id"]``
        (older versions of the same source) are removed.
        """
        if isinstance(images, np.memmap):
            images.flush()
        mean, std = channel_stats(images)
        meta = {
            **meta,
            "cache_version": CACHE_VERSION,
            "shape": [int(s) for s in images.shape],
            "count": int(images.shape[0]),
            "mean": mean,
            "std": std,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        np.save(self.tmp / _LABELS, np.asarray(labels, dtype=np.int64))
        (self.tmp / _META).write_text(json.dumps(meta, indent=1))
        try:
            os.replace(self.tmp, self.final)
        except OSError:
            # Another process finished the same entry first: keep theirs if it is whole.
            if load_entry(self.final) is None:
                shutil.rmtree(self.final, ignore_errors=True)
                os.replace(self.tmp, self.final)
        _remove_stale(self.final, meta.get("source_id"))
        return self.final


def _remove_stale(keep: Path, source_id: str | None) -> None:
    if source_id is None:
        return
    for other in keep.parent.iterdir():
        if other == keep or other.name.startswith(".") or not other.is_dir():
            continue
        try:
            meta = json.loads((other / _META).read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source_id") == source_id:
            shutil.rmtree(other, ignore_errors=True)

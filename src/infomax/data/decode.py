"""Decoding images with Pillow into one uint8 array, in a process pool.

Work is sent in chunks of a few hundred images so the per-task overhead of the
pool is small next to decoding; the main process reads files (or archive
members) while the workers decode, and writes each decoded chunk straight into
the output array (a memory-mapped ``.npy`` file in the cache). Pillow is
imported here, where it is used.
"""

from __future__ import annotations

import io
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np

from infomax.data.errors import DataError
from infomax.progress import Progress

__all__ = [
    "IMAGE_SUFFIXES",
    "DecodeStats",
    "decode_images",
    "default_workers",
    "is_image_name",
]

#: File name endings read as images (case-insensitive).
IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pbm",
)
#: Pillow modes kept as one grey channel when ``mode="auto"``.
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
#: Below this many images, decoding runs in this process (starting a pool costs more).
_POOL_MIN_IMAGES = 2000
_CHUNK = 256

#: An item to decode: its position in the output, its name for messages, and
#: either the bytes of the encoded image or None (then ``name`` is a path to read).
Item = tuple[int, str, bytes | None]


def is_image_name(name: str) -> bool:
    """Whether a file name has an image suffix and is not hidden (``.*``, ``__MACOSX``)."""
    parts = name.replace("\\", "/").split("/")
    if any(p.startswith(".") or p == "__MACOSX" for p in parts if p):
        return False
    return name.lower().endswith(IMAGE_SUFFIXES)


def default_workers() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def _decode_one(
    name: str, data: bytes | None, mode: str, size: tuple[int, int] | None
) -> np.ndarray:
    """Decode one image to (H, W) uint8 (grey) or (H, W, 3) uint8 (colour)."""
    from PIL import Image

    with Image.open(io.BytesIO(data) if data is not None else name) as image:
        grey = mode == "L" or (mode == "auto" and image.mode in _GREY_MODES)
        if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey: scale, don't clip
            wide = np.asarray(image, dtype=np.float64)
            image = Image.fromarray(np.round(np.clip(wide, 0, 65535) / 257.0).astype(np.uint8))
        target = "L" if grey else "RGB"
        converted = image if image.mode == target else image.convert(target)
        if size is not None and converted.size != (size[1], size[0]):
            converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(converted, dtype=np.uint8)


@dataclass
class _Chunk:
    """Decoded images of one chunk, stacked when they share a shape (the usual case).

    ``error`` is ``(name, "read" or "decode", message)`` for the first image
    that failed (the chunk stops there).
    """

    indices: np.ndarray
    names: list[str]
    arrays: np.ndarray | list[np.ndarray]
    error: tuple[str, str, str] | None = None


def _decode_chunk(items: list[Item], mode: str, size: tuple[int, int] | None) -> _Chunk:
    """Decode a chunk of items (runs in a worker process)."""
    arrays: list[np.ndarray] = []
    for _, name, data in items:
        try:
            arrays.append(_decode_one(name, data, mode, size))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is reported with its file
            done = items[: len(arrays)]
            chunk = _Chunk(
                np.array([i for i, _, _ in done], np.int64), [n for _, n, _ in done], arrays
            )
            verb = "read" if isinstance(exc, (FileNotFoundError, PermissionError)) else "decode"
            chunk.error = (name, verb, f"{type(exc).__name__}: {exc}")
            return chunk
    indices = np.array([i for i, _, _ in items], dtype=np.int64)
    names = [n for _, n, _ in items]
    if arrays and all(a.shape == arrays[0].shape for a in arrays):
        return _Chunk(indices, names, np.stack(arrays))
    return _Chunk(indices, names, arrays)


@dataclass
class DecodeStats:
    """What :func:`decode_images` did.

    Attributes:
        count: images decoded.
        workers: processes used (1: decoded in this process).
        grey: with mode "auto", every image was grey (channel 0 holds it).
    """

    count: int
    workers: int
    grey: bool


class _Assembler:
    """Writes decoded images into the output array, checking that sizes agree."""

    def __init__(
        self,
        total: int,
        allocate: Callable[[tuple[int, ...]], np.ndarray],
        describe: Callable[[str], str],
        mode: str,
    ) -> None:
        self.total = total
        self.allocate = allocate
        self.describe = describe
        self.mode = mode
        self.out: np.ndarray | None = None
        self.first: tuple[str, tuple[int, int]] | None = None
        self.grey = True
        self.count = 0

    def _start(self, name: str, hw: tuple[int, int]) -> None:
        self.first = (name, hw)
        channels = 1 if self.mode == "L" else 3
        self.out = self.allocate((self.total, *hw, channels))

    def _mismatch(self, name: str, hw: tuple[int, int]) -> DataError:
        assert self.first is not None
        (h0, w0), (h1, w1) = self.first[1], hw
        return DataError(
            f"images differ in size: {self.describe(self.first[0])} is {w0}x{h0} but "
            f"{self.describe(name)} is {w1}x{h1} (width x height); resize every image to one "
            "size with --image-size N on the command line (size=N or size=(H, W) in Python)"
        )

    def add(self, chunk: _Chunk) -> None:
        arrays = chunk.arrays
        if isinstance(arrays, np.ndarray):  # one shape for the whole chunk
            hw = (int(arrays.shape[1]), int(arrays.shape[2]))
            if self.first is None:
                self._start(chunk.names[0], hw)
            elif hw != self.first[1]:
                raise self._mismatch(chunk.names[0], hw)
            assert self.out is not None
            if arrays.ndim == 3:
                self.out[chunk.indices] = arrays[..., None]
            else:
                self.grey = False
                self.out[chunk.indices] = arrays
            self.count += len(arrays)
        else:
            for index, name, array in zip(chunk.indices, chunk.names, arrays, strict=True):
                hw = (int(array.shape[0]), int(array.shape[1]))
                if self.first is None:
                    self._start(name, hw)
                elif hw != self.first[1]:
                    raise self._mismatch(name, hw)
                assert self.out is not None
                if array.ndim == 2:
                    self.out[index] = array[:, :, None]
                else:
                    self.grey = False
                    self.out[index] = array
                self.count += 1
        if chunk.error is not None:
            name, verb, message = chunk.error
            raise DataError(f"cannot {verb} image {self.describe(name)}: {message}")


def _chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decode_images(
    items: Iterable[Item],
    total: int,
    allocate: Callable[[tuple[int, ...]], np.ndarray],
    describe: Callable[[str], str],
    mode: str = "auto",
    size: tuple[int, int] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    desc: str = "decoding",
) -> tuple[np.ndarray, DecodeStats]:
    """Decode ``total`` images into one array of shape (N, H, W, C), C = 3 (or 1 for mode "L").

    Args:
        items: ``(index, name, data)`` for each image, every index in
            ``range(total)`` once, in any order; ``data`` None means ``name``
            is a file path to read.
        total: number of images.
        allocate: makes the (zeroed) output array for a shape, e.g. a
            memory-mapped ``.npy`` file.
        describe: turns an item name into the text errors show.
        mode: "auto" (grey images stay grey, others RGB), "RGB" or "L".
        size: resize every image to (H, W); None requires equal sizes.
        workers: decoding processes; None: all cores this process may use.
            Fewer than 2000 images are always decoded in this process.
        progress: show a progress bar (None: only on a terminal).
        desc: the progress bar's label.

    Returns:
        The output array (N, H, W, 3) or (N, H, W, 1) as ``allocate`` made it,
        and statistics. With mode "auto", ``stats.grey`` says every image was
        grey (channel 0 holds it; the caller may keep only that channel).

    Raises:
        DataError: an image cannot be decoded (naming it), or two images
            differ in size (naming both).
    """
    if mode not in ("auto", "RGB", "L"):
        raise DataError(f"unknown image mode {mode!r}; use 'auto', 'RGB' or 'L'")
    workers = default_workers() if workers is None else max(int(workers), 1)
    if total < _POOL_MIN_IMAGES:
        workers = 1
    assembler = _Assembler(total, allocate, describe, mode)
    with Progress(total, desc, enabled=progress) as bar:
        if workers == 1:
            for chunk in _chunked(items, _CHUNK):
                assembler.add(_decode_chunk(chunk, mode, size))
                bar.update(len(chunk))
        else:
            _decode_in_pool(items, assembler, bar, mode, size, workers)
    if assembler.count != total or assembler.out is None:
        raise DataError(f"expected {total} images but decoded {assembler.count}")
    return assembler.out, DecodeStats(assembler.count, workers, assembler.grey and mode == "auto")


def _decode_in_pool(
    items: Iterable[Item],
    assembler: _Assembler,
    bar: Progress,
    mode: str,
    size: tuple[int, int] | None,
    workers: int,
) -> None:
    """Keep at most ``2 * workers`` chunks in flight; assemble results in submission order."""
    # fork on Linux (as torch's DataLoader): no re-import of the caller's script in the
    # workers, which only run Pillow and numpy. Elsewhere, spawn (scripts then need
    # the ``if __name__ == "__main__":`` guard).
    context = get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    pending: deque[Future[Any]] = deque()
    try:
        for chunk in _chunked(items, _CHUNK):
            pending.append(pool.submit(_decode_chunk, chunk, mode, size))
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                done = pending.popleft().result()
                assembler.add(done)
                bar.update(len(done.names))
        while pending:
            done = pending.popleft().result()
            assembler.add(done)
            bar.update(len(done.names))
    except BrokenProcessPool as exc:
        raise DataError(f"an image-decoding process died ({exc}); try workers=1") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

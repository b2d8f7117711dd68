"""Where a source's images are and what their labels are: folder and archive layouts.

A source is a folder ``root/<class>/<image>`` (labels from the sorted class
folders), a flat folder of images (unlabeled), or either with ``train/`` and
``test/`` at its root (one split each). :func:`folder_plan` and
:func:`tar_plan` turn a folder or an archive listing into a :class:`Plan`: the
image names to decode, their labels, the class names and the cache identity.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infomax.data.decode import is_image_name
from infomax.data.errors import DataError
from infomax.data.tar import TarListing, read_tar, shown

__all__ = ["Plan", "Size", "as_size", "folder_plan", "slug", "tar_plan"]

Size = int | tuple[int, int]


def as_size(size: Size | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s > 0 for s in pair):
        raise DataError(f"size must be a positive int or (height, width), got {size!r}")
    return int(pair[0]), int(pair[1])


def slug(text: str) -> str:
    base = re.sub(r"\.(tar(\.(gz|bz2|xz))?|tgz|tbz2|txz)$", "", Path(text).name or text)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base)[:40] or "data"


def hash_lines(lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass
class Layout:
    """Which files form the data set, in order, and their labels."""

    files: list[str]  # paths relative to the split root, dataset order
    labels: np.ndarray
    classes: list[str]
    where: str  # the split root, for messages
    prefix: str = ""  # the split root relative to the source root ("" or "train/")


def resolve_layout(files: list[str], dirs: set[str], split: str, where: str) -> Layout:
    """Pick the split and read labels from class folders.

    Args:
        files: image paths relative to the root ("/"-separated).
        dirs: every folder path relative to the root.
        split: the requested split.
        where: the root, for messages.
    """
    top_dirs = {d.split("/", 1)[0] for d in dirs} | {f.split("/", 1)[0] for f in files if "/" in f}
    top_dirs = {d for d in top_dirs if d and not d.startswith(".") and d != "__MACOSX"}
    prefix = ""
    if {"train", "test"} <= top_dirs:
        if split not in top_dirs:
            raise DataError(
                f"{where} has no {split!r} split; its splits are {', '.join(sorted(top_dirs))}"
            )
        prefix = split + "/"
        files = [f[len(prefix) :] for f in files if f.startswith(prefix)]
        dirs = {d[len(prefix) :] for d in dirs if d.startswith(prefix)}
        where = f"{where}/{split}"
    elif split != "train":
        raise DataError(
            f"{where} has no train/ and test/ folders, so it has no {split!r} split; "
            "move its class folders into train/ and test/ to evaluate on it "
            "(split='train' reads all of its images)"
        )
    if not files:
        raise DataError(
            f"no images in {where} (looked for files ending in .jpg, .jpeg, .png, .bmp, .gif, "
            ".tif, .tiff, .webp, .ppm, .pgm, .pbm)"
        )
    flat = sorted(f for f in files if "/" not in f)
    nested = [f for f in files if "/" in f]
    if flat and nested:
        raise DataError(
            f"{where} mixes images at its top level ({flat[0]}) with class folders "
            f"({nested[0].split('/', 1)[0]}/); put every image in a class folder, or none"
        )
    if flat:
        return Layout(flat, np.full(len(flat), -1, dtype=np.int64), [], where, prefix)
    classes = sorted({f.split("/", 1)[0] for f in nested})
    for d in sorted(dirs):
        if d and "/" not in d and not d.startswith(".") and d != "__MACOSX" and d not in classes:
            raise DataError(f"class folder {where}/{d} has no images")
    index = {c: i for i, c in enumerate(classes)}
    ordered = sorted(nested, key=lambda f: (index[f.split("/", 1)[0]], f))
    labels = np.array([index[f.split("/", 1)[0]] for f in ordered], dtype=np.int64)
    return Layout(ordered, labels, classes, where, prefix)


def scan_folder(root: Path) -> tuple[list[str], set[str], dict[str, os.stat_result]]:
    files: list[str] = []
    dirs: set[str] = set()
    stats: dict[str, os.stat_result] = {}
    for current, subdirs, names in os.walk(root):
        rel = Path(current).relative_to(root).as_posix()
        rel = "" if rel == "." else rel + "/"
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != "__MACOSX")
        dirs.update(rel + d for d in subdirs)
        for name in names:
            if is_image_name(name):
                try:
                    stats[rel + name] = os.stat(os.path.join(current, name))
                except OSError as exc:
                    raise DataError(f"cannot read {os.path.join(current, name)}: {exc}") from None
                files.append(rel + name)
    return files, dirs, stats


@dataclass
class Plan:
    """How to build a cache entry from a folder or archive."""

    layout: Layout
    identity: dict[str, Any]
    source_id: str
    items: Any  # a callable returning the (index, name, data) iterator
    describe: Any
    kind: str


def folder_plan(root: Path, split: str, opts: dict[str, Any]) -> Plan:
    files, dirs, stats = scan_folder(root)
    layout = resolve_layout(files, dirs, split, str(root))
    rel = [layout.prefix + f for f in layout.files]
    identity = {
        "kind": "folder",
        "files": hash_lines(f"{r}\t{stats[r].st_size}\t{stats[r].st_mtime_ns}" for r in rel),
        "classes": layout.classes,
        **opts,
    }

    def items() -> Iterator[tuple[int, str, None]]:
        for i, r in enumerate(rel):
            yield i, str(root / r), None

    return Plan(layout, identity, f"folder:{root}:{split}:{opts}", items, str, "folder")


def tar_plan(path: Path, listing: TarListing, split: str, opts: dict[str, Any]) -> Plan:
    members = listing.members
    tops = {m.name.split("/", 1)[0] for m in members}
    wrapper = ""
    if len(tops) == 1 and all("/" in m.name for m in members if m.is_file):
        wrapper = next(iter(tops)) + "/"
    files = [m.name[len(wrapper) :] for m in members if m.is_file and is_image_name(m.name)]
    if len(set(files)) != len(files):
        twice = next(f for f, n in Counter(files).items() if n > 1)
        raise DataError(f"{path} holds {shown(wrapper + twice)} more than once; repack the archive")
    dirs = {m.name[len(wrapper) :] for m in members if m.is_dir and m.name != wrapper[:-1]}
    dirs |= {f.rsplit("/", 1)[0] for f in files if "/" in f}
    layout = resolve_layout(files, dirs, split, f"{path}:{wrapper.rstrip('/') or '.'}")
    positions = {wrapper + layout.prefix + f: i for i, f in enumerate(layout.files)}
    stat = path.stat()
    identity = {
        "kind": "tar",
        "path": str(path),
        "size_bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "members": hash_lines(f"{m.name}\t{m.size}\t{m.mtime}" for m in members),
        **opts,
    }

    def items() -> Iterator[tuple[int, str, bytes]]:
        for name, data in read_tar(path, positions.__contains__, listing.use_tarfile):
            yield positions[name], name, data

    def describe(name: str) -> str:
        return f"{shown(name)} in {path}"

    return Plan(layout, identity, f"tar:{path}:{split}:{opts}", items, describe, "tar")

"""CIFAR-10 and CIFAR-100 from the official "python version" archives.

The official archives (``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``)
hold Python pickles. Unpickling runs code named by the file, so this module
parses a batch only

1. from an archive (or an unpacked batch file) whose MD5 matches the official
   checksum published with the data set, checked *before* anything is
   unpickled, and
2. with an unpickler that refuses every global except the few numpy
   functions that rebuild an array (so even a file that passed the checksum
   check could not run other code).

Images come out as uint8 (N, 32, 32, 3), labels as int64 (N,). Users with
internet access get the archive with :func:`download_cifar` (checksummed,
written atomically); without it, copy the archive into
``<cache>/downloads/`` or pass its path to
:func:`infomax.data.load_dataset`.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infomax.data.errors import DataError
from infomax.data.tar import read_tar
from infomax.progress import Progress

__all__ = [
    "CIFAR",
    "CIFAR_HOST",
    "CifarSpec",
    "download_cifar",
    "file_md5",
    "parse_cifar_batch",
    "parse_cifar_meta",
    "read_cifar_archive",
    "read_cifar_folder",
]


#: Where the official archives are downloaded from.
CIFAR_HOST = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class CifarSpec:
    """Where an official CIFAR archive lives and what it holds.

    Attributes:
        name: "cifar10" or "cifar100".
        filename: the archive's file name (downloaded from :data:`CIFAR_HOST`).
        md5: the archive's official MD5.
        folder: the folder inside the archive.
        train: training batch files.
        test: test batch files.
        meta: the file with the class names.
        label_key: the label list's key in a batch.
        names_key: the class-name list's key in the meta file.
        file_md5: official MD5 of each unpacked file.
    """

    name: str
    filename: str
    md5: str
    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    label_key: str
    names_key: str
    file_md5: dict[str, str]

    @property
    def url(self) -> str:
        """The official download address."""
        return CIFAR_HOST + self.filename


CIFAR: dict[str, CifarSpec] = {
    "cifar10": CifarSpec(
        name="cifar10",
        filename="cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        folder="cifar-10-batches-py",
        train=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test=("test_batch",),
        meta="batches.meta",
        label_key="labels",
        names_key="label_names",
        file_md5={
            "data_batch_1": "c99cafc152244af753f735de768cd75f",
            "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
            "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
            "data_batch_4": "634d18415352ddfa80567beed471001a",
            "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
            "test_batch": "40351d587109b95175f43aff81a1287e",
            "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
        },
    ),
    "cifar100": CifarSpec(
        name="cifar100",
        filename="cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        folder="cifar-100-python",
        train=("train",),
        test=("test",),
        meta="meta",
        label_key="fine_labels",
        names_key="fine_label_names",
        file_md5={
            "train": "16019d7e3df5f24257cddd939b257f8d",
            "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
            "meta": "7973b15100ade9c7d40fb424638fde48",
        },
    ),
}

#: The only globals a CIFAR batch may name: numpy's array reconstruction, and
#: ``_codecs.encode``, which protocol-2 pickles use to write bytes.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"it names {module}.{name}, which a CIFAR batch never does"
            )
        if module == "numpy.core.multiarray":  # numpy >= 2 renamed numpy.core to numpy._core
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _unpickle(data: bytes, what: str) -> dict[str, object]:
    try:
        obj = _BatchUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # noqa: BLE001 - any failure means "not a CIFAR batch"
        raise DataError(f"{what} is not a CIFAR python batch: {exc}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{what} is not a CIFAR python batch: it holds a {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def parse_cifar_batch(
    data: bytes, label_key: str = "labels", what: str = "batch"
) -> tuple[np.ndarray, np.ndarray]:
    """Parse one official CIFAR python batch.

    Call it only on bytes whose checksum was verified (as
    :func:`read_cifar_archive` does); the unpickler admits numpy arrays only.

    Args:
        data: the pickled batch: a dict with ``data``, uint8 (N, 3072) rows
            of 1024 red, 1024 green and 1024 blue values (row-major 32x32),
            and ``label_key``, N labels.
        label_key: "labels" (CIFAR-10) or "fine_labels" / "coarse_labels" (CIFAR-100).
        what: the batch's name in error messages.

    Returns:
        images: uint8 (N, 32, 32, 3).
        labels: int64 (N,).

    Raises:
        DataError: not a batch of that format.
    """
    batch = _unpickle(data, what)
    pixels, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 2 or pixels.shape[1] != 3072:
        shape = getattr(pixels, "shape", None)
        raise DataError(f"{what}: 'data' should be an (N, 3072) array, got {shape}")
    if labels is None or len(labels) != len(pixels):  # type: ignore[arg-type]
        raise DataError(f"{what}: '{label_key}' should hold {len(pixels)} labels")
    images = pixels.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels, dtype=np.int64)


def parse_cifar_meta(data: bytes, names_key: str = "label_names", what: str = "meta") -> list[str]:
    """Parse the class names from a CIFAR ``batches.meta`` (or CIFAR-100 ``meta``) file."""
    names = _unpickle(data, what).get(names_key)
    if not isinstance(names, list):
        raise DataError(f"{what}: no list '{names_key}'")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def file_md5(path: Path) -> str:
    """The MD5 of a file, read in 1 MiB blocks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assemble(
    spec: CifarSpec, split: str, files: dict[str, bytes], where: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = spec.train if split == "train" else spec.test
    parts = []
    for name in names:
        if name not in files:
            raise DataError(f"{where} has no {spec.folder}/{name}")
        parts.append(parse_cifar_batch(files[name], spec.label_key, f"{where}: {name}"))
    if spec.meta not in files:
        raise DataError(f"{where} has no {spec.folder}/{spec.meta}")
    classes = parse_cifar_meta(files[spec.meta], spec.names_key, f"{where}: {spec.meta}")
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise DataError(f"{where}: labels outside 0..{len(classes) - 1}")
    return images, labels, classes


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise DataError(f"CIFAR has splits 'train' and 'test', not {split!r}")


def read_cifar_archive(
    path: Path, name: str = "cifar10", split: str = "train", md5: str | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read one split of an official CIFAR archive, straight from the ``.tar.gz``.

    Args:
        path: the archive.
        name: "cifar10" or "cifar100".
        split: "train" or "test".
        md5: the checksum the archive must have; None: the official one.
            Nothing is unpickled unless it matches.

    Returns:
        images uint8 (N, 32, 32, 3), labels int64 (N,), class names.

    Raises:
        DataError: wrong checksum, missing batch, or not the official format.
    """
    _check_split(split)
    spec = CIFAR[name]
    expected = spec.md5 if md5 is None else md5
    actual = file_md5(path)
    if actual != expected:
        raise DataError(
            f"refusing to unpickle {path}: its MD5 is {actual}, but the official "
            f"{spec.filename} has {expected} (a different or damaged file)"
        )
    wanted = {f"{spec.folder}/{n}" for n in (*spec.train, *spec.test, spec.meta)}
    files = {
        member.rsplit("/", 1)[-1]: data for member, data in read_tar(path, wanted.__contains__)
    }
    return _assemble(spec, split, files, str(path))


def read_cifar_folder(
    folder: Path, name: str = "cifar10", split: str = "train"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read one split from an unpacked official folder (``cifar-10-batches-py``).

    Every file read is checked against its official MD5 before it is unpickled.

    Raises:
        DataError: a missing file or one whose checksum differs.
    """
    _check_split(split)
    spec = CIFAR[name]
    files = {}
    for file in (*(spec.train if split == "train" else spec.test), spec.meta):
        path = folder / file
        if not path.is_file():
            raise DataError(f"{folder} has no {file}")
        actual = file_md5(path)
        if actual != spec.file_md5[file]:
            raise DataError(
                f"refusing to unpickle {path}: its MD5 is {actual}, but the official file "
                f"has {spec.file_md5[file]}"
            )
        files[file] = path.read_bytes()
    return _assemble(spec, split, files, str(folder))


def download_cifar(
    name: str = "cifar10",
    root: str | os.PathLike[str] | None = None,
    url: str | None = None,
    md5: str | None = None,
    progress: bool | None = None,
) -> Path:
    """Download an official CIFAR archive (once) and verify its checksum.

    The file is written to a temporary name and moved into place only after
    its MD5 matches, so an interrupted or corrupted download never looks done.

    Args:
        name: "cifar10" or "cifar100".
        root: folder to put it in; None: ``<cache>/downloads``.
        url: where to get it; None: the official address (any URL urllib
            opens, ``file://`` included).
        md5: expected checksum; None: the official one.
        progress: show a progress bar (None: only on a terminal).

    Returns:
        The archive's path.

    Raises:
        DataError: unknown name, no connection, or a checksum mismatch.
    """
    from infomax.data.cache import cache_root

    if name not in CIFAR:
        raise DataError(f"unknown CIFAR data set {name!r}; use one of {', '.join(CIFAR)}")
    spec = CIFAR[name]
    url = spec.url if url is None else url
    expected = spec.md5 if md5 is None else md5
    folder = Path(root) if root is not None else cache_root() / "downloads"
    dest = folder / spec.filename
    if dest.is_file() and file_md5(dest) == expected:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{spec.filename}.part-{os.getpid()}"
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            with Progress(max(total, 1), f"downloading {spec.filename}", enabled=progress) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DataError(
            f"could not download {url} ({reason}); without internet access, copy "
            f"{spec.filename} into {folder} or pass its path"
        ) from None
    if digest.hexdigest() != expected:
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of {url} has MD5 {digest.hexdigest()}, expected {expected}; "
            "the file was discarded"
        )
    os.replace(part, dest)
    return dest

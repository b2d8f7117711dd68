"""Reading tar archives (plain, gzip, bzip2, xz) member by member, never unpacking to disk.

Python's :mod:`tarfile` spends interpreter time on every member, which adds up
over the 60,000 members of the CIFAR-10 JPEG archive. The scanner here parses
the 512-byte headers itself (ustar, GNU long names, pax ``path``/``size``/``mtime``
records) from one streaming decompression, with less work per member. Archives
it does not handle (hard or symbolic links, GNU sparse or multi-volume members)
fall back to :mod:`tarfile`.
"""

from __future__ import annotations

import bz2
import lzma
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infomax.data.errors import DataError

__all__ = ["TarListing", "TarMember", "is_tar", "list_tar", "read_tar"]

_BLOCK = 512
_CHUNK = 1 << 20
_REGULAR = (b"0", b"\0", b"7")
_FALLBACK = (b"1", b"2", b"S", b"M")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True, slots=True)
class TarMember:
    """One archive member.

    Attributes:
        name: normalised POSIX path inside the archive (no leading ``./``).
        size: size in bytes (0 for directories).
        mtime: modification time, whole seconds.
        is_file: a regular file (or, with the tarfile fallback, a link to one).
        is_dir: a directory.
    """

    name: str
    size: int
    mtime: int
    is_file: bool
    is_dir: bool


@dataclass(frozen=True)
class TarListing:
    """The members of an archive, in archive order.

    Attributes:
        members: every file and directory member.
        use_tarfile: the archive needs :mod:`tarfile` to read (links, sparse files).
    """

    members: list[TarMember]
    use_tarfile: bool


class _NeedsTarfileError(Exception):
    """The fast scanner met a member type it leaves to :mod:`tarfile`."""


def is_tar(path: Path) -> bool:
    """Whether ``path`` is a file named like a tar archive or holding one."""
    if not path.is_file():
        return False
    if path.name.lower().endswith(_TAR_SUFFIXES):
        return True
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _decompressor(head: bytes) -> Callable[[], object] | None:
    if head[:2] == b"\x1f\x8b":
        return lambda: zlib.decompressobj(wbits=31)
    if head[:3] == b"BZh":
        return bz2.BZ2Decompressor
    if head[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor
    return None


def _chunks(path: Path) -> Iterator[bytes]:
    """The archive's decompressed bytes, in chunks (multi-stream files included)."""
    with open(path, "rb") as f:
        make = _decompressor(f.read(6))
        f.seek(0)
        if make is None:
            while chunk := f.read(_CHUNK):
                yield chunk
            return
        decomp = make()
        while chunk := f.read(_CHUNK):
            while chunk:
                if decomp.eof:  # type: ignore[attr-defined]
                    if not chunk.strip(b"\0"):
                        break  # zero padding after the last stream
                    decomp = make()  # another concatenated stream
                out = decomp.decompress(chunk)  # type: ignore[attr-defined]
                if out:
                    yield out
                chunk = decomp.unused_data if decomp.eof else b""  # type: ignore[attr-defined]
        if not decomp.eof:  # type: ignore[attr-defined]
            raise DataError(f"{path} is truncated: the compressed stream ends early")


class _Reader:
    """Exact-size reads and skips over a stream of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        self.offset = 0

    def read(self, n: int) -> bytes:
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
        else:
            parts = [self._buf[self._pos :]]
            have = len(parts[0])
            while have < n:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                parts.append(chunk)
                have += len(chunk)
            self._buf = b"".join(parts)
            out = self._buf[:n]
            self._pos = len(out)
        self.offset += len(out)
        return out

    def skip(self, n: int) -> None:
        end = self._pos + n
        while end > len(self._buf):
            end -= len(self._buf)
            chunk = next(self._chunks, None)
            if chunk is None:
                self.offset += n - end
                self._buf, self._pos = b"", 0
                return
            self._buf = chunk
        self._pos = end
        self.offset += n


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large values
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] == 0xFF else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        length = int(data[pos:space])
        if length <= 0:
            break
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _normalise(name: str) -> str:
    name = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    return "" if name == "." else name


def _scan(
    path: Path, wanted: Callable[[str], bool] | None
) -> Iterator[tuple[TarMember, bytes | None]]:
    """Parse headers; yield each member with its data when ``wanted(name)``."""
    reader = _Reader(_chunks(path))
    pax: dict[str, str] = {}
    long_name: str | None = None
    while True:
        start = reader.offset
        header = reader.read(_BLOCK)
        if len(header) == 0:
            return
        if len(header) < _BLOCK:
            raise DataError(f"{path} is truncated: a member header ends at byte {reader.offset}")
        if not header.strip(b"\0"):
            return
        stored = _number(header[148:156])
        computed = sum(header) - sum(header[148:156]) + 256
        if stored != computed:
            raise DataError(
                f"{path} is not a tar archive or is corrupt (bad header checksum at byte {start})"
            )
        kind = header[156:157]
        size = _number(header[124:136])
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if kind == b"L":
            long_name = reader.read(padded)[:size].rstrip(b"\0").decode("utf-8", "surrogateescape")
            continue
        if kind == b"x":
            pax = _pax_records(reader.read(padded)[:size])
            continue
        if kind in (b"K", b"g", b"V"):
            reader.skip(padded)
            continue
        if kind in _FALLBACK:
            raise _NeedsTarfileError
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if header[257:263] == b"ustar\0":
            prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if prefix:
                name = f"{prefix}/{name}"
        mtime = _number(header[136:148])
        if long_name is not None:
            name = long_name
        if "path" in pax:
            name = pax["path"]
        if "size" in pax:
            size = int(pax["size"])
            padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if "mtime" in pax:
            mtime = int(float(pax["mtime"]))
        pax, long_name = {}, None
        is_dir = kind == b"5" or (kind == b"\0" and name.endswith("/"))
        is_file = kind in _REGULAR and not is_dir
        name = _normalise(name)
        data = None
        if is_file and wanted is not None and wanted(name):
            data = reader.read(size)
            if len(data) < size:
                raise DataError(f"{path} is truncated: member {name} ends early")
            reader.skip(padded - size)
        else:
            reader.skip(padded)
        if name:
            yield TarMember(name, size if is_file else 0, mtime, is_file, is_dir), data


def _tarfile_members(
    path: Path, wanted: Callable[[str], bool] | None
) -> Iterator[tuple[TarMember, bytes | None]]:
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot open {path} as a tar archive: {exc}") from None
    with archive:
        for info in archive:
            name = _normalise(info.name)
            is_file = info.isfile() or info.issym() or info.islnk()
            if not name or not (is_file or info.isdir()):
                continue
            data = None
            if is_file and wanted is not None and wanted(name):
                try:
                    handle = archive.extractfile(info)
                    data = handle.read() if handle is not None else None
                except (tarfile.TarError, KeyError, OSError) as exc:
                    raise DataError(f"cannot read member {name} of {path}: {exc}") from None
                if data is None:
                    continue
            member = TarMember(name, info.size, int(info.mtime), is_file, info.isdir())
            yield member, data


def list_tar(path: Path) -> TarListing:
    """List an archive's file and directory members in archive order.

    Raises:
        DataError: not a tar archive, or truncated.
    """
    try:
        return TarListing([m for m, _ in _scan(path, None)], use_tarfile=False)
    except _NeedsTarfileError:
        return TarListing([m for m, _ in _tarfile_members(path, None)], use_tarfile=True)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read {path} as a tar archive: {exc}") from None


def read_tar(
    path: Path, wanted: Callable[[str], bool], use_tarfile: bool = False
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for the regular-file members with ``wanted(name)``, in archive order.

    Args:
        path: the archive.
        wanted: which members to read (the rest are skipped).
        use_tarfile: read with :mod:`tarfile` (as :func:`list_tar` reported).

    Raises:
        DataError: the archive is corrupt or truncated.
    """
    members = _tarfile_members(path, wanted) if use_tarfile else _scan(path, wanted)
    try:
        for member, data in members:
            if data is not None:
                yield member.name, data
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path} as a tar archive: {exc}") from None

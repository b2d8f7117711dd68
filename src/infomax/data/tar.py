"""Reading tar archives (plain, gzip, bzip2, xz) member by member, never unpacking to disk.

Python's :mod:`tarfile` spends a lot of interpreter time per member, which
dominates listing an archive of tens of thousands of small images. The scanner
here parses the 512-byte headers itself (ustar, GNU long names, pax
``path``/``size``/``mtime`` records) from one streaming decompression. An
archive holding hard or symbolic links is read with :mod:`tarfile` once the
scanner has checked every header (tarfile itself loops on a negative size); it
resolves a link to an earlier member of the same archive, never to a file on
disk. GNU sparse and multi-volume members go to :mod:`tarfile` directly.

An archive is untrusted input, and both readers check it the same way: sizes
are non-negative and every header lies after the one before it (so a forged
size can neither rewind the scan nor make it loop), long-name and pax records
are bounded, and a member whose name is absolute (``/etc/x.png``) or climbs
out of the archive's root (``../x.png``, ``cat/../../x.png``) makes the whole
archive refused. Devices, fifos and other special members are skipped. Every
refusal is a :class:`~infomax.data.errors.DataError` naming the archive and the
member or byte offset.
"""

from __future__ import annotations

import bz2
import lzma
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infomax.data.errors import DataError
from infomax.data.tar_header import checksum_ok, member_name, number, pax_int, pax_records, shown

__all__ = ["TarListing", "TarMember", "is_tar", "list_tar", "member_name", "read_tar", "shown"]

_BLOCK = 512
_CHUNK = 1 << 20
_REGULAR = (b"0", b"\0", b"7")
_LINKS = (b"1", b"2")
_UNSCANNED = (b"S", b"M")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
#: Largest GNU long-name or pax record accepted (real ones are a few hundred bytes).
_MAX_RECORD = 1 << 20
#: What the reader may raise on a damaged stream; turned into DataError naming the archive.
_STREAM_ERRORS = (
    *(OSError, EOFError, zlib.error, lzma.LZMAError, ValueError, tarfile.TarError),
    *(IndexError, KeyError, OverflowError),  # from tarfile on a damaged sparse map
)


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


def _scan(
    path: Path, wanted: Callable[[str], bool] | None, links_end_scan: bool = True
) -> Iterator[tuple[TarMember, bytes | None]]:
    """Parse headers; yield each member with its data when ``wanted(name)``.

    Links are neither listed nor read: after the last header, an archive
    holding any raises :class:`_NeedsTarfileError` (unless ``links_end_scan``
    is False), so :mod:`tarfile` (which loops on a negative size) only reads
    archives whose headers passed the checks here. GNU sparse and
    multi-volume members raise it at once.
    """
    reader = _Reader(_chunks(path))
    pax: dict[str, str] = {}
    long_name: str | None = None
    needs_tarfile = False
    while True:
        start = reader.offset
        header = reader.read(_BLOCK)
        if len(header) < _BLOCK and header:
            raise DataError(f"{path} is truncated: a member header ends at byte {reader.offset}")
        if not header.strip(b"\0"):
            if needs_tarfile and links_end_scan:  # every header checked: tarfile may read it
                raise _NeedsTarfileError
            return
        try:
            header_ok = checksum_ok(header)
            size, mtime = number(header[124:136]), number(header[136:148])
        except ValueError as exc:
            raise DataError(
                f"{path} is not a tar archive or is corrupt (bad header at byte {start}: {exc})"
            ) from None
        if not header_ok:
            raise DataError(
                f"{path} is not a tar archive or is corrupt (bad header checksum at byte {start})"
            )
        kind = header[156:157]
        if size < 0:
            raise DataError(f"{path} is corrupt: the header at byte {start} gives size {size}")
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if kind in (b"L", b"x"):
            if size > _MAX_RECORD:
                raise DataError(
                    f"{path} is corrupt: the header at byte {start} announces a "
                    f"{size}-byte name record"
                )
            record = reader.read(padded)[:size]
            if len(record) < size:
                raise DataError(f"{path} is truncated: the record at byte {start} ends early")
            if kind == b"L":
                long_name = record.rstrip(b"\0").decode("utf-8", "surrogateescape")
                continue
            try:
                pax = pax_records(record)
                pax_int(pax, "size", 0)
            except ValueError as exc:
                raise DataError(
                    f"{path} is corrupt (the pax header at byte {start}: {exc})"
                ) from None
            continue
        if kind in (b"K", b"g", b"V"):
            _skip(reader, padded, path, start)
            continue
        if kind in _UNSCANNED:
            raise _NeedsTarfileError
        if kind in _LINKS:
            needs_tarfile = True
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if header[257:263] == b"ustar\0":
            prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if prefix:
                name = f"{prefix}/{name}"
        if long_name is not None:
            name = long_name
        name = pax.get("path", name)
        size = pax_int(pax, "size", size)
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        mtime = pax_int(pax, "mtime", mtime)
        pax, long_name = {}, None
        is_dir = kind == b"5" or (kind == b"\0" and name.endswith("/"))
        is_file = kind in _REGULAR and not is_dir
        name = member_name(name, path)
        data = None
        if is_file and wanted is not None and wanted(name):
            data = reader.read(size)
            if len(data) < size:
                raise DataError(f"{path} is truncated: member {shown(name)} ends early")
            _skip(reader, padded - size, path, start)
        else:
            _skip(reader, padded, path, start)
        if name and (is_file or is_dir):
            yield TarMember(name, size if is_file else 0, mtime, is_file, is_dir), data


def _skip(reader: _Reader, n: int, path: Path, start: int) -> None:
    """Skip ``n`` bytes of member data; the archive must hold them."""
    before = reader.offset
    reader.skip(n)
    if reader.offset - before < n:
        raise DataError(f"{path} is truncated: the member at byte {start} ends early")


def _tarfile_members(
    path: Path, wanted: Callable[[str], bool] | None
) -> Iterator[tuple[TarMember, bytes | None]]:
    try:
        archive = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except _STREAM_ERRORS as exc:
        raise DataError(f"cannot open {path} as a tar archive: {_reason(exc)}") from None
    with archive:
        for info in archive:
            if info.size < 0:
                raise DataError(f"{path} is corrupt: member {shown(info.name)} has a negative size")
            name = member_name(info.name, path)
            is_file = info.isfile() or info.issym() or info.islnk()
            if not name or not (is_file or info.isdir()):
                continue
            data = None
            if is_file and wanted is not None and wanted(name):
                try:
                    # A link resolves to an earlier member of this archive, never to a disk file.
                    handle = archive.extractfile(info)
                    data = handle.read() if handle is not None else None
                except (*_STREAM_ERRORS, KeyError, RecursionError) as exc:
                    raise DataError(
                        f"cannot read member {shown(name)} of {path}: {_reason(exc)}"
                    ) from None
                if data is None:
                    continue
            member = TarMember(name, max(info.size, 0), int(info.mtime), is_file, info.isdir())
            yield member, data


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def list_tar(path: Path) -> TarListing:
    """List an archive's file and directory members in archive order.

    Raises:
        DataError: not a tar archive, truncated, corrupt, or holding a member
            whose name is absolute or leaves the archive's root.
    """
    try:
        try:
            return TarListing([m for m, _ in _scan(path, None)], use_tarfile=False)
        except _NeedsTarfileError:
            return TarListing([m for m, _ in _tarfile_members(path, None)], use_tarfile=True)
    except DataError:
        raise
    except _STREAM_ERRORS as exc:
        raise DataError(f"cannot read {path} as a tar archive: {_reason(exc)}") from None


def read_tar(
    path: Path, wanted: Callable[[str], bool], use_tarfile: bool = False
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for the regular-file members with ``wanted(name)``, in archive order.

    Args:
        path: the archive.
        wanted: which members to read (the rest are skipped).
        use_tarfile: read with :mod:`tarfile` (as :func:`list_tar` reported).

    Raises:
        DataError: the archive is corrupt or truncated, or a member's name is
            absolute or leaves the archive's root.
    """
    members = _tarfile_members(path, wanted) if use_tarfile else _scan(path, wanted, False)
    try:
        for member, data in members:
            if data is not None:
                yield member.name, data
    except DataError:
        raise
    except _NeedsTarfileError:
        raise DataError(
            f"{path} holds GNU sparse or multi-volume members: read it with the use_tarfile "
            "that list_tar reports"
        ) from None
    except _STREAM_ERRORS as exc:
        raise DataError(f"cannot read {path} as a tar archive: {_reason(exc)}") from None

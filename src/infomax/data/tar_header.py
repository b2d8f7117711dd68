"""The fields of a tar header and member names, parsed as untrusted input.

Every parser here raises ``ValueError`` on a malformed field (the reader in
:mod:`infomax.data.tar` turns it into a :class:`~infomax.data.errors.DataError`
naming the archive and the byte offset), and :func:`member_name` refuses a
name that is absolute or climbs out of the archive's root.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from infomax.data.errors import DataError

__all__ = ["checksum_ok", "member_name", "number", "pax_int", "pax_records", "shown"]

_DRIVE = re.compile(r"^[A-Za-z]:/")


def number(field: bytes) -> int:
    """A numeric header field: octal text, or GNU base-256 (two's complement when negative)."""
    if field[:1] and field[0] & 0x80:  # GNU base-256 for large values
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = field.split(b"\0", 1)[0].strip()
    if text and not text.isdigit() or b"8" in text or b"9" in text:
        raise ValueError(f"bad number field {field!r}")
    return int(text, 8) if text else 0


def shown(name: str) -> str:
    """A member name as messages print it: one line, undecodable bytes and controls escaped."""
    raw = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in raw)


def member_name(name: str, path: Path) -> str:
    """Normalise a member name; refuse one that is absolute or leaves the archive's root.

    Returns:
        The name with ``./``, ``//`` and inner ``..`` resolved ("" for the root itself).

    Raises:
        DataError: an absolute name (``/x``, ``C:/x``), one that climbs out
            of the root (``../x``, ``a/../../x``), or one holding a NUL byte.
    """
    text = name.replace("\\", "/")
    if "\0" in text:
        raise DataError(f"{path} holds a member whose name has a NUL byte ({shown(name)}); refused")
    if text.startswith("/") or _DRIVE.match(text):
        raise DataError(
            f"{path} holds member {shown(name)} with an absolute path; refused (an archive "
            "of an image folder names its members relative to the folder)"
        )
    normal = posixpath.normpath(text) if text else "."
    if normal == ".." or normal.startswith("../"):
        raise DataError(
            f"{path} holds member {shown(name)}, which points outside the archive's root; "
            "refused (repack the archive without '..' in member names)"
        )
    return "" if normal == "." else normal


def pax_records(data: bytes) -> dict[str, str]:
    """Parse ``"<length> <key>=<value>\\n"`` records; ValueError on a malformed one."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos:].strip(b"\0"):
        space = data.find(b" ", pos)
        digits = data[pos:space]
        if space < 0 or not digits.isdigit():
            raise ValueError(f"bad pax record at {pos}")
        length = int(digits)
        if length <= space - pos or pos + length > len(data) or data[pos + length - 1] != 10:
            raise ValueError(f"bad pax record length at {pos}")
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def pax_int(records: dict[str, str], key: str, default: int) -> int:
    if key not in records:
        return default
    value = records[key]
    if key == "mtime":
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return default
    if not value.isdigit():
        raise ValueError(f"bad pax {key} {value!r}")
    return int(value)


def checksum_ok(header: bytes) -> bool:
    """The stored checksum matches the unsigned (or, as old tars wrote, signed) byte sum."""
    stored = number(header[148:156])
    unsigned = sum(header) - sum(header[148:156]) + 256
    high = sum(1 for b in header[:148] + header[156:] if b >= 128)
    return stored in (unsigned, unsigned - 256 * high)

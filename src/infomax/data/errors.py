"""The one error type of :mod:`infomax.data`."""

from __future__ import annotations

from infomax.validation import InputError

__all__ = ["DataError"]


class DataError(InputError):
    """Bad or unreadable data: a corrupt image, an empty folder, mixed sizes, ...

    The message is one line and names the file, archive member or folder at
    fault. A subclass of :class:`infomax.validation.InputError` (and so of
    ``ValueError``), so the command line reports it as ``infomax: error: ...``.
    """

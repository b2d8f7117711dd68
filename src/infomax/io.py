"""Reading arrays from data files named on the command line.

A *spec* names a file and, optionally, what to take from it:

- ``data.npy``: the array in a NumPy ``.npy`` file;
- ``data.npz:key``: one array of an ``.npz`` archive (the key may be left out
  when the archive holds exactly one array);
- ``data.csv``, ``data.tsv``: every column of a comma- or tab-separated file
  of numbers (a header row is detected and skipped);
- ``data.csv:a,b`` or ``data.csv:0,2``: the named columns, by header name or
  0-based index.

Reading a data file never runs code: ``.npy``/``.npz`` files are opened with
``allow_pickle=False``, and a file holding pickled Python objects is refused.
Every problem raises :class:`~infomax.validation.InputError` with a one-line
message.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import numpy as np

from infomax.validation import InputError

__all__ = ["load_array"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_PROTOCOL_2_PLUS = b"\x80"
_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv")
_MAX_LISTED = 10


def _pickle_error(what: str) -> InputError:
    return InputError(
        f"{what} holds pickled Python objects; infomax never unpickles data files "
        "(unpickling can run arbitrary code); save a numeric array instead, e.g. "
        "np.save(path, array.astype(np.float32))"
    )


def _quoted_list(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... ({len(names)} in all)"
    return shown


def _split_spec(spec: str) -> tuple[str, str | None]:
    """Split ``path[:selector]``; a path that exists as given is never split."""
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    head, selector = spec.rsplit(":", 1)
    if Path(head).suffix.lower() in _EXTENSIONS:
        return head, selector
    return spec, None


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"{path} is a directory, not a data file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path} is empty (0 bytes)")


def _read_head(path: str, size: int = 8) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _load_npy(path: str) -> np.ndarray:
    head = _read_head(path)
    if not head.startswith(_NPY_MAGIC):
        if head[:1] == _PICKLE_PROTOCOL_2_PLUS:
            raise _pickle_error(path)
        raise InputError(f"{path} is not a NumPy .npy file (no .npy header)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _pickle_error(path) from None
        raise InputError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _load_npz(path: str, key: str | None) -> np.ndarray:
    head = _read_head(path, 4)
    if head not in _ZIP_MAGIC:
        if head[:1] == _PICKLE_PROTOCOL_2_PLUS:
            raise _pickle_error(path)
        raise InputError(f"{path} is not a NumPy .npz archive (not a zip file)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    with archive:
        keys = list(archive.files)
        if not keys:
            raise InputError(f"{path} holds no arrays")
        if key is None:
            if len(keys) != 1:
                raise InputError(
                    f"{path} holds {len(keys)} arrays ({_quoted_list(keys)}); "
                    f"pick one with {path}:KEY"
                )
            key = keys[0]
        elif key not in keys:
            raise InputError(f"{path} has no array {key!r}; available: {_quoted_list(keys)}")
        try:
            return archive[key]
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise _pickle_error(f"{path}:{key}") from None
            raise InputError(f"cannot read {path}:{key}: {' '.join(str(exc).split())}") from None
        except (OSError, zipfile.BadZipFile) as exc:
            raise InputError(f"cannot read {path}:{key}: {' '.join(str(exc).split())}") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


Row = tuple[int, list[str]]


def _read_rows(path: str, delimiter: str) -> tuple[Row | None, list[Row]]:
    """Read a delimited file into ``(line number, fields)`` rows.

    Blank lines and ``#`` comment lines are skipped. A comment line before the
    first data row is returned separately: ``np.savetxt`` writes its header
    as a ``# `` comment, so it may be the header.
    """
    leading_comment: Row | None = None
    rows: list[Row] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            for fields in reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue  # a blank line (a line of bare delimiters is a row of gaps)
                first = fields[0].lstrip()
                if first.startswith("#"):
                    if not rows and leading_comment is None:
                        leading_comment = (reader.line_num, [first[1:], *fields[1:]])
                    continue
                rows.append((reader.line_num, fields))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise InputError(f"cannot parse {path}: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return leading_comment, rows


def _split_header(leading_comment: Row | None, rows: list[Row]) -> tuple[Row | None, list[Row]]:
    """Detect the header row and return ``(header, data rows)``.

    The first row is a header when it holds a non-numeric field and either
    every field is non-numeric, there is no second row, or the second row
    holds a number under one of the first row's non-numeric fields (so a text
    column of data is not mistaken for a header). Failing that, a leading
    ``#`` comment with as many fields as the data, not all numeric, is the
    header.
    """
    first = rows[0][1]
    text = [j for j, field in enumerate(first) if not _is_number(field)]
    if text:
        second = rows[1][1] if len(rows) > 1 else None
        if (
            len(text) == len(first)
            or second is None
            or any(j < len(second) and _is_number(second[j]) for j in text)
        ):
            return rows[0], rows[1:]
    if leading_comment is not None:
        fields = leading_comment[1]
        if len(fields) == len(first) and not all(_is_number(f) for f in fields):
            return leading_comment, rows
    return None, rows


def _select_columns(
    path: str, header: list[str] | None, n_columns: int, selector: str | None
) -> list[int]:
    if selector is None:
        return list(range(n_columns))
    tokens = [t.strip() for t in selector.split(",")]
    if not all(tokens):
        raise InputError(f"{path}: empty column name in {selector!r}")
    picked = []
    for token in tokens:
        if header is not None and token in header:
            picked.append(header.index(token))
            continue
        if token.isdigit() and int(token) < n_columns:
            picked.append(int(token))
            continue
        if header is not None:
            raise InputError(
                f"{path} has no column {token!r}; columns: {_quoted_list(header)} "
                f"(or 0-based indices 0-{n_columns - 1})"
            )
        raise InputError(
            f"{path} has no column {token!r}; it has no header row, so pick columns by "
            f"0-based index 0-{n_columns - 1}"
        )
    return picked


def _column_labels(header: list[str] | None, indices: list[int]) -> str:
    """``column 'b'`` / ``columns 'a', 'c'`` by header name, else by 0-based index."""
    names = [
        repr(header[j]) if header is not None and header[j] else str(j)
        for j in indices[:_MAX_LISTED]
    ]
    if len(indices) > _MAX_LISTED:
        names.append(f"... ({len(indices)} in all)")
    return ("column " if len(indices) == 1 else "columns ") + ", ".join(names)


def _load_delimited(path: str, selector: str | None, delimiter: str) -> np.ndarray:
    leading_comment, rows = _read_rows(path, delimiter)
    if not rows:
        what = "a header row but no data rows" if leading_comment else "no data rows"
        raise InputError(f"{path} is empty ({what})")
    header_row, data = _split_header(leading_comment, rows)
    if not data:
        raise InputError(f"{path} has a header row but no data rows")
    header = [f.strip() for f in header_row[1]] if header_row is not None else None
    reference_line, reference = header_row if header_row is not None else data[0]
    n_columns = len(reference)
    for line, fields in data:
        if len(fields) != n_columns:
            raise InputError(
                f"{path}: line {line} has {len(fields)} fields, expected {n_columns} "
                f"(as on line {reference_line}); all rows must have the same length"
            )
    columns = _select_columns(path, header, n_columns, selector)
    table = [[fields[j].strip() for j in columns] for _, fields in data]
    try:
        return np.array(table, dtype=np.float64).reshape(len(table), len(columns))
    except ValueError:
        pass
    # Something did not parse: find out what, to name it.
    empty: list[tuple[int, int]] = []
    bad: dict[int, tuple[int, str]] = {}
    for (line, _), values in zip(data, table, strict=True):
        for position, value in enumerate(values):
            if not value:
                empty.append((line, columns[position]))
            elif columns[position] not in bad and not _is_number(value):
                bad[columns[position]] = (line, value)
    if bad:
        indices = sorted(bad)
        line, value = bad[indices[0]]
        verb = "is" if len(indices) == 1 else "are"
        hint = f"; pick numeric columns with {path}:COL1,COL2" if selector is None else ""
        raise InputError(
            f"{path}: {_column_labels(header, indices)} {verb} not numeric "
            f"(e.g. {value!r} on line {line}){hint}"
        )
    line, column = empty[0]
    raise InputError(
        f"{path} has {len(empty)} empty field{'' if len(empty) == 1 else 's'} "
        f"(missing values; first on line {line}, "
        f"{_column_labels(header, [column])})"
    )


def load_array(spec: str) -> np.ndarray:
    """Load the array a spec names (see the module docstring for the forms).

    Args:
        spec: ``path.npy``, ``path.npz[:key]``, ``path.csv[:col1,col2]`` or
            ``path.tsv[:col1,col2]``.

    Returns:
        The array as stored for ``.npy``/``.npz`` files; a float64 array of
        shape (rows, columns) for ``.csv``/``.tsv`` files.

    Raises:
        InputError: a missing, empty or unreadable file; an unknown extension;
            a missing ``.npz`` key (the message lists the available keys);
            pickled objects in a ``.npy``/``.npz`` file; ragged rows, empty
            fields or non-numeric selected columns in a CSV/TSV file.
    """
    path, selector = _split_spec(spec)
    extension = Path(path).suffix.lower()
    if extension not in _EXTENSIONS:
        shown = f"unknown file type {extension!r}" if extension else "no file extension"
        raise InputError(
            f"cannot read {path}: {shown}; use .npy, .npz (path.npz:KEY), "
            ".csv or .tsv (path.csv:COL1,COL2)"
        )
    _check_file(path)
    if extension == ".npy":
        if selector is not None:
            raise InputError(
                f"{spec}: a .npy file holds a single array, so it takes no ':{selector}' "
                "(keys are for .npz, columns for .csv/.tsv)"
            )
        return _load_npy(path)
    if extension == ".npz":
        return _load_npz(path, selector or None)
    return _load_delimited(path, selector, "," if extension == ".csv" else "\t")

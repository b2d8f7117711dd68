"""Checks on user-supplied arrays, with one-line errors that name the problem.

Every estimator runs its inputs through :func:`validate_pair` (and
:func:`validate_conditioning` for a conditioning array) before anything
reaches torch, so bad input stops with a message such as
``X has 3 rows with NaN or inf (first at row 17)`` rather than a traceback
from deep inside a training loop or, worse, a silently wrong number.

This module depends on numpy only; torch tensors are recognised without
importing torch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "check_fraction",
    "heldout_count",
    "validate_conditioning",
    "validate_pair",
    "validate_rows",
    "validate_subviews",
]

#: How many offending column indices an error message lists before summarising.
_MAX_LISTED = 10


class InputError(ValueError):
    """Bad user input. The message is one line that names the problem."""


def _list_indices(indices: Sequence[int]) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:_MAX_LISTED])
    if len(indices) > _MAX_LISTED:
        shown += f", ... ({len(indices)} in all)"
    return shown


def _to_numpy(data: Any, name: str) -> np.ndarray:
    """Turn a numpy array, torch tensor or (nested) list into a numpy array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(data, torch.Tensor):
        tensor = data.detach().cpu()
        if tensor.is_complex():
            raise InputError(f"{name} is complex ({tensor.dtype}); pass real numbers")
        if tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.float()
        return tensor.numpy()
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, (str, bytes)):
        raise InputError(f"{name} is a string, not an array of numbers")
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as exc:
        # Ragged nested lists, e.g. [[1, 2], [3]].
        raise InputError(
            f"{name} cannot be read as a rectangular array (rows of different lengths?): "
            f"{' '.join(str(exc).split())}"
        ) from None


def _as_float_matrix(data: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert to a 2-D float32 array; also return the array before the cast.

    Raises:
        InputError: non-numeric or complex dtype, more than 2 dimensions, a
            scalar, or no elements.
    """
    raw = _to_numpy(data, name)
    kind = raw.dtype.kind
    if kind == "c":
        raise InputError(f"{name} is complex ({raw.dtype}); pass real numbers")
    if kind not in "biuf":
        raise InputError(
            f"{name} has non-numeric dtype {raw.dtype}; pass numbers (int or float), "
            "e.g. by dropping text columns"
        )
    if raw.ndim == 0:
        raise InputError(f"{name} is a single number; pass an array of samples")
    if raw.ndim > 2:
        raise InputError(
            f"{name} must be 1-D or 2-D (samples x features), got shape {tuple(raw.shape)}; "
            "flatten the feature dimensions first"
        )
    if raw.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(raw.shape)})")
    if raw.ndim == 1:
        raw = raw[:, None]
    with np.errstate(over="ignore"):
        matrix = np.ascontiguousarray(raw, dtype=np.float32)
    return matrix, raw


def _check_finite(matrix: np.ndarray, raw: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(matrix).all(axis=1)
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    if raw.dtype.kind == "f" and raw.dtype.itemsize > 4:
        raw_bad = ~np.isfinite(raw).all(axis=1)
        if not raw_bad.any():
            raise InputError(
                f"{name} has {rows.size} rows with values too large for float32 "
                f"(|value| > {float(np.finfo(np.float32).max):.3g}; first at row {rows[0]}); "
                "rescale the data"
            )
        rows = np.flatnonzero(raw_bad)
    raise InputError(f"{name} has {rows.size} rows with NaN or inf (first at row {rows[0]})")


def _check_not_constant(matrix: np.ndarray, name: str) -> None:
    constant = np.flatnonzero((matrix == matrix[0]).all(axis=0))
    if constant.size == 0:
        return
    if constant.size == 1:
        what = f"column {constant[0]} is constant"
    else:
        what = f"columns {_list_indices(constant.tolist())} are constant"
    raise InputError(
        f"{name} {what} (0-based; the same value in every row); "
        "a constant carries no information, drop it"
    )


def validate_pair(
    x: Any,
    y: Any,
    *,
    min_samples: int,
    names: tuple[str, str] = ("X", "Y"),
    reason: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Check a paired sample ``(x, y)`` and return it as float32 matrices.

    Args:
        x: samples of the first variable, shape (N,) or (N, d_x): a numpy
            array, torch tensor or nested list.
        y: samples of the second variable, shape (N,) or (N, d_y), paired
            row by row with ``x``.
        min_samples: the fewest rows the caller can work with.
        names: how error messages refer to ``x`` and ``y``.
        reason: why ``min_samples`` are needed, e.g. ``"batch size 128 plus 32
            held-out samples"``; appended to the too-few-samples message.

    Returns:
        ``(x, y)`` as C-contiguous float32 arrays of shapes (N, d_x) and
        (N, d_y); a 1-D input becomes one column.

    Raises:
        InputError: non-numeric, complex or empty input; more than 2
            dimensions; different row counts; rows holding NaN or inf (or
            values beyond float32's range); fewer than ``min_samples`` rows;
            a constant column.
    """
    x_name, y_name = names
    x_mat, x_raw = _as_float_matrix(x, x_name)
    y_mat, y_raw = _as_float_matrix(y, y_name)
    if x_mat.shape[0] != y_mat.shape[0]:
        raise InputError(
            f"{x_name} and {y_name} must have the same number of rows (paired samples): "
            f"{x_name} has {x_mat.shape[0]}, {y_name} has {y_mat.shape[0]}"
        )
    _check_finite(x_mat, x_raw, x_name)
    _check_finite(y_mat, y_raw, y_name)
    n = x_mat.shape[0]
    if n < min_samples:
        why = f" ({reason})" if reason else ""
        raise InputError(
            f"too few samples: {x_name} and {y_name} have {n} rows, "
            f"at least {min_samples} are needed{why}"
        )
    _check_not_constant(x_mat, x_name)
    _check_not_constant(y_mat, y_name)
    return x_mat, y_mat


def validate_rows(data: Any, width: int, *, name: str = "x") -> np.ndarray:
    """Check new rows for a model fitted on ``width``-column data (no pairing, any count).

    Args:
        data: shape (N,) or (N, width): a numpy array, torch tensor or nested list.
        width: the number of columns the model was fitted on.
        name: how error messages refer to ``data``.

    Returns:
        ``data`` as a C-contiguous float32 array of shape (N, width).

    Raises:
        InputError: the problems :func:`validate_pair` reports for one array
            (a constant column is allowed), or a width other than ``width``.
    """
    return _matrix_of_size(
        data, name, 1, width,
        lambda _, raw: f"{name} must have shape (N, {width}) like the rows the model was "
        f"fitted on, got shape {tuple(raw.shape)}",
    )  # fmt: skip


def validate_conditioning(z: Any, n_rows: int, *, name: str = "Z") -> np.ndarray:
    """Check a conditioning array ``z`` paired with ``n_rows`` samples of ``(x, y)``.

    Args:
        z: shape (N,) or (N, d_z): a numpy array, torch tensor or nested list.
        n_rows: the number of rows of ``x`` and ``y``.
        name: how error messages refer to ``z``.

    Returns:
        ``z`` as a C-contiguous float32 array of shape (N, d_z).

    Raises:
        InputError: the same problems :func:`validate_pair` reports, with the
            row count compared against ``n_rows``.
    """
    z_mat = _matrix_of_size(
        z, name, 0, n_rows,
        lambda matrix, _: f"{name} must have one row per sample of X and Y: "
        f"{name} has {matrix.shape[0]} rows, X and Y have {n_rows}",
    )  # fmt: skip
    _check_not_constant(z_mat, name)
    return z_mat


def _matrix_of_size(
    data: Any,
    name: str,
    axis: int,
    size: int,
    problem: Callable[[np.ndarray, np.ndarray], str],
) -> np.ndarray:
    """``data`` as a finite float32 matrix with ``size`` entries along ``axis``.

    Raises:
        InputError: what :func:`_as_float_matrix` refuses; ``problem(matrix, raw input)``
            where the size differs; NaN or inf values.
    """
    matrix, raw = _as_float_matrix(data, name)
    if matrix.shape[axis] != size:
        raise InputError(problem(matrix, raw))
    _check_finite(matrix, raw, name)
    return matrix


def check_fraction(value: float, name: str) -> None:
    """Raise :class:`InputError` unless ``0 < value < 1`` (a share of the rows)."""
    if not 0.0 < value < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1, got {value!r}")


def heldout_count(
    n: int,
    fraction: float,
    *,
    name: str,
    minimum: int,
    parts: tuple[str, str] = ("held-out", "training"),
    unit: str = "rows",
) -> int:
    """How many of ``n`` rows a ``fraction`` holds out, ``round(n * fraction)``, checked.

    Args:
        n: rows.
        fraction: the share held out, in (0, 1).
        name: the option's name, for messages.
        minimum: the fewest rows each part needs.
        parts: what messages call the held-out part and the rest.
        unit: what messages call a row.

    Raises:
        InputError: a fraction outside (0, 1), or one that leaves either part
            with fewer than ``minimum`` rows.
    """
    check_fraction(fraction, name)
    held = int(round(n * fraction))
    if held < minimum or n - held < minimum:
        raise InputError(
            f"{name}={fraction} of {n} {unit} leaves {held} {parts[0]} and {n - held} "
            f"{parts[1]} {unit}; each needs at least {minimum}"
        )
    return held


def _parse_size(item: Any) -> int:
    if isinstance(item, str):
        text = item.strip()
        try:
            return int(text)
        except ValueError:
            raise InputError(
                f"sub-view sizes must be whole numbers, got {text!r}"
                if text
                else "sub-view list has an empty entry (two commas in a row?)"
            ) from None
    if isinstance(item, (bool, np.bool_)):
        raise InputError(f"sub-view sizes must be whole numbers, got {item!r}")
    if isinstance(item, (int, np.integer)):
        return int(item)
    if isinstance(item, (float, np.floating)) and float(item).is_integer():
        return int(item)
    raise InputError(f"sub-view sizes must be whole numbers, got {item!r}")


def validate_subviews(spec: str | Sequence[Any], width: int) -> list[int]:
    """Check nested prefix sub-views ``x[:, :k1] ⊂ x[:, :k2] ⊂ ... ⊂ x``.

    Args:
        spec: the sizes ``k1 < k2 < ...`` as a sequence of ints or a
            comma-separated string such as ``"5,10,15"``. The last sub-view
            is ``x`` itself and is implicit, so every size is below ``width``.
        width: the number of columns of ``x``.

    Returns:
        The sizes as a list of ints.

    Raises:
        InputError: an empty list, a size that is not a whole number, not
            positive, not below ``width``, or not larger than the one before.
    """
    items: Sequence[Any] = spec.split(",") if isinstance(spec, str) else spec
    if isinstance(spec, str) and not spec.strip():
        items = []
    sizes = [_parse_size(item) for item in items]
    if not sizes:
        raise InputError("sub-views: give at least one size, e.g. 5,10 for a 15-column X")
    for size in sizes:
        if size <= 0:
            raise InputError(f"sub-view sizes must be positive, got {size}")
    for before, after in zip(sizes, sizes[1:], strict=False):
        if after <= before:
            raise InputError(
                f"sub-view sizes must be strictly increasing (nested prefixes), "
                f"got {after} after {before}"
            )
    if sizes[-1] >= width:
        raise InputError(
            f"sub-view size {sizes[-1]} is not smaller than X's width ({width} columns); "
            "the last sub-view is X itself and is implicit, so every size must be below "
            f"{width}"
        )
    return sizes

"""The one place where results become strict JSON.

Every command that writes JSON (to stdout, a run folder or ``benchmarks/results``)
goes through :func:`to_jsonable`: numpy scalars and arrays, tensors and paths
become plain Python values, and non-finite floats become ``null`` so that the
output is strict JSON that any parser reads.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dump_json", "to_jsonable", "write_json_atomic"]


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types; NaN and +-inf become ``None``.

    Dicts (keys made strings), lists, tuples, numpy arrays and scalars, torch
    tensors (anything with ``tolist``) and ``os.PathLike`` are converted
    recursively; other values are returned unchanged.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and callable(value.tolist):
        return to_jsonable(value.tolist())
    return value


def dump_json(value: Any, indent: int | None = None) -> str:
    """Strict JSON text of ``value`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(value), indent=indent, allow_nan=False)


def write_json_atomic(path: str | os.PathLike[str], value: Any, indent: int | None = 2) -> Path:
    """Write ``value`` as strict JSON to ``path`` through a temporary file and one rename.

    A process killed mid-write leaves either the old file or the new one, never
    half of either.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(dump_json(value, indent=indent) + "\n")
    os.replace(partial, path)
    return path

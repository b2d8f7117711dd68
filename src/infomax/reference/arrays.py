"""The reference estimators' input: validated float64 copies of the caller's arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from infomax.validation import validate_pair

__all__ = ["float64_matrix", "prepare"]


def float64_matrix(a: Any) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    out = np.asarray(a, dtype=np.float64)
    return out[:, None] if out.ndim == 1 else out


def prepare(x: Any, y: Any, min_samples: int, reason: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 copies of ``x`` (N, d_x) and ``y`` (N, d_y).

    :func:`~infomax.validation.validate_pair` does the checks (and names the problem); the
    values are then read at their own precision, not through its float32 copy.
    """
    validate_pair(x, y, min_samples=min_samples, names=("x", "y"), reason=reason or None)
    return float64_matrix(x), float64_matrix(y)

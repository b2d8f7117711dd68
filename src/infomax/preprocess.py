"""Per-column preprocessing, fitted on the training rows and applied to every row.

MI is invariant to invertible per-coordinate maps, so these change no true
MI; they change what a critic has to learn. The rank (copula) transform
``t -> Phi^{-1}(F_train(t))`` turns heavy-tailed or warped marginals (``y**3``,
``asinh``, ...) into standard normals that an MLP critic handles well.
Fitting on the training rows only keeps the held-out rows out of the fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from infomax.validation import InputError

__all__ = ["RankTransform", "Standardize", "make_preprocess"]


class RankTransform:
    """Per-column copula transform ``t -> Phi^{-1}(F(t))`` fitted on reference rows.

    ``F`` is the mid-rank empirical CDF of the reference column (ties share
    their average rank), clipped to ``[0.5/n, 1 - 0.5/n]`` so the normal
    quantile stays finite. The map is monotone per column, so it
    leaves mutual information unchanged.

    Args:
        reference: (N, d) rows the transform is fitted on.
    """

    def __init__(self, reference: np.ndarray) -> None:
        self.sorted = np.sort(reference, axis=0)

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Transform (M, d) rows; returns float32 (M, d) standard-normal scores."""
        from scipy.special import ndtri

        n = self.sorted.shape[0]
        out = np.empty(data.shape, dtype=np.float64)
        for col in range(data.shape[1]):
            column = self.sorted[:, col]
            # Mid-rank empirical CDF: ties share the average of their ranks.
            left = np.searchsorted(column, data[:, col], side="left")
            right = np.searchsorted(column, data[:, col], side="right")
            out[:, col] = (left + right) / (2.0 * n)
        return ndtri(np.clip(out, 0.5 / n, 1 - 0.5 / n)).astype(np.float32)


class Standardize:
    """Per-column z-scores ``(t - mean) / std`` with the reference rows' moments.

    A constant reference column (``std <= min_std``) keeps its scale (``std`` 1).

    Args:
        reference: (N, d) rows the transform is fitted on; (N, ...) rows are
            standardised per feature.
        min_std: the largest standard deviation treated as constant.
    """

    def __init__(self, reference: np.ndarray, min_std: float = 0.0) -> None:
        self.mean = reference.mean(axis=0)
        self.std = reference.std(axis=0)
        self.std[self.std <= min_std] = 1.0

    def __call__(self, data: np.ndarray) -> np.ndarray:
        """Transform (M, d) (or (M, ...)) rows; returns float32 of the same shape."""
        return ((data - self.mean) / self.std).astype(np.float32)


def make_preprocess(kind: str | None, reference: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The per-column transform ``kind`` fitted on ``reference`` (N, d) rows.

    Args:
        kind: ``rank`` (:class:`RankTransform`), ``standardize`` (:class:`Standardize`),
            or ``None`` / ``"none"`` (only a float32 cast).
        reference: the training rows; other rows are transformed with their statistics.

    Raises:
        InputError: an unknown ``kind``.
    """
    if kind is None or kind == "none":
        return lambda a: a.astype(np.float32)
    if kind == "rank":
        return RankTransform(reference)
    if kind == "standardize":
        return Standardize(reference)
    raise InputError(f"unknown preprocess {kind!r}; choose rank, standardize or none")

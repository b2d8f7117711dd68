"""Nonstationary sources mixed by a random invertible MLP: the data model of TCL.

Hyvärinen & Morioka (2016) identify nonlinearly mixed sources whose
distributions change with an observed label. The generator here draws

* ``n`` independent sources ``s_t`` whose density in the segment (or class)
  ``tau`` of row ``t`` is ``p_{i,tau}(s_i) = q_i(s_i / sigma_i(tau)) / sigma_i(tau)``:
  a Laplace (or Gaussian) source with a standard deviation ``sigma_i(tau)``
  drawn at random for each label and source, log-uniformly in
  ``scale_range``. The log-density is then ``-lambda_i(tau) |s_i|`` (Laplace)
  or ``-lambda_i(tau) s_i^2`` (Gaussian) up to a normaliser, so the
  sufficient statistic the theorem recovers is ``|s_i|`` or ``s_i^2``;
* a random invertible MLP ``f`` with ``L`` layers, each a random orthogonal
  matrix (condition number 1, so no layer shrinks a direction to noise)
  followed by a leaky ReLU with slope ``negative_slope``: ``x_t = f(s_t)``.

Every layer, the first included, carries the nonlinearity, so ``L = 1`` is
already a nonlinear mixture (the paper's ``L = 1`` is linear mixing, where
linear ICA suffices). ``f`` is inverted exactly: a leaky ReLU with a positive
slope is a bijection of the real line and an orthogonal matrix is inverted by
its transpose.

Labels are contiguous segments of equal length by default (TCL proper). With
``contiguous=False`` each row draws its label uniformly and independently: the
auxiliary-variable setting, where any observed discrete ``u`` modulates the
sources and time plays no part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from infomax.validation import InputError

__all__ = [
    "DISTRIBUTIONS",
    "NonstationaryMixture",
    "leaky_relu",
    "make_nonstationary_mixture",
    "segment_labels",
    "sufficient_statistic",
]

#: Source families and their sufficient statistic's name.
DISTRIBUTIONS = ("laplace", "gaussian")


def leaky_relu(z: np.ndarray, negative_slope: float) -> np.ndarray:
    """``z`` where positive, ``negative_slope * z`` elsewhere (elementwise)."""
    return np.where(z > 0, z, negative_slope * z)


def _leaky_relu_inverse(z: np.ndarray, negative_slope: float) -> np.ndarray:
    return np.where(z > 0, z, z / negative_slope)


def sufficient_statistic(sources: np.ndarray, distribution: str = "laplace") -> np.ndarray:
    """The statistic ``q(s)`` whose coefficient the label modulates.

    Args:
        sources: ``(T, n)`` sources.
        distribution: ``"laplace"`` (``|s|``) or ``"gaussian"`` (``s^2``).

    Returns:
        ``(T, n)`` array of ``|s|`` or ``s^2``.
    """
    if distribution == "laplace":
        return np.abs(sources)
    if distribution == "gaussian":
        return np.square(sources)
    raise InputError(
        f"unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}"
    )


def segment_labels(n_rows: int, segment_length: int) -> np.ndarray:
    """Labels ``0, 0, ..., 1, 1, ...``: row ``t`` in segment ``t // segment_length``.

    Args:
        n_rows: number of rows ``T``.
        segment_length: rows per segment (the last segment may be shorter).

    Returns:
        ``(T,)`` int64 labels.
    """
    if segment_length < 1:
        raise InputError(f"segment length must be a positive integer, got {segment_length}")
    if segment_length > n_rows:
        raise InputError(
            f"segment length {segment_length} exceeds the {n_rows} rows; pass a shorter one"
        )
    return np.arange(n_rows, dtype=np.int64) // segment_length


def _random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal ``(n, n)`` matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class NonstationaryMixture:
    """A draw of the TCL data model.

    Attributes:
        x: ``(T, n)`` observations ``f(s)``.
        sources: ``(T, n)`` independent sources ``s``.
        labels: ``(T,)`` int64 label (segment index or auxiliary ``u``) per row.
        stds: ``(K, n)`` standard deviation of source ``i`` under label ``k``.
        weights: the ``L`` orthogonal ``(n, n)`` mixing matrices, first layer first.
        negative_slope: the leaky ReLU's slope for negative inputs.
        distribution: ``"laplace"`` or ``"gaussian"``.
    """

    x: np.ndarray
    sources: np.ndarray
    labels: np.ndarray
    stds: np.ndarray
    weights: tuple[np.ndarray, ...]
    negative_slope: float
    distribution: str

    def mix(self, sources: np.ndarray) -> np.ndarray:
        """``f(s)``: ``(T, n)`` sources to ``(T, n)`` observations."""
        z = np.asarray(sources, dtype=np.float64)
        for weight in self.weights:
            z = leaky_relu(z @ weight.T, self.negative_slope)
        return z

    def unmix(self, x: np.ndarray) -> np.ndarray:
        """``f^-1(x)``: ``(T, n)`` observations back to ``(T, n)`` sources."""
        z = np.asarray(x, dtype=np.float64)
        for weight in reversed(self.weights):
            z = _leaky_relu_inverse(z, self.negative_slope) @ np.linalg.inv(weight).T
        return z

    @property
    def statistic(self) -> np.ndarray:
        """``(T, n)`` sufficient statistics ``q(s)`` of the sources (``|s|`` or ``s^2``)."""
        return sufficient_statistic(self.sources, self.distribution)


def make_nonstationary_mixture(
    n_sources: int = 5,
    n_segments: int = 64,
    segment_length: int = 256,
    n_layers: int = 2,
    *,
    distribution: str = "laplace",
    scale_range: tuple[float, float] = (0.2, 2.0),
    negative_slope: float = 0.2,
    contiguous: bool = True,
    seed: int = 0,
) -> NonstationaryMixture:
    """Draw sources, their segment-wise scales and a random leaky-ReLU MLP mixing.

    Args:
        n_sources: number of sources and of observed dimensions ``n``.
        n_segments: number of labels ``K`` (segments, or values of ``u``).
        segment_length: rows per label; ``T = n_segments * segment_length``.
        n_layers: layers ``L`` of the mixing MLP (each orthogonal map + leaky ReLU).
        distribution: ``"laplace"`` or ``"gaussian"`` sources.
        scale_range: the standard deviations are log-uniform in this range.
        negative_slope: slope of the mixing's leaky ReLU for negative inputs, in (0, 1].
        contiguous: contiguous segments (TCL); ``False`` shuffles the labels over
            rows (an auxiliary variable ``u`` unrelated to time).
        seed: seed of everything drawn.

    Returns:
        The :class:`NonstationaryMixture`.
    """
    if distribution not in DISTRIBUTIONS:
        raise InputError(
            f"unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}"
        )
    if min(n_sources, n_segments, segment_length, n_layers) < 1:
        raise InputError("n_sources, n_segments, segment_length and n_layers must be positive")
    low, high = scale_range
    if not 0 < low <= high:
        raise InputError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
    if not 0 < negative_slope <= 1:
        raise InputError(f"negative_slope must be in (0, 1], got {negative_slope}")
    rng = np.random.default_rng(seed)
    stds = np.exp(rng.uniform(np.log(low), np.log(high), size=(n_segments, n_sources)))
    labels = segment_labels(n_segments * segment_length, segment_length)
    if not contiguous:
        labels = rng.permutation(labels)
    if distribution == "laplace":
        # A Laplace variable with scale b has standard deviation b * sqrt(2).
        unit = rng.laplace(0.0, 1.0 / np.sqrt(2.0), size=(len(labels), n_sources))
    else:
        unit = rng.standard_normal((len(labels), n_sources))
    sources = unit * stds[labels]
    weights = tuple(_random_orthogonal(n_sources, rng) for _ in range(n_layers))
    mixture = NonstationaryMixture(
        x=np.empty((0, n_sources)), sources=sources, labels=labels, stds=stds, weights=weights,
        negative_slope=negative_slope, distribution=distribution,
    )  # fmt: skip
    return replace(mixture, x=mixture.mix(sources))

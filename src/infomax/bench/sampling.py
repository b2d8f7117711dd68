"""Batches of the correlated Gaussian on torch, from a ``torch.Generator``.

``x ~ N(0, I)`` and ``y = rho x + sqrt(1 - rho^2) eps`` coordinate-wise, so that
coordinate pair ``k`` carries ``-0.5 log(1 - rho_k^2)`` nats
(:func:`infomax.distributions.rho_from_mi` inverts it). The benchmarks draw a
fresh batch at every optimiser step on the training device, which
:class:`infomax.distributions.GaussianTask` (NumPy, one seed per call) does
not offer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["gaussian_pairs"]


def gaussian_pairs(
    batch_size: int,
    rho: float | Tensor,
    dim: int | None = None,
    *,
    cubic: bool = False,
    one_draw: bool = False,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw ``x ~ N(0, I)`` and ``y = rho x + sqrt(1 - rho^2) eps`` (``y ** 3`` if cubic).

    Args:
        batch_size: ``B``.
        rho: one correlation for every coordinate (a float, with ``dim``), or a
            (dim,) tensor of per-coordinate correlations, each in ``[0, 1)``.
        dim: width of ``x`` and ``y``; only with a float ``rho``.
        cubic: apply ``y -> y ** 3`` (an invertible map: the MI is unchanged).
        one_draw: draw ``x`` and ``eps`` as one (B, 2 dim) normal tensor (the
            staircase's random stream) instead of two (B, dim) ones, x first.
        generator: random generator, on ``device``.
        dtype: of the samples (default: torch's default dtype).
        device: where to sample.

    Returns:
        ``x`` (B, dim) and ``y`` (B, dim).
    """
    if isinstance(rho, Tensor):
        if dim is not None and dim != rho.shape[0]:
            raise ValueError(f"dim={dim} disagrees with rho of shape {tuple(rho.shape)}")
        dim = rho.shape[0]
        noise_scale: float | Tensor = torch.sqrt(1.0 - rho.square())
    else:
        if dim is None:
            raise ValueError("a float rho needs dim")
        noise_scale = math.sqrt(1.0 - rho * rho)
    draw = {"generator": generator, "dtype": dtype, "device": device}
    if one_draw:
        noise = torch.randn(batch_size, 2 * dim, **draw)
        x, eps = noise[:, :dim], noise[:, dim:]
    else:
        x = torch.randn(batch_size, dim, **draw)
        eps = torch.randn(batch_size, dim, **draw)
    y = rho * x + noise_scale * eps
    if cubic:
        y = y**3
    return x, y

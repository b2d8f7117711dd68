"""Heavy augmentation of each image patch on its own, for CPC on patch grids.

CPC v2 (Hénaff et al., 2020) augments every patch independently, so the
context network cannot solve its task from low-level cues that neighbouring
patches share (colour, exact pixel continuity at the overlaps). :class:`PatchAugment`
takes a batch of normalised patches (N, C, p, p), e.g. from
:meth:`infomax.nets.PatchEncoder.cut`, and for each patch independently draws

* a random crop of ``crop_scale`` of its area with aspect ratio in
  ``crop_ratio``, resized back to p x p (bilinear), mirrored with probability
  ``flip_p``: one affine resampling of the whole batch;
* colour dropping with probability ``drop_p``: one of the RGB channels, chosen
  uniformly, is kept and the other two are set to the data set's mean (0 once
  normalised);
* grayscale with probability ``grayscale_p``: every channel becomes the
  luminance ``0.299 R + 0.587 G + 0.114 B`` (of the pixel values, before
  normalising).

Colour operations are skipped on grey patches. All draws come from torch's
global generator (so a checkpoint of its state resumes the same patches), and
every operation runs batched, with no per-patch Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomax.data.errors import DataError

__all__ = ["PatchAugment", "PatchAugmentConfig"]

_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class PatchAugmentConfig:
    """What :class:`PatchAugment` draws for each patch (see the module docstring).

    Attributes:
        crop_scale: area fraction range of the crop.
        crop_ratio: aspect-ratio (width / height) range of the crop.
        flip_p: probability of a horizontal flip.
        drop_p: probability of keeping one colour channel only.
        grayscale_p: probability of turning the patch grey.
    """

    crop_scale: tuple[float, float] = (0.3, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    drop_p: float = 0.25
    grayscale_p: float = 0.25


def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device)


class PatchAugment(nn.Module):
    """Independent random crop-resize, flip, colour drop and grayscale of each patch.

    Args:
        mean: per-channel mean the patches were normalised with (one value: all channels).
        std: per-channel standard deviation they were divided by.
        **overrides: :class:`PatchAugmentConfig` fields.

    Shapes:
        input and output: (N, C, p, p) float, normalised; C = 1 or 3.

    Raises:
        DataError: an unknown field or a value out of range.
    """

    def __init__(
        self,
        mean: float | Sequence[float] = 0.5,
        std: float | Sequence[float] = 0.5,
        **overrides: Any,
    ) -> None:
        super().__init__()
        known = {f.name for f in fields(PatchAugmentConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise DataError(
                f"unknown patch augmentation option {unknown[0]!r}; options are "
                f"{', '.join(sorted(known))}"
            )
        self.config = replace(PatchAugmentConfig(), **overrides)
        c = self.config
        if (
            not 0 < c.crop_scale[0] <= c.crop_scale[1] <= 1
            or not 0 < c.crop_ratio[0] <= c.crop_ratio[1]
        ):
            raise DataError(
                f"crop_scale must lie in (0, 1] and crop_ratio be positive, low <= high; got "
                f"{c.crop_scale} and {c.crop_ratio}"
            )
        if not all(0 <= p <= 1 for p in (c.flip_p, c.drop_p, c.grayscale_p)):
            raise DataError("flip_p, drop_p and grayscale_p are probabilities in [0, 1]")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).flatten(), False)
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).flatten(), False)

    def extra_repr(self) -> str:
        return f"config={self.config}"

    def crop_flip(self, patches: torch.Tensor) -> torch.Tensor:
        """The random crop (resized back) and flip of each patch, as one affine resampling."""
        c = self.config
        n, device = patches.shape[0], patches.device
        area = _uniform(n, *c.crop_scale, device)
        ratio = torch.exp(_uniform(n, math.log(c.crop_ratio[0]), math.log(c.crop_ratio[1]), device))
        width = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the patch side
        height = torch.sqrt(area / ratio).clamp(max=1.0)
        # centres in affine_grid's [-1, 1] coordinates, drawn so that every sample point
        # stays within the outermost pixel centres (+-(1 - 1/side)): no border padding
        side_h, side_w = patches.shape[-2:]
        cx = (1 - width) * (1 - 1 / side_w) * (2 * torch.rand(n, device=device) - 1)
        cy = (1 - height) * (1 - 1 / side_h) * (2 * torch.rand(n, device=device) - 1)
        flip = torch.where(torch.rand(n, device=device) < c.flip_p, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = width * flip
        theta[:, 0, 2] = cx
        theta[:, 1, 1] = height
        theta[:, 1, 2] = cy
        grid = F.affine_grid(theta, list(patches.shape), align_corners=False)
        return F.grid_sample(
            patches, grid, mode="bilinear", padding_mode="border", align_corners=False
        )

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Augment each patch independently: (N, C, p, p) -> (N, C, p, p), normalised."""
        if patches.ndim != 4 or patches.shape[1] not in (1, 3) or not patches.is_floating_point():
            raise DataError(
                f"PatchAugment expects float patches (N, 1 or 3, p, p), got "
                f"{tuple(patches.shape)} {patches.dtype}"
            )
        x = self.crop_flip(patches)
        if x.shape[1] != 3:
            return x
        n, device = x.shape[0], x.device
        mean, std = self.mean.view(1, -1, 1, 1), self.std.view(1, -1, 1, 1)
        grey = torch.rand(n, device=device) < self.config.grayscale_p
        luma = ((x * std + mean) * torch.tensor(_LUMA, device=device).view(1, 3, 1, 1)).sum(1, True)
        x = torch.where(grey.view(-1, 1, 1, 1), (luma - mean) / std, x)
        drop = torch.rand(n, device=device) < self.config.drop_p
        kept = torch.randint(0, 3, (n,), device=device)
        channel = torch.arange(3, device=device).view(1, 3)
        keep = ~drop.view(-1, 1) | (channel == kept.view(-1, 1))  # (N, 3)
        return x * keep.view(n, 3, 1, 1).to(x.dtype)

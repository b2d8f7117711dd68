"""Batch-wise random views on the training device, with kornia.

:class:`Augment` takes a whole batch (B, C, H, W), uint8 or float in [0, 1],
on any device, and returns float32 views, normalised. Every random operation
draws its parameters for the whole batch at once and runs as batched tensor
operations (crops as one resampling), so there is no per-image Python.

Presets (``Augment(preset, size=32)``; any :class:`AugmentConfig` field can be
overridden by keyword):

========  ===================================================================
none      no randomness: resize to ``size`` if needed, normalise (for probes)
flip      horizontal flip (p = 0.5)
crop      zero-pad 4 pixels, random ``size`` crop, flip: the standard CIFAR
          augmentation
dim       the same light augmentation as ``crop``; DIM needs no heavy views,
          its task is within one image
simclr    random resized crop (scale 0.08-1), flip, colour jitter (0.4, 0.4,
          0.4, 0.1; p = 0.8), grayscale (p = 0.2): SimCLR's CIFAR recipe
          (no blur at 32x32)
cutout    flip, and one random rectangle (2-25% of the area) set to the mean
          colour: a sub-view x' of x for DEMI
========  ===================================================================

The random state is torch's global generator, so a checkpoint that saves
``torch.get_rng_state()`` resumes the same views. kornia is imported when an
:class:`Augment` is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomax.data.errors import DataError
from infomax.data.jitter import FastColorJitter

__all__ = ["PRESETS", "Augment", "AugmentConfig"]


@dataclass(frozen=True)
class AugmentConfig:
    """What :class:`Augment` does, in order: crop, flip, colour jitter, grayscale,
    normalise, erase.

    Attributes:
        crop: "none" (resize to ``size`` if needed), "resized" (random resized
            crop) or "pad" (pad, then random crop).
        crop_scale: area fraction range of a resized crop.
        crop_ratio: aspect-ratio range of a resized crop.
        pad: pixels of zero padding on each side for ``crop="pad"``.
        flip_p: probability of a horizontal flip.
        jitter: brightness, contrast, saturation, hue strengths (torchvision's
            ColorJitter meaning); saturation and hue are skipped on grey input.
        jitter_p: probability of colour jitter.
        grayscale_p: probability of turning an RGB image grey.
        erase_p: probability of erasing one rectangle (random erasing / cutout).
        erase_scale: area fraction range of the erased rectangle.
        erase_ratio: aspect-ratio range of the erased rectangle.
        jitter_impl: "fast" (the default; :class:`~infomax.data.jitter.FastColorJitter`:
            batched arithmetic, hue as a YIQ rotation; cheaper, see BENCHMARKS.md, section
            "Pre-training throughput and the view bottleneck") or
            "kornia" (kornia's ColorJitter, hue through HSV).
    """

    crop: str = "none"
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    pad: int = 4
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    jitter_p: float = 0.0
    grayscale_p: float = 0.0
    erase_p: float = 0.0
    erase_scale: tuple[float, float] = (0.02, 0.25)
    erase_ratio: tuple[float, float] = (0.3, 3.3)
    jitter_impl: str = "fast"


#: Named configurations (see the module docstring).
PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(flip_p=0.0),
    "flip": AugmentConfig(),
    "crop": AugmentConfig(crop="pad"),
    "dim": AugmentConfig(crop="pad"),
    "simclr": AugmentConfig(
        crop="resized", jitter=(0.4, 0.4, 0.4, 0.1), jitter_p=0.8, grayscale_p=0.2
    ),
    "cutout": AugmentConfig(erase_p=1.0),
}


def _channel_values(values: float | Sequence[float], name: str) -> torch.Tensor:
    tensor = torch.as_tensor(values, dtype=torch.float32).flatten()
    if tensor.numel() == 0:
        raise DataError(f"{name} is empty")
    return tensor


class Augment(nn.Module):
    """Random views of a batch, made on the batch's device.

    Args:
        preset: a name in :data:`PRESETS`.
        size: output height and width (an int: square).
        mean: per-channel mean in [0, 1] units subtracted after augmenting
            (e.g. :attr:`ImageDataset.mean`); one value is used for every channel.
        std: per-channel standard deviation divided by.
        **overrides: :class:`AugmentConfig` fields replacing the preset's.

    Shapes:
        input: (B, C, H, W), uint8 (0..255) or float (0..1), C = 1 or 3.
        output: (B, C, size, size) float32, ``(view - mean) / std``.

    Raises:
        DataError: unknown preset or field, or a batch of the wrong shape or type.

    Example:
        >>> augment = Augment("simclr", size=32, mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
        >>> view1, view2 = augment.views(torch.zeros(8, 3, 32, 32, dtype=torch.uint8))
        >>> tuple(view1.shape), view1.dtype
        ((8, 3, 32, 32), torch.float32)
    """

    def __init__(
        self,
        preset: str = "simclr",
        size: int | tuple[int, int] = 32,
        mean: float | Sequence[float] = 0.5,
        std: float | Sequence[float] = 0.5,
        **overrides: Any,
    ) -> None:
        super().__init__()
        if preset not in PRESETS:
            raise DataError(
                f"unknown augmentation preset {preset!r}; use one of {', '.join(PRESETS)}"
            )
        known = {f.name for f in fields(AugmentConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            options = ", ".join(sorted(known))
            raise DataError(f"unknown augmentation option {unknown[0]!r}; options are {options}")
        self.preset = preset
        self.config = replace(PRESETS[preset], **overrides)
        if self.config.crop not in ("none", "resized", "pad"):
            raise DataError(f"crop must be 'none', 'resized' or 'pad', got {self.config.crop!r}")
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        mean_t, std_t = _channel_values(mean, "mean"), _channel_values(std, "std")
        if (std_t <= 0).any():
            raise DataError(f"std must be positive, got {std_t.tolist()}")
        self.register_buffer("mean", mean_t, persistent=False)
        self.register_buffer("std", std_t, persistent=False)
        self._build()

    def _build(self) -> None:
        c = self.config
        self.crop_op: nn.Module | None = None
        self.flip_op: nn.Module | None = None
        self.jitter_rgb: nn.Module | None = None
        self.jitter_grey: nn.Module | None = None
        self.gray_op: nn.Module | None = None
        self.erase_op: nn.Module | None = None
        jitter_on = c.jitter_p > 0 and any(v > 0 for v in c.jitter)
        if not (
            c.crop != "none" or c.flip_p > 0 or jitter_on or c.grayscale_p > 0 or c.erase_p > 0
        ):
            return  # nothing random: no need to import kornia
        import kornia.augmentation as K

        if c.crop == "resized":
            self.crop_op = K.RandomResizedCrop(
                self.size, scale=c.crop_scale, ratio=c.crop_ratio, cropping_mode="resample"
            )
        elif c.crop == "pad":
            self.crop_op = K.RandomCrop(self.size, padding=c.pad, cropping_mode="resample")
        self.flip_op = K.RandomHorizontalFlip(p=c.flip_p) if c.flip_p > 0 else None
        b, k, s, h = c.jitter
        if c.jitter_impl not in ("fast", "kornia"):
            raise DataError(f"jitter_impl must be 'fast' or 'kornia', got {c.jitter_impl!r}")
        jitter = FastColorJitter if c.jitter_impl == "fast" else K.ColorJitter
        self.jitter_rgb = jitter(b, k, s, h, p=c.jitter_p) if jitter_on else None
        grey_active = c.jitter_p > 0 and (b > 0 or k > 0)
        self.jitter_grey = jitter(b, k, 0.0, 0.0, p=c.jitter_p) if grey_active else None
        self.gray_op = K.RandomGrayscale(p=c.grayscale_p) if c.grayscale_p > 0 else None
        self.erase_op = (
            K.RandomErasing(scale=c.erase_scale, ratio=c.erase_ratio, value=0.0, p=c.erase_p)
            if c.erase_p > 0
            else None
        )

    def extra_repr(self) -> str:
        return f"preset={self.preset!r}, size={self.size}, config={self.config}"

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise DataError(f"Augment expects a batch (B, C, H, W), got {shape}")
        if x.shape[1] not in (1, 3):
            raise DataError(f"Augment expects 1 or 3 channels, got {x.shape[1]} (B, C, H, W)")
        if self.mean.numel() not in (1, x.shape[1]) or self.std.numel() not in (1, x.shape[1]):
            raise DataError(
                f"mean/std have {self.mean.numel()}/{self.std.numel()} values for "
                f"{x.shape[1]} channels"
            )
        if x.dtype == torch.uint8:
            return x.float().div_(255.0)
        if x.is_floating_point():
            return x.float()
        raise DataError(f"Augment expects uint8 or float images, got {x.dtype}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One random view of each image: (B, C, H, W) -> (B, C, size, size) float32."""
        x = self._check(x)
        rgb = x.shape[1] == 3
        if self.crop_op is not None:
            x = self.crop_op(x)
        elif tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(
                x, size=self.size, mode="bilinear", align_corners=False, antialias=True
            )
        if self.flip_op is not None:
            x = self.flip_op(x)
        jitter = self.jitter_rgb if rgb else self.jitter_grey
        if jitter is not None:
            x = jitter(x)
        if self.gray_op is not None and rgb:
            x = self.gray_op(x)
        x = (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        if self.erase_op is not None:
            x = self.erase_op(x)
        return x

    def views(self, x: torch.Tensor, n: int = 2) -> list[torch.Tensor]:
        """``n`` independent views of each image, made in one batched pass.

        Returns:
            ``n`` tensors (B, C, size, size); view ``i`` of image ``j`` is ``out[i][j]``.
        """
        if n < 1:
            raise DataError(f"n must be at least 1, got {n}")
        x = self._check(x)
        return list(self(x.repeat(n, 1, 1, 1)).chunk(n))

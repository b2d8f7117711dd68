"""Batched colour jitter with a linear hue rotation: the cheap replacement for kornia's.

Most of the time of kornia's ``ColorJitter`` goes to the hue step (an RGB ->
HSV -> RGB round trip per pixel). :class:`FastColorJitter` does the same four
adjustments as batched tensor arithmetic, with hue as a rotation of the chroma
plane in YIQ space: one 3x3 matrix per image, ``I' = I cos(theta) - Q sin(theta)``,
``Q' = I sin(theta) + Q cos(theta)``, ``theta = 2 pi h``. For hue shifts this
is the classic linear approximation of the HSV rotation; it keeps luma
(before clamping to [0, 1]) and differs from HSV's result mostly on saturated
colours.

Order (fixed): brightness, contrast, saturation, hue, clamping to [0, 1]
after each, as torchvision's defaults would in that order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["FastColorJitter"]

# RGB <-> YIQ (NTSC)
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)
_LUMA = torch.tensor([0.299, 0.587, 0.114])


class FastColorJitter(nn.Module):
    """Random brightness, contrast, saturation and hue, per image, in one batched pass.

    Args:
        brightness: factor drawn from ``[1 - b, 1 + b]``, multiplies the image.
        contrast: factor from ``[1 - c, 1 + c]``, blends with the image's mean luma.
        saturation: factor from ``[1 - s, 1 + s]``, blends with the grey image
            (RGB only).
        hue: shift drawn from ``[-h, h]`` turns (h <= 0.5), a YIQ chroma
            rotation (RGB only).
        p: probability that an image is jittered at all.

    Shapes:
        (B, C, H, W) float in [0, 1], C = 1 or 3 -> the same.
    """

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        hue: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__()
        if min(brightness, contrast, saturation, hue) < 0 or hue > 0.5 or not 0 <= p <= 1:
            raise ValueError(
                f"jitter strengths must be >= 0 (hue <= 0.5) and 0 <= p <= 1, got "
                f"{(brightness, contrast, saturation, hue)}, p={p}"
            )
        self.brightness, self.contrast = float(brightness), float(contrast)
        self.saturation, self.hue, self.p = float(saturation), float(hue), float(p)

    @staticmethod
    def _factor(strength: float, n: int, like: torch.Tensor) -> torch.Tensor:
        return 1 + (torch.rand(n, 1, 1, 1, device=like.device) * 2 - 1) * strength

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, channels = x.shape[0], x.shape[1]
        apply = (torch.rand(n, 1, 1, 1, device=x.device) < self.p).to(x.dtype)
        out = x
        if self.brightness > 0:
            factor = self._factor(self.brightness, n, x)
            out = (out * (1 + apply * (factor - 1))).clamp_(0, 1)
        luma_weights = _LUMA.to(x) if channels == 3 else torch.ones(1, device=x.device)
        if self.contrast > 0:
            factor = 1 + apply * (self._factor(self.contrast, n, x) - 1)
            luma = torch.einsum("bchw,c->bhw", out, luma_weights).mean((1, 2))
            mean = luma.view(n, 1, 1, 1)
            out = (factor * out + (1 - factor) * mean).clamp_(0, 1)
        if channels == 3 and self.saturation > 0:
            factor = 1 + apply * (self._factor(self.saturation, n, x) - 1)
            grey = torch.einsum("bchw,c->bhw", out, luma_weights).unsqueeze(1)
            out = (factor * out + (1 - factor) * grey).clamp_(0, 1)
        if channels == 3 and self.hue > 0:
            theta = (torch.rand(n, device=x.device) * 2 - 1) * self.hue * 2 * math.pi
            theta = theta * apply.view(n)
            cos, sin = torch.cos(theta), torch.sin(theta)
            rotation = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
            rotation[:, 0, 0] = 1
            rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
            rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
            matrix = _YIQ_TO_RGB.to(x) @ rotation @ _RGB_TO_YIQ.to(x)  # (n, 3, 3)
            out = torch.einsum("bij,bjhw->bihw", matrix, out).clamp_(0, 1)
        return out

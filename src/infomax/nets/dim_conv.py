"""The DIM paper's DCGAN-style convolutional encoder for 32x32 (and larger) images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from infomax.nets.base import EncoderOutput, ImageEncoder
from infomax.validation import InputError

__all__ = ["NORMS", "DIMConvEncoder"]

#: Normalisation layers the DIM conv net can use (``norm``).
NORMS = ("batch", "layer")


class DIMConvEncoder(ImageEncoder):
    """Deep InfoMax's convolutional encoder (Hjelm et al., 2019, the 32x32 "basic" net).

    Each convolution has kernel 4, stride 2, padding 1, no bias, then
    BatchNorm and ReLU, so it halves the size: for 32x32 input the maps are
    64x16x16, 128x8x8, 256x4x4. The last map is flattened (4096 values) into
    a 1024-unit fully connected layer (BatchNorm, ReLU), then a linear output
    of 64. As in the authors' released configuration for 32x32 images, the
    *local* features for DIM's local objective are the second convolution's
    output (128x8x8: 64 locations, each seeing a 10x10 patch) and the *conv*
    features for probes are the last convolution's (256x4x4).

    Parameters for 32x32 RGB input and the defaults: 4,922,304 = convolutions
    659,328 (weights 658,432, BatchNorm 896) + fc 4,197,376 (Linear 4,195,328,
    BatchNorm 2,048) + output 65,600.

    Args:
        in_channels: image channels.
        image_size: input height and width (an int: square). The convolutions
            need multiples of ``2 ** len(widths)``; other sizes are resized
            (bilinear, inside :meth:`forward`) up to the next multiple, and a
            warning says so.
        out_dim: size of the output ``y``.
        widths: output channels of each convolution.
        fc_dim: units of the fully connected layer.
        local_index: which convolution's output is ``local`` (0-based); None:
            the second to last (index 1 for the default three).
        resize: resize inputs the convolutions cannot take; False: refuse such
            an ``image_size`` with :class:`InputError`.
        norm: "batch" (BatchNorm, the paper's) or "layer": each convolution's
            output normalised over its channels and positions per image
            (``GroupNorm(1, C)``) and the fc layer by ``LayerNorm``, so no
            statistic is shared across the batch (CPC v2's choice for patch
            encoders: BatchNorm lets the patches of a batch exchange information).
            Both have the same parameters.

    Attributes:
        image_size: the (height, width) of the images it is given.
        net_size: the (height, width) the convolutions see (``image_size``
            rounded up to a multiple of ``2 ** len(widths)``).

    Shapes:
        input: (B, in_channels, H, W) float.
        output: :class:`EncoderOutput` with, for 32x32 and the defaults,
        local (B, 128, 8, 8), conv (B, 256, 4, 4), fc (B, 1024), y (B, 64).
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int | Sequence[int] = 32,
        out_dim: int = 64,
        widths: Sequence[int] = (64, 128, 256),
        fc_dim: int = 1024,
        local_index: int | None = None,
        resize: bool = True,
        norm: str = "batch",
    ) -> None:
        if norm not in NORMS:
            raise InputError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        super().__init__(in_channels, image_size)
        self.norm = norm
        widths = tuple(int(w) for w in widths)
        if not widths:
            raise InputError("widths must name at least one convolution")
        factor = 2 ** len(widths)
        h, w = self.image_size
        if not resize and (h % factor or w % factor or h < factor or w < factor):
            raise InputError(
                f"DIMConvEncoder with {len(widths)} stride-2 convolutions needs an image size "
                f"that is a multiple of {factor}, got {h}x{w}"
            )
        h, w = self.resize_to(
            (-(-h // factor) * factor, -(-w // factor) * factor),
            "dim-conv",
            f"sides that are multiples of {factor}",
        )
        if local_index is None:
            local_index = max(len(widths) - 2, 0)
        if not 0 <= local_index < len(widths):
            raise InputError(f"local_index must be in 0..{len(widths) - 1}, got {local_index}")
        self.local_index = local_index
        layers = []
        channels = self.in_channels
        for width in widths:
            layers.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, kernel_size=4, stride=2, padding=1, bias=False),
                    nn.BatchNorm2d(width) if norm == "batch" else nn.GroupNorm(1, width),
                    nn.ReLU(inplace=True),
                )
            )
            channels = width
        self.convs = nn.ModuleList(layers)
        local_scale = 2 ** (local_index + 1)
        self.local_shape = (widths[local_index], h // local_scale, w // local_scale)
        self.conv_shape = (widths[-1], h // factor, w // factor)
        flat = widths[-1] * (h // factor) * (w // factor)
        self.fc = nn.Sequential(
            nn.Linear(flat, fc_dim),
            nn.BatchNorm1d(fc_dim) if norm == "batch" else nn.LayerNorm(fc_dim),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Linear(fc_dim, out_dim)
        self.fc_dim = int(fc_dim)
        self.out_dim = int(out_dim)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        """Encode a batch (B, C, H, W) into local, conv, fc and y features."""
        x = self.prepare(x)
        local = x
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == self.local_index:
                local = x
        fc = self.fc(x.flatten(1))
        return EncoderOutput(local=local, conv=x, fc=fc, y=self.out(fc))

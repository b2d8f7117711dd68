"""A fully connected encoder for small inputs (the 8x8 digits)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from infomax.nets.base import EncoderOutput, ImageEncoder

__all__ = ["MLPEncoder"]


class MLPEncoder(ImageEncoder):
    """Flatten, two hidden layers (Linear, BatchNorm, ReLU), a linear output.

    An MLP has no spatial map: ``local`` and ``conv`` are the first hidden
    layer as a single location, (B, hidden, 1, 1); ``fc`` is the second.

    Parameters for 8x8 grey input and the defaults (hidden=512, out_dim=64):
    34,304 + 263,680 + 32,832 = 330,816 (each hidden layer with its BatchNorm).

    Args:
        in_channels: image channels.
        image_size: input height and width (an int: square).
        out_dim: size of the output ``y``.
        hidden: units of each hidden layer.

    Shapes:
        input: (B, in_channels, H, W) float.
        output: :class:`EncoderOutput` with local and conv (B, hidden, 1, 1),
        fc (B, hidden), y (B, out_dim).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int | Sequence[int] = 8,
        out_dim: int = 64,
        hidden: int = 512,
    ) -> None:
        super().__init__(in_channels, image_size)
        h, w = self.image_size
        self.layer1 = nn.Sequential(
            nn.Linear(self.in_channels * h * w, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
        )
        self.layer2 = nn.Sequential(
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)
        )
        self.out = nn.Linear(hidden, out_dim)
        self.local_shape = (int(hidden), 1, 1)
        self.conv_shape = (int(hidden), 1, 1)
        self.fc_dim = int(hidden)
        self.out_dim = int(out_dim)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        """Encode a batch (B, C, H, W) into local, conv, fc and y features."""
        h1 = self.layer1(self.prepare(x).flatten(1))
        fc = self.layer2(h1)
        first = h1[:, :, None, None]
        return EncoderOutput(local=first, conv=first, fc=fc, y=self.out(fc))

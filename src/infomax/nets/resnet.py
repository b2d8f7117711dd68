"""ResNet-18 for small images (CIFAR): a 3x3 stem and no max-pool."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from infomax.nets.base import EncoderOutput, ImageEncoder
from infomax.validation import InputError

__all__ = ["BasicBlock", "ResNet18"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a shortcut (a 1x1 projection when the shape changes).

    Shapes:
        (B, in_channels, H, W) -> (B, channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet18(ImageEncoder):
    """ResNet-18 (He et al., 2016) in its CIFAR form.

    A 3x3 stride-1 stem convolution (64 channels, BatchNorm, ReLU) and no
    max-pool, then four stages of two basic blocks with 64, 128, 256 and 512
    channels (strides 1, 2, 2, 2), global average pooling to 512 values and a
    linear output. For 32x32 input the stages give 32x32, 16x16, 8x8 and 4x4 maps.

    Parameters for 32x32 RGB input and out_dim=64: 11,201,664 (the network
    11,168,832, the linear output 32,832).

    Args:
        in_channels: image channels.
        image_size: input height and width (an int: square). Any size from
            8 up is taken as it is; a smaller side is resized (bilinear, inside
            :meth:`forward`) to 8, and a warning says so.
        out_dim: size of the output ``y``.
        local_layer: which stage's map is ``local``: "layer3" (256x8x8 for
            32x32 input, the default) or "layer4" (512x4x4).
        resize: resize inputs smaller than 8x8; False: refuse them with
            :class:`InputError`.

    Shapes:
        input: (B, in_channels, H, W) float.
        output: :class:`EncoderOutput` with, for 32x32, local (B, 256, 8, 8),
        conv (B, 512, 4, 4), fc (B, 512), y (B, out_dim).
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int | Sequence[int] = 32,
        out_dim: int = 64,
        local_layer: str = "layer3",
        resize: bool = True,
    ) -> None:
        super().__init__(in_channels, image_size)
        h, w = self.image_size
        if not resize and (h < 8 or w < 8):
            raise InputError(f"ResNet18 needs images of at least 8x8, got {h}x{w}")
        h, w = self.resize_to((max(h, 8), max(w, 8)), "resnet18", "sides of at least 8")
        if local_layer not in ("layer3", "layer4"):
            raise InputError(f"local_layer must be 'layer3' or 'layer4', got {local_layer!r}")
        self.local_layer = local_layer
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, 64, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.out = nn.Linear(512, out_dim)

        def down(n: int, times: int) -> int:
            for _ in range(times):
                n = (n - 1) // 2 + 1
            return n

        self.local_shape = (
            (256, down(h, 2), down(w, 2))
            if local_layer == "layer3"
            else (512, down(h, 3), down(w, 3))
        )
        self.conv_shape = (512, down(h, 3), down(w, 3))
        self.fc_dim = 512
        self.out_dim = int(out_dim)

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        """Encode a batch (B, C, H, W) into local, conv, fc and y features."""
        x = self.prepare(x)
        x = self.layer2(self.layer1(self.stem(x)))
        h3 = self.layer3(x)
        h4 = self.layer4(h3)
        fc = h4.mean(dim=(2, 3))
        local = h3 if self.local_layer == "layer3" else h4
        return EncoderOutput(local=local, conv=h4, fc=fc, y=self.out(fc))

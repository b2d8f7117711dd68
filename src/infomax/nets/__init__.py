"""Encoders for representation learning.

Every encoder is an :class:`ImageEncoder` (the images it takes, the check and
resize of its input) and maps a float batch (B, C, H, W) to an :class:`EncoderOutput`
with ``local``, ``conv``, ``fc`` and ``y`` features, and tells their sizes
without a forward pass (``local_shape``, ``conv_shape``, ``fc_dim``,
``out_dim``), so methods can build their critics and heads up front.

=========  =============================  ====================================
name       class                          for
=========  =============================  ====================================
dim-conv   :class:`DIMConvEncoder`        the DIM paper's 32x32 conv net (4.9M)
resnet18   :class:`ResNet18`              CIFAR ResNet-18 (11.2M)
mlp        :class:`MLPEncoder`            small inputs such as the 8x8 digits
patch-dim  :class:`PatchEncoder`          the DIM conv net on a grid of patches
                                          (CPC on images)
=========  =============================  ====================================
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from torch import nn

from infomax.nets.base import LAYERS, EncoderOutput, ImageEncoder, check_images
from infomax.nets.dim_conv import DIMConvEncoder
from infomax.nets.mlp import MLPEncoder
from infomax.nets.patches import PatchEncoder
from infomax.nets.resnet import BasicBlock, ResNet18
from infomax.validation import InputError

__all__ = [
    "ENCODERS",
    "LAYERS",
    "BasicBlock",
    "DIMConvEncoder",
    "EncoderOutput",
    "ImageEncoder",
    "MLPEncoder",
    "PatchEncoder",
    "ResNet18",
    "check_images",
    "count_parameters",
    "make_encoder",
]

#: Encoder names accepted by :func:`make_encoder`.
ENCODERS: dict[str, type[ImageEncoder]] = {
    "dim-conv": DIMConvEncoder,
    "resnet18": ResNet18,
    "mlp": MLPEncoder,
    "patch-dim": PatchEncoder,
}
_ALIASES = {"dim": "dim-conv", "conv": "dim-conv", "resnet-18": "resnet18"}


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def make_encoder(
    name: str,
    in_channels: int = 3,
    image_size: int | Sequence[int] = 32,
    out_dim: int = 64,
    **options: Any,
) -> nn.Module:
    """Build an encoder by name.

    Args:
        name: "dim-conv" (alias "dim"), "resnet18" or "mlp".
        in_channels: image channels (1 for grey, 3 for colour).
        image_size: input height and width (an int: square).
        out_dim: size of the output representation ``y``.
        **options: further arguments of the encoder's class (e.g.
            ``fc_dim`` for dim-conv, ``local_layer`` for resnet18, ``hidden`` for mlp).

    Returns:
        The encoder; calling it on (B, in_channels, H, W) gives an :class:`EncoderOutput`.

    Raises:
        InputError: an unknown name or option, or sizes the encoder cannot take.

    Example:
        >>> encoder = make_encoder("dim-conv", in_channels=3, image_size=32)
        >>> encoder.local_shape, encoder.conv_shape, encoder.fc_dim, encoder.out_dim
        ((128, 8, 8), (256, 4, 4), 1024, 64)
    """
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in ENCODERS:
        raise InputError(f"unknown encoder {name!r}; use one of {', '.join(ENCODERS)}")
    if not (isinstance(in_channels, int) and in_channels >= 1):
        raise InputError(f"in_channels must be a positive int, got {in_channels!r}")
    if not (isinstance(out_dim, int) and out_dim >= 1):
        raise InputError(f"out_dim must be a positive int, got {out_dim!r}")
    sizes = (image_size,) if isinstance(image_size, int) else tuple(image_size)
    if not all(isinstance(s, int) and s >= 1 for s in sizes):
        raise InputError(
            f"image_size must be a positive int or (height, width), got {image_size!r}"
        )
    cls = ENCODERS[key]
    allowed = set(inspect.signature(cls.__init__).parameters) - {
        "self",
        "in_channels",
        "image_size",
        "out_dim",
    }
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(
            f"encoder {key!r} has no option {unknown[0]!r}; its options are "
            f"{', '.join(sorted(allowed)) or 'none'}"
        )
    return cls(in_channels=in_channels, image_size=image_size, out_dim=out_dim, **options)

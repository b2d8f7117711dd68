"""What every encoder is: the images it takes, the check and resize of its input, its output."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from infomax.validation import InputError

__all__ = [
    "LAYERS",
    "EncoderOutput",
    "ImageEncoder",
    "check_images",
    "fit_input",
    "image_pair",
    "report_resize",
]

_log = logging.getLogger("infomax")

#: Layer names :meth:`EncoderOutput.layer` accepts (the ``--layer`` of a probe).
LAYERS = ("conv", "local", "fc", "y")


@dataclass
class EncoderOutput:
    """The features of one batch at the levels the methods and probes use.

    Attributes:
        local: (B, C_l, H_l, W_l) local feature map: each location sees a
            patch of the input (the map DIM's local objective contrasts with ``y``).
        conv: (B, C_c, H_c, W_c) the last convolutional output (the DIM
            paper's "conv" probe layer); for an MLP, the first hidden layer as
            (B, hidden, 1, 1).
        fc: (B, F) the last hidden vector (DIM: the 1024-unit fc layer;
            ResNet: the pooled 512 vector).
        y: (B, D) the output representation.
    """

    local: torch.Tensor
    conv: torch.Tensor
    fc: torch.Tensor
    y: torch.Tensor

    def layer(self, name: str) -> torch.Tensor:
        """Features of one layer as a (B, features) matrix ("conv" and "local" flattened)."""
        if name not in LAYERS:
            raise InputError(f"unknown layer {name!r}; use one of {', '.join(LAYERS)}")
        value: torch.Tensor = getattr(self, name)
        return value.flatten(1)


def check_images(x: torch.Tensor, channels: int, size: tuple[int, int], who: str) -> None:
    """Raise :class:`InputError` unless ``x`` is a float batch (B, channels, *size)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{who} expects a tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels or tuple(x.shape[2:]) != size:
        raise InputError(
            f"{who} expects images (B, {channels}, {size[0]}, {size[1]}), got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise InputError(
            f"{who} expects float images, got {x.dtype} (convert uint8 with Augment or x / 255)"
        )


def fit_input(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a float batch (B, C, H, W) to (B, C, *size), bilinear; unchanged when it fits.

    Encoders call it on images whose size their layers cannot take (see
    :func:`report_resize`), so the same resize happens in training and in evaluation.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def report_resize(
    name: str, image_size: tuple[int, int], net_size: tuple[int, int], needs: str
) -> None:
    """Log (level WARNING, logger ``infomax``) that an encoder resizes its input, and why.

    Args:
        name: the encoder's name ("dim-conv").
        image_size: the images' (height, width).
        net_size: the (height, width) the layers see.
        needs: what the layers need ("sides that are multiples of 8").
    """
    if image_size == net_size:
        return
    (h, w), (nh, nw) = image_size, net_size
    order = "" if h == w and nh == nw else " (height x width)"
    _log.warning(
        "images are %dx%d%s; %s needs %s, so it resizes them to %dx%d (bilinear, inside the "
        "encoder: the same at training and evaluation; pass --image-size to resize once when "
        "decoding instead)",
        h, w, order, name, needs, nh, nw,
    )  # fmt: skip


def image_pair(size: int | Sequence[int]) -> tuple[int, int]:
    """``(height, width)`` from an int (a square) or a pair."""
    if isinstance(size, int):
        return size, size
    pair = tuple(int(s) for s in size)
    if len(pair) != 2:
        raise InputError(f"image_size must be an int or (height, width), got {size!r}")
    return pair[0], pair[1]


class ImageEncoder(nn.Module):
    """Base class of the encoders: the images they take and the size their layers see.

    A subclass calls ``super().__init__(in_channels, image_size)``, then
    :meth:`resize_to` where its layers need another size than the images',
    builds its layers for :attr:`net_size`, and starts :meth:`forward` with
    :meth:`prepare`. It sets ``local_shape``, ``conv_shape``, ``fc_dim`` and
    ``out_dim`` (see :mod:`infomax.nets`).

    Attributes:
        in_channels: image channels.
        image_size: the (height, width) of the images it is given.
        net_size: the (height, width) its layers see (``image_size`` unless resized).
    """

    def __init__(self, in_channels: int, image_size: int | Sequence[int]) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.image_size = image_pair(image_size)
        self.net_size = self.image_size

    def resize_to(self, net_size: tuple[int, int], name: str, needs: str) -> tuple[int, int]:
        """Have the layers see ``net_size``; log the resize (:func:`report_resize`), if any."""
        self.net_size = net_size
        report_resize(name, self.image_size, net_size, needs)
        return net_size

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Check a float batch (B, in_channels, *image_size) and resize it to :attr:`net_size`."""
        check_images(x, self.in_channels, self.image_size, type(self).__name__)
        return fit_input(x, self.net_size)

"""A patch encoder for CPC on images: one small encoder applied to a grid of overlapping patches."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from infomax.nets.base import EncoderOutput, ImageEncoder
from infomax.nets.dim_conv import DIMConvEncoder
from infomax.validation import InputError

__all__ = ["PatchEncoder"]


class PatchEncoder(ImageEncoder):
    """The DIM conv net applied to every ``patch`` x ``patch`` window (stride ``stride``).

    For a 32x32 image with 8x8 patches at stride 4 the grid is 7x7 (patches
    overlap by half, as in CPC's image setup scaled down from 64-pixel patches
    of 256-pixel images). Each patch goes through a :class:`DIMConvEncoder`
    sized for the patch; the per-patch outputs form grids.

    Args:
        in_channels: image channels.
        image_size: image height and width (an int: square).
        out_dim: size of each patch's embedding (the CPC target ``z``).
        patch: patch side; a multiple of ``2 ** len(widths)``.
        stride: step between patches.
        widths: the per-patch conv net's channels.
        fc_dim: the per-patch conv net's fc width.
        pooled: side of the pooled ``conv`` grid handed to probes.
        resize: resize images the patches do not tile exactly up to the next
            size they do (bilinear, inside :meth:`forward`, with a warning);
            False: refuse such an ``image_size`` with :class:`InputError`.
        norm: the per-patch conv net's normalisation, "batch" or "layer" (see
            :class:`DIMConvEncoder`; "layer" normalises each patch on its own).

    Shapes:
        input: (B, C, H, W) float.
        output: :class:`EncoderOutput` with ``local`` (B, out_dim, G, G), the
        patch embeddings on the grid; ``conv`` (B, widths[-1], pooled, pooled),
        the patch conv features average-pooled over the grid (4096 values for
        the defaults, as many as the DIM conv net's conv layer); ``fc``
        (B, fc_dim) and ``y`` (B, out_dim) averaged over patches.
    """

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int | Sequence[int] = 32,
        out_dim: int = 64,
        patch: int = 8,
        stride: int = 4,
        widths: Sequence[int] = (64, 128, 256),
        fc_dim: int = 1024,
        pooled: int = 4,
        resize: bool = True,
        norm: str = "batch",
    ) -> None:
        super().__init__(in_channels, image_size)
        h, w = self.image_size
        if patch < 1 or stride < 1:
            raise InputError(f"patch and stride must be positive, got {patch} and {stride}")
        if not resize and (patch > min(h, w) or (h - patch) % stride or (w - patch) % stride):
            raise InputError(
                f"patches of {patch} at stride {stride} must tile {h}x{w} exactly "
                "((size - patch) divisible by stride)"
            )

        def tiled(side: int) -> int:
            return patch + -(-max(side - patch, 0) // stride) * stride

        h, w = self.resize_to(
            (tiled(h), tiled(w)),
            "patch-dim",
            f"sides that patches of {patch} at stride {stride} tile exactly",
        )
        self.patch, self.stride = int(patch), int(stride)
        self.grid = ((h - patch) // stride + 1, (w - patch) // stride + 1)
        self.inner = DIMConvEncoder(
            in_channels, patch, out_dim, widths, fc_dim, resize=False, norm=norm
        )
        c, ch, cw = self.inner.conv_shape
        channels = c * ch * cw  # each patch's conv map, flattened
        self.pooled = int(pooled)
        self.local_shape = (int(out_dim), *self.grid)
        self.conv_shape = (channels, self.pooled, self.pooled)
        self.fc_dim = int(fc_dim)
        self.out_dim = int(out_dim)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B * G_h * G_w, C, patch, patch), row-major over the grid."""
        b, c = x.shape[:2]
        windows = x.unfold(2, self.patch, self.stride).unfold(3, self.patch, self.stride)
        return windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, self.patch, self.patch)

    def cut(self, x: torch.Tensor) -> torch.Tensor:
        """Checked images (B, C, H, W) -> their patches, as :meth:`patches` (resized if needed)."""
        return self.patches(self.prepare(x))

    def forward(self, x: torch.Tensor) -> EncoderOutput:
        """Encode every patch; return grids and pooled features (see the class docstring)."""
        return self.encode_patches(self.cut(x))

    def encode_patches(self, patches: torch.Tensor) -> EncoderOutput:
        """:meth:`forward` on patches already cut: (B G_h G_w, C, patch, patch), row-major.

        Lets a method change the patches between cutting and encoding (CPC's
        per-patch augmentation).
        """
        gh, gw = self.grid
        expected = (self.in_channels, self.patch, self.patch)
        if patches.ndim != 4 or tuple(patches.shape[1:]) != expected or len(patches) % (gh * gw):
            raise InputError(
                f"PatchEncoder expects patches (B * {gh * gw}, {', '.join(map(str, expected))}), "
                f"got {tuple(patches.shape)}"
            )
        batch = patches.shape[0] // (gh * gw)
        out = self.inner(patches)

        def grid(t: torch.Tensor) -> torch.Tensor:  # (B G G, F) -> (B, F, G, G)
            return t.reshape(batch, gh, gw, -1).permute(0, 3, 1, 2)

        conv = grid(out.conv.flatten(1))
        conv = F.adaptive_avg_pool2d(conv, self.pooled)
        fc = out.fc.reshape(batch, gh * gw, -1).mean(1)
        return EncoderOutput(local=grid(out.y), conv=conv, fc=fc, y=grid(out.y).mean((2, 3)))

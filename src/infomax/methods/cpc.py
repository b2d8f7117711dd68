"""Contrastive Predictive Coding (van den Oord et al., 2018) on sequences and on images.

**Sequences** (:class:`CPCSequence`):
An encoder ``g_enc`` maps each observation ``x_t`` to ``z_t``; a GRU
``g_ar`` summarises ``z_1..z_t`` into a context ``c_t``; for each prediction
step ``k`` a bilinear map ``W_k`` scores ``f_k(c_t, z) = z^T W_k c_t``. The
InfoNCE loss of step ``k`` asks ``c_t`` to pick the true ``z_{t+k}`` out of
every ``z`` of the batch (all sequences, all time steps), so its MI estimate
``log(B T) - loss_k`` is at most ``log(B T)`` nats. The GRU runs forward
only: ``c_t`` never sees ``x_{t+1}`` or later (tested).

**Images** (:class:`CPCImage`): the image is cut into a grid of overlapping
patches (8x8 at stride 4 on 32x32: a 7x7 grid), a :class:`~infomax.nets.PatchEncoder`
embeds each patch (``z``, the grid of (B, Z, G, G)), and a stack of
row-causal convolutions (each output row sees its own row and the rows above,
all columns: a masked convolution over rows) gives the context ``c``. Step
``k`` predicts the patch ``k`` rows below from ``c`` with ``W_k``; negatives are
every patch of the batch. The same :func:`cpc_step_losses` runs with each grid
column as a sequence over rows.

Options from CPC v2 (Hénaff et al., 2020), off by default: ``directions="all"``
predicts in the four directions (down, up, right, left), each with its own
context stack on the grid turned so that its targets lie below
(:func:`orient`); ``patch_aug=True`` augments each patch on its own; and the
encoder option ``norm="layer"`` (``--encoder-option norm=layer``) replaces the
patch encoder's BatchNorm by per-patch normalisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infomax.data.augment import Augment
from infomax.distributed import gather
from infomax.methods.base import Method, MethodOutput
from infomax.validation import InputError

__all__ = [
    "DIRECTIONS",
    "CPCImage",
    "CPCSequence",
    "RowCausalConv",
    "cpc_step_losses",
    "orient",
    "unorient",
]


def cpc_step_losses(
    context: torch.Tensor, z: torch.Tensor, predictors: nn.ModuleList
) -> list[torch.Tensor]:
    """InfoNCE loss of each prediction step.

    Args:
        context: (B, T, C) contexts ``c_t``.
        z: (B, T, Z) encodings ``z_t``, the candidates.
        predictors: ``predictors[k - 1]`` maps C -> Z for step ``k``.

    Returns:
        One scalar per step ``k = 1..K`` (nats): the mean over ``(b, t)`` with
        ``t + k < T`` of ``-log softmax`` of the true ``z_{b, t+k}`` among all
        ``B T`` encodings.
    """
    batch, length, _ = z.shape
    if len(predictors) >= length:
        raise InputError(f"{len(predictors)} prediction steps need sequences longer than {length}")
    candidates = z.reshape(batch * length, -1)  # (B T, Z)
    losses = []
    for k, predictor in enumerate(predictors, start=1):
        predictions = predictor(context[:, : length - k]).reshape(-1, z.shape[-1])  # (B (T-k), Z)
        logits = predictions @ candidates.T  # (B (T-k), B T)
        rows = torch.arange(batch, device=z.device).repeat_interleave(length - k) * length
        steps = torch.arange(length - k, device=z.device).repeat(batch) + k
        losses.append(F.cross_entropy(logits, rows + steps))
    return losses


class _StepEncoder(nn.Module):
    """The per-step encoder ``g_enc``: an MLP applied to every ``x_t``."""

    def __init__(self, input_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)
        )
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CPCSequence(Method):
    """CPC on (B, T, D) sequences.

    Args:
        input_dim: D, the size of each observation.
        hidden: width of ``g_enc``.
        z_dim: size of ``z_t``.
        context_dim: size of ``c_t`` (the GRU's state).
        steps: number of prediction steps K.

    Shapes:
        input of :meth:`forward`: (B, T, D) float.
        :attr:`MethodOutput.features`: (B T, context_dim) detached contexts,
        row ``b T + t`` for ``c_{b, t}`` (the online probe's input).
        :attr:`MethodOutput.metrics`: ``mi_k1 .. mi_kK`` (nats) per step.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int = 128,
        z_dim: int = 32,
        context_dim: int = 64,
        steps: int = 4,
    ) -> None:
        if steps < 1:
            raise InputError(f"steps must be at least 1, got {steps}")
        super().__init__(_StepEncoder(input_dim, hidden, z_dim), None, probe_layer="context")
        self.input_dim = int(input_dim)
        self.gru = nn.GRU(z_dim, context_dim, batch_first=True)
        self.predictors = nn.ModuleList(
            nn.Linear(context_dim, z_dim, bias=False) for _ in range(steps)
        )

    def contexts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(c, z)``: contexts (B, T, context_dim) and encodings (B, T, z_dim) of (B, T, D)."""
        if x.ndim != 3 or x.shape[2] != self.input_dim:
            raise InputError(
                f"CPC expects sequences (B, T, {self.input_dim}), got {tuple(x.shape)}"
            )
        z = self.encoder(x.float())
        c, _ = self.gru(z)
        return c, z

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """Mean InfoNCE over the prediction steps on one batch (B, T, D)."""
        c, z = self.contexts(views[0])
        features = c.reshape(-1, c.shape[-1]).detach()
        c, z = gather(c), gather(z)  # the global batch under torchrun
        losses = cpc_step_losses(c, z, self.predictors)
        cap = math.log(z.shape[0] * z.shape[1])
        metrics = {f"mi_k{k}": cap - loss.detach() for k, loss in enumerate(losses, start=1)}
        return MethodOutput(torch.stack(losses).mean(), metrics, features)


class RowCausalConv(nn.Module):
    """A 3x3-wide convolution whose output row r sees input rows r - 2 .. r (never below).

    Shapes:
        (B, C_in, G_h, G_w) -> (B, C_out, G_h, G_w).
    """

    def __init__(self, in_channels: int, out_channels: int, rows: int = 3) -> None:
        super().__init__()
        self.rows = rows
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(rows, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pad: 1 column left and right, rows - 1 rows on top, none below
        return self.conv(F.pad(x, (1, 1, self.rows - 1, 0)))


#: Prediction directions of image CPC: the patch k rows below, k rows above, k columns
#: to the right, k columns to the left.
DIRECTIONS = ("down", "up", "right", "left")


def orient(grid: torch.Tensor, direction: str) -> torch.Tensor:
    """Turn a (B, F, G_h, G_w) grid so that ``direction``'s targets lie rows below.

    "down": as is; "up": rows reversed; "right": transposed (columns become
    rows); "left": transposed, then rows reversed. :func:`unorient` undoes it.
    """
    if direction in ("right", "left"):
        grid = grid.transpose(2, 3)
    return grid.flip(2) if direction in ("up", "left") else grid


def unorient(grid: torch.Tensor, direction: str) -> torch.Tensor:
    """The inverse of :func:`orient`: back to the image's own rows and columns."""
    if direction in ("up", "left"):
        grid = grid.flip(2)
    return grid.transpose(2, 3) if direction in ("right", "left") else grid


def _context_stack(
    z_dim: int, context_dim: int, layers: int, steps: int
) -> tuple[nn.Conv2d, nn.ModuleList, nn.ModuleList]:
    """One direction's input projection, row-causal layers and step predictors."""
    inp = nn.Conv2d(z_dim, context_dim, 1)
    context = nn.ModuleList(RowCausalConv(context_dim, context_dim) for _ in range(layers))
    predictors = nn.ModuleList(nn.Linear(context_dim, z_dim, bias=False) for _ in range(steps))
    return inp, context, predictors


class CPCImage(Method):
    """CPC on the patch grid of an image (see the module docstring).

    Args:
        encoder: a :class:`~infomax.nets.PatchEncoder` (``make_encoder("patch-dim")``;
            ``--encoder-option norm=layer`` normalises each patch on its own).
        augment: one view per image (crop and flip by default).
        context_dim: channels of the context network.
        layers: row-causal convolution layers (each with a residual connection).
        steps: rows ahead to predict (K < grid height; with ``directions="all"``,
            also K < grid width).
        probe_layer: encoder layer handed to the online probe.
        directions: "down" (the original: each patch predicts the patches
            below it) or "all": also up, right and left, each direction with
            its own context stack and predictors on the turned grid
            (:func:`orient`); the loss is the mean over directions.
        patch_aug: augment every patch on its own after cutting
            (:class:`~infomax.data.patch_augment.PatchAugment`: crop-resize,
            flip, colour drop, grayscale); the views are then the patches.

    Shapes:
        input of :meth:`forward`: views ``[(B, C, H, W)]``, or with ``patch_aug``
        ``[(B G_h G_w, C, patch, patch)]`` from :meth:`make_views`.
        :attr:`MethodOutput.metrics`: ``mi_k1 .. mi_kK`` (nats, averaged over
        the directions), each at most ``log(B G_h G_w)``; with
        ``directions="all"`` also ``mi_down``, ``mi_up``, ``mi_right``,
        ``mi_left`` (mean over the steps).
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: Augment | None,
        context_dim: int = 128,
        layers: int = 3,
        steps: int = 3,
        probe_layer: str = "conv",
        directions: str = "down",
        patch_aug: bool = False,
    ) -> None:
        from infomax.data.patch_augment import PatchAugment
        from infomax.nets.patches import PatchEncoder

        if not isinstance(encoder, PatchEncoder):
            raise InputError(
                f"cpc needs the patch-dim encoder (a grid of patch embeddings), got "
                f"{type(encoder).__name__}"
            )
        if directions not in ("down", "all"):
            raise InputError(f"directions must be 'down' or 'all', got {directions!r}")
        if patch_aug and augment is None:
            raise InputError("patch_aug needs an augmentation (its mean and std)")
        super().__init__(encoder, augment, probe_layer)
        z_dim, grid_rows, grid_cols = encoder.local_shape
        lines = grid_rows if directions == "down" else min(grid_rows, grid_cols)
        if not 1 <= steps < lines:
            raise InputError(
                f"steps must be in 1..{lines - 1} for a {grid_rows}x{grid_cols} grid "
                f"with directions={directions!r}"
            )
        self.directions = ("down",) if directions == "down" else DIRECTIONS
        self.inp, self.context, self.predictors = _context_stack(z_dim, context_dim, layers, steps)
        self.turned = nn.ModuleDict()  # the other directions' stacks
        for direction in self.directions[1:]:
            inp, context, predictors = _context_stack(z_dim, context_dim, layers, steps)
            self.turned[direction] = nn.ModuleDict(
                {"inp": inp, "context": context, "predictors": predictors}
            )
        self.patch_augment = (
            PatchAugment(augment.mean, augment.std) if patch_aug and augment else None
        )

    def stack(self, direction: str = "down") -> tuple[nn.Module, nn.ModuleList, nn.ModuleList]:
        """``(inp, context layers, predictors)`` of one direction."""
        if direction == "down":
            return self.inp, self.context, self.predictors
        if direction not in self.turned:
            raise InputError(f"this CPC predicts {', '.join(self.directions)}, not {direction!r}")
        parts = self.turned[direction]
        return parts["inp"], parts["context"], parts["predictors"]

    def _turned_context(self, z: torch.Tensor, direction: str) -> torch.Tensor:
        """Context of an oriented grid (B, Z, G_h', G_w'), in that orientation."""
        inp, layers, _ = self.stack(direction)
        c = inp(z)
        for layer in layers:
            c = c + layer(F.relu(c))
        return c

    def contexts(self, z: torch.Tensor, direction: str = "down") -> torch.Tensor:
        """Causal context (B, C, G_h, G_w) of a patch-embedding grid (B, Z, G_h, G_w).

        For "down" (row-causal) the context at row r sees rows r - 2L .. r of ``z``
        only (L layers); for "up" rows r .. r + 2L; for "right" columns
        c - 2L .. c; for "left" columns c .. c + 2L. Returned in the image's
        own orientation.
        """
        return unorient(self._turned_context(orient(z, direction), direction), direction)

    def make_views(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The view of each image, or with ``patch_aug`` its augmented patches."""
        views = super().make_views(images)
        if self.patch_augment is None:
            return views
        return [self.patch_augment(self.encoder.cut(views[0]))]

    def _direction_losses(
        self, z: torch.Tensor, direction: str
    ) -> tuple[list[torch.Tensor], float]:
        """Each step's InfoNCE for one direction (each grid column a sequence over rows),
        and their cap ``log(B G_h G_w)`` (nats)."""
        z = orient(z, direction)
        c = self._turned_context(z, direction)
        # columns as sequences: (B G_w, G_h, dim)
        z_seq = gather(z.permute(0, 3, 2, 1).reshape(-1, z.shape[2], z.shape[1]))
        c_seq = gather(c.permute(0, 3, 2, 1).reshape(-1, c.shape[2], c.shape[1]))
        cap = math.log(z_seq.shape[0] * z_seq.shape[1])
        return cpc_step_losses(c_seq, z_seq, self.stack(direction)[2]), cap

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """Mean InfoNCE over the steps (and directions)."""
        if self.patch_augment is None:
            out = self.encoder(views[0])
        else:
            out = self.encoder.encode_patches(views[0])
        z = out.local  # (B, Z, G_h, G_w)
        per_direction = []
        for direction in self.directions:
            step_losses, cap = self._direction_losses(z, direction)
            per_direction.append(torch.stack(step_losses))
        losses = torch.stack(per_direction)  # (directions, K)
        step_means = losses.detach().mean(0)
        metrics = {f"mi_k{k}": cap - loss for k, loss in enumerate(step_means, start=1)}
        if len(self.directions) > 1:
            for direction, row in zip(self.directions, losses.detach(), strict=True):
                metrics[f"mi_{direction}"] = cap - row.mean()
        features = out.layer(self.probe_layer).detach()
        return MethodOutput(losses.mean(), metrics, features)

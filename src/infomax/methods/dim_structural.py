"""Deep InfoMax's structural tasks (Hjelm et al., ICLR 2019, section 4.3 and Table 5).

Two ways of asking the global vector ``y`` to know where things are in the image,
each an option of :class:`~infomax.methods.dim.DeepInfoMax` and off by default:

**Occlusion** (``occlude``): ``y`` is computed from the view with random square
cells set to 0 (after normalisation, so 0 is the data set's mean colour), while
the local feature map ``M`` comes from the full view. The MI terms then ask
``y`` to be predictive of the features of patches it never saw. The view is cut
into an ``occlude_grid`` x ``occlude_grid`` grid of cells (8x8 pixels for a
32x32 view and the default grid of 4); ``occlude`` is either

* a fraction in (0, 1): each cell is occluded independently with that
  probability (the expected occluded share of the area), or
* a whole number ``n >= 1``: exactly ``n`` cells of each image, drawn
  uniformly without replacement (``n`` below the number of cells).

**Coordinate prediction** (``coord``, the loss weight): two classifiers on the
local feature map ``M`` (B, C, H, W) with ``L = H W`` locations,

* *absolute*: from ``[M_l, y]`` (a location's feature and the image's global
  vector) predict ``l``, a cross-entropy over the ``L`` locations;
* *relative*: from ``[M_a, M_b]`` for a pair of distinct locations of one image
  predict their offset ``(i_b - i_a, j_b - j_a)``, a cross-entropy over the
  ``(2H - 1)(2W - 1)`` offsets (the class of offset (0, 0) is never a target).
  Each location of each image is the first of one pair; its partner is drawn
  uniformly among the other ``L - 1`` locations.

Both heads are two-layer MLPs (ReLU, :data:`COORD_HIDDEN` units); their
cross-entropies (nats) are added to DIM's loss with weight ``coord``, and the
gradients reach the encoder (the tasks shape ``M`` and ``y``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from infomax.validation import InputError

__all__ = [
    "COORD_HIDDEN",
    "CoordinateHeads",
    "check_occlusion",
    "coordinate_logits",
    "occlude_views",
    "occlusion_mask",
    "offset_class",
    "relative_logits",
    "relative_pairs",
]

#: Hidden units of each coordinate head.
COORD_HIDDEN = 256


def check_occlusion(amount: float, grid: int) -> None:
    """Refuse an ``occlude`` / ``occlude_grid`` pair that has no meaning.

    Raises:
        InputError: naming the value and what it must be.
    """
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise InputError(f"occlude_grid must be a whole number >= 2, got {grid!r}")
    if amount < 0:
        raise InputError(f"occlude must be >= 0 (0: off), got {amount}")
    if amount >= 1 and (amount != int(amount) or amount >= grid * grid):
        raise InputError(
            f"occlude takes a fraction in (0, 1) or a whole number of cells below "
            f"{grid * grid} (occlude_grid={grid}), got {amount}"
        )


def occlusion_mask(
    batch: int, size: tuple[int, int], amount: float, grid: int, device: torch.device | None = None
) -> torch.Tensor:
    """A random keep-mask of square cells, one per image (see the module docstring).

    Args:
        batch: images B.
        size: (H, W) of the views.
        amount: fraction in (0, 1) (per-cell probability) or a whole number of cells.
        grid: cells per side; cell ``(r, c)`` covers rows ``[r H / grid, (r + 1) H / grid)``
            (rounded down) and the same for columns.
        device: where to make it.

    Returns:
        (B, 1, H, W) float mask: 1 where the pixel is kept, 0 where occluded.
    """
    cells = grid * grid
    draws = torch.rand(batch, cells, device=device)
    if amount < 1:
        hidden = draws < amount
    else:
        rank = draws.argsort(dim=1).argsort(dim=1)  # a uniform random permutation per row
        hidden = rank < int(amount)
    keep = (~hidden).float().view(batch, grid, grid)
    height, width = size
    rows = torch.arange(height, device=device) * grid // height
    cols = torch.arange(width, device=device) * grid // width
    return keep[:, rows[:, None], cols[None, :]].unsqueeze(1)


def occlude_views(views: torch.Tensor, amount: float, grid: int) -> torch.Tensor:
    """``views`` (B, C, H, W) with random cells set to 0 (the mean colour once normalised)."""
    mask = occlusion_mask(views.shape[0], tuple(views.shape[-2:]), amount, grid, views.device)
    return views * mask


def _mlp(in_dim: int, classes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, COORD_HIDDEN), nn.ReLU(inplace=True), nn.Linear(COORD_HIDDEN, classes)
    )


def coordinate_logits(head: nn.Sequential, local: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The absolute head's logits for every location of every image.

    The first layer acts on ``[M_l, y]``; it is applied as ``W_M M_l + W_y y`` so
    ``y``'s part is computed once per image.

    Args:
        head: ``Linear(C + D, hidden), ReLU, Linear(hidden, L)``.
        local: (B, C, L) local features.
        y: (B, D) global vectors.

    Returns:
        (B, L, L) logits: ``[b, l, :]`` scores the L candidate locations of feature ``l``.
    """
    first, _, last = head
    channels = local.shape[1]
    weight = first.weight
    hidden = local.transpose(1, 2) @ weight[:, :channels].T  # (B, L, hidden)
    hidden = hidden + (y @ weight[:, channels:].T + first.bias).unsqueeze(1)
    return last(F.relu(hidden))


def offset_class(first: torch.Tensor, second: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Class of the offset from location ``first`` to ``second`` (row-major indices) on a grid.

    The offset ``(di, dj)`` with ``|di| < H``, ``|dj| < W`` is numbered
    ``(di + H - 1) (2 W - 1) + (dj + W - 1)``: ``(2 H - 1)(2 W - 1)`` classes.
    """
    height, width = grid
    di = second // width - first // width
    dj = second % width - first % width
    return (di + height - 1) * (2 * width - 1) + (dj + width - 1)


def relative_pairs(batch: int, locations: int, device: torch.device | None = None) -> torch.Tensor:
    """(B, L) partner of each location: uniform among the other ``L - 1`` locations."""
    shift = torch.randint(1, locations, (batch, locations), device=device)
    return (torch.arange(locations, device=device) + shift) % locations


def relative_logits(
    head: nn.Sequential, local: torch.Tensor, partner: torch.Tensor
) -> torch.Tensor:
    """The relative head's logits for the pairs ``(l, partner[b, l])`` of each image.

    Args:
        head: ``Linear(2 C, hidden), ReLU, Linear(hidden, classes)``.
        local: (B, C, L) local features.
        partner: (B, L) the second location of each pair.

    Returns:
        (B, L, classes) logits.
    """
    first, _, last = head
    channels = local.shape[1]
    features = local.transpose(1, 2)  # (B, L, C)
    own = features @ first.weight[:, :channels].T + first.bias  # (B, L, hidden)
    other = features @ first.weight[:, channels:].T  # (B, L, hidden)
    other = other.gather(1, partner.unsqueeze(-1).expand(-1, -1, other.shape[-1]))
    return last(F.relu(own + other))


class CoordinateHeads(nn.Module):
    """The absolute and relative coordinate classifiers on a local feature map.

    Args:
        channels: C of the local feature map.
        y_dim: D of the global vector.
        grid: (H, W) of the local feature map; ``H W >= 2``.

    Shapes:
        :meth:`forward`: local (B, C, H, W), y (B, D) -> a dict of scalars
        ``coord_loss``, ``relcoord_loss`` (nats, with gradients),
        ``coord_accuracy``, ``relcoord_accuracy`` (detached).
    """

    def __init__(self, channels: int, y_dim: int, grid: tuple[int, int]) -> None:
        super().__init__()
        height, width = grid
        if height * width < 2:
            raise InputError(
                f"coordinate prediction needs a local feature map of at least 2 locations, "
                f"got {height}x{width}"
            )
        self.grid = (int(height), int(width))
        self.absolute = _mlp(channels + y_dim, height * width)
        self.relative = _mlp(2 * channels, (2 * height - 1) * (2 * width - 1))

    def forward(self, local: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = local.shape[0]
        local = local.flatten(2)  # (B, C, L)
        locations = local.shape[2]
        where = torch.arange(locations, device=local.device)
        logits = coordinate_logits(self.absolute, local, y).flatten(0, 1)  # (B L, L)
        target = where.repeat(batch)
        partner = relative_pairs(batch, locations, local.device)
        rel_logits = relative_logits(self.relative, local, partner).flatten(0, 1)
        rel_target = offset_class(where.expand(batch, -1), partner, self.grid).flatten()
        return {
            "coord_loss": F.cross_entropy(logits, target),
            "relcoord_loss": F.cross_entropy(rel_logits, rel_target),
            "coord_accuracy": (logits.argmax(1) == target).float().mean().detach(),
            "relcoord_accuracy": (rel_logits.argmax(1) == rel_target).float().mean().detach(),
        }

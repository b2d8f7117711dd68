"""Deep InfoMax (Hjelm et al., ICLR 2019): global, local and prior-matching objectives.

DIM maximises MI between an image's representation ``y = E(x)`` and

* **global**: a feature map ``M`` of the same image, taken as a whole;
* **local**: each location of ``M`` (a patch of the input), averaged over
  locations, so ``y`` must keep what the patches share;

and matches the distribution of ``sigmoid(y)`` to a uniform prior on
``[0, 1]^D`` adversarially. The loss is
``-(alpha * global + beta * local) + gamma * prior``.

Critics are encode-and-dot-product: ``y`` goes through a small MLP and the
feature map through 1x1 convolutions (local) or an MLP on the flattened map
(global), each with a linear shortcut, and the score is their inner product
divided by ``sqrt(critic_dim)`` (so scores start near unit scale).
The score tensor is ``S[i, j, l] = <u(y_i), v(M_j)_l>`` of shape (B, B, L)
(L = 1 for global); positives are ``i == j``, and the negatives of a positive
``(i, i, l)`` are every location of every other image ``(i, j != i, :)``.
Under torchrun, B is the global batch (see :mod:`infomax.distributed`).

Estimators (the ``estimator`` argument):

========  ==================================================================
infonce   ``-log softmax`` of each positive against its ``(B - 1) L``
          negatives; MI estimate ``log(1 + (B - 1) L) - loss`` (at most that cap)
jsd       the f-GAN Jensen-Shannon objective (softplus); read out as NWJ
dv        Donsker-Varadhan: ``mean(pos) - log mean exp(neg)``
========  ==================================================================

The paper's presets: DIM(G) = ``alpha=1, beta=0, gamma=1``; DIM(L) =
``alpha=0, beta=1, gamma=0.1``.

Two views (``views=2``, as in augmented multiscale DIM, Bachman et al. 2019):
``y`` of one augmented view is scored against the feature map of the other
view, in both directions (the loss is their mean). With one view, ``y`` is a
deterministic function of the very map it is contrasted with, and the global
critic can solve its task without the encoder learning anything about the
image content; across views it must find what two augmentations share.

The paper's critics use 2048 units; the default here is 512 to fit a CPU
budget (``critic_dim``).

The paper's structural tasks (its Table 5) are options, off by default (see
:mod:`infomax.methods.dim_structural`): ``occlude`` computes ``y`` from the view
with random cells occluded while the feature map comes from the full view;
``coord`` adds the absolute and relative coordinate-prediction losses with that
weight.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from infomax.bounds import make_bound
from infomax.data.augment import Augment
from infomax.distributed import gather
from infomax.methods.base import GradientReversal, Method, MethodOutput
from infomax.methods.dim_structural import CoordinateHeads, check_occlusion, occlude_views
from infomax.validation import InputError

__all__ = ["ESTIMATORS", "PRESETS", "DeepInfoMax", "dim_objective"]

#: Estimators :func:`dim_objective` accepts.
ESTIMATORS = ("infonce", "jsd", "dv")

#: The paper's named settings (alpha, beta, gamma).
PRESETS: dict[str, dict[str, float]] = {
    "dim-global": {"alpha": 1.0, "beta": 0.0, "gamma": 1.0},
    "dim-local": {"alpha": 0.0, "beta": 1.0, "gamma": 0.1},
    "dim": {"alpha": 0.5, "beta": 1.0, "gamma": 0.1},
}


def dim_objective(
    scores: torch.Tensor, estimator: str = "infonce"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The DIM objective on a (B, B, L) score tensor.

    Args:
        scores: ``S[i, j, l]``: the critic's score for global vector ``i`` and
            location ``l`` of image ``j``; positives at ``i == j``. (B, B) is
            taken as L = 1.
        estimator: "infonce", "jsd" or "dv".

    Returns:
        ``(loss, mi)``: the scalar to minimise and the MI estimate in nats
        (detached). For InfoNCE the estimate never exceeds ``log(1 + (B - 1) L)``.

    Raises:
        InputError: a bad shape or an unknown estimator.
    """
    if scores.ndim == 2:
        scores = scores.unsqueeze(-1)
    if scores.ndim != 3 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise InputError(f"scores must be (B, B, L) with B >= 2, got {tuple(scores.shape)}")
    if estimator not in ESTIMATORS:
        raise InputError(f"unknown DIM estimator {estimator!r}; use one of {', '.join(ESTIMATORS)}")
    batch, _, locations = scores.shape
    eye = torch.eye(batch, dtype=torch.bool, device=scores.device)
    positive = scores[eye]  # (B, L): S[i, i, l]
    negative = scores[~eye].view(batch, (batch - 1) * locations)  # row i: S[i, j != i, :]
    objective, mi = make_bound(estimator).samples(positive, negative)  # the bound registry's
    return -objective, mi


class _Embed(nn.Module):
    """Two-layer MLP with a linear shortcut: (B, in) -> (B, out)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, out_dim), nn.ReLU(inplace=True), nn.Linear(out_dim, out_dim)
        )
        self.shortcut = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x) + self.shortcut(x)


class _EmbedMap(nn.Module):
    """The same as :class:`_Embed` with 1x1 convolutions: (B, C, H, W) -> (B, out, H*W)."""

    def __init__(self, in_channels: int, out_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv2d(in_channels, out_dim, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_dim, out_dim, 1),
        )
        self.shortcut = nn.Conv2d(in_channels, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.mlp(x) + self.shortcut(x)).flatten(2)


class DeepInfoMax(Method):
    """Deep InfoMax on one view of each image.

    Args:
        encoder: an encoder with ``local_shape`` (C, H, W) and ``out_dim``
            attributes (the DIM conv net, the CIFAR ResNet-18, the MLP).
        augment: the view of each image (DIM uses light augmentation: crop, flip).
        alpha: weight of the global MI term.
        beta: weight of the local MI term.
        gamma: weight of prior matching (0 turns the discriminator off).
        estimator: "infonce", "jsd" or "dv" (see the module docstring).
        critic_dim: width of the critics' embeddings.
        views: 1 (the paper) or 2 (``y`` of each view against the feature map
            of the other; see the module docstring).
        probe_layer: encoder layer handed to the online probe.
        occlude: 0 (off), a fraction in (0, 1) of cells occluded independently,
            or a whole number of cells occluded per image, in the view ``y`` is
            computed from (the feature maps see the full view; the encoder runs
            on both, twice the images per step).
        occlude_grid: cells per side of the occlusion grid (>= 2).
        coord: weight of the absolute and relative coordinate-prediction
            cross-entropies (0: off, no heads built).

    Shapes:
        input of :meth:`forward`: ``views`` float views, each (B, C, H, W).
        :attr:`MethodOutput.metrics`: ``global_mi``, ``local_mi`` (nats),
        ``prior_loss``, ``prior_accuracy`` (the discriminator's),
        ``coord_loss``, ``coord_accuracy``, ``relcoord_loss``,
        ``relcoord_accuracy`` (averaged over views), as enabled.
    """

    num_views = 1

    def __init__(
        self,
        encoder: nn.Module,
        augment: Augment,
        alpha: float = 0.0,
        beta: float = 1.0,
        gamma: float = 0.1,
        estimator: str = "infonce",
        critic_dim: int = 512,
        views: int = 1,
        probe_layer: str = "conv",
        occlude: float = 0.0,
        occlude_grid: int = 4,
        coord: float = 0.0,
    ) -> None:
        super().__init__(encoder, augment, probe_layer)
        check_occlusion(occlude, occlude_grid)
        if coord < 0:
            raise InputError(f"coord is a loss weight, >= 0 (0: off), got {coord}")
        self.occlude, self.occlude_grid, self.coord = (
            float(occlude),
            int(occlude_grid),
            float(coord),
        )
        if views not in (1, 2):
            raise InputError(f"DIM takes views=1 or views=2, got {views}")
        self.num_views = int(views)
        if estimator not in ESTIMATORS:
            raise InputError(
                f"unknown DIM estimator {estimator!r}; use one of {', '.join(ESTIMATORS)}"
            )
        if min(alpha, beta, gamma) < 0 or alpha + beta <= 0:
            raise InputError(
                f"DIM needs alpha, beta, gamma >= 0 and alpha + beta > 0, got "
                f"alpha={alpha}, beta={beta}, gamma={gamma}"
            )
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.estimator = estimator
        self.scale = 1.0 / math.sqrt(critic_dim)
        channels, height, width = encoder.local_shape
        out_dim = int(encoder.out_dim)
        self.global_y = _Embed(out_dim, critic_dim) if alpha > 0 else None
        self.global_map = _Embed(channels * height * width, critic_dim) if alpha > 0 else None
        self.local_y = _Embed(out_dim, critic_dim) if beta > 0 else None
        self.local_map = _EmbedMap(channels, critic_dim) if beta > 0 else None
        if gamma > 0:
            self.reverse = GradientReversal()
            self.discriminator = nn.Sequential(
                nn.Linear(out_dim, 1000), nn.ReLU(inplace=True),
                nn.Linear(1000, 200), nn.ReLU(inplace=True),
                nn.Linear(200, 1),
            )  # fmt: skip
        else:
            self.discriminator = None
        self.coord_heads = (
            CoordinateHeads(channels, out_dim, (height, width)) if coord > 0 else None
        )

    def _term(
        self,
        embed_y: nn.Module,
        embed_map: nn.Module,
        ys: list[torch.Tensor],
        maps: list[torch.Tensor],
        local: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One MI term, averaged over the (y view, map view) pairings; ``(loss, mi)``."""
        pairs = [(0, 0)] if len(ys) == 1 else [(0, 1), (1, 0)]
        losses, estimates = [], []
        for a, b in pairs:
            u = gather(embed_y(ys[a]) * self.scale)  # (B, D), B = global batch
            if local:
                v = gather(embed_map(maps[b]))  # (B, D, L)
                scores = torch.einsum("id,jdl->ijl", u, v)  # (B, B, L)
            else:
                scores = u @ gather(embed_map(maps[b].flatten(1))).T  # (B, B)
            loss, mi = dim_objective(scores, self.estimator)
            losses.append(loss)
            estimates.append(mi)
        return torch.stack(losses).mean(), torch.stack(estimates).mean()

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """DIM's loss on ``num_views`` views, each (B, C, H, W) float."""
        if len(views) != self.num_views:
            raise InputError(f"DIM with views={self.num_views} got {len(views)} views")
        batch = views[0].shape[0]
        clean = torch.cat(views) if len(views) > 1 else views[0]
        if self.occlude > 0:
            # one pass over the full views (their maps) and the occluded ones (their y)
            out = self.encoder(
                torch.cat([clean, occlude_views(clean, self.occlude, self.occlude_grid)])
            )
            y_all = out.y[len(clean) :]
            maps = list(out.local[: len(clean)].split(batch))
        else:
            out = self.encoder(clean)
            y_all = out.y
            maps = list(out.local.split(batch))
        ys = list(y_all.split(batch))
        total = out.y.new_zeros(())
        metrics: dict[str, torch.Tensor] = {}
        if self.global_y is not None and self.global_map is not None:
            loss, mi = self._term(self.global_y, self.global_map, ys, maps, local=False)
            total = total + self.alpha * loss
            metrics["global_mi"] = mi
        if self.local_y is not None and self.local_map is not None:
            loss, mi = self._term(self.local_y, self.local_map, ys, maps, local=True)
            total = total + self.beta * loss
            metrics["local_mi"] = mi
        if self.coord_heads is not None:
            parts = [self.coord_heads(m, y) for m, y in zip(maps, ys, strict=True)]
            for key in parts[0]:
                metrics[key] = torch.stack([p[key] for p in parts]).mean()
            total = total + self.coord * (metrics["coord_loss"] + metrics["relcoord_loss"])
            for key in ("coord_loss", "relcoord_loss"):
                metrics[key] = metrics[key].detach()
        if self.discriminator is not None:
            y = y_all
            fake = gather(self.discriminator(self.reverse(torch.sigmoid(y))).squeeze(-1))
            real = gather(self.discriminator(torch.rand_like(y)).squeeze(-1))
            prior = F.softplus(-real).mean() + F.softplus(fake).mean()
            total = total + self.gamma * prior
            metrics["prior_loss"] = prior.detach()
            correct = torch.cat([real > 0, fake < 0]).float().mean()
            metrics["prior_accuracy"] = correct.detach()
        features = out.layer(self.probe_layer)[:batch].detach()
        return MethodOutput(total, metrics, features)

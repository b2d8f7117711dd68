"""DEMI multi-view pre-training (Sordoni et al., ICML 2021), and its multi-view InfoNCE baseline.

Three views of each image: ``x`` and ``y``, two augmentations (as in
SimCLR), and ``x'``, a sub-view of ``x`` (a cutout of ``x``, or a smaller crop
of ``x`` resized back). The chain rule splits the MI the encoder should
capture into

    I(x; y) = I(x'; y) + I(x; y | x')

and DEMI maximises both terms:

* ``I(x'; y)`` with InfoNCE and the critic ``psi(x', y) = <h(x'), h(y)> / tau``
  (``h``: the projection head on the encoder, embeddings L2-normalised);
* ``I(x; y | x')`` with a conditional critic ``phi(x', x, y) = <g(h(x'), h(x)), h(y)> / tau``
  (``g``: an MLP on the concatenated embeddings of ``x'`` and ``x``), estimated with

  - ``"bo"`` (I_BO): InfoNCE of the boosted critic ``psi + phi`` with in-batch
    negatives. ``psi`` enters without gradient, so this term trains ``phi``
    (and the encoder through it) to explain what ``psi`` misses. Reported as
    ``InfoNCE(psi + phi) - InfoNCE(psi)`` (see
    :func:`infomax.bounds.boosted_conditional_infonce`);
  - ``"is"`` (I_IS): conditional InfoNCE whose in-batch negatives are
    re-weighted by ``softmax(psi)`` (weights without gradient), see
    :func:`infomax.bounds.importance_sampled_infonce`.

The loss is ``-(weight_subview * I(x'; y) + weight_conditional * I(x; y | x'))``.

:class:`MultiViewInfoNCE` is the baseline that isolates the conditional term:
the same three views, encoder, head and critic family, with
``-(InfoNCE(x', y) + InfoNCE(x, y))`` and no conditional critic.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from infomax.bounds import importance_sampled_infonce, infonce
from infomax.data.augment import Augment
from infomax.distributed import gather
from infomax.methods.base import MethodOutput, ProjectedMethod
from infomax.validation import InputError

__all__ = ["CONDITIONALS", "SUBVIEWS", "DEMI", "MultiViewInfoNCE", "SubView", "demi_loss"]

#: Estimators of the conditional term.
CONDITIONALS = ("bo", "is")

#: Ways of making ``x'`` from ``x``.
SUBVIEWS = ("cutout", "crop")


class SubView(nn.Module):
    """Makes ``x'`` from a batch of (normalised) views ``x``.

    Args:
        kind: "cutout" (one rectangle of ``scale`` of the area set to 0, the
            data mean after normalisation) or "crop" (a random crop of ``scale``
            of the area, resized back to the full size).
        scale: area fraction range of the cut-out or kept rectangle.
        size: (height, width) of the views (the crop is resized back to it).

    Shapes:
        input and output: (B, C, H, W) float.
    """

    def __init__(
        self,
        kind: str = "cutout",
        scale: tuple[float, float] | None = None,
        size: tuple[int, int] = (32, 32),
    ) -> None:
        super().__init__()
        if kind not in SUBVIEWS:
            raise InputError(f"unknown sub-view {kind!r}; use one of {', '.join(SUBVIEWS)}")
        import kornia.augmentation as K

        self.kind = kind
        if kind == "cutout":
            self.scale = scale or (0.25, 0.5)
            self.op: nn.Module = K.RandomErasing(
                scale=self.scale, ratio=(0.5, 2.0), value=0.0, p=1.0
            )
        else:
            self.scale = scale or (0.25, 0.6)
            self.op = K.RandomResizedCrop(size, scale=self.scale, cropping_mode="resample")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def demi_loss(
    psi: torch.Tensor,
    phi: torch.Tensor,
    conditional: str = "bo",
    weight_subview: float = 1.0,
    weight_conditional: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """DEMI's loss from its two score matrices (see the module docstring).

    Args:
        psi: (B, B) unconditional critic ``psi(x'_i, y_j)``, positives on the diagonal.
        phi: (B, B) conditional critic ``phi(x'_i, x_i, y_j)``.
        conditional: "bo" (I_BO: InfoNCE of ``psi.detach() + phi``) or "is" (I_IS).
        weight_subview: weight of ``InfoNCE(psi)``, the ``I(x'; y)`` term.
        weight_conditional: weight of the conditional term.

    Returns:
        ``(loss, metrics)``: the scalar to minimise,
        ``-(weight_subview * I(x'; y) + weight_conditional * conditional term)``, and the
        detached ``mi_subview``, ``cmi`` (the ``I(x; y | x')`` estimate), ``mi`` (their
        sum), all nats, plus ``ess`` for I_IS.
    """
    mi_subview = infonce(psi)
    metrics: dict[str, torch.Tensor] = {}
    if conditional == "bo":
        boosted = infonce(psi.detach() + phi)
        term = boosted
        cmi = boosted.detach() - mi_subview.detach()
    elif conditional == "is":
        term, ess = importance_sampled_infonce(phi, psi)
        cmi = term.detach()
        metrics["ess"] = ess
    else:
        raise InputError(
            f"unknown conditional estimator {conditional!r}; use one of {', '.join(CONDITIONALS)}"
        )
    loss = -(weight_subview * mi_subview + weight_conditional * term)
    metrics.update(mi_subview=mi_subview.detach(), cmi=cmi, mi=mi_subview.detach() + cmi)
    return loss, metrics


class _ThreeViews(ProjectedMethod):
    """Shared machinery: views (x, y, x'), one encoder pass, projection head."""

    num_views = 2

    def __init__(
        self,
        encoder: nn.Module,
        augment: Augment,
        subview: str = "cutout",
        subview_scale: tuple[float, float] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(encoder, augment, **options)  # the projection head's options
        scale = (float(subview_scale[0]), float(subview_scale[1])) if subview_scale else None
        self.subview = SubView(subview, scale, augment.size)

    def make_views(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``[x, y, x']``: two augmentations and a sub-view of the first, each (B, C, H, W)."""
        x, y = self.augment.views(images, 2)
        return [x, y, self.subview(x)]

    def _embed(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Encode the three views in one pass; returns (h_x, h_y, h_sub, features of x)."""
        batch = views[0].shape[0]
        out = self.encoder(torch.cat(views[:3]))
        h = self.head(out.y)
        features = out.layer(self.probe_layer)[:batch].detach()
        # Under torchrun every process scores the global batch (see infomax.distributed).
        return (gather(h[:batch]), gather(h[batch : 2 * batch]), gather(h[2 * batch :]), features)

    def _scores(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(B, B) cosine similarities over the temperature: ``S[i, j] = cos(a_i, b_j) / tau``."""
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / self.temperature


class DEMI(_ThreeViews):
    """DEMI: InfoNCE on ``(x', y)`` plus a conditional term for ``I(x; y | x')``.

    Args:
        encoder: an encoder with an ``out_dim`` attribute.
        augment: the distribution of ``x`` and ``y`` (SimCLR's preset by default).
        conditional: "bo" (I_BO) or "is" (I_IS); see the module docstring.
        weight_subview: weight of ``I(x'; y)`` in the loss.
        weight_conditional: weight of ``I(x; y | x')``.
        subview: "cutout" or "crop".
        subview_scale: area fraction range of the sub-view operation.
        temperature: divides the cosine similarities of both critics.
        hidden_dim: width of the projection head and of ``g``.
        projection_dim: embedding size.
        probe_layer: encoder layer handed to the online probe.

    Shapes:
        :attr:`MethodOutput.metrics`: ``mi_subview`` (InfoNCE of ``(x', y)``),
        ``cmi`` (the conditional estimate), ``mi`` (their sum), all nats, and
        ``ess`` (I_IS's effective sample size, of ``B - 1``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: Augment,
        conditional: str = "bo",
        weight_subview: float = 1.0,
        weight_conditional: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(encoder, augment, **options)  # the sub-view's and the head's options
        if conditional not in CONDITIONALS:
            raise InputError(
                f"unknown conditional estimator {conditional!r}; use one of "
                f"{', '.join(CONDITIONALS)}"
            )
        if weight_subview < 0 or weight_conditional < 0:
            raise InputError("the weights of DEMI's terms must be non-negative")
        self.conditional = conditional
        self.weight_subview = float(weight_subview)
        self.weight_conditional = float(weight_conditional)
        self.combine = nn.Sequential(
            nn.Linear(2 * self.projection_dim, self.hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(self.hidden_dim, self.projection_dim),
        )

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """DEMI's loss on ``[x, y, x']``, each (B, C, H, W)."""
        h_x, h_y, h_sub, features = self._embed(views)
        psi = self._scores(h_sub, h_y)  # (B, B): psi(x'_i, y_j)
        phi = self._scores(self.combine(torch.cat([h_sub, h_x], dim=1)), h_y)  # phi(x'_i, x_i, y_j)
        loss, metrics = demi_loss(
            psi, phi, self.conditional, self.weight_subview, self.weight_conditional
        )
        return MethodOutput(loss, metrics, features)


class MultiViewInfoNCE(_ThreeViews):
    """The baseline for DEMI: InfoNCE on ``(x', y)`` and on ``(x, y)``, no conditional term.

    Same arguments as :class:`DEMI` without the conditional ones.

    Shapes:
        :attr:`MethodOutput.metrics`: ``mi_subview`` and ``mi_view`` (nats).
    """

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:
        """``-(InfoNCE(x', y) + InfoNCE(x, y))`` on ``[x, y, x']``."""
        h_x, h_y, h_sub, features = self._embed(views)
        mi_subview = infonce(self._scores(h_sub, h_y))
        mi_view = infonce(self._scores(h_x, h_y))
        metrics = {"mi_subview": mi_subview.detach(), "mi_view": mi_view.detach()}
        return MethodOutput(-(mi_subview + mi_view), metrics, features)

"""What every representation-learning method is: an encoder, views, a loss."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import nn

from infomax.data.augment import Augment
from infomax.validation import InputError

__all__ = [
    "GradientReversal",
    "Method",
    "MethodOutput",
    "ProjectedMethod",
    "init_options",
    "projection_head",
]


@dataclass
class MethodOutput:
    """The result of one training step's forward pass.

    Attributes:
        loss: scalar to minimise.
        metrics: scalars to log (detached), e.g. ``mi`` (nats) of each term.
        features: (B, F) detached features of the first view, for an online probe.
    """

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    features: torch.Tensor | None = None


class Method(nn.Module):
    """Base class: an encoder plus the heads and critics of one objective.

    Subclasses set :attr:`num_views` and implement :meth:`loss`. Training calls
    :meth:`make_views` on a uint8 batch, then :meth:`loss` on the views (two
    calls, so the time spent making views can be measured).

    Args:
        encoder: a module returning :class:`~infomax.nets.EncoderOutput`.
        augment: makes the views (on the batch's device); None: the batch itself
            is the one view (e.g. sequences).
        probe_layer: the encoder layer whose detached features
            :attr:`MethodOutput.features` carries ("conv" by default).
    """

    #: Views of each image the loss takes.
    num_views: int = 1

    def __init__(
        self, encoder: nn.Module, augment: Augment | None, probe_layer: str = "conv"
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.augment = augment
        self.probe_layer = probe_layer

    def make_views(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``num_views`` float views (B, C, H, W) of a uint8 batch."""
        if self.augment is None:
            return [images]
        return self.augment.views(images, self.num_views)

    def loss(self, views: list[torch.Tensor]) -> MethodOutput:  # pragma: no cover - abstract
        """The objective on the views of one batch."""
        raise NotImplementedError

    def forward(self, views: list[torch.Tensor]) -> MethodOutput:
        """The loss on views from :meth:`make_views` (so DDP can wrap the call)."""
        return self.loss(views)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        return -grad


class GradientReversal(nn.Module):
    """Identity forward, negated gradient backward.

    Lets an adversarial game (a discriminator minimising a loss that the
    encoder maximises) run with one loss, one backward pass and one optimiser.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Reverse.apply(x)


def projection_head(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """SimCLR's projection head: Linear (no bias), BatchNorm, ReLU, Linear; (B, in) -> (B, out)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim, bias=False),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(inplace=True),
        nn.Linear(hidden_dim, out_dim),
    )


class ProjectedMethod(Method):
    """A :class:`Method` whose critic is cosine similarity over a temperature of projected
    embeddings: SimCLR's projection head on the encoder's output ``y``.

    Args:
        encoder: an encoder with an ``out_dim`` attribute.
        augment: makes the views.
        temperature: divides the cosine similarities; positive.
        hidden_dim: width of the projection head.
        projection_dim: size of the projected embedding.
        probe_layer: encoder layer handed to the online probe.

    The defaults are SimCLR's; subclasses pass these options on with ``**options``
    (:func:`init_options` reads them through).
    """

    def __init__(
        self,
        encoder: nn.Module,
        augment: Augment | None,
        temperature: float = 0.5,
        hidden_dim: int = 512,
        projection_dim: int = 128,
        probe_layer: str = "conv",
    ) -> None:
        super().__init__(encoder, augment, probe_layer)
        if temperature <= 0:
            raise InputError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.hidden_dim, self.projection_dim = int(hidden_dim), int(projection_dim)
        self.head = projection_head(int(encoder.out_dim), hidden_dim, projection_dim)


def init_options(cls: type[Method]) -> dict[str, inspect.Parameter]:
    """The options of a method class: the keyword arguments of its ``__init__`` after
    ``encoder`` and ``augment``, and, where that ``__init__`` passes ``**options`` on,
    its base classes' (so each option is declared, with its default, in one class).

    Returns:
        Option name -> its :class:`inspect.Parameter` (the default is ``.default``).
    """
    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        for p in params:
            if p.kind in named and p.name not in ("self", "encoder", "augment"):
                found.setdefault(p.name, p)
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return found

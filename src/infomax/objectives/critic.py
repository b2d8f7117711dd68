"""One critic trained and read out with one registered bound: :class:`CriticObjective`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from infomax.bounds import all_pairs_readout, bound_names, make_baseline, make_bound
from infomax.critics import CRITICS, Critic, QuadraticSeparableCritic, make_critic
from infomax.distributed import gather, is_distributed
from infomax.objectives.base import Objective
from infomax.validation import InputError

__all__ = ["REFERENCE_BOUNDS", "CriticObjective", "CriticSpec", "build_critic"]

#: The non-neural estimators of :mod:`infomax.reference`, offered next to the bounds.
REFERENCE_BOUNDS = ("ksg", "gaussian")

#: A critic name, or a factory ``(x_dim, y_dim, **critic_kwargs) -> nn.Module``.
CriticSpec = str | Callable[..., nn.Module]


def build_critic(spec: CriticSpec, x_dim: int, y_dim: int, **kwargs: Any) -> nn.Module:
    """A critic from its name (``quadratic`` or :data:`infomax.critics.CRITICS`) or a factory.

    Raises:
        InputError: an unknown name, or a factory that returns no ``nn.Module``.
    """
    if callable(spec):
        module = spec(x_dim, y_dim, **kwargs)
        if not isinstance(module, nn.Module):
            raise InputError(
                f"the critic factory returned {type(module).__name__}, not a torch.nn.Module"
            )
        return module
    if spec == "quadratic":
        return QuadraticSeparableCritic(x_dim, y_dim, **kwargs)
    if spec not in CRITICS:
        raise InputError(
            f"unknown critic {spec!r}; choose one of {', '.join(sorted(CRITICS))} or quadratic"
        )
    try:
        return make_critic(spec, x_dim, y_dim, **kwargs)
    except ValueError as error:  # options the critic refuses (the grid critic's widths)
        raise InputError(str(error)) from None


def unknown_bound(name: str) -> InputError:
    """The error for a bound name that is neither registered nor a reference estimator."""
    return InputError(
        f"unknown bound {name!r}; choose one of {', '.join(bound_names() + REFERENCE_BOUNDS)}"
    )


class CriticObjective(Objective):
    """A critic trained and read out with one bound of the registry (:mod:`infomax.bounds`).

    The bound gives the training objective and the per-batch estimate; a bound
    with a DV estimate (:attr:`~infomax.bounds.Bound.dv_readout`) is read out
    over all pairs of the held-out rows where the critic declares how
    (:meth:`~infomax.critics.Critic.pair_scorer`).

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        bound: name of a registered bound.
        critic: critic name (``quadratic``, ``separable``, ``bilinear``, ``concat``),
            or a factory ``critic(x_dim, y_dim, **critic_kwargs)`` returning a module
            that maps x (B, d_x) and y (M, d_y) to scores (B, M).
        critic_kwargs: passed to the critic's constructor.
        cap_negatives: in the all-pairs DV read-out, clip negative pairs' scores
            at the highest positive score (:func:`~infomax.bounds.all_pairs_dv_blocks`).
        **bound_options: the bound's options (``tau`` for SMILE, ``alpha`` for
            interpolated, ``dv_weight`` for ``contrastive_dv``, ``momentum`` for MINE);
            options of other bounds are ignored.

    Under torchrun (a process group of several processes), each process embeds
    its share of the batch and the score matrix is built from the embeddings
    of every process (:func:`infomax.distributed.gather`), so K = the global
    batch. That needs a separable critic (quadratic, separable).
    """

    supports_distributed = True
    lr_schedule = "cosine"

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        bound: str = "contrastive_dv",
        critic: CriticSpec = "quadratic",
        critic_kwargs: dict[str, Any] | None = None,
        cap_negatives: bool = True,
        **bound_options: Any,
    ) -> None:
        super().__init__()
        if bound not in bound_names():
            raise unknown_bound(bound)
        self.cap_negatives = cap_negatives
        self.critic = build_critic(critic, x_dim, y_dim, **(critic_kwargs or {}))
        try:
            self.bound = make_bound(bound, **bound_options)
        except ValueError as error:
            raise InputError(str(error)) from None
        self.baseline = make_baseline(x_dim) if self.bound.needs_baseline else None
        self.term_names = [f"I(x; y) [{bound}]"]

    def _log_baseline(self, x: Tensor) -> Tensor | None:
        return None if self.baseline is None else self.baseline(x).squeeze(-1)

    def _training_scores(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(scores, x): the (K, K) scores of the batch, K the global batch under torchrun."""
        if not is_distributed():
            return self.critic(x, y), x
        critic = self.critic
        pairs = None
        if isinstance(critic, Critic) and not critic.scored_by_forward:
            pairs = critic.embed(x, y)
        if pairs is None:
            raise InputError(
                "a multi-process estimate gathers embeddings: use a separable critic "
                "(quadratic or separable), not " + type(critic).__name__
            )
        gx, hy = pairs
        scores, x_all = gather(gx) @ gather(hy).T, gather(x)
        term = critic.pair_term()
        if term is not None:  # a fixed term: scored on the gathered rows, no gradient needed
            scores = scores + term(x_all, gather(y))
        return scores, x_all

    def training_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Minus the bound's training objective on a batch x (B, d_x), y (B, d_y)."""
        scores, x = self._training_scores(x, y)
        return -self.bound.objective(scores, self._log_baseline(x))

    @torch.no_grad()
    def estimate_terms(self, x: Tensor, y: Tensor) -> Tensor:
        """The estimate on a batch, shape (1,), nats."""
        return self.bound.estimate(self.critic(x, y), self._log_baseline(x)).reshape(1)

    @torch.no_grad()
    def all_pairs_terms(
        self, x: Tensor, y: Tensor, groups: int | None = None
    ) -> tuple[Tensor, Tensor] | None:
        """DV over all pairs of (N, d) held-out rows, or None where it does not apply.

        Applies to the bounds with a DV estimate and a critic that declares
        embeddings (:func:`~infomax.bounds.all_pairs_readout`).

        Returns:
            ``(estimate (1,), per_group (groups, 1))`` in nats (``groups`` None: one
            per row), or None.
        """
        if not self.bound.dv_readout:
            return None
        result = all_pairs_readout(self.critic, x, y, groups, self.cap_negatives)
        if result is None:
            return None
        estimate, per_group = result
        return torch.tensor([estimate]), per_group[:, None]

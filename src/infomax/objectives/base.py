"""The :class:`Objective` base class: every hook the training loop and read-outs call."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

__all__ = ["Objective"]


class Objective(nn.Module):
    """What :class:`infomax.fit.Training` and :func:`infomax.estimate.estimate_mi` need.

    An estimator of one or more additive MI terms (one for a plain bound, one
    per chain-rule term for DEMI). Subclasses implement :meth:`training_loss`
    and :meth:`estimate_terms`; the other hooks have defaults that switch the
    feature off.

    Attributes:
        term_names: one readable name per term.
    """

    #: Whether the loop may train it with several processes (torchrun).
    supports_distributed: ClassVar[bool] = False
    #: Learning-rate schedule of the loop: ``constant``, or ``cosine`` (decay to 0 over the steps).
    lr_schedule: ClassVar[str] = "constant"

    term_names: list[str]

    def training_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Scalar loss to minimise on a batch x (B, d_x), y (B, d_y)."""
        raise NotImplementedError

    def estimate_terms(self, x: Tensor, y: Tensor) -> Tensor:
        """Each term's estimate on a batch x (B, d_x), y (B, d_y): (n_terms,), nats, no gradient."""
        raise NotImplementedError

    def all_pairs_terms(
        self, x: Tensor, y: Tensor, groups: int | None = None
    ) -> tuple[Tensor, Tensor] | None:
        """The estimate over all pairs of (N, d) held-out rows, or None (the default).

        Returns:
            ``(estimate (n_terms,), per_group (groups, n_terms))`` in nats (``groups``
            None: one per row), the groups' spread giving the standard error; None:
            read out in batches.
        """
        return None

    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Named diagnostics on a batch (no gradient); none by default."""
        return {}

    def warnings(self, diagnostics: dict[str, float]) -> list[str]:
        """Plain-language warnings from averaged :meth:`diagnostics`; none by default."""
        return []

"""Context and response encoders, their critics, and the three training objectives.

``x`` is a dialogue context, ``x'`` its sub-view (the last utterances only) and
``y`` the response. One context encoder ``h`` reads both ``x`` and ``x'``; a
response encoder ``r`` reads ``y``. Critics are cosine similarities over a
temperature ``tau``, so a batch's score matrix is one matmul and follows the
library's convention (``S[i, j]`` scores context ``i`` against response ``j``,
positives on the diagonal, nats):

* ``"infonce"``: ``f(x, y) = cos(h(x), r(y)) / tau``, trained with InfoNCE on
  ``(x, y)``: the usual response-selection objective;
* ``"demi-bo"`` / ``"demi-is"``: DEMI's chain rule
  ``I(x; y) = I(x'; y) + I(x; y | x')``, with ``psi(x', y) = cos(h(x'), r(y)) / tau``
  trained by InfoNCE and the conditional critic
  ``phi(x', x, y) = cos(g([h(x'), h(x)]), r(y)) / tau`` (``g`` an MLP) trained by
  I_BO or I_IS (:func:`infomax.methods.demi.demi_loss`, which calls
  :mod:`infomax.bounds.conditional`).

The critic that selects responses estimates ``log p(y | x) / p(y)`` up to a
function of ``x``: ``f`` for InfoNCE, ``psi + phi`` for DEMI (for I_BO the
boosted critic itself; for I_IS ``phi`` targets ``log p(y | x) / p(y | x')``,
which ``psi`` completes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.bounds import infonce
from infomax.methods.demi import demi_loss
from infomax.validation import InputError

__all__ = ["OBJECTIVES", "DialogueModel"]

#: Training objectives by name: InfoNCE on (x, y), DEMI with I_BO, DEMI with I_IS.
OBJECTIVES = ("infonce", "demi-bo", "demi-is")


class DialogueModel(nn.Module):
    """A context encoder, a response encoder and, for DEMI, the conditional head ``g``.

    Args:
        context_encoder: (B, L) token ids -> (B, dim); reads ``x`` and ``x'``.
        response_encoder: (B, L_y) token ids -> (B, dim).
        objective: one of :data:`OBJECTIVES`.
        dim: embedding size of both encoders.
        hidden: width of ``g``.
        temperature: ``tau`` of every critic.
        weight_subview, weight_conditional: DEMI's weights of ``I(x'; y)`` and of the
            conditional term.
    """

    def __init__(
        self,
        context_encoder: nn.Module,
        response_encoder: nn.Module,
        objective: str = "infonce",
        dim: int = 64,
        hidden: int = 128,
        temperature: float = 0.1,
        weight_subview: float = 1.0,
        weight_conditional: float = 1.0,
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise InputError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
        if temperature <= 0:
            raise InputError(f"the temperature must be positive, got {temperature}")
        self.objective = objective
        self.temperature = float(temperature)
        self.weight_subview = float(weight_subview)
        self.weight_conditional = float(weight_conditional)
        self.context_encoder = context_encoder
        self.response_encoder = response_encoder
        self.combine: nn.Module | None = None
        if self.is_demi:
            self.combine = nn.Sequential(
                nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, dim)
            )

    @property
    def is_demi(self) -> bool:
        return self.objective.startswith("demi")

    def _cosine(self, a: Tensor, b: Tensor) -> Tensor:
        """(B, D), (M, D) -> (B, M) ``cos(a_i, b_j) / tau``."""
        return F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / self.temperature

    def queries(self, context: Tensor, subview: Tensor) -> tuple[Tensor, Tensor | None]:
        """The context side of the critics.

        Returns:
            For InfoNCE ``(h(x), None)``; for DEMI ``(h(x'), g([h(x'), h(x)]))``, each (B, dim).
        """
        h_x = self.context_encoder(context)
        if self.combine is None:
            return h_x, None
        h_sub = self.context_encoder(subview)
        return h_sub, self.combine(torch.cat([h_sub, h_x], dim=1))

    def critics(
        self, queries: tuple[Tensor, Tensor | None], keys: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Score matrices from :meth:`queries` and response embeddings ``keys`` (M, dim).

        Returns:
            For InfoNCE ``(f, None)``; for DEMI ``(psi, phi)``, each (B, M), nats.
        """
        first, second = queries
        return self._cosine(first, keys), None if second is None else self._cosine(second, keys)

    def selection_scores(self, queries: tuple[Tensor, Tensor | None], keys: Tensor) -> Tensor:
        """(B, M) scores of the critic that selects responses: ``f``, or ``psi + phi``."""
        first, second = self.critics(queries, keys)
        return first if second is None else first + second

    def forward(self, context: Tensor, subview: Tensor, response: Tensor) -> Tensor:
        """(B, L), (B, L'), (M, L_y) token ids -> (B, M) selection scores."""
        return self.selection_scores(
            self.queries(context, subview), self.response_encoder(response)
        )

    def loss(
        self, context: Tensor, subview: Tensor, response: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The objective on one batch of aligned rows.

        Args:
            context: (B, L) token ids of ``x``.
            subview: (B, L') token ids of ``x'`` (unused by InfoNCE).
            response: (B, L_y) token ids of ``y``.

        Returns:
            ``(loss, metrics)``: the scalar to minimise and detached estimates in
            nats: ``mi`` (InfoNCE of ``(x, y)``, or DEMI's ``mi_subview + cmi``),
            for DEMI also ``mi_subview``, ``cmi`` and, for I_IS, ``ess``.
        """
        first, second = self.critics(
            self.queries(context, subview), self.response_encoder(response)
        )
        if second is None:
            mi = infonce(first)
            return -mi, {"mi": mi.detach()}
        conditional = self.objective.removeprefix("demi-")
        return demi_loss(first, second, conditional, self.weight_subview, self.weight_conditional)

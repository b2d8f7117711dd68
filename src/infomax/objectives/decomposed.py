"""DEMI's chain-rule objective: :class:`DecomposedObjective`.

Decomposed Estimation of Mutual Information (Sordoni et al., ICML 2021) splits
one view into nested sub-views ``x_1 ⊂ x_2 ⊂ ... ⊂ x_n = x`` and applies the
chain rule::

    I(x; y) = I(x_1; y) + sum_{k=2..n} I(x_k; y | x_{k-1}).

Each term carries a fraction of the total, so each contrastive estimate stays
below its own ``log K`` ceiling instead of the whole chain sharing one. The
conditional terms use the bounds of :mod:`infomax.bounds.conditional` and,
for ``I_VAR``, the samplers of :mod:`infomax.samplers`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomax.bounds import (
    boosted_infonce,
    conditional_infonce,
    importance_sampled_infonce,
    infonce,
)
from infomax.critics import make_critic, score_candidates
from infomax.objectives.base import Objective
from infomax.samplers import ConditionalGaussian, ConditionalSampler

__all__ = ["CONDITIONAL_ESTIMATORS", "LOW_ESS", "DecomposedObjective"]

#: Names of the conditional estimators :class:`DecomposedObjective` accepts.
CONDITIONAL_ESTIMATORS: tuple[str, ...] = ("is", "bo", "var", "oracle")
#: Below this mean effective sample size of its importance weights, an I_IS term is flagged.
LOW_ESS = 3.0


def _view_name(width: int, x_dim: int) -> str:
    return "x" if width == x_dim else f"x[:{width}]"


class DecomposedObjective(Objective):
    """DEMI's chain rule over nested prefixes, with one critic per term.

    With prefix widths ``subviews = [w_1 < ... < w_{n-1}]`` and ``w_n = x_dim``,
    the terms are ``I(x[:w_1]; y)`` (plain InfoNCE of an unconditional critic
    ``psi_1``) and ``I(x[:w_k]; y | x[:w_{k-1}])`` for ``k = 2..n``, each with a
    conditional critic ``phi_k`` of ``(x[:w_k], y)`` and the estimator named by
    ``conditional``:

    * ``"is"`` — :func:`importance_sampled_infonce` with weights from the
      unconditional critic ``psi_{k-1}``; every ``psi_1..psi_{n-1}`` is
      trained by InfoNCE. ``phi_k`` is trained on the ``I_IS`` value.
    * ``"bo"`` — :func:`boosted_conditional_infonce` on the running boosted
      critic ``b_k = psi_1 + phi_2 + ... + phi_k``: ``phi_k`` is trained on
      ``InfoNCE(b_{k-1}.detach() + phi_k)``, so it learns what the earlier
      critics miss, and the term is ``InfoNCE(b_k) - InfoNCE(b_{k-1})``. The
      chain telescopes to ``InfoNCE(b_n) <= log B`` (see
      :func:`boosted_conditional_infonce`).
    * ``"var"`` — :func:`conditional_infonce` with negatives from a learned
      :class:`ConditionalGaussian` ``q_k(y | x[:w_{k-1}])``, fitted by maximum
      likelihood: in closed form by :meth:`fit_samplers` before training (a
      linear ``q``), then by its NLL, which is added to the loss (the samples
      are detached).
    * ``"oracle"`` — :func:`conditional_infonce` with negatives from
      ``oracle(w_{k-1})``, an exact sampler of ``p(y | x[:w_{k-1}])``.

    ``var`` and ``oracle`` draw ``num_negatives`` (default ``B - 1``) negatives
    per row, so their terms are ``<= log(num_negatives + 1)`` like the
    in-batch ones are ``<= log B``; their estimates are random given the batch.

    Args:
        x_dim: width of ``x``.
        y_dim: width of ``y``.
        subviews: prefix widths ``0 < w_1 < ... < w_{n-1} < x_dim``; ``[]``
            gives plain InfoNCE of ``(x, y)``.
        conditional: ``"is"``, ``"bo"``, ``"var"`` or ``"oracle"``.
        critic: critic name for :func:`infomax.critics.make_critic`.
        shared_critics: one critic network for every term, fed the prefix
            zero-padded to ``x_dim`` and a one-hot of the critic's slot (each
            (role, sub-view) pair — ``psi`` of ``x_k`` or ``phi`` of ``x_k`` —
            gets its own slot, since ``psi_k`` and ``phi_k`` of the same prefix
            are different functions). Otherwise one network per term.
        oracle: for ``conditional="oracle"``, a callable ``prefix -> sampler``
            of ``p(y | x[:, :prefix])``, e.g. ``lambda p: GaussianOracle(rho, p)``.
        critic_kwargs: extra keyword arguments of the critics.
        num_negatives: negatives per row for ``var``/``oracle`` (default ``B - 1``).
        sampler_kwargs: extra keyword arguments of :class:`ConditionalGaussian`
            (``hidden``, ``activation``) for ``var``.

    Attributes:
        term_names: one readable name per term, e.g.
            ``["I(x[:5]; y)", "I(x[:10]; y | x[:5])", "I(x; y | x[:10])"]``.
        widths: the prefix widths including ``x_dim``.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        subviews: list[int],
        conditional: str = "is",
        critic: str = "separable",
        shared_critics: bool = False,
        oracle: Callable[[int], ConditionalSampler] | None = None,
        critic_kwargs: dict[str, Any] | None = None,
        *,
        num_negatives: int | None = None,
        sampler_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if x_dim < 1 or y_dim < 1:
            raise ValueError(f"x_dim and y_dim must be positive, got {x_dim} and {y_dim}")
        subviews = [int(w) for w in subviews]
        for w in subviews:
            if not 0 < w < x_dim:
                raise ValueError(
                    f"every sub-view width must satisfy 0 < w < x_dim = {x_dim} (x itself is the "
                    f"implicit last view), got subviews {subviews}"
                )
        if any(b <= a for a, b in zip(subviews, subviews[1:], strict=False)):
            raise ValueError(f"subviews must be strictly increasing prefix widths, got {subviews}")
        if conditional not in CONDITIONAL_ESTIMATORS:
            raise ValueError(
                f"unknown conditional estimator {conditional!r}; choose one of "
                f"{', '.join(CONDITIONAL_ESTIMATORS)}"
            )
        if conditional == "oracle" and oracle is None:
            raise ValueError(
                "conditional='oracle' needs oracle=<callable prefix -> ConditionalSampler>"
            )
        if num_negatives is not None and num_negatives < 1:
            raise ValueError(f"num_negatives must be positive, got {num_negatives}")
        self.x_dim, self.y_dim = x_dim, y_dim
        self.conditional = conditional
        self.shared_critics = shared_critics
        self.num_negatives = num_negatives
        self.widths: list[int] = [*subviews, x_dim]
        n_views = len(self.widths)
        self.term_names: list[str] = [f"I({_view_name(self.widths[0], x_dim)}; y)"] + [
            f"I({_view_name(self.widths[k], x_dim)}; y | {_view_name(self.widths[k - 1], x_dim)})"
            for k in range(1, n_views)
        ]
        # Which unconditional critics are needed: psi_{k-1} for every I_IS term; I_BO
        # boosts the running sum psi_1 + phi_2 + ... and needs only psi_1.
        if conditional == "is" and n_views > 1:
            self._psi_views = list(range(n_views - 1))
        else:
            self._psi_views = [0]
        self._phi_views = list(range(1, n_views))
        self._slots = {("psi", k): s for s, k in enumerate(self._psi_views)}
        self._slots.update(
            {("phi", k): len(self._psi_views) + s for s, k in enumerate(self._phi_views)}
        )
        kwargs = dict(critic_kwargs or {})
        if shared_critics:
            self.shared_critic = make_critic(critic, x_dim + len(self._slots), y_dim, **kwargs)
        else:
            self.psi_critics = nn.ModuleDict(
                {
                    str(k): make_critic(critic, self.widths[k], y_dim, **kwargs)
                    for k in self._psi_views
                }
            )
            self.phi_critics = nn.ModuleDict(
                {
                    str(k): make_critic(critic, self.widths[k], y_dim, **kwargs)
                    for k in self._phi_views
                }
            )
        self.samplers = nn.ModuleDict()
        if conditional == "var":
            for k in self._phi_views:
                self.samplers[str(k)] = ConditionalGaussian(
                    self.widths[k - 1], y_dim, **(sampler_kwargs or {})
                )
        elif conditional == "oracle":
            assert oracle is not None
            for k in self._phi_views:
                sampler = oracle(self.widths[k - 1])
                if not isinstance(sampler, ConditionalSampler):
                    raise TypeError(
                        f"oracle({self.widths[k - 1]}) must return a ConditionalSampler, got "
                        f"{type(sampler).__name__}"
                    )
                self.samplers[str(k)] = sampler

    @property
    def n_terms(self) -> int:
        """Number of chain-rule terms ``n``."""
        return len(self.widths)

    # -- critics ------------------------------------------------------------

    def _critic_input(self, role: str, k: int, x: Tensor) -> tuple[nn.Module, Tensor]:
        width = self.widths[k]
        prefix = x[:, :width]
        if not self.shared_critics:
            table = self.psi_critics if role == "psi" else self.phi_critics
            return table[str(k)], prefix
        one_hot = x.new_zeros(x.shape[0], len(self._slots))
        one_hot[:, self._slots[(role, k)]] = 1.0
        return self.shared_critic, torch.cat([F.pad(prefix, (0, self.x_dim - width)), one_hot], 1)

    def _scores(self, role: str, k: int, x: Tensor, y: Tensor) -> Tensor:
        critic, inputs = self._critic_input(role, k, x)
        return critic(inputs, y)

    def _candidate_scores(self, role: str, k: int, x: Tensor, candidates: Tensor) -> Tensor:
        critic, inputs = self._critic_input(role, k, x)
        return score_candidates(critic, inputs, candidates)

    def _check_batch(self, x: Tensor, y: Tensor) -> int:
        if x.dim() != 2 or x.shape[1] != self.x_dim:
            raise ValueError(f"x must be (B, {self.x_dim}), got shape {tuple(x.shape)}")
        if y.dim() != 2 or y.shape[1] != self.y_dim:
            raise ValueError(f"y must be (B, {self.y_dim}), got shape {tuple(y.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must pair up: {x.shape[0]} rows against {y.shape[0]}")
        if x.shape[0] < 2:
            raise ValueError("a contrastive estimate needs a batch of at least 2 pairs")
        return x.shape[0]

    # -- the terms ----------------------------------------------------------

    def _evaluate(
        self, x: Tensor, y: Tensor, train: bool
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        """Training objective (to maximise), per-term estimates and diagnostics."""
        batch = self._check_batch(x, y)
        psi = {k: self._scores("psi", k, x, y) for k in self._psi_views}
        psi_infonce = {k: infonce(scores) for k, scores in psi.items()}
        objective = torch.stack(list(psi_infonce.values())).sum()
        estimates = [psi_infonce[0]]
        diagnostics: dict[str, Tensor] = {}
        for k in self._psi_views[1:]:
            diagnostics[f"infonce/{_view_name(self.widths[k], self.x_dim)}"] = psi_infonce[k]
        boosted_scores, previous_boosted = psi[0], psi_infonce[0]
        for k in self._phi_views:
            name = self.term_names[k]
            if self.conditional == "is":
                phi = self._scores("phi", k, x, y)
                estimate, ess = importance_sampled_infonce(phi, psi[k - 1])
                objective = objective + estimate
                diagnostics[f"ess/{name}"] = ess
            elif self.conditional == "bo":
                # Boost the running critic psi_1 + phi_2 + ... + phi_{k-1}, so the chain
                # telescopes to InfoNCE of the full boosted critic and stays <= log B.
                phi = self._scores("phi", k, x, y)
                base = boosted_scores.detach()
                boosted = boosted_infonce(phi, base)
                objective = objective + boosted
                estimate = boosted - previous_boosted.detach()
                boosted_scores, previous_boosted = base + phi, boosted
                diagnostics[f"boosted_infonce/{name}"] = boosted
            else:
                sampler = self.samplers[str(k)]
                x_prev = x[:, : self.widths[k - 1]]
                if self.conditional == "var":
                    assert isinstance(sampler, ConditionalGaussian)
                    nll = sampler.nll(x_prev, y)
                    objective = objective - nll
                    diagnostics[f"nll/{name}"] = nll
                with torch.no_grad():
                    negatives = sampler.sample(x_prev, self.num_negatives or batch - 1)
                candidates = torch.cat([y[:, None, :], negatives.to(y)], dim=1)
                estimate = conditional_infonce(self._candidate_scores("phi", k, x, candidates))
                objective = objective + estimate
            estimates.append(estimate)
        return objective, estimates, diagnostics

    def fit_samplers(self, x: Tensor, y: Tensor) -> int:
        """For ``var``: fit every linear ``q_k`` to a sample in closed form (maximum likelihood).

        Call it once before training, on the training rows (or a large fresh
        sample); the NLL in the loss keeps refining ``q`` afterwards. Samplers
        with hidden layers are left to the loss.

        Args:
            x: (N, x_dim) sample of ``x``.
            y: (N, y_dim) paired sample of ``y``.

        Returns:
            The number of samplers fitted.
        """
        fitted = 0
        for key, sampler in self.samplers.items():
            if isinstance(sampler, ConditionalGaussian) and sampler.linear:
                sampler.fit(x[:, : self.widths[int(key) - 1]], y)
                fitted += 1
        return fitted

    def training_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Scalar loss to minimise: minus the sum of every critic's training objective.

        The sum covers InfoNCE of each needed unconditional critic ``psi``, the
        conditional objective of each ``phi_k``, and (``var``) minus the NLL of
        each ``q_k``.

        Args:
            x: (B, x_dim) batch of ``x``.
            y: (B, y_dim) paired batch of ``y``.

        Returns:
            Scalar tensor.
        """
        objective, _, _ = self._evaluate(x, y, train=True)
        return -objective

    def estimate_terms(self, x: Tensor, y: Tensor) -> Tensor:
        """Each chain-rule term's estimate on this batch (no gradient).

        Args:
            x: (B, x_dim).
            y: (B, y_dim).

        Returns:
            (n_terms,) tensor, nats, ordered as :attr:`term_names`. Their sum
            estimates ``I(x; y)``.
        """
        with torch.no_grad():
            _, estimates, _ = self._evaluate(x, y, train=False)
            return torch.stack(estimates)

    def warnings(self, diagnostics: dict[str, float]) -> list[str]:
        """Plain-language warnings from averaged :meth:`diagnostics`.

        I_IS is not a bound at finite batch size: when the importance weights
        put nearly all their mass on one or two negatives (mean effective
        sample size below :data:`LOW_ESS`), its term can overestimate.

        Args:
            diagnostics: averaged output of :meth:`diagnostics`.

        Returns:
            One message per term whose estimate should not be trusted.
        """
        out = []
        for key, value in diagnostics.items():
            if key.startswith("ess/") and value < LOW_ESS:
                out.append(
                    f"{key[4:]}: the importance weights have an effective sample size of "
                    f"{value:.1f} (< {LOW_ESS:g}), so this I_IS term may overestimate; use a "
                    "larger batch, finer sub-views, or --conditional bo (a lower bound)"
                )
        return out

    def diagnostics(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Per-term diagnostics on this batch (no gradient).

        Keys: ``ess/<term>`` (mean effective sample size of the ``I_IS``
        weights, in ``[1, B - 1]``), ``boosted_infonce/<term>`` (``I_BO``: the
        InfoNCE of ``psi_{k-1} + phi_k``, nats), ``nll/<term>`` (``I_VAR``: NLL
        of ``q_k``, nats), ``infonce/<view>`` (InfoNCE of the auxiliary
        unconditional critics ``psi_k``, ``k >= 2``, nats) and ``log_batch``.

        Args:
            x: (B, x_dim).
            y: (B, y_dim).

        Returns:
            Dict of floats.
        """
        with torch.no_grad():
            _, _, diagnostics = self._evaluate(x, y, train=False)
        out = {key: float(value) for key, value in diagnostics.items()}
        out["log_batch"] = math.log(x.shape[0])
        return out

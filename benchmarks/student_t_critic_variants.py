"""Critic variants on the Student-t task, each scored by ``estimate_diagnostics.py``.

BENCHMARKS.md §2: the default ``estimate_mi`` critic sits about 0.095 nats below
the exact log ratio on fresh Student-t rows. These variants test whether the
critic's *form* is what limits it. Each is a subclass of
:class:`infomax.estimate.QuadraticSeparableCritic` (so it keeps the warm start)
passed to ``estimate_mi`` as a critic factory:

* ``tail-features``: the residual MLPs see each normal score ``u`` and its
  logistic score ``logit(Phi(u))``, which grows like ``u^2 / 2`` in the tails,
  so the residual can grow quadratically where the t-copula's log ratio does.
* ``logaddexp``: adds ``w * logaddexp(a(x), b(y))`` (``a``, ``b`` small MLPs),
  a soft maximum that no separable ``g(x) . h(y)`` of low rank represents;
  the t's log ratio behaves like ``-max(|x|^2, |y|^2)`` on its scale.
* ``log1p``: adds ``w * log(1 + softplus(a(x) + b(y) + c(x) . d(y)))``, the form
  of the t's ``log(1 + Q(x, y) / nu)`` term.

The extra terms are not separable, so those critics are read out in batches on
the test rows; compare the variants by the trained critic's DV on the fresh
rows (the same rows for every variant), not by the test-row estimate.

Usage::

    .venv/bin/python benchmarks/student_t_critic_variants.py VARIANT \\
        [estimate_diagnostics.py options, e.g. --threads 1 --fresh-seeds 1001,1002]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from infomax.critics import mlp
from infomax.estimate import QuadraticSeparableCritic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from estimate_diagnostics import main as diagnose  # noqa: E402


class _Scores(nn.Module):
    """``u -> [u, logit(Phi(u)) / 1.7]`` per column: (N, d) -> (N, 2 d)."""

    def forward(self, u: Tensor) -> Tensor:
        p = torch.special.ndtr(u).clamp(1e-7, 1 - 1e-7)
        return torch.cat([u, torch.logit(p) / 1.7], dim=-1)


class TailFeatures(QuadraticSeparableCritic):
    """The default critic whose residual MLPs also see logistic scores."""

    def __init__(self, x_dim: int, y_dim: int, **kwargs: Any) -> None:
        super().__init__(x_dim, y_dim, **kwargs)
        hidden = kwargs.get("hidden", (128, 128))
        width, activation = kwargs.get("embed_dim", 32), kwargs.get("activation", "gelu")
        self.g = nn.Sequential(_Scores(), *mlp(2 * x_dim, hidden, width, activation))
        self.h = nn.Sequential(_Scores(), *mlp(2 * y_dim, hidden, width, activation))
        nn.init.zeros_(self.h[-1].weight)
        nn.init.zeros_(self.h[-1].bias)


class NonSeparable(QuadraticSeparableCritic):
    """The default critic plus ``w * term(x, y)``, ``w`` starting at 0 (so at the warm start).

    Args:
        form: ``logaddexp`` or ``log1p`` (see the module docstring).
        rank: width of ``c(x) . d(y)`` inside ``log1p``.
    """

    def __init__(self, x_dim: int, y_dim: int, form: str, rank: int = 8, **kwargs: Any) -> None:
        super().__init__(x_dim, y_dim, **kwargs)
        self.form = form
        self.a = mlp(x_dim, (64, 64), 1 + rank, "gelu")
        self.b = mlp(y_dim, (64, 64), 1 + rank, "gelu")
        self.weight = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Args: x (B, d_x), y (M, d_y). Returns: scores (B, M), nats."""
        ax, by = self.a(x), self.b(y)
        if self.form == "logaddexp":
            term = torch.logaddexp(ax[:, :1], by[:, :1].T)
        else:
            inner = ax[:, :1] + by[:, :1].T + ax[:, 1:] @ by[:, 1:].T
            term = torch.log1p(nn.functional.softplus(inner))
        return super().forward(x, y) + self.weight * term


VARIANTS = {
    "tail-features": TailFeatures,
    "logaddexp": lambda x_dim, y_dim, **kw: NonSeparable(x_dim, y_dim, "logaddexp", **kw),
    "log1p": lambda x_dim, y_dim, **kw: NonSeparable(x_dim, y_dim, "log1p", **kw),
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in VARIANTS:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(VARIANTS)}}} [diagnostics options]")
    raise SystemExit(diagnose(sys.argv[2:], critic=VARIANTS[sys.argv[1]]))

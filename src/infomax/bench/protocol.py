"""The MI staircase protocol (Poole et al. 2019; Song & Ermon 2020): bounds, sizes, critics.

What the staircase trains, independent of how: the bounds it compares
(:data:`BOUND_CHOICES`), each bound's training objective and reported estimate
(:class:`StaircaseBound`), the protocol's constants, and one plain critic per
bound (:func:`build_reference_models`), the reference that the stacked trainer
(:mod:`infomax.bench.stacked`) reproduces.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from infomax import bounds as bound_fns
from infomax.critics import ConcatCritic, SeparableCritic, mlp

__all__ = [
    "BOUND_CHOICES",
    "BOUNDS_WITH_BASELINE",
    "CRITIC_CHOICES",
    "DEFAULT_BOUNDS",
    "PRECISION_CHOICES",
    "StaircaseBound",
    "build_reference_models",
    "check_choices",
    "make_baseline",
]

#: Bounds the benchmark knows, in the order they are reported: every estimate of
#: :data:`infomax.bounds.BOUNDS` (each needs a training objective in :class:`StaircaseBound`).
BOUND_CHOICES: tuple[str, ...] = tuple(bound_fns.BOUNDS)
DEFAULT_BOUNDS: tuple[str, ...] = BOUND_CHOICES
CRITIC_CHOICES: tuple[str, ...] = ("separable", "concat")
#: ``precision`` of the stacked trainer: the dtype of the hidden layers' matmuls.
PRECISION_CHOICES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}

#: Width of x and of y.
DIM = 20
#: Hidden widths of both critics.
HIDDEN: tuple[int, ...] = (256, 256, 256)
#: Embedding width of the separable critic.
EMBED_DIM = 32
#: Hidden widths of the learned baseline ``log a(x)`` used by TUBA and the interpolated bound.
BASELINE_HIDDEN: tuple[int, ...] = (64,)
SMILE_TAU = 5.0
INTERPOLATED_ALPHA = 0.01
MINE_MOMENTUM = 0.01
#: Bounds whose estimate needs a learned baseline ``log a(x_i)``.
BOUNDS_WITH_BASELINE: frozenset[str] = frozenset({"tuba", "interpolated"})


def check_choices(bound_names: Sequence[str] | str, critic: str) -> tuple[str, ...]:
    """The bound names as a tuple, after checking them and the critic against the choices.

    Args:
        bound_names: names from :data:`BOUND_CHOICES`, or one comma-separated string.
        critic: a name from :data:`CRITIC_CHOICES`.

    Raises:
        ValueError: no bound, an unknown or repeated bound, or an unknown critic,
            with the choices in the message.
    """
    if isinstance(bound_names, str):
        bound_names = [b for b in bound_names.split(",") if b]
    names = tuple(bound_names)
    if not names:
        raise ValueError(f"no bound given; choose from {', '.join(BOUND_CHOICES)}")
    unknown = [b for b in names if b not in BOUND_CHOICES]
    if unknown:
        raise ValueError(
            f"unknown bound(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(BOUND_CHOICES)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"bound listed twice in {list(names)}")
    if critic not in CRITIC_CHOICES:
        raise ValueError(f"unknown critic {critic!r}; choose from {', '.join(CRITIC_CHOICES)}")
    return names


class StaircaseBound(nn.Module):
    """One bound's training objective and reported estimate, from :mod:`infomax.bounds`.

    - ``infonce``, ``nwj``, ``dv``: maximise the bound, report it.
    - ``tuba``: ``tuba(S, log a(x))`` with a learned baseline, maximised and reported.
    - ``interpolated``: ``interpolated(S, log a(x), alpha=0.01)``, learned baseline.
    - ``mine``: DV value with MINE's moving-average gradient
      (:class:`~infomax.bounds.MovingAveragePartition`, momentum 0.01); reports DV.
    - ``jsd``: maximise ``jsd_objective``, report ``jsd``.
    - ``smile``: maximise ``smile_objective(tau=5)`` (JSD gradient), report ``smile(tau=5)``.

    Args:
        name: a bound in :data:`BOUND_CHOICES`.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        check_choices([name], "separable")
        self.name = name
        self.needs_baseline = name in BOUNDS_WITH_BASELINE
        self.partition = bound_fns.MovingAveragePartition(MINE_MOMENTUM) if name == "mine" else None

    def forward(self, scores: Tensor, log_baseline: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Objective and estimate on one batch.

        Args:
            scores: (B, B), ``scores[i, j] = f(x_i, y_j)``; positives on the diagonal.
            log_baseline: (B,) ``log a(x_i)`` for tuba and interpolated, else unused.

        Returns:
            ``(objective, estimate)``: the scalar to maximise (carries the
            gradient) and the detached scalar MI estimate in nats.
        """
        name = self.name
        if name in ("tuba", "interpolated"):
            if log_baseline is None:
                raise ValueError(f"bound {name!r} needs a log baseline (B,)")
            if name == "tuba":
                objective = bound_fns.tuba(scores, log_baseline)
            else:
                objective = bound_fns.interpolated(scores, log_baseline, INTERPOLATED_ALPHA)
        elif name == "infonce":
            objective = bound_fns.infonce(scores)
        elif name == "nwj":
            objective = bound_fns.nwj(scores)
        elif name == "dv":
            objective = bound_fns.dv(scores)
        elif name == "mine":
            assert self.partition is not None
            objective = self.partition(scores)  # value: DV; gradient: MINE's
        elif name == "smile":
            objective = bound_fns.smile_objective(scores, SMILE_TAU)  # value: SMILE; gradient: JSD
        elif name == "jsd":
            objective = bound_fns.jsd_objective(scores)
            with torch.no_grad():
                return objective, bound_fns.jsd(scores)
        else:
            raise ValueError(f"the staircase has no training objective for bound {name!r}")
        return objective, objective.detach()


def make_baseline(dim: int = DIM) -> nn.Sequential:
    """The learned baseline ``x (B, dim) -> log a(x) (B, 1)`` of TUBA and the interpolated bound."""
    return mlp(dim, BASELINE_HIDDEN, 1)


def build_reference_models(
    bound_names: Sequence[str], critic: str = "separable", dim: int = DIM
) -> tuple[list[nn.Module], list[nn.Module | None]]:
    """One plain ``nn.Module`` critic (and baseline where needed) per bound.

    Built in bound order from the global RNG, critic then baseline, so that the
    reference loop and :class:`~infomax.bench.stacked.StackedStaircase` start
    from the same weights given the same seed.

    Args:
        bound_names: bounds in :data:`BOUND_CHOICES`.
        critic: ``separable`` (g(x).h(y), hidden 256-256-256, embedding 32) or
            ``concat`` (MLP on [x; y], hidden 256-256-256).
        dim: dimension of x and y.

    Returns:
        ``(critics, baselines)``: lists of length M; ``baselines[m]`` is an MLP
        ``x (B, dim) -> log a(x) (B, 1)`` or ``None``.
    """
    names = check_choices(bound_names, critic)
    critics: list[nn.Module] = []
    baselines: list[nn.Module | None] = []
    for name in names:
        if critic == "separable":
            critics.append(SeparableCritic(dim, dim, HIDDEN, EMBED_DIM))
        else:
            critics.append(ConcatCritic(dim, dim, HIDDEN))
        baselines.append(make_baseline(dim) if name in BOUNDS_WITH_BASELINE else None)
    return critics, baselines

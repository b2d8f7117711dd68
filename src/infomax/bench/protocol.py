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
from torch import nn

from infomax.bounds import BOUNDS, Bound, bound_names, make_bound
from infomax.bounds import make_baseline as registry_baseline
from infomax.bounds.registry import BASELINE_HIDDEN
from infomax.critics import ConcatCritic, SeparableCritic

__all__ = [
    "BASELINE_HIDDEN",
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

#: Bounds the benchmark knows, in the order they are reported: every bound of the
#: registry (:data:`infomax.bounds.BOUNDS`) but ``contrastive_dv``, ``estimate_mi``'s
#: training recipe rather than a bound of the protocol.
BOUND_CHOICES: tuple[str, ...] = tuple(n for n in bound_names() if n != "contrastive_dv")
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
SMILE_TAU = 5.0
INTERPOLATED_ALPHA = 0.01
MINE_MOMENTUM = 0.01
#: Bounds whose estimate needs a learned baseline ``log a(x_i)``.
BOUNDS_WITH_BASELINE: frozenset[str] = frozenset(n for n, b in BOUNDS.items() if b.needs_baseline)


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


def StaircaseBound(name: str) -> Bound:  # noqa: N802 - a factory that reads like the class it builds
    """The registry's bound ``name`` with the protocol's options (one per critic).

    SMILE clips at ``tau = 5``, the interpolated bound uses ``alpha = 0.01`` and
    MINE's moving average weighs the newest batch by 0.01. Calling the returned
    module on ``(scores (B, B), log_baseline (B,) or None)`` gives
    ``(objective, estimate)``: the scalar to maximise and the detached estimate, nats.

    Args:
        name: a bound in :data:`BOUND_CHOICES`.
    """
    check_choices([name], "separable")
    return make_bound(name, tau=SMILE_TAU, alpha=INTERPOLATED_ALPHA, momentum=MINE_MOMENTUM)


def make_baseline(dim: int = DIM) -> nn.Module:
    """The learned baseline ``x (B, dim) -> log a(x) (B, 1)`` of TUBA and the interpolated bound."""
    return registry_baseline(dim)


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

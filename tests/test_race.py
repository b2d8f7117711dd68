"""The race of candidate critics: who may stop early; racing changes no winner's run."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from infomax import fit
from infomax.objectives import build_objective
from infomax.race import RACE_TIE, can_still_win, race


def _run(values: list[float], remaining: int) -> SimpleNamespace:
    return SimpleNamespace(
        curve=[(250 * k, v) for k, v in enumerate(values)], remaining_evaluations=remaining
    )


def test_a_candidate_is_projected_at_its_recent_gain_for_every_evaluation_left() -> None:
    # best so far 0.6; gain over the last two evaluations (0.6 - 0.4) / 2 = 0.1 each.
    rising = _run([0.0, 0.4, 0.5, 0.6], remaining=3)
    assert can_still_win(rising, leader_best=0.6 + 0.3 - RACE_TIE - 1e-6)  # 0.9 > 0.89...
    assert not can_still_win(rising, leader_best=0.6 + 0.3 - RACE_TIE + 1e-6)
    # A dip does not count as a loss of ground: the best so far is what is projected.
    flat = _run([0.0, 1.0, 0.7, 0.8], remaining=6)
    assert not can_still_win(flat, leader_best=1.0)  # could only tie the leader
    assert can_still_win(flat, leader_best=1.0 - RACE_TIE - 1e-6)
    # Too few evaluations to measure a gain: kept whatever the leader.
    assert can_still_win(_run([-5.0, -4.0], remaining=8), leader_best=10.0)
    # A diverged evaluation is no progress, and does not poison the best so far.
    diverged = _run([0.0, 0.5, float("nan"), 0.6], remaining=2)
    assert can_still_win(diverged, leader_best=0.6 + 0.1 - RACE_TIE - 1e-6)  # gain (0.6-0.5)/2
    assert not can_still_win(_run([0.0, float("nan"), float("nan")], remaining=5), 0.0)
    # Nothing left to run: only its best counts.
    assert not can_still_win(_run([0.1, 0.2, 0.3], remaining=0), leader_best=0.3)


_OPTIONS = {
    "batch_size": 64, "eval_batch_size": 200, "steps": 300, "lr": 3e-3, "eval_every": 30,
    "patience": 100, "seed": 0,
}  # fmt: skip


def _objective(name: str, x: torch.Tensor, y: torch.Tensor, train: torch.Tensor):
    torch.manual_seed(0)
    return build_objective(
        name, x, y, train, bound="contrastive_dv", subviews=None, conditional="is",
        critic_kwargs={"hidden": () if name == "quadratic" else (32,)}, bound_kwargs={},
    )  # fmt: skip


def _split(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    n = x.shape[0]
    train, val = torch.arange(0, n - 400), torch.arange(n - 400, n)
    return train, x[train], y[train], x[val], y[val]


def _trainings(x: torch.Tensor, y: torch.Tensor, names: tuple[str, ...]) -> dict:
    train, *rows = _split(x, y)
    out = {}
    for name in names:
        objective = _objective(name, x, y, train)
        out[name] = fit.Training(objective, *rows, lr_schedule=objective.lr_schedule, **_OPTIONS)
    return out


def test_the_race_stops_a_hopeless_candidate_and_leaves_the_winner_as_if_alone() -> None:
    """y = x^2 + noise: a quadratic model without its MLP residual (x.W.y, x^2, y^2, linear
    terms) misses the dependence, the separable MLP finds it. The quadratic one stops early;
    the separable one runs exactly as it would alone."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 1, generator=generator)
    y = x**2 + 0.2 * torch.randn(2000, 1, generator=generator)
    raced = _trainings(x, y, ("quadratic", "separable"))
    assert race(raced) == "separable"
    assert raced["quadratic"].step < 300
    assert raced["separable"].step == 300
    train, *rows = _split(x, y)
    alone = _objective("separable", x, y, train)
    fitted = fit.train_objective(alone, *rows, lr_schedule=alone.lr_schedule, **_OPTIONS)
    assert raced["separable"].curve == fitted["heldout_curve"]  # the same run, to the bit
    assert fitted["steps_run"] == 300 and fitted["best_step"] == raced["separable"].best_step
    assert raced["separable"].best_value > 0.5 > 0.0 > raced["quadratic"].best_value


def test_a_race_of_one_runs_it_to_the_end() -> None:
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(1000, 2, generator=generator)
    y = x + torch.randn(1000, 2, generator=generator)
    raced = _trainings(x, y, ("separable",))
    assert race(raced) == "separable"
    assert raced["separable"].step == 300 and math.isfinite(raced["separable"].best_value)
    with pytest.raises(ValueError, match="at least one"):
        race({})

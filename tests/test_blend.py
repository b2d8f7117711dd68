"""Blends of critics: scored as their members are, and kept only where they read higher."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from infomax import estimate_mi
from infomax.blend import BLEND_WEIGHTS, blend
from infomax.bounds.all_pairs import all_pairs_readout
from infomax.critics import MixedCritic, QuadraticSeparableCritic, SeparableCritic
from infomax.fit import heldout_terms
from infomax.objectives import CriticObjective


def test_a_mixed_critic_is_the_weighted_sum_and_keeps_the_all_pairs_readout() -> None:
    torch.manual_seed(0)
    first, second = QuadraticSeparableCritic(3, 2), SeparableCritic(3, 2, hidden=(8,))
    with torch.no_grad():
        for param in first.parameters():
            param.normal_(0, 0.3)
    mixed = MixedCritic([first, second], [0.75, 0.25]).eval()
    x, y = torch.randn(40, 3), torch.randn(40, 2)
    expected = 0.75 * first(x, y) + 0.25 * second(x, y)
    assert torch.allclose(mixed(x, y), expected, atol=1e-5)
    gx, hy = mixed.embed(x, y)
    assert torch.allclose(gx @ hy.T, expected, atol=1e-5)
    # The all-pairs read-out scores it from the embeddings, as it would each member.
    scorer = mixed.pair_scorer(x, y)
    assert scorer is not None
    assert torch.allclose(scorer.rows(0, 40), expected, atol=1e-5)
    assert all_pairs_readout(mixed, x, y, 4, True) is not None
    with pytest.raises(ValueError, match="one weight per member"):
        MixedCritic([first], [0.5, 0.5])


def _pair(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x ~ N(0, I_2), y = x_0 + 0.5 e: I = log(5) / 2 nats."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    return x, x[:, :1] + 0.5 * torch.randn(n, 1, generator=g)


def _candidate(exact: bool, x_val: torch.Tensor, y_val: torch.Tensor) -> SimpleNamespace:
    """A finished candidate: the Gaussian log ratio fitted to 20,000 rows, or a critic at zero."""
    torch.manual_seed(0)
    objective = CriticObjective(2, 1, critic="quadratic").eval()
    with torch.no_grad():
        for param in objective.parameters():
            param.zero_()
    if exact:
        objective.critic.init_gaussian(*_pair(20_000, 2))
    value = float(heldout_terms(objective, x_val, y_val, 200)[0].sum())
    return SimpleNamespace(objective=objective, best_value=value)


def test_blend_keeps_the_winner_alone_unless_a_blend_reads_higher() -> None:
    xv, yv = _pair(2000, 1)
    exact, zero = _candidate(True, xv, yv), _candidate(False, xv, yv)
    assert abs(exact.best_value - 0.5 * math.log(5)) < 0.05 and abs(zero.best_value) < 1e-4
    trainings = {"exact": exact, "zero": zero}
    alone = exact.objective.critic
    # Blending the log ratio with a critic that carries nothing only flattens it.
    assert blend(trainings, "exact", xv, yv, 200) is None  # type: ignore[arg-type]
    assert exact.objective.critic is alone
    # The other way round, the most weight on the log ratio reads highest, and is kept.
    kept = blend(trainings, "zero", xv, yv, 200)  # type: ignore[arg-type]
    assert kept is not None and kept["critic"] == "exact"
    assert kept["weight"] == max(BLEND_WEIGHTS)
    assert kept["validation"] > zero.best_value + 0.4
    mixed = zero.objective.critic
    assert isinstance(mixed, MixedCritic) and mixed.weights == [1 - kept["weight"], kept["weight"]]
    assert not mixed.training


def test_on_many_validation_rows_blends_are_read_on_a_subset_against_the_winner_there() -> None:
    xv, yv = _pair(2000, 1)
    exact, zero = _candidate(True, xv, yv), _candidate(False, xv, yv)
    trainings = {"exact": exact, "zero": zero}
    assert blend(trainings, "exact", xv, yv, 200, max_rows=400) is None  # type: ignore[arg-type]
    kept = blend(trainings, "zero", xv, yv, 200, max_rows=400)  # type: ignore[arg-type]
    assert kept is not None and kept["critic"] == "exact" and kept["weight"] == max(BLEND_WEIGHTS)
    # The gain read on 400 rows, added to the winner's value on all 2000.
    full = MixedCritic(
        [_candidate(False, xv, yv).objective.critic, exact.objective.critic],
        [1 - kept["weight"], kept["weight"]],
    ).eval()
    reader = _candidate(False, xv, yv).objective
    reader.critic = full
    on_all = float(heldout_terms(reader, xv, yv, 200)[0].sum())
    assert kept["validation"] == pytest.approx(on_all, abs=0.05)


def test_estimate_mi_reports_the_blend_it_reads_out() -> None:
    """A spiral (bmi's: a 3 + 3 Gaussian rotated by an angle growing with the radius): the
    quadratic critic keeps its Gaussian part, and a blend with the separable one reads more."""
    from infomax import distributions as D

    task = D.spiral(dim=3, mi=1.0, speed=1.0)
    x, y = task.sample(4000, seed=0)
    fast = {"steps": 500, "eval_every": 250, "progress": False}
    result = estimate_mi(x, y, **fast)
    info = result.info
    blended = info["blend"]
    assert blended is not None and blended["critic"] != info["critic"]
    assert blended["weight"] in BLEND_WEIGHTS
    assert blended["validation"] > max(info["critic_candidates"].values()) + 0.01
    assert math.isfinite(result.mi) and abs(result.mi - task.mi) < 0.25
    alone = estimate_mi(x, y, critic=info["critic"], **fast)
    assert info["heldout_estimate"] > alone.info["heldout_estimate"]
    assert np.isfinite(result.scores(x[:5], y[:5])).all()


def test_the_stacked_readout_of_the_blends_is_each_blends_own_readout() -> None:
    """One pass over the rows for every weight reads what each blend's own critic reads,
    a non-separable (Student-t) term included."""
    from infomax.blend import _stacked_values

    xv, yv = _pair(700, 1)
    winner = _candidate(True, xv, yv).objective
    correlation = np.array([[1.0, 0.0, 0.6], [0.0, 1.0, 0.0], [0.6, 0.0, 1.0]])
    winner.critic.init_student_t(correlation, 4.0)
    torch.manual_seed(1)
    other = SeparableCritic(2, 1, hidden=(16,)).eval()
    stacked = _stacked_values(winner, other, xv, yv)
    assert stacked is not None and stacked.shape == (len(BLEND_WEIGHTS),)
    alone = winner.critic
    for value, weight in zip(stacked.tolist(), BLEND_WEIGHTS, strict=True):
        winner.critic = MixedCritic([alone, other], [1 - weight, weight]).eval()
        assert value == pytest.approx(float(heldout_terms(winner, xv, yv, 175)[0].sum()), abs=1e-4)
    winner.critic = alone

"""One estimate from two read-outs: the held-out one below, the training rows' above."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from infomax import bracket as bracket_module
from infomax import estimate_mi
from infomax.bracket import MAX_SUBSETS, bracket, midpoint, training_readout
from infomax.estimate import _bracket_by_training_readout
from infomax.result import Z90, MIEstimate


class _MeanOfX:
    """Reads out the mean of x's first column: shows which training rows were read."""

    def all_pairs_terms(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, 0].mean().reshape(1), x[:, :1]


def test_training_readout_averages_disjoint_subsets_of_the_test_size() -> None:
    x = torch.arange(10.0).reshape(10, 1)
    objective = _MeanOfX()
    # Rows 0-2, 3-5 and 6-8: means 1, 4 and 7.
    assert training_readout(objective, x, x, 3, 3).tolist() == [4.0]  # type: ignore[arg-type]
    # Fewer training rows than test rows: all of them, once.
    assert training_readout(objective, x, x, 20, 3).tolist() == [4.5]  # type: ignore[arg-type]
    # At most MAX_SUBSETS subsets: rows 0, 1, 2, 3.
    ones = training_readout(objective, x, x, 1, 1)  # type: ignore[arg-type]
    assert ones.tolist() == [float(np.mean(range(MAX_SUBSETS)))]


def test_training_readout_reads_one_subset_where_the_test_set_is_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bracket_module, "MAX_TRAINING_ROWS", 5)
    x = torch.arange(10.0).reshape(10, 1)
    # Subsets of 3 rows, at most 5 rows in all: only rows 0-2 (mean 1).
    assert training_readout(_MeanOfX(), x, x, 3, 3).tolist() == [1.0]  # type: ignore[arg-type]


def test_bracket_raises_only_the_upper_end() -> None:
    assert bracket(0.5, 0.1, 0.7) == pytest.approx((0.5 - Z90 * 0.1, 0.7 + Z90 * 0.1))
    # A training read-out below the held-out one leaves the symmetric interval.
    assert bracket(0.5, 0.1, 0.3) == pytest.approx((0.5 - Z90 * 0.1, 0.5 + Z90 * 0.1))


def test_midpoint_goes_half_way_up_by_at_most_the_margin_above_zero() -> None:
    assert midpoint(0.5, 0.01, 0.7) == pytest.approx(0.6)
    # A training read-out below the held-out one leaves the held-out estimate.
    assert midpoint(0.5, 0.01, 0.3) == 0.5
    # Half-way would be 0.3; the held-out estimate clears zero by only 0.2 - Z90 * 0.1.
    assert midpoint(0.2, 0.1, 0.8) == pytest.approx(0.2 + 0.2 - Z90 * 0.1)
    # Not clear of zero: no raise at all.
    assert midpoint(0.1, 0.1, 0.8) == 0.1
    assert midpoint(0.3, float("nan"), 0.8) == 0.3


def test_an_overfitted_critic_widens_the_interval_but_keeps_the_estimate() -> None:
    # Independent 20 + 20 columns, 600 rows: the quadratic critic's 800-odd weights fit
    # the training rows' noise. Held out it reads about 0 (-0.03); on its own rows 0.19.
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 20)), rng.normal(size=(600, 20))
    result = estimate_mi(
        x, y, critic="quadratic", steps=400, eval_every=100, progress=False, seed=0
    )
    trained, heldout = result.info["training_readout"], result.info["heldout_estimate"]
    assert trained > heldout + 0.1
    # Half-way up would read +0.08 on independent data: the held-out read-out does not
    # clear zero, so the estimate stays the held-out one.
    assert result.mi == heldout < 0.0
    low, high = result.ci90
    assert low == pytest.approx(heldout - Z90 * result.stderr)
    assert high == pytest.approx(trained + Z90 * result.stderr)
    assert low < 0.0 < high
    assert result.to_dict()["ci90"] == pytest.approx([low, high])


def test_the_midpoint_recovers_what_overfitting_costs_the_heldout_readout() -> None:
    # 20 + 20 columns at correlation 0.2, 1,000 rows: I = -10 log(1 - 0.04) = 0.408 nats.
    # The quadratic critic fitted on 700 rows reads 0.23 held out (0.18 short of the truth)
    # and 0.55 on its own rows. Half-way (0.39) would raise it by more than it clears zero
    # (0.23 - 1.645 x 0.064), so it rises by that margin instead: 0.355, which recovers
    # more than two thirds of the held-out read-out's shortfall.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 20))
    y = 0.2 * x + np.sqrt(1 - 0.04) * rng.normal(size=(1000, 20))
    truth = -10 * np.log(1 - 0.04)
    result = estimate_mi(x, y, critic="quadratic", progress=False, seed=0)
    heldout, trained = result.info["heldout_estimate"], result.info["training_readout"]
    assert heldout < truth - 0.1 and trained > truth + 0.1
    margin = heldout - Z90 * result.stderr
    assert 0 < margin < (trained - heldout) / 2
    assert result.mi == pytest.approx(heldout + margin)
    assert truth - result.mi < (truth - heldout) / 3


def test_a_decomposition_is_raised_term_by_term() -> None:
    # Two chain-rule terms: the first's training read-out is above its held-out one, the
    # second's below. Summed, the training read-outs (1.5) equal the held-out total, so
    # the total's interval must reach the terms' upper read-outs (1.2 + 0.5), not 1.5.
    result = MIEstimate(
        mi=1.5,
        stderr=0.02,
        bound="demi-is",
        n_train=100,
        n_heldout=50,
        terms=[
            {"name": "x_1", "mi": 1.0, "stderr": 0.01},
            {"name": "x | x_1", "mi": 0.5, "stderr": 0.01},
        ],
    )
    _bracket_by_training_readout(result, torch.tensor([1.2, 0.3]))
    assert [term["heldout_mi"] for term in result.terms] == [1.0, 0.5]
    assert [term["mi"] for term in result.terms] == pytest.approx([1.1, 0.5])
    assert result.mi == pytest.approx(1.6)
    assert result.info["heldout_estimate"] == 1.5
    assert result.info["training_readout"] == pytest.approx(1.5)
    assert result.ci90 == pytest.approx((1.5 - Z90 * 0.02, 1.7 + Z90 * 0.02))
    assert result.ci90[0] < result.mi < result.ci90[1]
    assert result.terms[1]["ci90"] == pytest.approx([0.5 - Z90 * 0.01, 0.5 + Z90 * 0.01])

"""Tests of :func:`infomax.estimate_cmi` and ``estimate_mi(subviews=...)`` against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infomax import estimate_cmi, estimate_mi

FAST = {"steps": 600, "eval_every": 100, "batch_size": 128, "progress": False}


def common_cause(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x = z + e_x, y = z + e_y, all (n, 3), unit noises: x and y share only z.

    I(x; y) = 3 * 0.5 * log(4/3) = 0.43 nats per the closed form of two unit-noise
    copies of one N(0, 1) coordinate (correlation 1/2), and I(x; y | z) = 0 exactly.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    x = z + rng.standard_normal((n, 3))
    y = z + rng.standard_normal((n, 3))
    return x.astype(np.float32), y.astype(np.float32), z.astype(np.float32)


@pytest.mark.parametrize("conditional", ["is", "bo"])
def test_conditionally_independent_data_give_about_zero(conditional: str) -> None:
    x, y, z = common_cause(10_000, seed=0)
    marginal = estimate_mi(x, y, **FAST)
    assert marginal.mi == pytest.approx(1.5 * math.log(4 / 3), abs=0.1)  # the pair is dependent
    result = estimate_cmi(x, y, z, conditional=conditional, **FAST)
    assert abs(result.mi) < 0.05, result
    assert result.bound == f"cmi-{conditional}"
    # The other chain-rule term is I(z; y) = 3 * 0.5 * log 2 = 1.04 nats; InfoNCE at K = 128
    # is capped at log 128 = 4.85, far above it, so it should be close.
    assert result.terms[0]["mi"] == pytest.approx(1.5 * math.log(2.0), abs=0.15)
    assert result.info["chain_total"] == pytest.approx(result.terms[0]["mi"] + result.mi)


def test_conditional_mi_of_a_gaussian_matches_its_closed_form() -> None:
    """z and x independent N(0, I_2) blocks, y = rho * [z, x] + noise, coordinate by coordinate.

    I(x; y | z) = sum over x's coordinates of -0.5 log(1 - rho^2), since given z the
    z-coordinates of y carry nothing about x.
    """
    rng = np.random.default_rng(1)
    n, rho = 10_000, 0.8
    z = rng.standard_normal((n, 2))
    x = rng.standard_normal((n, 2))
    y = rho * np.concatenate([z, x], 1) + math.sqrt(1 - rho**2) * rng.standard_normal((n, 4))
    truth = -0.5 * math.log(1 - rho**2) * 2  # 1.02 nats
    result = estimate_cmi(x.astype(np.float32), y.astype(np.float32), z.astype(np.float32), **FAST)
    assert result.mi == pytest.approx(truth, abs=0.15), result
    assert result.mi <= truth + result.stderr + 0.15
    # The interval is the conditional term's: its held-out read-out below, its read-out on
    # the training rows above (infomax.bracket), not the chain total's.
    low, high = result.ci90
    heldout = result.info["heldout_estimate"]
    assert heldout == result.terms[-1]["heldout_mi"] <= result.mi
    assert low == pytest.approx(heldout - 1.6448536 * result.stderr)
    assert high >= max(result.mi, result.info["training_readout"])
    assert [low, high] == pytest.approx(result.terms[-1]["ci90"])


def test_var_is_not_offered_for_conditional_mi() -> None:
    """z ~ N(0, 1), y = z^2 + noise: p(y | z) is far from I_VAR's linear-Gaussian q."""
    x, y, z = common_cause(500, seed=2)
    with pytest.raises(ValueError, match="does not offer conditional='var'.*use 'is'"):
        estimate_cmi(x, y, z, conditional="var", **FAST)
